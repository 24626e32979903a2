"""Speed benchmark: bayescale's compiled NUTS against its earlier mode, the Huber point fit, Stan and nutpie.

Problems (``benchmarks/problems.py``): **A** the Chinchilla law on the 240 real Chinchilla runs; **B** the same law
hierarchical over 8 groups x 60 runs; **C** 100 independent fits of 30 runs. Every system fits the same model to
the same data with 4 chains x 1000 warm-up x 1000 draws (``--quick``: 2 x 300 x 300, for a smoke test).

Rows and what they time:

* ``bayescale`` (A): two fresh processes measure *cold* (empty persistent compilation cache: from the launch of
  the process through import, data, trace, compile and sampling to the fit's return), *repeat* (a second fit of
  the same shapes in that process) and *cached* (a new process whose persistent cache the first one filled, from
  launch to the fit's return). The pair runs ``--processes`` times (default 3) and the rows show the median, with
  the range under the table: wall times on a shared machine drift between runs. B and C run in this process with
  the cache off; B also fits with ``warm_start=True`` (NUTS in the Laplace approximation's whitened coordinates),
  a first fit and a repeat.
* ``numpyro MCMC parallel`` / ``vectorized``: bayescale's earlier mode, ``numpyro.infer.MCMC`` on the same model
  in the coordinates of then, one site per parameter (``earlier_model``; it retraces and recompiles on every run),
  chains over host devices or vectorised.
* ``Huber + bootstrap`` (A): the literature's point fit (``fit_speed.py``): L-BFGS-B from Hoffmann's 4500-point grid,
  then 200 warm-started bootstrap refits.
* ``stan`` / ``nutpie``: the peers of ``peers.py`` (``pip install -e '.[bench]'``); skipped, with the reason
  printed, when they cannot be imported. Both build cold: Stan's httpstan cache entry is dropped first, and nutpie
  runs in a new process whose PyTensor cache (with PyTensor's cache of numba code) starts empty; on A a second new
  process with the cache that one filled gives nutpie's cached row, beside bayescale's. nutpie's import of PyMC
  (several seconds) is in no column, so its rows are not launch-to-fit times as bayescale's cold and cached are.

Columns: compile s (JAX trace + XLA compile from ``jax.monitoring``; Stan's model build; nutpie's compile),
sampling s (wall minus compile), wall s, ESS/s (min bulk ESS over the law's parameters / sampling s), ESS per 1k
gradient evaluations (post-warm-up leapfrog steps), sampler s (bayescale only: the compiled sampler's own run,
``fit.meta["options"]["sampler_seconds"]``; the rest of a fit's wall is checking the data and building the
``Fit``), and the quality gate: max R-hat <= 1.01, no divergences, min bulk ESS >= 400 and, where Stan ran, every
posterior mean within 0.1 posterior sd of Stan's: of a second, untimed Stan run of ``--reference-draws`` draws
per chain (default 5000), whose Monte Carlo error is small beside 0.1 sd (with the timed run's 1000 draws and a
bulk ESS near 600, Stan's own means are uncertain by about 0.04 sd, enough to fail a correct sampler by chance).
Ratios are against baselines measured in the same run. The
gradient floor is the gradient evaluations (warm-up + sampling) times the measured cost of one gradient while
``min(chains, CPUs)`` chains run at once, divided by that number; the sampler's run is compared with it (for C,
one fit's gradient, every fit's evaluations summed, and ``min(devices, CPUs)`` at once; the ChEES row evaluates
its chains' gradients together, which costs less per chain than one alone, ``benchmarks/vmap_gradient.py``, so
its ratio can fall below 1). For C the gradient is timed right before and after each compiled row, whose floor
uses the mean of the two (the machine's speed drifts within minutes), and each ``fit_many`` row's first batch is
fitted again five times as a call of its own, between two timings of the gradient: the sampler alone, with none of
the checks of other fits overlapping it (:func:`sampler_alone`). C then runs ``fit_many`` and the loop of
``bs.fit`` a second time in the same process, with new seeds: every program is compiled by then (as for a user's
next batch of SBC replicates or backtests), and a table of its own compares them with the loop's second pass.
C also runs NUTS's ``fit_many`` with ``warm_start=True`` (each chain's warm-up from the Laplace approximation at
its fit's mode), right after the same call without it, and a second time with the others. C and G also
run ``fit_many`` with ``sampler="chees"`` (a fit's chains in lockstep, with its own defaults of 8 chains x 200
warm-up x 750 draws, judged by the same gate, without the fallback of failed fits to NUTS). The cold and cached
rows run from the launch of a fresh process to the return of its fit; the seconds the process then takes to exit
are printed under the table.

Run ``python benchmarks/speed.py`` (about 12 minutes on 2 CPU cores with the peers), ``--problems A C`` for a
subset, ``--quick`` for a smoke test, ``--json out.json`` to keep every number, ``--figure out.png`` to draw A,
B and C as bar charts (one panel each, log scale, a bar failing the quality gate hatched). ``--problems G`` measures the
throughput of 1,000 batched small fits (``--many``) and one 64-group hierarchical fit on whatever backend JAX
sees: the GPU check of issue 3, to be run on a GPU machine and on a CPU one.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if __name__ == "__main__":  # this process measures compilation (B and C; children set their own): the cache must be
    os.environ.setdefault("BAYESCALE_JAX_CACHE", "off")  # off before `import bayescale`, which turns it on

import jax  # noqa: E402  (importing JAX does not start its backend: bayescale still sets host devices)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import problems  # noqa: E402

import bayescale as bs  # noqa: E402

fit_module = importlib.import_module("bayescale.fit")
PARAMS = ("e", "a", "b", "alpha", "beta")
#: Compared in problem B: population and spread of e and a, the shared parameters, and every group's e and a.
PARAMS_B = ("e_loc", "e_scale", "a_loc", "a_scale", "b", "alpha", "beta", "e", "a")
GATE = {"r_hat": 1.01, "divergences": 0, "ess": 400, "mean_sd": 0.1}


# ------------------------------------------------------------------------------------------------- helpers
class Compiles:
    """Seconds spent tracing, lowering and compiling with JAX since creation (``jax.monitoring`` events)."""

    _total = [0.0]
    _on = False

    def __init__(self):
        if not Compiles._on:
            def listen(event, duration, **kw):
                if event.startswith("/jax/core/compile/"):
                    Compiles._total[0] += duration

            jax.monitoring.register_event_duration_secs_listener(listen)
            Compiles._on = True
        self.start = Compiles._total[0]

    @property
    def seconds(self) -> float:
        return Compiles._total[0] - self.start


def quality(post: dict[str, np.ndarray], divergences: int, names=None) -> dict:
    """Max R-hat and min bulk/tail ESS over the compared parameters (arrays chains x draws [x groups]).

    ``names`` defaults to :data:`PARAMS`; a per-group parameter ``e`` of shape (chains, draws, G) is compared as
    ``e[0]``, ..., ``e[G-1]``.
    """
    import arviz_stats as azs
    import xarray as xr

    flat = {}
    for k in names or PARAMS:
        v = np.asarray(post[k], dtype=float)
        if v.ndim == 2:
            flat[k] = v
        else:
            flat.update({f"{k}[{g}]": v[..., g] for g in range(v.shape[-1])})
    ds = xr.Dataset({k: (("chain", "draw"), v) for k, v in flat.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat, bulk, tail = azs.rhat(ds), azs.ess(ds, method="bulk"), azs.ess(ds, method="tail")
    return {"max_r_hat": max(float(rhat[k]) for k in flat), "min_ess_bulk": min(float(bulk[k]) for k in flat),
            "min_ess_tail": min(float(tail[k]) for k in flat), "divergences": int(divergences),
            "means": {k: float(np.mean(v)) for k, v in flat.items()},
            "sds": {k: float(np.std(v)) for k, v in flat.items()}}


def fit_row(fit: bs.Fit, names=None) -> dict:
    post = {k: fit.tree.posterior[k].values for k in names or PARAMS}
    row = quality(post, fit.diagnostics.divergences, names)
    row["grad_evals"] = int(fit.meta["sampler"]["sample_steps"])
    row["warmup_grad_evals"] = int(fit.meta["sampler"]["warmup_steps"])
    row["sampler_s"] = fit.meta["options"].get("sampler_seconds")
    return row


def gate(row: dict, stan: dict | None) -> str:
    """The quality gate of one row; means are compared with Stan's reference run where there is one (every row,
    Stan's own included), else with Stan's timed run (every other row)."""
    fails = []
    if not row["max_r_hat"] <= GATE["r_hat"]:
        fails.append(f"R-hat {row['max_r_hat']:.3f}")
    if row["divergences"] > GATE["divergences"]:
        fails.append(f"{row['divergences']} div")
    if row["min_ess_bulk"] < GATE["ess"]:
        fails.append(f"ESS {row['min_ess_bulk']:.0f}")
    ref = None if stan is None else stan.get("reference", stan if row is not stan else None)
    if ref is not None and "means" in ref:
        off = {k: abs(row["means"][k] - ref["means"][k]) / ref["sds"][k] for k in ref["means"]}
        worst = max(off, key=off.get)
        if off[worst] > GATE["mean_sd"]:
            fails.append(f"{worst} {off[worst]:.2f} sd from Stan")
    return "pass" if not fails else "FAIL: " + ", ".join(fails)


def settings(quick: bool) -> dict:
    """bayescale's sampler settings for every row: without the refit of failed fits (``fallback=False``), so that a
    row's gradients, sampler seconds and gate are those of the fits it ran, as for ChEES (:func:`chees_settings`)."""
    sizes = {"num_chains": 2, "num_warmup": 300, "num_samples": 300} if quick else dict(problems.SETTINGS)
    return {**sizes, "fallback": False}


