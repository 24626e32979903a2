"""Family 4: batch size — the critical batch size and the steps/data trade-off of large-batch training.

* :func:`mccandlish_steps`: steps to reach a target loss at batch size ``B``, ``S = S_min (1 + B_noise / B)``
  (McCandlish et al. 2018, arXiv:1812.06162, Eq. 2.11). The examples processed, ``E = B S = E_min (1 + B / B_noise)``
  with ``E_min = S_min B_noise``, follow from the same two parameters, and the critical batch size is
  ``B_crit = E_min / S_min = B_noise``. Hierarchical over model sizes (or target losses), with ``B_noise`` regressed
  on each size's parameters and tokens (``bs.fit(..., group_predictors={"b_noise": ["n", "d"]})``), every run of the
  sweep informs the critical batch's scaling, not just each size's argmin.
* :func:`kaplan_bcrit`: ``B_crit(L) = B* / L^(1 / alpha_B)`` (Kaplan et al. 2020, arXiv:2001.08361, Eq. 5.4).
* :func:`bcrit_power`: ``B_crit = c (N / 1e9)^b_N (D / 1e10)^b_D``, so ``c`` is the critical batch at the reference
  point (N = 1e9, D = 1e10), not a log intercept (Zhang et al. 2024, arXiv:2410.21676, find that it follows data,
  not model size): a fit says how much of the growth goes with each.
* Optimal hyperparameters: Step Law's ``eta*(N, D)`` and ``B*(D)`` (Li et al. 2025) and DeepSeek's ``eta*(C)``,
  ``B*(C)`` (DeepSeek-AI 2024), written at a reference point with the published constants converted.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.law import Law, register

__all__ = ["mccandlish_steps", "log_mccandlish_steps", "kaplan_bcrit", "bcrit_power", "zhang_cbs", "steplaw_lr",
           "steplaw_batch", "log_steplaw_lr", "log_steplaw_batch", "power_in_compute", "lr_batch_landscape",
           "landscape_optimum", "landscape_floor", "flag_diverged"]

#: Prior scale of the residual sd (log scale) of the laws of optimal hyperparameters and critical batch sizes: a
#: sweep's best learning rate or batch is read off a grid of runs whose steps are factors of 1.4-2 (Step Law's best
#: learning rates scatter about 0.56 in log around their power law), far more than a loss's 0.004-0.03.
HYPER_NOISE_SCALE = 0.5


def mccandlish_steps(b, *, s_min, b_noise):
    r"""Return the steps to a target loss at batch size ``b``: :math:`S = S_{min} (1 + B_{noise} / B)`."""
    return s_min * (1.0 + b_noise / b)


def log_mccandlish_steps(b, *, s_min, b_noise):
    """Log of :func:`mccandlish_steps` as a fused log-sum-exp."""
    return jnp.log(s_min) + jnp.logaddexp(0.0, jnp.log(b_noise) - jnp.log(b))


def zhang_cbs(b_noise, b_ref=256.0, overhead=0.2):
    """Convert McCandlish's ``B_noise`` to Zhang et al.'s critical batch size.

    Theirs is the largest batch whose steps exceed linear scaling from ``b_ref`` by at most ``overhead``:
    ``S(B) / (S(b_ref) b_ref / B) = 1 + overhead`` gives ``B* = (1 + overhead) b_ref + overhead B_noise`` (their
    notebook: ``b / (5 a) + 1.2 * 256``).
    """
    return (1.0 + overhead) * b_ref + overhead * np.asarray(b_noise)


register(Law(
    name="mccandlish",
    fn=mccandlish_steps,
    log_fn=log_mccandlish_steps,
    inputs={"b": "batch size (sequences or tokens per step)"},
    target="steps",
    params={
        "s_min": dist.LogNormal(np.log(1e4), 2.0),  # steps at an infinite batch
        "b_noise": dist.LogNormal(np.log(1e3), 2.5),  # the noise scale = the critical batch, in the unit of b
    },
    reference="McCandlish et al. 2018, arXiv:1812.06162 (Eq. 2.11; E_min = S_min B_noise, B_crit = B_noise)",
    monotone={"b": -1},
    description="Optimisation steps needed to reach a target loss as a function of the batch size: perfect "
                "scaling (steps halve as the batch doubles) below the critical batch B_noise, diminishing returns "
                "above it, down to S_min steps. The data processed, E = B S = E_min (1 + B / B_noise), follow.",
    formula=r"S(B) = S_{\min}\,(1 + B_{\mathrm{noise}} / B),\quad E(B) = E_{\min}\,(1 + B / B_{\mathrm{noise}})",
    example={"b": 256.0},
))


def kaplan_bcrit(loss, *, b_star, alpha_b):
    r"""Kaplan's critical batch :math:`B_{crit}(L) = B^* / L^{1 / \alpha_B}` (tokens)."""
    return b_star * loss ** (-1.0 / alpha_b)


