"""Shared command-line scaffolding of the case-study scripts (``case_studies/<name>/run.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


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
    """Parse the arguments and create the output folder."""
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args
