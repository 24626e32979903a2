"""One option of NUTS's ``bs.fit_many`` against its baseline, on every registered law.

``--option warm_start``: ``warm_start=True`` against the default warm-up, both without the refit of failed fits
(``fallback=False``), so that each measures the sampler alone. ``--option fallback``: ``fallback=True`` (a fit that
fails a check is refitted at ``target_accept_prob=0.99`` and the refit kept) against ``fallback=False``. ``--option
level``: a law's ``level`` terms sampled as their total and shares (``Law.level``, the default since 2026-12-06)
against one site per parameter (bayescale's earlier mode), both with ``fallback=False``; on the laws that declare a
level (the others are the same program either way). ``--option shrinkage``: ``mass_shrinkage=1e-5`` against
NumPyro's 1e-3, both with ``fallback=False``.

For each law, ``--fits`` data sets simulated from it (``bs.simulate_ladder`` with its reference parameters, seeds
0, 1, ...) are fitted by ``bs.fit_many`` with NUTS's defaults (4 chains x 1000 warm-up x 1000 draws), once with the
option off (the baseline) and once with it on: a first call of each, which compiles its program (the persistent
cache is off in this process, so every compile is cold), then a second call of each with new seeds, nothing left
to compile, the two modes in the opposite order to even out the machine's drift. Each law is fitted without
groups (hierarchical fits were measured by hand: ``benchmarks/HISTORY.md``, in its appendix).

Columns: the fits passing every check of ``Fit.diagnostics`` (R-hat, bulk and tail ESS, divergences, tree depth,
E-BFMI), the smallest bulk ESS over the fits, the warm-up's and all leapfrog steps (gradient evaluations), the
compile seconds of the first call (JAX's trace and XLA's compile, from ``jax.monitoring``), the second call's
wall and sampler seconds, and the option's ratios to the baseline in the same run: gradients (exact, the seeds
are fixed) and the second call's wall (as noisy as the machine). A refitted fit's gradients include its failed
first fit's.

Run ``python benchmarks/every_law.py --option warm_start`` or ``--option fallback`` (every law, 8 fits each:
about 9 minutes on 2 CPU cores), ``--option level`` (the 8 laws with a level), ``--laws chinchilla kaplan`` for a
subset, ``--fits 4`` for a quicker run, ``--json out.json`` to keep the rows, ``--report out.json`` to print a saved
run's table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if __name__ == "__main__":  # every compile cold, as in speed.py's in-process rows: off before `import bayescale`
    os.environ.setdefault("BAYESCALE_JAX_CACHE", "off")

import jax  # noqa: E402
import pandas as pd  # noqa: E402
from fit_speed import cpu_model  # noqa: E402
from speed import Compiles, sampler_seconds  # noqa: E402

import bayescale as bs  # noqa: E402


def data_sets(law: str, fits: int) -> dict[str, pd.DataFrame]:
    """``fits`` simulated data sets of ``law``, each from its reference parameters."""
    return {f"t{s}": bs.simulate_ladder(law, seed=s) for s in range(fits)}


#: The options compared: ``fit_many``'s keyword arguments with the option off (the baseline) and on.
OPTIONS = {
    "warm_start": ({"warm_start": False, "fallback": False}, {"warm_start": True, "fallback": False}),
    "fallback": ({"fallback": False}, {"fallback": True}),
    "level": ({"fallback": False, "level": False}, {"fallback": False}),
    "shrinkage": ({"fallback": False}, {"fallback": False, "mass_shrinkage": 1e-5}),
}


@contextlib.contextmanager
def _without_level(on: bool):
    """With ``on`` False, fits sample each parameter as its own site, as before ``Law.level`` (2026-12-06)."""
    fit_module = importlib.import_module("bayescale.fit")
    resolve = fit_module.resolve_level
    if not on:
        fit_module.resolve_level = lambda law, pool: ()
    try:
        yield
    finally:
        fit_module.resolve_level = resolve


def _steps(fit, key: str) -> int:
    """The fit's leapfrog steps of ``key`` ("warmup_steps" or "sample_steps"), with those of the fits it replaced."""
    return fit.meta["sampler"][key] + sum(a[key] for a in fit.meta.get("fallback_from", []))


def timed(law: str, tables: dict, kwargs: dict, seed: int) -> dict:
    """One ``fit_many`` call: its wall, compile and sampler seconds, gradients and checks."""
    kwargs = dict(kwargs)
    level = kwargs.pop("level", True)
    comp = Compiles()
    t0 = time.perf_counter()
    with warnings.catch_warnings(), _without_level(level):
        warnings.simplefilter("ignore")  # failed checks are counted below, not printed
        fits = bs.fit_many(law, tables, seed=seed, progress_bar=False, **kwargs)
    wall = time.perf_counter() - t0
    diags = [f.diagnostics for f in fits.values()]
    replaced = [a for f in fits.values() for a in f.meta.get("fallback_from", [])]
    return {"wall_s": wall, "compile_s": comp.seconds,
            "sampler_s": sampler_seconds(fits) + sum(a["sampler_seconds"] for a in replaced),
            "warmup_steps": sum(_steps(f, "warmup_steps") for f in fits.values()),
            "steps": sum(_steps(f, "warmup_steps") + _steps(f, "sample_steps") for f in fits.values()),
            "refitted": sum("fallback_from" in f.meta for f in fits.values()),
            "passed": sum(d.ok for d in diags), "fits": len(diags),
            "min_ess_bulk": min(d.min_ess_bulk for d in diags),
            "problems": sorted({p.split(":")[0] for d in diags for p in d.problems})}


