"""The ``bayescale`` command line (Typer).

Commands: ``fit``, ``predict``, ``summary``, ``report``, ``compare``, ``backtest``, ``calibrate``, ``decide``,
``compare-at-scale``, ``laws``, ``cache``, ``demo``.

Errors in the input (a bad table, an unknown law, a missing file) are printed as one clear message with exit code 2,
never as a traceback; warnings as plain ``warning: <message> [<category>]`` lines (:func:`main`). ``calibrate``
exits with code 1 when a rank test fails.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bayesian scaling laws: fit a law to training runs, predict at scale, run the demo.")


def _fail(msg: str) -> None:
    typer.echo(f"error: {_cli_words(msg)}", err=True)
    raise typer.Exit(code=2)


def _command_options() -> list[str]:
    """Return the option names (as Python parameters) of the command running now.

    Those of the command function found on the call stack: its parameters other than arguments and the context;
    none outside a command.
    """
    import inspect
    import sys

    commands = {c.callback.__code__: c.callback for c in app.registered_commands if c.callback is not None}
    frame = sys._getframe(1)
    while frame is not None and frame.f_code not in commands:
        frame = frame.f_back
    if frame is None:
        return []
    out = []
    for name, param in inspect.signature(commands[frame.f_code], eval_str=True).parameters.items():
        kinds = {type(m).__name__ for m in getattr(param.annotation, "__metadata__", ())}
        if "ArgumentInfo" not in kinds and param.annotation is not typer.Context:
            out.append(name)
    return out


#: The Python API's fixes in the command line's words: pandas code as edits of the table's file, Python values as
#: the options' forms.
_FILE_FIXES = (
    (r"Rename with runs\.rename\(columns=\{'([^']+)': '([^']+)'\}\)",
     r"Rename the column '\1' to '\2' in the table's header"),
    (r"read it with pandas\.read_csv\(path, sep=[^)]*\), or save it comma-separated", "save it comma-separated"),
    (r"multiply, e\.g\. runs\['(\w+)'\] \* 1e6 for millions or \* 1e9 for billions",
     r"multiply the column \1 by 1e6 if in millions or by 1e9 if in billions (or write sizes as 350M, 70B)"),
    (r"multiply by ([0-9.e]+), e\.g\. runs\['(\w+)'\] \* [0-9.e]+", r"multiply the column \2 by \1"),
    (r"runs\['(\w+)'\] = np\.log\(runs\['\w+'\]\)", r"replace the column \1 by its log"),
    (r"quantiles must be a sequence of numbers strictly between 0 and 1, e\.g\. \(0\.05, 0\.5, 0\.95\)",
     "--quantiles takes numbers strictly between 0 and 1, e.g. 0.05,0.5,0.95"),
    (r"e\.g\. runs\['(\w+)'\] = runs\['\w+'\]\.astype\(str\) if they are the same",
     r"writing the column \1's labels alike if they are the same"),
)


def _cli_words(msg: str) -> str:
    """Say a message of the Python API in the command line's words.

    Its keyword arguments (``warmup_tree_depth=10``, ``raise num_samples``) become the running command's options
    (``--warmup-tree-depth 10``, ``raise --num-samples``) where the command has them (``fixed=`` is ``--fix``), and
    its pandas fixes become edits of the table's file. Names the command has no option for are left as they are.
    """
    for pattern, repl in _FILE_FIXES:
        msg = re.sub(pattern, repl, msg)
    options = {name: "--" + name.replace("_", "-") for name in _command_options()}
    if "fix" in options:  # bs.fit's fixed= is the command's --fix
        msg = re.sub(r"fixed\['(\w+)'\] = (\S+)", lambda m: f"--fix {m[1]}={float(m[2]):g}", msg)
        msg = msg.replace("fixed= ", "--fix ").replace("(fixed=)", "(--fix)")

    def option(m: re.Match) -> str:
        if m[2] not in options:
            return m[0]
        value = (m[3] or "").strip("[]'\"")
        return f"{m[1]}{options[m[2]]}" + (f" {value}" if value else "")

    msg = re.sub(r"(^|[\s(,])([a-z][a-z_]*)=(?!=)((?:\[[^\]]*\])|(?:'[^']*')|[\w.+-]*)", option, msg)
    return re.sub(r"\b(raise|lower) ([a-z]+_[a-z_]+)\b",
                  lambda m: f"{m[1]} {options[m[2]]}" if m[2] in options else m[0], msg)


def _read_table(path: Path):
    import pandas as pd

    if not path.exists():
        _fail(f"no such file: {path}")
    if path.is_dir():
        _fail(f"{path} is a folder; give the table's file (a .csv or .parquet file of runs)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _by_line(_strip_header(pd.read_csv(path)), path)
        if suffix in (".parquet", ".pq"):
            return _strip_header(pd.read_parquet(path))
    except ImportError as exc:
        _fail(f"reading {path.name} needs pyarrow: pip install 'bayescale[parquet]' ({exc})")
    except pd.errors.EmptyDataError:
        _fail(f"{path} is empty; a table of runs has a header line of column names and one line per run")
    except pd.errors.ParserError as exc:
        _fail(f"{path} is not a well-formed CSV table ({exc}); every line needs as many fields as the header")
    except UnicodeDecodeError as exc:  # pandas decodes in chunks: its offsets count from the chunk, not the file
        data = path.read_bytes()
        try:
            data.decode("utf-8")
            where = f"{exc.reason}"
        except UnicodeDecodeError as whole:
            where = (f"byte {data[whole.start]:#04x} on line {data[:whole.start].count(b'\n') + 1}, "
                     f"{whole.start} bytes in")
        _fail(f"{path} is not UTF-8 text ({where}); save it as UTF-8 CSV")
    except (OSError, ValueError) as exc:  # a damaged Parquet file, an unreadable file
        _fail(f"cannot read {path}: {exc}")
    _fail(f"{path.name}: expected a .csv or .parquet file of runs, got {suffix or 'no extension'!r}")


def _strip_header(frame):
    """Drop spaces around column names (a hand-written ``n, d, loss`` header), unless two names would then clash."""
    names = [c.strip() if isinstance(c, str) else c for c in frame.columns]
    return frame.set_axis(names, axis=1) if len(set(names)) == len(names) else frame


#: How the rows of the tables this command read are named (:func:`_by_line`), for the warnings :func:`main` prints.
_ROWS: list[str] = []


def _by_line(frame, path: Path):
    """Label a CSV table's rows by their line in the file (the header is line 1), so that errors point at lines.

    When some run spans several lines or blank lines were skipped, pandas' labels are kept (0 is the first run).
    ``frame.attrs["rows"]`` says which, for :func:`_table_failure`.
    """
    with open(path, "rb") as fh:
        lines = fh.read().rstrip().splitlines()  # blank lines at the end are not lines of the table
    if len(lines) == len(frame) + 1:
        frame.index = range(2, len(frame) + 2)
        frame.attrs["rows"] = f"rows are named by their line in {path.name} (line 1 is its header)"
    else:
        frame.attrs["rows"] = f"rows are numbered from 0, the first run after {path.name}'s header"
    _ROWS.append(frame.attrs["rows"])
    return frame


def _table_failure(exc: Exception, table) -> None:
    """Fail with ``exc``'s message, saying how rows are named when it names rows of ``table``."""
    from bayescale.data import _NAMES_ROWS

    msg = str(exc).strip('"')
    if table is not None and isinstance(exc, ValueError) and _NAMES_ROWS.search(msg) and table.attrs.get("rows"):
        msg += f"\n({table.attrs['rows']})"
    _fail(msg)


