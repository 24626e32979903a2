"""Validated run tables: every problem with a table of runs is found before anything reaches JAX.

All errors are collected and raised together as one :class:`RunTableError`; doubtful but usable input gives a
:class:`DataWarning`. The caller's frame is never modified.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.law import Law, get_law

#: Warnings point at the first caller outside bayescale (``bs.fit(...)`` in the user's script), not at internals.
_PACKAGE_DIRS = (str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent / "models"))

__all__ = ["RunTable", "RunTableError", "DataWarning", "validate_runs", "parse_size", "pareto_front"]


class RunTableError(ValueError):
    """A table of runs cannot be fitted; the message lists every problem found, with rows and fixes."""

    def __init__(self, problems: Sequence[str], table: str = "the runs table"):
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} problem(s) with {table}:\n  - " + "\n  - ".join(self.problems))


class DataWarning(UserWarning):
    """The runs can be fitted, but something about them deserves attention."""


_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_SIZE_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMbBgGtT]?)\s*$")
#: The smallest size (parameters, tokens) a run takes without a warning that it looks like millions or billions;
#: predictions, budgets' fixed sizes and next_run's candidates are checked against it too.
SIZE_FLOOR = 1e5
_UNIT_WORDS = {"n": "model sizes", "d": "token counts", "c": "compute budgets", "u": "unique-token counts"}
# Column names other tools use for the standard columns (matched case-insensitively) -> hints for a missing column.
_ALIASES = {
    "n": ("params", "parameters", "n_params", "num_params", "model_size", "size", "non_embedding_params"),
    "d": ("tokens", "n_tokens", "num_tokens", "train_tokens", "training_tokens", "data", "data_size"),
    "c": ("flops", "compute", "train_flops", "training_flops"),
    "u": ("unique_tokens", "unique", "n_unique", "unique_data"),
    "b": ("batch", "batch_size", "global_batch_size", "batch_tokens"),
    "loss": ("val_loss", "eval_loss", "validation_loss", "valid_loss", "test_loss", "train_loss", "final_loss"),
}


def parse_size(value, *, suffixes: bool = True) -> float:
    """Parse a size such as ``"7B"``, ``"350M"``, ``"1.5T"``, ``"20k"`` or ``3e9`` into a float.

    Parameters
    ----------
    value : str or number
    suffixes : bool
        Accept the suffixes k, M, B (or G) and T; False accepts plain numbers only (for losses and noise).

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
        if match and (suffixes or not match.group(2)):
            return float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    return float("nan")


def _positive_number(value, name: str, hint: str = "") -> float:
    """Return ``value`` as a float, or raise a ValueError naming ``name`` unless it is a finite number > 0."""
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a finite number > 0{hint}, got {value!r}")
    return float(value)


