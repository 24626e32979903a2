r"""Family 1: scaling of loss with model size ``n``, training tokens ``d``, compute ``c`` and unique tokens ``u``.

Each law is a pure, broadcasting ``jax.numpy`` function plus one :class:`bayescale.Law` spec.

Default priors (weakly informative, on the natural scale; where they come from)
-------------------------------------------------------------------------------
* Irreducible loss ``e``: ``LogNormal(0.5, 0.5)`` — median 1.65 nats, 90% in (0.72, 3.7); covers the entropy floors
  reported for web text (Hoffmann 1.69, Besiroglu 1.82, Muennighoff 1.87, Brandfonbrener 0.86-2.0).
* Coefficients ``a``, ``b``: ``LogNormal(6, 2.5)`` — centred on Hoffmann's A = 406, B = 411 (log 6.0), a factor
  e^2.5 = 12 either way at one sd, so Besiroglu's B = 2085 and Muennighoff's A = 521, B = 1488 are well inside.
* Size/data exponents ``alpha``, ``beta``: ``Beta(2, 4)`` — mean 0.33, 90% in (0.08, 0.66), bounded in (0, 1);
  published values are 0.28-0.45 (Hoffmann, Besiroglu, Muennighoff, Brandfonbrener).
* Compute exponents: ``Beta(1.5, 10)`` — mean 0.13; L*(C) exponents are alpha*beta/(alpha+beta) ~ 0.15 and
  Kaplan's alpha_C = 0.050.
* Kaplan exponents: ``Beta(2, 15)`` — mean 0.12 (Kaplan 0.076 and 0.103 in the E = 0 convention).
* Kaplan scales ``nc``, ``dc``: ``LogNormal(log 1e13, 4)`` — Kaplan 6.4e13 and 1.8e13.
* Repetition e-folds ``r_d``, ``r_n``: ``LogNormal(log 15, 1)``, ``LogNormal(log 5, 1)`` — Muennighoff 15.4, 5.3.

Coefficients are sampled centred at the data's geometric mean (``centre=`` in each spec); the prior stays on the
natural parameter.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpyro.distributions as dist

from bayescale.law import Law, register

_E = dist.LogNormal(0.5, 0.5)
_COEF = dist.LogNormal(6.0, 2.5)
_EXP = dist.Beta(2.0, 4.0)
_EXP_C = dist.Beta(1.5, 10.0)


# ---------------------------------------------------------------------------------------------------------------- F1.1
def power_law(x, *, e, a, alpha):
    r"""Saturating power law :math:`L(x) = E + A x^{-\alpha}`."""
    return e + a * x ** (-alpha)


def log_power_law(x, *, e, a, alpha):
    """Log of :func:`power_law`, as a fused log-sum-exp."""
    return jnp.logaddexp(jnp.log(e), jnp.log(a) - alpha * jnp.log(x))


def _power_law_spec(x: str, unit: str, exponent_prior, example: float, coef=_COEF) -> Law:
    return Law(
        name=f"power_law_{x}",
        fn=lambda v, *, e, a, alpha: power_law(v, e=e, a=a, alpha=alpha),
        log_fn=lambda v, *, e, a, alpha: log_power_law(v, e=e, a=a, alpha=alpha),
        inputs={x: unit},
        target="loss",
        params={"e": _E, "a": coef, "alpha": exponent_prior},
        centre={"a": (x, "alpha")},
        level=("e", "a"),
        monotone={x: -1},
        reference="Hestness et al. 2017, arXiv:1712.00409; Henighan et al. 2020, arXiv:2010.14701",
        description=f"Saturating power law in {unit}: an irreducible loss plus a power-law reducible term.",
        formula=rf"L({x}) = E + A\,{x}^{{-\alpha}}",
        example={x: example},
    )


# ---------------------------------------------------------------------------------------------------------------- F1.2
def chinchilla(n, d, *, e, a, b, alpha, beta):
    r"""Chinchilla law :math:`L(N, D) = E + A N^{-\alpha} + B D^{-\beta}`."""
    return e + a * n ** (-alpha) + b * d ** (-beta)


def log_chinchilla(n, d, *, e, a, b, alpha, beta):
    """Log of :func:`chinchilla` as one stable log-sum-exp of the three terms."""
    t0 = jnp.broadcast_to(jnp.log(e), jnp.broadcast_shapes(jnp.shape(n), jnp.shape(d), jnp.shape(e)))
    t1 = jnp.log(a) - alpha * jnp.log(n)
    t2 = jnp.log(b) - beta * jnp.log(d)
    m = jnp.maximum(jnp.maximum(t0, t1), t2)
    return m + jnp.log(jnp.exp(t0 - m) + jnp.exp(t1 - m) + jnp.exp(t2 - m))


def chinchilla_optimum(c, k, *, e, a, b, alpha, beta):
    r"""Closed-form compute-optimal allocation (Hoffmann et al. 2022, Eq. 4) for :math:`C = k N D`.

    :math:`N^* = G (C/k)^{\beta/(\alpha+\beta)}`, :math:`D^* = G^{-1} (C/k)^{\alpha/(\alpha+\beta)}`,
    :math:`G = (\alpha A / (\beta B))^{1/(\alpha+\beta)}`.
    """
    m = c / k
    g = (alpha * a / (beta * b)) ** (1.0 / (alpha + beta))
    n_opt = g * m ** (beta / (alpha + beta))
    d_opt = m ** (alpha / (alpha + beta)) / g
    return n_opt, d_opt, chinchilla(n_opt, d_opt, e=e, a=a, b=b, alpha=alpha, beta=beta)


# ---------------------------------------------------------------------------------------------------------------- F1.3
def kaplan(n, d, *, nc, dc, alpha_n, alpha_d):
    r"""Kaplan joint law :math:`L(N, D) = [(N_c/N)^{\alpha_N/\alpha_D} + D_c/D]^{\alpha_D}` (no floor: E = 0)."""
    return ((nc / n) ** (alpha_n / alpha_d) + dc / d) ** alpha_d


def log_kaplan(n, d, *, nc, dc, alpha_n, alpha_d):
    """Log of :func:`kaplan` via ``logaddexp``."""
    return alpha_d * jnp.logaddexp((alpha_n / alpha_d) * (jnp.log(nc) - jnp.log(n)), jnp.log(dc) - jnp.log(d))


# ---------------------------------------------------------------------------------------------------------------- F1.4
def effective_data(d, u, r_d):
    r"""Muennighoff's effective data :math:`D' = U_D + U_D R^*_D (1 - e^{-R_D/R^*_D})`, :math:`R_D = D/U_D - 1`.

    :math:`U_D = \min(U, D)` is the number of unique tokens actually seen: a run on ``d`` tokens from a corpus of
    ``u > d`` unique tokens sees ``d`` of them once (:math:`D' = D`). The datablations reference code assumes
    ``u <= d`` and, given ``u > d``, would credit the whole corpus (:math:`D' = U > D`, so loss would keep falling as
    the unused corpus grows); the two agree wherever ``u <= d``, including the published worked examples.
    """
    u_d = jnp.minimum(u, d)
    repeats = d / u_d - 1.0
    return u_d + u_d * r_d * (1.0 - jnp.exp(-repeats / r_d))


def data_constrained(n, d, u, *, e, a, b, alpha, beta, r_d, r_n):
    r"""Data-constrained law (Muennighoff et al. 2023): Chinchilla in effective parameters and data.

    :math:`L = E + A N'^{-\alpha} + B D'^{-\beta}` with :math:`D'` from :func:`effective_data` and
    :math:`N' = U_N + U_N R^*_N (1 - e^{-R_N/R^*_N})`, :math:`U_N = \min(N, N^*(U_D))` the compute-optimal size for
    :math:`U_D = \min(U, D)` unique tokens, :math:`R_N = N/U_N - 1`.

    With the published fit (huggingface/datablations README) :math:`L(6.34\times10^9, 2.42\times10^{11},
    2.5\times10^{10}) = 2.2256` and :math:`L(8.67\times10^9, 1.78\times10^{11}, 2.5\times10^{10}) = 2.2270`.
    """
    g = (alpha * a / (beta * b)) ** (1.0 / (alpha + beta))
    u_d = jnp.minimum(u, d)
    u_n = jnp.minimum(n, g * (u_d * g) ** (beta / alpha))
    r_nn = jnp.maximum(n / u_n - 1.0, 0.0)
    n_eff = u_n + u_n * r_n * (1.0 - jnp.exp(-r_nn / r_n))
    return e + a * n_eff ** (-alpha) + b * effective_data(d, u, r_d) ** (-beta)


# ---------------------------------------------------------------------------------------------------------------- F1.5
def overtraining(n, d, *, e, a, b, eta):
    r"""Over-training law (Gadre et al. 2024) :math:`L(C, M) = E + (a M^{\eta} + b M^{-\eta}) C^{-\eta}`.

    With :math:`C = 6 N D` and token multiplier :math:`M = D / N`.
    """
    c = 6.0 * n * d
    m = d / n
    return e + (a * m**eta + b * m ** (-eta)) * c ** (-eta)


def overtraining_optimum(c, k, *, e, a, b, eta):
    r"""Closed-form compute-optimal allocation of the over-training law for :math:`C = k N D`.

    At fixed :math:`N D`, :math:`a M^{\eta} + b M^{-\eta}` is least at :math:`M^* = (b / a)^{1 / (2 \eta)}`, so
    :math:`N^* = \sqrt{C / (k M^*)}`, :math:`D^* = M^* N^*` and :math:`L^* = E + 2 \sqrt{a b}\,(6 C / k)^{-\eta}`.
    """
    m_opt = (b / a) ** (0.5 / eta)
    n_opt = jnp.sqrt(c / (k * m_opt))
    d_opt = m_opt * n_opt
    return n_opt, d_opt, overtraining(n_opt, d_opt, e=e, a=a, b=b, eta=eta)


def log_overtraining(n, d, *, e, a, b, eta):
    """Log of :func:`overtraining` via log-sum-exp (reducible terms a N^-2eta and b D^-2eta, times 6^-eta)."""
    t0 = jnp.broadcast_to(jnp.log(e), jnp.broadcast_shapes(jnp.shape(n), jnp.shape(d), jnp.shape(e)))
    t1 = jnp.log(a) - eta * jnp.log(6.0) - 2.0 * eta * jnp.log(n)
    t2 = jnp.log(b) - eta * jnp.log(6.0) - 2.0 * eta * jnp.log(d)
    m = jnp.maximum(jnp.maximum(t0, t1), t2)
    return m + jnp.log(jnp.exp(t0 - m) + jnp.exp(t1 - m) + jnp.exp(t2 - m))


# ---------------------------------------------------------------------------------------------------------------- BNSL
def broken_power_law(c, *, e, a, alpha, delta, c_break, smooth):
    r"""Smoothly broken power law with one break (Caballero et al. 2023).

    :math:`L(C) = E + A C^{-\alpha} (1 + (C/C_b)^{1/f})^{-\delta f}`: exponent :math:`\alpha` below the break
    :math:`C_b`, :math:`\alpha + \delta` above it, sharpness :math:`f`.
    """
    return e + a * c ** (-alpha) * (1.0 + (c / c_break) ** (1.0 / smooth)) ** (-delta * smooth)


def log_broken_power_law(c, *, e, a, alpha, delta, c_break, smooth):
    """Log of :func:`broken_power_law` via ``logaddexp`` and ``softplus``."""
    log_c = jnp.log(c)
    bend = -delta * smooth * jnp.logaddexp(0.0, (log_c - jnp.log(c_break)) / smooth)
    return jnp.logaddexp(jnp.log(e), jnp.log(a) - alpha * log_c + bend)


# ------------------------------------------------------------------------------------------------------------- specs
POWER_LAW_N = register(_power_law_spec("n", "parameters", _EXP, 1e9))
POWER_LAW_D = register(_power_law_spec("d", "tokens", _EXP, 1e11))
POWER_LAW_C = register(_power_law_spec("c", "FLOPs", _EXP_C, 1e21, coef=dist.LogNormal(3.0, 3.0)))

CHINCHILLA = register(
    Law(
        name="chinchilla",
        fn=chinchilla,
        log_fn=log_chinchilla,
        inputs={"n": "parameters", "d": "tokens"},
        target="loss",
        params={"e": _E, "a": _COEF, "b": _COEF, "alpha": _EXP, "beta": _EXP},
        centre={"a": ("n", "alpha"), "b": ("d", "beta")},
        level=("e", "a", "b"),
        monotone={"n": -1, "d": -1},
        reference="Hoffmann et al. 2022, arXiv:2203.15556; Besiroglu et al. 2024, arXiv:2404.10102",
        description="Additive Chinchilla law: irreducible loss plus a model-size term and a data term.",
        formula=r"L(N, D) = E + A N^{-\alpha} + B D^{-\beta}",
        example={"n": 1e9, "d": 2e10},
        optimum=chinchilla_optimum,
        # Besiroglu et al. 2024, Table 1 (refit of Hoffmann's Fig. 4 data); Hoffmann's own: 1.69, 406.4, 410.7, .34, .28
        published={"e": 1.8172, "a": 482.01, "b": 2085.43, "alpha": 0.3478, "beta": 0.3658},
    )
)

KAPLAN = register(
    Law(
        name="kaplan",
        fn=kaplan,
        log_fn=log_kaplan,
        inputs={"n": "parameters", "d": "tokens"},
        target="loss",
        params={
            "nc": dist.LogNormal(30.0, 4.0),
            "dc": dist.LogNormal(30.0, 4.0),
            "alpha_n": dist.Beta(2.0, 15.0),
            "alpha_d": dist.Beta(2.0, 15.0),
        },
        centre={"nc": ("n", -1.0), "dc": ("d", -1.0)},
        monotone={"n": -1, "d": -1},
        reference="Kaplan et al. 2020, arXiv:2001.08361 (Eq. 1.5)",
        published={"nc": 6.4e13, "dc": 1.8e13, "alpha_n": 0.076, "alpha_d": 0.103},  # Kaplan Table 2
        description="Kaplan's joint law in model size and data, with no irreducible term (E = 0 convention).",
        formula=r"L(N, D) = \left[(N_c/N)^{\alpha_N/\alpha_D} + D_c/D\right]^{\alpha_D}",
        example={"n": 1e9, "d": 2e10},
    )
)

DATA_CONSTRAINED = register(
    Law(
        name="data_constrained",
        fn=data_constrained,
        inputs={"n": "parameters", "d": "tokens", "u": "unique tokens"},
        target="loss",
        params={
            "e": _E, "a": _COEF, "b": _COEF, "alpha": _EXP, "beta": _EXP,
            "r_d": dist.LogNormal(2.7, 1.0), "r_n": dist.LogNormal(1.6, 1.0),
        },
        centre={"a": ("n", "alpha"), "b": ("d", "beta")},
        level=("e", "a", "b"),
        monotone={"n": -1, "d": -1, "u": -1},
        reference="Muennighoff et al. 2023, arXiv:2305.16264 (Eq. 5-6)",
        # huggingface/datablations README: exp(6.255414), exp(7.3049974), exp(0.6254804), alpha = beta tied
        # (math.exp, not jnp.exp: jnp computes in float32 unless x64 is on, losing 7 digits of the published fit)
        published={"e": math.exp(0.6254804), "a": math.exp(6.255414), "b": math.exp(7.3049974),
                   "alpha": 0.3526596, "beta": 0.3526596, "r_d": 15.387756, "r_n": 5.309743},
        description="Chinchilla law in effective parameters and effective data: repeated tokens and excess "
        "parameters are worth exponentially less (e-folds r_d and r_n).",
        formula=r"L = E + A N'^{-\alpha} + B D'^{-\beta},\quad D' = U + U R^*_D (1 - e^{-R_D/R^*_D})",
        example={"n": 1e9, "d": 4e10, "u": 1e10},
    )
)

OVERTRAINING = register(
    Law(
        name="overtraining",
        fn=overtraining,
        log_fn=log_overtraining,
        inputs={"n": "parameters", "d": "tokens"},
        target="loss",
        params={"e": _E, "a": _COEF, "b": _COEF, "eta": dist.Beta(2.0, 6.0)},
        centre={"a": ("n", ("eta", 2.0)), "b": ("d", ("eta", 2.0))},
        level=("e", "a", "b"),
        monotone={"n": -1, "d": -1},
        reference="Gadre et al. 2024, arXiv:2403.08540 (Eq. 4)",
        description="Loss in compute C = 6ND and token multiplier M = D/N with one exponent (alpha = beta).",
        formula=r"L(C, M) = E + (a M^{\eta} + b M^{-\eta}) C^{-\eta}",
        example={"n": 4e8, "d": 8e9},
        optimum=overtraining_optimum,
    )
)

BROKEN_POWER_LAW = register(
    Law(
        name="broken_power_law",
        fn=broken_power_law,
        log_fn=log_broken_power_law,
        inputs={"c": "FLOPs"},
        target="loss",
        params={
            "e": _E, "a": dist.LogNormal(3.0, 3.0), "alpha": _EXP_C,
            "delta": dist.Normal(0.0, 0.1), "c_break": dist.LogNormal(46.0, 4.0), "smooth": dist.LogNormal(0.0, 0.5),
        },
        centre={"a": ("c", "alpha"), "c_break": ("c", -1.0)},
        level=("e", "a"),
        monotone={},
        reference="Caballero et al. 2023, arXiv:2210.14891 (BNSL, one break)",
        description="Power law in compute whose exponent changes smoothly from alpha to alpha + delta at C_b.",
        formula=r"L(C) = E + A C^{-\alpha} \left(1 + (C/C_b)^{1/f}\right)^{-\delta f}",
        example={"c": 1e21},
    )
)


# ------------------------------------------------------------------------------------------------ compute-optimal size
def compute_optimal_n(c, *, n_ref, a):
    r"""Compute-optimal model size as a power of compute, :math:`N^*(C) = N_{ref} (C / 10^{18})^{a}`."""
    return n_ref * (c / 1e18) ** a


COMPUTE_OPTIMAL_N = register(
    Law(
        name="compute_optimal_n",
        fn=compute_optimal_n,
        log_fn=lambda c, *, n_ref, a: jnp.log(n_ref) + a * jnp.log(c / 1e18),
        inputs={"c": "FLOPs"},
        target="n_opt",
        params={"n_ref": dist.LogNormal(math.log(1e8), 2.0), "a": dist.Beta(1.0, 1.0)},
        monotone={"c": 1},
        reference="Kaplan et al. 2020 (a = 0.73); Hoffmann et al. 2022 (a = 0.5); Porian et al. 2024, "
                  "arXiv:2406.19146",
        description="The compute-optimal model size (the minimum of each IsoFLOP curve) as a power of the "
                    "training compute, written at C = 1e18 FLOPs. Kaplan et al. found a = 0.73, Hoffmann et al. "
                    "a = 0.5; Porian et al. trace the gap to the training protocol. The prior on a is uniform on "
                    "(0, 1), so it favours neither.",
        formula=r"N^*(C) = N_{ref}\,(C / 10^{18})^{a}",
        example={"c": 1e19},
    )
)