def _output_file(path: Path | None, option: str, figure: bool = False) -> None:
    """Fail before any work when ``path`` (the value of ``option``) cannot become a file.

    Missing folders above it are made when the file is written (as ``Fit.save`` and the figures make them), so
    what is checked is the nearest folder that exists. ``figure``: the file is an image, of a format matplotlib
    writes.
    """
    if path is None:
        return
    if path.is_dir():
        _fail(f"{option} {path} is a folder; give a file's name, e.g. {option} {path / 'out.csv'}")
    existing = next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir():
        shown = next((p for p in path.parents if p.absolute() == existing), existing)
        _fail(f"{option} {path}: the folder {shown} is a file, not a folder; choose another path")
    if figure:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if path.suffix.lower().lstrip(".") not in formats:
            _fail(f"{option} {path}: matplotlib writes no {path.suffix or 'suffix-less'!r} files; end the name with "
                  f"one of {', '.join('.' + f for f in sorted(formats))}, e.g. {path.with_suffix('.png').name}")
    _writable(existing, option, path)


def _writable(folder: Path, option: str, path: Path) -> None:
    """Fail when no file can be created in ``folder`` (read-only, no permission), before the work that writes."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".bayescale-check-"):
            pass
    except OSError as exc:
        _fail(f"{option} {path}: cannot write into the folder {folder} ({exc.strerror or exc}); choose another path")


def _write_csv(frame, path: Path, **kwargs) -> None:
    """Write a result table atomically: a crash or Ctrl-C leaves the old file or none, never half of one."""
    from bayescale.engine import _atomic_write

    try:
        _atomic_write(Path(path), frame.to_csv(**kwargs).encode())
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror or exc}")


def _output_folder(path: Path | None, option: str) -> None:
    """Fail before any work when ``path`` (the value of ``option``) is a file rather than a folder.

    Or when it (or the nearest folder above it that exists, where it would be created) cannot be written.
    """
    if path is None:
        return
    if path.exists() and not path.is_dir():
        _fail(f"{option} {path} is a file; give a folder's name (it is created if missing)")
    existing = next((p for p in (path, *path.absolute().parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        _fail(f"{option} {path}: {existing} is a file, not a folder; choose another path")
    if existing is not None:
        _writable(existing, option, path)


def _make_folder(path: Path) -> None:
    """Create an output folder, failing in one line (not a traceback) when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create the folder {path}: {exc.strerror or exc}")