def earlier_model(law, config):
    """The model of ``config`` as bayescale sampled it before ``Law.level`` (2026-12-06): one site per parameter.

    In the level's coordinates NumPyro's ``MCMC`` (its ``init_to_median`` start, no tree cap) left one chain of
    four stuck at ``sigma`` near 0 (step size 1e-4) in 5 of problem C's first 10 fits (2026-12-06); bayescale's own
    start and warm-up passed every fit in them.
    """
    return bs.build.build_model(law, dataclasses.replace(config, level=()))


def numpyro_mcmc(runs: pd.DataFrame, chain_method: str, opts: dict, **fit_kw) -> dict:
    """bayescale's earlier mode: ``numpyro.infer.MCMC`` on the same model (recompiles on every run)."""
    from numpyro.infer import MCMC, NUTS, init_to_median

    law = bs.get_law("chinchilla")
    prep = fit_module._prepare(law, runs, groups=fit_kw.get("groups"), pool=fit_kw.get("pool"), pooling="auto",
                               likelihood="student_t", noise=None, sigma_scale=0.1, group_scale=0.5,
                               flops_per_param_token=6.0)
    model = earlier_model(law, prep.config)
    comp = Compiles()
    t0 = time.perf_counter()
    with jax.enable_x64(True):
        kernel = NUTS(model, target_accept_prob=0.9, dense_mass=True, init_strategy=init_to_median(num_samples=15))
        mcmc = MCMC(kernel, num_warmup=opts["num_warmup"], num_samples=opts["num_samples"],
                    num_chains=opts["num_chains"], chain_method=chain_method, progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), prep.data, extra_fields=("diverging", "num_steps"))
        post = mcmc.get_samples(group_by_chain=True)
        extra = mcmc.get_extra_fields(group_by_chain=True)
        post = {k: np.asarray(v) for k, v in post.items()}
    wall = time.perf_counter() - t0
    row = quality(post, int(np.asarray(extra["diverging"]).sum()), PARAMS_B if fit_kw.get("groups") else None)
    row.update(wall_s=wall, compile_s=comp.seconds, sample_s=wall - comp.seconds,
               grad_evals=int(np.asarray(extra["num_steps"]).sum()))
    return row


def potential(runs: pd.DataFrame, **fit_kw):
    """bayescale's potential for the Chinchilla law on ``runs`` (data padded to its bucket, as fits pad it) and a
    start point in its unconstrained space; call it with float64 on (``jax.enable_x64``)."""
    from numpyro.infer.util import initialize_model, potential_energy

    law = bs.get_law("chinchilla")
    prep = fit_module._prepare(law, runs, groups=fit_kw.get("groups"), pool=fit_kw.get("pool"), pooling="auto",
                               likelihood=fit_kw.get("likelihood", "student_t"), noise=None, sigma_scale=0.1,
                               group_scale=0.5, flops_per_param_token=6.0)
    data = fit_module._padded(prep.data, bs.engine.bucket(fit_module._slots(prep.data)), np.float64)
    model = bs.build.build_model(law, prep.config)
    # the start point in one compiled program, as fits find it (run op by op, NumPyro's initialisation has JAX
    # compile each operation on its own: this function's test took 10.6 s against 6.2 s on a 2-core AMD EPYC,
    # 2026-12-06); the potential is NumPyro's own, as initialize_model builds it
    z0 = jax.jit(lambda key: initialize_model(key, model, model_args=(data,)).param_info.z)(jax.random.PRNGKey(0))
    return partial(potential_energy, model, (data,), {}), z0


def gradient_loop(value_and_grad, n: int):
    """``z -> values``: ``n`` evaluations of ``value_and_grad`` in one ``lax.scan``, each at a point moved slightly
    (so that XLA cannot hoist the evaluation out of the loop)."""
    def many(z):
        def step(carry, i):
            value, g = value_and_grad(jax.tree.map(lambda v: v + 1e-9 * i, carry))
            return jax.tree.map(lambda v, gv: v + 1e-12 * gv, carry, g), value

        return jax.lax.scan(step, z, jnp.arange(n))[1]

    return many


