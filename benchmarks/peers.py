"""Peer systems on benchmark problems A and B: Stan (pystan 3) and nutpie (a PyMC model, numba backend).

Both peers fit exactly the model written out in :mod:`problems` (same priors, same centring of ``a`` and ``b``
at the data's geometric mean, same Student-t likelihood on the log loss, centred partial pooling of ``e`` and
``a`` for B) on the same data, with each system's default NUTS (diagonal mass matrix adapted in warm-up). One
prior follows bayescale's default model rather than that docstring: ``nu - 1 ~ Gamma(2, 0.1)`` (``nu > 1``,
bayescale's ``ShiftedGamma``); ``nu_shift=0`` (``--nu-shift 0``) gives the docstring's ``nu ~ Gamma(2, 0.1)``.

* **Stan**: the programs :data:`STAN_A` and :data:`STAN_B`, built with ``stan.build`` (stanc + C++ compile;
  by default this program's httpstan cache entry is dropped first, so ``compile_s`` is a real build) and
  sampled with ``.sample(num_chains, num_warmup, num_samples)``; httpstan runs the chains in a process pool
  with one worker per CPU.
* **nutpie**: the PyMC models of :func:`pymc_model`, compiled with ``nutpie.compile_pymc_model`` (numba) and
  sampled with ``nutpie.sample(chains, tune, draws)``; nutpie runs ``min(chains, CPUs)`` chains at a time. By
  default it runs in a new process whose PyTensor cache (and so its cache of numba code) starts empty, so that
  ``compile_s`` is a real build too.

Every number comes from the post-warm-up draws: ``grad_evals`` is the sum of the leapfrog steps over all
chains (Stan ``n_leapfrog__``, nutpie ``n_steps``), ``divergences`` the divergent transitions, and ESS (bulk,
tail) and rank-normalised split R-hat are computed with ``arviz_stats`` from the draws of the compared
parameters: A: ``e, a, b, alpha, beta, sigma, nu``; B: ``e_loc, e_scale, a_loc, a_scale, b, alpha, beta,
sigma, nu`` and ``e[g], a[g]`` per group (``g`` in order of first appearance in ``runs["group"]``, as in
bayescale). ``a``, ``b`` and ``a_loc`` are on the natural scale (``a = exp(a_c + alpha * lx0_n)``), derived
from the sampled centred coordinates in the same Python code for both systems.

That the two programs are the same density is checked by :func:`check_same_model` (``--check-model``): at
random points of the common unconstrained space, their log-density gradients agree to about 1e-12 (and, checked
by hand, so do they with bayescale's NumPyro model: flat for A, ``pool={"e": "partial", "a": "partial"}``
centred for B).

Run ``python benchmarks/peers.py [--problem A|B|both] [--quick]`` in an environment with the ``bench``
extra (pystan, nutpie, pymc); problem A reads the Chinchilla data from ``$BAYESCALE_DATA_DIR`` (or
``--data-dir``). Stan writes its build and sampler messages to stderr; the tables go to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Stan program of problem A (flat Chinchilla law, ``a`` and ``b`` centred at the geometric means).
STAN_A = """
data {
  int<lower=1> N;
  vector[N] log_n;
  vector[N] log_d;
  vector[N] log_loss;
  real<lower=0> nu_shift;
}
transformed data {
  real lx0_n = mean(log_n);
  real lx0_d = mean(log_d);
  vector[N] ln_c = log_n - lx0_n;
  vector[N] ld_c = log_d - lx0_d;
}
parameters {
  real<lower=0> e;
  real<lower=0, upper=1> alpha;
  real<lower=0, upper=1> beta;
  real a_c;
  real b_c;
  real<lower=0> sigma;
  real<lower=nu_shift> nu;
}
model {
  // elementwise log(e + A n^-alpha + B d^-beta), centred; the vectorised binary log_sum_exp is stable
  vector[N] mu = log_sum_exp(log_sum_exp(a_c - alpha * ln_c, b_c - beta * ld_c), log(e));
  e ~ lognormal(0.5, 0.5);
  alpha ~ beta(2, 4);
  beta ~ beta(2, 4);
  a_c ~ normal(6 - alpha * lx0_n, 2.5);
  b_c ~ normal(6 - beta * lx0_d, 2.5);
  sigma ~ normal(0, 0.1);
  nu - nu_shift ~ gamma(2, 0.1);
  log_loss ~ student_t(nu, mu, sigma);
}
"""

#: Stan program of problem B (``e`` and ``a`` partially pooled over groups, centred; ``b`` shared).
STAN_B = """
data {
  int<lower=1> N;
  int<lower=1> G;
  array[N] int<lower=1, upper=G> group;
  vector[N] log_n;
  vector[N] log_d;
  vector[N] log_loss;
  real<lower=0> nu_shift;
}
transformed data {
  real lx0_n = mean(log_n);
  real lx0_d = mean(log_d);
  vector[N] ln_c = log_n - lx0_n;
  vector[N] ld_c = log_d - lx0_d;
}
parameters {
  real<lower=0> e_loc;
  real<lower=0> e_scale;
  vector[G] e_u;
  real<lower=0, upper=1> alpha;
  real<lower=0, upper=1> beta;
  real a_c_loc;
  real<lower=0> a_scale;
  vector[G] a_u;
  real b_c;
  real<lower=0> sigma;
  real<lower=nu_shift> nu;
}
model {
  vector[N] mu = log_sum_exp(log_sum_exp(a_u[group] - alpha * ln_c, b_c - beta * ld_c), e_u[group]);
  e_loc ~ lognormal(0.5, 0.5);
  e_scale ~ normal(0, 0.5);
  e_u ~ normal(log(e_loc), e_scale);
  alpha ~ beta(2, 4);
  beta ~ beta(2, 4);
  a_c_loc ~ normal(6 - alpha * lx0_n, 2.5);
  a_scale ~ normal(0, 0.5);
  a_u ~ normal(a_c_loc, a_scale);
  b_c ~ normal(6 - beta * lx0_d, 2.5);
  sigma ~ normal(0, 0.1);
  nu - nu_shift ~ gamma(2, 0.1);
  log_loss ~ student_t(nu, mu, sigma);
}
"""

PROBLEMS = ("A", "B")
#: Lower bound of the Student-t degrees of freedom: ``nu - NU_SHIFT ~ Gamma(2, 0.1)``, as bayescale's default
#: model (``ShiftedGamma(2, 0.1, 1)``, so that ``nu > 1``). 0 gives the unshifted ``nu ~ Gamma(2, 0.1)``.
NU_SHIFT = 1.0
#: Sampled (unconstrained-model) variables of each problem, as named in both the Stan program and the PyMC model.
SAMPLED = {
    "A": ("e", "alpha", "beta", "a_c", "b_c", "sigma", "nu"),
    "B": ("e_loc", "e_scale", "e_u", "alpha", "beta", "a_c_loc", "a_scale", "a_u", "b_c", "sigma", "nu"),
}
#: Names in the PyMC model where they differ from Stan's: ``nu`` is ``nu_shift + nu_excess`` there.
PYMC_NAMES = {"nu": "nu_excess"}
INSTALL_HINT = "pip install -e '.[bench]'"


# ------------------------------------------------------------------------------------------------ availability
def _compiler_missing() -> str | None:
    """Why Stan models cannot be built here (no C++ compiler on PATH), or None."""
    cxx = os.environ.get("CXX")
    if cxx and shutil.which(cxx.split()[0]):
        return None
    if shutil.which("c++") or shutil.which("g++") or shutil.which("clang++"):
        return None
    return "no C++ compiler found (pystan builds each model with one): install g++ or set CXX"


def _import_reason(modules: dict[str, str]) -> str | None:
    """None if every module imports, else the first failure as ``"<dist> not installed: <hint>"``."""
    for module, dist in modules.items():
        if importlib.util.find_spec(module) is None:
            return f"{dist} not installed: {INSTALL_HINT}"
        try:
            importlib.import_module(module)
        except Exception as err:  # a broken install raises anything, not only ImportError
            return f"{dist} is installed but fails to import ({type(err).__name__}: {err})"
    return None


def available() -> dict[str, str | None]:
    """Say which peer systems can run here.

    Returns
    -------
    dict
        ``{"stan": reason or None, "nutpie": reason or None}``: None when the system can run, else why not
        (for example ``"pystan not installed: pip install -e '.[bench]'"``).
    """
    stan_reason = _import_reason({"stan": "pystan", "arviz_stats": "arviz-stats"}) or _compiler_missing()
    nutpie_reason = _import_reason({"pymc": "pymc", "nutpie": "nutpie", "arviz_stats": "arviz-stats"})
    return {"stan": stan_reason, "nutpie": nutpie_reason}


def _require(system: str) -> None:
    reason = available()[system]
    if reason is not None:
        raise RuntimeError(f"{system} is not available: {reason}")


# --------------------------------------------------------------------------------------------------------- data
def _check_problem(problem: str) -> str:
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}")
    return problem


def model_inputs(problem: str, runs: pd.DataFrame) -> dict[str, Any]:
    """Log inputs, centring points and (for B) 0-based group codes of the runs.

    Parameters
    ----------
    problem : {"A", "B"}
    runs : pandas.DataFrame
        Columns ``n, d, loss`` (and ``group`` for B).

    Returns
    -------
    dict
        ``log_n, log_d, log_loss`` (float64 arrays), ``lx0_n, lx0_d`` (means of the log inputs) and, for B,
        ``group`` (int codes in order of first appearance) and ``levels`` (the group names).
    """
    _check_problem(problem)
    out: dict[str, Any] = {k: np.log(runs[c].to_numpy(dtype=float)) for k, c in
                           (("log_n", "n"), ("log_d", "d"), ("log_loss", "loss"))}
    out["lx0_n"], out["lx0_d"] = float(out["log_n"].mean()), float(out["log_d"].mean())
    if problem == "B":
        if "group" not in runs:
            raise ValueError("problem B needs a 'group' column")
        codes, levels = pd.factorize(runs["group"].astype(str), sort=False)
        out["group"], out["levels"] = codes.astype(np.int64), [str(v) for v in levels]
    return out


def _stan_data(problem: str, inputs: dict[str, Any], nu_shift: float) -> dict[str, Any]:
    """Data block of :data:`STAN_A` / :data:`STAN_B`."""
    data: dict[str, Any] = {"N": len(inputs["log_loss"]), "log_n": inputs["log_n"], "log_d": inputs["log_d"],
                            "log_loss": inputs["log_loss"], "nu_shift": float(nu_shift)}
    if problem == "B":
        data["G"] = len(inputs["levels"])
        data["group"] = inputs["group"] + 1  # Stan indexes from 1
    return data


def _compared(problem: str, raw: dict[str, np.ndarray], inputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Compared parameters, each ``(chain, draw)``, from the sampled variables (``(chain, draw[, group])``)."""
    lx0_n, lx0_d = inputs["lx0_n"], inputs["lx0_d"]
    out: dict[str, np.ndarray] = {}
    if problem == "A":
        out["e"] = raw["e"]
        out["a"] = np.exp(raw["a_c"] + raw["alpha"] * lx0_n)
    else:
        out["e_loc"], out["e_scale"] = raw["e_loc"], raw["e_scale"]
        out["a_loc"] = np.exp(raw["a_c_loc"] + raw["alpha"] * lx0_n)
        out["a_scale"] = raw["a_scale"]
    out["b"] = np.exp(raw["b_c"] + raw["beta"] * lx0_d)
    for p in ("alpha", "beta", "sigma", "nu"):
        out[p] = raw[p]
    if problem == "B":
        e_g = np.exp(raw["e_u"])
        a_g = np.exp(raw["a_u"] + raw["alpha"][..., None] * lx0_n)
        for g in range(e_g.shape[-1]):
            out[f"e[{g}]"] = e_g[..., g]
        for g in range(a_g.shape[-1]):
            out[f"a[{g}]"] = a_g[..., g]
    return {k: np.ascontiguousarray(v, dtype=float) for k, v in out.items()}


