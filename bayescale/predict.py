"""Posterior prediction and compute-optimal allocation from a :class:`~bayescale.Fit`.

Prediction re-uses the fitted model function (one model serves fit and predict) through
:class:`numpyro.infer.Predictive`; allocation evaluates the law over posterior draws.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpyro import handlers

from bayescale.build import COUNT_LIKELIHOODS, DOMAIN_SITE, build_model, from_site, group_key, obs_site
from bayescale.data import (
    _FLOPS_HINT,
    _PACKAGE_DIRS,
    SIZE_FLOOR,
    DataWarning,
    RunTable,
    RunTableError,
    _budgets,
    _mapping_frame,
    _positive_number,
    _rows,
    _warn_compute_units,
    validate_runs,
)
from bayescale.fit import Fit, _model_data, _pct, _predictor_columns, _resolve_seed
from bayescale.law import _check_scale
from bayescale.posterior import _curve, _model, _posterior_predictive

__all__ = ["predict", "predictive_draws", "parameter_draws", "optimal_allocation", "typical_noise"]

_KINDS = ("observation", "mean")


def _qcols(quantiles: Sequence[float]) -> list[str]:
    return [f"q{_pct(q)}" for q in quantiles]


def _quantiles(values, quantiles: Sequence[float], prefix: str = "", *, discrete: bool = False
               ) -> dict[str, np.ndarray]:
    """``{prefix + "q05": ..., ...}``: the quantiles of ``values`` along its first axis (the draws).

    One :func:`numpy.quantile` call for all of them: NumPy then partitions each column once (for 4,000 draws x
    1,000 points, 0.19 s against 0.48 s for three calls). ``discrete``: each quantile is one of the draws (the
    inverse of their empirical CDF), not a value between two, as a count's score of whole answers needs.
    """
    values = np.asarray(values)
    method = "inverted_cdf" if discrete else "linear"
    return {prefix + col: v for col, v in zip(_qcols(quantiles),
                                              np.quantile(values, list(quantiles), axis=0, method=method),
                                              strict=True)}


def _mean(values, what: str = "the target") -> np.ndarray:
    """Per point, the mean of predictive draws ``(draws, points)``, with a warning where the mean says nothing.

    Under Student-t noise on the log scale a new run's loss, ``exp`` of a heavy-tailed draw, has no finite mean, and
    with few degrees of freedom the sample mean follows a handful of far-tail draws: for the Chinchilla law fitted
    to Muennighoff et al.'s 229 runs (2026-12-02) the median point's mean was 2.9e7, and some were ``inf``, for
    losses of 2-10. Where the mean is not finite, or lies above (or below) 99% of a point's draws, this warns
    once, naming how many points and where to look instead.
    """
    values = np.asarray(values)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = values.mean(axis=0)
        above = (values < mean).mean(axis=0) > 0.99
        below = (values > mean).mean(axis=0) > 0.99
    wild = ~np.isfinite(mean) | above | below
    if wild.any():
        warnings.warn(f"the predictive mean of {what} at {int(wild.sum())} of {wild.size} point(s) is not finite or "
                      "lies beyond 99% of that point's draws: the likelihood's noise has heavy tails (a Student-t "
                      "with few degrees of freedom), so a new observation has no useful mean on this scale; read "
                      "the median (q50) and the intervals, or predict the curve (kind='mean')",
                      skip_file_prefixes=_PACKAGE_DIRS)
    return mean


def _check_quantiles(quantiles: Sequence[float]) -> list[float]:
    msg = f"quantiles must be a sequence of numbers strictly between 0 and 1, e.g. (0.05, 0.5, 0.95); got {quantiles!r}"
    if isinstance(quantiles, (str, bytes)) or not np.iterable(quantiles):
        raise ValueError(msg)
    try:
        qs = [float(q) for q in quantiles]
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if not qs or any(not 0.0 < q < 1.0 for q in qs):
        raise ValueError(msg)
    names = _qcols(qs)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        same = [q for q, n in zip(qs, names, strict=True) if n == twice[0]]
        raise ValueError(f"quantiles {', '.join(f'{q:.10g}' for q in same)} would share the column {twice[0]!r}: "
                         "give each quantile once, differing within 6 significant digits of its percent")
    return qs


def _near_miss(label: str, levels: Sequence[str]) -> str | None:
    """Return the fitted level that ``label`` likely meant (another case or spacing, ``1`` for ``1.0``), or None.

    Not spelling: short labels that differ by one letter (``A | D`` and ``B | D``) are usually different groups.
    """
    for level in levels:
        if label.strip().casefold() == level.strip().casefold():
            return level
        try:
            if float(label) == float(level):
                return level
        except ValueError:
            pass
    return None


#: A prediction input this many times beyond the fitted runs' range (either way) is more likely in other units than
#: an extrapolation anyone means: the trust check calls 100x beyond the data a problem (``bayescale.check.CHECKS``).
UNITS_RATIO = 1e6


def _warn_far_outside(fit: Fit, frame: pd.DataFrame) -> None:
    """Warn about size inputs that look like other units than the fit's.

    Over ``UNITS_RATIO`` times beyond the fitted runs' range, or below the floor of a run's size (``SIZE_FLOOR``)
    where every fitted run is above it (``70`` for 70 billion).
    """
    cd = fit.tree.constant_data
    for x in (x for x in fit.law.inputs if fit.law.is_size_input(x) and x in cd):
        lo, hi = float(cd[x].min()), float(cd[x].max())
        v = frame[x].to_numpy(dtype=float)
        floor = SIZE_FLOOR / fit.law.unit_scale(x)  # a law may declare its sizes in millions, billions...
        tiny = (v < floor) & (lo >= floor)
        far = (v > hi * UNITS_RATIO) | (v < lo / UNITS_RATIO) | tiny
        if far.any():
            why = (f"more than {UNITS_RATIO:g}x outside" if not tiny.any() else
                   f"below {floor:g} or more than {UNITS_RATIO:g}x outside")
            units = ("raw counts, not millions or billions" if fit.law.unit_scale(x) == 1 else
                     f"{fit.law.inputs[x]}, as law {fit.law.name!r} declares")
            warnings.warn(f"column {x!r} has {int(far.sum())} value(s) ({_rows(frame.index[far])}) {why} the fitted "
                          f"runs' range ({lo:.3g} to {hi:.3g}); check that they are in the fit's units ({units})",
                          DataWarning, skip_file_prefixes=_PACKAGE_DIRS)


#: The share of posterior draws outside a law's :attr:`~bayescale.Law.domain` at a point above which a prediction
#: there warns.
DOMAIN_SHARE = 0.05


def _warn_outside_domain(law, inside: np.ndarray, index, where: str = "") -> None:
    """Warn about points where over :data:`DOMAIN_SHARE` of the draws (rows of ``inside``) leave the law's domain."""
    share = 1.0 - np.mean(np.asarray(inside, dtype=bool), axis=0)
    bad = share > DOMAIN_SHARE
    if bad.any():
        what = ((law.domain.__doc__ or "").strip().splitlines() or ["its inputs are in its domain"])[0].rstrip(".")
        warnings.warn(f"{where}law {law.name!r} holds as written where {what}: over {DOMAIN_SHARE:.0%} of the "
                      f"posterior draws fall outside that at {int(bad.sum())} point(s) ({_rows(index[bad])}; up to "
                      f"{share.max():.0%} of them), so the prediction there extrapolates past what the law says",
                      DataWarning, skip_file_prefixes=_PACKAGE_DIRS)


