"""Shared command-line scaffolding of the case-study scripts (``case_studies/<name>/run.py``)."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one plain line, ``warning: <message> [<category>]``.

    A ``warnings.showwarning`` for scripts and the command line: Python's default names the file and line that
    triggered the warning and prints that source line, which in a command is the CLI library's own code.
    """
    print(f"warning: {message} [{category.__name__}]", file=sys.stderr if file is None else file, flush=True)


def case_study_parser(doc: str, out: str, smoke: str) -> argparse.ArgumentParser:
    """Return a parser with the options every case study has: ``--out DIR``, ``--smoke`` and ``--seed``.

    ``doc`` is the script's docstring (its first line describes the script), ``out`` the default output folder and
    ``smoke`` what ``--smoke`` shrinks. Scripts add their own options before calling :func:`case_study_args`.
    """
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(out), help=f"output folder (default {out})")
    ap.add_argument("--smoke", action="store_true", help=smoke)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def case_study_args(ap: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the arguments, print warnings as plain lines (:func:`show_warning`) and create the output folder."""
    args = ap.parse_args(argv)
    warnings.showwarning = show_warning
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def real_chinchilla_runs() -> tuple:
    """Return the Chinchilla runs as :func:`bayescale.demo.load_runs` does (``runs, dropped``), or exit.

    Exits when only the demo's simulated fallback is available: a case study's answers are about the real data.
    """
    import bayescale as bs
    from bayescale.demo import load_runs

    try:
        runs, dropped, _ = load_runs(fallback=False)
    except bs.datasets.DatasetNotFoundError as exc:
        raise SystemExit(f"the Chinchilla data are not reachable: set BAYESCALE_DATA_DIR to a folder holding them, or "
                         f"let bayescale download them (this case study answers questions about the real runs; "
                         f"`bayescale demo` runs on a simulated ladder when it must, and says so).\n{exc}") from None
    return runs, dropped