def _budgets(values: list[str]) -> list[float]:
    """``--compute`` values as FLOPs: numbers (5.76e23) or sizes with a suffix (100T); a bad one fails naming it."""
    from bayescale.data import _budgets as read

    try:
        return [float(b) for b in read(values, "compute")]
    except ValueError:
        _fail(f"--compute takes budgets in FLOPs, each a finite number > 0, written as 5.76e23 or 100T (repeat "
              f"--compute for several); got {' '.join(values)}")


def _load_fit(path: Path):
    import bayescale as bs

    try:
        return bs.load(path)
    except (bs.FitFileError, FileNotFoundError) as exc:
        _fail(str(exc))


def _print_fit(fit) -> None:
    import pandas as pd

    with pd.option_context("display.width", 140, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        typer.echo(fit.summary().to_string())
    typer.echo(repr(fit.diagnostics))


#: ``--target-accept-prob`` of every command that fits
TargetAcceptProb = Annotated[float, typer.Option(
    help="NUTS's target acceptance rate in (0, 1); raise it (0.95, 0.99) when fits report divergences")]


def _fixed_values(fix: list[str] | None) -> dict[str, float] | None:
    """Return ``--fix name=value`` options as ``bs.fit``'s ``fixed=``.

    Each option may hold several, comma-separated, as ``--at`` does; a malformed one, or a parameter given twice,
    fails naming it.
    """
    if not fix:
        return None
    out = {}
    for item in fix:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            name = name.strip()
            try:
                if not sep or not name:
                    raise ValueError
                number = float(value)
            except ValueError:
                _fail(f"--fix {item!r}: give a parameter and a number, as name=value, e.g. --fix alpha=0.34 "
                      "(several: --fix alpha=0.34,beta=0.28)")
            if name in out:
                _fail(f"--fix gives {name} twice ({out[name]:g} and {number:g}); give each parameter once")
            out[name] = number
    return out


@app.command(context_settings={"allow_extra_args": True})  # extra arguments: see the check of `runs` below
def fit(
    ctx: typer.Context,
    runs: Annotated[Path, typer.Argument(help="CSV or Parquet table of runs, one row per run")],
    law: Annotated[str, typer.Option(help="registered law name (see `bayescale laws`)")] = "chinchilla",
    out: Annotated[Path, typer.Option(help="fit file to write (netCDF)")] = Path("fit.nc"),
    groups: Annotated[list[str] | None, typer.Option(help="group column (repeat for several)")] = None,
    pool: Annotated[str | None, typer.Option(help="shared | partial | independent (with --groups)")] = None,
    pooling: Annotated[str, typer.Option(help="auto | noncentred | centred (partial pooling)")] = "auto",
    likelihood: Annotated[str, typer.Option(
        help="student_t | normal | beta | binomial | beta_binomial (the last three for accuracies of logit laws; "
             "the count ones need --noise naming the items column)")] = "student_t",
    noise: Annotated[str | None, typer.Option(
        help="column of known per-run noise sd on the likelihood's scale (log loss, logit accuracy), or of items "
             "for --likelihood binomial | beta_binomial")] = None,
    fix: Annotated[list[str] | None, typer.Option(
        help="hold a law parameter at a value instead of fitting it, as name=value (several: repeat it, or "
             "separate them with commas), e.g. --fix alpha=0.34")] = None,
    num_chains: int = 4,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    seed: int = 0,
    target_accept_prob: TargetAcceptProb = 0.9,
    max_tree_depth: Annotated[int, typer.Option(help="deepest NUTS tree of the draws")] = 10,
    warmup_tree_depth: Annotated[int | None, typer.Option(
        help="deepest NUTS tree during warm-up (default: 7, or max-tree-depth - 3 when deeper)")] = None,
    flops_per_param_token: Annotated[float, typer.Option(help="k in C = k N D")] = 6.0,
    sigma_scale: Annotated[float | None, typer.Option(
        help="scale of the HalfNormal prior on the residual sd (default: the law's noise_scale); raise it when the "
             "fit's PriorWarning says so")] = None,
    fallback: Annotated[bool, typer.Option(
        help="refit a fit that fails a check at target accept 0.99, and keep the refit")] = True,
    log_likelihood: Annotated[bool, typer.Option(
        help="keep each run's log-likelihood under every draw (most of a fit file on many runs); without it, "
             "compare, check and report compute it from the draws")] = True,
):
    """Fit a law to a table of runs with NUTS and save the fit atomically."""
    import bayescale as bs

    # `bayescale fit chinchilla runs.csv`, as bs.fit("chinchilla", runs) reads: the law is an option here
    extra = ctx.args
    if str(runs) in bs.laws() and not runs.exists():
        _fail(f"{runs!s} is a law, not a table of runs; the law is an option: "
              f"bayescale fit {extra[0] if extra else 'runs.csv'} --law {runs!s}")
    if extra:
        _fail(f"unexpected extra argument(s): {' '.join(extra)}; fit takes one table of runs")
    if out.is_dir():  # before fitting, which can take minutes
        _fail(f"--out {out} is a folder; give the fit file's name, e.g. --out {out / 'fit.nc'}")
    _output_file(out, "--out")
    fixed = _fixed_values(fix)
    table = _read_table(runs)
    try:
        result = bs.fit(law, table, groups=groups or None, pool=pool, pooling=pooling, likelihood=likelihood,
                        noise=noise, fixed=fixed,
                        num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples, seed=seed,
                        target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
                        warmup_tree_depth=warmup_tree_depth, flops_per_param_token=flops_per_param_token,
                        sigma_scale=sigma_scale, fallback=fallback, log_likelihood=log_likelihood)
    except (bs.RunTableError, KeyError, ValueError, TypeError) as exc:
        _table_failure(exc, table)
    try:
        result.save(out)
    except OSError as exc:
        _fail(f"cannot write the fit to {out}: {exc}")
    _print_fit(result)
    typer.echo(f"saved {out}")


@app.command()
def predict(
    fit_file: Annotated[Path, typer.Argument(help="fit file written by `bayescale fit`")],
    inputs: Annotated[Path | None, typer.Argument(help="CSV/Parquet of new inputs (one row per point)")] = None,
    at: Annotated[list[str] | None, typer.Option(help="one point as name=value pairs, e.g. --at n=7e10,d=1.4e12")]
    = None,
    kind: Annotated[str, typer.Option(help="observation | mean")] = "observation",
    quantiles: Annotated[str, typer.Option(help="comma-separated")] = "0.05,0.5,0.95",
    out: Annotated[Path | None, typer.Option(help="write the predictions to this CSV")] = None,
    seed: int = 0,
):
    """Posterior predictive quantiles of the target at new inputs."""
    import pandas as pd

    import bayescale as bs

    _output_file(out, "--out")
    result = _load_fit(fit_file)
    frames = []
    file_table = None
    if inputs is not None:
        file_table = _read_table(inputs)  # its rows keep their labels (lines of the file), which messages name
        frames.append(file_table)
    if at:
        points = _points(result, at)
        points.index = [f"--at {i + 1}" for i in range(len(points))]
        frames.append(points)
    if not frames:
        _fail(f"give new inputs: a CSV file or --at, with columns {list(result.law.inputs)}")
    try:
        try:
            qs = tuple(float(q) for q in quantiles.split(","))
        except ValueError:
            _fail(f"--quantiles {quantiles!r}: expected numbers between 0 and 1 separated by commas, "
                  "e.g. 0.05,0.5,0.95")
        new = frames[0] if len(frames) == 1 else pd.concat(frames)
        table = result.predict(new, quantiles=qs, kind=kind, seed=seed)
    except (bs.RunTableError, KeyError, ValueError) as exc:
        if result.groups and any(g in str(exc) for g in result.groups) and "missing" in str(exc):
            _fail(f"{str(exc).strip(chr(34))}\nthis fit is hierarchical: name the group of each new point, e.g. "
                  f"--at n=7e10,d=1.4e12,{result.groups[0]}=<label> (a label the fit has not seen predicts a new "
                  "group from the population), or add the column to the file")
        _table_failure(exc, file_table)
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        typer.echo(table.to_string(index=False))
    if out is not None:  # after the predictions are shown: a failed write loses nothing on screen
        _write_csv(table, out, index=False)


@app.command()
def summary(fit_file: Annotated[Path, typer.Argument(help="fit file written by `bayescale fit`")]):
    """Posterior summary and sampler diagnostics of a saved fit."""
    result = _load_fit(fit_file)
    typer.echo(repr(result))
    _print_fit(result)


@app.command()
def report(
    fit_file: Annotated[Path, typer.Argument(help="fit file written by `bayescale fit`")],
    out: Annotated[Path, typer.Option(help="folder for report.html, report.md and figures/")] = Path("report"),
    at: Annotated[list[str] | None, typer.Option(help="a point to predict at, e.g. --at n=7e10,d=1.4e12 "
                                                      "(adds the extrapolation check)")] = None,
    seed: int = 0,
):
    """Check a saved fit and write its report (self-contained HTML and a Markdown twin)."""
    _output_folder(out, "--out")
    result = _load_fit(fit_file)
    points = _points(result, at) if at else None
    try:
        files = result.report(out, at=points, seed=seed, progress_bar=True)
    except (ValueError, KeyError, OSError) as exc:
        _fail(str(exc).strip('"'))
    typer.echo(repr(files.report))
    typer.echo(f"wrote {files.html} and {files.markdown}")


def _points(result, specs: list[str]):
    """Rows of new inputs from ``--at name=value,...`` options."""
    import numpy as np
    import pandas as pd

    from bayescale.data import parse_size
    from bayescale.fit import _predictor_columns

    noise = [result.meta["noise"]] if result.meta.get("noise") else []  # a new run's known noise sd or items
    known = list(result.law.inputs) + list(result.groups) + _predictor_columns(result.config) + noise
    rows = []
    for spec in specs:
        point = {}
        for pair in spec.split(","):
            name, sep, value = (part.strip() for part in pair.partition("="))
            if not sep or not name:
                _fail(f"--at {spec!r}: expected name=value pairs separated by commas, e.g. n=7e10,d=1.4e12")
            if name in point:
                _fail(f"--at {spec!r} names {name!r} twice: one --at is one point; repeat --at for more points, "
                      "e.g. --at n=7e10,d=1.4e12 --at n=7e9,d=1.4e11")
            if name not in known:
                _fail(f"--at {spec!r} names {name!r}, which the fit does not use; its columns are {known}")
            point[name] = value
        for name in set(point) & set(result.law.inputs):  # once every name is read: `names 'd' twice` comes first
            number = parse_size(point[name])
            if not np.isfinite(number):
                _fail(f"--at {spec!r}: {name}={point[name]!r} is not a number; write it as 7e10 or as a size like "
                      "70B, 1.4T, 350M")
            point[name] = number
        rows.append(point)
    return pd.DataFrame(rows)


@app.command()
def compare(
    fit_files: Annotated[list[Path], typer.Argument(help="two or more fit files of different laws on the same runs")],
    out: Annotated[Path | None, typer.Option(help="write the comparison table to this CSV")] = None,
):
    """Compare saved fits by PSIS-LOO (elpd, se, differences, stacking weights)."""
    import pandas as pd

    import bayescale as bs

    _output_file(out, "--out")
    fits = {}
    for path in fit_files:
        result = _load_fit(path)
        name = path.stem if path.stem not in fits else str(path)
        fits[name] = result
    try:
        cmp = bs.compare(fits)
    except ValueError as exc:
        _fail(str(exc))
    if out is not None:
        _write_csv(cmp.table, out)
    with pd.option_context("display.width", 140):
        typer.echo(repr(cmp))


@app.command()
def backtest(
    runs: Annotated[Path, typer.Argument(help="CSV or Parquet table of runs")],
    law: Annotated[list[str] | None, typer.Option(help="law to backtest (repeat for several; default: chinchilla)")]
    = None,
    holdout: Annotated[list[float] | None, typer.Option(help="fraction of the runs to hold out, largest first "
                                                            "(repeat for a rolling backtest); this or --cut is "
                                                            "required")] = None,
    cut: Annotated[list[float] | None, typer.Option(help="cut value instead: train below, test at or above (repeat "
                                                        "for several); this or --holdout is required")]
    = None,
    by: Annotated[str, typer.Option(help="compute (c, or 6 n d) or an input column")] = "compute",
    fix: Annotated[list[str] | None, typer.Option(
        help="hold a law parameter at a value in every fit, Bayesian and Huber, as name=value (as for fit)")] = None,
    classical: Annotated[bool, typer.Option(help="also score the Huber point fit with bootstrap")] = True,
    out: Annotated[Path | None, typer.Option(help="folder for backtest.csv and predictions.csv")] = None,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    seed: int = 0,
    target_accept_prob: TargetAcceptProb = 0.9,
):
    """Fit on the runs below a cut, predict the larger ones, score Bayesian and Huber fits side by side."""
    import pandas as pd

    import bayescale as bs

    _output_folder(out, "--out")
    if bool(holdout) == bool(cut):
        _fail("give exactly one of --holdout (fractions of the runs to hold out, largest first) and --cut (values "
              "of --by to train below)")
    fixed = _fixed_values(fix)
    table = _read_table(runs)
    try:
        bt = bs.backtest(law or ["chinchilla"], table, holdout=holdout or None, cuts=cut or None, by=by,
                         classical=classical, seed=seed, num_warmup=num_warmup, num_samples=num_samples,
                         target_accept_prob=target_accept_prob, **({"fixed": fixed} if fixed else {}))
    except (bs.RunTableError, KeyError, ValueError, TypeError) as exc:
        _table_failure(exc, table)
    with pd.option_context("display.width", 160):
        typer.echo(repr(bt))
    if out is not None:  # after the results are shown: a failed write loses nothing on screen
        _make_folder(out)
        _write_csv(bt.table, out / "backtest.csv", index=False)
        _write_csv(bt.predictions, out / "predictions.csv", index=False)


@app.command()
def calibrate(
    law: Annotated[str, typer.Argument(help="registered law name (see `bayescale laws`)")] = "chinchilla",
    num_simulations: Annotated[int, typer.Option("--num-simulations", "-S", help="simulated data sets")] = 100,
    design: Annotated[Path | None, typer.Option(
        help="CSV or Parquet table of the simulated ladder's inputs (default: the law's default design)")] = None,
    likelihood: Annotated[str, typer.Option(help="student_t | normal | beta | binomial | beta_binomial")] = "student_t",
    noise: Annotated[str | None, typer.Option(
        help="the design's column of items per run, for --likelihood binomial | beta_binomial")] = None,
    num_chains: int = 1,
    num_warmup: int = 400,
    num_samples: int = 1000,
    target_accept_prob: TargetAcceptProb = 0.99,
    alpha: Annotated[float, typer.Option(help="family-wise level of the uniformity tests (Bonferroni)")] = 0.01,
    seed: int = 0,
    out: Annotated[Path | None, typer.Option(help="folder for ranks.csv, sbc_summary.csv and sbc_ranks.png")]
    = None,
):
    """Simulation-based calibration of a law's model and sampler; exit code 1 when a rank test fails."""
    import pandas as pd

    import bayescale as bs

    _output_folder(out, "--out")
    table = None if design is None else _read_table(design)
    try:
        result = bs.calibrate(law, num_simulations=num_simulations, design=table, likelihood=likelihood, noise=noise,
                              num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples,
                              target_accept_prob=target_accept_prob, alpha=alpha, seed=seed, progress_bar=True)
    except (KeyError, ValueError, TypeError) as exc:
        _table_failure(exc, table)
    with pd.option_context("display.width", 140, "display.float_format", "{:.3g}".format):
        typer.echo(result.summary().to_string())
    typer.echo(repr(result))
    if out is not None:
        _make_folder(out)
        _write_csv(result.ranks, out / "ranks.csv", index=False)
        _write_csv(result.summary(), out / "sbc_summary.csv", index_label="quantity")
        try:
            result.plot(out / "sbc_ranks.png")
        except OSError as exc:
            _fail(f"cannot write {out / 'sbc_ranks.png'}: {exc.strerror or exc}")
        typer.echo(f"wrote ranks.csv, sbc_summary.csv and sbc_ranks.png to {out}")
    if not result.passed:
        raise typer.Exit(code=1)


@app.command()
def laws():
    """List the registered laws."""
    import bayescale as bs

    for name in bs.laws():
        law = bs.get_law(name)
        typer.echo(f"{name:20s} ({', '.join(law.inputs)}) -> {law.target}   {law.formula}")


@app.command()
def cache(
    clear: Annotated[bool, typer.Option(help="delete the cached programs (each is compiled again when next needed)")]
    = False,
):
    """Where the persistent compilation cache is, what it holds and its limit; --clear empties it."""
    from bayescale import engine

    try:
        info = engine.clear_cache() if clear else engine.cache_info()
    except (ValueError, OSError) as exc:  # a bad BAYESCALE_JAX_CACHE_MAX_MB, an unreadable folder
        _fail(str(exc))
    if info["dir"] is None:
        typer.echo("persistent cache: off (BAYESCALE_JAX_CACHE=off)")
        return

    def mib(n):
        return f"{n / 2**20:.1f} MiB"

    def programs(n):
        return f"{n} program{'' if n == 1 else 's'}"

    total = info["xla_bytes"] + info["program_bytes"]
    typer.echo(f"persistent cache: {info['dir']} (set BAYESCALE_JAX_CACHE to move it, =off to switch it off)")
    typer.echo(f"  compiled code (JAX): {programs(info['xla_entries'])}, {mib(info['xla_bytes'])}")
    typer.echo(f"  traced programs (bayescale): {programs(info['program_entries'])}, {mib(info['program_bytes'])}")
    typer.echo(f"  in all {mib(total)} of at most {mib(info['max_bytes'])} (BAYESCALE_JAX_CACHE_MAX_MB; the least "
               f"recently used go first)")
    if clear:
        typer.echo(f"cleared: {mib(total)} freed")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("chinchilla_replication_out"),
    smoke: Annotated[bool, typer.Option(help="few draws, for tests (rough numbers)")] = False,
    seed: int = 0,
    data_dir: Annotated[Path | None, typer.Option(help="data directory (default: BAYESCALE_DATA_DIR / cache)")]
    = None,
):
    """Run the Chinchilla replication case study (simulated data, and says so, when no data is reachable)."""
    from bayescale.demo import run

    _output_folder(out, "--out")
    if data_dir is not None and not data_dir.is_dir():
        _fail(f"--data-dir {data_dir}: no such folder; give the folder that holds the data sets (e.g. "
              "<dir>/chinchilla_epoch/...), or leave --data-dir out to use BAYESCALE_DATA_DIR, the user cache "
              "or the download")
    try:
        run(out_dir=out, smoke=smoke, seed=seed, data_dir=data_dir)
    except OSError as exc:  # a folder that cannot be written or read, say: one line, not a traceback
        _fail(f"the demo stopped on a file error: {exc}")