def _warn_new_groups(fit: Fit, new: Sequence[str]) -> None:
    """Warn about unseen group labels that look like a fitted group's, since they are predicted as new groups.

    And about new groups at all where some parameters are independent per group: those have no population level,
    so a new group's values of them are their prior's, which the runs never narrowed.
    """
    alone = [q for q, mode in fit.config.pool.items() if mode == "independent" and q not in fit.config.fixed]
    if new and alone:
        shown = [label for label in new if label != "(new)"][:8] or list(new)[:1]
        warnings.warn(f"new group(s) {shown}: {alone} are independent per group (pool='independent'), with no "
                      "population level, so their values for a group the fit has not seen come from the prior and "
                      "its predictions are as wide as the prior; partially pool them (pool={...: 'partial'}) to "
                      "predict new groups from the population", DataWarning, skip_file_prefixes=_PACKAGE_DIRS)
    misses = {label: m for label in new if label != "(new)" and (m := _near_miss(label, fit.levels)) is not None}
    if misses:
        pairs = ", ".join(f"{label!r} (did you mean {m!r}?)" for label, m in list(misses.items())[:8])
        warnings.warn(f"group label(s) {pairs} are not in the fit, so they are predicted as new groups drawn from "
                      f"the population; the fit's groups of {list(fit.groups)} are {list(fit.levels)[:12]}",
                      DataWarning, skip_file_prefixes=_PACKAGE_DIRS)


