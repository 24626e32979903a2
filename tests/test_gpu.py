"""GPU-only checks (issue 3): skipped unless JAX sees a GPU; on a GPU machine run ``pytest tests/test_gpu.py``.

A fit on the GPU must agree with the same fit on the CPU (run in a child process with ``JAX_PLATFORMS=cpu``)
within Monte Carlo error, and ``fit_many`` must put a whole batch of fits in one vectorised call there (with
NUTS, and with ``sampler="chees"``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest
from test_engine import ladder  # 5 model sizes x 6 data sizes, 0.5% noise

import bayescale as bs

pytestmark = pytest.mark.skipif(jax.default_backend() != "gpu", reason="needs a GPU (JAX sees none)")

SETTINGS = dict(num_chains=4, num_warmup=1000, num_samples=1000, seed=0, progress_bar=False)
PARAMS = ["e", "a", "b", "alpha", "beta"]

CPU_FIT = """
import json, sys
import bayescale as bs
settings, params = json.loads(sys.argv[1]), json.loads(sys.argv[2])
fit = bs.fit("chinchilla", bs.simulate_ladder("chinchilla", seed=3), **settings)
s = fit.summary().loc[params]
print(json.dumps({"backend": fit.meta["options"]["devices"], "mean": s["mean"].to_dict(),
                  "mcse": s["mcse_mean"].to_dict()}))
"""


def test_a_fit_on_the_gpu_agrees_with_the_same_fit_on_the_cpu():
    fit = bs.fit("chinchilla", bs.simulate_ladder("chinchilla", seed=3), **SETTINGS)
    assert fit.meta["options"]["devices"].endswith("gpu") and fit.diagnostics.ok, fit.diagnostics
    assert fit.meta["options"]["chain_method"] == "vmap"  # one device: the 4 chains run side by side
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", CPU_FIT, json.dumps(SETTINGS), json.dumps(PARAMS)], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    cpu = json.loads(proc.stdout.strip().splitlines()[-1])
    assert cpu["backend"].endswith("cpu")
    gpu = fit.summary().loc[PARAMS]
    for p in PARAMS:
        tol = 4 * np.hypot(gpu.loc[p, "mcse_mean"], cpu["mcse"][p])
        assert abs(gpu.loc[p, "mean"] - cpu["mean"][p]) < tol, (p, gpu.loc[p, "mean"], cpu["mean"][p], tol)


def test_fit_many_runs_a_whole_batch_in_one_call_on_the_gpu():
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(40)])
    fits = bs.fit_many("chinchilla", runs, by="task", **SETTINGS)
    assert len(fits) == 40
    assert {f.meta["options"]["batch_fits"] for f in fits.values()} == {40}  # default batch size on a GPU
    # the batch's fit of t3 against the same fit alone
    alone = bs.fit("chinchilla", runs[runs.task == "t3"].drop(columns="task"), **SETTINGS)
    assert alone.diagnostics.ok and fits["t3"].diagnostics.ok, (alone.diagnostics, fits["t3"].diagnostics)
    a, m = alone.summary().loc[PARAMS], fits["t3"].summary().loc[PARAMS]
    tol = 4 * np.hypot(a["mcse_mean"], m["mcse_mean"])
    assert (abs(a["mean"] - m["mean"]) < tol).all(), pd.DataFrame({"alone": a["mean"], "many": m["mean"], "tol": tol})


def test_float32_fits_on_the_gpu_keep_their_diagnostics():
    fit = bs.fit("chinchilla", ladder(3), precision="float32", **SETTINGS)
    assert fit.meta["options"]["precision"] == "float32"
    assert fit.diagnostics.ok, fit.diagnostics


def test_chees_fits_a_batch_in_lockstep_on_the_gpu():
    """sampler="chees": 40 fits' chains in one vectorised call, each fit as NUTS fits it alone, within MCSE."""
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(40)])
    settings = {k: v for k, v in SETTINGS.items() if k not in ("num_chains", "num_warmup", "num_samples")}
    fits = bs.fit_many("chinchilla", runs, by="task", sampler="chees", fallback=False, **settings)
    assert {f.meta["options"]["batch_fits"] for f in fits.values()} == {40}
    assert {f.meta["options"]["chain_method"] for f in fits.values()} == {"lockstep"}
    # the diagnostics ran in worker processes on the host's spare cores (up to 8, two left free)
    assert {f.meta["options"]["host_workers"] for f in fits.values()} == {max(0, min(8, (os.cpu_count() or 1) - 2))}
    passed = [name for name, f in fits.items() if f.diagnostics.ok]
    assert len(passed) >= 39 and "t3" in passed, {k: f.diagnostics for k, f in fits.items() if k not in passed}
    alone = bs.fit("chinchilla", runs[runs.task == "t3"].drop(columns="task"), **SETTINGS)
    a, m = alone.summary().loc[PARAMS], fits["t3"].summary().loc[PARAMS]
    tol = 4 * np.hypot(a["mcse_mean"], m["mcse_mean"])
    assert (abs(a["mean"] - m["mean"]) < tol).all(), pd.DataFrame({"nuts": a["mean"], "chees": m["mean"], "tol": tol})