@app.command()
def decide(
    fit_file: Annotated[Path, typer.Argument(help="fit file of a law in n and d, written by `bayescale fit`")],
    compute: Annotated[list[str], typer.Option(help="compute budget in FLOPs, e.g. 5.76e23 (repeat for several)")],
    objective: Annotated[str, typer.Option(help="expected | quantile | p_target")] = "expected",
    quantile: Annotated[float, typer.Option(help="the quantile of --objective quantile")] = 0.9,
    target: Annotated[float | None, typer.Option(help="target loss (needed by --objective p_target)")] = None,
    inference_tokens: Annotated[str, typer.Option(help="tokens served over the deployment, e.g. 2e12 or 2T")] = "0",
    group: Annotated[str | None, typer.Option(help="a fitted group (default: a new one)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the allocations to this CSV")] = None,
):
    """Choose model size and tokens for each compute budget: the Bayes choice beside the plug-in one."""
    import pandas as pd

    import bayescale as bs

    _output_file(out, "--out")
    compute = _budgets(compute)
    result = _load_fit(fit_file)
    tables = []
    try:
        for c in compute:
            a = bs.allocate(result, c, objective=objective, quantile=quantile, target=target,
                            inference_tokens=inference_tokens, group=group)
            tables.append(a.table.assign(compute=c, objective=objective))
    except (bs.RunTableError, KeyError, ValueError) as exc:
        _fail(str(exc).strip('"'))
    table = pd.concat(tables, ignore_index=True)
    front = ["compute", "objective", "allocation"]
    table = table[front + [c for c in table.columns if c not in front]]
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        typer.echo(table.to_string(index=False))
    if out is not None:
        _write_csv(table, out, index=False)
        typer.echo(f"wrote {out}")


