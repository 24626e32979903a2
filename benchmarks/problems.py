"""The benchmark problems A, B and C, shared by every benchmark script (bayescale and its peers fit the same data).

* **A** — the Chinchilla law, flat, on the real Chinchilla data: Epoch's reconstruction of Hoffmann et al. (2022)
  Fig. 4 minus the 5 highest-loss runs (Besiroglu et al. 2024): 240 runs.
* **B** — the same law, hierarchical: 8 groups x 60 runs simulated from the law with ``e`` and ``a`` varying by
  group (log-scale sd 0.1 and 0.3), 2% log-normal noise; ``e`` and ``a`` partially pooled (centred: every group
  has 60 runs).
* **C** — 100 independent flat Chinchilla fits of 30 runs each (5 model sizes from 1e7 to 3e9 x 6 ratios of
  tokens to parameters from 5 to 160), each simulated from
  its own parameters (the reference values perturbed on the log scale) with 0.5% Normal noise, column ``task``
  naming the fit; fitted with bayescale's default model (Student-t likelihood).

The model every system fits (bayescale's spec, written out so Stan and PyMC can match it exactly):

* ``e ~ LogNormal(0.5, 0.5)``, ``alpha, beta ~ Beta(2, 4)``, ``sigma ~ HalfNormal(0.1)``,
  ``nu - 1 ~ Gamma(2, 0.1)`` (shape, rate; ``nu > 1``);
* ``a`` and ``b`` are sampled centred at the data's geometric mean: ``a_c = log a - alpha * lx0_n`` with
  ``lx0_n = mean(log n)``, so ``a_c ~ Normal(6 - alpha * lx0_n, 2.5)`` (the ``LogNormal(6, 2.5)`` prior on ``a``
  carried over exactly); likewise ``b_c ~ Normal(6 - beta * lx0_d, 2.5)``;
* ``mu = logsumexp(log e, a_c - alpha * (log n - lx0_n), b_c - beta * (log d - lx0_d))``;
  ``log loss ~ StudentT(nu, mu, sigma)``.
* B, per group ``g``: ``e_loc ~ LogNormal(0.5, 0.5)``, ``e_scale ~ HalfNormal(0.5)``,
  ``e_u[g] ~ Normal(log e_loc, e_scale)``, ``e[g] = exp(e_u[g])``; ``a_c_loc ~ Normal(6 - alpha * lx0_n, 2.5)``,
  ``a_scale ~ HalfNormal(0.5)``, ``a_u[g] ~ Normal(a_c_loc, a_scale)``, ``log a[g] = a_u[g] + alpha * lx0_n``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bayescale as bs

#: Law parameters compared across systems.
LAW_PARAMS = ("e", "a", "b", "alpha", "beta")
#: Default NUTS settings of every system in the benchmarks.
SETTINGS = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000}


def problem_a(data_dir: str | None = None) -> pd.DataFrame:
    """Problem A: the 240 real Chinchilla runs (columns ``n, d, loss``)."""
    raw = bs.datasets.load("chinchilla_epoch", data_dir=data_dir)
    loss = raw["loss"].to_numpy(dtype=float)
    runs = raw.loc[loss < np.sort(loss)[-5], ["n", "d", "loss"]].reset_index(drop=True)
    if len(runs) != 240:
        raise SystemExit(f"expected 240 runs after dropping the 5 highest losses, got {len(runs)}")
    return runs


def _design(num_n: int, num_d: int) -> pd.DataFrame:
    n = np.geomspace(4e7, 4e9, num_n)
    d = np.geomspace(5e9, 5e11, num_d)
    nn, dd = np.meshgrid(n, d, indexing="ij")
    return pd.DataFrame({"n": nn.ravel(), "d": dd.ravel()})


def _ratio_design(num_n: int, ratios) -> pd.DataFrame:
    """Model sizes x tokens-per-parameter ratios, as in an iso-FLOP ladder (Chinchilla used 5-160 tokens per
    parameter)."""
    n = np.geomspace(1e7, 3e9, num_n)
    nn, rr = np.meshgrid(n, np.asarray(ratios, dtype=float), indexing="ij")
    return pd.DataFrame({"n": nn.ravel(), "d": (nn * rr).ravel()})


def problem_b(seed: int = 0) -> pd.DataFrame:
    """Problem B: 8 groups x 60 runs (columns ``n, d, loss, group``); fit with ``pool={"e": "partial", "a":
    "partial"}``."""
    return bs.simulate_ladder("chinchilla", design=_design(6, 10), noise_sd=0.02, num_groups=8,
                              group_sd={"e": 0.1, "a": 0.3}, seed=seed)


#: Pooling of problem B.
POOL_B = {"e": "partial", "a": "partial"}


#: Run-to-run noise (sd of log loss) of problem C: 0.5%, as in the Chinchilla data (fitted sigma 0.004).
NOISE_C = 0.005


#: Likelihood and NUTS target acceptance of problem C: bayescale's defaults.
LIKELIHOOD_C = "student_t"
TARGET_ACCEPT_C = 0.9


def problem_c(num_fits: int = 100, seed: int = 0) -> pd.DataFrame:
    """Problem C: ``num_fits`` independent data sets of 30 runs (columns ``n, d, loss, task``)."""
    rng = np.random.default_rng(seed)
    ref = bs.simulate.reference_params("chinchilla")
    frames = []
    for i in range(num_fits):
        params = dict(ref)
        for p in ("e", "a", "b"):
            params[p] = float(ref[p] * np.exp(0.2 * rng.standard_normal()))
        for p in ("alpha", "beta"):
            params[p] = float(ref[p] + 0.03 * rng.standard_normal())
        runs = bs.simulate_ladder("chinchilla", params, design=_ratio_design(5, (5, 10, 20, 40, 80, 160)),
                                  noise_sd=NOISE_C,
                                  seed=int(rng.integers(2**31)))
        frames.append(runs.assign(task=f"t{i:03d}"))
    return pd.concat(frames, ignore_index=True)
