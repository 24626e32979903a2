"""Compile and sampling time of bayescale under two or more JAX releases, side by side in one run.

Why: a JAX release can change XLA's compile time a lot (jax/jaxlib 0.12.1 compiles bayescale's programs about 2x
slower on CPU than 0.12.0.1, 2026-12-06), and the test suite's time in CI is mostly compiling. ``pyproject.toml``
holds jax below such a release; this script is how to check a new one before lifting that bound.

For each version it makes a virtual environment (this checkout installed editable, then that jax and jaxlib over
it with ``--no-deps``, since ``pyproject.toml`` may exclude it), then runs the same work in a fresh process with an
empty JAX cache, the versions alternating for ``--repeats`` rounds so that the machine's drift is shared:

* a cold ``bs.fit`` of problem A (NUTS, 4 chains x 1000 x 1000; compiles its program), then a repeat fit;
* a cold ``bs.fit_many`` of 10 of problem C's fits with ``sampler="chees"``.

It prints one row per version: medians of the wall times and of the compile time by phase (``jax.monitoring``:
tracing, lowering to MLIR, XLA's backend compile), each with its ratio to the first version's::

    python benchmarks/jax_versions.py                      # 0.12.0.1 against 0.12.1, 2 rounds (about 5 minutes)
    python benchmarks/jax_versions.py --versions 0.12.0.1 0.13.0 --repeats 3 --json out.json

Needs ``BAYESCALE_DATA_DIR`` (or the user cache) for problem A's data and the package index for the installs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = {"trace": "/jax/core/compile/jaxpr_trace_duration",
          "lower": "/jax/core/compile/jaxpr_to_mlir_module_duration",
          "xla": "/jax/core/compile/backend_compile_duration"}
COLUMNS = ("fit_a_cold", "fit_a_repeat", "chees_c10_cold", "trace", "lower", "xla")


def _problems():
    """The benchmark problems' module (``benchmarks/problems.py``), imported where it lies."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import problems

    return problems


def child() -> None:
    """The work, in this process (a fresh one with an empty JAX cache); prints one JSON line."""
    import collections
    import warnings

    import jax
    import jax.monitoring

    spent = collections.Counter()
    jax.monitoring.register_event_duration_secs_listener(lambda name, secs, **_: spent.update({name: secs}))
    import bayescale as bs

    problems = _problems()
    warnings.simplefilter("ignore")
    out = {"jax": jax.__version__}
    runs = problems.problem_a(os.environ.get("BAYESCALE_DATA_DIR"))
    for key, seed in (("fit_a_cold", 0), ("fit_a_repeat", 1)):
        t0 = time.perf_counter()
        bs.fit("chinchilla", runs, seed=seed, progress_bar=False)
        out[key] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bs.fit_many("chinchilla", problems.problem_c(10), by="task", sampler="chees", progress_bar=False)
    out["chees_c10_cold"] = time.perf_counter() - t0
    out.update({k: spent[name] for k, name in PHASES.items()})
    print(json.dumps(out), flush=True)


def make_venv(where: Path, version: str) -> Path:
    """A venv at ``where`` with this checkout and jax/jaxlib ``version``; returns its Python."""
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", str(ROOT)], check=True)
        subprocess.run([*pip, "--no-deps", f"jax=={version}", f"jaxlib=={version}"], check=True)
    return python


def run_once(python: Path, cache: Path) -> dict:
    env = dict(os.environ, BAYESCALE_JAX_CACHE=str(cache), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([str(python), __file__, "--child"], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{python}: the work failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: dict[str, list[dict]]) -> str:
    first = next(iter(rows))
    med = {v: {c: statistics.median(r[c] for r in runs) for c in COLUMNS} for v, runs in rows.items()}
    lines = ["| jax | rounds | " + " | ".join(f"{c} s (ratio)" for c in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for v, m in med.items():
        cells = [f"{m[c]:.1f} ({m[c] / med[first][c]:.2f}x)" for c in COLUMNS]
        lines.append(f"| {v} | {len(rows[v])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", nargs="+", default=["0.12.0.1", "0.12.1"],
                        help="jax/jaxlib releases to compare; ratios are against the first")
    parser.add_argument("--repeats", type=int, default=2, help="rounds, the versions alternating in each")
    parser.add_argument("--venv-dir", type=Path, default=None,
                        help="keep the venvs here (reused when present); default: a temporary folder")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's numbers here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    _problems().problem_a(os.environ.get("BAYESCALE_DATA_DIR"))  # the data found (or an error naming the fix) first
    with tempfile.TemporaryDirectory(prefix="bayescale-jax-versions-") as tmp:
        base = args.venv_dir or Path(tmp)
        pythons = {v: make_venv(base / f"jax-{v}", v) for v in args.versions}
        rows: dict[str, list[dict]] = {v: [] for v in args.versions}
        for r in range(args.repeats):
            for v, python in pythons.items():
                rows[v].append(run_once(python, Path(tmp) / f"cache-{v}-{r}"))
                print(f"round {r + 1}, jax {v}: " + ", ".join(f"{c} {rows[v][-1][c]:.1f} s" for c in COLUMNS),
                      flush=True)
    print(f"\nbayescale under each JAX release ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; medians; "
          f"each run a fresh process with an empty JAX cache)\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                         "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
