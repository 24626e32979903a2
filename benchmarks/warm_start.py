"""NUTS's ``warm_start=True`` against its default warm-up, on every registered law, through ``bs.fit_many``.

For each law, ``--fits`` data sets simulated from it (``bs.simulate_ladder`` with its reference parameters, seeds
0, 1, ...) are fitted by ``bs.fit_many`` with NUTS's defaults (4 chains x 1000 warm-up x 1000 draws), once with
``warm_start=False`` (the baseline) and once with ``warm_start=True``: a first call of each, which compiles its
program (the persistent cache is off in this process, so every compile is cold), then a second call of each with
new seeds, nothing left to compile, the two modes in the opposite order to even out the machine's drift. Each
law is fitted without groups (hierarchical fits were measured by hand: ``docs/speed.md``).

Columns: the fits passing every check of ``Fit.diagnostics`` (R-hat, bulk and tail ESS, divergences, tree depth,
E-BFMI), the smallest bulk ESS over the fits, the warm-up's and all leapfrog steps (gradient evaluations), the
compile seconds of the first call (JAX's trace and XLA's compile, from ``jax.monitoring``), the second call's
wall and sampler seconds, and the warm start's ratios to the baseline in the same run: gradients (exact, the seeds
are fixed) and the second call's wall (as noisy as the machine).

Run ``python benchmarks/warm_start.py`` (every law, 8 fits each: about 9 minutes on 2 CPU cores),
``--laws chinchilla kaplan`` for a subset, ``--fits 4`` for a quicker run, ``--json out.json`` to keep the rows,
``--report out.json`` to print a saved run's table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import jax  # noqa: E402
import pandas as pd  # noqa: E402
from speed import Compiles, sampler_seconds  # noqa: E402

import bayescale as bs  # noqa: E402


def data_sets(law: str, fits: int) -> dict[str, pd.DataFrame]:
    """``fits`` simulated data sets of ``law``, each from its reference parameters."""
    return {f"t{s}": bs.simulate_ladder(law, seed=s) for s in range(fits)}


def timed(law: str, tables: dict, warm: bool, seed: int) -> dict:
    """One ``fit_many`` call: its wall, compile and sampler seconds, gradients and checks."""
    comp = Compiles()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failed checks are counted below, not printed
        fits = bs.fit_many(law, tables, seed=seed, warm_start=warm, progress_bar=False)
    wall = time.perf_counter() - t0
    diags = [f.diagnostics for f in fits.values()]
    return {"wall_s": wall, "compile_s": comp.seconds, "sampler_s": sampler_seconds(fits),
            "warmup_steps": sum(f.meta["sampler"]["warmup_steps"] for f in fits.values()),
            "steps": sum(f.meta["sampler"]["warmup_steps"] + f.meta["sampler"]["sample_steps"]
                         for f in fits.values()),
            "passed": sum(d.ok for d in diags), "fits": len(diags),
            "min_ess_bulk": min(d.min_ess_bulk for d in diags),
            "problems": sorted({p.split(":")[0] for d in diags for p in d.problems})}


def measure(law: str, fits: int) -> dict:
    tables = data_sets(law, fits)
    first = {warm: timed(law, tables, warm, seed=0) for warm in (False, True)}
    second = {warm: timed(law, tables, warm, seed=1) for warm in (True, False)}
    return {"law": law, "first": {str(k): v for k, v in first.items()},
            "second": {str(k): v for k, v in second.items()}}


def _cpu() -> str | None:
    """The CPU's model name (Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else (platform.processor() or None)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "—"


def _both(r: dict, key: str, field: str) -> float:
    """``field`` of mode ``key`` ("False" or "True") summed over the first and second calls."""
    return r["first"][key][field] + r["second"][key][field]


def table(rows: list[dict]) -> None:
    print("\n## NUTS's warm_start=True against its default warm-up (bs.fit_many, 4 chains x 1000 + 1000; "
          "gradients = leapfrog steps, first call and second call each)\n")
    print("| law | warm start | fits passing | min bulk ESS | warm-up gradients | all gradients | compile s | "
          "second call: wall s | sampler s | gradients / baseline's | warm-up's | second call's wall / "
          "baseline's |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for key, label in (("False", "no (baseline)"), ("True", "yes")):
            f, s = r["first"][key], r["second"][key]
            ratios = [_ratio(_both(r, key, k), _both(r, "False", k)) for k in ("steps", "warmup_steps")]
            ratios.append(_ratio(s["wall_s"], r["second"]["False"]["wall_s"]))
            print(f"| {r['law']} | {label} | {f['passed']}/{f['fits']}, {s['passed']}/{s['fits']} | "
                  f"{f['min_ess_bulk']:.0f}, {s['min_ess_bulk']:.0f} | {_both(r, key, 'warmup_steps'):,} | "
                  f"{_both(r, key, 'steps'):,} | {f['compile_s']:.1f} | {s['wall_s']:.1f} | {s['sampler_s']:.1f} | "
                  f"{' | '.join(ratios)} |")
    total = {k: sum(_both(r, k, "steps") for r in rows) for k in ("False", "True")}
    fails = {k: sum(_both(r, k, "fits") - _both(r, k, "passed") for r in rows) for k in ("False", "True")}
    print(f"\nall laws: the warm start's gradients {total['True'] / total['False']:.2f}x the baseline's "
          f"({total['True']:,} against {total['False']:,}); fits failing a check: {fails['True']} with it, "
          f"{fails['False']} without, of {sum(_both(r, 'False', 'fits') for r in rows)}")
    for r in rows:
        for key in ("False", "True"):
            probs = sorted({p for c in ("first", "second") for p in r[c][key]["problems"]})
            if probs:
                print(f"  {r['law']}, warm_start={key}: {'; '.join(probs)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--laws", nargs="+", help="laws to fit (default: every registered law)")
    p.add_argument("--fits", type=int, default=8, help="data sets per law (default 8)")
    p.add_argument("--json", help="write every row to this file")
    p.add_argument("--report", help="print the table of a saved --json run and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.report:
        table(json.loads(Path(args.report).read_text())["rows"])
        return 0
    os.environ.setdefault("BAYESCALE_JAX_CACHE", "off")  # every compile cold, as in speed.py's in-process rows
    laws = args.laws or bs.laws()
    rows = []
    for law in laws:
        t0 = time.perf_counter()
        rows.append(measure(law, args.fits))
        r = rows[-1]
        print(f"{law}: {time.perf_counter() - t0:.0f} s; gradients {r['first']['True']['steps']:,} against "
              f"{r['first']['False']['steps']:,}; passing {r['first']['True']['passed']} and "
              f"{r['first']['False']['passed']} of {args.fits}", flush=True)
        if args.json:  # after every law, so that a run cut short keeps what it measured
            meta = {"fits": args.fits, "backend": jax.default_backend(), "cpu": _cpu(),
                    "cores": os.cpu_count(), "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
            Path(args.json).write_text(json.dumps({**meta, "rows": rows}, indent=1))
    table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
