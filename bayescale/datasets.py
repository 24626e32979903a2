"""Real public scaling-law data sets: pinned sources, verified checksums and tidy tables.

Each data set is a small record (:class:`DatasetInfo`) naming the upstream repository, the pinned commit, the
licence, the citation and, for every file, its canonical pinned URL and sha256 digest. No data file ships with
the package. :func:`load` finds a file, in order, in the ``data_dir=`` argument, in the directory named by the
``BAYESCALE_DATA_DIR`` environment variable (laid out as ``<dir>/<name>/<file>``), in the user cache
(``pooch.os_cache("bayescale")/<name>/<file>``), and finally downloads it from its pinned URL and checks its
digest. Files found in a data directory are checked against the digest as well.

A parser per data set (and per table, where a data set holds several natural tables) turns the files into a
tidy :class:`pandas.DataFrame` whose columns are named for the laws: ``n`` (parameters), ``d`` (training
tokens, or samples seen for image-text models), ``c`` (training compute), ``loss``, ``u`` (unique tokens),
``batch`` (batch size in tokens), ``lr`` (learning rate), ``steps`` (optimisation steps of a run), ``step``
(the step of a checkpoint), plus snake_case group and identifier columns (``dataset``, ``model``, ``run``,
``task``, ``metric``, ``value``, ``family``, ``arch``, ...). Every size is a raw count (parameters, not
millions). ``info(name).units`` gives the unit of each column.

Some files were derived by the bayescale maintainers (flattened JSON, tables transcribed from notebooks,
parquet converted to CSV): they have no upstream copy, so they can only be read from a data directory; their
:class:`FileInfo` says ``derived=True`` and its ``url`` is the single upstream source they came from (or
``None``).

Examples
--------
>>> from bayescale import datasets
>>> "chinchilla_epoch" in datasets.names()
True
>>> datasets.info("chinchilla_epoch").default_table
'points'
>>> runs = datasets.load("chinchilla_epoch")  # doctest: +SKIP
>>> list(runs.columns)  # doctest: +SKIP
['n', 'd', 'c', 'loss']
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

__all__ = [
    "ENV_VAR",
    "DatasetChecksumError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "FileInfo",
    "info",
    "load",
    "names",
    "path",
]

ENV_VAR = "BAYESCALE_DATA_DIR"
"""Environment variable naming a directory laid out as ``<dir>/<data set name>/<file>``."""


# --------------------------------------------------------------------------------------------- public records


class DatasetNotFoundError(FileNotFoundError):
    """A data file is in none of the places searched and cannot be downloaded; the message lists them all."""


class DatasetChecksumError(ValueError):
    """A data file does not match its pinned sha256 digest; the message names the file and both digests."""


class _UnknownNameError(KeyError):
    """An unknown data set, table or file name (a :class:`KeyError` with a readable message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class FileInfo:
    """One file of a data set.

    Attributes
    ----------
    path : str
        Path of the file inside the data set's folder, e.g. ``"ladder-runs/1B-1xC.csv"``.
    url : str or None
        Canonical pinned URL (GitHub raw URL at the pinned commit). For a derived file, the pinned URL of the
        single upstream file it was derived from, or ``None`` when it was built from several.
    sha256 : str
        Hex sha256 digest of the file.
    derived : bool
        True when the file was derived by the bayescale maintainers and has no upstream copy: it can only be
        read from a data directory (``data_dir=`` or ``BAYESCALE_DATA_DIR``), never downloaded.
    """

    path: str
    url: str | None
    sha256: str
    derived: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    """Provenance and layout of one data set.

    Attributes
    ----------
    name, title : str
        Registry name and a one-line title (paper and authors).
    files : tuple of FileInfo
        Every file of the data set, with its pinned URL and sha256.
    licence, citation : str
        Licence of the upstream repository, and the paper to cite.
    url, commit : str
        Upstream repository and the pinned commit the files come from.
    units : dict of str to str
        Column name to unit, for the tidy columns of the tables.
    description : str
        What the data are, caveats, and each table with its main columns.
    tables : tuple of str
        Table names accepted by ``load(name, table=...)``; the default table first.
    default_table : str
        The main scaling table, returned by ``load(name)``.
    downloadable : tuple of str
        The tables that load without a data directory: every file they read has a pinned URL (a table that reads
        a derived file loads only from ``data_dir=`` or ``BAYESCALE_DATA_DIR``).
    """

    name: str
    title: str
    files: tuple[FileInfo, ...] = field(repr=False)
    licence: str
    citation: str = field(repr=False)
    url: str
    commit: str
    units: dict[str, str] = field(repr=False)
    description: str = field(repr=False)
    tables: tuple[str, ...]
    default_table: str
    downloadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Table:
    """One tidy table of a data set: the files it reads and the parser that builds it."""

    name: str
    files: tuple[str, ...]  # file paths, or folder prefixes ending in "/"
    parse: Callable[[_Files], pd.DataFrame]
    description: str
    columns: tuple[str, ...]  # the main columns, always present


@dataclass(frozen=True)
class _Dataset:
    """A registered data set: its public record and its tables (the default table first)."""

    info: DatasetInfo
    tables: Mapping[str, _Table] = field(repr=False)

    def file(self, rel: str) -> FileInfo:
        for f in self.info.files:
            if f.path == rel:
                return f
        raise _UnknownNameError(
            f"data set {self.info.name!r} has no file "
            f"{rel!r}{_suggest(rel, [f.path for f in self.info.files])}"
        )

    def table_files(self, table: _Table) -> list[str]:
        out: list[str] = []
        for spec in table.files:
            if spec.endswith("/"):
                found = [f.path for f in self.info.files if f.path.startswith(spec)]
                if not found:  # pragma: no cover - registry consistency, checked by the tests
                    raise RuntimeError(f"{self.info.name}: no registered file under {spec!r}")
                out.extend(found)
            else:
                out.append(self.file(spec).path)
        return out


_REGISTRY: dict[str, _Dataset] = {}


# ------------------------------------------------------------------------------------------------- public API


def names() -> list[str]:
    """Names of the registered data sets, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from bayescale import datasets
    >>> datasets.names()[:3]
    ['cherti_openclip', 'chinchilla_epoch', 'critical_batch_zhang2024']
    """
    return sorted(_REGISTRY)


def info(name: str) -> DatasetInfo:
    """Provenance record of a data set: files with pinned URLs and sha256, licence, citation, units, tables.

    Parameters
    ----------
    name : str
        A name from :func:`names`.

    Returns
    -------
    DatasetInfo

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message suggests close matches.

    Examples
    --------
    >>> from bayescale import datasets
    >>> rec = datasets.info("olmo_ladder")
    >>> rec.default_table, rec.tables[:2]
    ('final', ('final', 'tasks'))
    >>> rec.units["c"]
    'FLOPs (upstream throughput counter, attention included: 7.2-10 n FLOPs per token)'
    """
    rec = _get(name).info
    return dataclasses.replace(rec, units=dict(rec.units))


def load(name: str, *, data_dir: str | os.PathLike | None = None, table: str | None = None) -> pd.DataFrame:
    """Load one tidy table of a data set as a new DataFrame.

    Each file is looked for, in order, under ``data_dir/<name>/``, under ``$BAYESCALE_DATA_DIR/<name>/``,
    in the user cache ``pooch.os_cache("bayescale")/<name>/``, and is otherwise downloaded from its pinned URL
    into the cache. Every file is checked against its pinned sha256 digest.

    Parameters
    ----------
    name : str
        A name from :func:`names`.
    data_dir : str or path-like, optional
        A directory laid out as ``<data_dir>/<name>/<file>`` (the layout of the project's shared data folder).
    table : str, optional
        One of ``info(name).tables``; default ``info(name).default_table``, the main scaling table.

    Returns
    -------
    pandas.DataFrame
        A fresh frame (changing it does not affect later loads), with the columns described in
        ``info(name).description`` and units in ``info(name).units``. No row of the source is dropped.

    Raises
    ------
    KeyError
        Unknown data set or table name (the message suggests close matches).
    DatasetNotFoundError
        A file is in none of the places and cannot be downloaded; the message lists the places tried and the
        fix.
    DatasetChecksumError
        A file in a data directory (or a download) does not match its pinned sha256 digest.

    Examples
    --------
    >>> from bayescale import datasets
    >>> runs = datasets.load("chinchilla_epoch")  # doctest: +SKIP
    >>> len(runs), list(runs.columns)  # doctest: +SKIP
    (245, ['n', 'd', 'c', 'loss'])
    >>> tasks = datasets.load("olmo_ladder", table="tasks")  # doctest: +SKIP
    >>> sorted(tasks["metric"].unique())  # doctest: +SKIP
    ['acc', 'bpb', 'soft', 'soft_log']
    """
    ds = _get(name)
    tbl = _get_table(ds, table)
    stamps = []
    for rel in ds.table_files(tbl):
        p = _resolve(ds, rel, data_dir)
        stamps.append((rel, str(p), *_stamp(p)))
    return _parse_cached(ds.info.name, tbl.name, tuple(stamps)).copy(deep=True)


def path(name: str, file: str | None = None, *, data_dir: str | os.PathLike | None = None) -> Path:
    """Local path of one file of a data set, after finding (or downloading) and verifying it.

    Parameters
    ----------
    name : str
        A name from :func:`names`.
    file : str, optional
        A file path from ``info(name).files``; default: the first file read by the default table.
    data_dir : str or path-like, optional
        As in :func:`load`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    KeyError, DatasetNotFoundError, DatasetChecksumError
        As in :func:`load`.

    Examples
    --------
    >>> from bayescale import datasets
    >>> datasets.path("chinchilla_epoch").name  # doctest: +SKIP
    'svg_extracted_data.csv'
    >>> datasets.path("olmo_ladder", "ladder-runs/1B-1xC.csv")  # doctest: +SKIP
    PosixPath('.../olmo_ladder/ladder-runs/1B-1xC.csv')
    """
    ds = _get(name)
    rel = ds.table_files(ds.tables[ds.info.default_table])[0] if file is None else ds.file(file).path
    return _resolve(ds, rel, data_dir)


# ----------------------------------------------------------------------------------------------------- lookup


def _suggest(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return (
        "; choose from " + ", ".join(repr(c) for c in choices[:20]) + (", ..." if len(choices) > 20 else "")
    )


#: Short names accepted by :func:`load`, :func:`info` and :func:`path` (``bs.datasets.load("chinchilla")``).
ALIASES = {"chinchilla": "chinchilla_epoch", "datablations": "datablations_muennighoff"}


def _get(name: str) -> _Dataset:
    try:
        return _REGISTRY[ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise _UnknownNameError(
            f"unknown data set {name!r}{_suggest(str(name), sorted(_REGISTRY) + sorted(ALIASES))}"
        ) from None


def _get_table(ds: _Dataset, table: str | None) -> _Table:
    if table is None:
        return ds.tables[ds.info.default_table]
    try:
        return ds.tables[table]
    except (KeyError, TypeError):
        raise _UnknownNameError(
            f"data set {ds.info.name!r} has no table {table!r}{_suggest(str(table), list(ds.tables))}"
        ) from None


# ---------------------------------------------------------------------------------------------- finding files

_VERIFIED: dict[tuple, str] = {}  # (path, size, mtime_ns, ctime_ns) -> sha256, so a file is hashed once


def _stamp(p: Path) -> tuple[int, int, int]:
    """Return what changes when a file does: size, mtime and ctime (which a copy keeping the mtime still moves)."""
    st = p.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _sha256(p: Path) -> str:
    key = (str(p), *_stamp(p))
    if key not in _VERIFIED:
        with open(p, "rb") as fh:
            _VERIFIED[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _VERIFIED[key]


def _cache_root() -> Path:
    import pooch  # imported where used: a data dir needs no pooch

    return Path(pooch.os_cache("bayescale"))


def _progressbar() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return False
    return True


def _resolve(ds: _Dataset, rel: str, data_dir: str | os.PathLike | None) -> Path:
    """Find one file (data_dir, $BAYESCALE_DATA_DIR, user cache, download) and verify its sha256.

    When the file is found past a place the caller named, a warning says so: a ``data_dir`` that is not a folder
    (a typo, say), is the data set's own folder rather than the one above it, or lacks the file (the caller asked
    for that folder's copy); a ``$BAYESCALE_DATA_DIR`` that is not a folder. (A ``$BAYESCALE_DATA_DIR`` folder
    without the data set is a normal set-up, some data sets there and the rest in the cache, and is passed over
    quietly.)
    """
    found = _find(ds, rel, data_dir)
    env = os.environ.get(ENV_VAR, "").strip()
    named = [(f"data_dir={str(data_dir)!r}", data_dir, True)] if data_dir is not None else []
    named += [(f"${ENV_VAR}={env!r}", env, False)] if env else []
    skipped = []
    for label, root, explicit in named:
        root = Path(root).expanduser()
        if found.is_relative_to(root / ds.info.name):
            break  # read from here: the places after it were not reached
        if not root.is_dir():
            skipped.append(f"{label} is not a folder")
        elif (root / rel).is_file():
            skipped.append(f"{label} is the data set's own folder; pass the folder above it, which holds "
                           f"{ds.info.name}/")
        elif explicit:
            skipped.append(f"{label} holds no {ds.info.name}/{rel}")
    if skipped:
        import warnings

        warnings.warn(f"{'; '.join(skipped)}: read {ds.info.name!r} from {found} instead", UserWarning,
                      stacklevel=3)
    return found


def _find(ds: _Dataset, rel: str, data_dir: str | os.PathLike | None) -> Path:
    """:func:`_resolve`'s search, in its order."""
    name, f = ds.info.name, ds.file(rel)
    tried: list[str] = []
    env = os.environ.get(ENV_VAR, "").strip()
    places = (
        ("data_dir argument", Path(data_dir).expanduser() if data_dir is not None else None, "not given"),
        (f"${ENV_VAR}", Path(env).expanduser() if env else None, "not set"),
    )
    for label, root, absent in places:
        if root is None:
            tried.append(f"{label}: {absent}")
            continue
        p = root / name / rel
        if not p.is_file():
            tried.append(f"{label}: {p} (not found)")
            continue
        actual = _sha256(p)
        if actual != f.sha256:
            if f.derived or f.url is None:  # its upstream source is another file, which no digest here matches
                fix = ("it was derived by the bayescale maintainers and has no upstream copy: restore it from the "
                       "data folder it came from")
            else:
                fix = f"replace it with the pinned copy ({f.url}), or delete it to have it downloaded"
            raise DatasetChecksumError(
                f"checksum mismatch for file {rel!r} of data set {name!r} at {p} ({label}): expected sha256 "
                f"{f.sha256}, got {actual}. The file is damaged or is not the pinned version; {fix}."
            )
        return p

    cached = _cache_root() / name / rel
    if cached.is_file():
        if _sha256(cached) == f.sha256:
            return cached
        tried.append(f"user cache: {cached} (checksum mismatch)")
    else:
        tried.append(f"user cache: {cached} (not found)")

    if f.derived or f.url is None:
        source = f" from {f.url}" if f.url else " from several upstream files"
        tried.append(
            f"download: not possible - this file was derived by the bayescale maintainers{source} and has no "
            "upstream copy; it is only available from a data directory"
        )
    else:
        import pooch

        unwritable = None
        try:
            got = pooch.retrieve(
                f.url,
                known_hash=f"sha256:{f.sha256}",
                fname=cached.name,
                path=cached.parent,
                progressbar=_progressbar(),
            )
        except ValueError as exc:
            if "hash" in str(exc).lower():
                raise DatasetChecksumError(
                    f"download of file {rel!r} of data set {name!r} from {f.url} does not match the pinned "
                    f"sha256 {f.sha256}: {exc}"
                ) from exc
            tried.append(f"download from {f.url}: failed ({type(exc).__name__}: {exc})")
        except Exception as exc:  # network errors come in many types (requests, OSError, ...)
            tried.append(f"download from {f.url}: failed ({type(exc).__name__}: {exc})")
            unwritable = _unwritable(exc)
        else:
            return Path(got)
        finally:
            _remove_empty(cached.parent, _cache_root() / name)

    if f.derived or f.url is None:
        others = ", ".join(repr(t) for t in ds.info.downloadable)
        also = (" (this file cannot be downloaded; " + (f"the tables of {name!r} that download: {others}" if others
                                                        else f"no table of {name!r} downloads") + ")")
    elif unwritable is not None:
        also = (f", or let the download be saved: the user cache {_cache_root()} cannot be written "
                f"({unwritable}); make it writable or move it (it follows XDG_CACHE_HOME on Linux)")
    else:
        from urllib.parse import urlsplit

        also = (f", or allow the download (network access to {urlsplit(f.url).hostname}; files are cached under "
                "the user cache)")
    where = f"point {ENV_VAR} (now {env!r}) at" if env else f"set {ENV_VAR} to"
    raise DatasetNotFoundError(
        f"cannot find file {rel!r} of data set {name!r}. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: {where} a directory laid out as <dir>/{name}/{rel} (the layout of the project's shared data "
        f"folder), or pass data_dir=...{also}."
    )


def _unwritable(exc: Exception) -> str | None:
    """Return why a failed download could not write to the cache (not reach the server), or None."""
    import errno

    try:
        from requests import RequestException  # pooch's transport; its errors are OSErrors too
    except ImportError:  # pragma: no cover - requests comes with pooch
        RequestException = ()  # noqa: N806
    codes = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
    if isinstance(exc, OSError) and not isinstance(exc, RequestException) and exc.errno in codes:
        return exc.strerror or str(exc)
    return None


def _remove_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to ``top`` (included) while they are empty.

    What a failed download made and left nothing in.
    """
    for d in (folder, *folder.parents):
        if not d.is_relative_to(top):
            return
        try:
            d.rmdir()
        except OSError:  # not empty (or not there): the folders above hold it
            return
        if d == top:
            return


# ---------------------------------------------------------------------------------------------------- parsing


class _Files:
    """The resolved, verified files of one table, with small readers."""

    def __init__(self, paths: Mapping[str, Path]):
        self._paths = dict(paths)

    def under(self, prefix: str) -> list[str]:
        return sorted(r for r in self._paths if r.startswith(prefix))

    def csv(self, rel: str, **kwargs) -> pd.DataFrame:
        # .copy() consolidates the column blocks of wide files, so later column inserts stay cheap and quiet
        return pd.read_csv(self._paths[rel], **kwargs).copy()

    def json(self, rel: str):
        with open(self._paths[rel], encoding="utf-8") as fh:
            return json.load(fh)

    def jsonl(self, rel: str) -> pd.DataFrame:
        with open(self._paths[rel], encoding="utf-8") as fh:
            return pd.DataFrame.from_records([json.loads(line) for line in fh if line.strip()])


@functools.lru_cache(maxsize=64)
def _parse_cached(name: str, table: str, stamps: tuple[tuple, ...]) -> pd.DataFrame:
    """Parse a table from verified files; cached on (path, size, mtime, ctime) so a changed file is re-read."""
    tbl = _REGISTRY[name].tables[table]
    df = tbl.parse(_Files({stamp[0]: Path(stamp[1]) for stamp in stamps})).reset_index(drop=True)
    # the law columns are always float64 (some sources hold exact integers beyond int64, read as objects)
    law_cols = [c for c in _FLOAT_COLUMNS if c in df.columns and df[c].dtype != np.float64]
    return df.astype(dict.fromkeys(law_cols, np.float64)) if law_cols else df


_FLOAT_COLUMNS = ("n", "d", "c", "u", "loss")


def _snake(s: str) -> str:
    """``"ARC-C"`` -> ``"arc_c"``, ``"image_retrieval_recall@5"`` -> ``"image_retrieval_recall_at5"``."""
    s = s.replace("@", "_at")
    return re.sub(r"[^0-9A-Za-z]+", "_", s).strip("_").lower()


def _front(df: pd.DataFrame, first: Iterable[str]) -> pd.DataFrame:
    """Reorder columns: ``first`` (those present) then the rest in their order."""
    first = [c for c in first if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def _six_nd(n, d):
    return 6.0 * np.asarray(n, dtype=float) * np.asarray(d, dtype=float)


_SIZE_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def _parse_count(s) -> float:
    """``"2.8B"`` -> 2.8e9, ``"85B"`` -> 8.5e10, ``"1.28M"`` -> 1.28e6."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMbBtT]?)\s*", str(s))
    if not m:
        return float("nan")
    return float(m.group(1)) * _SIZE_SUFFIX.get(m.group(2).lower(), 1.0)


def _gh(repo: str, commit: str, rel: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(rel, safe='/=+')}"


# ==================================================================================================== parsers
# One section per data set. A parser takes the table's resolved files and returns a tidy frame; it never drops
# rows of the source (missing values stay NaN). Where a parser puts columns first with ``_front``, the order
# is a module-level ``_<TABLE>_COLUMNS`` tuple that the table's registry entry reuses as (the start of) its
# main columns, so each order is written once.

# ------------------------------------------------------------------------------------------- chinchilla_epoch

_CHINCHILLA_COLUMNS = ("n", "d", "c", "loss")


def _chinchilla_svg(f: _Files) -> pd.DataFrame:
    raw = f.csv("svg_extracted_data.csv")
    df = raw.rename(columns={"Model Size": "model_size", "Training FLOP": "training_flop"})
    n = df["model_size"].astype(float)
    c = df["training_flop"].astype(float)
    df = df.assign(n=n, d=c / (6.0 * n), c=c)
    return _front(df, _CHINCHILLA_COLUMNS)


def _chinchilla_points(f: _Files) -> pd.DataFrame:
    # D = C / (6 N), exactly as Epoch derive it in data_analysis.ipynb (and as chinchilla_NDCloss.csv has it)
    return _chinchilla_svg(f)[list(_CHINCHILLA_COLUMNS)]


# ----------------------------------------------------------------------------------------------- datablations

_DATABLATIONS_FINAL_COLUMNS = ("name", "n", "d", "u", "c", "epochs", "loss")


def _datablations_final(f: _Files) -> pd.DataFrame:
    df = f.csv("datablations_final_losses.csv").rename(columns={"N": "n", "D": "d", "U": "u"})
    df["c"] = _six_nd(df["n"], df["d"])
    return _front(df, _DATABLATIONS_FINAL_COLUMNS)


def _datablations_all_named(f: _Files) -> pd.DataFrame:
    df = f.csv("datablations_all_named_losses.csv").rename(
        columns={"unfinished_zero": "unfinished", "in_final_losses": "in_final"}
    )
    # upstream marks unfinished runs with a loss of 0: that is "no value", not a loss
    df["loss"] = df["loss"].where(~df["unfinished"].astype(bool))
    return df


def _colpret_tensorboard(s: pd.Series, key: str) -> pd.Series:
    return s.map(lambda x: ast.literal_eval(x).get(key) if isinstance(x, str) else None).astype("str")


def _datablations_curves(f: _Files) -> pd.DataFrame:
    raw = f.csv("colpret_tabulation/datablations_losses.csv")
    n = raw["num_params"].map(_parse_count)
    df = pd.DataFrame(
        {
            "run": _colpret_tensorboard(raw["model_args"], "tensorboard"),
            "dataset": raw["data"],
            "n": n,
            "d": raw["token_num"].astype(float),
            "u": raw["tokens_per_epoch"].astype(float),
            "c": _six_nd(n, raw["token_num"]),
            "epochs": raw["epochs"],
            "loss": raw["loss"],
            "num_params": raw["num_params"],
            "checkpoint": raw["checkpoint"],
        }
    )
    return df


def _datablations_code_curves(f: _Files) -> pd.DataFrame:
    raw = f.csv("colpret_tabulation/datablations_code_losses.csv")
    n = raw["num_params"].map(_parse_count)
    return pd.DataFrame(
        {
            "run": _colpret_tensorboard(raw["model_args"], "tensorboard"),
            "dataset": raw["data"],
            "seed": raw["Seed"],
            "n": n,
            "d": raw["token_num"].astype(float),
            "c": _six_nd(n, raw["token_num"]),
            "epochs": raw["epochs"],
            "tokens_per_epoch": raw["tokens_per_epoch"].map(_parse_count),
            "loss": raw["loss"],
            "num_params": raw["num_params"],
            "checkpoint": raw["checkpoint"],
        }
    )


def _datablations_colpret_final(f: _Files) -> pd.DataFrame:
    raw = f.csv("colpret_tabulation/datablations_contour_losses.csv")
    d = raw["token_num"].astype(float)
    return pd.DataFrame(
        {
            "name": _colpret_tensorboard(raw["model_args"], "name"),
            "dataset": raw["data"],
            "n": raw["num_params"].astype(float),
            "d": d,
            "u": d / raw["epochs"],
            "c": _six_nd(raw["num_params"], d),
            "epochs": raw["epochs"],
            "loss": raw["openLM_loss"],
            "colpret_tokens_per_epoch": raw["tokens_per_epoch"],
            "colpret_flops": raw["flops"],
            "checkpoint": raw["checkpoint"],
        }
    )


# --------------------------------------------------------------------------------------------- critical batch


def _cbs_steps(f: _Files) -> pd.DataFrame:
    raw = f.csv("cbs_steps_to_target.csv")
    n = raw["N_millions"].astype(float) * 1e6
    d = raw["tokens_to_target"].astype(float)
    return pd.DataFrame(
        {
            "model": raw["model_size"],
            "n": n,
            "batch": raw["batch_size_tokens"],
            "batch_seqs": raw["batch_size_seqs"],
            "seq_len": raw["seq_len"],
            "steps": raw["steps_to_target"],
            "steps_first_query": raw["steps_to_target_first_query"],
            "d": d,
            "c": _six_nd(n, d),
            "target_loss": raw["target_loss_c4"],
            "chinchilla_steps_at_bs256": raw["chinchilla_steps_at_bs256"],
        }
    )


def _cbs_fits(f: _Files) -> pd.DataFrame:
    raw = f.csv("upstream_cbs_fits.csv")
    return pd.DataFrame(
        {
            "model": raw["model_size"],
            "n": raw["N_millions"].astype(float) * 1e6,
            "fit_a": raw["fit_a"],
            "fit_b": raw["fit_b"],
            "cbs_seqs": raw["cbs_seqs"],
            "cbs": raw["cbs_seqs"] * 512.0,
            "log2_cbs": raw["log2_cbs"],
        }
    )


# -------------------------------------------------------------------------------------------- cherti_openclip


def _cherti_model_id(name: pd.Series, arch: pd.Series) -> pd.Series:
    """One id per trained model: the checkpoint name, or ``openai-<arch>`` for the OpenAI CLIP references."""
    return name.str.removesuffix(".pt").where(name != "openai", "openai-" + arch)


def _cherti_archs(f: _Files) -> pd.DataFrame:
    df = f.csv("arch_info.csv").rename(columns={"model": "arch"})
    df.insert(1, "n", df["mparams"] * 1e6)
    return df


_CHERTI_ZEROSHOT_COLUMNS = ("model", "name", "arch", "dataset", "downstream_dataset", "task", "n", "d", "c")


def _cherti_zeroshot(f: _Files) -> pd.DataFrame:
    raw = f.csv("zeroshot_results.csv")
    mparams = f.csv("arch_info.csv").set_index("model")["mparams"]
    df = raw.rename(columns={c: _snake(c) for c in raw.columns}).rename(
        columns={"upstream_dataset": "dataset"}
    )
    df = df.assign(
        model=_cherti_model_id(df["name"], df["arch"]),
        n=df["arch"].map(mparams) * 1e6,
        d=df["samples_seen"],
        c=df["gmacs_total"] * 1e9,
    )
    return _front(df, _CHERTI_ZEROSHOT_COLUMNS)


def _cherti_runs_frame(f: _Files) -> pd.DataFrame:
    runs = f.csv("trained_models_info.csv")
    arch = f.csv("arch_info.csv").set_index("model")
    seen = f.csv("zeroshot_results.csv").groupby("name")["samples_seen"].first()
    samples = runs["name"].map(seen)
    gmacs = runs["arch"].map(arch["gmacs"])
    df = runs.assign(
        model=runs["name"].str.removesuffix(".pt"),
        dataset="LAION-" + runs["data"],
        n=runs["arch"].map(arch["mparams"]) * 1e6,
        d=samples,
        c=gmacs * samples * 1e9,
        samples_seen=samples,
        gmacs=gmacs,
        batch=runs["gpus"] * runs["local_bs"],
    )
    return _front(df, ["model", "name", "arch", "dataset", "n", "d", "c", "samples_seen", "batch", "lr"])


def _cherti_runs(f: _Files) -> pd.DataFrame:
    return _cherti_runs_frame(f)


def _cherti_curves(f: _Files) -> pd.DataFrame:
    raw = f.csv("imagenet_zeroshot_learning_curves.csv")
    runs = _cherti_runs_frame(f).set_index("name")
    samples = raw["epoch"] * raw["name"].map(runs["samples_per_epoch"])
    df = pd.DataFrame(
        {
            "model": raw["name"].map(runs["model"]),
            "name": raw["name"],
            "arch": raw["name"].map(runs["arch"]),
            "dataset": raw["name"].map(runs["dataset"]),
            "epoch": raw["epoch"],
            "n": raw["name"].map(runs["n"]),
            "d": samples.astype(float),
            "c": samples * raw["name"].map(runs["gmacs"]) * 1e9,
            "samples_seen": samples,
            "acc1": raw["imagenet-zeroshot-val-top1"],
            "acc5": raw["imagenet-zeroshot-val-top5"],
        }
    )
    return df.sort_values(["model", "epoch"], kind="stable")


# ----------------------------------------------------------------------------------------- gadre_overtraining

_GADRE_AVG17 = (
    "bigbench_operators",
    "pubmed_qa_labeled",
    "hellaswag_zeroshot",
    "boolq",
    "arc_easy",
    "coqa",
    "bigbench_dyck_languages",
    "lambada_openai",
    "bigbench_novel_concepts",
    "winograd",
    "bigbench_cs_algorithms",
    "commonsense_qa",
    "bigbench_qa_wikidata",
    "hellaswag",
    "copa",
    "squad",
    "piqa",
)
_GADRE_ID = ["name", "dataset", "model", "n", "d", "c", "cc_mult", "m"]
_GADRE_RUNS_COLUMNS = (*_GADRE_ID, "loss", "n_no_embed", "lr", "batch")


def _gadre_runs(f: _Files) -> pd.DataFrame:
    raw = f.csv("gadre_runs.csv")
    df = raw.rename(
        columns={
            "N": "n",
            "N_no_embed": "n_no_embed",
            "D": "d",
            "flops_6ND": "c",
            "tok_per_param_M": "m",
        }
    )
    df = df.rename(columns={c: _snake(c) for c in df.columns})
    df = df.assign(loss=df["loss_c4_val"], batch=df["global_bs_seqs"] * 2048)
    return _front(df, _GADRE_RUNS_COLUMNS)


def _gadre_losses(f: _Files) -> pd.DataFrame:
    raw = f.csv("gadre_runs.csv")
    runs = _gadre_runs(f)
    splits = [
        c[5:] for c in raw.columns if c.startswith("loss_") and not c.startswith(("loss_lo95_", "loss_hi95_"))
    ]
    parts = [
        runs[_GADRE_ID].assign(
            split=_snake(s),
            loss=raw[f"loss_{s}"],
            loss_lo95=raw[f"loss_lo95_{s}"],
            loss_hi95=raw[f"loss_hi95_{s}"],
            ntok=raw[f"ntok_{s}"],
        )
        for s in splits
    ]
    return pd.concat(parts, ignore_index=True)


def _gadre_task_info_frame(f: _Files) -> pd.DataFrame:
    raw = f.csv("raw/exp_data/eval_metadata.csv")
    df = raw.rename(
        columns={
            "Eval Task": "task",
            "Task Category": "category",
            "Task Type": "task_type",
            "#shots": "shots",
            "#datapoints": "n_datapoints",
            "Random baseline": "random_baseline",
            "Centered Metric?": "centered_metric",
            "Description": "description",
        }
    )
    df["random_baseline"] = df["random_baseline"] / 100.0  # percent -> fraction, like the accuracies
    df["in_avg17"] = df["task"].isin(_GADRE_AVG17)
    return df


def _gadre_tasks(f: _Files) -> pd.DataFrame:
    raw = f.csv("gadre_runs.csv")
    runs = _gadre_runs(f)
    meta = _gadre_task_info_frame(f).set_index("task")
    tasks = [c[4:] for c in raw.columns if c.startswith("acc_")]
    parts = [runs[_GADRE_ID].assign(task=t, value=raw[f"acc_{t}"]) for t in tasks]
    df = pd.concat(parts, ignore_index=True)
    df["metric"] = "acc"
    for col in ("category", "task_type", "shots", "random_baseline"):
        df[col] = df["task"].map(meta[col])
    df["in_avg17"] = df["task"].isin(_GADRE_AVG17)
    return _front(df, _GADRE_ID + ["task", "metric", "value"])


def _gadre_task_info(f: _Files) -> pd.DataFrame:
    return _gadre_task_info_frame(f)


_GADRE_GRID_KEY = re.compile(
    r"^d=(?P<width>\d+)_l=(?P<depth>\d+)_h=(?P<heads>\d+)-(?P<bs_field>\d+)-(?P<lr>[^-]+)-(?P<wd>[^-]+)-"
    r"(?P<bs_field2>\d+)-(?P<tokens>\d+)-(?P<warmup_steps>\d+)-(?P<lr_cooldown_end>.+)$"
)


def _gadre_grid(f: _Files) -> pd.DataFrame:
    grid = f.json("raw/exp_data/grid.json")
    rows = []
    for key, loss in grid.items():
        m = _GADRE_GRID_KEY.match(key)
        if m is None:  # pragma: no cover - all 435 upstream keys match
            raise ValueError(f"gadre_overtraining: unexpected grid.json key {key!r}")
        g = m.groupdict()
        rows.append(
            {
                "key": key,
                "width": int(g["width"]),
                "depth": int(g["depth"]),
                "heads": int(g["heads"]),
                "bs_field": int(g["bs_field"]),
                "lr": float(g["lr"]),
                "wd": float(g["wd"]),
                "d": int(g["tokens"]),
                "warmup_steps": int(g["warmup_steps"]),
                "lr_cooldown_end": float(g["lr_cooldown_end"]),
                "loss": float(loss),
            }
        )
    df = pd.DataFrame.from_records(rows)
    return df.sort_values(["width", "depth", "heads", "bs_field", "warmup_steps", "key"], kind="stable")


# -------------------------------------------------------------------------------------------------- gemstones

_GEM_WANDB = (
    "hot_100b+",
    "hot",
    "hot_477",
    "hot_100b+_477",
    "hot_100b+_512x",
    "hot_120b+_only",
    "hot_120b+_only_477",
    "cool_begin",
    "cool_end",
    "lr_ablation_hot",
    "lr_ablation_hot_477",
    "hot_sampled_like_chinchilla",
    "lr_ablation_hot_sampled_like_chinchilla",
    "slim_chinchilla",
    "lr_ablation_slim_chinchilla",
)
_GEM_ID = ["run", "model", "width", "depth", "n", "d", "c", "step", "loss"]


def _gem_tidy(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.rename(
        columns={
            "run_name": "run",
            "params_active_precise": "n",
            "tokens": "d",
            "final_loss": "loss",
            "FLOPs": "c",
        }
    )
    for col in ("n", "d", "num_nodes", "seconds_per_step"):  # the benchmark files hold nulls for the last two
        if col in df.columns:
            df[col] = pd.to_numeric(df[col]).astype(float)
    if "c" not in df.columns:
        df["c"] = _six_nd(df["n"], df["d"])
    if "width" in df.columns:
        df["model"] = df["width"].astype(str) + "x" + df["depth"].astype(str)
    return _front(df, _GEM_ID)


def _gem_wandb(stem: str) -> Callable[[_Files], pd.DataFrame]:
    def parse(f: _Files) -> pd.DataFrame:
        return _gem_tidy(f.jsonl(f"wandb_dfs/wandb_df_for_fitting_{stem}.jsonl"))

    parse.__name__ = f"_gem_wandb_{stem}"
    return parse


def _gem_benchmark_loss(which: str) -> Callable[[_Files], pd.DataFrame]:
    def parse(f: _Files) -> pd.DataFrame:
        df = _gem_tidy(f.jsonl(f"benchmarks/fineweb_{which}_losses_combined.jsonl"))
        return df.sort_values(["run", "step"], kind="stable")

    parse.__name__ = f"_gem_fineweb_{which}"
    return parse


def _gem_light_eval(f: _Files) -> pd.DataFrame:
    acc = f.csv("benchmarks/light_eval_df.csv")
    err = f.csv("benchmarks/light_eval_df_err.csv")
    ref = _gem_tidy(f.jsonl("benchmarks/fineweb_edu_losses_combined.jsonl"))
    parts = acc["model_checkpoint"].str.extract(
        r"^(?P<run>Gemstone-(?P<width>\d+)x(?P<depth>\d+))-(?P<ckpt>.+)$"
    )
    step = parts["ckpt"].str.extract(r"^step_(\d+)$")[0].astype(float)
    # "main" is the final checkpoint: the last step of that model in the loss files (83475 = 350.1B tokens)
    last = ref.groupby("run")["step"].max()
    step = step.fillna(parts["run"].map(last).astype(float))
    key = ref.set_index(["run", "step"])
    idx = pd.MultiIndex.from_arrays([parts["run"], step.astype("int64")])
    n = key["n"].groupby(level=0).first()
    d = key["d"].reindex(idx).to_numpy()
    base = pd.DataFrame(
        {
            "run": parts["run"],
            "model": parts["width"] + "x" + parts["depth"],
            "width": parts["width"].astype(int),
            "depth": parts["depth"].astype(int),
            "checkpoint": acc["model_checkpoint"],
            "step": step.astype("int64"),
            "n": parts["run"].map(n).astype(float),
            "d": d,
        }
    )
    base["c"] = _six_nd(base["n"], base["d"])
    tasks = [c for c in acc.columns if c != "model_checkpoint"]
    if list(err["model_checkpoint"]) != list(
        acc["model_checkpoint"]
    ):  # pragma: no cover - upstream invariant
        raise ValueError("gemstones: light_eval_df.csv and light_eval_df_err.csv rows differ")
    long = [base.assign(task=_snake(t), metric="acc", value=acc[t], stderr=err[t]) for t in tasks]
    return pd.concat(long, ignore_index=True)


_GEM_PUBLIC_MODELS_COLUMNS = ("model", "n", "n_non_embed", "loss")


def _gem_public_models(f: _Files) -> pd.DataFrame:
    raw = pd.DataFrame(f.json("data/our_val_loss_data.json"))
    df = raw.rename(columns={"hf_name": "model", "params": "n", "non_emb_params": "n_non_embed"})
    return _front(df, _GEM_PUBLIC_MODELS_COLUMNS)


_GEM_A1 = re.compile(
    r"^approach_1_linear_regression_(?P<target>tokens_per_param|params|tokens)(?:_(?P<subset>.+))?$"
)
_GEM_A3 = re.compile(
    r"^approach_3_(?P<target>parameters|width_depth_parameters|width_depth)_grid_search_0_(?P<subset>.+)$"
)


def _gem_fits(f: _Files) -> pd.DataFrame:
    rows = []
    folders = {"parameters/": float("nan"), "parameters_delta-3/": 1e-3, "parameters_delta-4/": 1e-4}
    for folder, delta in folders.items():
        for rel in f.under(folder):
            stem = rel[len(folder) :].removesuffix(".json")
            obj = f.json(rel)
            base = {"file": rel, "huber_delta": delta}
            if (m := _GEM_A1.match(stem)) is not None:
                base |= {"approach": 1, "target": m["target"], "subset": m["subset"] or "hot"}
                params = {"coef": obj["coef"][0], "intercept": obj["intercept"]}
            elif (m := _GEM_A3.match(stem)) is not None:
                base |= {"approach": 3, "target": m["target"], "subset": m["subset"]}
                params = {"fit_loss": obj["loss"]["0"], "irreducible_error": obj["irreducible_error"]["0"]}
                params |= {f"exponent_{i}": v for i, v in enumerate(obj["exponents"]["0"])}
                params |= {f"coefficient_{i}": v for i, v in enumerate(obj["coefficients"]["0"])}
                params["success"] = float(obj["success"]["0"])
            else:  # pragma: no cover - all upstream names match
                raise ValueError(f"gemstones: unexpected fit file name {rel!r}")
            rows.extend(base | {"param": k, "value": float(v)} for k, v in params.items())
    return pd.DataFrame.from_records(rows)


# ------------------------------------------------------------------------------------------- laion comparison

_LAION_BEST_COLUMNS = (
    "family",
    "arch",
    "dataset",
    "lr_scheduler",
    "eval_dataset",
    "metric",
    "n",
    "d",
    "c",
    "value",
)
_LAION_SEGMENTATION_COLUMNS = (
    "name",
    "family",
    "arch",
    "dataset",
    "n",
    "d",
    "c",
    "miou",
    "lr",
    "batch",
    "warmup",
)
_LAION_MODELS_COLUMNS = ("arch", "family", "n", "gflops")


def _laion_best(f: _Files) -> pd.DataFrame:
    raw = f.csv("best_per_model_samples_seen.csv")
    df = raw.rename(columns={"pretrain_dataset": "dataset", "namespace": "family"})
    df = df.assign(
        n=df["model_mparams"] * 1e6,
        d=df["samples_seen"],
        c=df["total_gflops"] * 1e9,
    )
    return _front(df, _LAION_BEST_COLUMNS)


def _laion_segmentation(f: _Files) -> pd.DataFrame:
    raw = f.csv("segmentation_results.csv")
    df = raw.rename(columns={c: _snake(c) for c in raw.columns})
    df = df.assign(
        family=df["namespace"],
        arch=df["model_simple"],
        dataset=df["pretrain_dataset"],
        n=df["model_mparams"] * 1e6,
        d=df["samples_seen"].astype(float),
        c=df["gflops"] * 1e9,
        batch=df["global_batch_size"],
    )
    return _front(df, _LAION_SEGMENTATION_COLUMNS)


def _laion_models(f: _Files) -> pd.DataFrame:
    raw = f.csv("model_profile.csv")
    df = raw.rename(columns={"model": "arch", "namespace": "family"})
    df.insert(1, "n", df["mparams"] * 1e6)
    return _front(df, _LAION_MODELS_COLUMNS)


# ----------------------------------------------------------------------------------------------- loss-to-loss


def _l2l_rename(col: str) -> str:
    if m := re.fullmatch(r"eval/(.+)_val/CrossEntropyLoss", col):
        return f"loss_{_snake(m[1])}"
    if m := re.fullmatch(r"eval/(.+)_val/Perplexity", col):
        return f"ppl_{_snake(m[1])}"
    if m := re.fullmatch(r"eval/downstream(?:_ce_loss)?/(.+)", col):
        return _snake(m[1])
    special = {
        "train/CrossEntropyLoss": "train_loss",
        "System/Peak GPU Memory (MB)": "peak_gpu_memory_mb",
        "params": "n",
        "tokens": "d",
        "iso_flop": "c",
        "data": "dataset",
        "val_loss": "loss",
    }
    return special.get(col, _snake(col))


_L2L_RUNS_COLUMNS = ("id", "name", "dataset", "n", "d", "c", "loss")


def _l2l_runs(f: _Files) -> pd.DataFrame:
    raw = f.csv("sweep.csv")
    new = [_l2l_rename(c) for c in raw.columns]
    if len(set(new)) != len(new):  # pragma: no cover - upstream invariant
        raise ValueError("loss_to_loss_brandfonbrener: column names collide after renaming")
    df = raw.set_axis(new, axis=1)
    df["n"] = df["n"].astype(float)
    return _front(df, _L2L_RUNS_COLUMNS)


def _l2l_losses(f: _Files) -> pd.DataFrame:
    runs = _l2l_runs(f)
    sets = [c[5:] for c in runs.columns if c.startswith("loss_")]
    parts = [
        runs[["id", "name", "dataset", "n", "d", "c"]].assign(eval_set=s, loss=runs[f"loss_{s}"])
        for s in sets
    ]
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------------------- multipower

_MPL_FIT = (
    "cosine_24000",
    "constant_24000",
    "wsdcon_9",
)  # upstream src/config.py; the rest is the test split


def _mpl_curves(f: _Files) -> pd.DataFrame:
    parts = []
    for size in ("25", "100", "400"):
        for rel in f.under(f"csv_{size}/"):
            schedule = rel.split("/", 1)[1].removesuffix(".csv")
            df = f.csv(rel)
            parts.append(
                pd.DataFrame(
                    {
                        "model": f"{size}M",
                        "n": float(size) * 1e6,
                        "schedule": schedule,
                        "schedule_type": schedule.split("_", 1)[0],
                        "split": "fit" if schedule in _MPL_FIT else "test",
                        "step": df["step"],
                        "lr": df["lr"],
                        "loss": df["loss"],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------------------- obsscaling

_OBS_META = ["model", "family", "n", "d", "c"]
_OBS_LONG_COLUMNS = (*_OBS_META, "task", "value")


def _obs_tidy(raw: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "model": raw["Model"],
            "family": raw["Model Family"],
            "n": raw["Model Size (B)"] * 1e9,
            "d": raw["Pretraining Data Size (T)"] * 1e12,
            "c": raw["FLOPs (1E21)"] * 1e21,
        }
    )
    rest = [
        c
        for c in raw.columns
        if c not in ("Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)")
    ]
    return pd.concat([df, raw[rest].set_axis([_snake(c) for c in rest], axis=1)], axis=1)


def _obs_base(f: _Files) -> pd.DataFrame:
    return _obs_tidy(f.csv("base_llm_benchmark_eval.csv"))


def _obs_sub_10b(f: _Files) -> pd.DataFrame:
    return _obs_tidy(f.csv("base_llm_benchmark_eval_sub_10b.csv"))


def _obs_instruct(f: _Files) -> pd.DataFrame:
    return _obs_tidy(f.csv("instruct_llm_benchmark_eval.csv"))


def _obs_melt(meta: pd.DataFrame, wide: pd.DataFrame) -> pd.DataFrame:
    """Long table ``model, family, n, d, c, task, value`` from a ``Model`` + one-column-per-task file."""
    meta = meta[_OBS_META].set_index("model")
    tasks = [c for c in wide.columns if c != "Model"]
    long = wide.melt(id_vars="Model", value_vars=tasks, var_name="task", value_name="value")
    long = long.rename(columns={"Model": "model"})
    for col in _OBS_META[1:]:
        long[col] = long["model"].map(meta[col])
    return _front(long, _OBS_LONG_COLUMNS)


def _obs_base_long(f: _Files) -> pd.DataFrame:
    base = _obs_base(f)
    tasks = [c for c in base.columns if c not in _OBS_META]
    long = base.melt(id_vars=_OBS_META, value_vars=tasks, var_name="task", value_name="value")
    return long


def _obs_file_long(rel: str, meta_rel: str) -> Callable[[_Files], pd.DataFrame]:
    def parse(f: _Files) -> pd.DataFrame:
        df = _obs_melt(_obs_tidy(f.csv(meta_rel)), f.csv(rel))
        if "post_training" in rel:  # columns are "<task>,<filter>" (lm-eval-harness filter / aggregation)
            parts = df["task"].str.split(",", n=1, expand=True)
            df = df.assign(task=parts[0], filter=parts[1])
        return df

    parse.__name__ = "_obs_" + rel.removesuffix(".csv")
    return parse


# ------------------------------------------------------------------------------------------------ olmo_ladder

_OLMO_EVAL = re.compile(
    r"^(?:eval/)?(?:(?P<set>[^/]+)-validation/CrossEntropyLoss"
    r"|downstream(?P<kind>_bpb|_soft_log|_soft|)/(?P<task>.+)_(?P<split>val|test)_rc_5shot_(?P<metric>\w+))$"
)
_OLMO_KIND = {"_bpb": "bpb", "": "acc", "_soft": "soft", "_soft_log": "soft_log"}
_OLMO_RUN = re.compile(r"^(?P<size>\d+[MB])-(?P<mult>[\d.]+)xC(?P<rerun>-rerun)?$")


def _olmo_eval_name(col: str) -> tuple[str, str, str, str] | None:
    """Return ``(new column, task or eval set, split, metric)`` for an eval column, else None."""
    m = _OLMO_EVAL.match(col)
    if m is None:
        return None
    if m["set"] is not None:
        s = _snake(m["set"])
        return f"loss_{s}", s, "validation", "loss"
    kind = _OLMO_KIND[m["kind"]]
    return f"{kind}_{m['task']}_{m['split']}", m["task"], m["split"], kind


def _olmo_rename_evals(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={c: r[0] for c in df.columns if (r := _olmo_eval_name(c)) is not None})


_OLMO_ID = ["run", "size", "chinchilla_mult", "rerun", "n", "d", "c"]
_OLMO_FINAL_COLUMNS = (*_OLMO_ID, "loss", "steps", "lr", "batch")
_OLMO_CURVES_COLUMNS = (*_OLMO_ID, "step", "loss", "lr", "lr_peak", "batch")


def _olmo_final(f: _Files) -> pd.DataFrame:
    raw = f.csv("ladder_final_checkpoints.csv")
    df = _olmo_rename_evals(raw).rename(
        columns={
            "N": "n",
            "N_source": "n_source",
            "D": "d",
            "C_flops": "c",
            "final_step": "steps",
            "lr_peak": "lr",
            "batch_tokens": "batch",
        }
    )
    df["loss"] = df["loss_c4_en"]
    return _front(df, _OLMO_FINAL_COLUMNS)


def _olmo_long(f: _Files, metrics: tuple[str, ...]) -> pd.DataFrame:
    raw = f.csv("ladder_final_checkpoints.csv")
    ids = _olmo_final(f)[_OLMO_ID]
    parts = []
    for col in raw.columns:
        r = _olmo_eval_name(col)
        if r is not None and r[3] in metrics:
            parts.append(ids.assign(task=r[1], split=r[2], metric=r[3], value=raw[col]))
    return pd.concat(parts, ignore_index=True)


def _olmo_tasks(f: _Files) -> pd.DataFrame:
    return _olmo_long(f, ("bpb", "acc", "soft", "soft_log"))


def _olmo_losses(f: _Files) -> pd.DataFrame:
    df = _olmo_long(f, ("loss",)).rename(columns={"task": "eval_set", "value": "loss"})
    return df.drop(columns=["split", "metric"])


def _olmo_curves(f: _Files) -> pd.DataFrame:
    final = _olmo_final(f).set_index("run")
    parts = []
    for rel in f.under("ladder-runs/"):
        run = rel.split("/", 1)[1].removesuffix(".csv")
        m = _OLMO_RUN.match(run)
        if m is None:  # pragma: no cover - all upstream names match
            raise ValueError(f"olmo_ladder: unexpected run file {rel!r}")
        df = _olmo_rename_evals(f.csv(rel)).rename(
            columns={
                "_step": "step",
                "throughput/total_tokens": "d",
                "optim/learning_rate_group0": "lr",
                "learning_rate_peak": "lr_peak",
                "batch_size_in_tokens": "batch",
            }
        )
        gflops = "throughput/total_training_Gflops"
        ids = pd.DataFrame(
            {
                "run": run,
                "size": m["size"],
                "chinchilla_mult": float(m["mult"]),
                "rerun": m["rerun"] is not None,
                "n": float(final.loc[run, "n"]),
                "c": df[gflops] * 1e9,
                "loss": df["loss_c4_en"],
            },
            index=df.index,
        )
        df = pd.concat([ids, df[[c for c in df.columns if c != gflops]]], axis=1)
        parts.append(_front(df, _OLMO_CURVES_COLUMNS))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------------------------------- porian

_PORIAN_SETTING = [
    "source_file",
    "dataset",
    "hparams",
    "warmup",
    "decay",
    "param_count",
    "loss_split",
    "label",
]
_PORIAN_ISOFLOP_COLUMNS = (*_PORIAN_SETTING, "n", "d", "c", "loss")


def _porian_isoflop(f: _Files) -> pd.DataFrame:
    df = f.csv("porian_isoflop_points.csv").rename(columns={"N": "n", "D": "d", "flops": "c"})
    return _front(df, _PORIAN_ISOFLOP_COLUMNS)


def _porian_compute_optimal(f: _Files) -> pd.DataFrame:
    raw = f.csv("porian_compute_optimal_points.csv")
    df = raw.rename(columns={"N_opt": "n", "D_opt": "d", "flops": "c", "loss_opt": "loss"})
    df = df.rename(columns={c: _snake(c) for c in df.columns})
    return _front(df, _PORIAN_SETTING + ["c", "n", "d", "loss"])


def _porian_fits(f: _Files) -> pd.DataFrame:
    raw = f.csv("porian_upstream_fits.csv")
    return raw.rename(columns={c: _snake(c) for c in raw.columns})


# ----------------------------------------------------------------------------------------------------- pythia

_PYTHIA_EVALS_COLUMNS = (
    "variant",
    "size",
    "deduped",
    "batch",
    "num_fewshot",
    "step",
    "n",
    "d",
    "c",
    "task",
    "metric",
    "value",
    "stderr",
)


def _pythia_evals(f: _Files) -> pd.DataFrame:
    raw = f.csv("pythia_evals_long.csv")
    df = raw.rename(
        columns={"N_total": "n", "N_nonembed": "n_nonembed", "tokens": "d", "batch_tokens": "batch"}
    )
    df["n"] = df["n"].astype(float)
    df["d"] = df["d"].astype(float)
    df["c"] = _six_nd(df["n"], df["d"])
    return _front(df, _PYTHIA_EVALS_COLUMNS)


# ---------------------------------------------------------------------------------------------------- steplaw


def _steplaw_common(raw: pd.DataFrame, seq_len) -> pd.DataFrame:
    df = raw.rename(columns={"loss": "loss_raw", "smooth loss": "loss", "ti": "steps", "bs": "batch_seqs"})
    df = df.rename(columns={c: _snake(c) for c in df.columns if c not in ("N", "D", "Na")})
    df = df.rename(
        columns={"N": "n", "D": "d", "Na": "n_active", "d_n": "d_over_n", "na_n": "n_active_over_n"}
    )
    df["n"] = df["n"].astype(float)
    df["d"] = df["d"].astype(float)
    df["batch"] = df["batch_seqs"] * seq_len
    return df


def _steplaw_dense(f: _Files) -> pd.DataFrame:
    df = _steplaw_common(f.csv("dense_lr_bs_loss.csv"), 2048)
    df["c"] = _six_nd(df["n"], df["d"])
    return _front(df, ["exp_name", "n", "d", "c", "lr", "batch", "steps", "loss", "loss_raw"])


_STEPLAW_MOE_COLUMNS = (
    "exp_name",
    "moe_name",
    "n",
    "n_active",
    "d",
    "c",
    "lr",
    "batch",
    "steps",
    "loss",
    "loss_raw",
)


def _steplaw_moe(f: _Files) -> pd.DataFrame:
    raw = f.csv("moe_lr_bs_loss.csv")
    df = _steplaw_common(raw, raw["seq_len"])
    df["n_active"] = df["n_active"].astype(float)
    df["c"] = _six_nd(df["n_active"], df["d"])
    return _front(df, _STEPLAW_MOE_COLUMNS)


# =================================================================================================== manifest
# sha256 and path (inside the data set's folder) of every file, as computed with ``sha256sum`` from the
# project's data folder. The pinned URL of each file follows from the data set's repository, commit and path
# map in the registry below.

_SHA256: dict[str, str] = {
    "cherti_openclip": """
        44189a6d88685eb70a632fcf0db20e9944e7277d58c0a2d343ee9d9d6d5bcc08  arch_info.csv
        1ac37cafcf49b7d15c14e1f6d351bcc6d0933ffa357dda4038c43129ba9c86db  imagenet_zeroshot_learning_curves.csv
        6b084d4895ed83c0dc38a8f166b6164e1a70d0bcc42c75e2aae51a86bf9f678d  trained_models_info.csv
        a04786cfcde5d47436c8ddbca0f0bdbb39cc584c0d0776b4f99145ae430a6568  zeroshot_results.csv
    """,  # noqa: E501
    "chinchilla_epoch": """
        bacdb6abc1d139b61ba983333f79d502d635e102ba300d751932ac29df1fac7c  chinchilla_NDCloss.csv
        193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30  svg_extracted_data.csv
    """,
    "critical_batch_zhang2024": """
        64a0dc20456a3207dcf25a43e40a9f3edc147b977f6ccfe6d9d49d3beb0ada5c  cbs_steps_to_target.csv
        0e5eb8012b37b2777bce54e8ed3f97c933024653bc4b2fbb85eb6f1a1b94c3da  upstream_cbs_fits.csv
    """,
    "datablations_muennighoff": """
        6e93a1d6842c0699f0492450e433733f706f3c7db6a4385d4c571f6b4aaf257e  colpret_tabulation/datablations_code_losses.csv
        1241bdf3732b4f65d455c796951dce7b18b898d64709f86013914573035f8a5b  colpret_tabulation/datablations_contour_losses.csv
        b3c448c2cd1a17128e06ee3120a9c377c4e2bf649e09b2446db59f98ef957b48  colpret_tabulation/datablations_losses.csv
        ead09d8333aba4d23b3f26d58ad1d31c42638f5f46b3e9692bfe07305767aab2  datablations_all_named_losses.csv
        7b138f4155ed76dec965d107db1402ba7c667c4535f89dd00bb312fa0f9caf2d  datablations_final_losses.csv
        0d2fd79c72fac7f9d20fcc29a404c1419ba7ba40924cc3158ed79a4dbea9a02b  name_code_params_map.csv
        2b256779e732d2d19602c48ff84b397a8a18041013dedac6eccd0fa69a6dd168  name_code_tokens_map.csv
    """,  # noqa: E501
    "gadre_overtraining": """
        1e64fde8c89c1b28843987c8209ef48209256431ff8d3358e51a5c67e4db64de  gadre_grid_search.csv
        da83887a7b0bb40558db85fbb2711f343b800b3cbbb2a84ef4ccb29155ddbb20  gadre_runs.csv
        8cd5243244a6890c8cec31cf7752901131f1da479b3c4920e37eb65ad608089c  raw/exp_data/eval_metadata.csv
        82d76b589a41a716a275c272285cb933c692d83ba4f79dd321d07b159f412bb8  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-0.25_heavy.json
        82de50bfb36466437ad954d1e2f57ce350ec4db211316bd24b850bfe0e6a9db7  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-0.5_heavy.json
        97894c818c678fb3d71b759ab8d4539d939735b38c96c2958d077b30db38a9b9  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-1.0_heavy.json
        19b415d6f05ef852b1713337a3d849a7de47d026e04393e5f05c6723013aa52d  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-16.0_heavy.json
        4ba52562ba732f18b55a6ebc56d6edacb6b56789e0965ace1d6059b394ee99de  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-2.0_heavy.json
        dc03cdca25516add5735045a64db1edb6aa4245c2f7b72d53a356ac91f862afc  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-4.0_heavy.json
        2bd6869a79ed42b1e3e7c8b90b263c34b12cc2b5b0dc4e20cfdf565d9d8facba  raw/exp_data/evals/evaluation_c4_original-d=1024_l=24_h=8-8.0_heavy.json
        698053164289e3c2e775dc0db8e913df9514b91fa05723a1851783053e5a7983  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-0.25_heavy.json
        77893b6338861d8904fe4e9369637b5293775e8d97fa1e9fac05011ff6fd103c  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-0.5_heavy.json
        a0e372b660a0b1a9fa358f04b889d522ff160f8580cf77dd96e1b168e4760dea  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-1.0_heavy.json
        10834f7157f78b8c9e8f8f0c5159a84ff89ca741f146683c16dd459a27bca7a1  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-16.0_heavy.json
        f1ea2f5bea7ab7a376932758b76f0e1be0da055cf4e7a59dff60122cf6eb212d  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-2.0_heavy.json
        4b6d3de7cf7155c8cc730feb78cf476b1a895e622daf78c85f2523148a2b3454  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-32.0_heavy.json
        64082ee774687d5dcfc52716e70d503894b59cd93fc496cce7b81bc9342fb745  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-4.0_heavy.json
        71397d81eb1057e19072a145ecaebfade4bd5f071c012a61d810600d98e9bcf4  raw/exp_data/evals/evaluation_c4_original-d=512_l=8_h=4-8.0_heavy.json
        65af14c5d9bc3010359bd8f05196634cd4c37b3d337f3ff5565faa50d85ebdd9  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-0.25_heavy.json
        7018005e78310197d94b9131206f30bf1741712000d2f3c5ae577864b7e0ea30  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-0.5_heavy.json
        06ae03cea1857771253deed34a6180e800da0b7fb086177b57a86852c50cd4c9  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-1.0_heavy.json
        8086d1d5c842b1d5dbf4e692bc99bcfb9432d98182d6b73a79c54d9a1fe957e2  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-16.0_heavy.json
        8243a20d5330b748cc28b94b28346995bf3675492fd1bfc0014b782fe272cd46  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-2.0_heavy.json
        3dd4c9b443dcd6153e688988d9bb01f6bdc41486166e1be6ec73101a03d1db4d  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-32.0_heavy.json
        0b49254ae617f3758a1d32e7069ca3a0dd526a83aced3f391c8cbd46a555c0b3  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-4.0_heavy.json
        8201280d1b9ba503e333b4b0a7055fa564bc35a53f56f2eab065282896e23059  raw/exp_data/evals/evaluation_c4_original-d=576_l=24_h=8-8.0_heavy.json
        31fa04ddedad803f3a219bfce0d78049f5657021fcca51c1814c86528572299b  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-0.25_heavy.json
        8d71595b0eb9b1042736630a44fd971e3c9b9bfae60b088bfc9eb5cfcf60dd7a  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-0.5_heavy.json
        866e0290c817c27a79ef8c0201037213b33d98baf8c157169b92798eb244faff  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-1.0_heavy.json
        c4f084faaa29c08db678320948e5638b45c13c21f03eb6bbc05e7234774f918f  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-16.0_heavy.json
        4c08ae42d20499dc9d86b0944a03e7d623cf1c7671f31263eac28d37310419b4  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-2.0_heavy.json
        e3e9f3e3b0194b462665ac28d1eeb2a9577c90178bcdb5d8f13817fab0e20b60  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-32.0_heavy.json
        d16faaa2f9cf9f9fb613c7dbdf7ed614aa470b3ae853cc5ea797e58041696a79  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-4.0_heavy.json
        73d7c034beed526ba226f6dd3019acc0d5fa51047852ad43ef993444f9dcb858  raw/exp_data/evals/evaluation_c4_original-d=96_l=8_h=4-8.0_heavy.json
        665dca20f7dc054994e4e337696544eff8871d7280790a7889fea98236f49c4f  raw/exp_data/evals/evaluation_c4_original-open_lm_1b-1.0_heavy.json
        8679ee3e4f7ed62a6723690607a99ab93d4f67bbca30473374ff5398747b66ed  raw/exp_data/evals/evaluation_c4_original-open_lm_1b-4.0_heavy.json
        73682bf8c39cea0fd0b224d2c310dd256feec6552ff0b4936668294444b6b62b  raw/exp_data/evals/evaluation_c4_original-open_lm_7b-1.0_heavy.json
        5db297cb6b538b3460783e39ec82771e119e5f2b07cdfa5cdfcc82662449aef1  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-0.25_heavy.json
        36e35b2b64e1d4df50aaba6a76de8a80a8ca62b1e39250799dd79b7148a91e0f  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-0.5_heavy.json
        d457e978adc3b9c23a0b904c75d8a13b371e72a4cfa20e84e7749a04c32872d2  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-1.0_heavy.json
        6850e7dbb85693b7db51dd161cbfc20d02f2a148a474a21b75941635abfccb95  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-16.0_heavy.json
        7c4a8387b2df48a144a450a90173c024e17df516ddf54f514af2647b1610ccf5  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-2.0_heavy.json
        a0dfac5c44cf27b9189952aab9e5632f1ebd75d895515e0403e3d9f0fbb657dd  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-32.0_heavy.json
        ba2078070302b0dbbdaeeadd8a3e0504a8e421e2795ebdcbced7ff67dfbd5e03  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-4.0_heavy.json
        607cc6bfc79655b33093eca55e08abbd1be92febc119e21a02de83c36acadd6a  raw/exp_data/evals/evaluation_rpj-d=1024_l=24_h=8-8.0_heavy.json
        222cdaef719061be430c067c0fe3da73c36a16ed33c3e891161cd630451a3474  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-0.25_heavy.json
        47a0f64f92f270870a4b9eb87f4146f0c140a53829aa529e82606a36bde1c7d8  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-0.5_heavy.json
        4626735ceef8744c91097902f3c9fc63c4ab806a20878a876cd89ecdec25df7a  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-1.0_heavy.json
        d701a84f686dda5847c08c2baee91f9b6ed5d238c5b974453e0e3d4634e00e67  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-16.0_heavy.json
        b82796ca6705815b9b51e21ced6971d3c2fb4a999bb9610e9c9d1cb0aceb9384  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-2.0_heavy.json
        b351ced39b18696b0a8a4a46e2907fbe937f5e281715c022055e31e2ff3dae22  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-32.0_heavy.json
        0c24aa9961fa2ade37f9793acab02a0843650e973f4cb76b84941f61a2e417db  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-4.0_heavy.json
        dd855125af6b1136275c0b884234428d58a36041293d668b6b282108ef5322b6  raw/exp_data/evals/evaluation_rpj-d=512_l=8_h=4-8.0_heavy.json
        399cb26f1e27e110bcbb8a232876f69c1b111d93a28176593c5f539da904cca0  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-0.25_heavy.json
        dfb5d3941d751ff92cb765272ede70a7dc9b263c440fed745ec3e6fb92d91f85  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-0.5_heavy.json
        ff1f6b29041669eca1e7f8ee741b2fd4ea657b6d2d012bb63fe6af8a1fcb2c7c  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-1.0_heavy.json
        7cf2db697cece71f244df4aabf3f11454ac79e6382122785ffbc9e107044d73a  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-16.0_heavy.json
        a34619ebc6cc8e39101ef5e0f02c70418539df4b277c3d308f993703da1bcef2  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-2.0_heavy.json
        f623e8a0c793e6f277baed4b848d023f8cfa04e637195f58aa746c56a3e062d1  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-32.0_heavy.json
        b89537eadc801d7b884cd1e6b11d0cd25b9a10a4285387eaf04c1e99b6fdfade  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-4.0_heavy.json
        8a9362f0a4de493684774e8fa2147e38bfd1ec5a7b18dc4fedf8bb5cb6742ac8  raw/exp_data/evals/evaluation_rpj-d=576_l=24_h=8-8.0_heavy.json
        94eaf0356677e90513c10dce16078093dfa708f5c9e07f45a103228c7cee32a5  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-0.25_heavy.json
        d081e2b1e0ec79df7febd9123b3529c6a2b043233aace62fc04e0c14b4b020f2  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-0.5_heavy.json
        913f558fa989bc7bacc81666dd794e2b1f835ef15f30787114f5a7142c299e1b  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-1.0_heavy.json
        a900f9f040a1844c5b3568af04f22b5ad6c82a4691407a1773e7001540269ade  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-16.0_heavy.json
        0f6966eaf5e245ae39d42a717733976ff11b0c292dc827029b17dc4d5d770e7b  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-2.0_heavy.json
        0ffe1616d7e4022262db2622a16ed6b7ab3a642fbcf58f8a80a525d8a6faa83d  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-32.0_heavy.json
        c18eeae160ff0488a845c283a458b3c3c54164b7ac6832cd78fea35b4228f5be  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-4.0_heavy.json
        85c7cbc6aae4d5a383b81501cbec377a0e2143b5f8cbb8c4b2c423f328fc24d2  raw/exp_data/evals/evaluation_rpj-d=96_l=8_h=4-8.0_heavy.json
        1e93269d6e4b4886410df04ff41d9c940e87e1d708370ea9f0536a4d4255f04e  raw/exp_data/evals/evaluation_rpj-open_lm_1b-1.0_heavy.json
        f195ffc908505011b6a6e5826cffacecbd2b3a6478d5b2cc470e0ca9b80175eb  raw/exp_data/evals/evaluation_rpj-open_lm_1b-32.0_heavy.json
        98fcd35964314b4618a1d3f3dc63e8e330422af046025c96e23a6b367f316d91  raw/exp_data/evals/evaluation_rpj-open_lm_7b-1.0_heavy.json
        62fe6ccdc7b876224c2855c57ddbea4285d7c9f13023e30e8699f3a9911cda70  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-0.25_heavy.json
        3d106fdf5da9ab02fb5a9ea11b8743bd0582d77446ca5b824a82e8f693e8a65a  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-0.5_heavy.json
        1f1bfe8eded82b4bee244d18972a2786527e3b89579b39f8acaddf629a4688b8  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-1.0_heavy.json
        eab651e63d342471d7d30af6d278bf47b2ac98e6793539ddf640afb130b28726  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-16.0_heavy.json
        fc947b9738bbbfa2d72e8c1366d8d895262a7de585639a9684d6113e1d03ca5c  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-2.0_heavy.json
        9b993b8b6f701e01f62e72331e55e4ec24cf6cb5e920a6da841c85774b39a90e  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-32.0_heavy.json
        2e32d97c4c2d971c225b909e022b9e5d264577da6808a952dfac609898d71529  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-4.0_heavy.json
        a4e07214dc8247375b298779b3ed7a5fdb9070cf8c3888422a19a1ff7eda4417  raw/exp_data/evals/evaluation_rw_original-d=1024_l=24_h=8-8.0_heavy.json
        abcce222c5910cf63d013551664cb89ea3b7e4948c68297d101aca9196a26737  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-0.25_heavy.json
        cb63887ca42fba63eb8d2e5ec79fbde3d8e5638866a1e8de4516df08e440ff86  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-0.5_heavy.json
        4b861d04027474d2d4a3469a54f0d039b6a31a2e88daa845275eea99e4935e49  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-1.0_heavy.json
        2ff23eb83336cafee6d3d884667c8be8fcd04e201bc62c01dab8eb5d6e179d54  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-16.0_heavy.json
        133e0797fd90c2d6b058ba767fc3330ad7221c5e7ba9561cc6c473808c7ef477  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-2.0_heavy.json
        582f9cc05549c6fe8eca8ddb8c1d4691765c369563589d30213a8b7f41a76d57  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-32.0_heavy.json
        5d2a19cfc13d1e8569e617c4edd10f686d8abbfce2104e284e7a7be00a0a9901  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-4.0_heavy.json
        3d6923fc23452ec9bfc7f881f4d64ebd76a7ef2dcc6dd3c28325dbe68eb7366f  raw/exp_data/evals/evaluation_rw_original-d=512_l=8_h=4-8.0_heavy.json
        e6c170f370aae352b7cf884ef2094a8e07bc129d109b31c64df0c32302f5c116  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-0.25_heavy.json
        81459016a622048758f89ddd5e6cb6f63164e9be727e83e9f0217e8ed4c420ad  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-0.5_heavy.json
        92f209b486866bfa623f55c8cf248c374cf8b57befdbc7162a01cdf9e8bd5eb9  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-1.0_heavy.json
        e14b7f83d7332e843808a428545ac10fa751f17f2be618bf1e0596c79a3ad302  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-16.0_heavy.json
        8ece24de398b46833330faacef4b96af541403068a1ac7bf3e6511cd27d801bd  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-2.0_heavy.json
        0fe18c9cdad2d4336a9c10c962dfb8977842526237d004b1e215f821e315502e  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-32.0_heavy.json
        f22abb2de50dd9393bebfb38fa0b6c2ec3a304d8f6ae26d5210ecc9fe475e0c4  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-4.0_heavy.json
        cab9c3fb6459c316b0f5aa59265bb5cf3fe6082a0c1e9af12ec98434ca95e798  raw/exp_data/evals/evaluation_rw_original-d=576_l=24_h=8-8.0_heavy.json
        4912d2883dacdcdc9e15445a1ad7c2259ae60d856fe158f3e93fb9c8a44c1ad7  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-0.25_heavy.json
        7b76b45666cc1a76e7987d7d99cff9c4d52404deb9a541772e34606a9d9071ec  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-0.5_heavy.json
        5f5c621ea624aa29ca0129279af6b7d7b14f3b0cbd6b1fc2f04a0842fe7617a0  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-1.0_heavy.json
        f13e71e47dc998de8dd9bf9d09f0a4e053e3763108faffa12d88ca8b5e2e7fcf  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-16.0_heavy.json
        dd5818c3e7885282aeb8e35ec9a3f026f74ced9de059d2db760e4ae4068411df  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-2.0_heavy.json
        7fcebe0ad715b34cfe13812fc233711e70b141b9139eeda457a830ac045a3b6e  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-32.0_heavy.json
        506d6b2078643b17c9adbbb9ca898333d9f60481345c353e214ff5adb0e081ef  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-4.0_heavy.json
        e82baa868c04724652f5ae507d63d0af22afe89960e1081e1568939737ab3a7e  raw/exp_data/evals/evaluation_rw_original-d=96_l=8_h=4-8.0_heavy.json
        ea713c5372e7ebb0c18289442fe5b0216f5f9a608332824e30b29af1c21393b3  raw/exp_data/evals/evaluation_rw_original-open_lm_1b-1.0_heavy.json
        2a6160c9eccaa8487ba0071d48ff6b48ba987ec257bb301f6cef6bf9502c3ecb  raw/exp_data/evals/evaluation_rw_original-open_lm_1b-16.0_heavy.json
        c847b9f83f999f71f96969259ee6033c3ee45e5d0f0f486139e5b2c34fc0c67e  raw/exp_data/evals/evaluation_rw_original-open_lm_7b-1.0_heavy.json
        ca332946e0f359950c47a115662e8fdea40e33807fc6bb8ebb0adc4a17521050  raw/exp_data/grid.json
        8db3df3858bb7be2545aca24f1cc49f8f6b351b7eefe6b494987c391f51c1f33  raw/exp_data/models/c4_original-d=1024_l=24_h=8-0.25.json
        0421d2fcf2bc99338fe215712a4cccee382ba3506fab5fbcded640a40c0da1b6  raw/exp_data/models/c4_original-d=1024_l=24_h=8-0.5.json
        bf6b68b49d3d1dd9779650fbf4a7a47051d2696bdb1c5d8b4c4ad6d66ee216f4  raw/exp_data/models/c4_original-d=1024_l=24_h=8-1.0.json
        6881e8bcfd2439f52f0ffa1a20bfc3244b6b2da16dc9576e689d720db1c3864d  raw/exp_data/models/c4_original-d=1024_l=24_h=8-16.0.json
        1c74db470334756fb544fa7ef1155bf2b6bc70bdf0eb2fd458c4f8a0e3d5787e  raw/exp_data/models/c4_original-d=1024_l=24_h=8-2.0.json
        f6a0b2ad7dace1f4813cb4f6b809ade12448ea4d0e0a045ca9b1377ef6766c42  raw/exp_data/models/c4_original-d=1024_l=24_h=8-4.0.json
        5f93439f4b107bc1cc326a289250b8c7edec5509398d2bf0439a6d3c51b241ab  raw/exp_data/models/c4_original-d=1024_l=24_h=8-8.0.json
        8186f8a42f1950d8dfd84b77574db2404c37e39aab9a0bdc92b63656e798a790  raw/exp_data/models/c4_original-d=512_l=8_h=4-0.25.json
        a7ea1c602e4f56051325b8605298fc1e3399859e1a6ad6abee26f02d8035a109  raw/exp_data/models/c4_original-d=512_l=8_h=4-0.5.json
        e5f2c7b3bdda02424cd591435d300e26560292d24ad15b50f6afecd9a15b0fd1  raw/exp_data/models/c4_original-d=512_l=8_h=4-1.0.json
        6d4fe9c69f0033a625af5c27d79f0c58d1e7b5e668d8e929304f445d4bb2281c  raw/exp_data/models/c4_original-d=512_l=8_h=4-16.0.json
        27c988bc4efbc26ed35a7746a03e67399503b5deb891fd4b4be4ca9e41429a22  raw/exp_data/models/c4_original-d=512_l=8_h=4-2.0.json
        b693b1842d4ae5dea422e6782d54b0e1157b4f3cd1ea4b989318bd3f4272a1b3  raw/exp_data/models/c4_original-d=512_l=8_h=4-32.0.json
        a8720039978ee439ce505994bb174de3ecc38991c6b21f4765fa2912f4a50807  raw/exp_data/models/c4_original-d=512_l=8_h=4-4.0.json
        66561fa1828bf8c89077822dfba23561b578375c24b1e85a68d49cd28d05faba  raw/exp_data/models/c4_original-d=512_l=8_h=4-8.0.json
        4ac340852165c2164f1d5c01a7cbe59512855cda416ccf3a1eca9d3acb1f9d86  raw/exp_data/models/c4_original-d=576_l=24_h=8-0.25.json
        ffb115b8936e4b79c1a5c9e85d712909c372c5685cb19c788e31df86c93bd358  raw/exp_data/models/c4_original-d=576_l=24_h=8-0.5.json
        4323af0fd98e6680ad7fb54ba5da8295711008b97d672ea8b85ca832b23700b5  raw/exp_data/models/c4_original-d=576_l=24_h=8-1.0.json
        f3a79b2c2287ae5aa7dc6d9993880d19a90e9b64bcecd5638bb825b90b7144d9  raw/exp_data/models/c4_original-d=576_l=24_h=8-16.0.json
        fa11358c24882051de6b6426278b0edf8e78d41e9a52c0639fea9629e3e0ff75  raw/exp_data/models/c4_original-d=576_l=24_h=8-2.0.json
        0f474e4baff0b0d6724f5480c95b85a8d27a4bb62295411c8a6d0786eef41874  raw/exp_data/models/c4_original-d=576_l=24_h=8-32.0.json
        538f84ae4f1ec029f6a7a0dd3f5575ca521b6b187d05937158c804866dd72116  raw/exp_data/models/c4_original-d=576_l=24_h=8-4.0.json
        ccb59c6d893cc70667988eacda1f780c9c593124ce5ea88a5e493236a4488634  raw/exp_data/models/c4_original-d=576_l=24_h=8-8.0.json
        b7ff0953d4108fe9db4d2d9fb6fd93b5950c256a7ab3c71829a7f3362f67c315  raw/exp_data/models/c4_original-d=96_l=8_h=4-0.25.json
        0c4ac782e8a06038420871bec0b8911aa23a938cf76d0a080a2a8928d2361dd2  raw/exp_data/models/c4_original-d=96_l=8_h=4-0.5.json
        8a842ca6fe95a77679dc877bade9113a220b9a4756e4228ab323a149ed340233  raw/exp_data/models/c4_original-d=96_l=8_h=4-1.0.json
        f2c8a87897fb0d4ddce76e5cb8ba984161a55f692201f4b1119437d2c7025342  raw/exp_data/models/c4_original-d=96_l=8_h=4-16.0.json
        01fb270bcf2a6fc89e81a14e14dd2ede0187c00f247fa43d32edc39719648908  raw/exp_data/models/c4_original-d=96_l=8_h=4-2.0.json
        6040c014958e7d0f4fcae0c8383129da77b498a1423c960bb6102a76ff091267  raw/exp_data/models/c4_original-d=96_l=8_h=4-32.0.json
        35ef4a6c6afdac9e9f827091793d7cc60fe07c783177da6c9a819d7061f71ca8  raw/exp_data/models/c4_original-d=96_l=8_h=4-4.0.json
        72133908ef3a629549dc9f361c63c0e16aec33637f88b63dfc63a5d6472460a6  raw/exp_data/models/c4_original-d=96_l=8_h=4-8.0.json
        dc5aff812d1bcdf05d89b4300a1b572a562a28734e2a2c46ccfeaee36f8cc61e  raw/exp_data/models/c4_original-open_lm_1b-1.0.json
        964579a5f56d9fcf46c64cabf82b00737c097779225829f4549bffb49ab813c0  raw/exp_data/models/c4_original-open_lm_1b-4.0.json
        839abd366bde620f9970f6d2331982ad5c5c05703470fd28a8e153c2f695ea6f  raw/exp_data/models/c4_original-open_lm_7b-1.0.json
        21894859e415cb4cf9951b0f9fbdfacc0e2f37f3a26d16d09e57b0e16a1879cc  raw/exp_data/models/rpj-d=1024_l=24_h=8-0.25.json
        3ac54a447f3b32304d38006c3555d6976e8dec80cd897a3e09f4d02278152a41  raw/exp_data/models/rpj-d=1024_l=24_h=8-0.5.json
        36fd4755d70b7bc892dab97bbd90cd908b13aab15c1e1a78d8d6b07bb8f8e840  raw/exp_data/models/rpj-d=1024_l=24_h=8-1.0.json
        0dbe4abe8580fa3940188439143f5068b39507598e1ece408c4b7a07bfcaeb42  raw/exp_data/models/rpj-d=1024_l=24_h=8-16.0.json
        946628893896424dcbe8659af3e5b6c77f6053bdf3e2370aa2ecda711ac9d0ea  raw/exp_data/models/rpj-d=1024_l=24_h=8-2.0.json
        b22b0db3894a4d40ba9903565b7690e89c1d47548519b3513dc98c9e23cc9967  raw/exp_data/models/rpj-d=1024_l=24_h=8-32.0.json
        9e41986705a90da4d79f0a5b9deaea8395ab747f85c246315b6144755635b2da  raw/exp_data/models/rpj-d=1024_l=24_h=8-4.0.json
        ae1ddf71ac73c3e37c83a041c3014e6c08c6fbb3213450645ebac8e378552e65  raw/exp_data/models/rpj-d=1024_l=24_h=8-8.0.json
        5c4525a3b043f9fc90b65227ba6af49e4e3c3c79739d5cc2debfd98ecaf65a76  raw/exp_data/models/rpj-d=512_l=8_h=4-0.25.json
        5ca9a2e94eb4d4a10e21ef10eb2f53898f67d9f1caac6857858b6764d2a86069  raw/exp_data/models/rpj-d=512_l=8_h=4-0.5.json
        ce2d8bb874a2bea92eb307fe360a6f3ccda6de51ef14659a0ea6346408579481  raw/exp_data/models/rpj-d=512_l=8_h=4-1.0.json
        0d344ab3458b4cdf64c5159100a1fe3b57ef607a25b756af8c59802337141526  raw/exp_data/models/rpj-d=512_l=8_h=4-16.0.json
        0200c73436d18c5aafa989a90467e6b4b3e08da296ed1cceb0b697ad2baa9a89  raw/exp_data/models/rpj-d=512_l=8_h=4-2.0.json
        69cc81245773e3f0510b853b145efc9e1e97906dedee47f51e97c0cb6fbe16e3  raw/exp_data/models/rpj-d=512_l=8_h=4-32.0.json
        c87f448cef64c2e91d8ce9d06a258495102605b59463f2adf42849d935295d40  raw/exp_data/models/rpj-d=512_l=8_h=4-4.0.json
        a3f7aafff1f166618a34c9d787ec60082d71d64ea54b9891eec6d79501328b39  raw/exp_data/models/rpj-d=512_l=8_h=4-8.0.json
        6e5978fb3537e77178b1b262ebf64aa921466aa898f1469f24a2b83e0a7d03a6  raw/exp_data/models/rpj-d=576_l=24_h=8-0.25.json
        d64931f5e92e96c54797e9302085ad953a8e1c0e6686a3763c2b941ccd06cc3e  raw/exp_data/models/rpj-d=576_l=24_h=8-0.5.json
        ae44bcbd76ff41b9b25670577efd7f9548009bab45353f327d93e1b9ff6812b5  raw/exp_data/models/rpj-d=576_l=24_h=8-1.0.json
        4bb55ee15bd48c7af5ec8e3722a4448a867794f2dc8ff0bd82d195fe85b6dd42  raw/exp_data/models/rpj-d=576_l=24_h=8-16.0.json
        cfd141d95172d89188dc27c85f8156af45d600da416cec5792e7de1aed867bbe  raw/exp_data/models/rpj-d=576_l=24_h=8-2.0.json
        c6d0c38335579210036084d996b8c374e73a9eb79c7369f431d6f0f5bf48e1ef  raw/exp_data/models/rpj-d=576_l=24_h=8-32.0.json
        be8139673c65951cc0543472d4be364f3fc77bd33c556649729fb6d9b8c02e84  raw/exp_data/models/rpj-d=576_l=24_h=8-4.0.json
        848910ea02ec47caa92b60b6e074cb224f7ff718780c4e3c4ab4a3349f9c6a29  raw/exp_data/models/rpj-d=576_l=24_h=8-8.0.json
        162e01985c15985338822c3a710a888f76060f695324c4c224eabf5ce6cf716e  raw/exp_data/models/rpj-d=96_l=8_h=4-0.25.json
        0e366fe8e187d78959f08d1d77511a279b9de674c64bcc2678d8f2283992b70a  raw/exp_data/models/rpj-d=96_l=8_h=4-0.5.json
        26a57687eeca30c6282a8b9e1d51b6e0e6558011c08a8b84e695aa33a74567ab  raw/exp_data/models/rpj-d=96_l=8_h=4-1.0.json
        8b10ab3caf7bafef95b972fd3551a26807ac9d7824ab73eb5dcb8fdc60030a2b  raw/exp_data/models/rpj-d=96_l=8_h=4-16.0.json
        addc9c00c6a2414d40433066115a28bc1572f784aeb2dbe372cefecfa4509fc7  raw/exp_data/models/rpj-d=96_l=8_h=4-2.0.json
        4dce7af0a05fdf481fb73704e7471c98193d9e4d8a1a3f8c7f574df026a61b93  raw/exp_data/models/rpj-d=96_l=8_h=4-32.0.json
        b51ed691e9f60ef1d1c427c0e1aa6ce0729ee73955fa0672403605aae2776a79  raw/exp_data/models/rpj-d=96_l=8_h=4-4.0.json
        be735e38d3e306b307e33c714a226208f42f32209b976583a13bd16e145fd53e  raw/exp_data/models/rpj-d=96_l=8_h=4-8.0.json
        c3703ae56c0f00efa08ff2989bd1559ac7eae9cd3c6f5f2e724c756a07c5b7f6  raw/exp_data/models/rpj-open_lm_1b-1.0.json
        fe055b9c29dd3ad5d491f05a594a846c8c4692e1eb82cec81aacb371701168b4  raw/exp_data/models/rpj-open_lm_1b-32.0.json
        62f938a0be52065726bcd6af80446626204a2f3d1101f3ccc12271a8ae1a8a7c  raw/exp_data/models/rpj-open_lm_7b-1.0.json
        153652721ca3b709cea4d39b487d4d54547ab0b46ccc94810df37a29eab37d01  raw/exp_data/models/rw_original-d=1024_l=24_h=8-0.25.json
        6750620d290d6e9a1a489d4b4ca9152a7098fc6b8558c9d2c6cabb83824321bc  raw/exp_data/models/rw_original-d=1024_l=24_h=8-0.5.json
        8534fdbc3f8b2743b312df0134a775e4cddce8254237c521828c464297ea235a  raw/exp_data/models/rw_original-d=1024_l=24_h=8-1.0.json
        fc7fd3d3594da7b4fa5af5b39820a9d59573e96e471a80c4b47a496e82a7bbb4  raw/exp_data/models/rw_original-d=1024_l=24_h=8-16.0.json
        dfed958cfeca8b7d304f466b25760fd17bd4f9958c509d44c5ef4f8a58db2772  raw/exp_data/models/rw_original-d=1024_l=24_h=8-2.0.json
        36604d27e31e6ecef9ff0a64c89c3cd3ff9e58b6281fc4601600a4120c59b57c  raw/exp_data/models/rw_original-d=1024_l=24_h=8-32.0.json
        07fc37b93e05fea28494c09ec6adaa31a1e7185e825d2e095636f5b8ce283cd9  raw/exp_data/models/rw_original-d=1024_l=24_h=8-4.0.json
        d3735c1c18ff7151368466f06734a4389169ccfd6948e8db6937341ea0692635  raw/exp_data/models/rw_original-d=1024_l=24_h=8-8.0.json
        6c407512ddc0f471d7ceeafa0c2995c1acada2d709fdf151d8f24a349626dae2  raw/exp_data/models/rw_original-d=512_l=8_h=4-0.25.json
        7d141a2f971ff444c11e4cfafa043cddf070da554edbcd55cc601524e42201e5  raw/exp_data/models/rw_original-d=512_l=8_h=4-0.5.json
        d62f4e153d366d00d49801e3c0166f615c44ad384d30c7814c5793a844eeccbf  raw/exp_data/models/rw_original-d=512_l=8_h=4-1.0.json
        3fb112bc15e49dd55aa5ac107191e6def46247e0a830f4d5cd0e272963842528  raw/exp_data/models/rw_original-d=512_l=8_h=4-16.0.json
        a15e75c23288d7b0e2317ea0fc4f8340db51776b27db4b2037ed677c1172ea1d  raw/exp_data/models/rw_original-d=512_l=8_h=4-2.0.json
        3faf6a8b9bfd50b08374246165ccdd5ac9a6f8742100a52fb87b51e730f55ac4  raw/exp_data/models/rw_original-d=512_l=8_h=4-32.0.json
        3044affb6475bca422acfe93711d722791d3abd82f7b76ce7075806505ee6248  raw/exp_data/models/rw_original-d=512_l=8_h=4-4.0.json
        e3c2c05530cbae58f74d7725264ece10490faedbd1cefa3c5360a4c438172967  raw/exp_data/models/rw_original-d=512_l=8_h=4-8.0.json
        d65d1035dd8a1fe2a486bf375de9997a109ef04d546ed6227c949af3a8d3446c  raw/exp_data/models/rw_original-d=576_l=24_h=8-0.25.json
        c4b1362400eed92675682ff67ae570a35521deb388e67839210ace8e15ec1dfd  raw/exp_data/models/rw_original-d=576_l=24_h=8-0.5.json
        9cac2bf9514a21354d783c000bc6f6d564e36efe18feb7c266fd15de22f4e18f  raw/exp_data/models/rw_original-d=576_l=24_h=8-1.0.json
        bddac40e644a41d30a059ea19a880960054f542b4cb256a816bf781cc608e7ea  raw/exp_data/models/rw_original-d=576_l=24_h=8-16.0.json
        24ae295a6dc05bb1620d40260b0b08162b5e5cea838bab5fb9e1039ebd22591b  raw/exp_data/models/rw_original-d=576_l=24_h=8-2.0.json
        353c0f23aaf0a5329ff30ac2286ef8b829d4d465a21acaf3e4007287352f2f79  raw/exp_data/models/rw_original-d=576_l=24_h=8-32.0.json
        a3b60a49a0f75f2748fef0b376f08c38c845b581e9f55427fbf23ce4f0754190  raw/exp_data/models/rw_original-d=576_l=24_h=8-4.0.json
        16bbbbe9c3cdf57eb24e0b679881732963671ec938c1ef15a118b614ddaca075  raw/exp_data/models/rw_original-d=576_l=24_h=8-8.0.json
        a5db91387dd7ed408f359e7903d634e984725c8a791c4ada26e414730a9769d5  raw/exp_data/models/rw_original-d=96_l=8_h=4-0.25.json
        c3865f296db26be263848e68254c558781ce986abf9c8f40e135547e50208e74  raw/exp_data/models/rw_original-d=96_l=8_h=4-0.5.json
        7597702b088245e90defc057894fcde894fade0be2d6db8a5c4c35ceb920dc57  raw/exp_data/models/rw_original-d=96_l=8_h=4-1.0.json
        48e8d39142af291e8488b4b304ff4fa9c4e8bd7611046640ed62fdbb611b9984  raw/exp_data/models/rw_original-d=96_l=8_h=4-16.0.json
        707d9c3a2ecdaf5dbaad07bd60438e020313e9fe6321885b882aa513bd147f41  raw/exp_data/models/rw_original-d=96_l=8_h=4-2.0.json
        8f1661664e1cfca3ae8c43853543a7bd1c48b01d45f0ce3600dd79e9e5f215c6  raw/exp_data/models/rw_original-d=96_l=8_h=4-32.0.json
        dfcb35a12003cdce8cc236a193f08e56f76f294d7fd2a499ed579f89b681013a  raw/exp_data/models/rw_original-d=96_l=8_h=4-4.0.json
        5c9f1bd726e5c674089260e582c9dc26d3f7523635d551f5d9ac73b89dca8a96  raw/exp_data/models/rw_original-d=96_l=8_h=4-8.0.json
        e927bcc8408d7a0c87a59137a37957ab3a1da48936b75157b40857356b2e7dda  raw/exp_data/models/rw_original-open_lm_1b-1.0.json
        5b3b7722bce23ffb8f76d6229f1b4c891e5c590d354a637171e68ac4e667c49d  raw/exp_data/models/rw_original-open_lm_1b-16.0.json
        562aec0ce72d78826e51401e229c79a06185ad35540f96cb420967fce41dc3c5  raw/exp_data/models/rw_original-open_lm_7b-1.0.json
    """,  # noqa: E501
    "gemstones": """
        98c0f1762a59650086ed35b151d70e3a92ad5dd49d78e1f743d85a9b17b70da6  benchmarks/fineweb_dclm_losses_combined.jsonl
        03285285a54b54e90800e2a5097affb988cac6f6c6a2f5e79f31dd5136a96457  benchmarks/fineweb_edu_losses_combined.jsonl
        a7b77d585387cb94ab3cffe126995801aa307625f753a1ca7fefa233b29a5043  benchmarks/light_eval_df.csv
        290f1ea5c4a3c8f15cd046509d8078991607df9a9d8a8564e33ca8fa4c976c46  benchmarks/light_eval_df_err.csv
        6d3f5d014c895d4e8eeede2a9431c4fe53c428104cc4250e4fedd53394f8e204  data/our_val_loss_data.json
        24473f1fb9a7aae6819e8fcd28bcb04694f6d9bea04e550444dfd0db600fdc08  parameters/approach_1_linear_regression_params.json
        3651b803ab6658d6cf4b6457972607a7b5d65d06ca3a7752d7e7d856cd73c848  parameters/approach_1_linear_regression_params_100b+.json
        59192831c58eaae392303bce23e51496dff831a79e1997946a3351e0e818b2ca  parameters/approach_1_linear_regression_params_100b+_no_embeds.json
        538396860f1566afab36ac96469146bfce692afcf41203a379dbdc4f5b1102ab  parameters/approach_1_linear_regression_params_120b+_only.json
        c9d8b3ad94cc72bc9403dce4cd290322ca4bb73a7ffc8d82b3fec9237506515c  parameters/approach_1_linear_regression_params_120b+_only_no_embeds.json
        c2670845543b21c0ed5e99d9005507f72101d18d16c30147969c8dddd071255f  parameters/approach_1_linear_regression_params_cooldown.json
        e31ebf5e823993d595a1aac7d9ca64f1809a33e675a57ff6064416b13fbefb47  parameters/approach_1_linear_regression_params_cooldown_no_embeds.json
        2bffb04301af1d2dc088866bbe37edad5811a7bdfdc3253812e70292465d76b9  parameters/approach_1_linear_regression_params_lr_ablation.json
        497225428cfd2763881cf9d2da3fb2851ddb1275d841014b232c995787288882  parameters/approach_1_linear_regression_params_lr_ablation_no_embeds.json
        393ebac845f7fa4808b1096e4a63118f4a6da0835e71aad811b0299e7475d63f  parameters/approach_1_linear_regression_params_no_embeds.json
        1bba74bf77d1f05cfb0f2772a4927aebd80ee2934e98a19964f3d56b8d9e1dbe  parameters/approach_1_linear_regression_tokens.json
        6f6a058d0c8fd21e5ad7a1704002a268f85faecbe18251bd6cca50ce8231ad54  parameters/approach_1_linear_regression_tokens_100b+.json
        440eea4f7f1491239e2c2ef34ecee5f1de9a4eb57aee129d8622003c0095420a  parameters/approach_1_linear_regression_tokens_100b+_no_embeds.json
        7ed5b337d642f1e1c46b2cd823437823d10e79d45c509d341b599f699871eaf0  parameters/approach_1_linear_regression_tokens_120b+_only.json
        b5068ff032d441c566657fbf10dc72ad713a707ae1715839ac475d0fd1d08e71  parameters/approach_1_linear_regression_tokens_120b+_only_no_embeds.json
        0efd87895125bfd97807ec001706c7ca48221cf495a300b0938a940df1f9e836  parameters/approach_1_linear_regression_tokens_cooldown.json
        393af32939569646f1a471236c5a1679b72ae77a3fe55b36adc945d203191c47  parameters/approach_1_linear_regression_tokens_cooldown_no_embeds.json
        4290dc0330c69c7e3492382de907f7af6fd96e1f4433385c58d2118bc1d55efa  parameters/approach_1_linear_regression_tokens_lr_ablation.json
        a7303457cbe51b63995cf53fc3128162f3af24f73b6ada3467f1522e2331eb2f  parameters/approach_1_linear_regression_tokens_lr_ablation_no_embeds.json
        58a740d500e6d7a505c0913dadfb0fad601531ffcc4dc8341d73e483d4c7a715  parameters/approach_1_linear_regression_tokens_no_embeds.json
        184107bef7e1df1edd0ef5df5c7622278f5a49cfb5181006dcdadcd4f554e737  parameters/approach_1_linear_regression_tokens_per_param.json
        0c2f564601b1dabeb21aede85fb6b8ca1a49ba705c5d532144a0252bf37d9362  parameters/approach_1_linear_regression_tokens_per_param_100b+.json
        73a46464443200ca8be1530bae76776485dc8511e898e9471069ff20223773f3  parameters/approach_1_linear_regression_tokens_per_param_cooldown.json
        46de4418be35be7e3817d544b7301dedbfaec12071a8ea0010253e11ad21f0ba  parameters/approach_1_linear_regression_tokens_per_param_lr_ablation.json
        d1d04a7ada4ece7e9ad6ca4e4321e4fd1cfbcf474d15734782a7021fb51f4abb  parameters_delta-3/approach_3_parameters_grid_search_0_cool_begin.json
        5cb01ba5dc7db1a8f6a65b5e7aba160de2e76fe7b0d9f08d5fc01a83fb65450f  parameters_delta-3/approach_3_parameters_grid_search_0_cool_begin_no_embeds.json
        f69933bf157fa9ac2bf8e5cf6f5a263d65aece4b08d5eb5f398e2ff899cd5ec0  parameters_delta-3/approach_3_parameters_grid_search_0_cool_end.json
        74c1a248e4388bf5c74fe734b79d2dc93e6add32ee721796526bb76792b3d2ad  parameters_delta-3/approach_3_parameters_grid_search_0_cool_end_no_embeds.json
        d811cea273c7c792ee1b3a7224ce7cb2ce9f607d10460549a48cbe682a3678c0  parameters_delta-3/approach_3_parameters_grid_search_0_hot.json
        fd21601e9e7c67226dfe384ddd2c49de8caa5c2cd7b92f8e96beb592af354d38  parameters_delta-3/approach_3_parameters_grid_search_0_hot_100b+.json
        3b438999962f43f8d9da60796c0c03151380f1d7246fe932b492e8cb16d52de3  parameters_delta-3/approach_3_parameters_grid_search_0_hot_100b+_512x.json
        acb5167b43323b6e68e61c21c2bdcf14308a37974e636978f6cbc95a29731f62  parameters_delta-3/approach_3_parameters_grid_search_0_hot_100b+_no_embeds.json
        8635ea9b5d11ee2460f05d6442a0fd9948b0443d5752c5bf96abf6e11ca8cb17  parameters_delta-3/approach_3_parameters_grid_search_0_hot_120b+_only.json
        bd0ddc6138e5cfc881580cf630421e9f60d0f5b559024df09ad590cc56c329e0  parameters_delta-3/approach_3_parameters_grid_search_0_hot_120b+_only_no_embeds.json
        d6f45d68a878416cf1fab250c954c04d3bc52e265147ec600036c5c6cd81ade6  parameters_delta-3/approach_3_parameters_grid_search_0_hot_no_embeds.json
        dce520482a3ba5b5670f5d2ab4d0207671eb01799f324e211df125a94cef7400  parameters_delta-3/approach_3_parameters_grid_search_0_hot_sampled_like_chinchilla.json
        0b101100c913781fc92015bbf1d798ca61fdefd160520d2d68e8a6d9f76557f4  parameters_delta-3/approach_3_parameters_grid_search_0_lr_ablation_hot.json
        03cd3b67574c8fdb5d90260a62f3c36bb6b7c7038419237273ba2c8a93fd16b0  parameters_delta-3/approach_3_parameters_grid_search_0_lr_ablation_hot_no_embeds.json
        03426f42518a33b62bdb4e306d2bb8cdb9b6740fba1458501869a99fe61c38bc  parameters_delta-3/approach_3_parameters_grid_search_0_lr_ablation_hot_sampled_like_chinchilla.json
        f1144306f9b6753c8c4d0b23837a274e6eda229e83ba57a5c47081e7ca52c15f  parameters_delta-3/approach_3_parameters_grid_search_0_slim_chinchilla.json
        38e0c8ea6665115571753c551001d48951699ed31a054e5275d4f737e58215d8  parameters_delta-3/approach_3_width_depth_grid_search_0_hot_100b+.json
        890f89020aaa10a8c947b53f92ffd98edd7f47055dde52adf1178b5a6c9f0dc4  parameters_delta-3/approach_3_width_depth_parameters_grid_search_0_cool_end.json
        bddf1668ea8c2059fe094322d460bf4d7ca769db4276b094553721043ada0174  parameters_delta-3/approach_3_width_depth_parameters_grid_search_0_hot_100b+.json
        8ca5657fbe092a583a805e34cbfdea5d447183eefcd9db60f5ce3bdb6ca9fef7  parameters_delta-3/approach_3_width_depth_parameters_grid_search_0_lr_ablation_hot.json
        1f08a43cd005a7e3bdf49756ed52469a2c50554acdf51e6fdaec92a38c25cd8d  parameters_delta-4/approach_3_parameters_grid_search_0_cool_begin.json
        9ca04478f4a6374fa2457bbf67cf93f05d80641282333d9f661951bb9be7358b  parameters_delta-4/approach_3_parameters_grid_search_0_cool_begin_no_embeds.json
        5b249f3654521865dee4c39dfd47a76cb815b5ea2549e427d16ccca2a1d99980  parameters_delta-4/approach_3_parameters_grid_search_0_cool_end.json
        9d0200baba8c41803b70e47ae202c79f9cf0d2e6607a50be0c6d2615a0e9c9de  parameters_delta-4/approach_3_parameters_grid_search_0_cool_end_no_embeds.json
        22311605fb4d3e4ea1cc7dc35bd8b3b55c34c4d0a93fb75360fe1a40cc31ea82  parameters_delta-4/approach_3_parameters_grid_search_0_hot.json
        ea1561c5a27c7053e4e60877c560cfc75f47e30c759dc8cd8f2636456ca471eb  parameters_delta-4/approach_3_parameters_grid_search_0_hot_100b+.json
        109e705d754feef6d3b14f9c2eb9dfc08adea090303a03b41f75704df456307f  parameters_delta-4/approach_3_parameters_grid_search_0_hot_100b+_512x.json
        52b071fa6e702f1829385ac3afcd41751e41451ad7040f24c4e0eab4b48233b6  parameters_delta-4/approach_3_parameters_grid_search_0_hot_100b+_no_embeds.json
        abfd6a3ea79afb0528d1f99f92c548cae7f05e7742528501fdb1a9784195e1d3  parameters_delta-4/approach_3_parameters_grid_search_0_hot_120b+_only.json
        19ef6244645df669f58428964a2b53c73a99b424d84f2b53d974ab6eed1607a9  parameters_delta-4/approach_3_parameters_grid_search_0_hot_120b+_only_no_embeds.json
        2bc93f1fc646fa5a0c2ad033cdc96d0c3bca082f5e121614d247b9370dbffd61  parameters_delta-4/approach_3_parameters_grid_search_0_hot_no_embeds.json
        dbfc8d4415503438814afef9905394b033b16fb015eabc50ac17a31741238fab  parameters_delta-4/approach_3_parameters_grid_search_0_hot_sampled_like_chinchilla.json
        78788a51991e7420069eb4b849fa79fb7701d3c6ba65a7d45cf34c8872c57efa  parameters_delta-4/approach_3_parameters_grid_search_0_lr_ablation_hot.json
        b39e39181734c99a6d0671a14ab61e30b49a139e8dbfe30a2d74e840290bf035  parameters_delta-4/approach_3_parameters_grid_search_0_lr_ablation_hot_no_embeds.json
        ee2f7572b1ea4f7b475b56c0768438fad1806d5e8a36ac7f69b298fc8abd01b0  parameters_delta-4/approach_3_parameters_grid_search_0_lr_ablation_hot_sampled_like_chinchilla.json
        74dd31e447f400c939d22325d59ca1420f4928492b662b8b9de0a881d27947cc  parameters_delta-4/approach_3_parameters_grid_search_0_slim_chinchilla.json
        3ee77dce4c789561983998e983b6b00a1d6269526878f6f5d500c7482e47d83b  parameters_delta-4/approach_3_width_depth_grid_search_0_hot_100b+.json
        80dc3503be01b73721d3cf1cfadc065399d32bc87a83cac6519a1438f27af3b1  parameters_delta-4/approach_3_width_depth_parameters_grid_search_0_cool_end.json
        1cc05a745f8ab7199141315ddc950190c2ccdc8e34b0af54fb0d3bca259c7b99  parameters_delta-4/approach_3_width_depth_parameters_grid_search_0_hot.json
        25bdb2596968714402840d41bd2846bb0460a0e5a98db001c40329d727d28d9e  parameters_delta-4/approach_3_width_depth_parameters_grid_search_0_hot_100b+.json
        42c3a1cf811c6741c82f54dc330aab895d28a92c512904c8b037d104308f9384  parameters_delta-4/approach_3_width_depth_parameters_grid_search_0_hot_120b+_only.json
        2a9a3e7f6ef3f4f83beccae03c463dc3d09224c42b3d3e52e62ee06bdfac4072  parameters_delta-4/approach_3_width_depth_parameters_grid_search_0_lr_ablation_hot.json
        0e9991b2e0f694f7e01b4c49debd28b5075c1aff993344f753ebca96341b9510  wandb_dfs/wandb_df_for_fitting_cool_begin.jsonl
        bdf01b6b21bafc414218124a6f9e195cee07f3d69ceacbfae2fcf069d34f4e61  wandb_dfs/wandb_df_for_fitting_cool_end.jsonl
        655467b59c99383403d6f73f5b7f23c02aea3f12935dc110382d8a8b43a0ff5d  wandb_dfs/wandb_df_for_fitting_hot.jsonl
        1da97ce3d1394e0223826c8f5ca081cb0fb289ec65d2707fb5430721e92e9659  wandb_dfs/wandb_df_for_fitting_hot_100b+.jsonl
        c7a56e023c2cee6be296defc284126778c62387023a6e0c01e57599999591f5d  wandb_dfs/wandb_df_for_fitting_hot_100b+_477.jsonl
        e8f81466f7f858eeb90b20d5ed3fc9f084a14b661cf07602fba1c1a02a9a5c03  wandb_dfs/wandb_df_for_fitting_hot_100b+_512x.jsonl
        0b7bf892572ab01fce4688d0bb962c1bf782052d9ce3a8a723c61796ba0293a2  wandb_dfs/wandb_df_for_fitting_hot_120b+_only.jsonl
        a87060114be6cd0dc2ffeebab7ff7e6f662b8f6301601c1048773116b3d2f397  wandb_dfs/wandb_df_for_fitting_hot_120b+_only_477.jsonl
        bebd60d6c3f28094451b629aa717ec36baeab81097d4be39e7dd9241ee982aad  wandb_dfs/wandb_df_for_fitting_hot_477.jsonl
        cd77120b51cb60621bddafc2291e7f301dcb7610092ccc37ced802e5fd887cd1  wandb_dfs/wandb_df_for_fitting_hot_sampled_like_chinchilla.jsonl
        acb4468e5fcba4f01bdf9584ccbaa513e9cece68f8daf46e452a867f355483ac  wandb_dfs/wandb_df_for_fitting_lr_ablation_hot.jsonl
        10f606c27a52b31a8c97a8fe50ff265fdea795869b9a35804a7b1cad2fa233c2  wandb_dfs/wandb_df_for_fitting_lr_ablation_hot_477.jsonl
        c6cfd2d3dbdcd6170ed79b748a1302d091c00ec4a2064bcde15b5e44593dc5f8  wandb_dfs/wandb_df_for_fitting_lr_ablation_hot_sampled_like_chinchilla.jsonl
        df96baef7018bd02d4f7c2274c949e98d09968c941efe87a41349e9c687ca8bd  wandb_dfs/wandb_df_for_fitting_lr_ablation_slim_chinchilla.jsonl
        38cd9dba89a7c9e25c5959cf67817522264e8db4921f8deeab15e0ffdc386f8d  wandb_dfs/wandb_df_for_fitting_slim_chinchilla.jsonl
    """,  # noqa: E501
    "laion_clip_mammut_comparison": """
        844855314ff023407c52174fa40258e06497b97270086a5cf101179e9512de00  best_per_model_samples_seen.csv
        d68c4dcba909deca0c03b421848b56639917bdba9d7fd0811f981586bf5a9df6  model_profile.csv
        a9b34411c5cf19065670bfce4932097af4bcb881197a4da54bff68f87622f365  segmentation_results.csv
    """,
    "loss_to_loss_brandfonbrener": """
        1a9fd71e3bd6ecf35bdd32b660a9b42dbb3b8635630b1a358633fa18d61fb13c  sweep.csv
    """,
    "multipower_lr_schedules": """
        034a75e2415373a9be1097e9d406f98524344f4718d200d3a188dcbd5115103b  csv_100/constant_24000.csv
        52b5752009e1e4c396f15016e98897238fccb3816f58576ea944f03fe529dbc3  csv_100/constant_72000.csv
        dd544dc61a11fa138c98ac0b673d5512287062d2d2d2e9c2867976abc8c46e69  csv_100/cosine_24000.csv
        2e637203b48b3e3a84063f49035cde2f6a40c69ecd15d95b6551774b9a279f44  csv_100/cosine_72000.csv
        e66df98c85dba705ebc85512c6a09a8ebec5675878a20d4d783c0bf80d031002  csv_100/wsd_20000_24000.csv
        33cfea673dc0efde9e4fd74cc47d8daabdebfdc6d5a2659835bd780347f6e651  csv_100/wsdcon_18.csv
        a1cbb8c730ae0628d69bb1d7aefadbad5cda5f6a92272f85203cd33d7b8f4912  csv_100/wsdcon_3.csv
        510256497a0ea9d4270919fb37c56140e1b4d07e50b96b46334891ba316f144e  csv_100/wsdcon_9.csv
        0ef6b02e260ff5efa51a5885655ead8cf126a7e9c4ea3034d403e11852c06fe2  csv_100/wsdld_20000_24000.csv
        5a7c0b440751e258e7199eeefe9f0ae58520a2f2d64c5f81524d8d375f75f0ce  csv_25/constant_24000.csv
        99ee51a9be7b7fb71511d0af28edd6bc6221350d2ad26a66c615467cb5c83247  csv_25/constant_72000.csv
        554e35f9efbe28a614c9ae1121b3bf55490df6b72a5898957f68a52770038e3a  csv_25/cosine_24000.csv
        af3b25a485966a0f7fc34824774cf8ec85af14848a6dc7b64d6a8d3d044befa5  csv_25/cosine_72000.csv
        8649b7de4b4b31db5c35f4ff0458af9472a50168177de6372c3ceb37ace9fc62  csv_25/wsd_20000_24000.csv
        9b9bd40f519d20ecbf540d4c9451f6a01b7b379b1d335407ba4651025cc5926f  csv_25/wsdcon_18.csv
        3d37fcf82c237e5c1ba2ee34c4b9e606ecba781536d4fea9a7dde5463207fc3d  csv_25/wsdcon_3.csv
        b7579f38b5e175d9e9dc9b9598b409efdf2cba0a68819857ba28649c242c2bd8  csv_25/wsdcon_9.csv
        8e3a9ae33ed586e5040a114fad215f4f245c6a2ff7d96f61cba02ccd8b74b3e7  csv_25/wsdld_20000_24000.csv
        5d91536675592acdc40ea56f71ca24ee9026243e51a0a791ac25b631381c45ee  csv_400/constant_24000.csv
        a453ef82f549470cc8250723917668801436dd835fd17bbf71e1fd77d00a3b6c  csv_400/constant_72000.csv
        aa18c9dbad66610d2037249bbcbf08fdce0983aa486b876ba95c2e3fb6fc0dce  csv_400/cosine_24000.csv
        347acbdc80042cb7cfe0dcb28580a2780718ccbad23443d4de76821f0a1ab41e  csv_400/cosine_72000.csv
        8a56dbd8f6b553b42ca8b3f4be9822cf5b7458a6c1b7ae0ddc6ac57b2893dea7  csv_400/wsd_20000_24000.csv
        998aaf3fd14de43fe754c7250885d7f72e20e7a210b1ea205a8af37ea8b22951  csv_400/wsdcon_18.csv
        e1a896755ea1e1a6a4648a503be6a19eb62fc7ef12fbab3440a66f7a94197ac6  csv_400/wsdcon_3.csv
        497aa4a60df8f520e11e212a990dcf70e8bfd89e814f295dc5476af630aac768  csv_400/wsdcon_9.csv
        7c5d5141d917955491732606e8817e7fdbd4bc2036e508e1610ab8bd252267dc  csv_400/wsdld_20000_24000.csv
    """,
    "obsscaling_ruan": """
        511996815735a4c46251dc585dcc525e370d148201f86561e6f927f9df2d0db8  base_llm_benchmark_eval.csv
        6a5fe6143b1fd86c2c10368de05e204c89ab6652b0f7e97c4965c37bff360d1d  base_llm_benchmark_eval_sub_10b.csv
        a156beee73c39b7833c3c53535c473939105512d85e90b0143be7325e516ef7c  base_llm_emergent_capability_eval.csv
        ace728c962dfb2b9133fe92081c818e3fba01391694c9590fa0198f850062563  base_llm_leaderboard_v2_eval.csv
        797e7e50c6ac54960e28447884b78bf9821b297646741b4485152715fe7fdbe5  base_llm_post_training_eval.csv
        09abcdc2abb80d3bba2217b526fa0d88e480a8236c3ba3193bcc9928e871ba3d  instruct_llm_agent_eval.csv
        9bc50f327f4e436b15a6d6e3edb8b4837e726b295a1c72d44fadb9c9d25a75ba  instruct_llm_benchmark_eval.csv
    """,  # noqa: E501
    "olmo_ladder": """
        d4e9f80960149676352b61b739c4dca727bffee5e7a8f41919119365fcde0534  ladder-runs/190M-0.5xC.csv
        192b115c3f02b6503043280f8303c59f5b10897cd631f1b8ec6aea944d22faa6  ladder-runs/190M-10xC.csv
        50e635e970e4a29c838d644f942503f9ef6e0d78feb744055447413de42a3e2b  ladder-runs/190M-1xC-rerun.csv
        8ac0066547d5edec4d05d2b861a26c7faf591eef6971e11acba2450a45e69c27  ladder-runs/190M-1xC.csv
        db90c75f8d031d0754e7108f1a8d16f372603e0c04d2cb00cca08cf272ecf86a  ladder-runs/190M-2xC.csv
        aefe54fa03bd158d6da178b1eb2ece88cb0681bb32403845b6e544ae9e4e5dcf  ladder-runs/190M-5xC.csv
        7c44ecf10ddaeba4c5ceb26ac0db8b9454163c19903556238d3117685768126a  ladder-runs/1B-0.5xC.csv
        ec7e7487c67a774d9b919ec35121966ded7ae2ce5ede135f1d32f509f451476f  ladder-runs/1B-10xC.csv
        878e664acbb68df93b046a4242ccac12b321276e1f2fcbbbc6fa8779bd5eaa24  ladder-runs/1B-1xC-rerun.csv
        7fe91f0552829238e591e55c03f66b743ac5931388d9710457a845d92c2d9102  ladder-runs/1B-1xC.csv
        34ba12a08a52e10e89a71d88a5c13538c3df21e5e993c476cadb08eb4b2eb354  ladder-runs/1B-2xC.csv
        d195153f05b846f6d4f8ca95247d1f79d9d00e898d856b244b17e20431539ddb  ladder-runs/1B-5xC.csv
        04e12eec843bb7b8bf292ec8837edd8db63010469e457d145a1757d48a91bac9  ladder-runs/370M-0.5xC.csv
        3f25b4ec4035caeb71b787d165857667779dc3b92739c6379b8f8ce7079fcb58  ladder-runs/370M-10xC.csv
        e27c89356cc6c842585c0232bb3be20bd066c2d4f859d1a3c772c43e5b6887c7  ladder-runs/370M-1xC-rerun.csv
        3597a61872596affbb61e83f36c7cc3fe43485c3ed30ba6d658064b57edcea07  ladder-runs/370M-1xC.csv
        73c686e580ad0600ca12334bf22ab3dad3265583a948e3beaae5b79b9a20c137  ladder-runs/370M-2xC.csv
        199905d322b0332b69f1d0a40de9be43e5eb3cf576fc1d3031578cdea09708fa  ladder-runs/370M-5xC.csv
        35247d4ff9af52c11bdec95a31e069599f43564ba6094a3893b49d91aa258410  ladder-runs/3B-0.5xC.csv
        1ff388361b6d8e4548aaaaecd8a0437a21e28b9af11c4696225e322c8526e488  ladder-runs/3B-10xC.csv
        5c2b189aa82b964c4005fce327b42e9399110d297c83903d03d03d0892e11d7d  ladder-runs/3B-1xC-rerun.csv
        bd5dbad1b2942c58439006f77dba46ff2f66ad8760f8d709f9ced4fcb387bedb  ladder-runs/3B-1xC.csv
        b933055d54221855c893245331770c0e7314dea5203518640da88773d92d8e47  ladder-runs/3B-2xC.csv
        4b02c35ea9b3623402ac3a401dbc66ed827dcecede04343ea65cc2bbf6bfd962  ladder-runs/3B-5xC.csv
        a02cee96b21c78a6a9c71ba99ead71c454fc6561e50b778681ab1d7182df6cf6  ladder-runs/760M-0.5xC.csv
        e256c9df6d3b7af66bbcf4dc7ca84b45a812bd205b70648ca5177c8b74f6ff40  ladder-runs/760M-10xC.csv
        f5b2775ebc27c80f21e13e0bf35622007b8b30f09734ab0bb6f7e871bf33103b  ladder-runs/760M-1xC-rerun.csv
        a830185275c91cc077379540ec91a71b4bea6f191ca99a8090c851be19e7956d  ladder-runs/760M-1xC.csv
        8c1ad2bf7da390b9eed24af7b6eb12a6393cc077164d51b4e4740f7221f1193c  ladder-runs/760M-2xC.csv
        9c08b58d2625f427253bbd2079bad3a90726a66486154dd4f82ef84560e275ec  ladder-runs/760M-5xC.csv
        a1df0153b64099c4fadb117a9229601d223095b2664df342cfc24cf8ff94f4fa  ladder_final_checkpoints.csv
    """,
    "porian_discrepancies": """
        a117a7a47c00112f8568bd495840f13fd35999ccb36305872450da499d8929e5  porian_compute_optimal_points.csv
        4b4eb76d3bc0d5a9fed25996f98a6bad17268ef998d1136633373cddbddd4286  porian_isoflop_points.csv
        bfa7605cc55225606129d9f06d156f0dc30ea2910c599285c24663e58139a465  porian_upstream_fits.csv
    """,
    "pythia_evals": """
        0e6f86ca2b3d4bfa8ae1fc1b189981fce2019b661a3c8c1c87a40680336c4a14  pythia_evals_long.csv
    """,
    "steplaw_lr_bs": """
        dffd699e663ac1306fcfd760fcb6378688e7d28a2b3956a81534e025e228b721  dense_lr_bs_loss.csv
        653d585244a7b227423007e8b796bc16d76f6d24eb87b1919b8f048a91897b92  moe_lr_bs_loss.csv
    """,
}


# =================================================================================================== registry


def _manifest(name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _SHA256[name].strip().splitlines():
        digest, rel = line.split(maxsplit=1)
        out[rel.strip()] = digest
    return out


def _register(
    *,
    name: str,
    title: str,
    repo: str,
    commit: str,
    licence: str,
    citation: str,
    description: str,
    units: Mapping[str, str],
    tables: list[_Table],
    upstream: Callable[[str], str] = lambda rel: rel,
    url: Callable[[str], str] | None = None,
    derived: Mapping[str, str | None] | None = None,
) -> None:
    """Register a data set and its files.

    ``upstream`` maps a local file path to its path in ``repo`` at ``commit`` (or ``url`` maps it to a full
    URL); ``derived`` maps each derived file to the upstream path (or URL) of its single source, or None.
    """
    derived = dict(derived or {})
    to_url = url or (lambda rel: _gh(repo, commit, upstream(rel)))
    manifest = _manifest(name)
    unknown = set(derived) - set(manifest)
    if unknown:  # pragma: no cover - registry consistency
        raise RuntimeError(f"{name}: derived files not in the manifest: {sorted(unknown)}")
    files = []
    for rel, digest in manifest.items():
        if rel in derived:
            src = derived[rel]
            src_url = None if src is None else (src if src.startswith("https://") else _gh(repo, commit, src))
            files.append(FileInfo(rel, src_url, digest, derived=True))
        else:
            files.append(FileInfo(rel, to_url(rel), digest))
    text = description.strip() + "\n\nTables (``load(name, table=...)``; the first is the default):\n\n"
    text += "\n".join(
        f"- ``{t.name}``: {t.description} Main columns: {', '.join(t.columns)}." for t in tables
    )
    by_path = {f.path: f for f in files}
    downloadable = tuple(
        t.name for t in tables
        if all(f.url and not f.derived for spec in t.files for rel, f in by_path.items()
               if rel == spec or (spec.endswith("/") and rel.startswith(spec)))
    )
    if derived:
        text += (
            "\n\nDerived files (made by the bayescale maintainers, no upstream copy; only available from a "
            "data directory): " + ", ".join(sorted(derived)) + ". Tables that download (no data directory "
            "needed): " + (", ".join(f"``{t}``" for t in downloadable) or "none") + "."
        )
    rec = DatasetInfo(
        name=name,
        title=title,
        files=tuple(files),
        licence=licence,
        citation=citation,
        url=f"https://github.com/{repo}",
        commit=commit,
        units=dict(units),
        description=text,
        tables=tuple(t.name for t in tables),
        default_table=tables[0].name,
        downloadable=downloadable,
    )
    _REGISTRY[name] = _Dataset(rec, {t.name: t for t in tables})


_NATS = "nats/token"

# -------------------------------------------------------------------------------------------- cherti_openclip

_register(
    name="cherti_openclip",
    title="Reproducible scaling laws for contrastive language-image learning (OpenCLIP; Cherti et al. 2023)",
    repo="LAION-AI/scaling-laws-openclip",
    commit="652b1e7471f7ccf372277f67cb680de5c9fa139d",
    licence="none stated (no LICENSE file in the repository): cite, and ask before redistributing",
    citation=(
        "Cherti, Beaumont, Wightman, Wortsman, Ilharco, Gordon, Schuhmann, Schmidt, Jitsev (2023). "
        "Reproducible scaling laws for contrastive language-image learning. CVPR 2023. arXiv:2212.07143"
    ),
    description="""
29 OpenCLIP runs (ViT-B/32, B/16, L/14, H/14, g/14) on LAION-80M/400M/2B at 3B/13B/34B samples seen, plus the
OpenAI CLIP (WIT) reference models, evaluated zero-shot on 41 downstream data sets (classification and
retrieval). The paper fits E = beta * C^alpha to the error (1 - acc1, 1 - mean_per_class_recall or 1 -
recall@5) against total compute. Here ``d`` is samples (image-text pairs) seen, not tokens, and ``c`` is total
multiply-accumulates (the paper's axis, total GMACs, times 1e9), not FLOPs: per-sample compute of image models
is far above 6 n, so do not check ``c`` against 6 n d. ``model`` is one id per trained model (the checkpoint
name, or ``openai-<arch>`` for the three OpenAI references, which share the name "openai").
""",
    units={
        "n": "parameters (image + text towers; arch_info mparams * 1e6)",
        "d": "samples seen (image-text pairs)",
        "c": "multiply-accumulates (MACs; total GMACs * 1e9, the paper's compute axis)",
        "samples_seen": "samples (image-text pairs)",
        "gmacs": "GMACs per sample",
        "gmacs_total": "GMACs (per-sample GMACs * samples seen)",
        "batch": "samples per optimiser step (gpus * local_bs)",
        "lr": "peak learning rate",
        "acc1": "fraction (top-1 accuracy)",
        "acc5": "fraction (top-5 accuracy)",
        "mean_per_class_recall": "fraction",
        "image_retrieval_recall_at5": "fraction",
        "text_retrieval_recall_at5": "fraction",
        "mean_average_precision": "fraction",
        "epoch": "checkpoint epoch (samples_per_epoch samples each)",
    },
    tables=[
        _Table(
            "zeroshot",
            ("zeroshot_results.csv", "arch_info.csv"),
            _cherti_zeroshot,
            "1312 rows, one per (model, downstream data set); ``dataset`` is the pre-training set "
            "(LAION-80M, LAION-400M, LAION-2B, CLIP-WIT), ``task`` is zeroshot_classification or "
            "zeroshot_retrieval.",
            (
                *_CHERTI_ZEROSHOT_COLUMNS,
                "acc1",
                "acc5",
                "mean_per_class_recall",
                "image_retrieval_recall_at5",
                "text_retrieval_recall_at5",
            ),
        ),
        _Table(
            "runs",
            ("trained_models_info.csv", "arch_info.csv", "zeroshot_results.csv"),
            _cherti_runs,
            "29 rows, the OpenCLIP training runs with their hyper-parameters (samples seen taken from "
            "zeroshot_results.csv).",
            ("model", "name", "arch", "dataset", "n", "d", "c", "batch", "lr", "warmup", "epochs"),
        ),
        _Table(
            "learning_curves",
            (
                "imagenet_zeroshot_learning_curves.csv",
                "trained_models_info.csv",
                "arch_info.csv",
                "zeroshot_results.csv",
            ),
            _cherti_curves,
            "3359 rows, ImageNet zero-shot top-1/top-5 at every checkpoint epoch of the 29 runs (d = epoch * "
            "samples_per_epoch).",
            ("model", "name", "arch", "dataset", "epoch", "n", "d", "c", "acc1", "acc5"),
        ),
        _Table(
            "archs",
            ("arch_info.csv",),
            _cherti_archs,
            "28 rows, per architecture: parameters and GMACs per sample (total, image, text).",
            ("arch", "n", "gmacs", "mparams", "image_gmacs", "text_gmacs"),
        ),
    ],
)

# ------------------------------------------------------------------------------------------- chinchilla_epoch

_register(
    name="chinchilla_epoch",
    title="Chinchilla (Hoffmann et al. 2022) Fig. 4 runs, digitised by Epoch AI (Besiroglu et al. 2024)",
    repo="epoch-research/analyzing-chinchilla",
    commit="92258837425e1b5f2851d624287f0120583a3d0e",
    licence=(
        "none stated (no LICENSE file): digitised measurements from a published figure; cite both papers, "
        "and ask before redistributing"
    ),
    citation=(
        "Besiroglu, Erdil, Barnett, You (2024). Chinchilla Scaling: A replication attempt. arXiv:2404.10102; "
        "Hoffmann et al. (2022). Training Compute-Optimal Large Language Models. arXiv:2203.15556"
    ),
    description="""
245 final training losses on MassiveText read off Hoffmann et al.'s Fig. 4 (SVG) by Epoch AI: model size from
the y position, compute from the x position, loss decoded from the colour bar (all three carry digitising
noise; loss about +-0.01). ``d = c / (6 n)``, exactly as Epoch derive it. Epoch drop the 5 highest-loss points
(all at c about 1e19 with d/n < 0.5, loss > 3.4) as outliers before fitting; this table keeps all 245 rows -
drop them yourself (``runs[runs.loss < runs.loss.nlargest(5).min()]``). Published fit (Epoch, Huber delta 1e-3
on log loss, 240 points): A=482.0, B=2085.4, E=1.817, alpha=0.348, beta=0.366.
""",
    units={
        "n": "parameters",
        "d": "tokens (c / (6 n))",
        "c": "FLOPs",
        "loss": f"{_NATS} (final training loss, MassiveText)",
        "model_size": "parameters (upstream name)",
        "training_flop": "FLOPs (upstream name)",
        "x": "SVG x coordinate",
        "y": "SVG y coordinate",
    },
    tables=[
        _Table(
            "points",
            ("svg_extracted_data.csv",),
            _chinchilla_points,
            "245 rows, the fitting table.",
            _CHINCHILLA_COLUMNS,
        ),
        _Table(
            "svg",
            ("svg_extracted_data.csv",),
            _chinchilla_svg,
            "245 rows, the upstream file with every column (SVG coordinates and colours) plus n, d, c.",
            (*_CHINCHILLA_COLUMNS, "x", "y", "color", "hex_color", "model_size", "training_flop"),
        ),
    ],
    upstream=lambda rel: f"data/{rel}",
    derived={"chinchilla_NDCloss.csv": "data/svg_extracted_data.csv"},
)

# --------------------------------------------------------------------------------------------- critical batch

_register(
    name="critical_batch_zhang2024",
    title="How Does Critical Batch Size Scale in Pre-training? (Zhang et al. 2024)",
    repo="hlzhang109/critical-batch-size",
    commit="c5b509d8cf276bb40388172a08f9d6f644cf44dc",
    licence="MIT",
    citation=(
        "Zhang, Morwani, Vyas, Wu, Zou, Ghai, Foster, Kakade (2024). How Does Critical Batch Size Scale in "
        "Pre-training? ICLR 2025. arXiv:2410.21676"
    ),
    description="""
Optimisation steps needed to reach a fixed C4 eval loss for 5 OLMo-style model sizes (85M-1.2B,
Chinchilla-scaled data) x 9 batch sizes (64-16384 sequences of 512 tokens), transcribed from the values stored
in upstream ``plots/chinchilla.ipynb`` (the repository ships no data file): ``steps`` is the curated value the
paper fits (cell 5), ``steps_first_query`` the raw W&B query (cell 2; differs in 5 cells). Upstream fits steps
= a + b / B per size and derives the critical batch size B* = b / (5 a) + 307.2 sequences: 745, 955, 1394,
1889, 2533; CBS about 93.2 * N_M^0.468. ``n`` is the nominal size.
""",
    units={
        "n": "parameters (nominal: 85M, 151M, 302M, 604M, 1.2B)",
        "batch": "tokens per optimiser step",
        "batch_seqs": "sequences per optimiser step",
        "seq_len": "tokens per sequence",
        "steps": "optimiser steps to reach target_loss",
        "steps_first_query": "optimiser steps (first W&B query)",
        "d": "tokens to reach target_loss (steps * batch)",
        "c": "FLOPs (6 n d) to reach target_loss",
        "target_loss": f"{_NATS} (C4 eval loss each size reaches at its Chinchilla budget, batch 256)",
        "chinchilla_steps_at_bs256": "optimiser steps",
        "cbs": "tokens (critical batch size, cbs_seqs * 512)",
        "cbs_seqs": "sequences",
    },
    tables=[
        _Table(
            "steps",
            ("cbs_steps_to_target.csv",),
            _cbs_steps,
            "45 rows, one per (model size, batch size).",
            ("model", "n", "batch", "batch_seqs", "steps", "d", "c", "target_loss"),
        ),
        _Table(
            "fits",
            ("upstream_cbs_fits.csv",),
            _cbs_fits,
            "5 rows, upstream's per-size fit steps = fit_a + fit_b / B and critical batch size.",
            ("model", "n", "fit_a", "fit_b", "cbs_seqs", "cbs"),
        ),
    ],
    derived={
        "cbs_steps_to_target.csv": "plots/chinchilla.ipynb",
        "upstream_cbs_fits.csv": "plots/chinchilla.ipynb",
    },
)

# ----------------------------------------------------------------------------------------------- datablations

_COLPRET_REPO, _COLPRET_COMMIT = "IBM/ColPret", "16f23bbe054277ddc4afd07a972dd7cfbe3f48c3"
_DATABLATIONS_REPO, _DATABLATIONS_COMMIT = (
    "huggingface/datablations",
    "13701315b163f1c54642b94ad237b2699187c3ee",
)


def _datablations_url(rel: str) -> str:
    if rel.startswith("colpret_tabulation/"):
        return _gh(_COLPRET_REPO, _COLPRET_COMMIT, "aggregated_eval/" + rel.split("/", 1)[1])
    return _gh(
        _DATABLATIONS_REPO, _DATABLATIONS_COMMIT, rel
    )  # pragma: no cover - every other file is derived


_register(
    name="datablations_muennighoff",
    title="Scaling Data-Constrained Language Models (Muennighoff et al. 2023)",
    repo=_DATABLATIONS_REPO,
    commit=_DATABLATIONS_COMMIT,
    licence="Apache-2.0 (datablations); the ColPret tabulation (colpret_tabulation/) is MIT",
    citation=(
        "Muennighoff, Rush, Barak, Le Scao, Piktus, Tazi, Pyysalo, Wolf, Raffel (2023). Scaling "
        "Data-Constrained Language Models. NeurIPS 2023. arXiv:2305.16264"
    ),
    description="""
Final C4 validation losses of GPT-2-style models trained for several epochs over a limited pool of unique
tokens: ``n`` 7.1M-8.67B (20 sizes), ``d`` 0.1B-900B total tokens, ``u`` 0.1B-178B unique tokens, ``epochs = d
/ u`` (1-9000). The values are the literals hard-coded in upstream ``plotstables/return_alloc.ipynb`` and
upstream's own parse of each run name (seeds, dedup and "opt" variants and unfinished runs excluded exactly as
upstream does). The secondary tables are IBM's ColPret re-tabulation (learning curves on C4 and OSCAR, the
code-filling runs) at commit 16f23bbe054277ddc4afd07a972dd7cfbe3f48c3 of IBM/ColPret; their ``n`` is the
nominal size ("2.8B"). ColPret's own ``flops`` (and, in the contour file, ``tokens_per_epoch``) columns are
inconsistent with the runs; ``c`` is recomputed as 6 n d everywhere. The published data-constrained law
reproduces the trend, not the absolute losses (median relative error about 8 %; high-epoch runs diverge).
""",
    units={
        "n": "parameters",
        "d": "tokens (total, including repeats)",
        "u": "unique tokens",
        "c": "FLOPs (6 n d)",
        "epochs": "d / u (passes over the unique data)",
        "loss": f"{_NATS} (final validation loss, C4)",
        "seed": "random seed",
        "tokens_per_epoch": "tokens",
        "colpret_tokens_per_epoch": "tokens (ColPret's value; inconsistent with the names)",
        "colpret_flops": "FLOPs (ColPret's value; inconsistent)",
    },
    tables=[
        _Table(
            "final",
            ("datablations_final_losses.csv",),
            _datablations_final,
            "229 rows, the main table of finished C4 runs.",
            _DATABLATIONS_FINAL_COLUMNS,
        ),
        _Table(
            "all_named",
            ("datablations_all_named_losses.csv",),
            _datablations_all_named,
            "316 rows, every named run incl. 4-seed replicates (``is_seed_run``), dedup and 'opt' variants; "
            "``loss`` is NaN for unfinished runs (upstream stores 0); ``in_final`` marks the 229 of the main "
            "table.",
            ("name", "loss", "unfinished", "is_seed_run", "is_dedup", "is_opt_variant", "in_final"),
        ),
        _Table(
            "curves",
            ("colpret_tabulation/datablations_losses.csv",),
            _datablations_curves,
            "9261 rows, learning curves (loss vs tokens) for 2.8B/4.2B/8.7B models at several repetition "
            "levels on ``dataset`` c4 and oscar (ColPret); ``u`` is tokens per epoch.",
            ("run", "dataset", "n", "d", "u", "c", "epochs", "loss"),
        ),
        _Table(
            "code_curves",
            ("colpret_tabulation/datablations_code_losses.csv",),
            _datablations_code_curves,
            "296 rows, learning curves of the 'fill with code' runs (4.2B, C4 + Python; ColPret). The "
            "``epochs`` column keeps ColPret's label (10-90); ColPret does not document it for these runs.",
            ("run", "dataset", "seed", "n", "d", "c", "epochs", "loss"),
        ),
        _Table(
            "colpret_final",
            ("colpret_tabulation/datablations_contour_losses.csv",),
            _datablations_colpret_final,
            "229 rows, ColPret's tabulation of the same final losses (``u = d / epochs``).",
            ("name", "dataset", "n", "d", "u", "c", "epochs", "loss"),
        ),
    ],
    url=_datablations_url,
    derived={
        "datablations_final_losses.csv": "plotstables/return_alloc.ipynb",
        "datablations_all_named_losses.csv": "plotstables/return_alloc.ipynb",
        "name_code_params_map.csv": "plotstables/return_alloc.ipynb",
        "name_code_tokens_map.csv": "plotstables/return_alloc.ipynb",
    },
)

# ----------------------------------------------------------------------------------------- gadre_overtraining

_register(
    name="gadre_overtraining",
    title="Language models scale reliably with over-training and on downstream tasks (Gadre et al. 2024)",
    repo="mlfoundations/scaling",
    commit="a003c4913793ac2ae7ef87b28ecb562955d026d5",
    licence="MIT",
    citation=(
        "Gadre, Smyrnis, Shankar, et al. (2024). Language models scale reliably with over-training and on "
        "downstream tasks. arXiv:2403.08540"
    ),
    description="""
104 OpenLM models trained on C4, RedPajama (``rpj``) and RefinedWeb (``rw_original``): 4 small shapes
(10.6M-411.6M params) x over-training multiples M = d/n in {5, ..., 640}, plus 1.4B and 6.9B runs; n
10.6M-6.9B, d 53M-921B. Losses on 8 eval sets (``loss_c4_val``, the paper's main target, is copied to
``loss``) and accuracy on 46 downstream tasks; ``err_avg17`` / ``err_avg46`` are 1 - mean accuracy over the
paper's 17-task subset / all 46. The paper's default fit uses the 4 small shapes at M=20 plus d=96_l=8_h=4 at
M=320 and extrapolates to 1.4B at M=640 and 6.9B at M=20 (C4-eval loss relative error about 0.7 %).
``gadre_runs.csv`` flattens the 2 x 104 upstream JSON files (kept under ``raw/``); the ``grid`` table is
parsed from upstream ``exp_data/grid.json``.
""",
    units={
        "n": "parameters (with embeddings, as in the paper)",
        "n_no_embed": "parameters (without embeddings)",
        "d": "tokens",
        "c": "FLOPs (6 n d)",
        "m": "tokens per parameter (d / n; the paper's M = 20 * cc_mult)",
        "cc_mult": "over-training multiple of the 20 tokens/parameter budget",
        "loss": f"{_NATS} (C4 eval, = loss_c4_val)",
        "loss_lo95": f"{_NATS} (95 % CI over sequences)",
        "loss_hi95": f"{_NATS} (95 % CI over sequences)",
        "ntok": "tokens in the eval set",
        "batch": "tokens per optimiser step (global_bs_seqs * 2048)",
        "global_bs_seqs": "sequences of 2048 tokens",
        "lr": "peak learning rate",
        "value": "fraction (accuracy)",
        "random_baseline": "fraction (accuracy of random guessing)",
        "err_avg17": "fraction (1 - mean accuracy, 17 tasks)",
        "err_avg46": "fraction (1 - mean accuracy, 46 tasks)",
    },
    tables=[
        _Table(
            "runs",
            ("gadre_runs.csv",),
            _gadre_runs,
            "104 rows, one per model, wide: ``loss_<split>``, ``loss_lo95_<split>``, ``loss_hi95_<split>``, "
            "``ntok_<split>`` for 8 eval splits and ``acc_<task>`` for 46 tasks.",
            (*_GADRE_RUNS_COLUMNS, "err_avg17", "err_avg46", "loss_c4_val", "acc_hellaswag"),
        ),
        _Table(
            "losses",
            ("gadre_runs.csv",),
            _gadre_losses,
            "832 rows, one per (model, eval split).",
            ("name", "dataset", "model", "n", "d", "c", "m", "split", "loss", "loss_lo95", "loss_hi95"),
        ),
        _Table(
            "tasks",
            ("gadre_runs.csv", "raw/exp_data/eval_metadata.csv"),
            _gadre_tasks,
            "4784 rows, one per (model, downstream task), with the task's category, shots, random baseline "
            "and whether it is in the paper's 17-task average.",
            (
                "name",
                "dataset",
                "model",
                "n",
                "d",
                "c",
                "m",
                "task",
                "metric",
                "value",
                "random_baseline",
                "in_avg17",
            ),
        ),
        _Table(
            "grid",
            ("raw/exp_data/grid.json",),
            _gadre_grid,
            "435 rows, the appendix shape / warm-up grid search (130 shapes, about 20 tokens per parameter); "
            "``bs_field`` is read as the batch-size setting (unverified) and the eval set of ``loss`` is not "
            "stated upstream (presumably OpenLM val).",
            ("key", "width", "depth", "heads", "bs_field", "lr", "wd", "d", "warmup_steps", "loss"),
        ),
        _Table(
            "task_info",
            ("raw/exp_data/eval_metadata.csv",),
            _gadre_task_info,
            "51 rows, LLM-foundry task metadata.",
            ("task", "category", "task_type", "shots", "random_baseline", "in_avg17"),
        ),
    ],
    upstream=lambda rel: rel.removeprefix("raw/"),
    derived={"gadre_runs.csv": None, "gadre_grid_search.csv": "exp_data/grid.json"},
)

# -------------------------------------------------------------------------------------------------- gemstones

_GEM_TABLE_TEXT = {
    "hot_100b+": "770 rows: 22 width x depth models (48M-2.0B), 35 constant-LR ('hot', no cooldown) "
    "checkpoints each, every 10B tokens up to 350B.",
    "hot": "220 rows: the same checkpoints up to 100B tokens (the paper's main fitting set).",
    "hot_477": "1100 rows: hot, denser checkpoints (every 477 steps, about 2B tokens).",
    "hot_100b+_477": "3850 rows: hot_100b+, denser checkpoints.",
    "hot_100b+_512x": "175 rows: the 5 width-512 models of hot_100b+.",
    "hot_120b+_only": "528 rows: hot checkpoints from 120B tokens on.",
    "hot_120b+_only_477": "2552 rows: hot_120b+_only, denser checkpoints.",
    "cool_begin": "199 rows: loss at the start of the cooldown branches (20 models).",
    "cool_end": "199 rows: loss at the end of the cooldown branches (20 models).",
    "lr_ablation_hot": "200 rows: the lower-LR (``cooler_``) runs, 20 models.",
    "lr_ablation_hot_477": "1000 rows: lr_ablation_hot, denser checkpoints.",
    "hot_sampled_like_chinchilla": "24 rows: a subsample mimicking Chinchilla's design.",
    "lr_ablation_hot_sampled_like_chinchilla": "23 rows: the same for the lower-LR runs.",
    "slim_chinchilla": "28 rows: Chinchilla/Epoch points used upstream for comparison (n, d, c, loss only).",
    "lr_ablation_slim_chinchilla": "27 rows: the same, lower-LR variant (n, d, c, loss only).",
}


def _gem_tables() -> list[_Table]:
    tables = []
    for stem in _GEM_WANDB:
        cols = ("n", "d", "c", "loss") if "slim" in stem else tuple(_GEM_ID)
        rel = f"wandb_dfs/wandb_df_for_fitting_{stem}.jsonl"
        tables.append(_Table(stem, (rel,), _gem_wandb(stem), _GEM_TABLE_TEXT[stem], cols))
    for which, text in (("edu", "FineWeb-Edu"), ("dclm", "DCLM")):
        tables.append(
            _Table(
                f"fineweb_{which}",
                (f"benchmarks/fineweb_{which}_losses_combined.jsonl",),
                _gem_benchmark_loss(which),
                f"770 rows: validation loss on {text} at each hot_100b+ checkpoint.",
                tuple(_GEM_ID),
            )
        )
    tables += [
        _Table(
            "light_eval",
            (
                "benchmarks/light_eval_df.csv",
                "benchmarks/light_eval_df_err.csv",
                "benchmarks/fineweb_edu_losses_combined.jsonl",
            ),
            _gem_light_eval,
            "6930 rows, one per (checkpoint, task): downstream accuracy and its standard error on 9 tasks "
            "(lighteval); checkpoint 'main' is the final one (step 83475); n and d joined from the loss "
            "files.",
            (
                "run",
                "model",
                "width",
                "depth",
                "checkpoint",
                "step",
                "n",
                "d",
                "c",
                "task",
                "metric",
                "value",
                "stderr",
            ),
        ),
        _Table(
            "public_models",
            ("data/our_val_loss_data.json",),
            _gem_public_models,
            "21 rows: the authors' validation loss for public models (Gemma, Llama, Qwen).",
            (*_GEM_PUBLIC_MODELS_COLUMNS, "width", "depth", "vocab_size"),
        ),
        _Table(
            "fits",
            ("parameters/", "parameters_delta-3/", "parameters_delta-4/"),
            _gem_fits,
            "Upstream's fitted laws, long: one row per (fit file, parameter). Approach 1 (``coef``, "
            "``intercept`` of log N*, D* or D*/N* on log C); Approach 3 (``exponent_i``, ``coefficient_i``, "
            "``irreducible_error``: log-space parameters, ``fit_loss``) with Huber ``huber_delta`` 1e-3 or "
            "1e-4.",
            ("file", "huber_delta", "approach", "target", "subset", "param", "value"),
        ),
    ]
    return tables


_register(
    name="gemstones",
    title="Gemstones: A Model Suite for Multi-Faceted Scaling Laws (McLeish et al. 2025)",
    repo="mcleish7/gemstone-scaling-laws",
    commit="5f420478f6057b0cbb4d13405fb10ca64675bccb",
    licence="MIT",
    citation=(
        "McLeish, Kirchenbauer, Miller, Singh, Bhatele, Goldblum, Panda, Goldstein (2025). Gemstones: A "
        "Model Suite for Multi-Faceted Scaling Laws. NeurIPS 2025. arXiv:2502.06857"
    ),
    description="""
22 Gemma-style models of many width x depth shapes (48M-2.0B parameters, several near 1B), trained on a
Dolma-based mix with checkpoints every 10B tokens up to 350B, with cooldown and lower-learning-rate variants
of the same runs. Each upstream ``wandb_dfs`` file is a table named after it
(``wandb_df_for_fitting_<table>.jsonl``); the default ``hot_100b+`` holds all constant-LR checkpoints (fit up
to 100B, predict 350B), ``hot`` is its subset up to 100B used for the paper's main Approach-3 fit (alpha
0.293, beta 0.713 with Huber delta 1e-3). ``loss`` is upstream's ``final_loss`` (loss at that checkpoint); ``c
= 6 n d``; ``model`` is ``<width>x<depth>``.
""",
    units={
        "n": "parameters (active, with embeddings: params_active_precise)",
        "d": "tokens seen at the checkpoint",
        "c": "FLOPs (6 n d; upstream FLOPs in the slim_chinchilla tables)",
        "loss": f"{_NATS} (loss at the checkpoint)",
        "step": "optimiser step of the checkpoint",
        "seconds_per_step": "seconds (wall clock per step)",
        "num_nodes": "compute nodes",
        "width": "hidden size",
        "depth": "layers",
        "value": "fraction (accuracy)",
        "stderr": "fraction (standard error of the accuracy)",
        "huber_delta": "Huber loss delta of the fit (NaN for Approach 1)",
    },
    tables=_gem_tables(),
    derived={
        "benchmarks/light_eval_df.csv": "benchmarks/light_eval_df.parquet",
        "benchmarks/light_eval_df_err.csv": "benchmarks/light_eval_df_err.parquet",
    },
)

# ------------------------------------------------------------------------------------------- laion comparison

_register(
    name="laion_clip_mammut_comparison",
    title="Scaling Laws for Robust Comparison of Open Foundation Language-Vision Models and Datasets "
    "(Nezhurina et al. 2025)",
    repo="LAION-AI/scaling-laws-for-comparison",
    commit="5343917d5712c1ebdcae8d0105f16036fc894795",
    licence="none stated (no LICENSE file in the repository): cite, and ask before redistributing",
    citation=(
        "Nezhurina, Porian, Puccetti, Kerssies, Beaumont, Cherti, Jitsev (2025). Scaling Laws for Robust "
        "Comparison of Open Foundation Language-Vision Models and Datasets. NeurIPS 2025. arXiv:2506.04598"
    ),
    description="""
CLIP vs MaMMUT (plus CoCa and SigLIP) on DataComp-1.4B and Re-LAION-2B, many ViT sizes x 11 samples-seen
scales (1.28M-3B). The ``best`` table is the best-over-hyper-parameter-sweep value per (model, samples seen)
cell, parsed from the rendered tables of upstream ``overview.ipynb`` (rounded to 3 decimals there); the full
per-run table (``all_results.csv.gz``) is not part of this data set. The paper's finding: MaMMUT scales more
steeply and overtakes CLIP at about 1e20 FLOPs on both data sets. ``d`` is samples seen; ``c`` is total FLOPs
(the paper's compute axis: GFLOPs per sample * samples seen * 1e9), not 6 n d.
""",
    units={
        "n": "parameters (model_mparams * 1e6)",
        "d": "samples seen (image-text pairs)",
        "c": "FLOPs (total_gflops * 1e9)",
        "total_gflops": "GFLOPs",
        "model_gflops_per_sample": "GFLOPs per sample",
        "value": "fraction (accuracy or recall@5, per metric)",
        "miou": "fraction (ADE-20K linear-probe mIoU)",
        "lr": "peak learning rate",
        "batch": "samples per optimiser step (global_batch_size)",
        "warmup": "optimiser steps",
        "steps": "optimiser steps of the run",
    },
    tables=[
        _Table(
            "best",
            ("best_per_model_samples_seen.csv",),
            _laion_best,
            "2686 rows, one per (eval, metric, pre-training data set, LR schedule, family, arch, samples "
            "seen).",
            _LAION_BEST_COLUMNS,
        ),
        _Table(
            "segmentation",
            ("segmentation_results.csv",),
            _laion_segmentation,
            "1431 rows, ADE-20K segmentation (mIoU) of CLIP and MaMMUT runs on DataComp-1.4B with their "
            "hyper-parameters (all upstream columns except 3 file paths).",
            _LAION_SEGMENTATION_COLUMNS,
        ),
        _Table(
            "models",
            ("model_profile.csv",),
            _laion_models,
            "56 rows, per architecture and family: parameters and GFLOPs per sample.",
            (*_LAION_MODELS_COLUMNS, "mparams"),
        ),
    ],
    derived={
        "best_per_model_samples_seen.csv": "overview.ipynb",
        "segmentation_results.csv": "scaling_laws/data/segmentation_results.parquet",
    },
)

# ----------------------------------------------------------------------------------------------- loss-to-loss

_register(
    name="loss_to_loss_brandfonbrener",
    title="Loss-to-Loss Prediction: Scaling Laws for All Datasets (Brandfonbrener et al. 2024)",
    repo="KempnerInstitute/loss-to-loss-notebooks",
    commit="457ce81a019019bc3981937c20a70c52f5fad436",
    licence="none stated (no LICENSE file in the repository): cite, and do not bundle the file",
    citation=(
        "Brandfonbrener et al. (2024). Loss-to-Loss Prediction: Scaling Laws for All Datasets. "
        "arXiv:2411.12925"
    ),
    description="""
529 OLMo-style models (24 shapes, 19.5M-1.74B parameters) trained on 6 pre-training sets (``dataset``:
FineWeb, FineWeb-Edu, SmolLM-corpus, SlimPajama, ProofPile-2, StarCoder) at 8 IsoFLOP budgets from 2e17 to
4.84e19 FLOPs (``c`` = the budget, = 6 n d). Validation cross-entropy on 8 sets (``loss_<set>``; ``loss`` is
the loss on the model's own pre-training validation set, upstream ``val_loss``) and downstream accuracies / CE
losses. The paper's law: L_y = K (L_x - E_x)^kappa + E_y between losses at matched compute. Upstream's
``flops`` column is kept as is; it is not the total training compute.
""",
    units={
        "n": "parameters",
        "d": "tokens",
        "c": "FLOPs (IsoFLOP budget, 6 n d)",
        "loss": f"{_NATS} (own pre-training validation set)",
        "loss_<set>": f"{_NATS} (validation cross-entropy)",
        "ppl_<set>": "perplexity",
        "train_loss": _NATS,
        "steps": "optimiser steps",
        "peak_gpu_memory_mb": "MB",
    },
    tables=[
        _Table(
            "runs",
            ("sweep.csv",),
            _l2l_runs,
            "529 rows, one per run, wide: ``loss_<set>`` and ``ppl_<set>`` for 8 validation sets, downstream "
            "``<task>_acc`` / ``<task>_len_norm`` / ``<task>_ce_loss``, train losses.",
            (*_L2L_RUNS_COLUMNS, "loss_c4", "loss_fineweb_edu_100b", "steps", "n_layers", "d_model"),
        ),
        _Table(
            "losses",
            ("sweep.csv",),
            _l2l_losses,
            "4232 rows, one per (run, validation set): the loss-to-loss axes.",
            ("id", "name", "dataset", "n", "d", "c", "eval_set", "loss"),
        ),
    ],
    upstream=lambda rel: f"data/{rel}",
)

# ------------------------------------------------------------------------------------------------- multipower

_register(
    name="multipower_lr_schedules",
    title="A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules (Luo et al. 2025)",
    repo="thu-yao-01-luo/MultiPowerLaw",
    commit="8da9f1902602f3391b971a811e3cc51604541769",
    licence="MIT",
    citation=(
        "Luo et al. (2025). A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules. ICLR "
        "2025. arXiv:2503.12811"
    ),
    description="""
Training-loss curves (every 128 steps after a 2160-step warm-up) of 25M, 100M and 400M-parameter models under
9 learning-rate schedules each: constant and cosine over 24k / 72k steps, warmup-stable-decay with
exponential-type (``wsd``) or linear (``wsdld``) decay from 20k to 24k, and two-stage constant schedules
(``wsdcon_3/9/18``). Upstream fits on cosine_24000, constant_24000 and wsdcon_9 (``split == "fit"``) and tests
on the rest (3x longer runs and unseen shapes). ``n`` is the nominal size; tokens per step are not in the
source, so there is no ``d``.
""",
    units={
        "n": "parameters (nominal: 25M, 100M, 400M)",
        "step": "optimiser step",
        "lr": "learning rate at the step",
        "loss": f"{_NATS} (training loss)",
    },
    tables=[
        _Table(
            "curves",
            ("csv_25/", "csv_100/", "csv_400/"),
            _mpl_curves,
            "6265 rows, one per (model, schedule, step).",
            ("model", "n", "schedule", "schedule_type", "split", "step", "lr", "loss"),
        )
    ],
    upstream=lambda rel: f"loss_curve_repo/{rel}",
)

# ------------------------------------------------------------------------------------------------- obsscaling

_OBS_BASE = "base_llm_benchmark_eval.csv"
_OBS_INSTRUCT = "instruct_llm_benchmark_eval.csv"

_register(
    name="obsscaling_ruan",
    title=(
        "Observational Scaling Laws and the Predictability of Language Model Performance (Ruan et al. 2024)"
    ),
    repo="ryoungj/ObsScaling",
    commit="4d6e1e43fd2635d04654aa77d1df9d5266ea0382",
    licence="Apache-2.0",
    citation=(
        "Ruan, Maddison, Hashimoto (2024). Observational Scaling Laws and the Predictability of Language "
        "Model Performance. NeurIPS 2024. arXiv:2405.10938"
    ),
    description="""
Public base LLMs from 47 families (Llama, Qwen, Pythia, OPT, ...) with parameters, pre-training tokens and
FLOPs (= 6 n d where known; 25 base models lack d and c, which stay NaN) and their scores on 8 standard
benchmarks, "emergent" BIG-bench-style tasks, Open LLM Leaderboard v2 tasks and post-training-technique
evaluations; plus instruction-tuned models (incl. GPT-4 and Claude; no sizes) with Arena-Elo, MT-Bench and
agent benchmarks. The paper models the benchmark matrix as low-rank with family-specific compute efficiency
and predicts larger models with a sigmoid link. Scores are fractions in [0, 1] unless a task name says
otherwise (e.g. ``*_bleu``, agent scores). Note: the source files lack a final newline, so the emergent and
post-training files have 84 and 96 rows (one more than a line count suggests).
""",
    units={
        "n": "parameters",
        "d": "tokens (pre-training)",
        "c": "FLOPs (6 n d)",
        "value": "score (fraction for accuracies / exact match; see the task name)",
    },
    tables=[
        _Table(
            "base",
            (_OBS_BASE,),
            _obs_base,
            "148 base models, wide: mmlu, arc_c, hellaswag, winograd, truthfulqa, gsm8k, xwinograd, "
            "humaneval.",
            (
                *_OBS_META,
                "mmlu",
                "arc_c",
                "hellaswag",
                "winograd",
                "truthfulqa",
                "gsm8k",
                "xwinograd",
                "humaneval",
            ),
        ),
        _Table(
            "base_long",
            (_OBS_BASE,),
            _obs_base_long,
            "1184 rows, the base table long: one per (model, benchmark).",
            _OBS_LONG_COLUMNS,
        ),
        _Table(
            "sub_10b",
            ("base_llm_benchmark_eval_sub_10b.csv",),
            _obs_sub_10b,
            "92 base models under 10B parameters (the cheap-analysis subset), wide like ``base``.",
            (*_OBS_META, "mmlu", "arc_c", "gsm8k"),
        ),
        _Table(
            "emergent",
            ("base_llm_emergent_capability_eval.csv", _OBS_BASE),
            _obs_file_long("base_llm_emergent_capability_eval.csv", _OBS_BASE),
            "672 rows (84 models x 8): 2-shot word unscrambling, IPA transliteration, arithmetic, Persian "
            "QA; ``task`` is the upstream column (task_shots_metric).",
            _OBS_LONG_COLUMNS,
        ),
        _Table(
            "leaderboard_v2",
            ("base_llm_leaderboard_v2_eval.csv", _OBS_BASE),
            _obs_file_long("base_llm_leaderboard_v2_eval.csv", _OBS_BASE),
            "432 rows (72 models x 6): BBH, GPQA, IFEval, MATH-hard, MMLU-Pro, MuSR.",
            _OBS_LONG_COLUMNS,
        ),
        _Table(
            "post_training",
            ("base_llm_post_training_eval.csv", _OBS_BASE),
            _obs_file_long("base_llm_post_training_eval.csv", _OBS_BASE),
            "22464 rows (96 models x 234): GSM8K / BBH with CoT, self-consistency, ...; ``filter`` is the "
            "lm-eval-harness filter (``strict-match``, ``maj@5``, ...; ``,norm`` variants are normalised and "
            "can be negative).",
            (*_OBS_META, "task", "filter", "value"),
        ),
        _Table(
            "instruct",
            (_OBS_INSTRUCT,),
            _obs_instruct,
            "27 instruction-tuned models, wide: arena_elo, mtbench and standard benchmarks (normalised "
            "upstream).",
            (*_OBS_META, "arena_elo", "mtbench", "mmlu", "gsm8k"),
        ),
        _Table(
            "agent",
            ("instruct_llm_agent_eval.csv", _OBS_INSTRUCT),
            _obs_file_long("instruct_llm_agent_eval.csv", _OBS_INSTRUCT),
            "783 rows (27 models x 29): AgentBench (``ABench-*``) and AgentBoard (``ABoard-*``) scores.",
            _OBS_LONG_COLUMNS,
        ),
    ],
    upstream=lambda rel: f"eval_results/{rel}",
)

# ------------------------------------------------------------------------------------------------ olmo_ladder

_register(
    name="olmo_ladder",
    title="Establishing Task Scaling Laws via Compute-Efficient Model Ladders (Bhagia et al. 2024)",
    repo="allenai/OLMo-ladder",
    commit="67a3f440f787d020da35e3ca8eeae475fae754f5",
    licence="Apache-2.0",
    citation=(
        "Bhagia et al. (2024). Establishing Task Scaling Laws via Compute-Efficient Model Ladders. "
        "arXiv:2412.04403"
    ),
    description="""
30 OLMo-2-style ladder runs: 5 sizes (190M, 370M, 760M, 1B, 3B) x 5 token multiples (0.5, 1, 2, 5, 10 x 20
tokens per parameter) plus a rerun of each 1xC run. Evaluations: C4 and 10 other validation losses
(``loss_<set>``; ``loss`` = ``loss_c4_en``, the paper's "C4 loss"), and per task (MMLU groups, HellaSwag,
ARC-E/C, BoolQ, CSQA, OpenBookQA, PIQA, SocialIQa, Winogrande; val / test splits) the bits-per-byte of the
correct answer (``bpb_*``: the paper's intermediate feature), accuracy (``acc_*``: length-normalised, raw for
BoolQ, as upstream), and the probability of the correct answer (``soft_*``, ``soft_log_*``). The paper chains
bpb = A / n^alpha + B / d^beta + E and a sigmoid from bpb to accuracy to predict the OLMo-2 7B / 13B targets
(not included here). n is from the upstream config for 190M-1B; the 3B rung is not in it and n is about d /
(20 * mult), 3.17e9 (``n_source``), rounded from each run's own tokens: 3.170e9 to 3.173e9 across the six 3B runs,
so a table keyed on ``n`` sees three 3B sizes (key on ``size`` instead, or set those runs' n to one value).
``c`` is upstream's cumulative training compute (attention included): from 10 n d (190M) to 7.2 n d (3B), not
6 n d.
""",
    units={
        "n": "parameters",
        "d": "tokens",
        "c": "FLOPs (upstream throughput counter, attention included: 7.2-10 n FLOPs per token)",
        "loss": f"{_NATS} (C4 validation, = loss_c4_en)",
        "loss_<set>": f"{_NATS} (validation cross-entropy)",
        "bpb_<task>_<split>": "bits per byte of the correct answer",
        "acc_<task>_<split>": "fraction (accuracy)",
        "soft_<task>_<split>": "probability of the correct answer",
        "soft_log_<task>_<split>": "log probability of the correct answer",
        "value": "per metric: bpb bits/byte, acc fraction, soft probability, soft_log log-probability",
        "steps": "optimiser steps of the run",
        "step": "optimiser step of the evaluation",
        "lr": "peak learning rate (final); learning rate at the step (curves)",
        "batch": "tokens per optimiser step",
    },
    tables=[
        _Table(
            "final",
            ("ladder_final_checkpoints.csv",),
            _olmo_final,
            "30 rows, the last evaluation of each run, wide (one column per eval set / task / metric).",
            (*_OLMO_FINAL_COLUMNS, "loss_c4_en", "bpb_hellaswag_val", "acc_hellaswag_val"),
        ),
        _Table(
            "tasks",
            ("ladder_final_checkpoints.csv",),
            _olmo_tasks,
            "2400 rows, the final evaluations long: one per (run, task, split, metric), metric in bpb, acc, "
            "soft, soft_log.",
            (*_OLMO_ID, "task", "split", "metric", "value"),
        ),
        _Table(
            "losses",
            ("ladder_final_checkpoints.csv",),
            _olmo_losses,
            "330 rows, the final validation losses long: one per (run, eval set).",
            (*_OLMO_ID, "eval_set", "loss"),
        ),
        _Table(
            "curves",
            ("ladder-runs/", "ladder_final_checkpoints.csv"),
            _olmo_curves,
            "3569 rows, every evaluation of the 30 runs (wide, like ``final``); ``d`` and ``c`` are "
            "cumulative at the step.",
            _OLMO_CURVES_COLUMNS,
        ),
    ],
    upstream=lambda rel: f"src/scripts/paper/data/{rel}",
    derived={"ladder_final_checkpoints.csv": None},
)

# ----------------------------------------------------------------------------------------------------- porian

_register(
    name="porian_discrepancies",
    title="Resolving Discrepancies in Compute-Optimal Scaling of Language Models (Porian et al. 2024)",
    repo="formll/resolving-scaling-law-discrepancies",
    commit="0dc60d91b8a525858a3067fc9e4a46ff5374cc6f",
    licence="MIT",
    citation=(
        "Porian, Wortsman, Jitsev, Schmidt, Carmon (2024). Resolving Discrepancies in Compute-Optimal "
        "Scaling of Language Models. NeurIPS 2024. arXiv:2406.19146"
    ),
    description="""
IsoFLOP grids (12 budgets 1.25e16-2.56e19 FLOPs x up to 16 model sizes) on RefinedWeb (``rw``) and
OpenWebText2 (``owt2``) under the paper's sequence of protocol changes (``label``): Reproducing Kaplan et al.
-> Counting last layer FLOPs -> Correcting warmup -> Cosine decay -> Optimizer tuning (no decay), with
attention-FLOP variants and a Kaplan-adjusted tuned run. The compute-optimal exponent a (N* ~ C^a) moves from
0.835 to 0.497 (RW). ``n`` and ``c`` follow each setting's counting convention (``param_count``: kaplan =
non-embedding params and 6 n FLOPs per token, standard = incl. the output layer, attention = also attention
FLOPs), so ``c`` is not always 6 n d. All three files were derived from upstream's four summary pickles (read
with a restricted unpickler); the per-run table with learning-rate / batch-size sweeps is not included.
""",
    units={
        "n": "parameters (per the setting's param_count convention)",
        "d": "tokens (c / FLOPs per token of the model)",
        "c": "FLOPs (compute budget)",
        "loss": f"{_NATS} (val loss, or smoothed train loss; see loss_split)",
        "tokens_per_param_opt": "tokens per parameter",
        "n_opt_logstd": "bootstrap sd of log n*",
        "d_opt_logstd": "bootstrap sd of log d*",
        "loss_opt_std": f"{_NATS} (bootstrap sd)",
    },
    tables=[
        _Table(
            "isoflop",
            ("porian_isoflop_points.csv",),
            _porian_isoflop,
            "1745 rows, one per (setting, budget, model size).",
            _PORIAN_ISOFLOP_COLUMNS,
        ),
        _Table(
            "compute_optimal",
            ("porian_compute_optimal_points.csv",),
            _porian_compute_optimal,
            "177 rows, per (setting, budget): upstream's interpolated compute-optimal n*, d*, loss* and "
            "bootstrap spreads (NaN where upstream has none). 4 rows (rw and owt2, budgets 1.25e16 and 2.5e16) "
            "have no optimum: n, d and loss are NaN there; drop them before a fit "
            "(``runs.dropna(subset=['n', 'd', 'loss'])``).",
            ("dataset", "label", "c", "n", "d", "loss", "tokens_per_param_opt", "n_models_at_budget"),
        ),
        _Table(
            "fits",
            ("porian_upstream_fits.csv",),
            _porian_fits,
            "15 rows, per setting: upstream's fitted exponents (the paper's Table 2) and loss fit.",
            ("dataset", "label", "a_n_exponent", "a_ci95_lo", "a_ci95_hi", "b_d_exponent", "lossfit_alpha"),
        ),
    ],
    derived={
        "porian_isoflop_points.csv": None,
        "porian_compute_optimal_points.csv": None,
        "porian_upstream_fits.csv": None,
    },
)

# ----------------------------------------------------------------------------------------------------- pythia

_register(
    name="pythia_evals",
    title=(
        "Pythia: A Suite for Analyzing Large Language Models Across Training and Scaling (Biderman et al. "
        "2023)"
    ),
    repo="EleutherAI/pythia",
    commit="a19eecb807ec2c79a39ebf18108816e6ffffc1d5",
    licence="Apache-2.0",
    citation=(
        "Biderman, Schoelkopf, Anthony, Bradley, O'Brien, Hallahan, Khan, Purohit, Prashanth, Raff, Skowron, "
        "Sutawika, van der Wal (2023). Pythia: A Suite for Analyzing Large Language Models Across Training "
        "and Scaling. ICML 2023. arXiv:2304.01373"
    ),
    description="""
lm-evaluation-harness results of the Pythia suite (70M-12B, standard and deduplicated Pile, plus reduced-batch
runs) at many checkpoints: zero-shot at 27 steps (0 ... 143000) and five-shot at 15 steps, on ARC-E/C,
LAMBADA, LogiQA, PIQA, SciQ, WinoGrande, WSC and MMLU (``mmlu_avg57``: unweighted mean of the 57 subtasks,
five-shot only). Flattened from 746 upstream JSON files (``evals/pythia-v1/``). ``n`` is the total parameter
count (embeddings included; the paper's counts), ``d`` = step * batch tokens (0 at step 0), ``c = 6 n d``.
Every model sees the same 300B tokens in the same order, so n and d are separable only through intermediate
checkpoints.
""",
    units={
        "n": "parameters (total, with embeddings)",
        "n_nonembed": "parameters (without embeddings)",
        "d": "tokens seen at the checkpoint",
        "c": "FLOPs (6 n d)",
        "batch": "tokens per optimiser step",
        "step": "optimiser step of the checkpoint",
        "value": "per metric: acc / acc_norm fraction, ppl perplexity",
        "stderr": "same unit as value (harness bootstrap; NaN for mmlu_avg57)",
    },
    tables=[
        _Table(
            "evals",
            ("pythia_evals_long.csv",),
            _pythia_evals,
            "11936 rows, one per (variant, shots, step, task, metric).",
            _PYTHIA_EVALS_COLUMNS,
        ),
    ],
    derived={"pythia_evals_long.csv": None},
)

# ---------------------------------------------------------------------------------------------------- steplaw

_register(
    name="steplaw_lr_bs",
    title=(
        "Predictable Scale: Part I - Optimal Hyperparameter Scaling Law in LLM Pretraining (Step Law; Li et "
        "al. 2025)"
    ),
    repo="step-law/steplaw",
    commit="32a8f4cc50247695fb56cc6c9117abdf67c97763",
    licence="none stated (no LICENSE file in the repository): cite, and do not bundle the files",
    citation=(
        "Li et al. (2025). Predictable Scale: Part I - Optimal Hyperparameter Scaling Law in LLM "
        "Pretraining. arXiv:2503.04715"
    ),
    description="""
Final losses over learning-rate x batch-size grids. Dense: (n, d) cells with n 214.7M-536.9M and d 4B-100B
(the rows of upstream ``data/dense_lr_bs_loss.csv`` with n < 1e9; the filtered file is derived, so it is only
available from a data directory). MoE: total n about 2.15B with varying active parameters (``n_active``) and
sparsity, d in {2, 4, 8, 20}B. ``loss`` is upstream's ``smooth loss`` (smoothed final training loss, the
paper's target) and ``loss_raw`` the last raw value. Published law: lr_opt = 1.79 n^-0.713 d^0.307, B_opt =
0.58 d^0.571 (B in tokens).
""",
    units={
        "n": "parameters (total)",
        "n_active": "parameters (active per token, MoE)",
        "d": "tokens",
        "c": "FLOPs (6 n d; 6 n_active d for MoE)",
        "lr": "peak learning rate",
        "batch": "tokens per optimiser step (batch_seqs * 2048)",
        "batch_seqs": "sequences of 2048 tokens",
        "steps": "optimiser steps",
        "loss": f"{_NATS} (smoothed final training loss)",
        "loss_raw": f"{_NATS} (final training loss)",
    },
    tables=[
        _Table(
            "dense",
            ("dense_lr_bs_loss.csv",),
            _steplaw_dense,
            "1746 rows, dense models.",
            ("exp_name", "n", "d", "c", "lr", "batch", "batch_seqs", "steps", "loss", "loss_raw"),
        ),
        _Table(
            "moe",
            ("moe_lr_bs_loss.csv",),
            _steplaw_moe,
            "708 rows, mixture-of-experts models.",
            _STEPLAW_MOE_COLUMNS,
        ),
    ],
    upstream=lambda rel: f"data/{rel}",
    derived={"dense_lr_bs_loss.csv": "data/dense_lr_bs_loss.csv"},
)
