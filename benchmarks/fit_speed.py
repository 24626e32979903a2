"""Fit-speed benchmark on the real Chinchilla data: bayescale NUTS vs the literature's Huber point fit.

Measures, in one process and on the same 240 runs (Epoch's reconstruction of Hoffmann et al. 2022, Fig. 4,
minus the 5 highest-loss runs, as in Besiroglu et al. 2024):

1. The literature's point fit (Hoffmann et al. 2022 Approach 3, as replicated by Besiroglu et al. 2024):
   minimise the sum over runs of Huber(delta=1e-3) of ``LSE(a - alpha log N, b - beta log D, e) - log L``
   with L-BFGS-B (analytic numpy gradient) from Hoffmann's 4500-point initialisation grid, keep the best;
   then bootstrap the runs, each resample warm-started from the best fit, for 90% intervals. L-BFGS-B runs
   with tightened tolerances (:data:`LBFGSB_OPTIONS`): with SciPy's defaults the warm-started refits stop
   where they start. The grid starts are split over one process per usable CPU (NUTS uses them all too).
2. ``bs.fit("chinchilla", ...)`` with NUTS, twice (seeds 0 and 1), through the public API only: wall time
   of the first fit (JIT compilation + warm-up + sampling) and of the second, and the JAX compile time
   inside each (from ``jax.monitoring``); min bulk / tail ESS over (e, a, b, alpha, beta); ESS/s; gradient
   evaluations (leapfrog steps, ``sample_stats["n_steps"]``) and ESS per 1k of them; divergences; R-hat.

Run ``python benchmarks/fit_speed.py`` (full settings, a few minutes on 2 CPU cores) or ``--quick``
(smoke test). Ratios are against the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import importlib
import itertools
import json
import multiprocessing
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata

import jax  # importing JAX does not start its backend, so bayescale can still ask for host devices
import numpy as np
import pandas as pd
from scipy.optimize import minimize

import bayescale as bs

LAW_PARAMS = ("e", "a", "b", "alpha", "beta")
#: Besiroglu et al. 2024 (arXiv:2404.10102): their fit of the Chinchilla law to the reconstructed data.
BESIROGLU = {"e": 1.8172, "a": 482.01, "b": 2085.43, "alpha": 0.3478, "beta": 0.3658}
DELTA = 1e-3
#: L-BFGS-B stopping rules. SciPy's defaults (ftol 2.2e-9 relative to max(|f|, 1), gtol 1e-5) are loose for
#: an objective of size ~1e-3: bootstrap refits then stop at their warm start and the intervals collapse.
LBFGSB_OPTIONS = {"ftol": 1e-12, "gtol": 1e-9, "maxiter": 10_000}
GRID_SLOW_S = 60.0
N_RUNS = 240


# ---------------------------------------------------------------------------------------------------- data
def load_runs(data_dir: str | None = None) -> pd.DataFrame:
    """Chinchilla runs from ``bs.datasets`` minus the 5 highest-loss runs (Besiroglu et al. 2024): 240."""
    datasets = getattr(bs, "datasets", None)
    if datasets is None:
        try:
            datasets = importlib.import_module("bayescale.datasets")
        except ImportError as err:
            raise SystemExit(f"bayescale.datasets is not available ({err}); this benchmark loads the data "
                             "with bs.datasets.load('chinchilla_epoch')") from err
    raw = datasets.load("chinchilla_epoch", data_dir=data_dir)
    loss = raw["loss"].to_numpy(dtype=float)
    cutoff = np.sort(loss)[-5]
    runs = raw.loc[loss < cutoff, ["n", "d", "loss"]].reset_index(drop=True)
    if len(runs) != N_RUNS:
        raise SystemExit(f"expected {N_RUNS} runs after dropping the 5 highest losses, got {len(runs)}")
    return runs


# ----------------------------------------------------------------------------------------------- bayescale
class CompileTimer:
    """Sums JAX's compile-pipeline durations (trace, lower to MLIR, XLA compile) from ``jax.monitoring``."""

    PREFIX = "/jax/core/compile/"

    def __init__(self) -> None:
        self.totals: collections.Counter[str] = collections.Counter()
        self.counts: collections.Counter[str] = collections.Counter()
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, event: str, duration: float, **_kw) -> None:
        if event.startswith(self.PREFIX):
            key = event[len(self.PREFIX):].removesuffix("_duration")
            self.totals[key] += duration
            self.counts[key] += 1

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        return dict(self.totals), dict(self.counts)