def gradient_cost(runs: pd.DataFrame, **fit_kw) -> dict[str, float]:
    """Seconds per evaluation of the potential and its gradient (one chain's work per leapfrog step).

    Timed inside one compiled ``lax.scan`` of 20,000 evaluations at slightly different points, so that Python
    dispatch is not counted: ``alone`` on one device, ``together`` per evaluation while ``min(4, CPUs)`` devices
    run the same loop at once, as the chains of a fit do (cores share caches and memory bandwidth: on the 2-core
    development machine two at once cost 1.14x one alone). The gradient floor uses ``together``.
    """
    return gradient_clock(runs, **fit_kw)()


def gradient_clock(runs: pd.DataFrame, **fit_kw) -> Callable[[], dict[str, float]]:
    """Compile :func:`gradient_cost`'s two loops once and return a function that times them again (in well under
    a second), so that the cost can be measured right before and after each timed row: on a shared machine it
    drifts by tens of percent within minutes (problem C, 2026-12-05: 1.4-2.5 us within ten minutes)."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    n = 20_000
    together = min(4, os.cpu_count() or 1, jax.local_device_count())
    loops = []
    with jax.enable_x64(True):
        potential_fn, z0 = potential(runs, **fit_kw)
        many = gradient_loop(jax.value_and_grad(potential_fn), n)
        for label, k in (("alone", 1), ("together", together)):
            mesh = Mesh(np.asarray(jax.local_devices()[:k]), ("j",))
            fn = jax.jit(jax.shard_map(lambda zs: many(jax.tree.map(lambda v: v[0], zs))[None], mesh=mesh,
                                       in_specs=PartitionSpec("j"), out_specs=PartitionSpec("j"), check_vma=False))
            # placed as the program takes them, so that no call moves (or compiles a move of) its input
            zs = jax.device_put(jax.tree.map(lambda v, k=k: jnp.broadcast_to(v, (k,) + v.shape), z0),
                                NamedSharding(mesh, PartitionSpec("j")))
            loops.append((label, fn.lower(zs).compile(), zs))

    def measure() -> dict[str, float]:
        out = {}
        with jax.enable_x64(True):
            for label, fn, zs in loops:
                jax.block_until_ready(fn(zs))
                t0 = time.perf_counter()
                jax.block_until_ready(fn(zs))
                out[label] = (time.perf_counter() - t0) / n
        out["concurrent"] = together
        return out

    return measure


def peers(problem: str, runs: pd.DataFrame, opts: dict, skip: bool, reference_draws: int = 0) -> dict[str, dict]:
    """Stan's and nutpie's timed rows; with ``reference_draws``, Stan's row also carries ``reference``: the means
    and sds of a second, untimed Stan run of that many draws per chain, which the gate compares every row with."""
    out: dict[str, dict] = {}
    if skip:
        return out
    try:
        import peers as peer_mod
    except ImportError as err:
        print(f"  peers skipped: {err}")
        return out
    for name, reason in peer_mod.available().items():
        if reason:
            print(f"  {name} skipped: {reason}")
            continue
        fn = peer_mod.stan_fit if name == "stan" else peer_mod.nutpie_fit
        sizes = {"num_chains": opts["num_chains"], "num_warmup": opts["num_warmup"],
                 "num_samples": opts["num_samples"]}
        with tempfile.TemporaryDirectory() as cache:
            # nutpie: a new process with an empty PyTensor cache (a real build, as Stan's), then on A a second new
            # process with the cache the first one filled (as bayescale's cached row)
            calls = ([(name, {})] if name == "stan" else
                     [("nutpie, new process with an empty compile cache", {"compile_dir": f"{cache}/pytensor"})])
            if name == "nutpie" and problem == "A":
                calls.append(("nutpie, new process with its compile cache",
                              {"compile_dir": f"{cache}/pytensor", "fresh_build": False}))
            for label, extra in calls:
                try:
                    res = fn(problem, runs, seed=0, **sizes, **extra)
                except Exception as err:  # noqa: BLE001 - a peer failing must not stop the benchmark
                    print(f"  {label} failed: {type(err).__name__}: {err}")
                    break
                keys = [k for k in res["means"] if k.split("[")[0] in (PARAMS_B if problem == "B" else PARAMS)]
                out[label] = {"wall_s": res["wall_s"], "compile_s": res["compile_s"], "sample_s": res["sample_s"],
                              "grad_evals": res["grad_evals"], "divergences": res["divergences"],
                              "max_r_hat": res["max_r_hat"], "min_ess_bulk": res["min_ess_bulk"],
                              "min_ess_tail": res["min_ess_tail"], "means": {k: res["means"][k] for k in keys},
                              "sds": {k: res["sds"][k] for k in keys},
                              "compile_cached": res.get("compile_cached"), "import_s": res.get("import_s")}
        if name == "stan" and name in out and reference_draws:
            try:  # the same build (no compile), another seed, many more draws: a reference with a small MCSE
                ref = fn(problem, runs, seed=1, **{**sizes, "num_samples": reference_draws}, fresh_build=False)
            except Exception as err:  # noqa: BLE001
                print(f"  Stan reference failed ({type(err).__name__}: {err}); the gate uses the timed Stan run")
                continue
            out[name]["reference"] = {"draws": reference_draws, "min_ess_bulk": ref["min_ess_bulk"],
                                      "max_r_hat": ref["max_r_hat"], "divergences": ref["divergences"],
                                      "means": {k: ref["means"][k] for k in keys},
                                      "sds": {k: ref["sds"][k] for k in keys}}
    return out


# ------------------------------------------------------------------------------------------------- children
CHILD = """
import json, sys, time, warnings
t0 = time.perf_counter()
sys.path.insert(0, {here!r})
import bayescale as bs, problems, speed
runs = problems.problem_a()
out = {{"import_s": time.perf_counter() - t0}}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", bs.DataWarning)
    for label in {labels!r}:
        t = time.perf_counter()
        fit = bs.fit("chinchilla", runs, seed=len(out), progress_bar=False, **{opts!r})
        done = {{"fit_s": time.perf_counter() - t, "done_epoch": time.time()}}  # before the benchmark's own checks
        out[label] = dict(speed.fit_row(fit), **done)