def _fitted_groups(fit: Fit, new_runs):
    """``new_runs`` read against the fit's groups: labels and group predictors as the fit has them.

    A group column of floats (as a column of integers becomes when a merge brings a NaN) holding ``10.0`` where the
    fit's label is ``10`` names that group, not a new one. And the group-predictor columns a table lacks are filled
    in when every row is of a fitted group: its parameters are its own posterior, so its predictors are the values
    it was fitted with; a new group's must be given (the table's check then names the missing column).
    """
    if not fit.groups or not isinstance(new_runs, (pd.DataFrame, Mapping)):
        return new_runs
    frame = new_runs if isinstance(new_runs, pd.DataFrame) else _mapping_frame(new_runs, "the table of new inputs")
    parts = [level.split(" | ") if len(fit.groups) > 1 else [level] for level in fit.levels]
    for j, g in enumerate(fit.groups):
        col = frame[g] if g in frame.columns else None
        if isinstance(getattr(col, "dtype", None), pd.CategoricalDtype) and \
                pd.api.types.is_float_dtype(col.cat.categories):
            col = col.astype(float)  # a categorical of floats reads as its floats
        if col is not None and pd.api.types.is_float_dtype(col):
            known = {p[j] for p in parts}
            whole = {v: str(int(v)) for v in col.dropna().unique()
                     if np.isfinite(v) and float(v).is_integer() and str(v) not in known and str(int(v)) in known}
            if whole:
                frame = frame.assign(**{g: col.astype(object).map(lambda v, w=whole: w.get(v, v))})
    columns = _predictor_columns(fit.config)
    lacking = [c for c in columns if c not in frame.columns]
    if not lacking or any(g not in frame.columns for g in fit.groups) or frame.empty:
        return frame
    key = group_key(frame, fit.groups)
    fitted = _fitted_group_values(fit, lacking)
    if not key.isin(fitted.index).all():
        return frame
    return frame.assign(**{c: fitted[c].reindex(key).to_numpy() for c in lacking})


def _fitted_group_values(fit: Fit, columns: Sequence[str]) -> pd.DataFrame:
    """Each fitted group's values of ``columns`` (constant within a group), indexed by its label."""
    fitted = fit.runs()
    return fitted.groupby(group_key(fitted, fit.groups), sort=False)[list(columns)].first()


def _check_group_predictors(fit: Fit, frame: pd.DataFrame) -> None:
    """Refuse group-predictor values that the prediction would ignore.

    A group's predictors enter through its first row, so a value that varies within a group of ``frame`` would be
    dropped after the first; and a fitted group's parameters are its own posterior, so a value other than the one
    it was fitted with would change nothing.
    """
    columns = _predictor_columns(fit.config)
    if not columns or not fit.groups:
        return
    key = group_key(frame, fit.groups)
    fitted = _fitted_group_values(fit, columns)
    for col in columns:
        varying = frame.groupby(key, sort=False)[col].nunique()
        if (varying > 1).any():
            label = varying.index[varying > 1][0]
            rows = _rows(frame.index[key == label])
            raise ValueError(f"group predictor {col!r} varies within group {label!r} ({rows}): a group-level "
                             "predictor takes one value per group; give each group one value")
        known = fitted[col]
        seen = key.isin(known.index)
        given = frame.loc[seen, col].to_numpy(np.float64)
        expected = known.reindex(key[seen]).to_numpy(np.float64)
        off = ~np.isclose(given, expected, rtol=1e-9, atol=0.0)
        if off.any():
            rows = frame.index[seen][off]
            label = key[seen][off].iloc[0]
            raise ValueError(f"group predictor {col!r} is {given[off][0]:g} for fitted group {label!r} "
                             f"({_rows(rows)}), which was fitted with {col}={expected[off][0]:g}: a fitted group's "
                             "parameters are its own posterior, so another value would be ignored; give the fitted "
                             "value, or a new group label to predict a group with these predictors from the population")


