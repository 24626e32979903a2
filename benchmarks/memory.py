"""Memory benchmark: peak resident memory of bayescale's fits against its earlier mode, and the size of their results.

Problems (``benchmarks/problems.py``): **A** the Chinchilla law on the 240 real Chinchilla runs; **B** the same law
hierarchical over 8 groups x 60 runs; **C** 100 independent fits of 30 runs. Settings as in ``speed.py``: 4 chains x
1000 warm-up x 1000 draws (``--quick``: 2 x 300 x 300, and 10 fits in C, for a smoke test).

Every row runs in a fresh process, since a process's peak resident memory cannot be reset: it imports bayescale and
the problems, builds the data, notes its peak so far (``after imports``), runs its workload once with an empty
persistent compilation cache, keeps the results, and reports its peak again (``getrusage``'s ``ru_maxrss``, which
counts JAX's buffers and XLA's compiler on a CPU). Columns:

* **peak MiB**: the process's peak resident memory;
* **added MiB**: the peak minus the peak after imports, the memory the workload itself took (its compile, sampler
  and results); **added / baseline**: its ratio to the baseline row of the same problem, measured in the same run;
* **results MiB**: the fits' ``DataTree`` arrays held in memory afterwards (every group: posterior, sample stats,
  log-likelihood where kept, observed and constant data), summed over the problem's fits; **saved MiB**: the same
  fits saved with ``Fit.save`` (netCDF, zlib level 4; the earlier mode has no saved form).

Baselines: for A and B, bayescale's earlier mode (``numpyro.infer.MCMC``, chains over host devices, on the same
model and data; ``speed.numpyro_mcmc``); for C, a loop of ``bs.fit`` keeping every fit. Other rows: ``bs.fit`` in
single precision (``precision="float32"``) for A, ``bs.fit_many`` (NUTS, and ``sampler="chees"``) for C, and
``log_likelihood=False`` (no pointwise log-likelihood kept) for A, B and ChEES's C.

Run ``python benchmarks/memory.py`` (a few minutes on 2 CPU cores), ``--problems A`` for a subset, ``--quick`` for
a smoke test, ``--json out.json`` to keep every number.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Rows of each problem: (system, baseline?). The workloads are in :func:`run_workload`.
ROWS = {
    "A": [("numpyro MCMC parallel (earlier mode)", True), ("bs.fit", False), ("bs.fit, precision='float32'", False),
          ("bs.fit, log_likelihood=False", False)],
    "B": [("numpyro MCMC parallel (earlier mode)", True), ("bs.fit", False), ("bs.fit, log_likelihood=False", False)],
    "C": [("loop of bs.fit (every fit kept)", True), ("bs.fit_many", False),
          ("bs.fit_many, sampler='chees'", False), ("bs.fit_many, sampler='chees', log_likelihood=False", False)],
}
MIB = 2.0**20


def peak_mib() -> float:
    """This process's peak resident memory in MiB (``ru_maxrss`` is in KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024.0


def tree_mib(fits) -> float:
    """MiB of the arrays every fit's ``DataTree`` holds, all groups."""
    return sum(node.ds.nbytes for f in fits for node in f.tree.subtree) / MIB