print("RESULT " + json.dumps(out), flush=True)
"""


def child(labels: list[str], opts: dict, cache: str) -> dict:
    """Run fits in a fresh process; each fit's ``end_to_end_s`` runs from the process's launch to that fit's return.

    ``exit_s`` is what the process took after its last fit returned (interpreter teardown: about 0.7 s on the
    development machine once JAX is loaded), which no fit waits for.
    """
    env = {**os.environ, "BAYESCALE_JAX_CACHE": cache}
    launch = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD.format(here=str(HERE), labels=labels, opts=opts)], env=env,
                          capture_output=True, text=True, timeout=900)
    ended = time.time()
    if proc.returncode:
        raise RuntimeError(f"child process failed:\n{proc.stderr[-3000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    for label in labels:
        out[label]["end_to_end_s"] = out[label]["done_epoch"] - launch
    out["exit_s"] = ended - out[labels[-1]]["done_epoch"]
    return out


def _median_process(outs: list[dict], label: str, key: str) -> dict:
    """One fit's row over repeated processes: the median wall (``key``) and sampler time, and their ranges.

    The fits' draws repeat exactly (fixed seeds), so ESS, R-hat and gradient counts come from the first process.
    """
    row = dict(outs[0][label])
    walls = [o[label][key] for o in outs]
    samplers = [o[label]["sampler_s"] for o in outs if o[label].get("sampler_s") is not None]
    row.update(wall_s=float(np.median(walls)), wall_range=(min(walls), max(walls)), processes=len(outs))
    if samplers:
        row["sampler_s"] = float(np.median(samplers))
    if key == "end_to_end_s":  # a process's first or only fit: its exit follows
        row["exit_s"] = float(np.median([o["exit_s"] for o in outs]))
    return row


# ------------------------------------------------------------------------------------------------- problems
def problem_a(opts: dict, args) -> list[dict]:
    rows = []
    colds, cacheds = [], []
    for _ in range(args.processes):  # fresh caches each time; the seeds are fixed, so every draw repeats
        with tempfile.TemporaryDirectory() as cache:
            colds.append(child(["cold", "repeat"], opts, cache))
            cacheds.append(child(["cached"], opts, cache))
    for system, runs_, label, key, extra in (
            ("bayescale, cold process (launch to fit: import + compile + sample)", colds, "cold", "end_to_end_s",
             {"compile_s": None, "sample_s": None}),
            ("bayescale, repeat fit in the same process", colds, "repeat", "fit_s", {"compile_s": 0.0}),
            ("bayescale, new process with the persistent cache (launch to fit)", cacheds, "cached", "end_to_end_s",
             {"compile_s": None, "sample_s": None})):
        row = _median_process(runs_, label, key)
        if label == "repeat":
            extra = dict(extra, sample_s=row["wall_s"])
        rows.append(dict(row, system=system, **extra))
    runs = problems.problem_a()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        for method in ("parallel", "vectorized"):
            rows.append(dict(numpyro_mcmc(runs, method, opts), system=f"numpyro MCMC {method} (earlier mode)"))
        grad_s = gradient_cost(runs)
    if args.huber is not None:
        rows.append({"system": "Huber + L-BFGS grid + bootstrap", "wall_s": args.huber["total_s"],
                     "compile_s": None, "sample_s": None})
    for name, row in peers("A", runs, opts, args.no_peers, args.reference_draws).items():
        rows.append(dict(row, system=name))
    rows.append({"system": "_gradient", "grad_s": grad_s})
    return rows


def problem_b(opts: dict, args) -> list[dict]:
    runs = problems.problem_b()
    kw = {"groups": "group", "pool": problems.POOL_B}
    rows = []
    # bayescale's defaults, then NUTS in the Laplace approximation's whitened coordinates (warm_start=True, its own
    # program): each a first fit (compiling) and a repeat of the same shapes
    for mode, extra in (("bayescale", {}), ("bayescale, warm_start=True", {"warm_start": True})):
        for label, seed in (("first fit", 0), ("repeat fit", 1)):
            comp = Compiles()
            t0 = time.perf_counter()
            fit = bs.fit("chinchilla", runs, seed=seed, progress_bar=False, **kw, **opts, **extra)
            wall = time.perf_counter() - t0
            rows.append(dict(fit_row(fit, PARAMS_B), system=f"{mode}, {label}", wall_s=wall, compile_s=comp.seconds,
                             sample_s=wall - comp.seconds))
    rows.append(dict(numpyro_mcmc(runs, "parallel", opts, **kw), system="numpyro MCMC parallel (earlier mode)"))
    for name, row in peers("B", runs, opts, args.no_peers, args.reference_draws).items():
        rows.append(dict(row, system=name))
    rows.append({"system": "_gradient", "grad_s": gradient_cost(runs, **kw)})
    return rows


def chees_settings(opts: dict) -> dict:
    """``sampler="chees"`` with bs.fit's defaults for it (8 chains x 200 warm-up x 750 draws), or 4 x 150 x 300 as
    the ``--quick`` smoke test; without the fallback to NUTS, so that the row measures ChEES alone (its failed
    fits count against it in the gate)."""
    quick = opts["num_samples"] < problems.SETTINGS["num_samples"]
    return {"sampler": "chees", "fallback": False,
            **({"num_chains": 4, "num_warmup": 150, "num_samples": 300} if quick else {})}


def timed_fit_many(label: str, runs: pd.DataFrame, kw: dict, opts: dict, seed: int = 0) -> dict:
    """One timed ``bs.fit_many`` over the ``task`` column, summarised."""
    comp = Compiles()
    t0 = time.perf_counter()
    many = bs.fit_many("chinchilla", runs, by="task", seed=seed, progress_bar=False, **kw, **opts)
    return summarise_many(label, many, time.perf_counter() - t0, comp.seconds)


def problem_c(opts: dict, args) -> list[dict]:
    num = 10 if args.quick else 100
    runs = problems.problem_c(num)
    kw = {"likelihood": problems.LIKELIHOOD_C, "target_accept_prob": problems.TARGET_ACCEPT_C}
    tables = {name: frame.drop(columns="task") for name, frame in runs.groupby("task", sort=False)}
    rows = []
    # one fit's gradient (30 runs, padded as fit_many pads), timed again right before and after each compiled row:
    # its floor uses the mean of the two, measured minutes apart at most rather than at the end of the run
    clock = gradient_clock(next(iter(tables.values())), **kw)
    costs = [clock()]

    def bracketed(row: dict) -> dict:
        costs.append(clock())
        return dict(row, grad_s={"before": costs[-2], "after": costs[-1]})

    cores = min(jax.local_device_count(), os.cpu_count() or 1)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        many = bracketed(timed_fit_many("bs.fit_many (one compiled program)", runs, kw, opts))
        # NUTS started from the Laplace approximation at each fit's mode (an option, off by default), right after
        # the same fits without it, so that the machine's drift between the two is small
        warm_opts = dict(opts, warm_start=True)
        warm = bracketed(timed_fit_many("bs.fit_many, warm_start=True (NUTS from the Laplace approximation)", runs,
                                        kw, warm_opts))
        chees = chees_settings(opts)
        sizes = " x ".join(str(chees.get(k, d)) for k, d in zip(("num_chains", "num_warmup", "num_samples"),
                                                                  fit_module.SAMPLERS["chees"], strict=True))
        lockstep = bracketed(timed_fit_many(f"bs.fit_many, sampler='chees' (chains in lockstep; {sizes})", runs, kw,
                                            chees))
        rows += [many, warm, lockstep,
                 bracketed(timed_loop("loop of bs.fit (compiled sampler reused)", tables, kw, opts, 0))]
        # a second call of the same shapes in this process, with new seeds: every program is compiled by now, as
        # for a user's next SBC replicate or backtest; the loop's second pass is their baseline
        for row, extra in ((many, opts), (warm, warm_opts), (lockstep, chees)):
            rows.append(dict(bracketed(timed_fit_many(f"{row['system']}, second call", runs, kw, extra, seed=1)),
                             repeat=True))
        rows.append(dict(bracketed(timed_loop("loop of bs.fit, second pass", tables, kw, opts, len(tables))),
                         repeat=True))
        # ChEES's also without the pointwise log-likelihood (log_likelihood=False): the sampler proper, whose draws
        # take about 4 gradients each, so that the one evaluation of the model per draw for LOO weighs there
        for row, extra, note in ((many, {}, ""), (lockstep, chees, ""),
                                 (lockstep, {**chees, "log_likelihood": False}, ", log_likelihood=False")):
            rows.append(sampler_alone(row, runs, list(tables), {**kw, **opts, **extra}, clock, cores,
                                      reps=3 if args.quick else 5, note=note))
        n_old = 5 if args.quick else 10
        t0 = time.perf_counter()
        old = [numpyro_mcmc_c(t, opts, kw) for t in list(tables.values())[:n_old]]
        wall = time.perf_counter() - t0
        rows.append({"system": f"loop of numpyro MCMC (earlier mode; first {n_old} fits)", "fits": n_old,
                     "wall_s": wall, "per_fit_s": wall / n_old, "compile_s": sum(o["compile_s"] for o in old),
                     "passed": sum(gate(o, None) == "pass" for o in old)})
    rows.append({"system": "_gradient", "grad_s": clock(), "cores": cores})
    return rows


def timed_loop(label: str, tables: dict[str, pd.DataFrame], kw: dict, opts: dict, first_seed: int) -> dict:
    """One timed loop of ``bs.fit`` over the tables (seeds ``first_seed``, ``first_seed + 1``, ...), summarised."""
    comp = Compiles()
    t0 = time.perf_counter()
    loop = {name: bs.fit("chinchilla", t, seed=first_seed + i, progress_bar=False, **kw, **opts)
            for i, (name, t) in enumerate(tables.items())}
    return summarise_many(label, loop, time.perf_counter() - t0, comp.seconds)


def sampler_alone(row: dict, runs: pd.DataFrame, tasks: list, fit_kw: dict, clock: Callable[[], dict], cores: int,
                  reps: int, note: str = "") -> dict:
    """The sampler of a ``fit_many`` row against its gradient floor with nothing else running, ``reps`` times.

    In the row's own call the main process checks and builds the fits of one batch while the next one samples, and
    on 2 cores that work takes CPU time from the sampler; and the machine's speed drifts between the row and a
    gradient timed minutes away from it. Here the row's first batch (``batch_fits`` fits, the same compiled
    program) is fitted again as a call of its own (one batch, so nothing overlaps its run), between two timings of
    the gradient; each repeat gives one ratio of its sampler seconds to its gradient evaluations x the mean of the
    two timings / ``cores``. ``note`` is added to the row's name (the options ``fit_kw`` adds to the row's own).
    """
    first = runs[runs["task"].isin(tasks[: row["batch_fits"]])]
    ratios, samplers = [], []
    for _ in range(reps):
        before = clock()["together"]
        fits = bs.fit_many("chinchilla", first, by="task", seed=0, progress_bar=False, **fit_kw)
        after = clock()["together"]
        done = summarise_many(row["system"], fits, 0.0, 0.0)  # its sampler seconds and gradient evaluations
        evals = done["grad_evals"]
        samplers.append(done["sampler_s"])
        ratios.append(done["sampler_s"] / (evals * 0.5 * (before + after) / cores))
    return {"system": f"{row['system']}: its first {row['batch_fits']} fits again{note}, sampler alone", "alone": True,
            "fits": row["batch_fits"], "reps": reps, "sampler_s": float(np.median(samplers)), "grad_evals": evals,
            "floor_ratios": ratios}


def problem_g(opts: dict, args) -> list[dict]:
    """Throughput of many small batched fits and one large hierarchical fit on the current JAX backend.

    Run it once on a GPU machine and once on a CPU one (``--json``), then pass the CPU file as ``--baseline`` to
    the GPU run: the issue's GPU goal compares the two throughputs.
    """
    runs = problems.problem_c(args.many)
    kw = {"likelihood": problems.LIKELIHOOD_C, "target_accept_prob": problems.TARGET_ACCEPT_C}
    backend = f"{jax.default_backend()}: {jax.devices()[0].device_kind}"
    rows = []
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        if not args.no_chees:  # first: on a GPU its lockstep chains are the likelier route to the goal
            label = f"bs.fit_many, sampler='chees', {args.many} fits of 30 runs ({backend})"
            try:
                rows.append(dict(timed_fit_many(label, runs, kw, chees_settings(opts)), key="many-chees"))
                _done(rows[-1])
            except Exception as err:  # noqa: BLE001 - a failure here must not cost the NUTS rows their device time
                print(f"  failed: {label}: {type(err).__name__}: {err}", flush=True)
        for size in args.batch_size:
            label = f"bs.fit_many, {args.many} fits of 30 runs, batch_size={size or 'default'} ({backend})"
            rows.append(dict(timed_fit_many(label, runs, dict(kw, batch_size=size), opts),
                             key=f"many-{size or 'default'}"))
            _done(rows[-1])
        if args.no_big:
            return rows
        big = bs.simulate_ladder("chinchilla", design=problems._design(6, 10), noise_sd=0.02, num_groups=64,
                                 group_sd={"e": 0.1, "a": 0.3}, seed=1)
        comp = Compiles()
        t0 = time.perf_counter()
        fit = bs.fit("chinchilla", big, groups="group", pool=problems.POOL_B, seed=0, progress_bar=False, **opts)
        wall = time.perf_counter() - t0
        rows.append(dict(summarise_many(f"bs.fit, 64 groups x 60 runs ({backend})", {"big": fit}, wall,
                                        comp.seconds), key="big"))
        _done(rows[-1])
    return rows


def _done(row: dict) -> None:
    """One line as soon as a row is measured (a long run cut short still shows what it measured)."""
    print(f"  done: {row['system']}: wall {row['wall_s']:.1f} s, compile {row['compile_s']:.1f} s, sampler "
          f"{row['sampler_s']:.1f} s, {row['passed']}/{row['fits']} pass", flush=True)


def numpyro_mcmc_c(runs, opts, kw):
    from numpyro.infer import MCMC, NUTS, init_to_median

    law = bs.get_law("chinchilla")
    prep = fit_module._prepare(law, runs, groups=None, pool=None, pooling="auto", likelihood=kw["likelihood"],
                               noise=None, sigma_scale=0.1, group_scale=0.5, flops_per_param_token=6.0)
    model = earlier_model(law, prep.config)
    comp = Compiles()
    with jax.enable_x64(True):
        mcmc = MCMC(NUTS(model, target_accept_prob=kw["target_accept_prob"], dense_mass=True,
                         init_strategy=init_to_median(num_samples=15)),
                    num_warmup=opts["num_warmup"], num_samples=opts["num_samples"], num_chains=opts["num_chains"],
                    chain_method="parallel", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), prep.data, extra_fields=("diverging",))
        post = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
        div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return dict(quality(post, div), compile_s=comp.seconds)


def sampler_seconds(fits: dict) -> float:
    """The sampler seconds of ``fits`` (from ``bs.fit`` or ``bs.fit_many``): each call's run shared by its
    ``batch_fits`` fits (padding repeats dropped: a slight undercount)."""
    return sum(f.meta["options"]["sampler_seconds"] / f.meta["options"]["batch_fits"] for f in fits.values())


def summarise_many(label: str, fits: dict, wall: float, compile_s: float) -> dict:
    rows = [fit_row(f) for f in fits.values()]
    passed = sum(gate(r, None) == "pass" for r in rows)
    return {"system": label, "fits": len(rows), "wall_s": wall, "per_fit_s": wall / len(rows),
            "compile_s": compile_s, "sampler_s": sampler_seconds(fits),
            "batch_fits": max(f.meta["options"]["batch_fits"] for f in fits.values()),
            "grad_evals": sum(r["grad_evals"] + r["warmup_grad_evals"] for r in rows),
            "passed": passed, "min_ess_bulk": min(r["min_ess_bulk"] for r in rows),
            "max_r_hat": max(r["max_r_hat"] for r in rows), "divergences": sum(r["divergences"] for r in rows),
            "failed": [name for name, r in zip(fits, rows, strict=True) if gate(r, None) != "pass"]}


# ------------------------------------------------------------------------------------------------- report
def _f(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


def _head(head: str) -> None:
    """A Markdown table's header row and its separator."""
    print(head)
    print("|" + "---|" * (head.count("|") - 1))


