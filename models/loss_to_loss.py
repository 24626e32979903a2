"""Family 3: loss-to-loss prediction — one loss as a shifted power law of another.

:func:`shifted_power`: ``L_y = K (L_x - E_x)^kappa + E_y`` (Brandfonbrener et al. 2024, arXiv:2411.12925, Eq. 3),
for train-to-train (a model trained on dataset y against one trained on x with the same compute), train-to-test (a
model's loss on a test set y against its loss on its own training distribution x) and test-to-test pairs.
``E_x`` and ``E_y`` are the irreducible losses of the two datasets: fitted over many pairs, each dataset's ``E`` is
one crossed effect shared by every pair that uses it (``bs.fit(..., groups=["x_set", "y_set"],
crossed={"e": {"e_x": "x_set", "e_y": "y_set"}})``); ``(K, kappa)`` belong to each ordered pair, with ``kappa``
near 1 a priori.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from bayescale.law import Law, register

__all__ = ["shifted_power", "log_shifted_power", "shifted_power_domain", "SOFT_EDGE"]

#: Width (nats) of the smooth edge that keeps ``L_x - E_x`` positive: ``softplus`` at this scale, so the law is exact
#: wherever ``L_x`` exceeds ``E_x`` by more than a few hundredths of a nat and stays differentiable elsewhere (a
#: draw with ``E_x`` above an observed loss then fits badly instead of giving NaN).
SOFT_EDGE = 0.005


def _gap(l_x, e_x):
    return SOFT_EDGE * jnp.logaddexp(0.0, (l_x - e_x) / SOFT_EDGE)


def shifted_power(l_x, *, k, kappa, e_x, e_y):
    r"""Loss-to-loss law :math:`L_y = K (L_x - E_x)^{\kappa} + E_y` (the gap ``L_x - E_x`` kept positive smoothly)."""
    return k * _gap(l_x, e_x) ** kappa + e_y


def shifted_power_domain(l_x, *, k, kappa, e_x, e_y):
    """L_x is above E_x (at or below it the gap L_x - E_x is held at the soft edge, and L_y flattens at E_y)."""
    return l_x > e_x


def log_shifted_power(l_x, *, k, kappa, e_x, e_y):
    """Log of :func:`shifted_power`, as a fused log-sum-exp of its two terms."""
    return jnp.logaddexp(jnp.log(k) + kappa * jnp.log(_gap(l_x, e_x)), jnp.log(e_y))


register(Law(
    name="shifted_power",
    fn=shifted_power,
    log_fn=log_shifted_power,
    inputs={"l_x": "loss (nats per token) on dataset x"},
    target="l_y",
    params={
        "k": dist.LogNormal(0.0, 0.5),
        "kappa": dist.LogNormal(0.0, 0.25),  # near 1 a priori: 90% in (0.66, 1.5)
        "e_x": dist.LogNormal(np.log(1.5), 0.5),  # irreducible loss of dataset x (nats per token)
        "e_y": dist.LogNormal(np.log(1.5), 0.5),
    },
    reference="Brandfonbrener et al. 2024, arXiv:2411.12925 (loss-to-loss prediction, Eq. 3)",
    monotone={"l_x": 1},
    description="One loss as a shifted power law of another: from a model's loss on dataset x to its loss on "
                "dataset y (train-to-test), or to the loss of a model trained on y with the same compute "
                "(train-to-train). E_x and E_y are the datasets' irreducible losses, best shared across pairs as "
                "crossed effects.",
    formula=r"L_y = K\,(L_x - E_x)^{\kappa} + E_y",
    example={"l_x": 3.0},
    domain=shifted_power_domain,
))