def saved_mib(fits) -> float:
    """MiB of the fits saved with ``Fit.save`` into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return sum(f.save(Path(tmp) / f"fit_{i}.nc").stat().st_size for i, f in enumerate(fits)) / MIB


def run_workload(problem: str, system: str, quick: bool) -> dict:
    """Run one row's workload in this (fresh) process; return its memory and the fits' sizes."""
    sys.path.insert(0, str(HERE))
    import problems
    import speed

    import bayescale as bs

    opts = speed.settings(quick)
    runs = {"A": problems.problem_a, "B": problems.problem_b,
            "C": lambda: problems.problem_c(10 if quick else 100)}[problem]()
    grouped = {"groups": "group", "pool": problems.POOL_B} if problem == "B" else {}
    keep = {"log_likelihood": False} if "log_likelihood=False" in system else {}  # bs.fit's option, for its rows
    before = peak_mib()
    t0 = time.perf_counter()
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a quick run's short chains fail their checks; memory is measured all the same
        if system.startswith("numpyro MCMC"):
            speed.numpyro_mcmc(runs, "parallel", opts, **grouped)
        elif problem == "C":
            kw = {"likelihood": problems.LIKELIHOOD_C, "target_accept_prob": problems.TARGET_ACCEPT_C}
            if system.startswith("loop"):
                fits = [bs.fit("chinchilla", t.drop(columns="task"), seed=i, progress_bar=False, **kw, **opts, **keep)
                        for i, (_, t) in enumerate(runs.groupby("task", sort=False))]
            else:
                extra = speed.chees_settings(opts) if "chees" in system else opts
                fits = list(bs.fit_many("chinchilla", runs, by="task", seed=0, progress_bar=False, **kw,
                                        **extra, **keep).values())
        else:
            precision = "float32" if "float32" in system else "float64"
            fits = [bs.fit("chinchilla", runs, seed=0, progress_bar=False, precision=precision, **grouped, **opts,
                           **keep)]
    seconds = time.perf_counter() - t0
    peak = peak_mib()
    return {"problem": problem, "system": system, "peak_mib": peak, "imports_mib": before, "added_mib": peak - before,
            "results_mib": tree_mib(fits) if fits else None, "saved_mib": saved_mib(fits) if fits else None,
            "fits": len(fits), "seconds": seconds}


def child(problem: str, system: str, quick: bool) -> dict:
    """Run :func:`run_workload` in a fresh process with an empty persistent compilation cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "BAYESCALE_JAX_CACHE": cache}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", problem, system] + (["--quick"] if quick
                                                                                            else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        raise RuntimeError(f"{problem} / {system}: the child process failed:\n{proc.stderr[-3000:]}")
    return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])


def _f(v, spec: str = ".1f") -> str:
    return "—" if v is None else format(v, spec)


def table(problem: str, rows: list[dict]) -> None:
    """Print one problem's rows, each row's added memory as a ratio to the problem's baseline row."""
    base = next(r for r in rows if r.get("baseline"))
    print(f"\n## Problem {problem}  (baseline: {base['system']})")
    print("| system | peak MiB | after imports MiB | added MiB | added / baseline | results MiB | saved MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["added_mib"] / base["added_mib"] if base["added_mib"] > 0 else None
        print(f"| {r['system']} | {r['peak_mib']:.0f} | {r['imports_mib']:.0f} | {r['added_mib']:.0f} | "
              f"{_f(ratio, '.2f')}{'x' if ratio is not None else ''} | {_f(r['results_mib'])} | "
              f"{_f(r['saved_mib'])} |")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="+", default=["A", "B", "C"], choices=list(ROWS))
    parser.add_argument("--quick", action="store_true", help="2 chains x 300 x 300 and 10 fits in C: a smoke test")
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--child", nargs=2, metavar=("PROBLEM", "SYSTEM"), help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(run_workload(*args.child, args.quick)), flush=True)
        return 0
    sys.path.insert(0, str(HERE))
    import fit_speed

    info = fit_speed.machine_info()
    print(f"# bayescale memory benchmark — {info['date_utc']} UTC, {info['cpu_count']} CPUs ({info['processor']}); "
          f"each row a fresh process{' (--quick)' if args.quick else ''}", flush=True)
    results = {"machine": info, "quick": args.quick}
    for p in args.problems:
        rows = []
        for system, baseline in ROWS[p]:
            row = dict(child(p, system, args.quick), baseline=baseline)
            print(f"  done: {p} / {system}: peak {row['peak_mib']:.0f} MiB, {row['seconds']:.0f} s", flush=True)
            rows.append(row)
        results[p] = rows
        table(p, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