register(Law(
    name="kaplan_bcrit",
    fn=kaplan_bcrit,
    log_fn=lambda loss, *, b_star, alpha_b: jnp.log(b_star) - jnp.log(loss) / alpha_b,
    inputs={"loss": "loss (nats per token)"},
    target="b_crit",
    params={"b_star": dist.LogNormal(np.log(2e8), 1.5), "alpha_b": dist.LogNormal(np.log(0.2), 0.4)},
    reference="Kaplan et al. 2020, arXiv:2001.08361 (Eq. 5.4: B* = 2e8 tokens, alpha_B = 0.21)",
    monotone={"loss": -1},
    description="The critical batch size (tokens) as a power of the loss reached: it grows as the loss falls.",
    formula=r"B_{\mathrm{crit}}(L) = B^{*} / L^{1 / \alpha_B}",
    example={"loss": 3.0},
    published={"b_star": 2e8, "alpha_b": 0.21},
    noise_scale=HYPER_NOISE_SCALE,
))


def bcrit_power(n, d, *, c, b_n, b_d):
    r"""Critical batch as a power law in model size and data: :math:`B = c\,(N / 10^9)^{b_N} (D / 10^{10})^{b_D}`."""
    return c * (n / 1e9) ** b_n * (d / 1e10) ** b_d


register(Law(
    name="bcrit_power",
    fn=bcrit_power,
    log_fn=lambda n, d, *, c, b_n, b_d: jnp.log(c) + b_n * jnp.log(n / 1e9) + b_d * jnp.log(d / 1e10),
    inputs={"n": "parameters", "d": "tokens"},
    target="b_crit",
    params={
        "c": dist.LogNormal(np.log(1e6), 2.0),  # critical batch (tokens) at N = 1e9, D = 1e10
        "b_n": dist.Normal(0.25, 0.5),
        "b_d": dist.Normal(0.25, 0.5),
    },
    reference="Zhang et al. 2024, arXiv:2410.21676 (critical batch follows data, B* ~ D^0.47, not model size)",
    description="The critical batch size as a power law in model size and training tokens, "
                "log B = log c + b_N log(N / 1e9) + b_D log(D / 1e10): the posterior of (b_N, b_D) says which one "
                "it follows.",
    formula=r"\log B_{\mathrm{crit}} = \log c + b_N \log(N / 10^9) + b_D \log(D / 10^{10})",
    example={"n": 1e9, "d": 2e10},
    noise_scale=HYPER_NOISE_SCALE,
))


# ---------------------------------------------------------------------------------------------- optimal hyperparameters
#: Reference point of the optimal-hyperparameter laws: coefficients are the value there (decorrelates them from the
#: exponents), published constants converted exactly.
N_REF, D_REF, C_REF = 1e9, 1e11, 1e20


def steplaw_lr(n, d, *, eta_ref, p, q):
    r"""Step Law's optimal peak learning rate :math:`\eta^*(N, D) = \eta_{ref} (N / 10^9)^p (D / 10^{11})^q`."""
    return eta_ref * (n / N_REF) ** p * (d / D_REF) ** q


def steplaw_batch(d, *, b_ref, r):
    r"""Step Law's optimal batch size in tokens :math:`B^*(D) = B_{ref} (D / 10^{11})^r`."""
    return b_ref * (d / D_REF) ** r