def summarise(draws: dict[str, np.ndarray]) -> dict[str, Any]:
    """ESS, R-hat, means and sds of ``(chain, draw)`` draws with ``arviz_stats``.

    Parameters
    ----------
    draws : dict
        Parameter name to an array of shape ``(chain, draw)``.

    Returns
    -------
    dict
        ``max_r_hat, min_ess_bulk, min_ess_tail`` over all parameters, and per parameter ``means, sds,
        ess_bulk, ess_tail, r_hat``.
    """
    import arviz_stats as azs
    import xarray as xr

    num_chains, num_draws = next(iter(draws.values())).shape
    ds = xr.Dataset({k: (("chain", "draw"), v) for k, v in draws.items()},
                    coords={"chain": np.arange(num_chains), "draw": np.arange(num_draws)})

    def per_param(res: xr.Dataset) -> dict[str, float]:
        return {k: float(res[k].values) for k in draws}

    bulk = per_param(azs.ess(ds, method="bulk"))
    tail = per_param(azs.ess(ds, method="tail"))
    rhat = per_param(azs.rhat(ds))
    return {
        "max_r_hat": max(rhat.values()),
        "min_ess_bulk": min(bulk.values()),
        "min_ess_tail": min(tail.values()),
        "means": {k: float(v.mean()) for k, v in draws.items()},
        "sds": {k: float(v.std(ddof=1)) for k, v in draws.items()},
        "ess_bulk": bulk,
        "ess_tail": tail,
        "r_hat": rhat,
    }


