"""Family 2: downstream transfer — task metrics as functions of a model's loss.

* :func:`sigmoid_transfer`: accuracy as a sigmoid of the task loss between the task's chance level and a ceiling
  (Bhagia et al. 2024, arXiv:2412.04403, Eq. 2), fitted on the logit of the accuracy.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpyro.distributions as dist

from bayescale.law import Law, register

__all__ = ["sigmoid_transfer", "sigmoid_transfer_law"]


def sigmoid_transfer(loss, *, ceiling, k, l0, floor=0.25):
    r"""Sigmoid transfer :math:`a(L) = f + (c - f) / (1 + e^{k (L - L_0)})`.

    From the ceiling ``c`` at low loss down to the floor ``f`` (the task's chance level) at high loss; ``k > 0`` is
    the steepness, ``L_0`` the midpoint.
    """
    return floor + (ceiling - floor) * jnp.exp(-jnp.logaddexp(0.0, k * (loss - l0)))


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
            # ceiling: between chance and 1 (Beta on the unit interval; most tasks top out at 0.6-0.95)
            "ceiling": dist.Beta(6.0, 2.0),
            "k": dist.LogNormal(1.0, 1.0),  # steepness per nat: median e^1 = 2.7
            "l0": dist.LogNormal(0.0, 0.75),  # midpoint loss: median 1 nat, 90% in (0.3, 3.4)
        },
        reference="Bhagia et al. 2024, arXiv:2412.04403 (OLMo task-scaling ladders, Eq. 2)",
        monotone={"loss": -1},
        link="logit",
        description=(f"Task accuracy as a sigmoid of the task loss, from the chance level {chance:g} at high loss "
                     "up to a ceiling at low loss; likelihood on the logit of the accuracy."),
        formula=rf"a(L) = {chance:g} + (c - {chance:g}) / (1 + e^{{k (L - L_0)}})",
        example={"loss": 3.0},
    )


register(sigmoid_transfer_law())
