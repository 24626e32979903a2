"""New processes that use a saved fit or calibrate: the persistent compilation cache on from ``import bayescale``
(today) against on from the process's first fit (bayescale until 2026-12-06).

Until 2026-12-06 bayescale turned JAX's persistent compilation cache on when a process ran its first fit. A process
that never fits (it loads a saved fit and predicts, checks or reports, as the CLI's ``predict``, ``decide`` and
``report`` do) compiled everything again every time, and ``bs.calibrate`` compiled its prior predictive draws again
in every process (they run before its first fit). Now ``import bayescale`` turns the cache on.

Each job runs in fresh processes, timed from launch to the job's end, in each mode:

* **earlier mode**: the process starts with the cache off, and turns it on (the same folder) just before its
  first fit, as bayescale did (``engine._CACHE_STATE`` is reset, which is what ``bs.fit`` then finds);
* **today**: the cache on from ``import bayescale``.

The first process of a mode starts from an empty cache folder of its own (it compiles, and fills what the mode lets
it); the next ones (``--repeats``, default 3) find what it left, and the table gives their median and range. The
jobs: a loaded fit's posterior predictive at one new point and its compute-optimal allocation; the loaded fit's
trust checks (``fit.check()``); ``bs.calibrate("chinchilla", num_simulations=20)``. The fit is one of the
simulated Chinchilla ladder (``bs.simulate_ladder``), made once in this process.

Run ``python benchmarks/new_process.py`` (about 4 minutes on 2 CPU cores); ``--json out.json`` keeps every number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CHILD = """
import os, sys, time, warnings
mode, job, path, cache = sys.argv[1:5]
os.environ["BAYESCALE_JAX_CACHE"] = "off" if mode == "earlier" else cache
import bayescale as bs
from bayescale import engine
if mode == "earlier":  # the cache comes on at the first fit, as before 2026-12-06
    os.environ["BAYESCALE_JAX_CACHE"] = cache
    engine._CACHE_STATE.update(dir=None, checked=False)
import pandas as pd
warnings.simplefilter("ignore")
t = time.perf_counter()
if job == "predict":
    fit = bs.load(path)
    fit.predict(pd.DataFrame({"n": [7e10], "d": [1.4e12]}))
    fit.optimal_allocation(c=5.76e23)
elif job == "check":
    bs.load(path).check()
else:
    bs.calibrate("chinchilla", num_simulations=20, seed=0)
print("DONE", time.time(), time.perf_counter() - t, flush=True)
"""

JOBS = {"predict": "load a fit; predict one new point; compute-optimal allocation",
        "check": "load a fit; fit.check()",
        "calibrate": "bs.calibrate('chinchilla', num_simulations=20)"}
MODES = {"earlier": "cache on from the first fit (earlier mode)", "today": "cache on from import (today)"}


def run_child(mode: str, job: str, fit_path: str, cache: str) -> dict:
    """One fresh process: seconds from launch to the job's end, and the job's own seconds."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    launch = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, job, fit_path, cache], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode:
        raise RuntimeError(f"{job} ({mode}) failed:\n{proc.stderr[-3000:]}")
    _, done, job_s = next(ln for ln in proc.stdout.splitlines() if ln.startswith("DONE ")).split()
    return {"launch_to_end_s": float(done) - launch, "job_s": float(job_s)}


def make_fit(path: str) -> None:
    import bayescale as bs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = bs.simulate_ladder("chinchilla", seed=1)
        bs.fit("chinchilla", runs, seed=0, progress_bar=False).save(path)


def measure(jobs: list[str], repeats: int, fit_path: str) -> list[dict]:
    rows = []
    for job in jobs:
        for mode in MODES:  # one after the other, each from an empty folder of its own
            with tempfile.TemporaryDirectory(prefix="bayescale-newproc-") as cache:
                first = run_child(mode, job, fit_path, cache)
                again = [run_child(mode, job, fit_path, cache) for _ in range(repeats)]
            walls = [a["launch_to_end_s"] for a in again]
            rows.append({"job": job, "mode": mode, "first_s": first["launch_to_end_s"],
                         "again_s": float(np.median(walls)), "again_range": (min(walls), max(walls)),
                         "again_job_s": float(np.median([a["job_s"] for a in again]))})
            print(f"  {job:9s} {mode:8s} first {first['launch_to_end_s']:.1f} s, again {rows[-1]['again_s']:.1f} s",
                  file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> None:
    print("\n| job | mode | first process, empty cache (s) | next processes, median (range) (s) | of which the job (s) "
          "| next processes: earlier / today |")
    print("|---|---|---|---|---|---|")
    by = {(r["job"], r["mode"]): r for r in rows}
    for r in rows:
        lo, hi = r["again_range"]
        ratio = by[(r["job"], "earlier")]["again_s"] / r["again_s"]
        print(f"| {JOBS[r['job']]} | {MODES[r['mode']]} | {r['first_s']:.1f} | {r['again_s']:.1f} ({lo:.1f}-{hi:.1f}) "
              f"| {r['again_job_s']:.2f} | {ratio:.2f}x |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", nargs="+", choices=list(JOBS), default=list(JOBS))
    parser.add_argument("--repeats", type=int, default=3, help="processes after the first, per job and mode")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bayescale-newproc-fit-") as tmp:
        os.environ.setdefault("BAYESCALE_JAX_CACHE", os.path.join(tmp, "jax"))  # this process's own, apart
        fit_path = os.path.join(tmp, "fit.nc")
        make_fit(fit_path)
        rows = measure(args.jobs, args.repeats, fit_path)
    table(rows)
    if args.json:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from fit_speed import machine_info

        args.json.write_text(json.dumps({**machine_info(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