def _result(system: str, problem: str, inputs: dict, compile_s: float, sample_s: float, grad_evals: int,
            divergences: int, draws: dict[str, np.ndarray], settings: dict, extra: dict) -> dict[str, Any]:
    out: dict[str, Any] = {
        "system": system,
        "problem": problem,
        "compile_s": compile_s,
        "sample_s": sample_s,
        "wall_s": compile_s + sample_s,
        "grad_evals": int(grad_evals),
        "divergences": int(divergences),
    }
    out.update(summarise(draws))
    out.update(settings)
    out["n_runs"] = int(len(inputs["log_loss"]))
    if problem == "B":
        out["groups"] = list(inputs["levels"])
    out.update(extra)
    return out


# --------------------------------------------------------------------------------------------------------- Stan
def _stan_chains(fit, name: str, num_chains: int) -> np.ndarray:
    """Draws of one Stan variable as ``(chain, draw, *dims)``.

    ``fit[name]`` has shape ``(*dims, draws * chains)`` (``(1, draws * chains)`` for a scalar) with the last
    axis ordered draw-major (index ``draw * num_chains + chain``).
    """
    dims = tuple(fit.dims[fit.param_names.index(name)]) if name in fit.param_names else ()
    arr = np.asarray(fit[name], dtype=float).reshape(*dims, -1, num_chains)  # (*dims, draw, chain)
    return np.moveaxis(arr, (-1, -2), (0, 1))


