"""Validated run tables: every problem with a table of runs is found before anything reaches JAX.

All errors are collected and raised together as one :class:`RunTableError`; doubtful but usable input gives a
:class:`DataWarning`. The caller's frame is never modified.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayescale.law import Law, get_law

__all__ = ["RunTable", "RunTableError", "DataWarning", "validate_runs", "parse_size"]


class RunTableError(ValueError):
    """A table of runs cannot be fitted; the message lists every problem found, with rows and fixes."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) with the runs table:\n  - " + "\n  - ".join(self.problems)
        )


class DataWarning(UserWarning):
    """The runs can be fitted, but something about them deserves attention."""


_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_SIZE_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMbBgGtT]?)\s*$")
_UNIT_WORDS = {"n": "model sizes", "d": "token counts", "c": "compute budgets", "u": "unique-token counts"}


def parse_size(value) -> float:
    """Parse a size such as ``"7B"``, ``"350M"``, ``"1.5T"``, ``"20k"`` or ``3e9`` into a float.

    Parameters
    ----------
    value : str or number

    Returns
    -------
    float
        ``nan`` when the value cannot be parsed.

    Examples
    --------
    >>> parse_size("350M")
    350000000.0
    """
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _SIZE_RE.match(value.replace(",", "").replace("_", ""))
        if match:
            return float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    return float("nan")


def _rows(labels: Iterable, limit: int = 8) -> str:
    labels = list(labels)
    shown = ", ".join(str(x) for x in labels[:limit])
    more = f", ... ({len(labels) - limit} more)" if len(labels) > limit else ""
    return f"row{'s' if len(labels) > 1 else ''} {shown}{more}"


@dataclass(frozen=True)
class RunTable:
    """A validated, cleaned copy of a runs table.

    Attributes
    ----------
    frame : pandas.DataFrame
        Input columns, the target (if present), group and noise columns, as float64 (groups as strings), with the
        caller's row labels.
    law : Law
    groups : tuple of str
    noise : str or None
    notes : tuple of str
        What validation did or noticed (dropped duplicates, replicates kept, warnings), recorded in a fit's attrs.
    """

    frame: pd.DataFrame
    law: Law
    groups: tuple[str, ...] = ()
    noise: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_target(self) -> bool:
        """Whether the table carries the law's target column."""
        return self.law.target in self.frame.columns

    def __len__(self) -> int:
        return len(self.frame)


def _numeric(col: pd.Series, name: str, problems: list[str]) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        problems.append(f"column {name!r} is boolean; it must hold numbers")
        return pd.Series(np.nan, index=col.index)
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    parsed = col.map(parse_size).astype("float64")
    bad = parsed.isna() & col.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in col[bad].head(3))
        problems.append(
            f"column {name!r} has {int(bad.sum())} non-numeric value(s) ({_rows(col.index[bad])}: {examples}); "
            "use numbers or sizes like '350M', '7B', '1.5T'"
        )
    return parsed