def _sample_sites(model, data) -> list[str]:
    """Names of the latent sample sites of ``model(data)``, from an abstract trace (nothing compiled or run).

    Running the model on the data compiled each of its operations for the data's shapes, one small XLA program
    each.
    """
    names: list[str] = []

    def sites(d):
        tr = handlers.trace(handlers.seed(model, 0)).get_trace(d)
        names.extend(k for k, s in tr.items() if s["type"] == "sample" and not s.get("is_observed", False))

    jax.eval_shape(sites, data)
    return names


def predict(fit: Fit, new_runs, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), kind: str = "observation",
            seed: int = 0) -> pd.DataFrame:
    """Posterior predictive quantiles of the law's target at new inputs.

    Parameters
    ----------
    fit : Fit
    new_runs : pandas.DataFrame or mapping of columns
        The law's inputs (and the fit's group columns); a mapping of single values is one point
        (``{"n": 7e10, "d": 1.4e12}``), and sizes may be written ``"70B"``. A group the fit has not seen gets
        parameters drawn from the population level (partially pooled parameters) or the prior (independent ones).
    quantiles : sequence of float
        Quantiles to report; columns are named ``q05``, ``q50``, ``q95``, ...
    kind : {"observation", "mean"}
        ``"observation"`` includes run-to-run noise (a new run's loss); ``"mean"`` is the law's curve. For a fit
        with known per-run noise (``bs.fit(..., noise="sd")``) a new run's noise sd is read from that column of
        ``new_runs`` when it has one, and is otherwise the median of the fitted runs' (:func:`typical_noise`);
        it adds to the fitted ``sigma`` in quadrature, as in the fit. For a count likelihood (``"binomial"``,
        ``"beta_binomial"``) that column is a new run's number of items, and an observation is its score: a whole
        number of correct answers out of them.
    seed : int or None
        Seed for the predictive draws (None: a fresh one).

    Returns
    -------
    pandas.DataFrame
        The inputs (and groups), ``mean`` and one column per quantile, with ``new_runs``'s index. Under a
        Student-t likelihood on the log scale (the default for losses) a new run's loss, ``exp`` of a heavy-tailed
        draw, has no finite mean in theory, so with ``kind="observation"`` the ``mean`` column is driven by the few
        largest draws; read the median (``q50``), or ``kind="mean"`` for the curve.

    Examples
    --------
    >>> import pandas as pd
    >>> fit.predict(pd.DataFrame({"n": [7e10], "d": [1.4e12]}), quantiles=(0.05, 0.95))  # doctest: +SKIP
    """
    qs = _check_quantiles(quantiles)
    table, values, new = predictive_draws(fit, new_runs, kind=kind, seed=seed)
    discrete = kind == "observation" and fit.config.likelihood in COUNT_LIKELIHOODS  # whole answers of the items
    return _quantile_frame(fit, table, values, qs, new, discrete=discrete)