def stan_fit(problem: str, runs: pd.DataFrame, seed: int = 0, num_chains: int = 4, num_warmup: int = 1000,
             num_samples: int = 1000, *, fresh_build: bool = True, nu_shift: float = NU_SHIFT) -> dict[str, Any]:
    """Fit problem A or B with Stan (pystan 3).

    Parameters
    ----------
    problem : {"A", "B"}
    runs : pandas.DataFrame
        Columns ``n, d, loss`` (and ``group`` for B).
    seed : int
        ``random_seed`` of ``stan.build``.
    num_chains, num_warmup, num_samples : int
        NUTS settings (Stan's defaults otherwise: diagonal mass matrix, adapt delta 0.8, max tree depth 10).
    fresh_build : bool
        Drop this program's entry in the httpstan model cache first, so ``compile_s`` times stanc and the C++
        compile (True); with False a cached build is reused and ``compile_s`` is near zero. Either way no
        cached fit is reused (httpstan also caches fits by seed and settings).
    nu_shift : float
        Lower bound of ``nu``: ``nu - nu_shift ~ Gamma(2, 0.1)`` (:data:`NU_SHIFT`, as bayescale).

    Returns
    -------
    dict
        ``system, problem, compile_s, sample_s, wall_s, grad_evals, divergences, max_r_hat, min_ess_bulk,
        min_ess_tail, means, sds`` (see the module docstring), per-parameter ``ess_bulk, ess_tail, r_hat``, the
        settings, ``compile_cached`` and the package versions.

    Raises
    ------
    RuntimeError
        When pystan or a C++ compiler is missing.
    """
    _require("stan")
    import httpstan.cache
    import httpstan.models
    import stan

    problem = _check_problem(problem)
    inputs = model_inputs(problem, runs)
    code = STAN_A if problem == "A" else STAN_B
    data = _stan_data(problem, inputs, nu_shift)
    model_name = httpstan.models.calculate_model_name(code)
    if fresh_build:
        httpstan.cache.delete_model_directory(model_name)  # ignores a missing entry
    else:  # httpstan also caches fits: the same seed and settings would return the stored draws at once
        shutil.rmtree(httpstan.cache.model_directory(model_name) / "fits", ignore_errors=True)
    cached = model_name in httpstan.cache.list_model_names()

    t0 = time.perf_counter()
    posterior = stan.build(code, data=data, random_seed=seed)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit = posterior.sample(num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples)
    sample_s = time.perf_counter() - t0

    raw = {v: _stan_chains(fit, v, num_chains) for v in SAMPLED[problem]}
    draws = _compared(problem, raw, inputs)
    settings = {"num_chains": num_chains, "num_warmup": num_warmup, "num_samples": num_samples, "seed": seed,
                "nu_shift": float(nu_shift)}
    extra = {"compile_cached": cached, "versions": _versions("pystan", "httpstan")}
    return _result("stan", problem, inputs, compile_s, sample_s, np.sum(fit["n_leapfrog__"]),
                   np.sum(fit["divergent__"]), draws, settings, extra)