def log_steplaw_lr(n, d, *, eta_ref, p, q):
    r"""Return :math:`\log \eta^*(N, D)` of :func:`steplaw_lr` as a sum of logs (the law's ``log_fn``).

    Parameters
    ----------
    n, d : array_like
        Parameters (non-embedding) and training tokens.
    eta_ref, p, q : array_like
        :func:`steplaw_lr`'s parameters.

    Returns
    -------
    array
        ``log(eta_ref) + p log(N / 1e9) + q log(D / 1e11)``, broadcast over the arguments.
    """
    return jnp.log(eta_ref) + p * jnp.log(n / N_REF) + q * jnp.log(d / D_REF)


def log_steplaw_batch(d, *, b_ref, r):
    r"""Return :math:`\log B^*(D)` of :func:`steplaw_batch` as a sum of logs (the law's ``log_fn``).

    Parameters
    ----------
    d : array_like
        Training tokens.
    b_ref, r : array_like
        :func:`steplaw_batch`'s parameters.

    Returns
    -------
    array
        ``log(b_ref) + r log(D / 1e11)``, broadcast over the arguments.
    """
    return jnp.log(b_ref) + r * jnp.log(d / D_REF)


def power_in_compute(c, *, ref, exponent):
    r"""Evaluate a power law in training compute, :math:`y(C) = y_{ref} (C / 10^{20})^{k}` (DeepSeek's eta*, B*)."""
    return ref * (c / C_REF) ** exponent


register(Law(
    name="steplaw_lr",
    fn=steplaw_lr,
    log_fn=log_steplaw_lr,
    inputs={"n": "parameters (non-embedding)", "d": "tokens"},
    target="lr",
    params={"eta_ref": dist.LogNormal(np.log(1e-3), 1.5), "p": dist.Normal(-0.5, 0.5), "q": dist.Normal(0.2, 0.5)},
    reference="Li et al. 2025, Predictable Scale Part I (Step Law): eta* = 1.79 N^-0.713 D^0.307",
    description="The optimal peak learning rate as a power law in model size and training tokens, written at the "
                "reference point N = 1e9, D = 1e11.",
    formula=r"\eta^*(N, D) = \eta_{ref}\,(N / 10^9)^{p}\,(D / 10^{11})^{q}",
    example={"n": 1e9, "d": 1e11},
    published={"eta_ref": 1.79 * N_REF ** -0.713 * D_REF ** 0.307, "p": -0.713, "q": 0.307},
    noise_scale=HYPER_NOISE_SCALE,
))

register(Law(
    name="steplaw_batch",
    fn=steplaw_batch,
    log_fn=log_steplaw_batch,
    inputs={"d": "tokens"},
    target="batch_tokens",
    params={"b_ref": dist.LogNormal(np.log(1e6), 1.5), "r": dist.Normal(0.5, 0.3)},
    reference="Li et al. 2025, Predictable Scale Part I (Step Law): B* = 0.58 D^0.571 tokens",
    description="The optimal batch size (tokens) as a power law in training tokens, independent of model size, "
                "written at D = 1e11.",
    formula=r"B^*(D) = B_{ref}\,(D / 10^{11})^{r}",
    example={"d": 1e11},
    published={"b_ref": 0.58 * D_REF ** 0.571, "r": 0.571},
    noise_scale=HYPER_NOISE_SCALE,
))

for _name, _target, _prior, _expo, _pub, _what in (
    ("deepseek_lr", "lr", dist.LogNormal(np.log(1e-3), 1.5), dist.Normal(-0.1, 0.2), (0.3118, -0.1250),
     "optimal learning rate"),
    ("deepseek_batch", "batch_tokens", dist.LogNormal(np.log(1e6), 1.5), dist.Normal(0.3, 0.2), (0.2920, 0.3271),
     "optimal batch size (tokens)"),
):
    register(Law(
        name=_name,
        fn=power_in_compute,
        log_fn=lambda c, *, ref, exponent: jnp.log(ref) + exponent * jnp.log(c / C_REF),
        inputs={"c": "FLOPs"},
        target=_target,
        params={"ref": _prior, "exponent": _expo},
        reference=f"DeepSeek-AI 2024, arXiv:2401.02954 (Eq. 1: {_pub[0]} C^{_pub[1]}; C in FLOPs, M D)",
        description=f"The {_what} as a power law in training compute, written at C = 1e20 FLOPs.",
        formula=r"y(C) = y_{ref}\,(C / 10^{20})^{k}",
        example={"c": 1e20},
        published={"ref": _pub[0] * C_REF ** _pub[1], "exponent": _pub[1]},
        noise_scale=HYPER_NOISE_SCALE,
    ))