def table(problem: str, rows: list[dict], opts: dict) -> None:
    cpus = os.cpu_count() or 1
    cost = next((r["grad_s"] for r in rows if r["system"] == "_gradient"), None)
    grad = cost["together"] if cost else None
    rows = [r for r in rows if r["system"] != "_gradient"]
    stan = next((r for r in rows if r["system"] == "stan"), None)
    base = rows[0]
    print(f"\n## Problem {problem}" + (f"  (one gradient: {1e6 * cost['alone']:.1f} us alone, "
                                        f"{1e6 * grad:.1f} us each with {cost['concurrent']} at once)"
                                        if cost else ""))
    head = ("| system | compile s | sampling s | wall s | wall / bayescale | ESS/s (sampling) | ESS per 1k grads | "
            "sampler s | sampler / gradient floor | min ESS bulk | max R-hat | div | gate |")
    _head(head)
    for r in rows:
        sample_s = r.get("sample_s")
        ess_s = r["min_ess_bulk"] / sample_s if sample_s else None
        per_k = 1000 * r["min_ess_bulk"] / r["grad_evals"] if r.get("grad_evals") else None
        sampler_s, floor = r.get("sampler_s"), None
        if grad and sampler_s and "warmup_grad_evals" in r:
            floor = sampler_s / ((r["grad_evals"] + r["warmup_grad_evals"]) * grad / min(opts["num_chains"], cpus))
        print(f"| {r['system']} | {_f(r.get('compile_s'))} | {_f(sample_s)} | {_f(r['wall_s'])} | "
              f"{_f(r['wall_s'] / base['wall_s'], '.2f')}x | {_f(ess_s, '.0f')} | {_f(per_k)} | "
              f"{_f(sampler_s, '.2f')} | {_f(floor, '.2f')} | {_f(r.get('min_ess_bulk'), '.0f')} | "
              f"{_f(r.get('max_r_hat'), '.3f')} | "
              f"{r.get('divergences', '—')} | {gate(r, stan) if 'max_r_hat' in r else '—'} |")
    if stan is not None and "reference" in stan:
        ref = stan["reference"]
        print(f"  gate's reference means and sds: a second Stan run, {opts['num_chains']} chains x "
              f"{opts['num_warmup']} warm-up x {ref['draws']} draws (min bulk ESS {ref['min_ess_bulk']:.0f}, max "
              f"R-hat {ref['max_r_hat']:.3f}, {ref['divergences']} divergences)")
    for r in rows:
        if r.get("processes", 1) > 1:
            lo, hi = r["wall_range"]
            print(f"  {r['system']}: median of {r['processes']} fresh processes ({lo:.1f}-{hi:.1f} s)"
                  + (f"; each then took about {r['exit_s']:.1f} s more to exit (interpreter teardown)"
                     if r.get("exit_s") is not None else ""))
        elif r.get("exit_s") is not None:
            print(f"  {r['system']}: the process then took {r['exit_s']:.1f} s more to exit (interpreter teardown)")
        if r.get("import_s") is not None:
            print(f"  {r['system']}: its process first took {r['import_s']:.1f} s to import PyMC and nutpie, "
                  "which no column counts")


