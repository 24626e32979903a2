"""Leave-the-future-out backtests: fit on the smaller runs, predict the larger ones, score both methods.

:func:`backtest` cuts the runs at a compute (or input) value, fits each law on the runs below the cut with NUTS and
with the literature's point fit (:mod:`bayescale.classical`: Huber on log residuals, L-BFGS from a grid of starts,
bootstrap), predicts the held-out runs at and above the cut, and scores every prediction the same way:

* **median absolute error** and **median relative error** of the predictive median;
* **CRPS** (continuous ranked probability score, from the predictive draws: ``E|X - y| - E|X - X'| / 2``), of the
  target on the likelihood's scale (log or logit; a Student-t predictive with few degrees of freedom has no finite
  mean on the target's own scale, so its CRPS there would be infinite); lower is better;
* **log score**: the mean log predictive density of the held-out values on the likelihood's scale, from a Gaussian
  kernel density estimate of each method's predictive draws (the same estimator for both methods); higher is
  better;
* **coverage** of the central 50% and 90% predictive intervals.

Several cuts in one call give a rolling backtest.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayescale.build import COUNT_LIKELIHOODS
from bayescale.data import RunTableError, _not_a_table, _numeric, _rows, validate_runs

__all__ = ["Backtest", "backtest", "score"]

METHODS = ("bayescale", "huber")


@dataclass(frozen=True, eq=False)
class Backtest:
    """The result of :func:`backtest`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (cut, law, method): ``cut, law, method, n_train, n_test, mae, mre, crps, log_score, cover50,
        cover90``.
    predictions : pandas.DataFrame
        One row per (cut, law, method, held-out run): ``run`` (its label in the table given), the run's inputs and
        group column(s), the observed target, ``q05, q25, q50, q75, q95``.
    by : str
        What the cut is on (``"compute"`` or an input column).
    fits : dict
        ``{(cut, law): Fit}`` of the Bayesian fits.
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    by: str
    fits: Mapping

    def __repr__(self) -> str:
        cols = ["cut", "law", "method", "n_train", "n_test", "mae", "mre", "crps", "log_score", "cover50", "cover90"]
        with pd.option_context("display.width", 160, "display.max_columns", 20,
                               "display.float_format", "{:.4g}".format):
            return f"Backtest on {self.by} ({len(self.table)} rows):\n{self.table[cols].to_string(index=False)}"