# ---------------------------------------------------------------------------------------------------- loss landscape
def _skewed(x, s):
    """Map ``x`` to ``expm1(s x) / s``: the identity near 0 (and at ``s = 0``), steeper on the side ``s`` points to.

    Smooth and increasing, so a bowl in the mapped coordinate keeps its minimum at ``x = 0``.
    """
    s = jnp.where(jnp.abs(s) < 1e-6, 1e-6, s)
    return jnp.expm1(s * x) / s


def lr_batch_landscape(n, d, lr, batch, *, e, a, b, alpha, beta, eta_ref, p, q, b_ref, r, k_lr, k_b, rho, s_lr,
                       s_b):
    r"""Return the final loss of a run of a learning-rate x batch-size sweep: a skewed bowl in (log lr, log batch).

    The bowl's floor is the Chinchilla loss of the (N, D) cell and its minimum sits at Step Law's optimum
    ``(eta*(N, D), B*(D))`` (:func:`steplaw_lr`, :func:`steplaw_batch`). Its shape is a quadratic form, with
    curvatures ``k_lr``, ``k_b`` and correlation ``rho`` (positive definite for ``|rho| < 1``), in skewed log
    distances from the optimum, ``u = (e^{s_lr x} - 1) / s_lr`` with ``x = log(lr / eta*)`` and likewise ``v`` from
    ``y = log(batch / B*)``: :math:`L = E + A N^{-\alpha} + B D^{-\beta} + k_{lr} u^2 + k_b v^2 + 2 \rho
    \sqrt{k_{lr} k_b}\, u v`. With ``s_lr > 0`` the loss climbs faster above the optimal learning rate than below
    it (runs near divergence), as real sweeps do; a symmetric bowl fitted to such a sweep puts its minimum too
    low. ``s = 0`` is the symmetric quadratic.
    """
    depth = landscape_floor(n, d, lr, batch, e=e, a=a, b=b, alpha=alpha, beta=beta)
    # log distances as differences of logs: a run's log(lr) depends on the data alone, so XLA computes it once
    # outside the sampler's loop, where log(lr / eta*) costs a division and a log per run in every gradient (the
    # gradient of the 15-cell fit of the hyperparameters case study took 76-78 us against 89-93 us, 2026-12-05)
    u = _skewed(jnp.log(lr) - log_steplaw_lr(n, d, eta_ref=eta_ref, p=p, q=q), s_lr)
    v = _skewed(jnp.log(batch) - log_steplaw_batch(d, b_ref=b_ref, r=r), s_b)
    return depth + k_lr * u**2 + k_b * v**2 + 2.0 * rho * jnp.sqrt(k_lr * k_b) * u * v


def landscape_floor(n, d, lr, batch, *, e, a, b, alpha, beta, **_):
    """Return the floor of :func:`lr_batch_landscape`'s bowl: the Chinchilla loss of the run's (N, D) cell.

    It is the law's ``floor``: the residual sd of a fit grows with a run's excess over it, ``log(L / floor)``
    (``sigma + sigma_slope * excess``). On Step Law's sweep, per-cell maximum-likelihood fits with
    such an sd gained about 420 in log-likelihood over a constant sd (Student-t, 1,579 runs, 15 cells; 2026-12-04),
    and in every cell the sd doubled within 0.04 nats of the floor (final losses far from the optimum carry
    instabilities the bowl does not describe).

    Parameters
    ----------
    n, d : array_like
        Parameters and training tokens of each run.
    lr, batch : array_like
        The run's learning rate and batch size (the law's signature; the floor does not depend on them).
    e, a, b, alpha, beta : array_like
        The Chinchilla parameters of :func:`lr_batch_landscape`; its other parameters are accepted and ignored.

    Returns
    -------
    array
        ``E + A N^-alpha + B D^-beta``, broadcast over ``n`` and ``d``.
    """
    return e + a * n ** -alpha + b * d ** -beta