def _delta(after: dict, before: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def run_bayescale(runs: pd.DataFrame, seed: int, settings: dict, timer: CompileTimer) -> dict:
    """One timed ``bs.fit`` call through the public API; returns its metrics, summary and warnings."""
    before_t, before_n = timer.snapshot()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        fit = bs.fit("chinchilla", runs, seed=seed, progress_bar=False, **settings)
        wall = time.perf_counter() - t0
    after_t, after_n = timer.snapshot()
    comp_t, comp_n = _delta(after_t, before_t), _delta(after_n, before_n)
    summary = fit.summary()
    law = summary.loc[list(LAW_PARAMS)]
    diag = fit.diagnostics
    # .values: the tree may hold JAX arrays, whose reductions would run (in int32) on JAX
    n_steps = np.asarray(fit.tree.sample_stats["n_steps"].values, dtype=np.int64)
    grads = int(n_steps.sum())
    min_bulk, min_tail = float(law["ess_bulk"].min()), float(law["ess_tail"].min())
    return {
        "seed": seed,
        "wall_s": wall,
        "compile_s": float(sum(comp_t.values())),
        "xla_compile_s": float(comp_t.get("backend_compile", 0.0)),
        "n_compilations": int(comp_n.get("backend_compile", 0)),
        "compile_breakdown_s": comp_t,
        "min_ess_bulk": min_bulk,
        "min_ess_tail": min_tail,
        "max_r_hat": float(law["r_hat"].max()),
        "max_r_hat_all": float(diag.max_r_hat),
        "min_ess_bulk_all": float(diag.min_ess_bulk),
        "min_ess_tail_all": float(diag.min_ess_tail),
        "divergences": int(diag.divergences),
        "tree_depth_frac": float(diag.tree_depth_frac),
        "grad_evals": grads,
        "grad_evals_per_draw": grads / int(n_steps.size),
        "ess_per_1k_grads": 1000.0 * min_bulk / grads,
        "chain_method": fit.meta["options"]["chain_method"],
        "dense_mass": fit.meta["options"]["dense_mass"],
        "diagnostics_ok": bool(diag.ok),
        "summary": summary,
        "warnings": [(w.category.__name__, str(w.message)) for w in caught],
    }


# ----------------------------------------------------------------------------------------------- Huber fit
def huber_objective(p: np.ndarray, logn: np.ndarray, logd: np.ndarray,
                    logl: np.ndarray) -> tuple[float, np.ndarray]:
    """Sum over runs of Huber_delta(LSE(a - alpha log N, b - beta log D, e) - log L) and its gradient.

    Parameters are ``p = (a, b, e, alpha, beta)`` with ``A = exp(a)``, ``B = exp(b)``, ``E = exp(e)``.
    """
    a, b, e, alpha, beta = p
    t = np.stack([a - alpha * logn, b - beta * logd, np.full_like(logn, e)])
    m = t.max(axis=0)
    ex = np.exp(t - m)
    s = ex.sum(axis=0)
    r = m + np.log(s) - logl
    ar = np.abs(r)
    f = np.where(ar <= DELTA, 0.5 * r * r, DELTA * (ar - 0.5 * DELTA)).sum()
    gw = (ex / s) * np.clip(r, -DELTA, DELTA)  # softmax weight of each term x Huber'(r)
    grad = np.array([gw[0].sum(), gw[1].sum(), gw[2].sum(), -(gw[0] * logn).sum(), -(gw[1] * logd).sum()])
    return float(f), grad


def hoffmann_grid() -> list[np.ndarray]:
    """Hoffmann et al. 2022's initialisation grid (a, b, e, alpha, beta): 6 x 6 x 5 x 5 x 5 = 4500 starts."""
    ab = np.arange(0.0, 30.0, 5.0)
    e = np.arange(-1.0, 1.5, 0.5)
    ex = np.arange(0.0, 2.5, 0.5)
    return [np.array(x, dtype=float) for x in itertools.product(ab, ab, e, ex, ex)]


def _natural(p: np.ndarray) -> dict[str, float]:
    a, b, e, alpha, beta = p
    return {"e": float(np.exp(e)), "a": float(np.exp(a)), "b": float(np.exp(b)), "alpha": float(alpha),
            "beta": float(beta)}


def _grid_chunk(starts: list[np.ndarray], logn: np.ndarray, logd: np.ndarray, logl: np.ndarray) -> dict:
    """L-BFGS-B from each start; the best finite result, function evaluations and failed starts."""
    best_fun, best_x, best_msg, nfev, failed = np.inf, None, "", 0, 0
    with np.errstate(all="ignore"):
        for x0 in starts:
            res = minimize(huber_objective, x0, args=(logn, logd, logl), jac=True, method="L-BFGS-B",
                           options=LBFGSB_OPTIONS)
            nfev += res.nfev
            if not np.isfinite(res.fun):
                failed += 1
            elif res.fun < best_fun:
                best_fun, best_x, best_msg = float(res.fun), res.x, str(res.message)
    return {"fun": best_fun, "x": best_x, "message": best_msg, "nfev": nfev, "failed": failed}


def _one_blas_thread() -> None:
    """Pool initializer: one OpenBLAS thread per worker process.

    Forked workers inherit OpenBLAS thread pools sized for the whole machine; on 2 CPUs two workers then ran
    the grid 3x slower than one process (measured). Uses the ``*_set_num_threads`` entry points of the
    OpenBLAS builds numpy and scipy load (what threadpoolctl does); a no-op where none is found.
    """
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
    except OSError:
        return
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(1)
                break


def run_huber(runs: pd.DataFrame, n_boot: int, seed: int, workers: int) -> dict:
    """Grid-started L-BFGS-B Huber fit (starts split over ``workers`` processes), then ``n_boot`` warm-started
    bootstrap refits (serial: they take about a second)."""
    logn, logd, logl = (np.log(runs[c].to_numpy(dtype=float)) for c in ("n", "d", "loss"))
    grid = hoffmann_grid()
    t0 = time.perf_counter()
    if workers <= 1:
        chunks = [_grid_chunk(grid, logn, logd, logl)]
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_one_blas_thread) as pool:
            chunks = list(pool.map(_grid_chunk, [grid[i::workers] for i in range(workers)],
                                   *([arr] * workers for arr in (logn, logd, logl))))
    grid_s = time.perf_counter() - t0
    best = min(chunks, key=lambda c: c["fun"])
    nfev, failed = sum(c["nfev"] for c in chunks), sum(c["failed"] for c in chunks)

    with np.errstate(all="ignore"):
        rng = np.random.default_rng(seed)
        n = len(logl)
        boot, boot_nfev = [], 0
        t0 = time.perf_counter()
        for _ in range(n_boot):
            idx = rng.integers(0, n, size=n)
            res = minimize(huber_objective, best["x"], args=(logn[idx], logd[idx], logl[idx]), jac=True,
                           method="L-BFGS-B", options=LBFGSB_OPTIONS)
            boot_nfev += res.nfev
            boot.append(_natural(res.x))
        boot_s = time.perf_counter() - t0
    boot_df = pd.DataFrame(boot)
    return {
        "grid_starts": len(grid),
        "grid_failed_starts": failed,
        "grid_s": grid_s,
        "grid_over_60s": grid_s > GRID_SLOW_S,
        "grid_fun_evals": int(nfev),
        "grid_workers": max(workers, 1),
        "best_objective": best["fun"],
        "best_message": best["message"],
        "lbfgsb_options": LBFGSB_OPTIONS,
        "best_raw": dict(zip(("a", "b", "e", "alpha", "beta"), map(float, best["x"]), strict=True)),
        "best": _natural(best["x"]),
        "n_boot": n_boot,
        "bootstrap_s": boot_s,
        "bootstrap_fun_evals": int(boot_nfev),
        "total_s": grid_s + boot_s,
        "q05": boot_df.quantile(0.05).to_dict(),
        "q95": boot_df.quantile(0.95).to_dict(),
    }