def predictive_draws(fit: Fit, new_runs, *, kind: str = "observation", seed: int = 0, scale: str = "target"):
    """Posterior predictive draws of the target at new inputs, on the target's scale or the likelihood's.

    Parameters
    ----------
    fit : Fit
    new_runs : pandas.DataFrame or mapping of columns
        The law's inputs (and the fit's group columns), as for :func:`predict`.
    kind : {"observation", "mean"}
        ``"observation"`` includes run-to-run noise; ``"mean"`` is the law's curve.
    seed : int or None
        Seed for the predictive draws (None: a fresh one).
    scale : {"target", "link"}
        ``"link"`` returns the draws on the likelihood's scale (the log of a loss), where a heavy-tailed draw stays
        finite; on the target's scale a Student-t draw 750 log units below the curve is ``exp(-750) = 0``.

    Returns
    -------
    tuple
        The validated table of inputs, the draws (shape ``(draws, points)``) and the group levels the fit has not
        seen.
    """
    seed = _resolve_seed(seed)
    if kind not in _KINDS:
        raise ValueError(f"kind={kind!r} is not one of {_KINDS}")
    _check_scale(scale)
    law = fit.law
    noise = fit.meta.get("noise")
    given = noise is not None and hasattr(new_runs, "keys") and noise in new_runs.keys()
    counts = fit.config.likelihood in COUNT_LIKELIHOODS
    table = validate_runs(_fitted_groups(fit, new_runs), law, groups=fit.groups, require_target=False,
                          noise=noise if given else None, keep=_predictor_columns(fit.config), counts=counts)
    if noise is not None and not given:  # a new run's known noise: the fitted runs' typical one
        table = dataclasses.replace(table, frame=table.frame.assign(**{noise: typical_noise(fit)}), noise=noise)
    _warn_far_outside(fit, table.frame)
    _check_group_predictors(fit, table.frame)
    model = _model(fit)
    with jax.enable_x64(True):
        data, _, new = _model_data(_padded(table), fit.meta["log_x0"], levels=fit.levels, with_target=False,
                                   config=fit.config)
        _warn_new_groups(fit, new)
        returned = "mu" if kind == "mean" else obs_site(law)
        if kind == "mean":  # the curve alone: skip drawing the noise (one such model per model: compiled once)
            model = _curve(model, [obs_site(law)])
        sites = set(_sample_sites(model, data))
        draws = {k: jnp.asarray(v) for k, v in fit.draws([v for v in fit.tree.posterior.data_vars
                                                           if v in sites]).items()}
        wanted = (returned,) + ((DOMAIN_SITE,) if law.domain is not None else ())
        out = _posterior_predictive(model, wanted)(jax.random.PRNGKey(seed), data, draws)
        values = np.asarray(out[returned])[:, :len(table)]
        if law.domain is not None:
            _warn_outside_domain(law, np.asarray(out[DOMAIN_SITE])[:, :len(table)], table.frame.index)
    if scale == "link":
        return table, values, new
    if kind == "mean":
        return table, law.from_link(values), new
    items = None if noise is None else table.frame[noise].to_numpy(dtype=np.float64)[None, :]
    return table, from_site(law, fit.config.likelihood, values, items), new  # counts: whole answers of the items


def typical_noise(fit: Fit) -> float:
    """Return the median known noise sd of the fitted runs: a new run's, when a prediction is not given one.

    Parameters
    ----------
    fit : Fit
        A fit made with ``noise=`` (a column of known per-run noise sd on the likelihood's scale, or of items for
        a count likelihood).

    Returns
    -------
    float
        The median of that column over the fitted runs (rounded to a whole number of items for a count likelihood).

    Raises
    ------
    ValueError
        When the fit has no known per-run noise.
    """
    noise = fit.meta.get("noise")
    if noise is None:
        raise ValueError("this fit has no known per-run noise (it was not fitted with noise=)")
    typical = float(np.median(fit.runs()[noise].to_numpy(dtype=float)))
    return float(np.round(typical)) if fit.config.likelihood in COUNT_LIKELIHOODS else typical


def _padded(table: RunTable) -> RunTable:
    """``table`` with its last row repeated up to a power of two of its length (at least 16 rows).

    :class:`~numpyro.infer.Predictive` compiles the model's draws for each shape it is given (under a Student-t
    likelihood, its noise's rejection loop too). Unpadded, every query with a new number of points paid it again
    (``docs/speed.md``, "Queries of new sizes": together with the abstract trace of :func:`_sample_sites`, ten
    queries of 1-100 points took 11.4-12.8 s in a new process against 31.0-32.9 s). The padding rows are dropped
    from the draws. Coarser than :func:`bayescale.engine.bucket`'s quarter steps (which
    keep every size up to 8 apart), since a padding row of a query costs little next to a compile.
    """
    n = len(table)
    size = max(16, 1 << (n - 1).bit_length())
    if n == 0 or size == n:
        return table
    return dataclasses.replace(table, frame=pd.concat([table.frame, table.frame.iloc[[n - 1] * (size - n)]]))