def table_c(rows: list[dict]) -> None:
    """Problem C's table; the gradient floor (where measured) is every fit's gradient evaluations (warm-up and
    draws) times the cost of one gradient with ``cores`` at once, divided by ``cores``: the cost measured right
    before and after the row (the mean of the two) where the row has them, else at the end of the run."""
    cost = next((r for r in rows if r["system"] == "_gradient"), None)
    alone = [r for r in rows if r.get("alone")]
    repeats = [r for r in rows if r.get("repeat")]
    rows = [r for r in rows if r["system"] != "_gradient" and not r.get("alone") and not r.get("repeat")]
    print("\n## Many fits (per-fit gate: R-hat <= 1.01, no divergences, min bulk ESS >= 400)"
          + (f"  (one fit's gradient: {1e6 * cost['grad_s']['alone']:.2f} us alone, "
             f"{1e6 * cost['grad_s']['together']:.2f} us each with {cost['grad_s']['concurrent']} at once)"
             if cost else ""))
    head = ("| system | fits | wall s | s per fit | speed-up of bs.fit_many | speed-up over the loop of bs.fit | "
            "compile s | sampler s | gradient evaluations | sampler / gradient floor | fits passing the gate |")
    _head(head)
    many = rows[0]
    loop = next((r for r in rows if r["system"].startswith("loop of bs.fit")), None)
    for r in rows:
        ratio = f"{r['per_fit_s'] / many['per_fit_s']:.1f}x"
        over = loop["per_fit_s"] / r["per_fit_s"] if loop else None
        ratio += " | —" if over is None else f" | {over:.1f}x" if over >= 0.1 else f" | {over:.3f}x"
        print(f"| {r['system']} | {r['fits']} | {r['wall_s']:.1f} | {r['per_fit_s']:.2f} | {ratio} | "
              f"{r['compile_s']:.1f} | {_f(r.get('sampler_s'))} | {_f(r.get('grad_evals'), ',.0f')} | "
              f"{_f(_floor(r, cost), '.2f')} | {r['passed']}/{r['fits']} |")
    if repeats:
        print("\n### A second call of the same shapes in the same process (every program already compiled; new seeds)")
        _head("| system | fits | wall s | s per fit | speed-up over the loop's second pass | compile s | sampler s | "
              "sampler / gradient floor | fits passing the gate |")
        again = next((r for r in repeats if r["system"].startswith("loop of bs.fit")), None)
        for r in repeats:
            over = f"{again['per_fit_s'] / r['per_fit_s']:.1f}x" if again else "—"
            print(f"| {r['system']} | {r['fits']} | {r['wall_s']:.1f} | {r['per_fit_s']:.2f} | {over} | "
                  f"{r['compile_s']:.1f} | {_f(r.get('sampler_s'))} | {_f(_floor(r, cost), '.2f')} | "
                  f"{r['passed']}/{r['fits']} |")
    for r in rows + repeats:
        if r.get("failed"):
            print(f"  {r['system']}: failed the gate: {r['failed']}")
        if "grad_s" in r:
            before, after = (1e6 * r["grad_s"][k]["together"] for k in ("before", "after"))
            print(f"  {r['system']}: one gradient {before:.2f} us before the row, {after:.2f} us after it"
                  + (" (the machine's speed drifted by over 20% meanwhile: the ratio is rough)"
                     if max(before, after) > 1.2 * min(before, after) else ""))
    if alone:
        print("\n### The sampler alone (a row's first batch fitted again as a call of its own, between two timings "
              "of the gradient, each repeat its own ratio)")
        _head("| system | repeats | sampler s (median) | gradient evaluations | sampler / gradient floor (median) | "
              "range |")
        for r in alone:
            q = r["floor_ratios"]
            print(f"| {r['system']} | {r['reps']} | {r['sampler_s']:.2f} | {r['grad_evals']:,} | "
                  f"{float(np.median(q)):.2f} | {min(q):.2f}-{max(q):.2f} |")