def validate_runs(
    runs,
    law: Law | str,
    *,
    groups: Sequence[str] | str | None = None,
    noise: str | None = None,
    require_target: bool = True,
    flops_per_param_token: float = 6.0,
) -> RunTable:
    """Check a table of runs against a law and return a cleaned copy.

    Parameters
    ----------
    runs : pandas.DataFrame or mapping of columns
        One row per training run, with the law's inputs and target as columns.
    law : Law or str
        The law (or a registered name).
    groups : str or sequence of str, optional
        Group columns of a hierarchical fit.
    noise : str, optional
        Column with a known per-run noise sd on the log-target scale.
    require_target : bool
        False for prediction tables, which need only the inputs (and groups); fit-only checks are skipped.
    flops_per_param_token : float
        The FLOPs convention ``c = k n d`` used to check a compute column against ``n`` and ``d``.

    Returns
    -------
    RunTable

    Raises
    ------
    RunTableError
        With every problem found: missing columns (with close matches), NaN or infinite values, non-positive sizes
        or losses, unparseable cells, fewer than 3 runs, empty group labels.

    Warns
    -----
    DataWarning
        Exact duplicate runs (dropped and recorded), groups with one run, inputs spanning under one decade, sizes
        that look like millions or billions, fewer tokens than parameters, a compute column inconsistent with
        ``k n d``.

    Examples
    --------
    >>> import pandas as pd, bayescale as bs
    >>> runs = pd.DataFrame({"c": [1e18, 1e19, 1e20, 1e21], "loss": [3.5, 3.1, 2.8, 2.6]})
    >>> len(bs.validate_runs(runs, "power_law_c"))
    4
    """
    law = get_law(law)
    if isinstance(runs, pd.DataFrame):
        frame = runs.copy()
    elif isinstance(runs, dict):
        frame = pd.DataFrame(runs)
    else:
        raise TypeError(f"runs must be a pandas DataFrame (one row per run), got {type(runs).__name__}")
    groups = (groups,) if isinstance(groups, str) else tuple(groups or ())
    problems: list[str] = []
    notes: list[str] = []

    def warn(msg: str) -> None:
        notes.append(msg)
        warnings.warn(msg, DataWarning, stacklevel=3)

    needed = list(law.inputs) + ([law.target] if require_target else []) + list(groups) + ([noise] if noise else [])
    missing = [c for c in needed if c not in frame.columns]
    for col in missing:
        role = (
            f"input [{law.inputs[col]}]" if col in law.inputs else
            "target" if col == law.target else "group column" if col in groups else "noise column"
        )
        lower = {str(c).lower(): c for c in frame.columns}
        close = difflib.get_close_matches(col, [str(c) for c in frame.columns], n=3, cutoff=0.6)
        if col.lower() in lower and lower[col.lower()] not in close:
            close.insert(0, lower[col.lower()])
        hint = (
            f"; did you mean {', '.join(map(repr, close))}? Rename with runs.rename(columns={{{close[0]!r}: {col!r}}})"
            if close else f"; the table has columns {list(frame.columns)[:12]}"
        )
        problems.append(f"column {col!r} ({role} of law {law.name!r}) is missing{hint}")
    if missing:
        raise RunTableError(problems)

    out = pd.DataFrame(index=frame.index)
    numeric_cols = list(law.inputs) + ([law.target] if require_target else []) + ([noise] if noise else [])
    for col in numeric_cols:
        out[col] = _numeric(frame[col], col, problems)
    for col in list(law.inputs) + ([law.target] if require_target else []):
        values = out[col]
        unparsed = values.isna() & frame[col].notna() & ~pd.api.types.is_numeric_dtype(frame[col])
        bad = ~np.isfinite(values) & ~unparsed
        if bad.any():
            problems.append(
                f"column {col!r} has {int(bad.sum())} missing or infinite value(s) ({_rows(out.index[bad])}); "
                "drop those runs or fill them in"
            )
        nonpos = np.isfinite(values) & (values <= 0)
        positive_needed = col in law.inputs or law.positive
        if positive_needed and nonpos.any():
            what = _UNIT_WORDS.get(col, f"values of {col!r}")
            why = " (the likelihood is on the log of the target)" if col == law.target else ""
            problems.append(
                f"column {col!r} has {int(nonpos.sum())} non-positive value(s) ({_rows(out.index[nonpos])}); "
                f"{what} must be > 0{why}"
            )
    if noise:
        bad = ~(np.isfinite(out[noise]) & (out[noise] > 0))
        if bad.any():
            problems.append(
                f"noise column {noise!r} has {int(bad.sum())} missing, infinite or non-positive value(s) "
                f"({_rows(out.index[bad])}); it is a known sd of the log target and must be > 0"
            )
    for g in groups:
        labels = frame[g]
        empty = labels.isna()
        if empty.any():
            problems.append(
                f"group column {g!r} has {int(empty.sum())} empty label(s) ({_rows(labels.index[empty])}); "
                "give every run a group"
            )
        out[g] = labels.astype("string").astype(object)
    if require_target and len(out) < 3:
        problems.append(f"only {len(out)} run(s); a law needs at least 3 runs to fit")
    if problems:
        raise RunTableError(problems)

    # ---------------------------------------------------------------------------------- warnings and clean-up
    if require_target:
        dup = out.duplicated(keep="first")
        if dup.any():
            warn(
                f"{int(dup.sum())} exact duplicate run(s) ({_rows(out.index[dup])}) were dropped; each run is "
                "counted once"
            )
            out = out.loc[~dup]
        key = list(law.inputs) + list(groups)
        rep = out.duplicated(subset=key, keep=False)
        if rep.any():
            notes.append(
                f"{int(rep.sum())} runs share their inputs with another run but differ in {law.target!r} "
                f"({_rows(out.index[rep])}); kept as replicates (they inform the noise level)"
            )
        if groups:
            sizes = out.groupby(list(groups), sort=False, observed=True).size()
            single = sizes[sizes == 1]
            if len(single):
                names = ", ".join(str(k) for k in single.index[:8])
                warn(
                    f"{len(single)} group(s) have only one run ({names}); their group-level parameters come from "
                    "the population prior"
                )
        for col in law.inputs:
            lo, hi = out[col].min(), out[col].max()
            if hi / lo < 10:
                warn(
                    f"input {col!r} spans under one decade ({lo:.3g} to {hi:.3g}); the floor and the coefficient "
                    "(E and A) are not identifiable from such a range and their posteriors will follow the prior"
                )
    for col, floor in (("n", 1e5), ("d", 1e5), ("u", 1e5)):
        if col in out.columns and out[col].max() < floor:
            warn(
                f"column {col!r} looks like it is in millions or billions (largest value {out[col].max():.4g}); "
                f"{_UNIT_WORDS[col]} are raw counts: multiply, e.g. runs[{col!r}] * 1e6 for millions or * 1e9 "
                "for billions"
            )
    n = out["n"] if "n" in out.columns else (_numeric(frame["n"], "n", []) if "n" in frame.columns else None)
    d = out["d"] if "d" in out.columns else (_numeric(frame["d"], "d", []) if "d" in frame.columns else None)
    if n is not None and d is not None:
        few = d < n
        if few.any():
            warn(
                f"{int(few.sum())} run(s) have fewer training tokens than parameters ({_rows(out.index[few])}); "
                "check that 'd' is in tokens and 'n' in parameters"
            )
        if "c" in frame.columns:
            c = _numeric(frame["c"], "c", []).reindex(out.index)
            ratio = c / (flops_per_param_token * n.reindex(out.index) * d.reindex(out.index))
            off = np.isfinite(ratio) & ((ratio > 1.5) | (ratio < 1 / 1.5))
            if off.any():
                warn(
                    f"column 'c' is inconsistent with {flops_per_param_token:g}*n*d in {int(off.sum())} run(s) "
                    f"({_rows(out.index[off])}; ratio {float(ratio[off].median()):.3g}); check the units or pass "
                    "flops_per_param_token= for another FLOPs convention"
                )
    return RunTable(frame=out, law=law, groups=groups, noise=noise, notes=tuple(notes))