def _without_noise(model, sites: Sequence[str]):
    """``model`` with its observation ``sites`` set to zeros, so that predicting the curve draws no noise.

    Predicting the curve at 4,000 draws x 1,000 points took 5.0-5.2 s with the noise drawn (then by NumPyro's
    gamma variate) and discarded, 0.31-0.35 s without (2026-12-02).
    """
    return handlers.substitute(model, substitute_fn=partial(_zeros_at, frozenset(sites)))


def _zeros_at(sites: frozenset, msg: dict):
    if msg["name"] in sites:
        return jnp.zeros(msg["fn"].shape(msg["kwargs"].get("sample_shape", ())))
    return None


def parameter_draws(fit: Fit, groups, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Posterior draws of every law parameter for each row of ``groups``, seen in fitting or not.

    A group the fit has not seen takes its partially pooled parameters from the population, moved by its own
    group-level predictors when the fit has some (its columns must then be in ``groups``), and its independent ones
    from the prior.

    Parameters
    ----------
    fit : Fit
    groups : pandas.DataFrame or mapping of columns
        The fit's group columns (and group-predictor columns); the law's inputs are not needed. A table of fitted
        groups only may leave the predictor columns out: their fitted values are used (other values are refused,
        since a fitted group's parameters are its own posterior).
    seed : int or None
        None: a fresh one.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{parameter: (draws, rows)}``.
    """
    from numpyro.infer import Predictive

    seed = _resolve_seed(seed)
    law = fit.law
    what = "the table of groups"
    if isinstance(groups, pd.DataFrame):
        frame = groups.copy()
    elif isinstance(groups, pd.Series) and groups.name is not None:  # one group column, as pd.DataFrame took it
        frame = groups.to_frame()
    elif isinstance(groups, Mapping):  # as predict takes it: columns, or single values as one row
        frame = _mapping_frame(groups, what)
    else:
        example = f"{{{fit.groups[0]!r}: [...]}}" if fit.groups else "{}"
        raise TypeError(f"groups must be a DataFrame or a mapping of the fit's group columns {list(fit.groups)} "
                        f"(and group-predictor columns) to values, e.g. {example}; got {type(groups).__name__}")
    frame = _fitted_groups(fit, frame)
    missing = [c for c in [*fit.groups, *_predictor_columns(fit.config)] if c not in frame.columns]
    if missing:  # said before the inputs' placeholders join the table, which would list them as its columns
        raise RunTableError([f"column(s) {missing} are missing (the fit's group columns {list(fit.groups)}, and the "
                             f"group-predictor values of a new group); the table has columns {list(frame.columns)}"],
                            what)
    placeholders = [x for x in law.inputs if x not in frame]
    for x in placeholders:
        frame[x] = float(law.example.get(x, 1.0))  # placeholder: parameters do not depend on the inputs
    with warnings.catch_warnings():
        for x in placeholders:  # the placeholders' units are not the user's to fix
            warnings.filterwarnings("ignore", message=f"column '{x}'", category=DataWarning)
        table = validate_runs(frame, law, groups=fit.groups, require_target=False,
                              keep=_predictor_columns(fit.config))
    _check_group_predictors(fit, table.frame)
    model = build_model(law, fit.config)
    post = fit.draws([p for p in law.params])
    with jax.enable_x64(True):
        data, _, new = _model_data(table, fit.meta["log_x0"], levels=fit.levels, with_target=False,
                                   config=fit.config)
        _warn_new_groups(fit, new)
        sites = set(_sample_sites(model, data))
        draws = {k: jnp.asarray(v) for k, v in fit.draws([v for v in fit.tree.posterior.data_vars
                                                           if v in sites]).items()}
        wanted = [f"{p}_new_value" for p in law.params if fit.config.pool[p] != "shared"] if new else []
        out = Predictive(model, posterior_samples=draws, return_sites=wanted)(jax.random.PRNGKey(seed), data) \
            if wanted else {}
    codes = data.group
    result = {}
    for p in law.params:
        v = post[p]
        if v.ndim == 1:
            result[p] = np.repeat(v[:, None], len(table.frame), axis=1)
            continue
        if new:
            v = np.concatenate([v, np.asarray(out[f"{p}_new_value"])], axis=1)
        result[p] = v[:, codes]
    return result


def _quantile_frame(fit: Fit, table, values: np.ndarray, qs: Sequence[float], new=(), *,
                    discrete: bool = False) -> pd.DataFrame:
    result = table.frame[list(fit.law.inputs) + list(fit.groups)].copy()
    result["mean"] = _mean(values, fit.law.target)
    for col, v in _quantiles(values, qs, discrete=discrete).items():
        result[col] = v
    if new:
        result.attrs["new_groups"] = list(new)
    return result


def _group_params(fit: Fit, group: str | None) -> dict[str, np.ndarray]:
    """Per-draw law parameters for one group (or the population when the fit has no groups)."""
    grouped = [p for p in fit.law.params if fit.config.pool[p] != "shared"]
    if grouped and group is None:
        raise ValueError(
            f"parameters {grouped} vary by group: pass group= one of {list(fit.levels)[:10]}"
        )
    if group is not None and not fit.groups:
        raise ValueError(f"group={group!r} was given, but the fit has no groups: leave group= out")
    if group is not None and not isinstance(group, str) and str(group) in fit.levels:
        group = str(group)  # the fit keeps group labels as text (an integer column's 0 is the level '0')
    if group is not None and group not in fit.levels:
        raise ValueError(f"group {group!r} is not in the fit; its groups are {list(fit.levels)[:10]}")
    draws = fit.draws(list(fit.law.params))
    out = {}
    for p, v in draws.items():
        out[p] = v[:, fit.levels.index(group)] if v.ndim == 2 else v
    return out


def optimal_allocation(fit: Fit, c, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), group: str | None = None,
                       flops_per_param_token: float = 6.0, fixed: Mapping[str, float] | None = None,
                       grid_size: int = 801) -> pd.DataFrame:
    """Posterior of the compute-optimal model size N*, tokens D* and loss L* at compute budgets C = k N D.

    Uses the law's closed form when its spec has one (Chinchilla, Hoffmann et al. 2022 Eq. 4), otherwise
    minimises the law along each iso-FLOP line for every posterior draw (a log-spaced grid over every split of the
    budget, from one parameter to one token, searched again between each draw's best point's neighbours, then
    refined by a parabola through the three best points).

    Parameters
    ----------
    fit : Fit
        A fit of a law with inputs ``n`` and ``d`` (other inputs must be given in ``fixed``).
    c : float or sequence of float
        Compute budgets in FLOPs.
    quantiles : sequence of float
    group : str, optional
        Group level, required when law parameters vary by group.
    flops_per_param_token : float
        ``k`` in ``C = k N D`` (6 by default; e.g. 8 to count the backward pass of attention differently), with
        ``N`` and ``D`` in raw counts: for a law that declares them in millions or billions
        (:meth:`~bayescale.Law.unit_scale`), ``n_opt`` and ``d_opt`` come in the law's units and the budget stays
        in FLOPs.
    fixed : mapping, optional
        Values of the law's other inputs (e.g. ``{"u": 1e11}`` unique tokens for the data-constrained law).
    grid_size : int
        Points of the numeric search.

    Returns
    -------
    pandas.DataFrame
        One row per (budget, quantity) with quantity ``n_opt``, ``d_opt``, ``loss_opt``, ``tokens_per_param`` (raw
        tokens per raw parameter whatever the law's units);
        columns ``c, quantity, mean`` and the quantiles.
    """
    law = fit.law
    if not {"n", "d"} <= set(law.inputs):
        raise ValueError(f"law {law.name!r} has no (n, d) inputs, so it has no compute-optimal frontier")
    fixed = dict(fixed or {})
    others = set(law.inputs) - {"n", "d"} - set(fixed)
    if others:
        raise ValueError(f"law {law.name!r} also needs {sorted(others)}: pass fixed={{...}}")
    qs = _check_quantiles(quantiles)
    budgets = _budgets(c, "c")
    k = _positive_number(flops_per_param_token, "flops_per_param_token", _FLOPS_HINT)
    _warn_compute_units(float(budgets.min()))  # each budget, not the largest alone
    k = law.flops(1.0, 1.0, k)  # C = k N D in FLOPs, with N and D in the law's units
    unknown = sorted(set(fixed) - (set(law.inputs) - {"n", "d"}))
    if unknown:
        params = sorted(set(unknown) & set(law.params))
        hint = (f"; {params} {'is a parameter' if len(params) == 1 else 'are parameters'} of the law: to hold "
                f"one at a value, fit with bs.fit(..., fixed={{{params[0]!r}: ...}})" if params else "")
        raise ValueError(f"fixed= names {unknown}: it holds the law's inputs other than n and d (the budget sets "
                         f"those), and law {law.name!r} has inputs {list(law.inputs)}{hint}")
    for name, value in fixed.items():
        _positive_number(value, f"fixed[{name!r}]")
    params = _group_params(fit, group)
    rows = []
    with jax.enable_x64(True):
        p = {name: jnp.asarray(v)[:, None] for name, v in params.items()}
        for budget in budgets:
            if law.optimum is not None and not fixed:
                n_opt, d_opt, l_opt = law.optimum(budget, k, **p)
            else:
                n_opt, d_opt, l_opt = _numeric_optimum(law, budget, k, p, fixed, grid_size)
            for name, v in (("n_opt", n_opt), ("d_opt", d_opt), ("loss_opt", l_opt),
                            ("tokens_per_param", d_opt * law.unit_scale("d") / (n_opt * law.unit_scale("n")))):
                v = np.asarray(v).reshape(-1)
                row = {"c": budget, "quantity": name, "mean": float(np.mean(v))}
                row.update({col: float(x) for col, x in _quantiles(v, qs).items()})
                rows.append(row)
    return pd.DataFrame(rows)


@partial(jax.jit, static_argnames=("law", "grid_size"))
def _numeric_optimum(law, budget, k, p, fixed, grid_size):
    """Compute-optimal ``(n, d, loss)`` per draw at ``budget``, on a grid of ``grid_size`` model sizes.

    ``k`` is in the law's units (:meth:`~bayescale.Law.flops`). The grid spans every split of the budget, from one
    parameter (``d = C / k``) to one token, in raw counts; each draw's best
    point is searched again on a grid as fine between its neighbours, then refined by a parabola through the best
    point and its neighbours. (A grid of eight decades around the balanced point pinned the draws whose optimum
    lay beyond it to its edge: a posterior's tail, cut without a word.) One compiled program per law and shapes of
    the draws (run op by op, JAX compiled each of its operations on its own at a process's first call).
    """
    m = budget / k

    def loss_at(ln):
        n = jnp.exp(ln)
        x = {"n": n, "d": m / n, **{key: jnp.asarray(v) for key, v in fixed.items()}}
        return law.fn(*[x[name] for name in law.inputs], **p)

    lo, hi = -np.log(law.unit_scale("n")), jnp.log(m) + np.log(law.unit_scale("d"))  # n, d >= 1 in raw counts
    coarse = jnp.linspace(lo, jnp.maximum(hi, lo), grid_size)[None, :]
    i = jnp.argmin(loss_at(coarse), axis=1)
    lo = coarse[0, jnp.maximum(i - 1, 0)]
    hi = coarse[0, jnp.minimum(i + 1, grid_size - 1)]
    log_n = lo[:, None] + (hi - lo)[:, None] * jnp.linspace(0.0, 1.0, grid_size)[None, :]  # draws x grid
    grid = loss_at(log_n)
    j = jnp.clip(jnp.argmin(grid, axis=1), 1, grid_size - 2)
    h = (hi - lo) / (grid_size - 1)
    y0, y1, y2 = (jnp.take_along_axis(grid, (j + s)[:, None], axis=1)[:, 0] for s in (-1, 0, 1))
    denom = y0 - 2 * y1 + y2
    shift = jnp.where(denom > 0, 0.5 * h * (y0 - y2) / jnp.where(denom > 0, denom, 1.0), 0.0)
    best = jnp.take_along_axis(log_n, j[:, None], axis=1)[:, 0] + jnp.clip(shift, -h, h)
    n_opt = jnp.exp(best)
    l_opt = loss_at(best[:, None])[:, 0]
    return n_opt, m / n_opt, l_opt