# ------------------------------------------------------------------------------------------------------- nutpie
def pymc_model(problem: str, runs: pd.DataFrame, nu_shift: float = NU_SHIFT):
    """The PyMC model of problem A or B (the same density as :data:`STAN_A` / :data:`STAN_B`).

    Parameters
    ----------
    problem : {"A", "B"}
    runs : pandas.DataFrame
        Columns ``n, d, loss`` (and ``group`` for B).
    nu_shift : float
        Lower bound of ``nu``: ``nu = nu_shift + nu_excess`` with ``nu_excess ~ Gamma(2, 0.1)`` (the same
        unconstrained coordinate ``log(nu - nu_shift)`` as Stan's ``real<lower=nu_shift> nu``).

    Returns
    -------
    pymc.Model
    """
    import pymc as pm

    problem = _check_problem(problem)
    inputs = model_inputs(problem, runs)
    lx0_n, lx0_d = inputs["lx0_n"], inputs["lx0_d"]
    ln_c, ld_c = inputs["log_n"] - lx0_n, inputs["log_d"] - lx0_d
    coords = {"group": inputs["levels"]} if problem == "B" else None
    with pm.Model(coords=coords) as model:
        alpha = pm.Beta("alpha", alpha=2.0, beta=4.0)
        beta = pm.Beta("beta", alpha=2.0, beta=4.0)
        b_c = pm.Normal("b_c", mu=6.0 - beta * lx0_d, sigma=2.5)
        if problem == "A":
            log_e = pm.math.log(pm.LogNormal("e", mu=0.5, sigma=0.5))
            a_term = pm.Normal("a_c", mu=6.0 - alpha * lx0_n, sigma=2.5)
        else:
            e_loc = pm.LogNormal("e_loc", mu=0.5, sigma=0.5)
            e_scale = pm.HalfNormal("e_scale", sigma=0.5)
            e_u = pm.Normal("e_u", mu=pm.math.log(e_loc), sigma=e_scale, dims="group")
            a_c_loc = pm.Normal("a_c_loc", mu=6.0 - alpha * lx0_n, sigma=2.5)
            a_scale = pm.HalfNormal("a_scale", sigma=0.5)
            a_u = pm.Normal("a_u", mu=a_c_loc, sigma=a_scale, dims="group")
            log_e, a_term = e_u[inputs["group"]], a_u[inputs["group"]]
        mu = pm.math.logaddexp(log_e, a_term - alpha * ln_c, b_c - beta * ld_c)
        sigma = pm.HalfNormal("sigma", sigma=0.1)
        nu = pm.Deterministic("nu", nu_shift + pm.Gamma(PYMC_NAMES["nu"], alpha=2.0, beta=0.1))
        pm.StudentT("log_loss", nu=nu, mu=mu, sigma=sigma, observed=inputs["log_loss"])
    return model


