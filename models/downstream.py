"""Family 2: downstream transfer — task metrics as functions of a model's loss.

* :func:`sigmoid_transfer`: accuracy as a sigmoid of the task loss between the task's chance level and a ceiling
  (Bhagia et al. 2024, arXiv:2412.04403, Eq. 2), fitted on the logit of the accuracy: ``sigmoid_transfer`` (chance
  0.25, or :func:`sigmoid_transfer_law` for another), and ``sigmoid_transfer_chance`` with each run's chance level
  as an input column (tasks with different numbers of options in one hierarchical fit).
* :func:`exp_error`: top-1 error as ``eps - k exp(-gamma L)`` of the loss (Gadre et al. 2024, arXiv:2403.08540,
  Eq. 5), registered through the loss ``l_zero`` at which it would vanish (:func:`exp_error_zero`), and fitted on
  the logit of the error.
* :func:`accuracy_compute`: accuracy against training compute, whose error is Nezhurina et al. 2025's power law
  plus floor ``E_0 + A (C + C_0)^{-alpha}`` in shifted compute (an error of 1 at no compute), fitted on the logit
  of the accuracy.
* :func:`bleu_log`: translation quality as ``(log(A D^alpha))^beta`` of the pretraining tokens (Isik et al. 2024,
  arXiv:2402.04177), registered through the data size ``d_star`` at which it would vanish (:func:`bleu_log_star`),
  and fitted on the log of the score.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.law import Law, register

__all__ = ["sigmoid_transfer", "sigmoid_transfer_law", "exp_error", "exp_error_zero", "accuracy_compute", "bleu_log",
           "bleu_log_star", "log_bleu_log"]


def sigmoid_transfer(loss, *, ceiling, k, l0, floor=0.25):
    r"""Sigmoid transfer :math:`a(L) = f + (c - f) / (1 + e^{k (L - L_0)})`.

    From the ceiling ``c`` at low loss down to the floor ``f`` (the task's chance level) at high loss; ``k > 0`` is
    the steepness, ``L_0`` the midpoint.
    """
    return floor + (ceiling - floor) * jnp.exp(-jnp.logaddexp(0.0, k * (loss - l0)))


def _ceiling_concentration(chance: float, below: float = 0.002) -> float:
    """Smallest ``a`` (from 6, in halves) with ``P(Beta(a, 2) < chance) <= below``: ``(a + 1) x^a - a x^(a + 1)``."""
    a = 6.0
    while (a + 1) * chance**a - a * chance ** (a + 1) > below:
        a += 0.5
    return a


def sigmoid_transfer_law(chance: float = 0.25, name: str | None = None) -> Law:
    """Build the sigmoid transfer law with its floor at a task's chance level (0.25 for four-way multiple choice).

    Parameters
    ----------
    chance : float
        Chance-level accuracy of the task, in (0, 1): 0.25 for four options, 0.5 for two (BoolQ, PIQA,
        Winogrande), 0.2 for five (CSQA).
    name : str, optional
        Law name; default ``sigmoid_transfer`` for 0.25 and ``sigmoid_transfer_<chance>`` otherwise.

    Returns
    -------
    Law
    """
    if not 0.0 < chance < 1.0:
        raise ValueError(f"chance must lie strictly between 0 and 1, got {chance}")
    if name is None:
        name = "sigmoid_transfer" if chance == 0.25 else f"sigmoid_transfer_{round(100 * chance)}"
    return Law(
        name=name,
        fn=lambda loss, *, ceiling, k, l0: sigmoid_transfer(loss, ceiling=ceiling, k=k, l0=l0, floor=chance),
        inputs={"loss": "task loss (nats per token, or bits per byte)"},
        target="acc",
        params={
            # ceiling: most tasks top out at 0.6-0.95; a Beta on the unit interval with at most 0.2% of its mass
            # below chance, where the law would rise with the loss (Beta(6, 2) for chance 0.25, Beta(12, 2) for 0.5)
            "ceiling": dist.Beta(_ceiling_concentration(chance), 2.0),
            "k": dist.LogNormal(1.0, 1.0),  # steepness per nat: median e^1 = 2.7
            "l0": dist.LogNormal(0.0, 0.75),  # midpoint loss: median 1 nat, 90% in (0.3, 3.4)
        },
        reference="Bhagia et al. 2024, arXiv:2412.04403 (OLMo task-scaling ladders, Eq. 2)",
        monotone={"loss": -1},
        link="logit",
        description=(f"Task accuracy as a sigmoid of the task loss, from the chance level {chance:g} at high loss "
                     "up to a ceiling at low loss; likelihood on the logit of the accuracy."),
        formula=rf"a(L) = {chance:g} + (c - {chance:g}) / (1 + e^{{k (L - L_0)}})",
        # a task loss near the prior's midpoint l0 (median 1): the default simulated ladder (half to 1.5 times it)
        # then spans the sigmoid's rise rather than sitting on the chance floor (1.5-4.5 did, 10 runs of 12)
        example={"loss": 1.0},
    )


register(sigmoid_transfer_law())

register(Law(
    name="sigmoid_transfer_chance",
    fn=lambda loss, chance, *, top, k, l0: sigmoid_transfer(loss, ceiling=chance + (1 - chance) * top, k=k, l0=l0,
                                                            floor=chance),
    inputs={"loss": "task loss (nats per token, or bits per byte)", "chance": "chance-level accuracy (fraction)"},
    target="acc",
    params={
        "top": dist.Beta(4.0, 2.0),  # share of the gap from chance to 1 reached at low loss: median 0.69
        "k": dist.LogNormal(1.0, 1.0),
        "l0": dist.LogNormal(0.0, 0.75),
    },
    reference="Bhagia et al. 2024, arXiv:2412.04403 (OLMo task-scaling ladders, Eq. 2)",
    monotone={"loss": -1, "chance": 1},  # a = f (1 - t s) + t s with t, s < 1: rises with the chance level f
    link="logit",
    description="The sigmoid transfer law with each run's chance level as an input column (``chance``), so that one "
                "hierarchical fit covers tasks with different numbers of options (0.25 for four, 0.5 for two, 0.2 "
                "for five). The ceiling is ``chance + (1 - chance) * top``: always above chance, with ``top`` the "
                "share of the way from chance to a perfect score.",
    formula=r"a(L) = f + (1 - f)\,t / (1 + e^{k (L - L_0)}),\ f = \text{chance}",
    example={"loss": 1.0, "chance": 0.25},
))


_SOFT_EDGE = 0.005


def exp_error(loss, *, eps, k, gamma):
    r"""Exponential error :math:`\mathrm{Err}(L) = \epsilon - k e^{-\gamma L}` (Gadre et al.'s form).

    ``eps`` is the error of a model that learned nothing (near the tasks' chance error), approached as the loss
    grows; the error falls as the loss falls.
    """
    return eps - k * jnp.exp(-gamma * loss)


def exp_error_zero(loss, *, eps, gamma, l_zero):
    r"""Gadre's exponential error written through the loss at which it would reach zero.

    :math:`\mathrm{Err}(L) = \epsilon (1 - e^{-\gamma (L - L_z)})`, that is :math:`k = \epsilon e^{\gamma L_z}`
    in :func:`exp_error`. The error stays in :math:`(0, \epsilon)` for every loss above :math:`L_z`, so a prior
    on :math:`L_z` below the losses of real models keeps every prior draw a valid error rate; in Gadre's own
    parameters a wide prior on ``k`` gives negative errors. Below :math:`L_z` (a loss no real model reaches, but a
    heavy-tailed predictive draw of a chained loss can) the gap :math:`L - L_z` is kept positive by a softplus
    of width 0.005 nats, so the error stays a tiny positive rate instead of turning negative.
    """
    gap = _SOFT_EDGE * jnp.logaddexp(0.0, (loss - l_zero) / _SOFT_EDGE)  # loss - l_zero, kept positive smoothly
    return eps * -jnp.expm1(-gamma * gap)


register(Law(
    name="exp_error",
    fn=lambda loss, *, eps, gamma, l_zero: exp_error_zero(loss, eps=eps, gamma=gamma, l_zero=l_zero),
    inputs={"loss": "loss (nats per token) on a validation set"},
    target="err",
    params={
        "eps": dist.Beta(8.0, 2.0),  # the error of a model that learned nothing: median 0.82
        "gamma": dist.LogNormal(-0.5, 0.75),  # per nat: median 0.61
        "l_zero": dist.LogNormal(-0.5, 0.5),  # the loss at which the error would vanish: median 0.61 nats
    },
    reference="Gadre et al. 2024, arXiv:2403.08540 (Eq. 5, Err = eps - k exp(-gamma L) with k = eps exp(gamma L_z); "
              "average top-1 error over 17 tasks)",
    monotone={"loss": 1},
    link="logit",
    description="Average top-1 error of downstream tasks as an exponential function of the loss: it falls from the "
                "chance-level error eps as the loss falls, towards zero at the loss L_z; likelihood on the logit of "
                "the error.",
    formula=r"\mathrm{Err}(L) = \epsilon\,(1 - e^{-\gamma (L - L_z)}) = \epsilon - k\,e^{-\gamma L},\ "
            r"k = \epsilon\,e^{\gamma L_z}",
    example={"loss": 3.0},
))


def accuracy_compute(c, *, top, c0, alpha):
    r"""Accuracy against compute, :math:`a(C) = t\,(1 - (1 + C / C_0)^{-\alpha})`.

    The error is Nezhurina et al.'s power law plus floor in shifted compute,
    :math:`1 - a = E_0 + A\,(C + C_0)^{-\alpha}` with :math:`E_0 = 1 - t` and :math:`A = t\,C_0^{\alpha}`: it
    falls from 1 at no compute towards the floor :math:`1 - t`. ``top`` is the accuracy approached at infinite
    compute, ``alpha`` the exponent of the error's excess at large compute, and ``c0`` the compute below which the
    accuracy grows in proportion to compute (:math:`a \approx t \alpha C / C_0`).
    """
    return -top * jnp.expm1(-alpha * jnp.log1p(c / c0))


register(Law(
    name="accuracy_compute",
    fn=accuracy_compute,
    inputs={"c": "FLOPs"},
    target="acc",
    params={
        "top": dist.Beta(4.0, 2.0),  # accuracy at infinite compute: median 0.69
        "c0": dist.LogNormal(np.log(1e18), 4.0),  # compute scale: 90% in (1e15, 7e20)
        "alpha": dist.LogNormal(np.log(0.3), 0.7),  # exponent of the error's excess: 90% in (0.1, 0.95)
    },
    centre={"c0": ("c", 1.0)},
    reference="Nezhurina et al. 2025, arXiv:2506.04598 (error E(C) = A C^-alpha + E_0 on the compute-Pareto front, "
              "per model family and pre-training data set)",
    monotone={"c": 1},
    link="logit",
    description="Zero-shot (or any top-1) accuracy against total training compute on the compute-Pareto front. Its "
                "error is Nezhurina et al.'s power law plus floor in shifted compute, which starts at 1 with no "
                "compute, so the accuracy stays in (0, 1) where the plain power law would exceed an error of 1; "
                "likelihood on the logit of the accuracy.",
    formula=r"a(C) = t\,\left(1 - (1 + C/C_0)^{-\alpha}\right),\quad 1 - a = (1 - t) + t\,C_0^{\alpha} "
            r"(C + C_0)^{-\alpha}",
    example={"c": 1e20},
))


def bleu_log(d, *, a, alpha, beta):
    r"""Isik's translation-quality law :math:`f(D_p) = (\log(A D_p^{\alpha}))^{\beta}` in the pretraining tokens."""
    return jnp.log(a * d**alpha) ** beta


def bleu_log_star(d, *, alpha, beta, d_star):
    r"""Isik's law written through the data size at which quality would vanish.

    :math:`f(D) = (\alpha \log(D / D^*))^{\beta}`, that is :math:`A = D^{*-\alpha}` in :func:`bleu_log`. The law
    is defined for :math:`D > D^*`; a prior on :math:`D^*` far below real pretraining sizes keeps every draw valid,
    where Isik's ``A`` puts a boundary of the posterior next to the data (NUTS then diverges).
    """
    return jnp.exp(log_bleu_log(d, alpha=alpha, beta=beta, d_star=d_star))


def log_bleu_log(d, *, alpha, beta, d_star):
    """Log of :func:`bleu_log_star`: ``beta * (log alpha + log(log d - log d_star))``."""
    return beta * (jnp.log(alpha) + jnp.log(jnp.log(d) - jnp.log(d_star)))


register(Law(
    name="bleu_log",
    fn=lambda d, *, alpha, beta, d_star: bleu_log_star(d, alpha=alpha, beta=beta, d_star=d_star),
    log_fn=lambda d, *, alpha, beta, d_star: log_bleu_log(d, alpha=alpha, beta=beta, d_star=d_star),
    inputs={"d": "pretraining tokens"},
    target="bleu",
    params={
        "alpha": dist.LogNormal(np.log(0.3), 0.5),
        "beta": dist.LogNormal(np.log(1.5), 0.5),
        "d_star": dist.LogNormal(np.log(1e3), 2.0),  # tokens at which quality would vanish: far below real data
    },
    reference="Isik et al. 2024, arXiv:2402.04177 (f = (log(A D^alpha))^beta with A = d_star^-alpha; BLEU and COMET "
              "against pretraining data size)",
    monotone={"d": 1},
    description="Machine-translation quality (BLEU, COMET) after fine-tuning, as a function of the pretraining "
                "tokens: a power of the log of a power law; one curve per pretraining mixture and fine-tuning size.",
    formula=r"f(D_p) = \left(\log(A\,D_p^{\alpha})\right)^{\beta} = \left(\alpha \log(D_p / D^*)\right)^{\beta}",
    example={"d": 1e10},
))