def _floor(row: dict, cost: dict | None) -> float | None:
    """A row's sampler seconds over its gradient floor, or None without the numbers for it."""
    if cost and row.get("sampler_s") and row.get("grad_evals"):
        return row["sampler_s"] / (row["grad_evals"] * _row_cost(row, cost) / cost["cores"])
    return None


def _row_cost(row: dict, cost: dict) -> float:
    """Seconds per gradient (with ``cost["cores"]`` at once) for a row's floor: the mean of its bracketing
    measurements, or the run's last one."""
    if "grad_s" in row:
        return 0.5 * (row["grad_s"]["before"]["together"] + row["grad_s"]["after"]["together"])
    return cost["grad_s"]["together"]


def table_g(rows: list[dict], baseline: dict | None) -> None:
    """Throughput of problem G on this backend and, given a baseline run's JSON, the ratio of the two."""
    print("\n## Throughput on this backend (per-fit gate: R-hat <= 1.01, no divergences, min bulk ESS >= 400)")
    head = ("| system | fits | fits per call | wall s | compile s | sampler s | fits/s (wall) | fits/s (wall - compile)"
            " | min bulk ESS/s (wall - compile; one fit) | fits passing the gate |")
    _head(head)
    for r in rows:
        run_s = r["wall_s"] - r["compile_s"]
        print(f"| {r['system']} | {r['fits']} | {r['batch_fits']} | {r['wall_s']:.1f} | {r['compile_s']:.1f} | "
              f"{r['sampler_s']:.1f} | {r['fits'] / r['wall_s']:.2f} | {r['fits'] / run_s:.2f} | "
              f"{_f(r['min_ess_bulk'] / run_s if r['fits'] == 1 else None, '.0f')} | {r['passed']}/{r['fits']} |")
    for r in rows:
        if r.get("failed"):
            print(f"  {r['system']}: failed the gate: {r['failed'][:10]}{' ...' if len(r['failed']) > 10 else ''}")
    if baseline is None:
        return
    base = {r["key"]: r for r in baseline["G"]}
    where = f"{baseline['machine']['cpu_count']} CPUs, {baseline['machine']['date_utc']} UTC"
    print(f"\n## Against the baseline run ({where}; its default batch size)")
    print("| this run | fits/s here | fits/s in the baseline | ratio (wall) | ratio (wall - compile) |")
    print("|---|---|---|---|---|")
    for r in rows:
        # a ChEES row against the baseline's ChEES row where it has one, else against its NUTS row
        b = base.get(r["key"]) if r["key"] in ("big", "many-chees") else None
        b = b or base["big" if r["key"] == "big" else "many-default"]
        here, there = r["fits"] / r["wall_s"], b["fits"] / b["wall_s"]
        warm = (r["fits"] / (r["wall_s"] - r["compile_s"])) / (b["fits"] / (b["wall_s"] - b["compile_s"]))
        print(f"| {r['system']} | {here:.3f} | {there:.3f} | {here / there:.1f}x | {warm:.1f}x |")


_PANELS = {  # problem: (what each bar shows, its unit, the value from a row)
    "A": ("seconds to a fitted model (wall; cold and cached rows from the launch of a process)", "s",
          lambda r: r.get("wall_s")),
    "B": ("min bulk ESS per second of sampling (higher is better)", "/s",
          lambda r: r["min_ess_bulk"] / r["sample_s"] if r.get("sample_s") and r.get("min_ess_bulk") else None),
    "C": ("seconds per fit, 100 fits (wall / fits)", "s", lambda r: r.get("per_fit_s")),
}


def _row_gate(problem: str, r: dict, stan: dict | None) -> str:
    if problem == "C":
        return "pass" if r.get("passed") == r.get("fits") else f"{r['fits'] - r['passed']} of {r['fits']} fail"
    return gate(r, stan) if "max_r_hat" in r else "pass"


def _goal_line(problem: str, bars: list[tuple[str, float, str]]) -> tuple[float, str] | None:
    """Issue 3's goal as a vertical line, where it is one value on the panel's axis: A's cold process within 6 s,
    C's fits at a tenth of the loop of ``bs.fit``'s seconds per fit (its first pass)."""
    if problem == "A":
        return 6.0, "goal: a cold process within 6 s"
    loop = next((v for n, v, _ in bars if n.startswith("loop of bs.fit") and "second" not in n), None)
    if problem == "C" and loop:
        return loop / 10, "goal: 10x the loop of bs.fit"
    return None