def nutpie_fit(problem: str, runs: pd.DataFrame, seed: int = 0, num_chains: int = 4, num_warmup: int = 1000,
               num_samples: int = 1000, *, fresh_build: bool = True, compile_dir: str | os.PathLike | None = None,
               nu_shift: float = NU_SHIFT) -> dict[str, Any]:
    """Fit problem A or B with nutpie on the PyMC model of :func:`pymc_model` (numba backend).

    Parameters
    ----------
    problem : {"A", "B"}
    runs : pandas.DataFrame
        Columns ``n, d, loss`` (and ``group`` for B).
    seed : int
        ``seed`` of ``nutpie.sample``.
    num_chains, num_warmup, num_samples : int
        ``chains``, ``tune`` and ``draws`` of ``nutpie.sample`` (nutpie's defaults otherwise: diagonal mass
        matrix adapted from draws and gradients, target accept 0.8, max tree depth 10).
    fresh_build : bool
        Compile in a new Python process whose PyTensor cache (``base_compiledir``, which also holds the numba
        code PyTensor caches for every compiled function) starts empty, so that ``compile_s`` times a real
        build, as :func:`stan_fit` drops its httpstan cache entry (True). Reusing the cache of earlier models
        cut nutpie's compile of A from 15-20 s to 7-8 s on the development machine (2026-12-01). With False and
        no ``compile_dir``, the fit runs in this process with PyTensor's cache as configured.
    compile_dir : path, optional
        Run in a new process with this folder as PyTensor's ``base_compiledir``, kept afterwards: with
        ``fresh_build`` it must be empty or absent; without, a second call times a new process whose compile
        cache the first one filled (as bayescale's persistent cache is timed).
    nu_shift : float
        Lower bound of ``nu``, as in :func:`stan_fit`.

    Returns
    -------
    dict
        As :func:`stan_fit` (``compile_s`` = building the PyMC model and ``nutpie.compile_pymc_model``), with
        ``compile_cached`` (whether PyTensor's numba cache held code before the build) and, when it ran in a new
        process, ``import_s`` (that process's import of PyMC and nutpie, in neither ``compile_s`` nor ``wall_s``).

    Raises
    ------
    RuntimeError
        When pymc or nutpie is missing, or the new process fails.
    ValueError
        When ``fresh_build`` is asked for with a ``compile_dir`` that is not empty.
    """
    problem = _check_problem(problem)
    if fresh_build and compile_dir is not None and Path(compile_dir).exists() and any(Path(compile_dir).iterdir()):
        raise ValueError(f"fresh_build=True needs an empty compile_dir; {compile_dir} is not empty")
    _require("nutpie")
    kwargs = {"problem": problem, "runs": runs, "seed": seed, "num_chains": num_chains, "num_warmup": num_warmup,
              "num_samples": num_samples, "nu_shift": nu_shift}
    if compile_dir is None and not fresh_build:
        return _nutpie_here(**kwargs)
    with tempfile.TemporaryDirectory(prefix="bayescale-nutpie-") as tmp:
        base = Path(compile_dir) if compile_dir is not None else Path(tmp) / "pytensor"
        cached = any((base / "numba").glob("*.nbi"))
        flags = ",".join(f for f in (os.environ.get("PYTENSOR_FLAGS", ""), f"base_compiledir={base}") if f)
        env = {**os.environ, "PYTENSOR_FLAGS": flags, "NUMBA_CACHE_DIR": str(base / "numba_functions")}
        args, out = Path(tmp) / "args.pkl", Path(tmp) / "result.pkl"
        args.write_bytes(pickle.dumps(kwargs))
        code = _NUTPIE_CHILD.format(here=str(Path(__file__).resolve().parent), args=str(args), out=str(out))
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"nutpie's process failed:\n{proc.stderr[-3000:]}")
        res = pickle.loads(out.read_bytes())
    res["compile_cached"] = cached
    return res


#: A new process for :func:`nutpie_fit`: imports PyMC and nutpie (timed as ``import_s``), then fits.
_NUTPIE_CHILD = """
import pickle, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {here!r})
import nutpie, pymc, peers
import_s = time.perf_counter() - t0
with open({args!r}, "rb") as fh:
    res = peers._nutpie_here(**pickle.load(fh))
res["import_s"] = import_s
with open({out!r}, "wb") as fh:
    pickle.dump(res, fh)
"""


def _nutpie_here(problem: str, runs: pd.DataFrame, seed: int, num_chains: int, num_warmup: int, num_samples: int,
                 nu_shift: float) -> dict[str, Any]:
    """:func:`nutpie_fit` in this process."""
    import nutpie

    inputs = model_inputs(problem, runs)
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(pymc_model(problem, runs, nu_shift=nu_shift))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    trace = nutpie.sample(compiled, chains=num_chains, tune=num_warmup, draws=num_samples, seed=seed,
                          progress_bar=False)
    sample_s = time.perf_counter() - t0

    post, stats = trace["posterior"], trace["sample_stats"]
    raw = {v: np.asarray(post[PYMC_NAMES.get(v, v)].transpose("chain", "draw", ...).values, dtype=float)
           for v in SAMPLED[problem]}
    raw["nu"] = raw["nu"] + nu_shift
    draws = _compared(problem, raw, inputs)
    settings = {"num_chains": num_chains, "num_warmup": num_warmup, "num_samples": num_samples, "seed": seed,
                "nu_shift": float(nu_shift)}
    extra = {"versions": _versions("nutpie", "pymc", "pytensor", "numba")}
    return _result("nutpie", problem, inputs, compile_s, sample_s, np.sum(stats["n_steps"].values),
                   np.sum(stats["diverging"].values), draws, settings, extra)