@app.command("compare-at-scale")
def compare_at_scale(
    fits: Annotated[list[str], typer.Argument(help="NAME=FIT_FILE per configuration, or one hierarchical fit file "
                                                   "whose groups are the configurations")],
    compute: Annotated[list[str], typer.Option(help="compute budget in FLOPs, e.g. 5.76e23 (repeat for several)")],
    better: Annotated[str | None, typer.Option(help="lower | higher (default: lower for losses, errors and steps, "
                                                    "higher for accuracies and scores)")] = None,
    span: Annotated[tuple[float, float] | None, typer.Option(
        help="LOW HIGH compute (FLOPs) searched for crossings; default from the least fitted compute to 100x the "
             "largest budget")] = None,
    figure: Annotated[Path | None, typer.Option(help="write the curves and the P(best) strip to this PNG")] = None,
    out: Annotated[Path | None, typer.Option(help="write P(best) per compute and configuration to this CSV")] = None,
):
    """Which configuration is best at each compute, with probabilities, margins and the crossover compute."""
    import pandas as pd

    import bayescale as bs

    _output_file(out, "--out")
    _output_file(figure, "--figure", figure=True)
    compute = _budgets(compute)
    if len(fits) == 1 and "=" not in fits[0]:
        given = _load_fit(Path(fits[0]))
        if not given.groups:
            _fail(f"{fits[0]} is one fit without groups: give NAME=FIT_FILE for each configuration (two or more), or "
                  "one hierarchical fit file whose groups are the configurations")
    else:
        given = {}
        for spec in fits:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                _fail(f"expected NAME=FIT_FILE, got {spec!r}")
            if name in given:
                _fail(f"configuration {name!r} given twice; give each NAME=FIT_FILE a name of its own")
            given[name] = _load_fit(Path(path))
    try:  # it warns about fits that failed their sampler checks, whose draws the comparison inherits
        result = bs.compare_at_scale(given, compute, better=better, span=span)
    except (KeyError, ValueError, TypeError) as exc:
        _fail(str(exc).strip('"'))
    typer.echo(f"{result.target}: {result.better} is better; crossings searched from {result.span[0]:.3g} to "
               f"{result.span[1]:.3g} FLOPs\n")
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        typer.echo(result.table.to_string(index=False))
        typer.echo("\nmargins (first minus second configuration, signed so that positive favours the first):")
        typer.echo(result.pairwise.rename(columns={"a": "first", "b": "second", "p_a_better": "p_first_better"})
                   .to_string(index=False))
        typer.echo(f"\ncrossover (compute where the curves cross; quantiles when at least "
                   f"{bs.decide.MIN_CROSSING_DRAWS} draws cross):")
        typer.echo(result.crossover.rename(columns={"a": "first", "b": "second"}).to_string(index=False))
    if out is not None:
        _write_csv(result.table, out, index=False)
        typer.echo(f"wrote {out}")
    if figure is not None:
        from bayescale.plots import plot_compare_at_scale

        try:
            plot_compare_at_scale(result, path=figure)
        except OSError as exc:
            _fail(f"cannot write {figure}: {exc.strerror or exc}")
        typer.echo(f"wrote {figure}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``bayescale`` command (the console script): the Typer app, printing warnings as plain lines.

    Warnings (dropped duplicate runs, failed diagnostics, ...) read ``warning: <message> [<category>]`` instead of
    Python's default, which names a line of the CLI library and prints its source.

    Parameters
    ----------
    argv : sequence of str, optional
        The command's arguments (``["fit", "runs.csv", "--out", "fit.nc"]``); default ``sys.argv[1:]``.

    Raises
    ------
    SystemExit
        Always, as the Typer app does: code 0 on success, 2 on bad input, 1 when ``calibrate``'s rank test fails.
    """
    from bayescale._scripts import show_warning
    from bayescale.data import _NAMES_ROWS

    def show(message, category, *args, **kwargs):  # rows named in a warning: say how, as errors do
        text = _cli_words(str(message))
        if _ROWS and _NAMES_ROWS.search(text):
            text += f" ({_ROWS[-1]})"
        show_warning(text, category, *args, **kwargs)

    _ROWS.clear()
    with warnings.catch_warnings():  # restores the previous warnings.showwarning when the app exits
        warnings.showwarning = show
        app(args=None if argv is None else list(argv), prog_name="bayescale")


if __name__ == "__main__":  # pragma: no cover
    main()