def score(draws: np.ndarray, y: np.ndarray, *, link: str = "log", scale: str = "target") -> dict[str, float]:
    """Score predictive draws against observed values (the scores are defined in the module docstring).

    Parameters
    ----------
    draws : numpy.ndarray
        Predictive draws, shape ``(draws, runs)``, on the scale ``scale``.
    y : numpy.ndarray
        The observed values, shape ``(runs,)``, always on the target's scale.
    link : str
        The likelihood's scale (:data:`bayescale.law.LINKS`), on which the CRPS and the log score are computed.
    scale : {"target", "link"}
        The scale of ``draws``. Pass link-scale draws when the predictive has heavy tails: there a draw far in the
        tail is finite, while its target value can be ``exp(-750) = 0``, which has no logarithm.

    Returns
    -------
    dict
        ``mae, mre, crps, log_score, cover50, cover90``.
    """
    from scipy.stats import gaussian_kde

    from bayescale.law import _check_scale, from_link, to_link

    _check_scale(scale)
    draws = np.asarray(draws, dtype=float)
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xd = draws if scale == "link" else to_link(link, draws)
        if scale == "link":
            draws = from_link(link, draws)
    bad = ~np.isfinite(xd)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        raise ValueError(f"{int(bad.sum())} predictive draw(s) of held-out point(s) {cols.tolist()[:10]} are not "
                         f"finite on the {link!r} scale (a target draw of 0 or inf, or a NaN), so CRPS and log score "
                         "are undefined; pass the draws on the likelihood's scale (scale='link', as from "
                         "bayescale.predict.predictive_draws(fit, runs, scale='link'))")
    q = np.quantile(draws, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    med = q[2]
    err = np.abs(med - y)
    # CRPS from samples: E|X - y| - 0.5 E|X - X'| (the second term by sorting: exact for the empirical distribution)
    xy = to_link(link, y)
    s = np.sort(xd, axis=0)
    m = s.shape[0]
    weights = (2 * np.arange(1, m + 1) - m - 1)[:, None]
    e_xx = 2 * np.sum(weights * s, axis=0) / (m * m)
    crps = np.mean(np.abs(xd - xy[None, :]), axis=0) - 0.5 * e_xx
    logs = []
    for j in range(draws.shape[1]):
        d, v = xd[:, j], xy[j]
        try:
            logs.append(float(np.log(max(gaussian_kde(d)(v)[0], 1e-300))))
        except np.linalg.LinAlgError:  # all draws equal
            logs.append(-np.inf)
    return {
        "mae": float(np.median(err)),
        "mre": float(np.median(err / np.abs(y))),
        "crps": float(np.mean(crps)),
        "log_score": float(np.mean(logs)),
        "cover50": float(np.mean((y >= q[1]) & (y <= q[3]))),
        "cover90": float(np.mean((y >= q[0]) & (y <= q[4]))),
    }


def _cut_column(runs: pd.DataFrame, by: str, k: float, targets: Sequence[str] = ()) -> np.ndarray:
    """Return the values the cuts split on (by position), each a finite number > 0, else raise naming the rows.

    ``k``: FLOPs per unit of ``n d`` (6 for raw counts), for ``by="compute"`` without a ``c`` column.
    """
    if by in targets:
        raise ValueError(f"by={by!r} is a law's target: a backtest splits on an input (compute, n, d), trains below "
                         "the cut and predicts the target above it")
    if by == "compute":
        cols = ["c"] if "c" in runs else ["n", "d"] if {"n", "d"} <= set(runs.columns) else None
        if cols is None:
            raise ValueError("by='compute' needs a 'c' column or 'n' and 'd' columns; or pass by=<an input column>")
    elif by not in runs:
        raise ValueError(f"by={by!r} is not a column of the runs (columns: {list(runs.columns)})")
    else:
        cols = [by]
    problems: list[str] = []
    parsed = {c: _numeric(runs[c], c, problems) for c in cols}
    for c, v in parsed.items():
        unparsed = v.isna() & runs[c].notna()  # reported by _numeric
        bad = ~unparsed & ~(np.isfinite(v) & (v > 0))
        if bad.any():
            problems.append(f"column {c!r}, which the cuts split on (by={by!r}), has {int(bad.sum())} missing, "
                            f"infinite or non-positive value(s) ({_rows(runs.index[bad])}); correct or drop those runs")
    if problems:
        raise RunTableError(problems)
    values = parsed[cols[0]].to_numpy(dtype=float)
    return values if len(cols) == 1 else k * values * parsed["d"].to_numpy(dtype=float)


def _check_settings(classical, n_boot, min_train, flops_per_param_token, progress_bar) -> None:
    """Check :func:`backtest`'s own settings before any fit (each one's error names it and the fix)."""
    from bayescale.data import _flag, _positive_number

    _flag(classical, "classical")
    _flag(progress_bar, "progress_bar", optional=True)
    if classical and (isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2):
        raise ValueError(f"n_boot must be an integer >= 2 (the bootstrap resamples of the Huber point fit, whose "
                         f"spread gives its predictive intervals), got {n_boot!r}; or pass classical=False to "
                         "backtest the Bayesian fits alone")
    if isinstance(min_train, bool) or not isinstance(min_train, (int, np.integer)) or min_train < 1:
        raise ValueError(f"min_train must be a positive integer (the fewest training runs a cut may leave), got "
                         f"{min_train!r}")
    _positive_number(flops_per_param_token, "flops_per_param_token",
                     " (FLOPs per parameter per token in C = k N D; 6 for a dense transformer)")


def _validated(runs: pd.DataFrame, laws: Sequence, groups, noise, k: float) -> pd.DataFrame:
    """Return the runs as every law's fit reads them: duplicates dropped, sizes written "350M" parsed.

    Rows keep the caller's labels where those are unique (else they are numbered by position).

    Problems raise :class:`RunTableError` naming the caller's row labels; each distinct :class:`DataWarning` of
    the checks is raised once.
    """
    import bayescale as bs

    def check(table):
        return [validate_runs(table, law, groups=groups, noise=noise, flops_per_param_token=k) for law in laws]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bs.DataWarning)
        check(runs)  # the caller's row labels in every message
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, bs.DataWarning)):
        warnings.warn(message, bs.DataWarning, stacklevel=3)
    for w in caught:  # anything else as it came
        if not issubclass(w.category, bs.DataWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    out = runs.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # said above
        tables = check(out)  # by position, which the caller's labels (maybe repeated) are not
    kept = np.ones(len(out), dtype=bool)
    for t in tables:  # a run dropped as a duplicate for one law is dropped for all
        kept &= out.index.isin(t.frame.index)
    for t in tables:  # the parsed numbers (a size written "350M" is 3.5e8 here, as in the fits)
        for col in t.frame.columns:
            if pd.api.types.is_float_dtype(t.frame[col]):
                out[col] = t.frame[col].reindex(out.index)
    out = out[kept]
    # the caller's row labels again where they name one run each (predictions say which run they are of)
    return out.set_axis(runs.index[kept]) if runs.index.is_unique else out.reset_index(drop=True)


def _cuts(values: np.ndarray, holdout, cuts) -> list[float]:
    if (holdout is None) == (cuts is None):
        raise ValueError("give either holdout= (fractions of the runs to hold out, largest first) or cuts= (values "
                         "of the cut column: train below, test at or above)")
    given, name = (cuts, "cuts") if cuts is not None else (holdout, "holdout")
    try:
        numbers = [float(x) for x in np.atleast_1d(given)]
    except (TypeError, ValueError):
        numbers = None
    if not numbers or not all(np.isfinite(numbers)):
        what = "fractions of the runs to hold out, e.g. holdout=0.2 or [0.2, 0.4]" if name == "holdout" else \
            "values of the cut column, e.g. cuts=1e21"
        raise ValueError(f"{name}= must be a number or a non-empty list of finite numbers ({what}), got {given!r}")
    if cuts is not None:
        out = numbers
    else:
        fracs = numbers
        bad = [f for f in fracs if not 0.0 < f < 1.0]
        if bad:
            raise ValueError(f"holdout fractions must lie strictly between 0 and 1, got {bad}")
        uniq = np.sort(values)
        out = [float(uniq[int(np.floor((1 - f) * len(uniq)))]) for f in fracs]
    return sorted(set(out), reverse=True)


def backtest(laws: str | Sequence[str] | object, runs: pd.DataFrame, *, holdout: float | Sequence[float] | None = None,
             cuts: float | Sequence[float] | None = None, by: str = "compute", classical: bool = True,
             n_boot: int = 100, flops_per_param_token: float = 6.0, seed: int = 0, min_train: int = 5,
             progress_bar: bool | None = None, **fit_kwargs) -> Backtest:
    """Fit each law on the runs below a cut and score its predictions of the runs at and above it.

    Parameters
    ----------
    laws : str, Law or sequence of them
    runs : pandas.DataFrame
        The runs, with every law's inputs and the target (and a ``c`` column for compute laws).
    holdout : float or sequence of float, optional
        Fraction(s) of the runs, largest ``by`` first, to hold out; several fractions are several cuts.
    cuts : float or sequence of float, optional
        Cut value(s) of ``by`` instead: train on ``by < cut``, test on ``by >= cut``.
    by : str
        ``"compute"`` (the ``c`` column, or ``k n d``) or an input column such as ``"n"``.
    classical : bool
        Also run the Huber point fit with bootstrap intervals on every cut.
    n_boot : int
        Bootstrap resamples of the point fit.
    flops_per_param_token : float
        ``k`` in ``C = k N D``.
    seed : int
    min_train : int
        Fewest training runs a cut must leave; cuts that leave fewer are refused with a message.
    progress_bar : bool, optional
        Show a bar over the (cut, law) fits, each with its point fit; default on when stderr is a terminal (not
        under ``CI``). The fits' own bars stay off.
    **fit_kwargs
        Passed to :func:`bayescale.fit` (``num_samples``, ``groups``, ...). ``fixed=`` (parameters held at a value)
        holds them in the Huber point fit too, so that both methods score the same model.

    Returns
    -------
    Backtest

    Examples
    --------
    >>> bt = bs.backtest(["chinchilla", "kaplan"], runs, holdout=[0.2, 0.4])  # doctest: +SKIP
    >>> bt.table  # doctest: +SKIP
    """
    import bayescale as bs
    from bayescale.classical import huber_fit
    from bayescale.fit import _bar, _default_progress
    from bayescale.law import get_law
    from bayescale.predict import predictive_draws

    laws = [get_law(x) for x in ([laws] if isinstance(laws, str) or not isinstance(laws, Sequence) else laws)]
    if not laws:
        raise ValueError("laws= is empty: name at least one law to backtest, e.g. 'chinchilla' or "
                         "['chinchilla', 'kaplan']")
    twice = sorted({law.name for law in laws if sum(other.name == law.name for other in laws) > 1})
    if twice:  # its fits and rows would share one name
        raise ValueError(f"laws= names {twice} more than once; give each law once")
    _check_settings(classical, n_boot, min_train, flops_per_param_token, progress_bar)
    scales = {(law.target, law.link) for law in laws}
    if len(scales) > 1:  # CRPS and log scores on different scales (or of different targets) do not compare
        raise ValueError("backtest compares laws of one target on one likelihood scale, so that their CRPS and log "
                         "scores are comparable; got " + ", ".join(f"{law.name} ({law.target!r} on the {law.link} "
                                                                   "scale)" for law in laws))
    if fit_kwargs.get("likelihood") in COUNT_LIKELIHOODS:
        raise ValueError(f"likelihood={fit_kwargs['likelihood']!r}: backtest scores predictions on the logit scale, "
                         "where a count of 0 or of every item has no value; backtest accuracies with "
                         "likelihood='student_t' (the default) or 'beta'")
    if not isinstance(runs, pd.DataFrame | Mapping):
        raise _not_a_table(runs)
    runs = pd.DataFrame(runs)
    if runs.empty:
        raise RunTableError(["the table has no runs; a backtest needs runs below and above its cuts"])
    # every run, held out or not, checked as bs.fit checks its runs, before any fit (held-out runs never reach bs.fit,
    # and a NaN target there would score NaN): problems are named by the caller's row labels, and what the checks
    # notice (sizes in billions, duplicate runs: DataWarning) is said once here, not again by each cut's fits
    runs = _validated(runs, laws, fit_kwargs.get("groups"), fit_kwargs.get("noise"), flops_per_param_token)
    # compute from n and d in the laws' units (FLOPs per unit product: 1 for raw counts); laws that disagree on
    # the units of n and d cannot share one table of runs
    scales = {law.flops(1.0, 1.0, 1.0) for law in laws if {"n", "d"} <= set(law.inputs)}
    if len(scales) > 1:
        raise ValueError("the laws declare n and d in different units (Law.unit_scale), so one table of runs cannot "
                         "hold them for all: backtest them apart")
    values = _cut_column(runs, by, flops_per_param_token * (scales.pop() if scales else 1.0),
                         [law.target for law in laws])
    cut_values = _cuts(values, holdout, cuts)
    fit_kwargs["progress_bar"] = False
    for cut in cut_values:  # every cut checked before the first fit
        n_train, n_test = int(np.sum(values < cut)), int(np.sum(values >= cut))
        if n_train < min_train or n_test == 0:
            raise ValueError(f"cut {by} = {cut:.4g} leaves {n_train} training and {n_test} held-out runs; each "
                             f"cut needs at least {min_train} training runs and one held-out run")
    rows, preds, fits = [], [], {}
    bar = _bar(len(cut_values) * len(laws), _default_progress() if progress_bar is None else progress_bar,
               desc="backtest fits")
    for cut in cut_values:
        train, test = runs[values < cut], runs[values >= cut]
        for law in laws:
            bar.set_postfix_str(f"{by} < {cut:.3g}, {law.name}")
            y = test[law.target].to_numpy(dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bs.DataWarning)
                fit = bs.fit(law, train, seed=seed, flops_per_param_token=flops_per_param_token, **fit_kwargs)
                # on the likelihood's scale: a Student-t draw far in the tail is finite there, 0 or inf as a loss
                _, link_draws, _ = predictive_draws(fit, test, seed=seed, scale="link")
            fits[(cut, law.name)] = fit
            methods = {"bayescale": link_draws}
            if classical:
                point = huber_fit(law, train, n_boot=n_boot, seed=seed, fixed=fit_kwargs.get("fixed"))
                methods["huber"] = point.predictive_draws(test, seed=seed, scale="link")
            for method, xd in methods.items():
                rows.append({"cut": cut, "law": law.name, "method": method, "n_train": len(train),
                             "n_test": len(test), **score(xd, y, link=law.link, scale="link")})
                with np.errstate(over="ignore", under="ignore"):
                    d = law.from_link(xd)
                q = np.quantile(d, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
                # the run each prediction is of: the law's inputs, its group(s) and the run's label in the table
                keep = list(law.inputs) + [g for g in fit.groups if g not in law.inputs]
                frame = test[keep].copy()
                frame.insert(0, "run", test.index)
                frame.insert(0, "method", method)
                frame.insert(0, "law", law.name)
                frame.insert(0, "cut", cut)
                frame[law.target] = y
                for name, v in zip(("q05", "q25", "q50", "q75", "q95"), q, strict=True):
                    frame[name] = v
                preds.append(frame)
            bar.update()
    bar.close()
    return Backtest(table=pd.DataFrame(rows), predictions=pd.concat(preds, ignore_index=True), by=by, fits=fits)