def figure(saved: dict, path: str | Path) -> Path:
    """One PNG of a run's problems A, B and C (a panel each, log scale): every system's bar, bayescale's in colour,
    the peers' and baselines' in grey, a bar whose row fails the quality gate hatched and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = [p for p in "ABC" if saved.get(p)]
    if not probs:
        raise ValueError("the run holds none of problems A, B and C: nothing to draw (problem G has its tables)")
    panels = []
    for p in probs:
        rows = [r for r in saved[p] if r["system"] != "_gradient" and not r.get("alone")]
        stan = next((r for r in rows if r["system"] == "stan"), None)
        what, unit, value = _PANELS[p]
        bars = [(r["system"], value(r), _row_gate(p, r, stan)) for r in rows if value(r)]  # second calls say so
        panels.append((p, what, unit, bars))
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 0.42 * sum(len(b) for *_, b in panels) + 1.6 * len(panels)),
                             squeeze=False, height_ratios=[len(b) + 2 for *_, b in panels])
    for ax, (p, what, unit, bars) in zip(axes[:, 0], panels, strict=True):
        names = [n if len(n) <= 64 else re.sub(r"\s*\([^)]*\)", "", n) for n, _, _ in bars]
        vals = [v for _, v, _ in bars]
        ours = [not (n.startswith(("numpyro", "loop of numpyro", "stan", "nutpie", "Huber", "loop of bs.fit")))
                for n, _, _ in bars]
        colors = ["tab:blue" if o else "0.6" for o in ours]
        y = np.arange(len(bars))[::-1]
        drawn = ax.barh(y, vals, color=colors, edgecolor="black", linewidth=0.5)
        for bar, (_, v, g) in zip(drawn, bars, strict=True):
            if g != "pass":
                bar.set_hatch("//")
            sep = "" if unit.startswith("/") else " "
            label = f"{v:.0f}" if v >= 100 else f"{v:.2f}" if v < 1 else f"{v:.1f}"
            label += sep + unit
            ax.text(v * 1.05, bar.get_y() + bar.get_height() / 2,
                    label + ("" if g == "pass" else f"  (gate: {g.removeprefix('FAIL: ')})"), va="center", fontsize=8)
        ax.set_yticks(y, names, fontsize=8)
        ax.set_xscale("log")
        goal = _goal_line(p, bars)
        if goal:
            ax.axvline(goal[0], color="tab:red", linestyle="--", linewidth=1)
            ax.text(goal[0], len(bars) - 0.45, " " + goal[1], color="tab:red", fontsize=8, va="bottom")
        ax.set_xlim(min(vals + [goal[0]] if goal else vals) / 2, max(vals) * 6)
        ax.set_title(f"Problem {p}: {what}", fontsize=10, loc="left")
        ax.grid(axis="x", which="both", alpha=0.3)
    m = saved["machine"]
    opts = saved["settings"]
    fig.suptitle(f"bayescale speed benchmark, {m['date_utc']} UTC, {m['cpu_count']} CPUs"
                 + (f" ({m['cpu']})" if m.get("cpu") else "")
                 + f"; {opts['num_chains']} chains x {opts['num_warmup']} warm-up x {opts['num_samples']} draws\n"
                 "blue: bayescale; grey: its earlier mode, the loop of bs.fit and the peers; "
                 "hatched: fails the quality gate", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (``benchmarks/device/gpu_check.sh`` passes it problem G's arguments)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="+", default=["A", "B", "C"], choices=["A", "B", "C", "G"],
                        help="G: throughput of --many batched fits and one 64-group fit on this backend (GPU check)")
    parser.add_argument("--many", type=int, default=1000, help="number of fits in problem G")
    parser.add_argument("--batch-size", type=lambda v: None if v == "default" else int(v), nargs="+",
                        default=[None], help="problem G: fit_many's batch_size, one row each ('default': the "
                                             "library's default for this backend)")
    parser.add_argument("--no-big", action="store_true", help="problem G: skip the 64-group fit")
    parser.add_argument("--no-chees", action="store_true", help="problem G: skip the row of sampler='chees'")
    parser.add_argument("--baseline", help="problem G: JSON of a run on another backend (--json) to compare with")
    parser.add_argument("--quick", action="store_true", help="2 chains x 300 x 300: a smoke test")
    parser.add_argument("--no-peers", action="store_true", help="skip Stan and nutpie")
    parser.add_argument("--reference-draws", type=int, default=None,
                        help="draws per chain of the untimed Stan run whose means and sds the gate uses (default "
                             "5000; 0: the timed Stan run, whose own Monte Carlo error is then in the gate)")
    parser.add_argument("--no-huber", action="store_true", help="skip the Huber point fit (problem A)")
    parser.add_argument("--processes", type=int, default=None,
                        help="fresh processes for A's cold, repeat and cached rows, which report the median "
                             "(default 3; 1 with --quick)")
    parser.add_argument("--figure", help="also draw problems A, B and C as bar charts into this PNG (with --report: "
                                             "of the saved run)")
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--report", help="print the tables of a saved --json run instead of running (with "
                                         "--baseline for problem G's ratios)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    baseline = json.loads(Path(args.baseline).read_text()) if args.baseline else None
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        m = saved["machine"]
        print(f"# saved run of {m['date_utc']} UTC, {m['cpu_count']} CPUs" + (f" ({m['cpu']})" if m.get("cpu") else ""))
        for p, rows in saved.items():
            if p in ("machine", "settings"):
                continue
            table_g(rows, baseline) if p == "G" else table_c(rows) if p == "C" else table(p, rows, saved["settings"])
        if args.figure:
            print(f"\nfigure: {figure(saved, args.figure)}")
        return 0
    opts = settings(args.quick)
    if args.processes is None:
        args.processes = 1 if args.quick else 3
    if args.reference_draws is None:
        args.reference_draws = 0 if args.quick else 5000
    import fit_speed

    args.huber = None
    if "A" in args.problems and not args.no_huber:  # first: its grid workers fork before JAX starts its threads
        args.huber = fit_speed.run_huber(problems.problem_a(), n_boot=20 if args.quick else 200, seed=0,
                                         workers=os.cpu_count() or 1)

    info = fit_speed.machine_info()
    print(f"# bayescale speed benchmark — {info['date_utc']} UTC, {info['cpu_count']} CPUs "
          f"({info['cpu'] or info['processor']}), "
          f"JAX {jax.default_backend()} x {jax.local_device_count()} devices, "
          f"{opts['num_chains']} chains x {opts['num_warmup']} warm-up x {opts['num_samples']} draws")
    results = {"machine": info, "settings": opts}
    for p in args.problems:
        print(f"\n(running problem {p} ...)", flush=True)
        rows = {"A": problem_a, "B": problem_b, "C": problem_c, "G": problem_g}[p](opts, args)
        results[p] = rows
        if p == "G":
            table_g(rows, baseline)
        else:
            table_c(rows) if p == "C" else table(p, rows, opts)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    if args.figure:
        print(f"\nfigure: {figure(results, args.figure)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