# ------------------------------------------------------------------------------------------------ same model?
def check_same_model(problem: str, runs: pd.DataFrame, num_points: int = 4, seed: int = 0, *,
                     nu_shift: float = NU_SHIFT) -> dict[str, Any]:
    """Check that the Stan program and the PyMC model are the same density, by comparing gradients.

    Both systems use the same unconstrained coordinates (log for positive parameters, logit for ``alpha`` and
    ``beta``, identity otherwise) and include the log-Jacobian of those transforms, so the gradients of the log
    density must agree exactly, and so must differences of the log density between points (Stan's ``~``
    statements drop constants). The points are PyMC's initial point plus Normal(0, 0.5) jitter.

    Parameters
    ----------
    problem : {"A", "B"}
    runs : pandas.DataFrame
    num_points : int
    seed : int
    nu_shift : float
        Lower bound of ``nu``, as in :func:`stan_fit`.

    Returns
    -------
    dict
        ``max_grad_rel_diff`` (max over points and coordinates of ``|g_stan - g_pymc| / (1 + |g_pymc|)``),
        ``max_logp_diff`` (max over points of the difference of ``logp(x_i) - logp(x_0)`` between the systems)
        and ``num_dims``.
    """
    _require("stan")
    _require("nutpie")
    import stan

    problem = _check_problem(problem)
    inputs = model_inputs(problem, runs)
    data = _stan_data(problem, inputs, nu_shift)
    posterior = stan.build(STAN_A if problem == "A" else STAN_B, data=data, random_seed=seed)
    model = pymc_model(problem, runs, nu_shift=nu_shift)
    # Stan's unconstrained vector follows the declaration order of its parameters block
    rvs = [model[PYMC_NAMES.get(name, name)] for name in posterior.param_names]
    values = [model.rvs_to_values[rv] for rv in rvs]
    sizes = [int(np.prod(d)) if d else 1 for d in posterior.dims]
    logp_fn = model.compile_logp(jacobian=True)  # vars= would drop the likelihood term
    dlogp_fn = model.compile_dlogp(vars=rvs, jacobian=True)
    start = model.initial_point()
    u0 = np.concatenate([np.ravel(start[v.name]) for v in values])
    rng = np.random.default_rng(seed)
    grad_rel, lp_stan, lp_pymc = [], [], []
    for i in range(num_points):
        u = u0 + (0.5 * rng.standard_normal(u0.shape) if i else 0.0)
        point, pos = {}, 0
        for v, size in zip(values, sizes, strict=True):
            point[v.name] = u[pos:pos + size].reshape(start[v.name].shape)
            pos += size
        g_stan = np.asarray(posterior.grad_log_prob(u.tolist()), dtype=float)
        g_pymc = np.asarray(dlogp_fn(point), dtype=float)
        grad_rel.append(float(np.max(np.abs(g_stan - g_pymc) / (1.0 + np.abs(g_pymc)))))
        lp_stan.append(float(posterior.log_prob(u.tolist(), adjust_transform=True)))
        lp_pymc.append(float(logp_fn(point)))
    lp_diff = (np.asarray(lp_stan) - lp_stan[0]) - (np.asarray(lp_pymc) - lp_pymc[0])
    return {"problem": problem, "num_dims": int(u0.size), "max_grad_rel_diff": max(grad_rel),
            "max_logp_diff": float(np.max(np.abs(lp_diff)))}


# -------------------------------------------------------------------------------------------------------- report
def _versions(*dists: str) -> dict[str, str]:
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = "not installed"
    return out


