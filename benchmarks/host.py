"""Main-process work per fit of ``bs.fit_many``: the bound on a GPU's throughput of many small fits.

On a GPU the device samples one call of fits while the host builds the call before, with ArviZ's diagnostics in
worker processes (``host_workers``). What stays in the main process is paid one fit after another: checking each
fit's runs, launching the calls, building each ``Fit`` (its DataTree and metadata) and judging its diagnostics.
One over its seconds per fit is the most fits per second that ``fit_many`` can deliver on this host, however fast
the device samples.

The script runs problem C's fits (30 simulated runs each, ``sampler="chees"``, its defaults) through ``fit_many``
twice per repeat:

* **measured**: with ``host_workers`` worker processes (1 by default) and the calls run one after another (each
  call sampled to the end before the one before it is built, so the sampler's threads do not share the cores with
  what is timed), summing the main thread's CPU time (``time.thread_time``) in each phase. The phases are
  bayescale's private functions, wrapped for the run: ``_split`` and ``_prepare`` (checking the runs, model data),
  ``_launch_batch`` (padding and starting a call), ``_make_fit`` (DataTree and metadata), ``_judge_all``
  (diagnostics from the statistics) and ``_host_stats`` (handing the draws to the workers); "other" is the rest
  (copying a call's results to the host, the progress bar, the end of ``fit_many``).
* **baseline**: ``fit_many`` as a user runs it on this machine (defaults, calls pipelined), timed by the wall.

The table gives each phase in ms of main-thread CPU per fit (median over the repeats, and the range), the
ceiling ``1000 / total`` fits/s, the baseline's fits/s and their ratio: the most a device could gain over this
CPU before the host binds it (issue 3's GPU goal asks 10x). Run ``python benchmarks/host.py`` (about a minute on
2 CPU cores) or ``--fits 20 --repeats 1`` for a smoke run.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import problems  # noqa: E402  (imports bayescale, which sets the host devices before JAX's backend starts)

import bayescale as bs  # noqa: E402

PHASES = {"_split": "splitting the table", "_prepare": "checking runs, model data", "_launch_batch": "launching calls",
          "_make_fit": "building each Fit (DataTree, metadata)", "_judge_all": "judging diagnostics",
          "_host_stats": "handing draws to the workers"}


def _fit_module():
    return sys.modules["bayescale.fit"]


class PhaseTimer:
    """Main-thread CPU seconds spent in each of :data:`PHASES` (outermost call only) while installed."""

    def __init__(self):
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self._saved: dict[str, object] = {}
        self._depth = 0

    def _wrap(self, name, fn):
        main = threading.main_thread()

        def timed(*a, **k):
            if threading.current_thread() is not main or self._depth:
                return fn(*a, **k)
            self._depth += 1
            start = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[name] += time.thread_time() - start
                self._depth -= 1

        return timed

    def __enter__(self):
        fm = _fit_module()
        for name in PHASES:
            self._saved[name] = getattr(fm, name)
            setattr(fm, name, self._wrap(name, self._saved[name]))
        self._saved["_pipelined"] = fm._pipelined
        fm._pipelined = _one_after_another
        return self

    def __exit__(self, *exc):
        fm = _fit_module()
        for name, fn in self._saved.items():
            setattr(fm, name, fn)


def _one_after_another(batches, args, host_workers=0):
    """``fit_many``'s calls without overlap: each call sampled to its end, then built."""
    fm = _fit_module()
    fm._warm_host_workers(host_workers)
    for b in batches:
        launched = fm._launch_batch(*args(b))
        launched.pending.result()
        yield b, fm._build_fits(launched, host_workers)


def measure(num_fits: int, workers: int, repeats: int) -> dict:
    runs = problems.problem_c(num_fits)
    kw = dict(likelihood=problems.LIKELIHOOD_C, target_accept_prob=problems.TARGET_ACCEPT_C, sampler="chees",
              fallback=False, progress_bar=False, seed=1)
    out = {"fits": num_fits, "host_workers": workers, "phases": [], "baseline_s": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bs.fit_many("chinchilla", runs, by="task", host_workers=workers, **kw)  # compile (or load) and start workers
        for _ in range(repeats):
            t0 = time.perf_counter()
            bs.fit_many("chinchilla", runs, by="task", **kw)
            out["baseline_s"].append(time.perf_counter() - t0)
            with PhaseTimer() as timer:
                start = time.thread_time()
                bs.fit_many("chinchilla", runs, by="task", host_workers=workers, **kw)
                total = time.thread_time() - start
            phases = dict(timer.seconds)
            phases["other"] = total - sum(phases.values())
            out["phases"].append(phases)
    return out


def table(result: dict) -> None:
    """Print the phases' ms per fit, the ceiling they set and its ratio to the baseline's fits/s."""
    n = result["fits"]
    runs = result["phases"]
    names = [*PHASES, "other"]
    print(f"\n## Main-process CPU per fit of bs.fit_many ({n} fits of problem C, sampler='chees', "
          f"host_workers={result['host_workers']}, calls one after another; {len(runs)} repeat(s))\n")
    print("| phase | ms per fit (median) | range | share |")
    print("|---|---|---|---|")
    totals = [1e3 * sum(r.values()) / n for r in runs]
    total = statistics.median(totals)
    for name in names:
        ms = [1e3 * r.get(name, 0.0) / n for r in runs]
        med = statistics.median(ms)
        label = PHASES.get(name, "other (results to the host, progress, the end of fit_many)")
        print(f"| {label} | {med:.2f} | {min(ms):.2f}-{max(ms):.2f} | {100 * med / total:.0f}% |")
    print(f"| **total** | **{total:.2f}** | {min(totals):.2f}-{max(totals):.2f} | 100% |")
    ceiling = 1e3 / total
    base = [n / s for s in result["baseline_s"]]
    cpu = statistics.median(base)
    print(f"\nceiling set by the main process: {ceiling:.0f} fits/s; this CPU's fit_many with its defaults "
          f"(baseline, same run): {cpu:.1f} fits/s ({min(base):.1f}-{max(base):.1f}); ceiling / baseline "
          f"{ceiling / cpu:.1f}x (issue 3's GPU goal: 10x)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fits", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="host_workers of the measured run (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the measurements to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = measure(args.fits, args.workers, args.repeats)
    table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