# -------------------------------------------------------------------------------------------------- report
def cpu_model() -> str | None:
    """The CPU's model name (Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else (platform.processor() or None)


def machine_info() -> dict:
    versions = {"python": platform.python_version()}
    for pkg in ("bayescale", "jax", "jaxlib", "numpyro", "arviz-stats", "scipy", "numpy", "pandas"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        # machines of one kind differ: a 2-core AMD EPYC ran problem A's gradient 3x slower than an Intel Xeon
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "load_avg_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def jax_info() -> dict:
    """JAX backend and devices. This starts JAX's backend: call it after the forked Huber workers are done."""
    return {"jax_backend": jax.default_backend(), "jax_devices": [str(d) for d in jax.devices()],
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def _fmt_est(name: str, v: float) -> str:
    if name in ("a", "b"):
        return f"{v:.1f}"
    return f"{v:.4f}"


def _cell(name: str, mid: float, lo: float, hi: float) -> str:
    return f"{_fmt_est(name, mid)} [{_fmt_est(name, lo)}, {_fmt_est(name, hi)}]"


def _print_warnings(fits: list[dict]) -> None:
    seen = collections.OrderedDict()
    for f in fits:
        for cat, msg in f["warnings"]:
            seen.setdefault((cat, msg), []).append(f["seed"])
    if not seen:
        return
    print("\nWarnings raised during the fits:")
    for (cat, msg), seeds in seen.items():
        where = f"seed {', '.join(map(str, sorted(set(seeds))))}"
        if cat == "DataWarning":
            print(f"  [expected] DataWarning ({where}): {msg}")
            print("    -> expected for these data: 6 of Hoffmann's runs really are trained on fewer tokens "
                  "than parameters.")
        elif cat == "ConvergenceWarning":
            print(f"  ConvergenceWarning ({where}): {msg}")
        else:
            print(f"  {cat} from a dependency ({where}, {len(seeds)}x): {msg[:110]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 2 chains x 300 warm-up x 300 draws, 20 bootstraps (grid unchanged)")
    parser.add_argument("--chains", type=int, default=None, help="override the number of chains")
    parser.add_argument("--warmup", type=int, default=None, help="override the warm-up iterations per chain")
    parser.add_argument("--samples", type=int, default=None, help="override the draws per chain")
    parser.add_argument("--bootstraps", type=int, default=None, help="override the number of bootstraps")
    parser.add_argument("--huber-workers", type=int, default=None,
                        help="processes for the Huber grid starts (default: the usable CPUs, as NUTS "
                             "runs chains in parallel over them; 1 = serial)")
    parser.add_argument("--data-dir", default=None,
                        help="data folder laid out as <dir>/chinchilla_epoch/ (default: "
                             "$BAYESCALE_DATA_DIR, then the bayescale cache)")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)

    chains, warmup, samples, n_boot = (2, 300, 300, 20) if args.quick else (4, 1000, 1000, 200)
    chains = args.chains or chains
    warmup = args.warmup or warmup
    samples = args.samples or samples
    n_boot = args.bootstraps or n_boot
    settings = {"num_chains": chains, "num_warmup": warmup, "num_samples": samples}

    timer = CompileTimer()
    info = machine_info()
    workers = args.huber_workers or info["cpus_usable"] or 1
    print("bayescale fit-speed benchmark" + (" (--quick)" if args.quick else ""))
    print(f"date (UTC): {info['date_utc']}")
    print(f"machine: {info['platform']}, {info['cpu'] or info['processor']}; os.cpu_count() = {info['cpu_count']}, "
          f"usable CPUs = {info['cpus_usable']}; load average (1/5/15 min) at start = "
          f"{', '.join(f'{x:.2f}' for x in info['load_avg_1_5_15'] or [])}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))

    runs = load_runs(args.data_dir)
    print("\ndata: bs.datasets.load('chinchilla_epoch') minus the 5 highest-loss runs "
          f"(loss < sorted(loss)[-5]) -> {len(runs)} runs")
    print(f"NUTS: {chains} chains x {warmup} warm-up x {samples} draws, twice (seeds 0, 1)")
    print(f"Huber: {len(hoffmann_grid())} L-BFGS-B starts over {workers} process(es), options "
          f"{LBFGSB_OPTIONS}; {n_boot} bootstrap resamples")

    # ---- 1. Huber point fit (first: its worker processes are forked before JAX's backend starts threads)
    print(f"\n[1/2] Huber point fit: {len(hoffmann_grid())}-start grid + {n_boot} bootstraps ...", flush=True)
    hub = run_huber(runs, n_boot, seed=0, workers=workers)
    print(f"      grid {hub['grid_s']:.1f} s, bootstrap {hub['bootstrap_s']:.1f} s", flush=True)
    if hub["grid_over_60s"]:
        print(f"      NOTE: the full {hub['grid_starts']}-start grid took {hub['grid_s']:.1f} s, over "
              f"{GRID_SLOW_S:.0f} s on this machine ({workers} process(es), {info['cpus_usable']} usable "
              "CPUs); kept as specified.")

    # ---- 2. bayescale
    info.update(jax_info())
    print(f"jax backend: {info['jax_backend']}; devices: {', '.join(info['jax_devices'])}; "
          f"XLA_FLAGS: {info['xla_flags'] or '(unset)'}")
    print("[2/2] bayescale NUTS: fit 1 (seed 0, includes JIT compilation) ...", flush=True)
    fit1 = run_bayescale(runs, 0, settings, timer)
    print(f"      fit 1 wall {fit1['wall_s']:.1f} s (JAX compile {fit1['compile_s']:.1f} s)", flush=True)
    print("      fit 2 (seed 1, same data, same process) ...", flush=True)
    fit2 = run_bayescale(runs, 1, settings, timer)
    print(f"      fit 2 wall {fit2['wall_s']:.1f} s (JAX compile {fit2['compile_s']:.1f} s)", flush=True)
    for f in (fit1, fit2):
        f["ess_per_s"] = f["min_ess_bulk"] / f["wall_s"]
    ess_per_s = fit2["min_ess_bulk"] / fit2["wall_s"]

    _print_warnings([fit1, fit2])

    # ---- per-fit detail
    detail = pd.DataFrame([{
        "fit": f"bayescale fit {i} (seed {f['seed']})",
        "wall s": f["wall_s"],
        "JAX compile s": f["compile_s"],
        "XLA compiles": f["n_compilations"],
        "wall - compile s": f["wall_s"] - f["compile_s"],
        "min ESS bulk": f["min_ess_bulk"],
        "min ESS tail": f["min_ess_tail"],
        "max R-hat": f["max_r_hat"],
        "grad evals": f["grad_evals"],
        "grads/draw": f["grad_evals_per_draw"],
        "ESS/s": f["ess_per_s"],
        "ESS/1k grads": f["ess_per_1k_grads"],
        "divergences": f["divergences"],
    } for i, f in ((1, fit1), (2, fit2))]).set_index("fit")
    print("\nbayescale fits (ESS and R-hat over e, a, b, alpha, beta; grad evals = leapfrog steps after "
          "warm-up, all chains):")
    print(detail.to_string(float_format=lambda v: f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"))
    print(f"chain method: {fit1['chain_method']}; dense mass matrix: {fit1['dense_mass']}; "
          f"max R-hat incl. sigma, nu: fit 1 {fit1['max_r_hat_all']:.4f}, fit 2 {fit2['max_r_hat_all']:.4f}")
    reuse = fit2["n_compilations"] == 0
    print("fit 2 " + ("reused fit 1's compiled code" if reuse else
                      f"recompiled ({fit2['n_compilations']} XLA compilations, {fit2['compile_s']:.1f} s in "
                      "JAX's compile pipeline)")
          + f"; fit 1 wall - fit 2 wall = {fit1['wall_s'] - fit2['wall_s']:.1f} s")

    # ---- main table
    dash = "-"
    main_rows = [
        {"method": "bayescale NUTS", "total wall s": fit1["wall_s"], "first fit s": fit1["wall_s"],
         "of which compile s": fit1["compile_s"], "repeat fit s": fit2["wall_s"], "bootstrap s": dash,
         "min ESS bulk": round(fit2["min_ess_bulk"]), "min ESS tail": round(fit2["min_ess_tail"]),
         "ESS/s": round(ess_per_s, 1), "ESS/1k grads": round(fit2["ess_per_1k_grads"], 1),
         "divergences": fit2["divergences"]},
        {"method": "Huber L-BFGS-B + bootstrap", "total wall s": hub["total_s"], "first fit s": hub["grid_s"],
         "of which compile s": dash, "repeat fit s": dash, "bootstrap s": hub["bootstrap_s"],
         "min ESS bulk": dash, "min ESS tail": dash, "ESS/s": dash, "ESS/1k grads": dash,
         "divergences": dash},
    ]
    table = pd.DataFrame(main_rows).set_index("method")
    for col in ("total wall s", "first fit s", "of which compile s", "repeat fit s", "bootstrap s"):
        table[col] = [f"{v:.1f}" if isinstance(v, float) else v for v in table[col]]
    print("\n=== Wall time and sampling efficiency ===")
    print(table.to_string())
    print("  total wall = data to estimates with 90% intervals, in a fresh process.")
    print(f"  bayescale: first fit = compile + warm-up + sampling, {chains} chains x ({warmup} warm-up + "
          f"{samples} draws); repeat fit = same data, seed 1, same process.")
    print("  bayescale ESS, ESS/s (= min bulk ESS / repeat-fit wall), ESS/1k grads, divergences: fit 2.")
    print(f"  Huber: first fit = {hub['grid_starts']}-start L-BFGS-B grid over {hub['grid_workers']} "
          f"process(es); bootstrap = {n_boot} warm-started refits.")
    r_first = fit1["wall_s"] / hub["total_s"]
    r_repeat = fit2["wall_s"] / hub["total_s"]
    print(f"\nwall-time ratio bayescale / Huber total (same run): first fit {r_first:.2f}x, "
          f"repeat fit {r_repeat:.2f}x")

    # ---- parameter table
    s1 = fit1["summary"]
    prow = []
    for p in LAW_PARAMS:
        prow.append({
            "param": {"e": "E", "a": "A", "b": "B"}.get(p, p),
            "bayescale median [5%, 95%]": _cell(p, s1.loc[p, "q50"], s1.loc[p, "q05"], s1.loc[p, "q95"]),
            "Huber point [bootstrap 5%, 95%]": _cell(p, hub["best"][p], hub["q05"][p], hub["q95"][p]),
            "Besiroglu 2024": _fmt_est(p, BESIROGLU[p]),
        })
    print("\n=== Parameter estimates ===")
    print(pd.DataFrame(prow).set_index("param").to_string())
    print(f"  bayescale: posterior of fit 1 (seed 0), {chains} x {samples} draws; Huber: best of "
          f"{hub['grid_starts'] - hub['grid_failed_starts']} finite grid starts (objective "
          f"{hub['best_objective']:.6g}), {n_boot} bootstrap resamples of the {len(runs)} runs.")
    end_load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if end_load:
        print(f"load average (1/5/15 min) at end = {', '.join(f'{x:.2f}' for x in end_load)}")

    if args.json:
        def clean(f: dict) -> dict:
            out = {k: v for k, v in f.items() if k != "summary"}
            out["summary"] = f["summary"].to_dict(orient="index")
            return out

        result = {
            "benchmark": "fit_speed", "quick": args.quick, "settings": settings, "n_runs": len(runs),
            "machine": info, "load_avg_end": list(end_load) if end_load else None,
            "bayescale": {"fit1": clean(fit1), "fit2": clean(fit2), "ess_per_s": ess_per_s,
                          "fit2_reused_compilation": reuse},
            "huber": hub,
            "ratios": {"bayescale_first_over_huber_total": r_first,
                       "bayescale_repeat_over_huber_total": r_repeat},
            "besiroglu_2024": BESIROGLU,
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