def _cpus() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def _load_problem(problem: str, data_dir: str | None) -> pd.DataFrame:
    """Runs of problem A or B from :mod:`problems` (next to this file)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    problems = importlib.import_module("problems")
    return problems.problem_a(data_dir) if problem == "A" else problems.problem_b()


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def print_results(results: list[dict[str, Any]]) -> None:
    """Print a timing/efficiency table and the posterior means (sds) side by side."""
    rows = []
    for r in results:
        rows.append({
            "system": r["system"], "problem": r["problem"],
            "compile s": round(r["compile_s"], 1), "sample s": round(r["sample_s"], 1),
            "wall s": round(r["wall_s"], 1), "grad evals": r["grad_evals"],
            "grads/draw": round(r["grad_evals"] / (r["num_chains"] * r["num_samples"]), 1),
            "min ESS bulk": round(r["min_ess_bulk"]), "min ESS tail": round(r["min_ess_tail"]),
            "max R-hat": round(r["max_r_hat"], 4), "divergences": r["divergences"],
            "ESS/s (sample)": round(r["min_ess_bulk"] / r["sample_s"], 1),
            "ESS/1k grads": round(1000 * r["min_ess_bulk"] / r["grad_evals"], 1),
        })
    print("\n=== Timing and sampling efficiency (post-warm-up draws; ESS/R-hat over the compared parameters) ===")
    print(pd.DataFrame(rows).to_string(index=False))
    for problem in dict.fromkeys(r["problem"] for r in results):
        sub = [r for r in results if r["problem"] == problem]
        table = pd.DataFrame({f"{r['system']} mean (sd)": {k: f"{_fmt(m)} ({_fmt(r['sds'][k])})"
                                                          for k, m in r["means"].items()} for r in sub})
        print(f"\n=== Problem {problem}: posterior mean (sd) ===")
        print(table.to_string())


def main(argv: list[str] | None = None) -> int:
    """Command line: fit the chosen problems with every available peer and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=("A", "B", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 chains x 300 warm-up x 300 draws")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nu-shift", type=float, default=NU_SHIFT,
                        help=f"lower bound of nu: nu - shift ~ Gamma(2, 0.1) (default {NU_SHIFT:g}, as bayescale)")
    parser.add_argument("--systems", default="stan,nutpie", help="comma-separated subset of stan,nutpie")
    parser.add_argument("--stan-cache", action="store_true",
                        help="reuse a cached Stan build (compile_s then excludes the C++ compile)")
    parser.add_argument("--nutpie-cache", action="store_true",
                        help="run nutpie in this process with PyTensor's own cache (compile_s then reuses the numba "
                             "code cached for earlier models)")
    parser.add_argument("--data-dir", default=None, help="data folder for problem A (default $BAYESCALE_DATA_DIR)")
    parser.add_argument("--check-model", action="store_true",
                        help="first check that the Stan program and the PyMC model have the same log density")
    parser.add_argument("--json", default=None, help="also write every result to this JSON file")
    args = parser.parse_args(argv)

    settings = ({"num_chains": 2, "num_warmup": 300, "num_samples": 300} if args.quick
                else {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000})
    problems = PROBLEMS if args.problem == "both" else (args.problem,)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    avail = available()
    print(f"peers benchmark: {settings['num_chains']} chains x {settings['num_warmup']} warm-up x "
          f"{settings['num_samples']} draws, seed {args.seed}, nu - {args.nu_shift:g} ~ Gamma(2, 0.1); "
          f"usable CPUs {_cpus()}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in _versions(
        "pystan", "httpstan", "nutpie", "pymc", "pytensor", "numba", "arviz-stats", "numpy").items()))
    print(f"load average (1/5/15 min) at start: {_load()}")
    results, checks = [], []
    for problem in problems:
        runs = _load_problem(problem, args.data_dir)
        if args.check_model:
            check = check_same_model(problem, runs, seed=args.seed, nu_shift=args.nu_shift)
            checks.append(check)
            print(f"[check] problem {problem}: Stan vs PyMC log density over {check['num_dims']} unconstrained dims: "
                  f"max relative gradient difference {check['max_grad_rel_diff']:.1e}, max log-density "
                  f"difference {check['max_logp_diff']:.1e} (up to a constant)", flush=True)
        for system in systems:
            if avail.get(system, "unknown system") is not None:
                print(f"skipping {system}: {avail.get(system, 'unknown system')}")
                continue
            print(f"[{system}] problem {problem} ({len(runs)} runs) ...", flush=True)
            if system == "stan":
                res = stan_fit(problem, runs, seed=args.seed, fresh_build=not args.stan_cache, nu_shift=args.nu_shift,
                               **settings)
            else:
                res = nutpie_fit(problem, runs, seed=args.seed, fresh_build=not args.nutpie_cache,
                                 nu_shift=args.nu_shift, **settings)
            print(f"    compile {res['compile_s']:.1f} s, sample {res['sample_s']:.1f} s", flush=True)
            results.append(res)
    if results:
        print_results(results)
    print(f"\nload average (1/5/15 min) at end: {_load()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"settings": settings, "checks": checks, "results": results}, fh, indent=2)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