def measure(law: str, fits: int, option: str) -> dict:
    tables = data_sets(law, fits)
    modes = dict(zip((False, True), OPTIONS[option], strict=True))
    first = {on: timed(law, tables, modes[on], seed=0) for on in (False, True)}
    second = {on: timed(law, tables, modes[on], seed=1) for on in (True, False)}
    return {"law": law, "first": {str(k): v for k, v in first.items()},
            "second": {str(k): v for k, v in second.items()}}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "—"


def _both(r: dict, key: str, field: str) -> float:
    """``field`` of mode ``key`` ("False" or "True") summed over the first and second calls."""
    return r["first"][key][field] + r["second"][key][field]


#: Each option's table title.
TITLES = {"warm_start": "NUTS's warm_start=True against its default warm-up",
          "fallback": "fallback=True (failed fits refitted at target_accept_prob 0.99) against fallback=False",
          "level": "a law's level terms as their total and shares (Law.level) against one site per parameter",
          "shrinkage": "mass_shrinkage=1e-5 against NumPyro's 1e-3"}


def table(rows: list[dict], option: str = "warm_start") -> None:
    print(f"\n## {TITLES[option]} (bs.fit_many, NUTS, 4 chains x 1000 + 1000; gradients = leapfrog steps, first "
          "call and second call each)\n")
    print(f"| law | {option} | fits passing | fits refitted | min bulk ESS | warm-up gradients | all gradients | "
          "compile s | second call: wall s | sampler s | gradients / baseline's | warm-up's | second call's wall / "
          "baseline's |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for key, label in (("False", "off (baseline)"), ("True", "on")):
            f, s = r["first"][key], r["second"][key]
            ratios = [_ratio(_both(r, key, k), _both(r, "False", k)) for k in ("steps", "warmup_steps")]
            ratios.append(_ratio(s["wall_s"], r["second"]["False"]["wall_s"]))
            print(f"| {r['law']} | {label} | {f['passed']}/{f['fits']}, {s['passed']}/{s['fits']} | "
                  f"{f.get('refitted', 0)}, {s.get('refitted', 0)} | "
                  f"{f['min_ess_bulk']:.0f}, {s['min_ess_bulk']:.0f} | {_both(r, key, 'warmup_steps'):,} | "
                  f"{_both(r, key, 'steps'):,} | {f['compile_s']:.1f} | {s['wall_s']:.1f} | {s['sampler_s']:.1f} | "
                  f"{' | '.join(ratios)} |")
    total = {k: sum(_both(r, k, "steps") for r in rows) for k in ("False", "True")}
    fails = {k: sum(_both(r, k, "fits") - _both(r, k, "passed") for r in rows) for k in ("False", "True")}
    print(f"\nall laws: {option} on took {total['True'] / total['False']:.2f}x the baseline's gradients "
          f"({total['True']:,} against {total['False']:,}); fits failing a check: {fails['True']} with it on, "
          f"{fails['False']} off, of {sum(_both(r, 'False', 'fits') for r in rows)}")
    for r in rows:
        for key in ("False", "True"):
            probs = sorted({p for c in ("first", "second") for p in r[c][key]["problems"]})
            if probs:
                print(f"  {r['law']}, {option}={key}: {'; '.join(probs)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--option", choices=sorted(OPTIONS), default="warm_start",
                   help="the option to compare with its baseline (default warm_start)")
    p.add_argument("--laws", nargs="+", help="laws to fit (default: every registered law)")
    p.add_argument("--fits", type=int, default=8, help="data sets per law (default 8)")
    p.add_argument("--json", help="write every row to this file")
    p.add_argument("--report", help="print the table of a saved --json run and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        table(saved["rows"], saved.get("option", "warm_start"))  # runs saved before 2026-12-05 22:00 UTC: warm_start
        return 0
    laws = args.laws or [n for n in bs.laws() if args.option != "level" or bs.get_law(n).level]
    rows = []
    for law in laws:
        t0 = time.perf_counter()
        rows.append(measure(law, args.fits, args.option))
        r = rows[-1]
        print(f"{law}: {time.perf_counter() - t0:.0f} s; gradients {r['first']['True']['steps']:,} against "
              f"{r['first']['False']['steps']:,}; passing {r['first']['True']['passed']} and "
              f"{r['first']['False']['passed']} of {args.fits}", flush=True)
        if args.json:  # after every law, so that a run cut short keeps what it measured
            meta = {"option": args.option, "fits": args.fits, "backend": jax.default_backend(), "cpu": cpu_model(),
                    "cores": os.cpu_count(), "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
            Path(args.json).write_text(json.dumps({**meta, "rows": rows}, indent=1))
    table(rows, args.option)
    return 0


if __name__ == "__main__":
    sys.exit(main())
