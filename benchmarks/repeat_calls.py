"""Repeat calls in one process: programs kept by the process (today) against built again on every call (the
earlier mode).

Until 2026-12-06 ``bs.calibrate``, ``fit.check()``, ``fit.predict()`` and ``ChainFit.predict()`` built their NumPyro
model and wrapped NumPyro's ``Predictive`` (or their own jitted functions) anew on every call, so every call traced
and compiled its programs again, even on the same fit. Now the models and programs are kept per law, model
configuration and settings in the process (``bayescale.engine.reused``).

The earlier mode is emulated by ``engine.clear_programs()`` before each call: the call then builds its models and
programs again and traces and compiles them, as every call did before. Each job is called once to compile (its
first call, reported), then ``--repeats`` times in each mode, the modes interleaved; the table gives the median and
range of each mode and their ratio. The persistent compilation cache is on by default (as for users), in a fresh
folder of its own, so the earlier mode's compiles are mostly cache hits there, as they were for users;
``--cache off`` measures without it.

The jobs, on fits of simulated ladders made once in this process: ``bs.calibrate("chinchilla",
num_simulations=20)`` (a new seed each call); ``fit.check()`` of a Chinchilla fit (30 runs, 4 chains x 1000 +
1000); its ``fit.predict`` at ten points with noise and of the curve (``kind="mean"``); and ``ChainFit.predict`` of
a chain of the Chinchilla law and the sigmoid transfer at one point.

Run ``python benchmarks/repeat_calls.py`` (about 5 minutes on 2 CPU cores); ``--json out.json`` keeps every number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np


def _jobs():
    """Return ``{name: call}``: each call runs one job (fits made here first)."""
    import pandas as pd

    import bayescale as bs

    kw = {"progress_bar": False}
    fit = bs.fit("chinchilla", bs.simulate_ladder("chinchilla", noise_sd=0.01, seed=1), **kw)
    runs = bs.simulate_ladder("chinchilla", noise_sd=0.01, seed=2)
    rng = np.random.default_rng(0)
    runs["acc"] = 1 / (1 + np.exp(-(3 - 1.2 * runs["loss"]))) + 0.01 * rng.standard_normal(len(runs))
    chain_fit = bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), runs, **kw)
    at = pd.DataFrame({"n": np.geomspace(1e9, 1e11, 10), "d": np.geomspace(2e10, 2e12, 10)})
    seeds = iter(range(1, 10_000))
    return {
        "bs.calibrate('chinchilla', num_simulations=20)": lambda: bs.calibrate("chinchilla", num_simulations=20,
                                                                               seed=next(seeds)),
        "fit.check()": fit.check,
        "fit.predict(10 points)": lambda: fit.predict(at, seed=next(seeds)),
        "fit.predict(10 points, kind='mean')": lambda: fit.predict(at, kind="mean", seed=next(seeds)),
        "ChainFit.predict(1 point)": lambda: chain_fit.predict(at.iloc[:1], seed=next(seeds)),
    }


def measure(repeats: int) -> list[dict]:
    """Time each job's first call, then ``repeats`` calls in each mode (interleaved); one row per job."""
    from bayescale import engine

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in _jobs().items():
            t0 = time.perf_counter()
            call()
            first = time.perf_counter() - t0
            times = {"kept": [], "rebuilt": []}
            for _ in range(repeats):
                for mode in ("rebuilt", "kept"):
                    if mode == "rebuilt":
                        engine.clear_programs()
                    t0 = time.perf_counter()
                    call()
                    times[mode].append(time.perf_counter() - t0)
            rows.append({"job": name, "first_s": first, **{f"{m}_s": v for m, v in times.items()}})
            print(f"  {name}: done", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> None:
    """Print the table: each mode's median (range) and the ratio of the medians, earlier over today."""
    print("| job | first call (s) | built again each call, the earlier mode (s) | kept, today (s) | "
          "earlier / today |")
    print("|---|---|---|---|---|")
    for r in rows:
        old, new = np.median(r["rebuilt_s"]), np.median(r["kept_s"])
        cells = [f"{np.median(r[k]):.2f} ({min(r[k]):.2f}-{max(r[k]):.2f})" for k in ("rebuilt_s", "kept_s")]
        print(f"| {r['job']} | {r['first_s']:.2f} | {cells[0]} | {cells[1]} | {old / new:.1f}x |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="calls of each job in each mode (default 3)")
    parser.add_argument("--cache", choices=["on", "off"], default="on",
                        help="JAX's persistent compilation cache, in a fresh folder (default on, as for users)")
    parser.add_argument("--json", help="write every number to this file")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bayescale-repeat-") if args.cache == "on" else "off"
    os.environ["BAYESCALE_JAX_CACHE"] = folder  # before bayescale is imported, which reads it
    import jax

    print(f"# Repeat calls in one process — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, JAX {jax.__version__} {jax.default_backend()}, persistent cache {args.cache}, "
          f"{args.repeats} calls per mode", flush=True)
    rows = measure(args.repeats)
    table(rows)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cache": args.cache, "repeats": args.repeats, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