def landscape_optimum(n, d, **params):
    """Return the optimum ``(lr*, batch*, loss*)`` of :func:`lr_batch_landscape` in a cell (broadcasting)."""
    lr = steplaw_lr(n, d, eta_ref=params["eta_ref"], p=params["p"], q=params["q"])
    batch = steplaw_batch(d, b_ref=params["b_ref"], r=params["r"])
    return lr, batch, lr_batch_landscape(n, d, lr, batch, **params)


def flag_diverged(runs, *, by=("n", "d"), target="loss", factor=1.5):
    """Return a boolean mask of runs that diverged: a loss above ``factor`` times the best loss of their cell.

    A bowl cannot describe a run that blew up (Step Law's sweep has final losses of 6-11 nats beside 2.2-2.8 in the
    same cell); drop such runs before fitting :func:`lr_batch_landscape` and report how many. On that sweep the
    ratio to the cell's best is below 1.3 or above 1.5 for every run, so the threshold does not decide borderline
    cases.
    """
    best = runs.groupby(list(by))[target].transform("min")
    return (runs[target] > factor * best).to_numpy()


register(Law(
    name="lr_batch_landscape",
    fn=lr_batch_landscape,
    inputs={"n": "parameters (non-embedding)", "d": "tokens", "lr": "peak learning rate",
            "batch": "batch size (tokens)"},
    target="loss",
    params={
        "e": dist.LogNormal(0.5, 0.5),
        "a": dist.LogNormal(6.0, 2.5),
        "b": dist.LogNormal(6.0, 2.5),
        "alpha": dist.Beta(20.0, 40.0),  # sweeps span a narrow range of N: the floor's N term leans on its prior
        "beta": dist.Beta(2.0, 4.0),
        "eta_ref": dist.LogNormal(np.log(1e-3), 1.5),
        "p": dist.Normal(-0.5, 0.5),
        "q": dist.Normal(0.2, 0.5),
        "b_ref": dist.LogNormal(np.log(1e6), 1.5),
        "r": dist.Normal(0.5, 0.3),
        "k_lr": dist.LogNormal(np.log(0.02), 1.0),  # loss added by a learning rate e-fold off the optimum
        "k_b": dist.LogNormal(np.log(0.02), 1.0),
        "rho": dist.Uniform(-1.0, 1.0),
        "s_lr": dist.Normal(0.0, 0.4),  # skew: > 0, the bowl is steeper above the optimal learning rate
        "s_b": dist.Normal(0.0, 0.4),
    },
    centre={"a": ("n", "alpha"), "b": ("d", "beta")},
    level=("e", "a", "b"),
    reference="Li et al. 2025, Predictable Scale Part I (Step Law): the loss over a learning-rate x batch sweep; "
              "floor after Hoffmann et al. 2022",
    description="The final loss of every run of a learning-rate x batch-size sweep, over many (N, D) cells: a "
                "skewed quadratic bowl in (log lr, log batch) whose minimum follows Step Law's eta*(N, D) and "
                "B*(D) and whose floor follows the Chinchilla law. Fitted to every run rather than each cell's argmin; "
                "grouped by cell with eta_ref and b_ref partially pooled, each cell's optimum may deviate from the "
                "laws by a fitted spread.",
    formula=r"L = E + A N^{-\alpha} + B D^{-\beta} + k_{lr} u^2 + k_b v^2 + 2\rho\sqrt{k_{lr} k_b}\,uv,\ "
            r"u = (e^{s_{lr} x} - 1) / s_{lr},\ x = \log(\eta / \eta^*(N, D)),\ "
            r"v = (e^{s_b y} - 1) / s_b,\ y = \log(B / B^*(D))",
    example={"n": 3e8, "d": 2e10, "lr": 2e-3, "batch": 5e5},
    published={"eta_ref": 1.79 * N_REF ** -0.713 * D_REF ** 0.307, "p": -0.713, "q": 0.307,
               "b_ref": 0.58 * D_REF ** 0.571, "r": 0.571},
    floor=landscape_floor,
))