def _flag(value, name: str, optional: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is True or False (or None when ``optional``).

    A string such as ``"no"`` is refused: Python would take it as true.
    """
    if not (isinstance(value, (bool, np.bool_)) or (optional and value is None)):
        allowed = "True, False or None (its default)" if optional else "True or False"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


_FLOPS_HINT = " (FLOPs per parameter and token: 6 for a dense transformer's forward and backward pass)"


def _not_a_table(value, name: str = "runs") -> TypeError:
    """Return the error for a ``name`` argument that is not a DataFrame, with the fix for a Series (a row or column)."""
    hint = ""
    if isinstance(value, pd.Series):
        hint = (f"; a Series is one row or one column of a table: pass one run as {name}.iloc[[i]] of the table (or "
                "series.to_frame().T), and a column with the rest of its table")
    return TypeError(f"{name} must be a pandas DataFrame (one row per run), got {type(value).__name__}{hint}")


def _has_suffix(value) -> bool:
    """Whether ``value`` is text ending in a letter: a size with a suffix ('7B'), read as a raw count."""
    return isinstance(value, str) and value.strip()[-1:].isalpha()


def _size_value(value, name: str, scale: float = 1.0) -> float:
    """Return a size argument (a number, or text such as ``"7B"``) as a float > 0, or raise a ValueError naming it.

    ``scale``: raw counts per unit of the law's input (:meth:`~bayescale.Law.unit_scale`), which a size with a
    suffix is divided by ('70M' is 70 of a law's millions).
    """
    parsed = parse_size(value) / (scale if _has_suffix(value) else 1.0) if isinstance(value, str) else value
    if isinstance(value, str) and not np.isfinite(parsed):
        raise ValueError(f"{name}={value!r} is not a size; give a number or a size like '350M', '7B', '1.5T'")
    return _positive_number(parsed, name)


#: Compute budgets below this many FLOPs are more likely in other units (PF-days) than a real training run's.
_FLOPS_FLOOR = 1e10
#: Losses above this are more likely perplexities than cross-entropies in nats (log(5e8) = 20.0).
_LOSS_CEILING = 20.0
#: Words in the names of columns that tell replicate runs apart without making them families
#: (:func:`_grouping_column`): ``seed``, ``run_id``, ``replicate``, ``trial``, ...
_REPLICATE_WORDS = frozenset({"seed", "seeds", "rep", "replicate", "replica", "run", "id", "uid", "index", "idx",
                              "trial", "date", "time", "timestamp", "step", "ckpt", "checkpoint"})


def _grouping_column(frame: pd.DataFrame, out: pd.DataFrame, kept: np.ndarray, key: Sequence[str],
                     used: Sequence[str]) -> str | None:
    """Return a label column that tells replicate runs apart as a forgotten ``groups=`` column would, else None.

    The column is one of ``frame``'s that the law does not read (``used``), and it tells apart every set of runs
    sharing ``key``. Only text, categorical or integer columns with 2 to a third of the runs' distinct values
    count, and not those whose name says they tell replicates apart (a seed, a run id: :data:`_REPLICATE_WORDS`).
    """
    for col in frame.columns:
        if col in used or not isinstance(col, str) or _REPLICATE_WORDS & set(re.split(r"[^a-z0-9]+", col.lower())):
            continue
        values = frame[col]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
                or isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_integer_dtype(values)):
            continue
        labels = pd.Series(values.to_numpy()[kept])
        if not 2 <= labels.nunique() <= max(2, len(out) // 3):
            continue
        if not out[list(key)].assign(_label=labels.to_numpy()).duplicated(keep=False).any():
            return col
    return None


def _budgets(value, name: str) -> np.ndarray:
    """Return compute budgets as a 1-D float array of finite values > 0, or raise a ValueError naming ``name``.

    ``value`` is one number, text such as ``"5.76e23"`` or ``"100T"``, or a list of them; unit warnings are the
    caller's.
    """
    example = f"e.g. {name}=5.76e23 or {name}=[1e21, 1e22, 1e23] (FLOPs)"
    flat = np.asarray(value, dtype=object)
    if flat.ndim > 1:
        raise ValueError(f"{name} takes one budget or a flat list of budgets, got an array of shape {flat.shape}; "
                         f"{example}")
    items = flat.reshape(-1).tolist()
    budgets = np.array([parse_size(v) for v in items], dtype=float)
    bad = [v for v, b in zip(items, budgets, strict=True) if not (np.isfinite(b) and b > 0)]
    if not items or bad:
        raise ValueError(f"{name} must be compute budgets in FLOPs, each a finite number > 0 (at least one; text "
                         f"such as '5.76e23' or '100T' is read as a number), got {bad if items else value!r}; "
                         f"{example}")
    return budgets


def _warn_compute_units(budget: float) -> None:
    """Warn (DataWarning) when a compute budget (callers pass their least) is too small to be FLOPs (PF-days, say)."""
    if budget < _FLOPS_FLOOR:
        warnings.warn(f"compute {budget:.4g} does not look like FLOPs; compute budgets are raw FLOPs: from PF-days "
                      "multiply by 8.64e19", DataWarning, skip_file_prefixes=_PACKAGE_DIRS)


#: Matches a message that names rows as :func:`_rows` writes them ("row 5", "rows 2, 7").
_NAMES_ROWS = re.compile(r"\brows? ")


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


def _numeric(col: pd.Series, name: str, problems: list[str], *, suffixes: bool = True, scale: float = 1.0
             ) -> pd.Series:
    """Return ``col`` as float64, with a problem for each cell that does not parse.

    Sizes with suffixes ('7B') are parsed to raw counts, then divided by ``scale`` (the law's
    :meth:`~bayescale.Law.unit_scale`: '70M' is 70 in a column of millions).
    """
    if pd.api.types.is_bool_dtype(col):
        problems.append(f"column {name!r} is boolean; it must hold numbers")
        return pd.Series(np.nan, index=col.index)
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64")
    def one(v):
        return parse_size(v, suffixes=suffixes) / (scale if _has_suffix(v) else 1.0)

    parsed = col.map(one).astype("float64")
    bad = parsed.isna() & col.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in col[bad].head(3))
        fix = "use numbers or sizes like '350M', '7B', '1.5T'" if suffixes else "use plain numbers"
        problems.append(
            f"column {name!r} has {int(bad.sum())} non-numeric value(s) ({_rows(col.index[bad])}: {examples}); "
            f"{fix}"
        )
    return parsed


def _suggest(col: str, columns: Sequence) -> list[str]:
    """Columns of the table that probably mean ``col``: same name in another case, a known alias, a close spelling."""
    names = [str(c) for c in columns]
    lower = {c.strip().lower(): c for c in names}  # 'N ' (a header's stray space) is 'n' too
    close = [lower[col.lower()]] if col.lower() in lower else []
    close += [lower[a] for a in _ALIASES.get(col, ()) if a in lower]
    close += difflib.get_close_matches(col, names, n=3, cutoff=0.6)
    return list(dict.fromkeys(close))[:3]


def _alike_labels(labels: pd.Series) -> str | None:
    """Return the labels that differ but read the same as text, or that pandas takes for one key, else None.

    ``"1 and '1'"`` (the same as text) or ``"1 and 1.0 and True"`` (equal as Python values, so one group or fit
    to ``groupby`` and ``factorize``); at most three such sets.
    """
    shown = labels.map(repr)  # 1 and '1' differ here, not as text; 1, 1.0 and True differ here, not as keys
    for key in (labels.astype("string").astype(object), labels):
        kinds = shown.groupby(key, sort=False).nunique()
        if (kinds > 1).any():
            return ", ".join(" and ".join(shown[key == k].unique()) for k in kinds.index[kinds > 1][:3])
    return None


def _joined_header(columns: Sequence, needed: Sequence[str]) -> str | None:
    """Return the problem with a table read with the wrong separator, else None.

    Such a table has one column whose name holds columns the law needs (``"n;d;loss"``).
    """
    if len(columns) != 1 or not isinstance(columns[0], str):
        return None
    name = columns[0]
    for sep, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars"), (" ", "spaces")):
        parts = [part.strip() for part in name.split(sep)]
        if len(parts) > 1 and set(needed) & set(parts):
            return (f"the table has one column, {name!r}: its file looks separated by {word}, not commas; read it "
                    f"with pandas.read_csv(path, sep={sep!r}), or save it comma-separated")
    return None


def _mapping_frame(columns: Mapping, table: str) -> pd.DataFrame:
    """Return a DataFrame of a mapping of columns; a mapping of scalars only is a single run."""
    columns = dict(columns)
    if columns and all(np.ndim(v) == 0 for v in columns.values()):
        return pd.DataFrame([columns])
    try:
        return pd.DataFrame(columns)
    except ValueError as err:  # columns of different lengths
        lengths = {k: (len(v) if np.ndim(v) else "one value") for k, v in columns.items()}
        raise RunTableError([f"its columns have different lengths ({lengths}); give every column one value per run"],
                            table) from err


def _whole_counts(values: np.ndarray, items: np.ndarray) -> bool:
    """Whether scores above 1 are whole numbers no larger than their items: counts given where fractions belong."""
    above = np.isfinite(values) & np.isfinite(items) & (values > 1)
    v, n = values[above], items[above]
    return bool(above.any() and np.all(np.abs(v - np.round(v)) < 1e-9) and np.all(v <= n))


def _check_counts(out: pd.DataFrame, law: Law, items: str, problems: list[str], with_target: bool) -> None:
    """Whole numbers of items >= 1, and accuracies that are whole numbers of correct answers out of them."""
    n = out[items]
    bad = ~(np.isfinite(n) & (n >= 1) & (np.abs(n - np.round(n)) < 1e-9))
    if bad.any():
        problems.append(f"items column {items!r} has {int(bad.sum())} value(s) missing or not whole numbers >= 1 "
                        f"({_rows(out.index[bad])}); it is the number of questions each accuracy was measured on")
    if with_target and law.target in out:
        k = out[law.target] * n
        frac = np.isfinite(k) & ~bad & (np.abs(k - np.round(k)) > 1e-6 * np.maximum(n, 1.0))
        if frac.any():
            first = int(np.argmax(frac.to_numpy()))  # by position: run labels may repeat
            score = float(out[law.target].iloc[first])
            problems.append(
                f"column {law.target!r} times items column {items!r} is not a whole number of correct answers at "
                f"{int(frac.sum())} run(s) ({_rows(out.index[frac])}; e.g. {score:.6g} x {n.iloc[first]:.0f} = "
                f"{k.iloc[first]:.3f}): check that {items!r} counts the items each score "
                "was computed on, and that scores are fractions (not percentages, not averaged over tasks); a score "
                "rounded to fewer decimals than one item needs (1 / items) has lost its count: give the unrounded "
                "score, or fit it as a fraction (likelihood='beta')")


def _unnamed_clashes(index: pd.Index, columns) -> pd.Index:
    """``index`` without the names of its levels that are also column names (``set_index("group", drop=False)``).

    pandas refuses to group by a name that is both, so each later step grouping runs by column would fail.
    """
    names = [None if name is not None and name in columns else name for name in index.names]
    return index if names == list(index.names) else index.set_names(names)


def validate_runs(
    runs,
    law: Law | str,
    *,
    groups: Sequence[str] | str | None = None,
    noise: str | None = None,
    require_target: bool = True,
    flops_per_param_token: float = 6.0,
    keep: Sequence[str] = (),
    table: str | None = None,
    counts: bool = False,
) -> RunTable:
    """Check a table of runs against a law and return a cleaned copy.

    Parameters
    ----------
    runs : pandas.DataFrame or mapping of columns
        One row per training run, with the law's inputs and target as columns. A mapping holds one sequence per
        column, or one value per column for a single run (``{"n": 7e10, "d": 1.4e12}``).
    law : Law or str
        The law (or a registered name).
    groups : str or sequence of str, optional
        Group columns of a hierarchical fit.
    noise : str, optional
        Column with a known per-run noise sd on the likelihood's scale (log target, or logit for fractions).
    require_target : bool
        False for prediction tables, which need only the inputs (and groups); fit-only checks are skipped.
    flops_per_param_token : float
        The FLOPs convention ``c = k n d`` used to check a compute column against ``n`` and ``d``.
    keep : sequence of str
        Other positive numeric columns to check and keep (group-level predictors of a hierarchical fit).
    table : str, optional
        What the errors call the table; default "the runs table", or "the table of new inputs" without a target.
    counts : bool
        The ``noise`` column holds each run's number of items (a count likelihood: ``likelihood="binomial"`` or
        ``"beta_binomial"``): whole numbers >= 1, each accuracy a whole number of them (within 1e-6 of the
        accuracy times the items, for accuracies stored rounded to 6 decimals), and accuracies of exactly 0 or 1
        allowed.

    Returns
    -------
    RunTable

    Raises
    ------
    RunTableError
        With every problem found: missing columns (with close matches), NaN or infinite values, non-positive sizes
        or losses, unparseable cells (sizes may be written "350M", "7B"), fewer than 3 distinct runs, empty group
        labels.

    Warns
    -----
    DataWarning
        Exact duplicate runs (dropped and recorded), groups with one run, a ``groups=`` column holding one group,
        inputs spanning under one decade, sizes that look like millions or billions (or compute not in FLOPs),
        fewer tokens than parameters, a compute column inconsistent with ``k n d``, losses above 20 nats (likely
        perplexities). Runs that share inputs but differ in the target are kept as replicates and recorded in
        ``notes``, with a warning only when a label column (not one named like a seed or run id) tells every such
        set apart, as a forgotten ``groups=`` column would. Scores below their run's chance level (for a law with
        a chance-level input) are recorded in ``notes`` too: the law cannot go below it.

    Examples
    --------
    >>> import pandas as pd, bayescale as bs
    >>> runs = pd.DataFrame({"c": [1e18, 1e19, 1e20, 1e21], "loss": [3.5, 3.1, 2.8, 2.6]})
    >>> len(bs.validate_runs(runs, "power_law_c"))
    4
    """
    law = get_law(law)
    table = table or ("the runs table" if require_target else "the table of new inputs")
    if isinstance(runs, pd.DataFrame):
        frame = runs  # only read: what is returned is `out`, built from it
    elif isinstance(runs, Mapping):
        frame = _mapping_frame(runs, table)
    else:
        raise _not_a_table(runs, "runs" if require_target else "new_runs")
    if groups is not None and not isinstance(groups, str) and (
            not np.iterable(groups) or not all(isinstance(g, str) for g in groups)):
        raise TypeError(f"groups= names the group column(s): a column name or a list of them, got {groups!r}")
    if noise is not None and not isinstance(noise, str):
        raise TypeError(f"noise= names the column of each run's known noise (an sd on the likelihood's scale, or the "
                        f"number of items for a count likelihood), e.g. noise='sd'; got {noise!r}. Without such a "
                        "column the noise is fitted (sigma): leave noise= out")
    groups = (groups,) if isinstance(groups, str) else tuple(groups or ())
    if len(set(groups)) < len(groups):
        raise ValueError(f"groups= names a column twice: {list(groups)}")
    if isinstance(frame.columns, pd.MultiIndex):
        raise RunTableError(["the table has MultiIndex (several-level) columns; flatten them to single names, e.g. "
                             "runs.columns = ['_'.join(map(str, c)) for c in runs.columns]"], table)
    problems: list[str] = []
    notes: list[str] = []

    def warn(msg: str) -> None:
        if frame.index.has_duplicates and _NAMES_ROWS.search(msg):  # as the errors say (below)
            msg += ("; the rows are named by their labels, which repeat in this table (e.g. after pd.concat): "
                    "runs.reset_index(drop=True) names each row by its position")
        notes.append(msg)
        warnings.warn(msg, DataWarning, skip_file_prefixes=_PACKAGE_DIRS)

    keep = [c for c in keep if c not in law.inputs]
    repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if repeated:  # every later check would be ambiguous
        raise RunTableError([f"column(s) {repeated} appear more than once; rename or drop the copies so that each "
                             "column name is unique"], table)
    overlap = [g for g in groups if g in law.inputs or g == law.target]
    if overlap:
        raise RunTableError([f"group column(s) {overlap} are also the law's inputs or target; groups= names label "
                             "columns (task, model family, data set), not sizes or losses"], table)
    if noise is not None and (noise in law.inputs or noise == law.target or noise in groups):
        raise RunTableError([f"noise column {noise!r} is the law's input, target or a group column; noise= names a "
                             "separate column of known per-run sds of the log target"], table)
    needed = (list(law.inputs) + ([law.target] if require_target else []) + list(groups) + ([noise] if noise else [])
              + list(keep))
    missing = [c for c in needed if c not in frame.columns]
    # a column the law already reads as something else is not what a missing one probably means
    spare = [c for c in frame.columns if c not in needed]
    joined = _joined_header(frame.columns, needed) if missing else None
    if joined:  # every missing column is named in the header: one problem, whose fix is to read the file again
        problems.append(joined)
    for col in [] if joined else missing:
        role = (
            f"input [{law.inputs[col]}]" if col in law.inputs else
            "target" if col == law.target else "group column" if col in groups else
            "group-level predictor" if col in keep else "noise column"
        )
        close = _suggest(col, spare)
        # the law's names are fixed, so the table's column is renamed; the others are the caller's to respell
        option = {"group column": "groups=", "group-level predictor": "group_predictors=",
                  "noise column": "noise="}.get(role)
        fix = (f"Rename with runs.rename(columns={{{close[0]!r}: {col!r}}})" if option is None else
               f"Spell it in {option} as the table does ({close[0]!r})") if close else ""
        hint = (f"; did you mean {', '.join(map(repr, close))}? {fix}" if close
                else f"; the table has columns {list(frame.columns)[:12]}")
        problems.append(f"column {col!r} ({role} of law {law.name!r}) is missing{hint}")
    # the columns that are present are still checked, so that every problem is reported at once

    value_cols = [c for c in list(law.inputs) + ([law.target] if require_target else []) + list(keep)
                  if c not in missing]
    # the checks below work on NumPy arrays: on pandas objects each costs tens of microseconds, and fit_many and
    # SBC validate thousands of small tables
    out = pd.DataFrame({col: _numeric(frame[col], col, problems, suffixes=col in law.inputs or col in keep,
                                      scale=law.unit_scale(col)).to_numpy()
                        for col in value_cols + ([noise] if noise and noise not in missing else [])},
                       index=_unnamed_clashes(frame.index, frame.columns))
    for col in value_cols:
        values = out[col].to_numpy()
        finite = np.isfinite(values)
        bad = ~finite
        if pd.api.types.is_bool_dtype(frame[col]):  # the whole column is reported by _numeric
            bad[:] = False
        elif not pd.api.types.is_numeric_dtype(frame[col]):  # a cell that did not parse is reported by _numeric
            bad &= ~(np.isnan(values) & frame[col].notna().to_numpy())
        if bad.any():
            problems.append(
                f"column {col!r} has {int(bad.sum())} missing or infinite value(s) ({_rows(out.index[bad])}); "
                "drop those runs or fill them in"
            )
        if col in law.inputs and law.is_level_input(col):  # a fraction: [0, 1], a chance level below 1
            chance = "chance" in law.inputs[col].lower()  # a chance level of 1 leaves nothing to learn
            outside = finite & ((values < 0) | ((values >= 1) if chance else (values > 1)))
            if outside.any():
                fix = ("it looks like a percentage: divide by 100" if np.nanmax(values[outside]) > 1.5
                       else "correct or drop those runs")
                span = "[0, 1)" if chance else "[0, 1]"
                problems.append(f"column {col!r} has {int(outside.sum())} value(s) outside {span} "
                                f"({_rows(out.index[outside])}); it is {law.inputs[col]!r} of law {law.name!r}, a "
                                f"fraction from 0 up to {'(not including) ' if chance else ''}1: {fix}")
            continue
        nonpos = finite & (values <= 0)
        positive_needed = col in law.inputs or col in keep or law.positive
        if positive_needed and nonpos.any():
            what = _UNIT_WORDS.get(col, f"values of {col!r}")
            why = " (the likelihood is on the log of the target)" if col == law.target else ""
            problems.append(
                f"column {col!r} has {int(nonpos.sum())} non-positive value(s) ({_rows(out.index[nonpos])}); "
                f"{what} must be > 0{why}; correct or drop those runs"
            )
        if col == law.target and law.link == "logit":
            outside = finite & (((values < 0) | (values > 1)) if counts else ((values <= 0) | (values >= 1)))
            if outside.any():
                fix = (f"these look like counts of correct answers: divide by the items column {noise!r}"
                       if counts and noise and noise in out and _whole_counts(values, out[noise].to_numpy())
                       else "it looks like a percentage: divide by 100" if np.nanmax(values) > 1.5 else
                       "scores must be fractions of the items" if counts else
                       "a score of exactly 0 or 1 out of k questions can be moved inside with the continuity "
                       "correction (k * score + 0.5) / (k + 1), or fitted as a count (likelihood='binomial' with "
                       "noise= naming the column of k); dropping such runs for their score biases the fit")
                where = "[0, 1]" if counts else "(0, 1)"
                problems.append(
                    f"column {col!r} has {int(outside.sum())} value(s) outside {where} ({_rows(out.index[outside])}); "
                    f"law {law.name!r} models {col!r} on the logit scale, as a fraction "
                    f"{'of correct answers' if counts else 'strictly between 0 and 1'}: {fix}"
                )
    if counts and noise and noise not in missing:
        _check_counts(out, law, noise, problems, require_target)
    elif noise and noise not in missing:
        bad = ~(np.isfinite(out[noise]) & (out[noise] > 0))
        if bad.any():
            problems.append(
                f"noise column {noise!r} has {int(bad.sum())} missing, infinite or non-positive value(s) "
                f"({_rows(out.index[bad])}); it is a known sd of "
                f"{ {'log': 'the log of the target', 'logit': 'the logit of the target'}.get(law.link, 'the target')} "
                "(the likelihood's scale) and must be > 0"
            )
    for g in (g for g in groups if g not in missing):
        labels = frame[g]
        empty = labels.isna() | labels.astype(object).map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
        if empty.any():
            problems.append(
                f"group column {g!r} has {int(empty.sum())} empty label(s) ({_rows(labels.index[empty])}); "
                "give every run a group"
            )
        text, present = labels.astype("string").astype(object), ~empty
        same = _alike_labels(labels[present])
        if same:
            problems.append(
                f"group column {g!r} has different labels that read the same as text or compare equal ({same}), so "
                f"they would be one group; give each group one label of one type, e.g. runs[{g!r}] = "
                f"runs[{g!r}].astype(str) (1 and '1' then name one group, 1 and 1.0 two)"
            )
        if len(groups) > 1:
            joined = present & text.map(lambda s: isinstance(s, str) and " | " in s).astype(bool)
            if joined.any():
                problems.append(
                    f"group column {g!r} has {int(joined.sum())} label(s) containing ' | ' "
                    f"({_rows(labels.index[joined])}), which joins the labels of several group columns; replace it, "
                    "e.g. with '/'"
                )
        out[g] = text
    dup = None
    if require_target and not missing:
        dup = out.duplicated(keep="first")  # exact duplicates: counted here, dropped below
        distinct = len(out) - int(dup.sum())
        if distinct < 3:
            which = f" ({_rows(out.index)})" if len(out) else " (the table is empty)"
            dups = f", after dropping {len(out) - distinct} exact duplicate(s)" if distinct < len(out) else ""
            problems.append(
                f"only {distinct} distinct run(s){which}{dups}; a law needs at least 3 runs to fit: add runs"
            )
    if not require_target and not len(frame):
        problems.append("the table has no rows; give at least one row of inputs")
    if problems and frame.index.has_duplicates and any(_NAMES_ROWS.search(p) for p in problems):
        repeated = frame.index[frame.index.duplicated()].unique()
        problems.append(f"rows are named by their labels, and {len(repeated)} label(s) repeat in this table "
                        f"({_rows(repeated).split(' ', 1)[1]}, e.g. after pd.concat): a row named above may be any of "
                        "those with its label; runs.reset_index(drop=True) names each row by its position")
    if problems:
        raise RunTableError(problems, table)

    # ---------------------------------------------------------------------------------- warnings and clean-up
    kept = np.ones(len(out), dtype=bool)  # by position: the row labels may repeat (tables joined by pd.concat)
    if require_target:  # no column is missing here (that raised above), so dup was computed
        if dup.any():
            kept = ~dup.to_numpy()
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
            label = None if groups else _grouping_column(frame, out, kept, key, [*needed, *keep])
            if label is not None:
                warn(
                    f"{int(rep.sum())} runs share their inputs with another run ({_rows(out.index[rep])}) and column "
                    f"{label!r} tells them apart: if {label!r} names separate families (tasks, model families, data "
                    f"sets), pass groups={label!r} for a hierarchical fit, or fit each apart (bs.fit_many(..., "
                    f"by={label!r})); as they are, one law is fitted to them all, as replicates"
                )
        for g in groups:  # 'g0' and 'g0 ' (or 'G0') are two groups to the fit: likely one, written apart
            text = out[g].astype(str)
            key = text.str.strip().str.casefold()
            kinds = text.groupby(key, sort=False).unique()
            alike = [list(v) for v in kinds if len(v) > 1]
            if alike:
                shown = "; ".join(" and ".join(map(repr, v)) for v in alike[:3])
                common = text.groupby(key, sort=False).agg(lambda t: t.value_counts().index[0])  # each key's usual
                odd = text.isin([t for v in alike for t in v]) & (text != key.map(common))
                warn(
                    f"group column {g!r} has labels that differ only in case or spaces ({shown}; the rarer spelling "
                    f"in {_rows(out.index[odd])}): they are fitted as different groups; if they are one group, "
                    "write its label alike"
                )
        if groups:
            sizes = out.groupby(list(groups), sort=False, observed=True).size()
            if len(sizes) == 1:
                column = groups[0] if len(groups) == 1 else list(groups)
                warn(
                    f"groups={column!r} holds one group ({sizes.index[0]!r}): a hierarchical fit learns how the "
                    "law's parameters vary across groups, which one group cannot show; leave groups= out to fit it "
                    "alone, or add the other groups' runs"
                )
            single = sizes[sizes == 1]
            if len(single):
                names = ", ".join(str(k) for k in single.index[:8])
                column = groups[0] if len(groups) == 1 else list(groups)
                rows = out.index[out.set_index(list(groups)).index.isin(single.index)]
                warn(
                    f"{len(single)} group(s) of {column!r} have only one run ({names}; {_rows(rows)}); their "
                    "group-level parameters come from the population prior, barely informed by one run: add runs "
                    "to those groups, or fix their parameters across groups (pool=)"
                )
        for col in (c for c in law.inputs if law.is_size_input(c)):  # sizes, not losses, should span decades
            lo, hi = np.min(out[col].to_numpy()), np.max(out[col].to_numpy())  # all finite here
            if np.log10(hi) - np.log10(lo) < 1:  # not hi / lo, which overflows for sizes near 0
                warn(
                    f"input {col!r} spans under one decade ({lo:.3g} to {hi:.3g}); a power law's exponent in "
                    f"{col!r} is weakly identified from such a range (and a floor hardly at all), so those "
                    "posteriors will lean on their priors and extrapolations in it will be wide"
                )
    chance_cols = [c for c in law.inputs if law.is_level_input(c) and "chance" in law.inputs[c].lower()]
    if require_target and law.link == "logit" and chance_cols:
        below = out[law.target] < out[chance_cols[0]]
        if below.any():  # recorded, not warned: small models on hard tasks often score a little under chance
            notes.append(
                f"{int(below.sum())} run(s) score below their chance level {chance_cols[0]!r} "
                f"({_rows(out.index[below])}; lowest {out[law.target][below].min():.3g}), where law {law.name!r} "
                "cannot go: it reads them as noise below its floor; if a task's chance level is lower than given "
                "(more answer options), correct that column"
            )
    if require_target and law.target == "loss" and out["loss"].max() > _LOSS_CEILING:
        warn(
            f"column 'loss' reaches {out['loss'].max():.4g}, above any cross-entropy in nats ({_LOSS_CEILING:g} "
            "would be a uniform guess over half a billion tokens): if these are perplexities, fit their log, "
            "runs['loss'] = np.log(runs['loss'])"
        )
    scale = law.unit_scale  # raw counts per unit of a size the law declares in millions, billions... (else 1)
    for col in ("n", "d", "u"):
        floor = SIZE_FLOOR / scale(col)
        raw = (f"{_UNIT_WORDS[col]} are raw counts" if scale(col) == 1 else
               f"law {law.name!r} takes {col!r} in {law.inputs[col]}, so this is below {SIZE_FLOOR:g} of them")
        if col in out.columns and out[col].max() < floor:
            warn(
                f"column {col!r} looks like it is in millions or billions (largest value {out[col].max():.4g}); "
                f"{raw}: multiply, e.g. runs[{col!r}] * 1e6 for millions or * 1e9 for billions"
            )
        elif require_target and col in out.columns and (out[col] < floor).any():
            # some runs in other units than the rest (new inputs of a prediction are checked against the fitted
            # runs' range instead, which says more)
            low = out[col] < floor
            if low.sum() > len(out) / 2:  # most of the column: the column is in other units, not a few rows
                warn(
                    f"column {col!r} looks like it is in millions or billions: {int(low.sum())} of {len(out)} runs "
                    f"are below {floor:g} ({_rows(out.index[low])}; largest of all {out[col].max():.4g}); "
                    f"{raw}: multiply, e.g. runs[{col!r}] * 1e6 for millions or * 1e9 for billions"
                )
                continue
            warn(
                f"{int(low.sum())} run(s) have {col!r} below {floor:g} ({_rows(out.index[low])}; smallest "
                f"{out[col][low].min():.4g}) while the others reach {out[col].max():.4g}: if those rows are in "
                "millions or billions, write them "
                + (f"as raw counts ({_UNIT_WORDS[col]}), e.g. 70B or 7e10 for 70 billion" if scale(col) == 1 else
                   f"in {law.inputs[col]}, as law {law.name!r} takes them")
            )
    if "c" in out.columns and out["c"].max() * scale("c") < _FLOPS_FLOOR:
        warn(
            f"column 'c' does not look like FLOPs (largest value {out['c'].max():.4g}); compute budgets are raw "
            "FLOPs: from PF-days multiply by 8.64e19, e.g. runs['c'] * 8.64e19"
        )

    def column(name: str) -> pd.Series | None:
        """Return a size column over the validated rows, whether or not the law uses it."""
        if name in out.columns:
            return out[name]
        if name in frame.columns:
            return pd.Series(_numeric(frame[name], name, []).to_numpy()[kept], index=out.index, name=name)
        return None

    n, d = column("n"), column("d")
    if n is not None and d is not None:
        few = d * scale("d") < n * scale("n")
        if few.any():
            warn(
                f"{int(few.sum())} run(s) have fewer training tokens than parameters ({_rows(out.index[few])}); "
                "check that 'd' is in tokens and 'n' in parameters"
            )
        c = column("c")
        if c is not None:
            ratio = c * scale("c") / (flops_per_param_token * n * scale("n") * d * scale("d"))
            off = np.isfinite(ratio) & ((ratio > 1.5) | (ratio < 1 / 1.5))
            if off.any():
                warn(
                    f"column 'c' is inconsistent with {flops_per_param_token:g}*n*d in {int(off.sum())} run(s) "
                    f"({_rows(out.index[off])}; ratio {float(ratio[off].median()):.3g}); check the units or pass "
                    "flops_per_param_token= for another FLOPs convention"
                )
    return RunTable(frame=out, law=law, groups=groups, noise=noise, notes=tuple(notes))


def pareto_front(runs: pd.DataFrame, *, x: str = "c", y: str = "loss", better: str | None = None,
                 by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Keep the runs on the compute-Pareto front: no cheaper run (in ``x``) is as good or better (in ``y``).

    Scaling comparisons that sweep sizes and durations (e.g. Nezhurina et al. 2025, Fig. 1) fit the law to the
    best result reachable at each compute, not to every run.

    Parameters
    ----------
    runs : pandas.DataFrame
        Never modified.
    x : str
        The cost column (default ``"c"``, FLOPs).
    y : str
        The result column.
    better : {"lower", "higher"}, optional
        Default ``"higher"`` for columns named like accuracies (``acc...``), else ``"lower"``.
    by : str or sequence of str, optional
        One front per group (model family, data set).

    Returns
    -------
    pandas.DataFrame
        The front's rows, sorted by group and ``x``, with their original index. Ties in ``x`` keep the best run.
    """
    if not isinstance(runs, pd.DataFrame):
        raise _not_a_table(runs)
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [c for c in [x, y, *keys] if c not in runs.columns]
    if missing:
        raise RunTableError([f"column {c!r} is missing; columns are {list(runs.columns)}" for c in missing])
    if better is None:
        better = "higher" if y.startswith("acc") else "lower"
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    problems: list[str] = []
    values = {c: _numeric(runs[c], c, problems) for c in (x, y)}  # sizes such as "350M" read as validate_runs does
    bad = runs.index[~np.isfinite(values[x].to_numpy()) | ~np.isfinite(values[y].to_numpy())]
    if len(bad) and not problems:
        problems.append(f"columns {x!r} / {y!r} hold NaN or inf in {_rows(bad)}; drop those rows")
    unlabelled = runs.index[runs[keys].isna().any(axis=1)] if keys else runs.index[:0]
    if len(unlabelled):  # groupby would drop them without a word
        problems.append(f"group column(s) {keys} are empty in {_rows(unlabelled)}; label those runs or drop them")
    if problems:
        raise RunTableError(problems)
    runs = runs.assign(**{x: values[x], y: values[y]})
    sign = 1.0 if better == "higher" else -1.0

    def front(g: pd.DataFrame) -> pd.DataFrame:
        g = g.assign(_score=sign * g[y]).sort_values([x, "_score"], ascending=[True, False], kind="stable")
        best = g["_score"].cummax().shift(fill_value=-np.inf)
        return g[g["_score"] > best].drop(columns="_score")

    if by is None:
        return front(runs)
    return pd.concat([front(g) for _, g in runs.groupby(keys, sort=True)])
