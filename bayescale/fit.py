"""NUTS fits of a law to a table of runs, the :class:`Fit` result, and atomic save / load.

``fit`` and ``fit_many`` are the only places MCMC runs (through :mod:`bayescale.engine`). Everything a saved fit
needs to predict (law spec, hierarchy, centring point, group levels) is stored in the attrs of its ArviZ DataTree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import stat
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from bayescale import engine
from bayescale.build import (
    COUNT_LIKELIHOODS,
    LEVEL_SITE,
    LIKELIHOODS,
    ModelConfig,
    ModelData,
    build_model,
    from_site,
    geometric_centre,
    group_codes,
    group_key,
    level_params,
    noise_params,
    obs_site,
    resolve_level,
    resolve_pool,
    to_site,
)
from bayescale.data import (
    _FLOPS_HINT,
    _PACKAGE_DIRS,
    DataWarning,
    RunTable,
    RunTableError,
    _alike_labels,
    _flag,
    _positive_number,
    _rows,
    _suggest,
    validate_runs,
)
from bayescale.law import (
    _REGISTRY,
    Law,
    LawSpecError,
    _check_refittable,
    _is_built_in,
    _LawNotHere,
    get_law,
    law_from_dict,
)

if TYPE_CHECKING:  # imported where used: `import bayescale` leaves xarray to the import thread of the first fit
    import xarray as xr

    from bayescale.chain import Chain, ChainFit

__all__ = ["fit", "fit_many", "Fit", "load", "ConvergenceWarning", "PriorWarning", "FitFileError", "Diagnostics",
           "THRESHOLDS"]

#: Convergence thresholds checked on every fit (Vehtari et al. 2021; Betancourt 2016 for E-BFMI).
THRESHOLDS = {"r_hat": 1.01, "ess_bulk": 400, "ess_tail": 400, "divergences": 0, "tree_depth_frac": 0.0,
              "e_bfmi": 0.3}
_ATTR = "bayescale"
#: Smallest group size at which ``pooling="auto"`` chooses the centred parameterisation.
CENTRED_MIN_RUNS = 6


class ConvergenceWarning(UserWarning):
    """A fit failed a sampler diagnostic; the message states the value and the threshold used."""


class PriorWarning(UserWarning):
    """A fit's posterior presses against its prior: the data ask for more than the prior allows."""


#: A fit warns (:class:`PriorWarning`) when the residual sd's posterior median exceeds this many times the scale of
#: its HalfNormal prior, which puts 4.6% of its mass above twice its scale.
NOISE_PRIOR_TAIL = 2.0


def _noise_prior_problems(f: Fit) -> list[str]:
    """Say when the residual sd's posterior sits in its prior's upper tail (the prior then narrows every interval)."""
    post = f.tree["posterior"]
    if f.config.likelihood == "beta" or "sigma" not in post:
        return []
    scale = f.config.sigma_scale
    sigma = post["sigma"].transpose("chain", "draw", ...).values  # NumPy: fit_many asks this of every fit
    median = np.median(sigma, axis=(0, 1))
    if np.isnan(median).any():  # as xarray's median, which skips NaN
        median = np.nanmedian(sigma, axis=(0, 1))
    worst = float(np.max(np.atleast_1d(median)))
    if worst <= NOISE_PRIOR_TAIL * scale:
        return []
    tail = math.erfc(worst / (scale * math.sqrt(2.0)))
    # the median is held down by the prior itself, so three times it may still be far too small after a much
    # tighter prior than the law's (sigma_scale=1e-6 took four refits to reach the noise): at least the law's own
    suggest = max(float(f"{3 * worst:.1g}"), float(f.law.noise_scale))
    return [f"the residual sd's posterior median ({worst:.3g}, on the {f.law.link} scale) is {worst / scale:.1f} "
            f"times the scale of its prior sigma ~ HalfNormal({scale:g}), which gives P(sigma > {worst:.3g}) = "
            f"{tail:.1g}: the prior holds the noise down, so every interval is too narrow. Refit with "
            f"sigma_scale={suggest:g} (threshold: median > {NOISE_PRIOR_TAIL:g} x sigma_scale)"]


class FitFileError(OSError):
    """A saved fit cannot be read: truncated, corrupted, or not written by bayescale."""


class FitManyError(RuntimeError):
    """A call of :func:`fit_many` failed part way (out of memory, a Dask call failing past its retries): fits kept.

    Attributes
    ----------
    fits : dict
        ``{name: Fit}`` of the fits that had finished, in the order of their names (not refitted by the fallback
        where the failure came before it).
    failed : list
        The names of the fits that had not: fit those again (``runs[runs[by].isin(err.failed)]``).
    """

    def __init__(self, message: str, fits: dict, failed: list):
        super().__init__(message)
        self.fits = fits
        self.failed = failed


@dataclass(frozen=True)
class Diagnostics:
    """Sampler diagnostics of a fit, against :data:`THRESHOLDS`.

    Attributes
    ----------
    max_r_hat, min_ess_bulk, min_ess_tail : float
        Worst values over the law's parameters (and group-level parameters, sigma, nu).
    divergences : int
        Divergent transitions after warm-up.
    tree_depth_frac : float
        Fraction of draws that hit the maximum tree depth.
    max_tree_depth : int
        The NUTS tree-depth cap of the fit.
    min_e_bfmi : float
        Lowest E-BFMI over chains.
    num_draws : int
        Posterior draws (chains x draws).
    problems : tuple of str
        One message per failed check, stating the threshold.
    trees : bool
        Whether the sampler built trees (NUTS); False for ChEES, whose ``tree_depth_frac`` is then 0 and no check.
    """

    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    tree_depth_frac: float
    max_tree_depth: int
    min_e_bfmi: float
    num_draws: int
    problems: tuple[str, ...]
    trees: bool = True

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def __repr__(self) -> str:
        verdict = "all checks passed" if self.ok else f"{len(self.problems)} problem(s)"
        depth = (f"{100 * self.tree_depth_frac:.1f}% at max tree depth {self.max_tree_depth}" if self.trees
                 else "no trees (ChEES)")
        return (
            f"Diagnostics({verdict}: max R-hat {_r_hat_text(self.max_r_hat)} (passes below {THRESHOLDS['r_hat']}), "
            f"min ESS bulk {self.min_ess_bulk:.0f} / tail {self.min_ess_tail:.0f} (passes from "
            f"{THRESHOLDS['ess_bulk']}), {self.divergences} divergences, {depth}, min E-BFMI {self.min_e_bfmi:.2f} "
            f"(passes from {THRESHOLDS['e_bfmi']}))"
        )


def _r_hat_text(v: float) -> str:
    """Return an R-hat in 3 decimals, or in 4 where 3 would print a failing one as the threshold (1.0102: 1.010)."""
    text = f"{v:.3f}"
    return f"{v:.4f}" if text == f"{THRESHOLDS['r_hat']:.3f}" and not v < THRESHOLDS["r_hat"] else text


def _versions() -> dict[str, str]:
    """Return the versions of Python and of the packages a fit depends on, recorded in its metadata.

    Looked up once per process: each lookup reads the installed packages' metadata from disk (3.5 ms for the ten,
    once per call of ``fit_many``, 2026-12-05), and a running process keeps the versions it imported.
    """
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("bayescale", "numpyro", "jax", "jaxlib", "arviz-base", "arviz-stats", "xarray", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _index_kind(index: pd.Index) -> str:
    """Return how :meth:`Fit.runs` reads back the run labels, kept as text in the fit: int, float or str.

    A label of any other kind (a MultiIndex's tuple, say) stays its text.
    """
    if isinstance(index, pd.MultiIndex):
        return "str"
    return {"i": "int", "u": "uint", "f": "float"}.get(index.dtype.kind, "str")  # uint: hashed ids past 2**63


def _input_hash(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(float_format="%.17g").encode()).hexdigest()


def _default_progress() -> bool:
    return not os.environ.get("CI") and sys.stderr.isatty()


def _model_data(table: RunTable, log_x0: Mapping[str, float], levels=None, with_target: bool = True,
                config: ModelConfig | None = None):
    frame = table.frame
    codes, levels, new = group_codes(frame, table.groups, levels)
    extra = {}
    if config is not None and (config.crossed or config.group_predictors):
        first = np.zeros(len(levels) + len(new), dtype=np.int64)  # a run of each group (every group has one)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        extra = _crossed_extra(frame, first, config)
        for p, cols in config.group_predictors.items():
            for col, centre in cols.items():
                extra[f"{p}_x_{col}"] = np.log(frame[col].to_numpy(np.float64)[first]) - centre
    return ModelData(
        x={k: np.asarray(frame[k], dtype=np.float64) for k in table.law.inputs},
        log_x0=dict(log_x0),
        group=codes,
        noise=None if table.noise is None else np.asarray(frame[table.noise], dtype=np.float64),
        y=np.asarray(frame[table.law.target], dtype=np.float64) if with_target else None,
        extra=extra,
        n_groups=max(len(levels), 1),
        n_new_groups=len(new),
    ), levels, new


def _crossed_levels(frame: pd.DataFrame, crossed: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Levels of each crossed vector: the values of its columns, in order of first appearance."""
    out: dict[str, list[str]] = {}
    for _, (vector, column) in crossed.items():
        out.setdefault(vector, [])
        out[vector] += [v for v in dict.fromkeys(frame[column].astype(str)) if v not in out[vector]]
    return out


def _crossed_extra(frame: pd.DataFrame, first: np.ndarray, config: ModelConfig) -> dict[str, np.ndarray]:
    """Index arrays of crossed effects: for each crossed parameter, its vector's level in each group.

    ``first`` holds a run of each group. Levels of a vector not seen in fitting get places after the fitted ones
    (drawn from the prior in prediction).
    """
    fitted = {k: list(v) for k, v in config.crossed_levels.items()}
    new: dict[str, list[str]] = {k: [] for k in fitted}
    extra: dict[str, np.ndarray] = {}
    for p, (vector, column) in config.crossed.items():
        values = frame[column].astype(str).to_numpy()[first]
        for v in values:
            if v not in fitted[vector] and v not in new[vector]:
                new[vector].append(v)
        index = {v: i for i, v in enumerate(fitted[vector] + new[vector])}
        extra[f"{p}_index"] = np.asarray([index[v] for v in values], dtype=np.int32)
    for vector in fitted:
        extra[f"{vector}_fit"] = np.zeros(len(fitted[vector]))
        extra[f"{vector}_new"] = np.zeros(len(new[vector]))
    return extra


def _crossed_config(law: Law, crossed, groups: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Check the user's ``crossed={vector: {param: column}}`` and flatten it to ``{param: (vector, column)}``."""
    if not crossed:
        return {}
    if not isinstance(crossed, Mapping) or not all(isinstance(v, Mapping) for v in crossed.values()):
        raise TypeError("crossed= maps a vector name to {parameter: column}, e.g. "
                        "crossed={'e': {'e_x': 'x_set', 'e_y': 'y_set'}}")
    out: dict[str, tuple[str, str]] = {}
    for vector, members in crossed.items():
        for p, column in members.items():
            if p not in law.params:
                raise ValueError(f"crossed= names unknown parameter {p!r}; law {law.name!r} has {list(law.params)}")
            if p in law.centre:
                raise ValueError(f"crossed= cannot share the centred coefficient {p!r}")
            if column not in groups:
                raise ValueError(f"crossed column {column!r} (for {p!r}) must be one of the group columns "
                                 f"groups={list(groups)}: each group then has one level of it")
            if p in out:
                raise ValueError(f"parameter {p!r} appears twice in crossed=")
            if vector in law.params and vector not in members:
                raise ValueError(f"crossed vector name {vector!r} is also a parameter of law {law.name!r}")
            out[p] = (str(vector), column)
    return out


def _predictor_columns(config: ModelConfig) -> list[str]:
    """Columns a fit's group-level predictors need (kept by validation, stored with the runs)."""
    return sorted({c for cols in config.group_predictors.values() for c in cols})


def _warn_thin_independent_groups(law: Law, table: RunTable, modes: Mapping[str, str]) -> None:
    """Say which groups have fewer runs than the law parameters fitted to each group alone (``'independent'``).

    Such a group's values of them come mostly from the prior: its predictions and allocations are the prior's.
    """
    alone = [p for p in law.params if modes.get(p) == "independent"]
    if not alone or not table.groups:
        return
    sizes = group_key(table.frame, table.groups).value_counts(sort=False)
    thin = sizes[sizes < len(alone)]
    if len(thin):
        labels = list(thin.index[:8])
        warnings.warn(f"group(s) {labels} have {int(thin.min())}-{int(thin.max())} run(s), fewer than the "
                      f"{len(alone)} parameters fitted to each group alone ({alone}, pool='independent'): their "
                      "values there come mostly from the prior; pool them partially (pool={...: 'partial'}) to "
                      "borrow strength from the other groups, or give those groups more runs", DataWarning,
                      skip_file_prefixes=_PACKAGE_DIRS)


def _noted_thin_data(law: Law, table: RunTable, held: Mapping[str, float]) -> RunTable:
    """Warn, and note in the table (so that ``fit.check`` says it), when the runs cannot pin the law's parameters.

    Fewer runs than the law's free parameters; or, for a law in ``n`` and ``d``, runs that all have about the same
    tokens per parameter, so that ``n`` and ``d`` rise together and their terms trade against each other. Either
    way the posterior there is mostly the prior's, which the trust checks then report as prior sensitivity.
    """
    notes = []
    free = [p for p in law.params if p not in held]
    if len(table.frame) <= len(free):
        notes.append(f"{len(table.frame)} runs for the {len(free)} free parameters of law {law.name!r} ({free}) and "
                     "its noise: the runs cannot pin them all down, so the posterior of some is mostly their prior's "
                     "(what fit.check's prior-sensitivity findings then report); add runs, or hold parameters known "
                     "from elsewhere at their values (fixed=)")
    if {"n", "d"} <= set(law.inputs) and len(table.frame) > 2:
        ratio = (table.frame["d"].to_numpy(float) * law.unit_scale("d")
                 / (table.frame["n"].to_numpy(float) * law.unit_scale("n")))  # raw tokens per raw parameter
        if ratio.max() < 1.5 * ratio.min():
            notes.append(f"every run has about the same tokens per parameter (d/n from {ratio.min():.3g} to "
                         f"{ratio.max():.3g}), so n and d rise together and law {law.name!r} cannot tell their "
                         "effects apart: how the loss splits between them, and any compute-optimal allocation, "
                         "rest on the priors; add runs at other d/n (e.g. 5 and 80 tokens per parameter)")
    for msg in notes:
        warnings.warn(msg, DataWarning, skip_file_prefixes=_PACKAGE_DIRS)
    return dataclasses.replace(table, notes=table.notes + tuple(notes)) if notes else table


def _predictor_spec(law: Law, group_predictors, pool, groups) -> dict[str, list[str]]:
    """Check ``group_predictors=``: partially pooled parameters of the law, each with a list of columns."""
    if not group_predictors:
        return {}
    if not groups:
        raise ValueError("group_predictors= needs groups=: the predictors are columns of each group")
    if not isinstance(group_predictors, Mapping):
        raise TypeError(f"group_predictors= maps parameters to predictor columns, e.g. {{'b_noise': ['n', 'd']}}; got "
                        f"{type(group_predictors).__name__}")
    out = {}
    for p, cols in group_predictors.items():
        if p not in law.params:
            raise ValueError(f"group_predictors names unknown parameter {p!r}; law {law.name!r} has "
                             f"{list(law.params)}")
        mode = pool if isinstance(pool, str) or pool is None else pool.get(p, "shared")
        if (mode or "partial") != "partial":
            raise ValueError(f"group_predictors: {p!r} must be partially pooled (pool={{{p!r}: 'partial'}}) to "
                             "have a group-level regression")
        out[p] = [cols] if isinstance(cols, str) else list(cols)
    return out


def _predictor_centres(table: RunTable, predictors: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """Mean log value of each predictor over the groups; every predictor must be constant within each group."""
    out: dict[str, dict[str, float]] = {}
    frame = table.frame
    for p, cols in predictors.items():
        out[p] = {}
        for col in cols:
            per_group = frame.groupby(list(table.groups), sort=False)[col]
            varying = per_group.nunique()
            if (varying > 1).any():
                bad = [str(k) for k in varying.index[varying > 1][:5]]
                raise ValueError(f"group predictor {col!r} varies within group(s) {bad}: a group-level predictor "
                                 "takes one value per group")
            values = per_group.first().to_numpy(np.float64)
            if np.ptp(np.log(values)) == 0:
                warnings.warn(f"group predictor {col!r} takes the same value ({values[0]:g}) in every group, so its "
                              f"coefficient {p}_on_{col} can only follow its prior: drop it or add groups where it "
                              "differs", DataWarning, skip_file_prefixes=_PACKAGE_DIRS)
            out[p][col] = float(np.mean(np.log(values)))
    return out


def _crossed_priors(law: Law, cross, levels, given) -> dict[str, dict[str, list[float]]]:
    """Check ``crossed_priors=`` and write each level's LogNormal as ``[loc, scale]``."""
    if not given:
        return {}
    import numpyro.distributions as dist

    if not isinstance(given, Mapping) or not all(isinstance(v, Mapping) for v in given.values()):
        raise TypeError("crossed_priors= maps each crossed vector to {level: LogNormal prior}, e.g. "
                        "{'e': {'webtext': dist.LogNormal(0.5, 0.2)}}")
    out: dict[str, dict[str, list[float]]] = {}
    for vector, priors in given.items():
        if vector not in levels:
            raise ValueError(f"crossed_priors names {vector!r}, which is not a crossed vector ({sorted(levels)})")
        first = next(p for p, (v, _) in cross.items() if v == vector)
        if not isinstance(law.params[first], dist.LogNormal):
            raise ValueError(f"crossed_priors needs a LogNormal prior on {first!r} (law {law.name!r})")
        out[vector] = {}
        for level, prior in priors.items():
            if str(level) not in levels[vector]:
                raise ValueError(f"crossed_priors[{vector!r}] names level {level!r}, not among the runs' "
                                 f"{levels[vector]}")
            if not isinstance(prior, dist.LogNormal) or prior.batch_shape != ():
                raise TypeError(f"crossed_priors[{vector!r}][{level!r}] must be a scalar numpyro LogNormal, got "
                                f"{type(prior).__name__} of batch shape {getattr(prior, 'batch_shape', ())}")
            out[vector][str(level)] = [float(prior.loc), float(prior.scale)]
    return out


def _grid_data(data: ModelData, size: int | None = None) -> tuple[ModelData, np.ndarray]:
    """Re-lay grouped per-run data as ``(n_groups, slots)`` rows (padded with the group's first run, masked).

    An input that is constant within every group is laid out ``(n_groups, 1)`` instead: the law then computes its
    terms in it once per group. On the 15 cells of Step Law's sweep, whose model size and tokens are the cell's, a
    short fit (2 chains x 300 + 100, tree depth 10) took 69-76 s against 171-185 s with every input laid out per
    run (92% of its draws at the maximum depth against 100%; 2026-12-05).

    Returns the grid data and, for each run, its flat position ``g * slots + slot`` in the grid.
    """
    codes = np.asarray(data.group)
    counts = np.bincount(codes, minlength=data.n_groups)
    slots = engine.bucket(int(counts.max())) if size is None else size
    order = np.argsort(codes, kind="stable")
    slot = np.empty(len(codes), dtype=np.int64)
    slot[order] = np.arange(len(codes)) - np.repeat(np.cumsum(counts) - counts, counts)
    positions = codes * slots + slot
    first = order[np.cumsum(counts) - counts]  # each group's first run fills its padding
    take = np.repeat(first[:, None], slots, axis=1)
    take.reshape(-1)[positions] = np.arange(len(codes))

    def lay(v):
        return None if v is None else np.asarray(v)[take]

    mask = np.zeros(data.n_groups * slots, dtype=bool)
    mask[positions] = True
    def lay_input(v):
        v = lay(v)
        return v[:, :1] if (v == v[:, :1]).all() else v

    grid = dataclasses.replace(data, x={k: lay_input(v) for k, v in data.x.items()}, group=None, noise=lay(data.noise),
                               y=lay(data.y), mask=mask.reshape(data.n_groups, slots), grid=True)
    return grid, positions


def _group_dim(groups: Sequence[str]) -> str:
    return "__".join(groups)


def _dims(law: Law, config: ModelConfig, groups: Sequence[str]) -> dict[str, list[str]]:
    dims: dict[str, list[str]] = {}
    if groups:
        g = [_group_dim(groups)]
        for p, mode in config.pool.items():
            if mode == "shared":
                continue
            dims[p] = g
            if mode == "partial":
                dims[f"{p}_z"] = dims[f"{p}_u"] = g
            elif mode == "independent":
                dims[f"{p}_c"] = g
        for vector in config.crossed_levels:
            dims[vector] = [f"{vector}_level"]
    if level_params(law, config):
        dims[LEVEL_SITE] = ["term"]
    dims[obs_site(law)] = ["run"]
    return dims


_NUTS_DOC = """num_chains, num_warmup, num_samples : int, optional
        Sampler settings (NumPyro's names); defaults 4, 1000 and 1000 for NUTS, 8, 200 and 750 for
        ``sampler="chees"`` (:data:`SAMPLERS`). NUTS chains run in parallel threads on CPU (one per host device).
    seed : int or None
        Random seed; the same seed and data give the same draws. ``None`` draws a fresh seed from the operating
        system, recorded in ``fit.meta["seed"]`` so the fit can be repeated.
    target_accept_prob, max_tree_depth : float, int
        NUTS step-size adaptation target and tree-depth cap.
    warmup_tree_depth : int, optional
        Tree-depth cap during warm-up only, at most ``max_tree_depth``. Default: 7, or ``max_tree_depth - 3`` when
        that is deeper (:func:`~bayescale.engine.default_warmup_tree_depth`), which cuts the warm-up's gradients
        of these laws by about 40% with the same R-hat and ESS; pass ``max_tree_depth`` for no cap if a fit's
        draws need trees about as deep as the cap (its divergences or R-hat may then improve).
    mass_shrinkage : float, optional
        Variance, in NumPyro's unconstrained space, that the warm-up's mass-matrix estimates are shrunk toward
        (Stan's regularisation). Default 1e-3, NumPyro's own (:data:`~bayescale.engine.DEFAULT_MASS_SHRINKAGE`).
        Scaling-law posteriors are narrow: on the Chinchilla fit to 240 runs, 1e-4 took 0.53x the warm-up
        gradients and 0.42x the draws' gradients of 1e-3 for a similar ESS
        (:class:`~bayescale.engine.NUTSSettings`). It is not the default because with less shrinkage the
        warm-up's covariance estimate is noisier, and fits with many group-level parameters or curved tails
        (a crossed loss-to-loss fit, a two-stage chain on 30 runs) then failed R-hat or ESS more often. Try 1e-4
        for a fit without groups on many runs, and keep it if the diagnostics pass.
    dense_mass : bool, optional
        Dense mass matrix; default dense when the model has at most 200 unconstrained parameters
        (:data:`DENSE_MAX_PARAMS`).
    warm_start : bool
        Run NUTS in the Laplace approximation's whitened coordinates: each chain searches for the posterior mode
        from its usual start, then samples ``y`` with ``z = mode + L y`` (``L L'`` the approximation's covariance),
        starting 1.5 standard deviations from the mode, as ChEES does; a chain whose search stalls short of a mode
        samples as without it (``fit.meta["sampler"]["warm_started_chains"]`` counts the others). There every
        posterior direction has a variance near 1, so NumPyro's warm-up, which shrinks its estimates of the mass
        matrix toward a variance of 1e-3, no longer overstates directions known to a few thousandths: try it when a
        fit's draws reach the maximum tree depth on a posterior narrow in some directions (many runs per group).
        The loss-to-loss case study's second stage (42 pairs, 3,703 losses, crossed effects) took 90 s with it
        against 540 s without, both passing every check (``benchmarks/loss_to_loss.py``). On problem C's 30
        runs (``benchmarks/speed.py``) it took 0.65x the gradients; over the 23 registered laws' simulated ladders
        (``benchmarks/every_law.py``) 0.72x, with more fits failing a check (50 against 43 of 368): a chain can
        stay in a minor mode that its search found. It adds the search to the compiled program (about a second of
        compiling), so it pays in ``fit_many``, in repeat fits and on slow posteriors rather than in one cold fit.
        It did not help problem B's hierarchical fit (8 groups of 60 runs), and on 4 groups of 30 runs it stranded
        a chain in the funnel (measured with its first version, 2026-12-05). Default False
        (:class:`~bayescale.engine.NUTSSettings`).
    sigma_scale : float, optional
        Scale of the HalfNormal prior on the residual sd, on the law's link scale (log or logit of the target).
        Default: the law's :attr:`~bayescale.Law.noise_scale` (0.1 for losses; 0.5 for the catalogue's laws of
        optimal hyperparameters and critical batch sizes, which scatter more). A fit warns when the residual sd's
        posterior sits in this prior's upper tail.
    group_scale : float
        Scale of the HalfNormal priors on group-level spreads.
    flops_per_param_token : float
        FLOPs convention ``c = k n d`` used by validation and :meth:`Fit.optimal_allocation`.
    precision : {"float64", "float32"}
        Floating-point precision of the sampler. ``"float32"`` halves the draws' memory (a fit's results: 4.0
        against 7.8 MiB on 240 runs; the process's peak, mostly XLA's, does not fall: ``benchmarks/memory.py``)
        and is faster on GPUs; check that its diagnostics still pass (the tests check that the Chinchilla law fits
        the same posterior in both, within Monte Carlo error).
    sampler : {"nuts", "chees"}
        ``"nuts"`` (default): NumPyro's NUTS, each chain on its own. ``"chees"``: a fit's chains move in lockstep
        (:class:`~bayescale.engine.ChEESProgram`): the metric from the Laplace approximation at the posterior
        mode, then HMC with one step size and jittered trajectory length per fit, adapted across its chains
        (BlackJAX's ChEES). On well-identified posteriors it needs several times fewer gradients than NUTS for
        more effective draws (``benchmarks/speed.py``, problem C); on hard ones (weakly identified exponents,
        heavy tails) it mixes worse and fails its checks more often, so refit those fits with NUTS. It reports
        the same diagnostics, without tree depth (no trees are built). ``max_tree_depth``,
        ``warmup_tree_depth``, ``mass_shrinkage``, ``dense_mass`` and ``warm_start`` apply to NUTS only (so
        to a failed ChEES fit's NUTS refit).
    log_likelihood : bool
        Keep each run's log-likelihood under every draw (the tree's ``log_likelihood`` group, which PSIS-LOO,
        LOO-PIT and power-scaling sensitivity read). Default True. With False the sampler leaves it out: a fit's
        results are several times smaller (problem A, 240 runs: 0.6 against 7.9 MiB in memory, 0.7 against 8.1
        MiB saved; ``benchmarks/memory.py``), and ChEES's sampler, whose draws take about 4 gradients each, runs
        faster (``benchmarks/speed.py``, problem C). ``bs.compare``, :meth:`Fit.check` and reports still work:
        they compute it from the draws when first needed (the values the sampler would have kept) and keep it in
        the fit's tree (:func:`bayescale.posterior.with_log_likelihood`). For fits that are many and seldom
        compared: SBC replicates, bootstraps, backtests, value-of-information replays. Not for a Chain.
    fallback : bool
        Refit every fit that fails a check with a more careful sampler, and keep the refit unless it did worse
        (a max R-hat over 0.01 above the first fit's, or one within 0.01 with more checks failed: then the first fit
        is kept, and its ``meta["refit_not_kept"]`` and the warning say so): a ChEES fit with NUTS
        (its default chains, warm-up and draws; then as a NUTS fit if that fails too), a NUTS fit with NUTS at
        ``target_accept_prob=0.99`` (:data:`~bayescale.fit.REFIT_TARGET_ACCEPT`: smaller steps, about twice the
        gradients) without ``warm_start``. The refit's ``meta["fallback_from"]`` lists the failed fits' samplers,
        targets, problems and gradients. Only failing fits pay: over 16 fits (8 simulated ladders, twice) of each
        of the 23 registered laws, 35 of 368 failed a check with the refits against 88 without, for 2.0x the
        gradients in all; two weakly identified laws failed as often either way (measured on 2026-12-05, before a
        refit that did worse was left unkept; ``docs/speed.md``, "Refitting a failed fit"). Default True; False keeps
        the failed fits (and warns)."""


def fit(
    law: Law | str | Chain,
    runs,
    *,
    groups: Sequence[str] | str | None = None,
    pool: str | Mapping[str, str] | None = None,
    pooling: str = "auto",
    likelihood: str = "student_t",
    noise: str | None = None,
    crossed: Mapping[str, Mapping[str, str]] | None = None,
    crossed_priors: Mapping[str, Mapping[str, Any]] | None = None,
    group_predictors: Mapping[str, Sequence[str]] | None = None,
    fixed: Mapping[str, float] | None = None,
    num_chains: int | None = None,
    num_warmup: int | None = None,
    num_samples: int | None = None,
    seed: int | None = 0,
    target_accept_prob: float = 0.9,
    max_tree_depth: int = 10,
    warmup_tree_depth: int | None = None,
    mass_shrinkage: float | None = None,
    dense_mass: bool | None = None,
    warm_start: bool = False,
    sigma_scale: float | None = None,
    group_scale: float = 0.5,
    flops_per_param_token: float = 6.0,
    precision: str = "float64",
    sampler: str = "nuts",
    log_likelihood: bool = True,
    fallback: bool = True,
    progress_bar: bool | None = None,
) -> Fit | ChainFit:
    """Fit a law to runs with NUTS.

    The sampler is compiled once per law, hierarchy, settings and (bucketed) data size and reused by every later
    fit in the process (and, through JAX's persistent compilation cache, by later processes): a repeat fit of the
    same shapes compiles nothing. See :mod:`bayescale.engine`.

    Parameters
    ----------
    law : Law, str or Chain
        A :class:`~bayescale.Law`, a registered name (``bs.laws()``), or a :class:`~bayescale.Chain` of laws
        (``bs.chain``: fitted as one model; ``crossed=``, ``crossed_priors=`` and ``group_predictors=`` are not
        supported there).
    runs : pandas.DataFrame
        One row per run: the law's inputs, its target, and any group / noise columns. Never modified.
    groups : str or sequence of str, optional
        Group column(s) for a hierarchical fit; several columns are combined into one grouping.
    pool : str or mapping, optional
        ``"shared"``, ``"partial"`` (partial pooling) or ``"independent"``, for all parameters or per
        parameter (``{"e": "partial", "alpha": "shared"}``; parameters not named are shared). Default with
        groups: ``"partial"``.
    pooling : {"auto", "noncentred", "centred"}
        Parameterisation of partial pooling. ``"auto"`` (default) is centred when every group has at least
        :data:`CENTRED_MIN_RUNS` runs, non-centred otherwise: groups with many precise runs make the non-centred
        form diverge, groups with few runs do the same to the centred form. Measured on simulated Chinchilla
        ladders (6 groups, E varying, 2% noise, 4 x 1000 draws): 12 runs per group, non-centred 8 divergences /
        centred 0; 6 runs, 1 / 0; 4 runs, non-centred fine but centred min ESS 70. The choice is recorded in
        the fit's config.
    likelihood : {"student_t", "normal", "beta", "binomial", "beta_binomial"}
        Likelihood on the law's link scale (log of a loss, logit of an accuracy); ``"beta"`` for accuracies and
        error rates of laws with ``link="logit"`` (see :class:`bayescale.build.ModelConfig`). ``"binomial"`` and
        ``"beta_binomial"`` fit an accuracy as the count of correct answers out of the run's number of items, named
        by ``noise=``: the sampling noise of a benchmark score, with the Beta-Binomial's ``phi`` for run-to-run
        variation beyond it (:class:`bayescale.build.CountsOnLink`); scores of exactly 0 and 1 are fine there.
    noise : str, optional
        Column with a known per-run noise sd on the likelihood's scale (the log of a loss, the logit of an accuracy),
        added in quadrature to the fitted sd; predictions add it for new runs too (:func:`~bayescale.predict.predict`).
        With a count likelihood, the column with each run's number of items (whole numbers).
    crossed : mapping, optional
        Crossed effects ``{vector: {parameter: column}}``: each named parameter takes, in each group, the value of
        ``vector`` at the group's level of ``column`` (a group column), so parameters naming one vector share its
        values across groups. E.g. for loss-to-loss pairs grouped by ``["x_set", "y_set"]``,
        ``crossed={"e": {"e_x": "x_set", "e_y": "y_set"}}`` gives one irreducible loss per dataset, shared by
        every pair that uses that dataset. See :class:`bayescale.build.ModelConfig`.
    crossed_priors : mapping, optional
        ``{vector: {level: prior}}``: a ``numpyro.distributions.LogNormal`` for single levels of a crossed vector
        in place of the parameter's own (LogNormal) prior, e.g. each dataset's irreducible loss as found by an
        earlier fit of its scaling law.
    group_predictors : mapping, optional
        ``{parameter: [column, ...]}``: a group-level regression of a partially pooled parameter on columns that
        are constant within each group, as a power law: its population location on the log scale (for a positive
        parameter) moves with ``beta_column * log(column)``, coefficients ``<parameter>_on_<column>`` with a
        Normal(0, 1) prior. E.g. ``{"b_noise": ["n", "d"]}`` fits ``log B_noise = c + b_n log N + b_d log D`` across
        model sizes, every run of every size informing it; a group not seen in fitting is predicted from its own
        columns.
    fixed : mapping of str to float, optional
        Law parameters held at a known value instead of fitted, ``{parameter: value}`` on the parameter's natural
        scale, e.g. ``{"alpha": 0.34}`` to fit the rest of the Chinchilla law with Hoffmann's exponent. The value
        must lie in the parameter's prior support; a fixed parameter is shared (a ``pool=`` string applies to the
        others; a ``pool=`` mapping may not name it as varying by group, nor may ``crossed=``). Its posterior
        variable holds the value in every draw, so predictions, allocations and reports work as for any fit; its
        diagnostics are left out (they are those of a constant).
    {nuts}
    progress_bar : bool, optional
        Print one line when sampling starts and ends (the sampler runs as one compiled program, so there is no
        per-iteration bar); default on in an interactive terminal, off when ``CI`` is set.

    Returns
    -------
    Fit or ChainFit
        A :class:`~bayescale.ChainFit` for a Chain.

    Warns
    -----
    ConvergenceWarning
        When R-hat, bulk/tail ESS, divergences, tree depth or E-BFMI fail their thresholds (stated in the message).
    PriorWarning
        When the residual sd's posterior median exceeds :data:`NOISE_PRIOR_TAIL` times ``sigma_scale``.

    See Also
    --------
    fit_many : many independent fits in one compiled program.

    Examples
    --------
    >>> import bayescale as bs
    >>> runs = bs.simulate_ladder("chinchilla", seed=0)
    >>> f = bs.fit("chinchilla", runs, num_warmup=300, num_samples=300, seed=1)  # doctest: +SKIP
    >>> f.summary().loc[["alpha", "beta"], ["mean", "r_hat"]]  # doctest: +SKIP
    """
    from bayescale.chain import Chain, fit_chain

    opts = _options(num_chains, num_warmup, num_samples, target_accept_prob, max_tree_depth, precision,
                    flops_per_param_token, warmup_tree_depth, mass_shrinkage, sampler,
                    sigma_scale=sigma_scale, group_scale=group_scale, warm_start=warm_start,
                    log_likelihood=log_likelihood, fallback=fallback,
                    flags={"dense_mass": dense_mass, "progress_bar": progress_bar})
    seed = _resolve_seed(seed)
    progress = _default_progress() if progress_bar is None else progress_bar
    if isinstance(law, Chain):
        for stage in law.stages:
            _check_refittable(stage)
        if opts.sampler != "nuts":
            raise ValueError(f"sampler={sampler!r}: a Chain is fitted with NUTS only (sampler='nuts')")
        if not opts.log_likelihood:
            raise ValueError("log_likelihood=False: a Chain's fit keeps each stage's pointwise log-likelihood "
                             "(log_likelihood=True, the default); fit the stages' laws alone to leave it out")
        unused = [name for name, v in (("crossed", crossed), ("crossed_priors", crossed_priors),
                                       ("group_predictors", group_predictors), ("fixed", fixed)) if v]
        if unused:
            raise ValueError(f"{', '.join(unused)}: not supported for a Chain (its stages are pooled over groups= "
                             "with pool=); fit the stages' laws alone to use them")
        result = fit_chain(law, runs, groups=groups, pool=pool, pooling=pooling, likelihood=likelihood, noise=noise,
                           sigma_scale=sigma_scale, group_scale=group_scale,
                           flops_per_param_token=flops_per_param_token, opts=opts, seed=seed, dense_mass=dense_mass,
                           progress=progress)
        for msg in result.diagnostics.problems:
            warnings.warn(msg, ConvergenceWarning, skip_file_prefixes=_PACKAGE_DIRS)
        for target, stage in result.stages.items():
            for msg in _noise_prior_problems(stage):
                warnings.warn(f"stage {target!r} ({stage.law.name}): {msg}", PriorWarning,
                              skip_file_prefixes=_PACKAGE_DIRS)
        return result
    law = get_law(law)
    prep = _prepare(law, runs, groups=groups, pool=pool, pooling=pooling, likelihood=likelihood, noise=noise,
                    sigma_scale=sigma_scale, group_scale=group_scale, flops_per_param_token=flops_per_param_token,
                    crossed=crossed, crossed_priors=crossed_priors, group_predictors=group_predictors, fixed=fixed)
    _check_draws_fit_in_memory(prep, opts)
    start = time.perf_counter()
    if progress:
        print(f"bayescale: sampling {law.name} ({opts.sampler}), {opts.num_chains} chains x ({opts.num_warmup} "
              f"warm-up + {opts.num_samples}) "
              f"draws on {len(prep.table.frame)} runs ...", file=sys.stderr, flush=True)
    (result,) = _run_batch([prep], [0], seed, opts, dense_mass)
    tried = opts
    while fallback and not result.diagnostics.ok and (careful := _fallback_options(tried)) is not None:
        if progress:
            print(f"bayescale: the fit failed a check ({result.diagnostics.problems[0].split(':')[0]}); refitting "
                  f"with {_describe(careful)} ...", file=sys.stderr, flush=True)
        result = _fell_back(_run_batch([prep], [0], seed, careful, dense_mass)[0], result)
        tried = careful
    if progress:
        print(f"bayescale: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    hint = _failure_hint([result])
    for msg in result.diagnostics.problems:
        warnings.warn(msg + hint, ConvergenceWarning, skip_file_prefixes=_PACKAGE_DIRS)
    for msg in _noise_prior_problems(result):
        warnings.warn(f"{law.name}: {msg}", PriorWarning, skip_file_prefixes=_PACKAGE_DIRS)
    return result


def fit_many(
    law: Law | str,
    runs,
    by: str | Sequence[str] | None = None,
    *,
    groups: Sequence[str] | str | None = None,
    pool: str | Mapping[str, str] | None = None,
    pooling: str = "auto",
    likelihood: str = "student_t",
    noise: str | None = None,
    crossed: Mapping[str, Mapping[str, str]] | None = None,
    fixed: Mapping[str, float] | None = None,
    num_chains: int | None = None,
    num_warmup: int | None = None,
    num_samples: int | None = None,
    seed: int | None = 0,
    target_accept_prob: float = 0.9,
    max_tree_depth: int = 10,
    warmup_tree_depth: int | None = None,
    mass_shrinkage: float | None = None,
    dense_mass: bool | None = None,
    warm_start: bool = False,
    sigma_scale: float | None = None,
    group_scale: float = 0.5,
    flops_per_param_token: float = 6.0,
    precision: str = "float64",
    sampler: str = "nuts",
    log_likelihood: bool = True,
    fallback: bool = True,
    batch_size: int | None = None,
    client=None,
    host_workers: int | None = None,
    progress_bar: bool | None = None,
) -> dict[Any, Fit]:
    """Many independent fits of one law (per task, data set, bootstrap or SBC replicate) in one compiled program.

    Every fit's chains become jobs of one :class:`~bayescale.engine.NUTSProgram`, split over all local devices
    (on CPU one thread per host device; the GPU, vectorised, when JAX sees one); data sizes are padded to a common
    bucket. Each result is a normal :class:`Fit`, the same as ``bs.fit`` on that subset (same model, priors and
    checks; the draws differ because the random keys do).

    Parameters
    ----------
    law : Law or str
    runs : pandas.DataFrame or mapping of name to pandas.DataFrame
        All runs with the ``by`` column(s) naming the fit each run belongs to; or one table per fit.
    by : str or sequence of str, optional
        Column(s) splitting ``runs`` into fits (required for a DataFrame, not allowed for a mapping).
    groups, pool, pooling, likelihood, noise, crossed, fixed
        As in :func:`fit`, applied to every fit (``pooling="auto"`` decides per fit).
    {nuts}
    batch_size : int, optional
        Most fits per compiled program call: it bounds memory (a call holds ``batch_size x num_chains x
        num_samples`` draws and pointwise log-likelihoods) and sets the step of the progress bar. Default: 32 on
        CPU, where host devices run their jobs one after another anyway; on a GPU as many fits as keep a call's
        draws and log-likelihoods within 4 GiB, at most 400, since a GPU runs a call's jobs side by side. On CPU
        the fits of one structure are shared out evenly among the calls, none repeated, and one compiled program
        of one chain serves every call whatever its number of fits (and ``bs.fit``'s fits of the same law and run
        count); on an accelerator they are split into calls of equal size (the last padded with repeats, whose
        results are dropped) so that one compilation serves all. Fits of different structure (number of groups,
        pooling) go to separate calls.
    client : dask.distributed.Client, optional
        Run the batches on a Dask cluster (``pip install 'bayescale[distributed]'``): each worker fits whole
        batches with its own compiled program. Without it everything runs in this process. With it the default
        ``batch_size`` also shares the fits out so that every worker gets a call (no more fits a call than the
        fits over the workers); the calls are cut by this process's backend (``docs/speed.md``, "Past one
        machine").
    host_workers : int, optional
        Worker processes (loky) that compute each call's R-hat and ESS while this process builds its fits'
        DataTrees; 0 computes them here. Default: 0 on a CPU, whose cores sample the next call meanwhile; on an
        accelerator up to 8, leaving two of the host's cores free. The diagnostics are the same either way. Not
        used with ``client``.
    progress_bar : bool, optional
        Show a progress bar over batches (tqdm); default on in an interactive terminal, off when ``CI`` is set.

    Returns
    -------
    dict
        ``{name: Fit}`` in the order the names first appear (``by`` values; a tuple for several columns).

    Warns
    -----
    ConvergenceWarning
        Once, naming the fits that failed a diagnostic threshold (the first five, and how many more) with each
        one's first problem; each Fit's ``diagnostics`` has all of its own.

    Raises
    ------
    FitManyError
        When a call fails part way (out of memory; on a Dask cluster, a call that fails for good after Dask's own
        retries, or a client closed): its ``fits`` hold the fits that had finished, its ``failed`` the names of the
        others, and the original error is its ``__cause__``.

    Examples
    --------
    >>> import bayescale as bs, pandas as pd
    >>> runs = pd.concat([bs.simulate_ladder(seed=s).assign(task=f"t{s}") for s in range(8)], ignore_index=True)
    >>> fits = bs.fit_many("chinchilla", runs, by="task", seed=0)  # doctest: +SKIP
    >>> fits["t0"].summary().loc["alpha", "mean"]  # doctest: +SKIP
    """
    from bayescale.chain import Chain

    if isinstance(law, Chain):
        raise TypeError("fit_many fits laws, not chains: fit a Chain with bs.fit, once per data set (its groups= can "
                        "hold the tasks)")
    law = get_law(law)
    opts = _options(num_chains, num_warmup, num_samples, target_accept_prob, max_tree_depth, precision,
                    flops_per_param_token, warmup_tree_depth, mass_shrinkage, sampler,
                    sigma_scale=sigma_scale, group_scale=group_scale, warm_start=warm_start,
                    log_likelihood=log_likelihood, fallback=fallback,
                    flags={"dense_mass": dense_mass, "progress_bar": progress_bar})
    seed = _resolve_seed(seed)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    workers = _host_workers(host_workers)  # checked even with a client, which does not use it
    _check_client(client)
    tables = _split(runs, by, law, groups)
    preps, problems = [], []  # every fit's table problems, said in one error
    for name, frame in tables.items():
        which = f"fit {name!r}" + (f" (by={by!r})" if by is not None else "")
        try:
            with warnings.catch_warnings(record=True) as said:  # said again below, naming the fit they are about
                warnings.simplefilter("always")
                preps.append(_prepare(law, frame, groups=groups, pool=pool, pooling=pooling, likelihood=likelihood,
                                      noise=noise, sigma_scale=sigma_scale, group_scale=group_scale,
                                      flops_per_param_token=flops_per_param_token, crossed=crossed, fixed=fixed))
            for w in said:
                warnings.warn(f"{which}: {w.message}", w.category, skip_file_prefixes=_PACKAGE_DIRS)
        except RunTableError as err:
            problems += [f"{which}: {p}" for p in err.problems]
        except (ValueError, TypeError) as err:
            raise type(err)(f"{which}: {err}") from err
    if problems:
        raise RunTableError(problems, "the runs tables")
    names = list(tables)
    batches = _batches(preps, range(len(preps)), batch_size or _default_batch_size(preps, opts, client), opts)
    progress = _default_progress() if progress_bar is None else progress_bar

    def run(batches, opts_):
        def args(b):
            return [preps[i] for i in b], b, seed, opts_, dense_mass

        if client is None:
            return _pipelined(batches, args, workers)
        from dask.distributed import as_completed

        def remote():  # submitted here, inside gather's try: a cluster lost before a refit keeps the fits done
            futures: dict = {}
            try:
                futures.update({client.submit(_run_batch, *args(b), pure=False): b for b in batches})
                for fut in as_completed(list(futures), loop=client.loop):  # a client not the default too
                    yield futures[fut], fut.result()
            finally:  # after a failed call, the calls still queued or running are not left to the cluster
                with contextlib.suppress(Exception):  # a closed client cannot cancel: the error is the call's
                    client.cancel([f for f in futures if not f.done()])
                futures.clear()  # an error kept by the caller holds this frame: let the cluster free the results

        return remote()

    results: dict[int, Fit] = {}

    def gather(pairs, store: dict[int, Fit], total: int) -> None:
        """Collect the calls' fits into ``store``; a failed call raises FitManyError with every fit done so far."""
        bar = _bar(total, progress)
        try:
            for b, fits_b in pairs:
                bar.update(_collect(store, b, fits_b))
        except Exception as exc:
            done = results if store is results else {**results, **{i: _fell_back(f, results[i])
                                                                   for i, f in store.items()}}
            left = [names[i] for i in range(len(names)) if i not in done]
            raise FitManyError(
                f"a call of fit_many failed ({type(exc).__name__}: {exc}); {len(done)} of {len(names)} fits had "
                f"finished: they are in this error's .fits (by name), and the names of the other {len(left)} in "
                f".failed{' (the refits of failed fits were under way)' if store is not results else ''}; fit "
                "those again, e.g. in smaller calls (batch_size=)",
                {names[i]: done[i] for i in sorted(done)}, left) from exc
        finally:
            bar.close()

    gather(run(batches, opts), results, len(names))
    failed = [i for i in range(len(names)) if not results[i].diagnostics.ok]
    tried = opts
    while fallback and failed and (careful := _fallback_options(tried)) is not None:  # in batches of one structure
        size = batch_size or _default_batch_size([preps[i] for i in failed], careful, client)
        refits: dict[int, Fit] = {}
        if progress:
            print(f"bayescale: {len(failed)} of {len(names)} fits failed a check; refitting them with "
                  f"{_describe(careful)} ...", file=sys.stderr, flush=True)
        gather(run(_batches(preps, failed, size, careful), careful), refits, len(failed))
        for i, f in refits.items():
            results[i] = _fell_back(f, results[i])
        failed = [i for i in failed if not results[i].diagnostics.ok]
        tried = careful
    out = {names[i]: results[i] for i in range(len(names))}
    for i, fit_ in enumerate(out.values()):
        fit_.tree.attrs["fit_index"] = i
    bad = {k: f.diagnostics for k, f in out.items() if not f.diagnostics.ok}
    if bad:
        listed = "; ".join(f"{k!r}: {d.problems[0]}" for k, d in list(bad.items())[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        warnings.warn(f"{len(bad)} of {len(out)} fits failed a diagnostic check: {listed}{more}"
                      f"{_failure_hint([out[k] for k in bad])}", ConvergenceWarning,
                      skip_file_prefixes=_PACKAGE_DIRS)
    pressed = {k: p[0] for k, f in out.items() if (p := _noise_prior_problems(f))}
    if pressed:
        first, msg = next(iter(pressed.items()))
        warnings.warn(f"{len(pressed)} of {len(out)} fits ({', '.join(map(repr, list(pressed)[:5]))}"
                      f"{', ...' if len(pressed) > 5 else ''}) press against the noise prior; fit {first!r}: {msg}",
                      PriorWarning, skip_file_prefixes=_PACKAGE_DIRS)
    return out


fit.__doc__ = fit.__doc__.replace("{nuts}", _NUTS_DOC)
fit_many.__doc__ = fit_many.__doc__.replace("{nuts}", _NUTS_DOC)


# ---------------------------------------------------------------------------------------------- internals
PRECISIONS = ("float64", "float32")


@dataclass(frozen=True)
class _Options:
    num_chains: int
    num_warmup: int
    num_samples: int
    target_accept_prob: float
    max_tree_depth: int
    precision: str
    flops_per_param_token: float
    warmup_tree_depth: int  # at most max_tree_depth
    mass_shrinkage: float
    sampler: str = "nuts"
    warm_start: bool = False
    log_likelihood: bool = True

    def settings(self, dense_mass: bool) -> engine.NUTSSettings | engine.ChEESSettings:
        """Return the compiled sampler's settings for these options."""
        if self.sampler == "chees":
            return engine.ChEESSettings(self.num_warmup, self.num_samples, self.num_chains, self.target_accept_prob)
        return engine.NUTSSettings(self.num_warmup, self.num_samples, self.target_accept_prob, self.max_tree_depth,
                                   bool(dense_mass), warmup_tree_depth=self.warmup_tree_depth,
                                   mass_shrinkage=self.mass_shrinkage, warm_start=self.warm_start)


#: The step-size target of the NUTS refit of a NUTS fit that failed a check (``fallback=True``): Stan's last
#: advice for divergences. On 8 default ladders (``bs.simulate_ladder``) of each of the 10 laws with failing fits,
#: 2026-12-05, 59 of 80 fits passed when fitted at 0.99 against 31 at 0.9, for 1.7-4.1x the draws' gradients; on 8
#: Chinchilla ladders 0.95 left divergences in 5 fits, 0.99 in none.
REFIT_TARGET_ACCEPT = 0.99


def _fallback_options(opts: _Options) -> _Options | None:
    """Return the more careful sampler for refitting a failed fit run with ``opts``; None when none is left.

    ChEES's fits go to NUTS with its default chains, warm-up and draws; NUTS's to NUTS at
    :data:`REFIT_TARGET_ACCEPT` without the warm start (which may have started a chain in a minor mode).
    """
    if opts.sampler == "chees":
        chains, warmup, samples = SAMPLERS["nuts"]
        return dataclasses.replace(opts, sampler="nuts", num_chains=chains, num_warmup=warmup, num_samples=samples)
    if opts.target_accept_prob < REFIT_TARGET_ACCEPT:
        return dataclasses.replace(opts, target_accept_prob=REFIT_TARGET_ACCEPT, warm_start=False)
    return None


_SAMPLER_NAMES = {"nuts": "NUTS", "chees": "ChEES"}


def _check_draws_fit_in_memory(prep: _Prepared, opts: _Options) -> None:
    """Refuse, before compiling, a fit whose draws alone would exceed this machine's memory.

    The draws hold, per chain and draw, every run's log-likelihood (with ``log_likelihood=True``) and the law's
    parameters per group, in float64; ``num_samples=10**8`` otherwise ended in JAX's out-of-memory error after
    compiling, naming bytes rather than the option.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: nothing to compare with
        return
    per_draw = (len(prep.table.frame) if opts.log_likelihood else 0) + len(prep.law.params) * max(len(prep.levels), 1)
    need = 8 * opts.num_chains * opts.num_samples * per_draw
    if need > total:
        raise MemoryError(f"the draws would take about {need / 2**30:.0f} GiB ({opts.num_chains} chains x "
                          f"{opts.num_samples} draws x {per_draw} values), more than this machine's "
                          f"{total / 2**30:.0f} GiB: lower num_samples or num_chains"
                          + (", or pass log_likelihood=False (each run's log-likelihood per draw is most of it)"
                             if opts.log_likelihood else ""))


def _describe(opts: _Options) -> str:
    """Name a refit's sampler for progress lines: ``NUTS (target_accept_prob 0.99)``."""
    return f"{_SAMPLER_NAMES[opts.sampler]} (target_accept_prob {opts.target_accept_prob})"


def _fell_back(refit: Fit, failed: Fit) -> Fit:
    """Return ``refit`` with the failed fit appended to its ``meta["fallback_from"]``, or the better of the two.

    When the refit did worse (:func:`_did_worse`), the failed fit is returned with the refit appended to its
    ``meta["refit_not_kept"]``. Each entry holds the fit's sampler, target, problems, leapfrog steps, and its share
    of its call's sampler seconds (the call's run over its fits). A refit is not always better: after a warm-up far
    too short to adapt, the smaller steps of a higher target can mix worse still, and its checks would then speak
    for the worse draws.
    """
    if _did_worse(refit, failed):
        failed.meta["refit_not_kept"] = [*failed.meta.get("refit_not_kept", []), _attempt(refit)]
        failed.tree.attrs[_ATTR] = json.dumps(failed.meta)
        return failed
    # the refits not kept before this one were tried too: the record keeps every try, in order
    refit.meta["fallback_from"] = [*failed.meta.get("fallback_from", []), _attempt(failed),
                                   *failed.meta.get("refit_not_kept", [])]
    refit.tree.attrs[_ATTR] = json.dumps(refit.meta)
    return refit


def _attempt(fit_: Fit) -> dict[str, Any]:
    """One fit of a fallback's tries, as its ``meta`` records it."""
    options = fit_.meta["options"]
    return {"sampler": options.get("sampler", "nuts"), "target_accept_prob": options["target_accept_prob"],
            "problems": list(fit_.diagnostics.problems), "max_r_hat": float(fit_.diagnostics.max_r_hat),
            "warmup_steps": fit_.meta["sampler"]["warmup_steps"],
            "sample_steps": fit_.meta["sampler"]["sample_steps"],
            "sampler_seconds": options["sampler_seconds"] / options["batch_fits"]}


def _did_worse(refit: Fit, failed: Fit) -> bool:
    """Return whether a refit did worse than the fit it was to replace.

    Worse: chains that agree clearly less (a max R-hat over 0.01 above the first fit's), or, with R-hats within
    0.01 of each other, more checks failed. A refit whose chains agree clearly better is kept even when it fails
    more checks (its smaller steps hitting the tree-depth cap, say), since R-hat speaks for the draws' validity.
    """
    new, old = refit.diagnostics, failed.diagnostics
    if not new.problems:  # a refit that passes every check is kept, whatever R-hat the first fit had below 1.01
        return False
    r_new, r_old = (r if np.isfinite(r) else np.inf for r in (new.max_r_hat, old.max_r_hat))
    if abs(r_new - r_old) > 0.01:
        return r_new > r_old
    return len(new.problems) > len(old.problems)


def _resolve_seed(seed) -> int:
    """Return ``seed`` as an int; ``None`` draws a fresh one from the operating system's entropy."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, or None for a fresh seed (recorded in fit.meta['seed']); got "
                        f"{seed!r}")
    if not 0 <= int(seed) < 2**63:  # the keys take it modulo 2**63: -1 and 2**63 would repeat other seeds' draws
        raise ValueError(f"seed must be from 0 to 2**63 - 1, or None for a fresh seed; got {seed}")
    return int(seed)


#: Added to a failed ChEES fit's warning.
_CHEES_HINT = " (sampler='chees' with fallback=False: refit with sampler='nuts', which adapts to harder posteriors)"
#: Added to a failed warm-started NUTS fit's warning.
_WARM_START_HINT = (" (warm_start=True: a chain may have started in a minor mode, or in a hierarchical posterior's "
                    "funnel, that its search for the mode found; refit with warm_start=False)")


def _failure_hint(failed: Sequence[Fit]) -> str:
    """Return what to try next, for the warning about ``failed`` fits.

    For ChEES's fits, NUTS's warm-started ones, and hierarchical fits that pool every parameter.
    """
    options = [f.meta["options"] for f in failed]
    if any(o.get("sampler") == "chees" for o in options):
        hint = _CHEES_HINT
    else:
        hint = _WARM_START_HINT if any(o.get("warm_start") for o in options) else ""
    worse = next((f.meta["refit_not_kept"] for f in failed if f.meta.get("refit_not_kept")), None)
    if worse:
        from bayescale.report import _not_kept_line

        hint += (f"; {_not_kept_line(worse)}, which points to a warm-up too short to adapt (raise num_warmup) or "
                 "a posterior to reparameterise.")
    exact = next((f for f in failed if _noise_collapsed(f) is not None), None)
    if exact is not None:
        hint += (f" The noise sd sigma has collapsed towards 0 (posterior median {_noise_collapsed(exact):.2g}, its "
                 f"prior's scale {exact.config.sigma_scale:g}): the targets follow the law almost exactly (simulated "
                 "without noise, or smoothed curves?), a posterior too narrow to sample well, which running longer "
                 "does not mend; fit runs with their real noise, or give each run a known noise sd (noise= a "
                 "column).")
    pooled = next((f for f in failed if _pools_everything(f)), None)
    if pooled is not None:
        free = [p for p in pooled.law.params if p not in pooled.config.fixed]
        example = ", ".join(f"{p!r}: 'partial'" for p in free[:2])
        hint += (f" Every one of the law's {len(free)} parameters is partially pooled (as pool's default with "
                 "groups= does): each one pooled adds a population sd that the runs must pin down, and the funnels "
                 "between them are hard to sample. Pool only the parameters that differ between groups and share the "
                 f"rest, e.g. pool={{{example}}}.")
    return hint


#: A residual sd whose posterior median is below this share of its prior's scale has collapsed (noiseless targets):
#: losses' log residuals are about 0.004-0.03 against a scale of 0.1.
COLLAPSED_NOISE = 0.01


def _noise_collapsed(f: Fit) -> float | None:
    """Return the posterior median of ``sigma`` if below :data:`COLLAPSED_NOISE` of its prior's scale, else None."""
    post = f.tree.posterior
    if "sigma" not in post or post["sigma"].ndim != 2 or "sigma_slope" in post or f.meta.get("noise"):
        return None  # one sigma per group; or sigma beside known noise (or a slope), free to be near 0
    median = float(np.median(post["sigma"].values))
    return median if median < COLLAPSED_NOISE * f.config.sigma_scale else None


def _pools_everything(f: Fit) -> bool:
    """Whether a hierarchical fit partially pools every free law parameter, three or more of them.

    Two pooled parameters (a critical batch's ``s_min`` and ``b_noise`` over model sizes) are often the model meant;
    pooling every one of more is ``pool``'s default with ``groups=``, and seldom what the runs can pin down.
    """
    if not f.groups:
        return False
    free = [p for p in f.law.params if p not in f.config.fixed]
    return len(free) > 2 and all(f.config.pool.get(p) == "partial" for p in free)


#: The samplers of ``bs.fit`` and ``bs.fit_many``, with the defaults of ``(num_chains, num_warmup, num_samples)``.
#: ChEES's draws: its fits' worst R-hat fell with the draws as about 1 + 4.2 / draws (problem C, 100 fits a seed:
#: 1.0088-1.0103 over three seeds at 500 draws, 1.0054-1.0062 over four at 750, 1.0041-1.0052 at 1000), so 750
#: keeps well under the 1.01 threshold; its bulk ESS then is as large as NUTS's with 4 x 1000.
SAMPLERS = {"nuts": (4, 1000, 1000), "chees": (8, 200, 750)}


def _options(num_chains, num_warmup, num_samples, target_accept_prob, max_tree_depth, precision,
             flops_per_param_token, warmup_tree_depth, mass_shrinkage=None, sampler="nuts", *,
             sigma_scale=None, group_scale=0.5, warm_start=False, log_likelihood=True,
             fallback=True, flags: Mapping[str, Any] = ()) -> _Options:
    """Check the sampler's settings and return them.

    ``fallback`` (checked only) must be True or False, and ``flags`` are other options of the caller that must be
    True, False or None (None: the option's default).
    """
    _positive_number(flops_per_param_token, "flops_per_param_token", _FLOPS_HINT)
    if sigma_scale is not None:
        _positive_number(sigma_scale, "sigma_scale", " (the prior scale of the noise sd on the law's link scale)")
    _positive_number(group_scale, "group_scale", " (the prior scale of the spread of parameters across groups)")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is not one of {tuple(SAMPLERS)}")
    defaults = SAMPLERS[sampler]
    num_chains, num_warmup, num_samples = (d if v is None else v for v, d in
                                           zip((num_chains, num_warmup, num_samples), defaults, strict=True))
    for name, value in (("num_chains", num_chains), ("num_warmup", num_warmup), ("num_samples", num_samples),
                        ("max_tree_depth", max_tree_depth),
                        ("warmup_tree_depth", 1 if warmup_tree_depth is None else warmup_tree_depth)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(target_accept_prob, bool) or not isinstance(target_accept_prob, (int, float, np.floating)) \
            or not 0 < target_accept_prob < 1:
        raise ValueError(f"target_accept_prob must be in (0, 1), got {target_accept_prob!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}")
    for name, value in (("warm_start", warm_start), ("log_likelihood", log_likelihood), ("fallback", fallback)):
        _flag(value, name)
    for name, value in dict(flags).items():
        _flag(value, name, optional=True)
    if warmup_tree_depth is not None and warmup_tree_depth > max_tree_depth:
        raise ValueError(f"warmup_tree_depth={warmup_tree_depth} is deeper than max_tree_depth={max_tree_depth}: the "
                         "warm-up's cap cannot exceed the draws'; raise max_tree_depth too, or pass "
                         f"warmup_tree_depth={max_tree_depth} for no warm-up cap")
    if sampler == "chees" and num_chains < 2:
        raise ValueError(f"sampler='chees' adapts across a fit's chains: num_chains={num_chains} must be at least 2 "
                         f"(its default is {SAMPLERS['chees'][0]})")
    checked = engine.NUTSSettings(  # checks mass_shrinkage and resolves the warm-up's tree depth
        1, 1, max_tree_depth=int(max_tree_depth), warmup_tree_depth=warmup_tree_depth,
        mass_shrinkage=engine.DEFAULT_MASS_SHRINKAGE if mass_shrinkage is None else mass_shrinkage)
    return _Options(int(num_chains), int(num_warmup), int(num_samples), float(target_accept_prob),
                    int(max_tree_depth), precision, float(flops_per_param_token), int(checked.tree_depths[0]),
                    float(checked.mass_shrinkage), sampler, bool(warm_start), bool(log_likelihood))


@dataclass(frozen=True)
class _Prepared:
    """One validated fit problem: the table, the model structure and the unpadded model data."""

    law: Law
    table: RunTable
    config: ModelConfig
    log_x0: dict[str, float]
    data: ModelData
    levels: tuple[str, ...]
    #: Flat grid position of each run when ``data.grid`` (groups x points layout), else None.
    positions: np.ndarray | None = None


def _check_likelihood(law: Law, likelihood: str, noise: str | None) -> bool:
    """Refuse a likelihood the law's link (or the ``noise=`` column) does not allow; return whether it counts.

    A count likelihood is ``binomial`` or ``beta_binomial``. Shared by :func:`fit` and :func:`bayescale.calibrate`.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r} is not one of {LIKELIHOODS}")
    if likelihood == "beta" and (law.link != "logit" or noise is not None):
        raise ValueError(f"likelihood='beta' models a fraction in (0, 1): it needs a law with link='logit' (law "
                         f"{law.name!r} has link={law.link!r}) and no noise= column")
    counts = likelihood in COUNT_LIKELIHOODS
    if counts and (law.link != "logit" or noise is None):
        raise ValueError(f"likelihood={likelihood!r} models each score as correct answers out of a known number of "
                         f"items: it needs a law with link='logit' (law {law.name!r} has link={law.link!r}) and "
                         "noise= naming the column with each run's number of items")
    return counts


def _prepare(law: Law, runs, *, groups, pool, pooling, likelihood, noise, sigma_scale, group_scale,
             flops_per_param_token, crossed=None, crossed_priors=None, group_predictors=None,
             fixed=None) -> _Prepared:
    _check_refittable(law)
    counts = _check_likelihood(law, likelihood, noise)
    if sigma_scale is not None and "sigma" not in (own := noise_params(law, likelihood)):
        has = f"its noise is {', '.join(own)}" if own else "it has no noise parameter"
        raise ValueError(f"sigma_scale= sets the prior of the residual sd sigma, which likelihood={likelihood!r} has "
                         f"not ({has}); leave sigma_scale out")
    if pooling not in ("auto", "noncentred", "centred"):
        raise ValueError(f"pooling={pooling!r} is not one of ('auto', 'noncentred', 'centred')")
    predictors = _predictor_spec(law, group_predictors, pool, groups)
    table = validate_runs(runs, law, groups=groups, noise=noise, flops_per_param_token=flops_per_param_token,
                          keep=sorted({c for cols in predictors.values() for c in cols}), counts=counts)
    if not _is_built_in(law):  # the catalogue's laws are checked by their tests
        _check_law_on_runs(law, table)
    if pooling == "auto":
        smallest = int(table.frame.groupby(list(table.groups)).size().min()) if table.groups else 0
        pooling = "centred" if smallest >= CENTRED_MIN_RUNS else "noncentred"
    cross = _crossed_config(law, crossed, table.groups)
    modes = resolve_pool(law, pool, bool(table.groups), likelihood)
    for p in cross:
        if isinstance(pool, Mapping) and pool.get(p, "shared") != "shared":
            raise ValueError(f"parameter {p!r} is crossed (crossed=); leave it out of pool=")
        modes[p] = "crossed"
    held = _fixed_config(law, fixed, modes, predictors, named=set(pool) if isinstance(pool, Mapping) else set())
    modes.update({p: "shared" for p in held})  # a pool= string (or the default with groups) leaves fixed ones out
    _warn_thin_independent_groups(law, table, modes)
    table = _noted_thin_data(law, table, held)
    cross_levels = _crossed_levels(table.frame, cross)
    config = ModelConfig(
        pool=modes, likelihood=likelihood, group_scale=group_scale,
        sigma_scale=float(law.noise_scale if sigma_scale is None else sigma_scale),
        centred=pooling == "centred", crossed=cross, crossed_levels=cross_levels,
        crossed_priors=_crossed_priors(law, cross, cross_levels, crossed_priors),
        group_predictors=_predictor_centres(table, predictors),
        level=() if set(held) & set(law.level) else resolve_level(law, modes), fixed=held,
    )
    log_x0 = geometric_centre({k: table.frame[k].to_numpy() for k in law.inputs})
    data, levels, _ = _model_data(table, log_x0, config=config)
    positions = None
    if data.group is not None:
        data, positions = _grid_data(data)
    return _Prepared(law, table, config, log_x0, data, tuple(levels), positions)


def _fixed_config(law: Law, fixed, modes: Mapping[str, str], predictors: Mapping[str, Any],
                  named: set[str]) -> dict[str, float]:
    """Check ``fixed=`` (parameters held at a value) against the law and the hierarchy; return it as floats.

    ``named``: the parameters a ``pool=`` mapping names; a fixed one it names as varying by group is an error,
    while a ``pool=`` string (or the default partial pooling with groups) applies to the parameters not fixed. A
    fixed level parameter leaves the law's other level terms one site each (:class:`~bayescale.build.LevelSplit`
    splits the terms of parameters that are all sampled).
    """
    if fixed is None:
        return {}
    if not isinstance(fixed, Mapping):
        raise TypeError(f"fixed= must be a mapping of parameter to value, e.g. {{'alpha': 0.34}}, got "
                        f"{type(fixed).__name__}")
    unknown = [p for p in fixed if p not in law.params]
    if unknown:
        raise ValueError(f"fixed= names unknown parameter(s) {unknown}; law {law.name!r} has {list(law.params)}")
    held = {}
    for p, v in fixed.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"fixed[{p!r}] must be a number, got {v!r}")
        v = float(v)
        support = law.params[p].support
        if not np.isfinite(v) or not bool(support(v)):
            allowed = _support_words(support)
            raise ValueError(f"fixed[{p!r}] = {v!r} is outside the support of {p!r}'s prior "
                             f"({type(law.params[p]).__name__}: {allowed}); give {allowed}")
        if (p in named and modes.get(p, "shared") != "shared") or modes.get(p) == "crossed" or p in predictors:
            how = "is crossed (crossed=)" if modes.get(p) == "crossed" else (
                "has group predictors (group_predictors=)" if p in predictors else f"is {modes[p]} across groups")
            raise ValueError(f"parameter {p!r} {how} and fixed (fixed=): a fixed parameter is one value for every "
                             "run; drop it from one of them")
        held[p] = v
    if len(held) == len(law.params):
        raise ValueError(f"fixed= holds every parameter of law {law.name!r}: nothing of the law is left to fit; "
                         "leave at least one of them free")
    return held


def _support_words(support) -> str:
    """Return a prior's support in words, for errors: ``a number > 0``, ``a number between 0 and 1``, ...."""
    lo, hi = getattr(support, "lower_bound", None), getattr(support, "upper_bound", None)
    lo = None if lo is None or not np.isfinite(lo) else float(lo)
    hi = None if hi is None or not np.isfinite(hi) else float(hi)
    if lo is not None and hi is not None:
        return f"a number between {lo:g} and {hi:g}"
    if lo is not None:
        return f"a number > {lo:g}"
    if hi is not None:
        return f"a number < {hi:g}"
    return "a finite number"


def _check_law_on_runs(law: Law, table: RunTable) -> None:
    """Evaluate a user's law on the runs at its prior means: undefined everywhere is an error, somewhere a warning."""
    frame = table.frame
    try:
        with jax.enable_x64(True):
            v = np.asarray(law(**{x: frame[x].to_numpy(dtype=float) for x in law.inputs}, **law._prior_means()),
                           dtype=float)
    except Exception:  # noqa: BLE001 - the sampler's own error says more about a formula that cannot run
        return
    v = np.broadcast_to(v, (len(frame),))
    ok = np.isfinite(v)
    need = "finite"
    if law.link == "log":
        ok, need = ok & (v > 0), "finite and > 0 (the likelihood is on its log)"
    elif law.link == "logit":
        ok, need = ok & (v > 0) & (v < 1), "in (0, 1) (the likelihood is on its logit)"
    if ok.all():
        return
    what = (f"law {law.name!r} at its prior means is {v[~ok][0]:.4g} on {_rows(frame.index[~ok][:1])}, and not "
            f"{need} on {int((~ok).sum())} of {len(v)} runs")
    if not ok.any():
        raise LawSpecError(f"{what}: check fn's formula and signs, and that the runs are in its inputs' units")
    warnings.warn(f"{what} ({_rows(frame.index[~ok])}); the sampler must stay away from those values, which often "
                  "means divergences: check fn's formula and signs", DataWarning, skip_file_prefixes=_PACKAGE_DIRS)


def _structure(prep: _Prepared):
    """Return what must agree between fits that share one compiled program."""
    d = prep.data
    per_group = tuple(sorted(k for k, v in d.x.items() if d.grid and np.shape(v)[-1] == 1))  # (n_groups, 1) inputs
    return (json.dumps(prep.config.to_dict(), sort_keys=True), d.n_groups, d.grid, d.noise is not None, per_group)


def _slots(data: ModelData) -> int:
    """Length of the runs axis (the last axis) of model data."""
    return int(np.shape(data.y)[-1])


def _check_client(client) -> None:
    """Refuse a ``client=`` that is not a Dask client (an address or another executor, say), before any work."""
    if client is None:
        return
    distributed = sys.modules.get("distributed")  # loaded whenever a Client exists
    if distributed is not None and isinstance(client, distributed.Client):
        return
    fix = (f"connect first: from dask.distributed import Client; client = Client({client!r})"
           if isinstance(client, str) else "pass a dask.distributed.Client, or None to fit in this process")
    raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__} {client!r}; {fix}")


def _split(runs, by, law: Law | None = None, groups=None) -> dict[Any, pd.DataFrame]:
    if isinstance(runs, Mapping):
        if by is not None:
            raise ValueError("by= splits one DataFrame; runs is already a mapping of name to DataFrame")
        tables = dict(runs)
    else:
        if not isinstance(runs, pd.DataFrame):
            raise TypeError(f"runs must be a pandas DataFrame or a mapping of name to DataFrame, got "
                            f"{type(runs).__name__}")
        if by is None:
            raise ValueError("by= is required: name the column(s) that say which fit each run belongs to, e.g. "
                             "by='task'")
        cols = [by] if isinstance(by, str) or not np.iterable(by) else list(by)
        if not cols:
            raise ValueError("by= names no column: name the column(s) that say which fit each run belongs to")
        grouped = [groups] if isinstance(groups, str) else list(groups or ())
        taken = [c for c in cols if law is not None and (c in law.inputs or c == law.target) or c in grouped]
        if taken:
            raise ValueError(f"by column(s) {taken} are the law's inputs, its target or groups=; by= names the "
                             "column that says which fit each run belongs to (task, data set, replicate)")
        missing = [c for c in cols if c not in runs.columns]
        if missing:
            hints = "".join(f"; did you mean {' or '.join(map(repr, close))} for {c!r}?" for c in missing
                            if isinstance(c, str) and (close := _suggest(c, runs.columns)))
            levels = [c for c in missing if c in runs.index.names]
            if levels:
                hints += f"; {levels} name index levels: make them columns first, runs.reset_index()"
            raise ValueError(f"by column(s) {missing} not in runs (columns: {list(runs.columns)}){hints}")
        def where(mask) -> str:  # row labels, or positions where the labels repeat (pd.concat without ignore_index)
            if runs.index.is_unique:
                return _rows(runs.index[mask])
            return (f"{_rows(np.flatnonzero(mask))} by position (the index repeats labels; "
                    "runs.reset_index(drop=True) numbers the rows)")

        nulls = runs[cols].isna().any(axis=1).to_numpy()
        if nulls.any():
            raise ValueError(f"by column(s) {cols} are missing in {where(nulls)}: every run must name its fit")
        for c in cols:
            odd = ~runs[c].map(lambda v: isinstance(v, Hashable)).to_numpy(bool)
            if odd.any():
                raise ValueError(f"by column {c!r} holds {type(runs[c][odd].iloc[0]).__name__} values in "
                                 f"{where(odd)}, which cannot name a fit; give each run a label (text or a "
                                 f"number), e.g. runs[{c!r}] = runs[{c!r}].map(tuple) for lists")
        alike = {c: same for c in cols if (same := _alike_labels(runs[c]))}
        if alike:
            c, same = next(iter(alike.items()))
            raise ValueError(f"by column {c!r} has different labels that read the same as text or compare equal "
                             f"({same}), so their fits would be hard to tell apart, or one fit; give each fit one "
                             f"label of one type, e.g. runs[{c!r}] = runs[{c!r}].astype(str) (1 and '1' then name "
                             f"one fit, 1 and 1.0 two)")
        key = runs[cols[0]] if len(cols) == 1 else [runs[c] for c in cols]  # columns: an index level may share a name
        tables = {name: frame.drop(columns=cols) for name, frame in runs.groupby(key, sort=False)}
    if not tables:
        raise ValueError("no fits: runs is empty")
    return tables


#: Most bytes of draws and pointwise log-likelihoods one call of ``fit_many`` holds on an accelerator by default.
_BATCH_BYTES = 4 * 2**30
#: Most fits per call on an accelerator by default. Measured on an NVIDIA H200 (Chinchilla law, 30 runs, 4 chains x
#: 1000 + 1000): one call of 8, 100 and 400 fits sampled in 28, 35 and 41 s; one call of 1000 fits did not finish
#: within 300 s.
_ACCELERATOR_MAX_BATCH = 400


def _default_batch_size(preps: Sequence[_Prepared], opts: _Options, client=None) -> int:
    """``fit_many``'s default fits per call: 32 on CPU; on an accelerator what fits in ``_BATCH_BYTES``, <= 400.

    With a Dask ``client``, no more than shares every worker a call: at 32, a cluster of 8 workers given 60 fits
    ran them all on one worker.
    """
    if jax.default_backend() == "cpu":
        size = 32
    else:
        values = max(int(np.size(p.data.y)) for p in preps) + 64  # log-likelihoods, plus parameters and stats
        per_fit = opts.num_chains * opts.num_samples * values * (8 if opts.precision == "float64" else 4)
        size = int(np.clip(_BATCH_BYTES // per_fit, 1, _ACCELERATOR_MAX_BATCH))
    if client is None:
        return size
    try:
        workers = len(client.nthreads())
    except Exception:  # a closed client or lost scheduler: submitting the call says so, keeping the fits done
        return size
    if not workers:
        warnings.warn("the Dask cluster has no workers yet: fit_many waits until some join (start them, or scale "
                      "the cluster up)", RuntimeWarning, skip_file_prefixes=_PACKAGE_DIRS)
        return size
    return max(1, min(size, -(-len(preps) // workers)))


def _batches(preps: Sequence[_Prepared], indices: Iterable[int], batch_size: int, opts: _Options
             ) -> list[list[int]]:
    """Split ``indices`` of ``preps`` into calls of one structure each (first appearance first), <= batch_size.

    On CPU, where threads take a call's jobs one at a time (:func:`bayescale.engine.threaded`) from a program whose
    shape does not depend on their number, the calls share the fits out evenly, none repeated
    (:func:`_even_batches`); on an accelerator, whose program has the call's shape, they have one size
    (:func:`_equal_batches`).
    """
    structures: dict[Any, list[int]] = {}
    for i in indices:
        structures.setdefault(_structure(preps[i]), []).append(i)
    split = _even_batches if engine.threaded() else _equal_batches
    return [b for idx in structures.values() for b in split(idx, batch_size)]


def _even_batches(idx: list[int], batch_size: int) -> list[list[int]]:
    """Split ``idx`` into the fewest calls of at most ``batch_size``, their sizes differing by at most one."""
    return [b.tolist() for b in np.array_split(np.asarray(idx, dtype=int), -(-len(idx) // batch_size))]


def _equal_batches(idx: list[int], batch_size: int) -> list[list[int]]:
    """Split ``idx`` into the fewest calls of one size (<= batch_size), padding the last with repeats.

    An accelerator's program has the call's shape, so every call of a structure reuses one program.
    """
    n_calls = -(-len(idx) // batch_size)
    size = -(-len(idx) // n_calls)
    padded = idx + idx[: n_calls * size - len(idx)]
    return [padded[j:j + size] for j in range(0, len(padded), size)]


def _collect(results: dict[int, Fit], batch: Sequence[int], fits: Sequence[Fit]) -> int:
    """Keep each fit once (padding repeats are dropped); return how many fits were new."""
    new = 0
    for i, f in zip(batch, fits, strict=True):
        if i not in results:
            results[i] = f
            new += 1
    return new


def _bar(total: int, enabled: bool, desc: str = "bayescale fits"):
    """Return a tqdm bar over ``total`` fits (disabled unless ``enabled``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="fit", disable=not enabled)


_DENSE_CACHE: dict[Any, int] = {}


#: Most unconstrained parameters for which ``dense_mass=None`` picks a dense mass matrix. Measured on the
#: Chinchilla law over 64 groups x 60 runs (about 140 parameters; each group's ``a`` correlates with the shared
#: exponent): dense gave min bulk ESS 3880 in a 19 s sampler run, diagonal 231 in 29 s (and R-hat 1.03).
DENSE_MAX_PARAMS = 200


def _dense(prep: _Prepared, model, dense_mass: bool | None) -> bool:
    if dense_mass is not None:
        return bool(dense_mass)
    key = (id(prep.law), _structure(prep))
    if key not in _DENSE_CACHE:
        with jax.enable_x64(True):
            _DENSE_CACHE[key] = _count_unconstrained(model, prep.data)
    return _DENSE_CACHE[key] <= DENSE_MAX_PARAMS


def _padded(data: ModelData, size: int, dtype) -> ModelData:
    """Pad the runs axis (the last) to ``size`` with copies of the first run, masked out of the likelihood."""
    slots = _slots(data)
    pad = size - slots
    mask = np.ones(np.shape(data.y), dtype=bool) if data.mask is None else np.asarray(data.mask)

    def grow(v, cast=True):
        v = np.asarray(v)
        if pad and v.shape[-1] == slots:  # an input laid out once per group, (n_groups, 1), has nothing to pad
            v = np.concatenate([v, np.repeat(v[..., :1], pad, axis=-1)], axis=-1)
        return v.astype(dtype) if cast else v

    return dataclasses.replace(
        data,
        x={k: grow(v) for k, v in data.x.items()},
        log_x0={k: np.asarray(v, dtype=dtype) for k, v in data.log_x0.items()},
        group=None if data.group is None else grow(data.group, cast=False),
        noise=None if data.noise is None else grow(data.noise),
        y=grow(data.y),
        mask=np.concatenate([mask, np.zeros(mask.shape[:-1] + (pad,), dtype=bool)], axis=-1) if pad else mask,
    )


def _run_batch(preps: Sequence[_Prepared], indices: Sequence[int], seed: int, opts: _Options,
               dense_mass: bool | None) -> list[Fit]:
    """Fit problems of one structure in one call of one compiled program; one :class:`Fit` each.

    ``indices`` number the problems within their call of ``fit``/``fit_many``; with ``seed`` they pick the chains'
    random keys (:func:`bayescale.engine.job_keys`), so a fit's draws do not depend on how fits are batched.
    """
    return _build_fits(_launch_batch(preps, indices, seed, opts, dense_mass))


def _pipelined(batches: Sequence[Sequence[int]], args: Callable, host_workers: int = 0
               ) -> Iterator[tuple[Sequence[int], list[Fit]]]:
    """``(batch, fits)`` for each batch, each batch's fits built while the devices sample the next batch.

    Building and checking a :class:`Fit` (ArviZ's DataTree and diagnostics, in Python) takes tens of milliseconds
    a fit; here it overlaps the next call's sampling instead of following it, and with ``host_workers`` > 0 the
    diagnostics run in that many worker processes. A call starts only once the one before has finished, so each
    call's ``sampler_seconds`` is its own run.
    """
    _warm_host_workers(host_workers)
    done = None
    for b in batches:
        try:
            launched = _launch_batch(*args(b))
        except Exception:
            if done is not None:  # the call before has finished: its fits are kept, not lost with this one
                yield done[0], _build_fits(done[1], host_workers)
            raise
        if done is not None:
            yield done[0], _build_fits(done[1], host_workers)
        launched.pending.result()  # wait here: the next call is launched the moment this one ends
        done = b, launched
    if done is not None:
        yield done[0], _build_fits(done[1], host_workers)


def _launch_batch(preps: Sequence[_Prepared], indices: Sequence[int], seed: int, opts: _Options,
                  dense_mass: bool | None) -> _Launched:
    """Compile (if new) and start the sampler of one :func:`_run_batch` call."""
    engine.enable_persistent_cache()
    first = preps[0]
    law, config = first.law, first.config
    model = build_model(law, config)
    dense = _dense(first, model, dense_mass)
    settings = opts.settings(dense)
    x64 = opts.precision == "float64"
    structure = (law.name, _structure(first), opts.precision)
    prog = engine.program((id(law), *structure), model, settings,
                          loglik_site=obs_site(law) if opts.log_likelihood else None,
                          store_key=_store_key(law, structure))
    size = engine.bucket(max(_slots(p.data) for p in preps))
    dtype = np.float64 if x64 else np.float32
    c = opts.num_chains
    with jax.enable_x64(x64):
        padded = [_padded(p.data, size, dtype) for p in preps]
        jobs = jax.tree.map(lambda *v: np.repeat(np.stack(v), c, axis=0), *padded)
        chain_keys = np.concatenate([engine.job_keys(seed, i, c) for i in indices])
        pending = prog.launch(chain_keys, jobs, while_compiling=_prefetch_imports)
    return _Launched(preps, seed, opts, prog, dense, size, pending)


@dataclass
class _Launched:
    """One call of :func:`_run_batch`: its problems and settings, and its run on the devices (``pending``)."""

    preps: Sequence[_Prepared]
    seed: int
    opts: _Options
    prog: Any
    dense: bool
    size: int
    pending: Any


def _build_fits(done: _Launched, host_workers: int = 0) -> list[Fit]:
    """One :class:`Fit` per problem of a call (waits for its run), diagnosed together (:func:`_worst_stats`).

    With ``host_workers`` > 0 the diagnostics run in that many worker processes (:func:`_host_stats`) while this
    process builds the fits' DataTrees.
    """
    samples, stats = done.pending.result()
    opts, c, n = done.opts, done.opts.num_chains, len(done.preps)
    first = done.preps[0]
    var_names = _param_names(first.law, first.config, samples)
    # NumPy arrays (never JAX's, which would start a JAX backend, a GPU's among them, in every worker)
    post = {v: np.asarray(samples[v]).reshape(n, c, *np.shape(samples[v])[1:]) for v in var_names}
    worst = _host_stats(post, host_workers)
    run_info = {**_run_info(done.prog, done.dense, n, c, done.size, done.pending.seconds, opts.sampler),
                "host_workers": host_workers}
    law_dict, versions = _law_meta(first.law), _versions()
    out, judged, shared = [], [], {}
    for i, prep in enumerate(done.preps):
        sl = slice(i * c, (i + 1) * c)
        fit_stats = {k: v[sl] for k, v in stats.items()}
        out.append(_make_fit(prep, {k: v[sl] for k, v in samples.items()}, fit_stats, seed=done.seed, opts=opts,
                             run_info=run_info, law_dict=law_dict, versions=versions, shared=shared))
        judged.append(_engine_stats(fit_stats, opts.sampler))
    diagnostics = _judge_all(worst(), judged, opts.max_tree_depth, opts.warmup_tree_depth, opts.target_accept_prob)
    for f, d in zip(out, diagnostics, strict=True):
        f._diagnostics = d
    return out


#: Fewest fits a worker process is given to diagnose (fewer cost more to send than to compute).
_MIN_FITS_PER_WORKER = 8


def _host_workers(requested: int | None) -> int:
    """How many worker processes diagnose ``fit_many``'s fits.

    ``requested``, or by default none on a CPU (its cores are sampling the next call meanwhile) and up to 8 on an
    accelerator's host, leaving two of its cores free.
    """
    if requested is None:
        return 0 if jax.default_backend() == "cpu" else max(0, min(8, (os.cpu_count() or 1) - 2))
    if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)) or requested < 0:
        raise ValueError(f"host_workers must be a non-negative integer (0: diagnose in this process), got "
                         f"{requested!r}")
    return int(requested)


def _host_executor(workers: int):
    """Return loky's reusable pool of ``workers`` processes (started once, kept between calls).

    Loky rather than :mod:`multiprocessing`: its workers do not run the user's ``__main__`` module again, so a
    script without an ``if __name__ == "__main__":`` guard still works, and a worker that dies breaks its futures
    instead of hanging them.
    """
    from loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers, timeout=300)


def _worker_ready() -> None:
    """Import what :func:`_worst_stats` needs (run in each worker while the first program compiles)."""
    import arviz_stats  # noqa: F401
    import xarray  # noqa: F401


def _warm_host_workers(workers: int) -> None:
    """Start the worker processes and their imports now, so that they overlap compilation."""
    if workers > 0:
        with contextlib.suppress(Exception):  # _host_stats reports a pool that cannot start
            ex = _host_executor(workers)
            for _ in range(workers):
                ex.submit(_worker_ready)


def _host_stats(post: Mapping[str, np.ndarray], workers: int
                ) -> Callable[[], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Start :func:`_worst_stats` on draws shaped ``(fits, chains, draws, ...)``; return a function for its result.

    The function waits for the result. With ``workers`` > 0 the fits are split into shares of at least
    :data:`_MIN_FITS_PER_WORKER`, each diagnosed in a worker process, and the result is the same as in this process
    (the same ArviZ calls on the same numbers). If the pool breaks (a worker killed, for one), the shares are
    diagnosed here instead, with a warning.
    """
    n = len(next(iter(post.values())))
    if workers <= 0:
        return lambda: _worst_stats(post)
    shares = np.array_split(np.arange(n), max(1, min(workers, n // _MIN_FITS_PER_WORKER)))
    parts = [{v: a[idx] for v, a in post.items()} for idx in shares]
    try:
        ex = _host_executor(workers)
        futures = [ex.submit(_worst_stats, part) for part in parts]
    except Exception as err:  # noqa: BLE001 - a pool that cannot start (loky missing, say): diagnose here
        failed = err
        return lambda: _host_fallback(parts, failed)

    def result():
        from concurrent.futures.process import BrokenProcessPool

        try:
            return _joined([f.result() for f in futures])
        except BrokenProcessPool as err:
            return _host_fallback(parts, err)

    return result


def _host_fallback(parts, err: BaseException) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    warnings.warn(f"bayescale: the worker processes diagnosing fits failed ({type(err).__name__}: {err}); "
                  f"diagnosing in this process instead (host_workers=0 does so from the start)", RuntimeWarning,
                  skip_file_prefixes=_PACKAGE_DIRS)
    return _joined([_worst_stats(part) for part in parts])


def _joined(shares: Sequence[Mapping[str, tuple]]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_worst_stats` of consecutive shares of fits, joined in order."""
    return {v: tuple(np.concatenate([w[v][k] for w in shares]) for k in range(3)) for v in shares[0]}


def _param_names(law: Law, config: ModelConfig, available) -> list[str]:
    """Posterior variables that summarise the model (law parameters, population and noise parameters)."""
    names = [p for p in law.params if p not in config.fixed]  # a fixed parameter is a constant: nothing to judge
    for p, mode in config.pool.items():
        if mode == "partial":
            names += [f"{p}_loc", f"{p}_scale"]
    # the group-level predictors' coefficients (<p>_on_<column>): population parameters, judged as the others
    names += [f"{p}_on_{col}" for p, cols in config.group_predictors.items() for col in cols]
    names += list(noise_params(law, config.likelihood))
    return [v for v in names if v in available]


_PREFETCH: list[threading.Thread] = []


def _prefetch_imports() -> None:
    """Import what building and checking a :class:`Fit` needs, in a background thread, once per process.

    Passed to :meth:`bayescale.engine.NUTSProgram.run` as ``while_compiling``.

    The modules are ArviZ (with SciPy's statistics) and xarray's optional array backends. XLA compiles on one core
    and releases the GIL, so these imports (about 1 s on a 2-core machine) overlap the compilation rather than
    follow the sampling. The main thread imports the same modules when it needs them; Python's import locks make
    it wait for a module the thread is still importing.
    """
    if _PREFETCH or "arviz_stats" in sys.modules:
        return

    def work():
        with contextlib.suppress(Exception):  # the main thread imports (and reports) anything that fails here
            import arviz_base  # noqa: F401
            import arviz_stats  # noqa: F401
            import xarray as xr

            xr.DataArray(np.zeros(1))  # xarray looks up its optional array backends (dask) on first use

    thread = threading.Thread(target=work, name="bayescale-imports", daemon=True)
    _PREFETCH.append(thread)
    thread.start()


def _run_info(prog, dense: bool, n_fits: int, num_chains: int, size: int, seconds: float,
              sampler: str = "nuts") -> dict[str, Any]:
    """How a call of the engine ran, for the ``options`` of each fit's metadata.

    ``sampler_seconds`` is the wall time of the compiled sampler's run (initialisation, warm-up, draws and
    log-likelihood of every chain; not tracing or compiling it), shared by the ``batch_fits`` fits of one call.
    """
    if sampler == "chees":  # a fit's chains in lockstep (Laplace metric: dense); fits spread over the devices
        n_dev = min(jax.local_device_count(), n_fits)
        dense, method = True, "lockstep"
    else:
        n_dev = min(jax.local_device_count(), n_fits * num_chains)
        method = "parallel" if n_dev >= n_fits * num_chains else prog.batching
    return {"sampler": sampler, "dense_mass": bool(dense), "chain_method": method,
            "devices": f"{n_dev} {jax.default_backend()}", "padded_runs": size, "batch_fits": n_fits,
            "sampler_seconds": round(float(seconds), 4)}


def _make_fit(prep: _Prepared, samples: Mapping[str, np.ndarray], stats: Mapping[str, np.ndarray], *, seed: int,
              opts: _Options, run_info: Mapping[str, Any], law_dict=None, versions=None,
              extra: Mapping[str, Any] | None = None, shared: dict | None = None) -> Fit:
    """Wrap one problem's draws and sampler statistics (chains leading) as a :class:`Fit` with its metadata.

    ``shared``: one dict for the fits of a call, in which their trees share coordinates (:func:`_direct_tree`).
    """
    law = prep.law
    tree = _tree(prep, samples, stats, opts.max_tree_depth, opts.sampler, shared)
    meta = {
        "law": _law_meta(law) if law_dict is None else law_dict,
        "config": prep.config.to_dict(),
        "groups": list(prep.table.groups),
        "levels": list(prep.levels),
        "noise": prep.table.noise,
        "log_x0": prep.log_x0,
        "seed": seed,
        "posterior_vars": sorted(samples),
        "options": {"num_chains": int(np.shape(stats["diverging"])[0]), "num_warmup": opts.num_warmup,
                    "num_samples": opts.num_samples, "target_accept_prob": opts.target_accept_prob,
                    "max_tree_depth": opts.max_tree_depth,
                    "warmup_tree_depth": opts.warmup_tree_depth, "mass_shrinkage": opts.mass_shrinkage,
                    "warm_start": opts.warm_start, "log_likelihood": opts.log_likelihood,
                    "precision": opts.precision,
                    "flops_per_param_token": opts.flops_per_param_token, **run_info},
        "sampler": {"warmup_steps": int(np.sum(stats["warmup_steps"])),
                    "sample_steps": int(np.sum(stats["num_steps"])),
                    **({"warm_started_chains": int(np.sum(stats["warm_started"]))} if "warm_started" in stats
                       else {})},
        "notes": list(prep.table.notes),
        "input_hash": _input_hash(prep.table.frame),
        "run_index": _index_kind(prep.table.frame.index),
        "versions": _versions() if versions is None else versions,
        **(extra or {}),
    }
    tree.attrs[_ATTR] = json.dumps(meta)
    tree.attrs["law"] = law.name
    tree.attrs["seed"] = seed
    tree.attrs["input_hash"] = meta["input_hash"]
    return Fit(tree, law=law)


def _law_meta(law: Law) -> dict[str, Any]:
    """Return the law's spec for a fit's metadata.

    A law whose priors cannot be written down is kept by name with the reason: the fit works in this process, and
    only saving it is refused (:func:`_check_savable`), rather than the finished fit being lost.
    """
    try:
        return law.to_dict()
    except LawSpecError as err:
        return {"name": law.name, "unsaved": str(err)}


def _check_savable(tree: xr.DataTree) -> None:
    """Refuse to save a fit whose law cannot be written down; warn when its function could not be exported.

    Such a file still loads where the law is registered, but nowhere else.
    """
    metas = [json.loads(node.attrs[_ATTR]) for node in tree.subtree if _ATTR in node.attrs]
    for meta in metas:
        law = meta.get("law", {})
        if law.get("unsaved"):
            raise LawSpecError(f"this fit cannot be saved: {law['unsaved']}")
        reg = _REGISTRY.get(law.get("name"))
        if law.get("fn_export") is None and not (reg is not None and _is_built_in(reg)):
            warnings.warn(f"law {law.get('name')!r}: its function could not be exported (jax.export), so the saved "
                          "fit loads only where the law is registered: import the module that defines it and call "
                          "bs.register(law) before bs.load (a function written with jax.numpy exports)", UserWarning,
                          skip_file_prefixes=_PACKAGE_DIRS)


def _store_key(law: Law, structure) -> str | None:
    """Name of the model across processes: a digest of the law's full spec (priors, exported ``fn``) and structure.

    None (the program is not stored) for a law whose function cannot be exported or whose priors cannot be written
    down, since nothing else would tell two such laws of the same name apart.
    """
    try:
        spec = law.to_dict()
    except LawSpecError:
        return None
    if spec["fn_export"] is None or (spec["floor"] and spec["floor_export"] is None):
        return None
    return hashlib.sha256(json.dumps([spec, structure], sort_keys=True, default=str).encode()).hexdigest()


def _count_unconstrained(model, data) -> int:
    """Count the latent values by tracing the model abstractly (nothing is compiled or sampled)."""
    from numpyro import handlers

    count = []

    def trace(d):
        tr = handlers.trace(handlers.seed(model, 0)).get_trace(d)
        count.append(sum(int(np.prod(jnp.shape(s["value"]))) for s in tr.values()
                         if s["type"] == "sample" and not s.get("is_observed", False)))
        return 0.0

    jax.eval_shape(trace, data)
    return count[0]


def _tree(prep: _Prepared, samples: Mapping[str, np.ndarray], stats: Mapping[str, np.ndarray], max_tree_depth: int,
          sampler: str = "nuts", shared: dict | None = None):
    """Return the ArviZ DataTree of one fit from the engine's arrays (chains x draws leading).

    ``shared``: see :func:`_direct_tree`.
    """
    import arviz_base as azb

    law, table = prep.law, prep.table
    frame = table.frame
    n = len(frame)
    site = obs_site(law)
    coords = {"run": [str(i) for i in frame.index]}
    if table.groups:
        coords[_group_dim(table.groups)] = list(prep.levels)
    for vector, levels in prep.config.crossed_levels.items():
        coords[f"{vector}_level"] = list(levels)
    level = level_params(law, prep.config)
    if level:
        coords["term"] = list(level)
    constant = {k: frame[k].to_numpy(dtype=np.float64) for k in law.inputs}
    if table.groups:
        constant["group_code"] = group_codes(frame, table.groups, prep.levels)[0]
    if table.noise is not None:
        constant["noise"] = frame[table.noise].to_numpy(dtype=np.float64)
    for col in _predictor_columns(prep.config):
        constant[col] = frame[col].to_numpy(dtype=np.float64)
    loglik = stats.get("log_likelihood")  # None: fitted with log_likelihood=False
    if loglik is not None:
        loglik = _per_run(np.asarray(loglik), prep.positions, n)
    dims = _dims(law, config=prep.config, groups=table.groups)
    for k in constant:
        dims[k] = ["run"]
    y = frame[law.target].to_numpy(dtype=np.float64)
    judged = _engine_stats(stats, sampler)  # what the diagnostics read, as fit_many judges them
    sample_stats = {
        "diverging": judged["diverging"],
        "energy": judged["energy"],
        "n_steps": np.asarray(stats["num_steps"]),
        "step_size": np.asarray(stats["step_size"]),
        "acceptance_rate": np.asarray(stats["accept_prob"]),
        "lp": -np.asarray(stats["potential_energy"]),
    }
    if "tree_depth" in judged:  # NUTS only
        depth = judged["tree_depth"]
        sample_stats.update(tree_depth=depth, reached_max_tree_depth=depth >= max_tree_depth,
                            reached_max_treedepth=depth >= max_tree_depth)  # ArviZ's diagnose reads this name
    groups = {
        "posterior": {k: np.asarray(v) for k, v in samples.items()},
        "sample_stats": sample_stats,
        **({"log_likelihood": {site: loglik}} if loglik is not None else {}),
        "observed_data": {site: to_site(law, prep.config.likelihood, y, constant.get("noise"))},
        "constant_data": constant,
    }
    attrs = {"/": {"inference_library": "numpyro" if sampler == "nuts" else "blackjax",
                   "sampler": f"bayescale.engine.{'NUTSProgram' if sampler == 'nuts' else 'ChEESProgram'}"}}
    tree = _direct_tree(groups, coords, dims, attrs, shared)
    if tree is not None:
        return tree
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return azb.from_dict(groups, coords=coords, dims=dims, attrs=attrs)


def _per_run(values: np.ndarray, positions: np.ndarray | None, n: int) -> np.ndarray:
    """Return pointwise values (chains x draws x the model's layout) in the fit's run order.

    The layout is groups x slots (``positions``: each run's flat position in it), or ``n`` runs then padding.
    """
    if positions is not None:  # groups x slots -> runs
        return values.reshape(values.shape[:2] + (-1,))[..., positions]
    return values[..., :n]


def _engine_stats(stats: Mapping[str, np.ndarray], sampler: str) -> dict[str, np.ndarray]:
    """One fit's engine statistics (chains x draws) that its diagnostics read, as its tree records them.

    ``tree_depth`` (from each draw's leapfrog steps) only for NUTS: ChEES's HMC builds no tree, and its ``n_steps``
    are each trajectory's leapfrog steps.
    """
    out = {"diverging": np.asarray(stats["diverging"], dtype=bool), "energy": np.asarray(stats["energy"])}
    if sampler == "nuts":
        out["tree_depth"] = np.floor(np.log2(np.maximum(np.asarray(stats["num_steps"]), 1))).astype(int) + 1
    return out


_SAMPLE_DIMS = ("chain", "draw")


def _direct_tree(groups: Mapping[str, Mapping[str, np.ndarray]], coords: Mapping[str, Sequence],
                 dims: Mapping[str, Sequence[str]], attrs: Mapping[str, Mapping], shared: dict | None = None):
    """Build the DataTree that ``arviz_base.from_dict(groups, coords=coords, dims=dims, attrs=attrs)`` builds, or None.

    Each group's Dataset is made in one xarray call rather than one DataArray per variable merged afterwards:
    8 ms against ArviZ's 25 ms for a fit of problem C (19 variables in 5 groups), which adds up over the thousands of
    fits of ``fit_many``, SBC and backtests. It covers the trees :func:`_tree` makes, where every axis of every
    variable is named by ``dims``; for any other (an unnamed axis, which ArviZ names ``<var>_dim_0``) it returns
    None and the caller uses ArviZ. ``tests/test_fit.py`` checks both give identical trees.

    ``shared`` is a dict the caller keeps across the fits of one call. Each dimension's coordinate and index are
    made once per tree, and those of the numbered dimensions (``chain``, ``draw``) once per call: xarray then
    builds no index of its own (indexes are immutable, so sharing them is safe). And the first tree of each layout
    (groups, variables, dims, shapes and dtypes, label counts) becomes a :class:`_TreeTemplate`, from which the
    later trees of that layout are made with this fit's arrays, labels and attrs, without xarray's checks and
    copies, which the first tree passed: for problem C's fits, 0.70-0.74 ms a tree against 4.7-5.5 ms (this
    function, alternating in one process, on a slow hour of 2 CPU cores; 2026-12-05).
    """
    import arviz_base as azb
    import xarray as xr

    keep = shared is not None
    shared = {} if shared is None else shared
    labelled: dict[str, tuple] = {}

    def index(d, n):  # (variable, index) of dimension d of size n
        if d in coords:
            if d not in labelled:
                labelled[d] = _dim_index(d, np.asarray(coords[d]))
            return labelled[d]
        if (d, n) not in shared:
            shared[d, n] = _dim_index(d, np.arange(n))
        return shared[d, n]

    contents, layout = {}, []
    for group, data in groups.items():
        sample_dims = () if "data" in group else _SAMPLE_DIMS
        variables, sizes = {}, {}
        for name, values in data.items():
            values = np.asarray(values)
            var_dims = (*sample_dims, *dims.get(name, ()))
            if values.ndim != len(var_dims):
                return None
            variables[name] = (var_dims, values)
            for d, n in zip(var_dims, values.shape, strict=True):
                if sizes.setdefault(d, n) != n or (d in coords and len(coords[d]) != n):
                    return None
        group_attrs = azb.base.make_attrs(attrs.get(group), sample_dims=list(sample_dims))
        contents[group] = (variables, sizes, group_attrs)
        layout.append((group, tuple((k, v[0], v[1].shape, v[1].dtype.str) for k, v in variables.items())))
    root_attrs = dict(attrs.get("/", {}))
    key = ("tree", tuple(layout), tuple((d, len(v)) for d, v in coords.items()))
    template = shared.get(key)
    if template:
        return template.fill(contents, {d: index(d, len(coords[d])) for d in template.labelled}, root_attrs)
    datasets = {}
    for group, (variables, sizes, group_attrs) in contents.items():
        made = {d: index(d, n) for d, n in sizes.items()}
        coordinates = xr.Coordinates({d: v for d, (v, _) in made.items()}, indexes={d: i for d, (_, i) in made.items()})
        datasets[group] = xr.Dataset(variables, coords=coordinates, attrs=group_attrs)
    tree = xr.DataTree.from_dict(datasets)
    tree.attrs = root_attrs
    if keep and key not in shared:  # False: this layout's trees cannot be templated, so none is tried again
        shared[key] = _TreeTemplate.of(tree, contents, labelled) or False
    return tree


class _TreeTemplate:
    """A fit's DataTree pickled without its arrays, labels and attrs: the later trees of its layout in one unpickling.

    Pickle's persistent IDs stand in for what differs between fits of one layout: each data variable's array, the
    coordinate variable and index of each labelled dimension (runs, group levels) and every node's attrs. Loading
    the template with another fit's objects gives the tree xarray would build from them (``tests/test_fit.py``
    checks it is identical) without building it again: the numbered coordinates, dims and encodings come from the
    first tree, whose layout (groups, variable names, dims, shapes, dtypes, label counts) the later fits share.
    """

    def __init__(self, blob: bytes, labelled: tuple[str, ...]):
        self.blob, self.labelled = blob, labelled

    @classmethod
    def of(cls, tree, contents: Mapping[str, tuple], labelled: Mapping[str, tuple]) -> _TreeTemplate | None:
        """Return the template of ``tree``, built from ``contents`` (variables, sizes and attrs of each group).

        None where the tree does not hold some array, label or attrs as given: a template would then carry this
        fit's own into the next.
        """
        import io
        import pickle

        ids: dict[int, tuple] = {id(tree.attrs): ("attrs", "/")}
        for group, (variables, _, _) in contents.items():
            node = tree[group]
            ids[id(node.attrs)] = ("attrs", group)
            for name, (_, values) in variables.items():
                if node.variables[name].data is not values or id(values) in ids:
                    return None
                ids[id(values)] = ("data", group, name)
            for d in labelled:
                if d in node.dims:
                    ids[id(node.variables[d])] = ("coord", group, d)
                    ids[id(node.xindexes[d])] = ("index", d)
        hits = set()

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                found = ids.get(id(obj))
                if found is not None:
                    hits.add(found)
                return found

        out = io.BytesIO()
        Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(tree)
        return cls(out.getvalue(), tuple(labelled)) if hits == set(ids.values()) else None

    def fill(self, contents: Mapping[str, tuple], labelled: Mapping[str, tuple], root_attrs: dict):
        """Return the tree of ``contents`` (as :meth:`of` takes it), ``labelled``'s coordinates and ``root_attrs``."""
        import io
        import pickle

        def load(found):
            kind, *where = found
            if kind == "data":
                return contents[where[0]][0][where[1]][1]
            if kind == "attrs":
                return root_attrs if where[0] == "/" else contents[where[0]][2]
            if kind == "coord":  # a copy per group, as xarray makes, so that one group's coordinate attrs are its own
                return labelled[where[1]][0].copy(deep=False)
            return labelled[where[0]][1]

        unpickler = pickle.Unpickler(io.BytesIO(self.blob))
        unpickler.persistent_load = load
        return unpickler.load()


def _dim_index(d: str, values: np.ndarray) -> tuple:
    """Return the coordinate variable and index that xarray makes for dimension ``d`` with ``values``."""
    import xarray as xr

    made = xr.Coordinates({d: values})
    return made.variables[d], made.xindexes[d]


class Fit:
    """A posterior fit of a law: an ArviZ DataTree plus everything needed to predict.

    Attributes
    ----------
    tree : xarray.DataTree
        ``posterior``, ``sample_stats``, ``log_likelihood``, ``observed_data``, ``constant_data``; its attrs record
        the law spec, hierarchy, options, seed, versions and input hash.
    law : Law
    meta : dict
        The tree's ``bayescale`` attrs, read: ``meta["options"]`` (the sampler's settings and seconds),
        ``meta["sampler"]`` (its steps), ``meta["seed"]``, ``meta["notes"]`` (what validation noticed), versions.
    config : ModelConfig
        The model's structure: likelihood, pooling of each parameter, noise.
    groups : tuple of str
        The group columns of a hierarchical fit (empty for a flat one).
    levels : tuple of str
        The fitted groups' labels (joined with ``" | "`` across several group columns).
    """

    def __init__(self, tree: xr.DataTree, law: Law | None = None):
        if _ATTR not in tree.attrs:
            if "bayescale_chain" in tree.attrs:
                raise FitFileError("this DataTree is a chain's fit: read it with bs.load(path) or "
                                   "bs.ChainFit(tree), not bs.Fit")
            raise FitFileError("this DataTree was not written by bayescale.fit (no 'bayescale' attrs)")
        self.tree = tree
        self.meta: dict[str, Any] = json.loads(tree.attrs[_ATTR])
        self.law: Law = law if law is not None else law_from_dict(self.meta["law"])
        self.config = ModelConfig.from_dict(self.meta["config"])
        self.groups: tuple[str, ...] = tuple(self.meta["groups"])
        self.levels: tuple[str, ...] = tuple(self.meta["levels"])
        self._diagnostics: Diagnostics | None = None

    # ------------------------------------------------------------------ description
    def __repr__(self) -> str:
        post = self.tree.posterior
        n = post.sizes["chain"] * post.sizes["draw"]
        grp = f", groups {list(self.groups)} ({len(self.levels)} levels)" if self.groups else ""
        grp += "".join(f", {p} fixed at {v:g}" for p, v in self.config.fixed.items())
        return (f"<Fit {self.law.name}: {self.tree.observed_data.sizes['run']} runs{grp}, {post.sizes['chain']} "
                f"chains x {post.sizes['draw']} draws ({n}); {self.diagnostics!r}{self.fallback_note}>")

    @property
    def fallback_note(self) -> str:
        """``"; refit after ..."``: the failed fits this one replaced (``fallback=True``), or ``""`` when none."""
        from bayescale.report import _fallback_line, _not_kept_line

        tries = self.meta.get("fallback_from")
        note = f"; refit after {_fallback_line(tries)}" if tries else ""
        worse = self.meta.get("refit_not_kept")
        return note + (f"; {_not_kept_line(worse)}" if worse else "")

    @property
    def param_vars(self) -> list[str]:
        """Posterior variables that summarise the model (law parameters, population and noise parameters)."""
        return _param_names(self.law, self.config, self.tree.posterior)

    def summary(self, var_names: Sequence[str] | None = None, *, ci_prob: float = 0.9) -> pd.DataFrame:
        """Posterior summary: mean, sd, quantiles, ess_bulk, ess_tail, r_hat per parameter.

        Parameters
        ----------
        var_names : sequence of str, optional
            Variables to summarise; default :attr:`param_vars`.
        ci_prob : float
            Mass of the equal-tailed interval given by the two quantile columns.

        Returns
        -------
        pandas.DataFrame
            One row per parameter (and group level), columns ``mean, sd, q05, q50, q95, ess_bulk, ess_tail, r_hat,
            mcse_mean`` (quantile names follow ``ci_prob``).
        """
        import arviz_stats as azs

        var_names = self._known_vars([var_names] if isinstance(var_names, str) else var_names or self.param_vars)
        if isinstance(ci_prob, bool) or not isinstance(ci_prob, (int, float, np.floating)) or not 0 < ci_prob < 1:
            raise ValueError(f"ci_prob must be a probability strictly between 0 and 1 (0.9 gives q05 and q95), got "
                             f"{ci_prob!r}")
        diag = azs.summary(self.tree, var_names=var_names, kind="diagnostics", round_to="none")
        lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
        rows = {}
        post = self.tree.posterior
        for v in var_names:
            da = post[v]
            extra = [d for d in da.dims if d not in ("chain", "draw")]
            stacked = da.stack(sample=("chain", "draw"))
            if extra:
                for idx in np.ndindex(*[da.sizes[d] for d in extra]):
                    sel = {d: i for d, i in zip(extra, idx, strict=True)}
                    label = f"{v}[{', '.join(str(da[d].values[i]) for d, i in sel.items())}]"
                    rows[label] = stacked.isel(sel).values
            else:
                rows[v] = stacked.values
        out = pd.DataFrame({
            "mean": {k: float(np.mean(x)) for k, x in rows.items()},
            "sd": {k: float(np.std(x, ddof=1)) for k, x in rows.items()},
            f"q{_pct(lo)}": {k: float(np.quantile(x, lo)) for k, x in rows.items()},
            "q50": {k: float(np.quantile(x, 0.5)) for k, x in rows.items()},
            f"q{_pct(hi)}": {k: float(np.quantile(x, hi)) for k, x in rows.items()},
        })
        for col in ("ess_bulk", "ess_tail", "r_hat", "mcse_mean"):
            out[col] = diag[col].reindex(out.index).astype(float).to_numpy()
        return out

    @property
    def diagnostics(self) -> Diagnostics:
        """Sampler diagnostics against :data:`THRESHOLDS` (computed once)."""
        if self._diagnostics is None:
            options = self.meta["options"]
            self._diagnostics = _diagnose(self.tree, self.param_vars, options["max_tree_depth"],
                                          options.get("warmup_tree_depth"), options.get("target_accept_prob"))
        return self._diagnostics

    def runs(self) -> pd.DataFrame:
        """Return the runs the fit was made on (after validation), indexed by run label.

        Columns: the law's inputs, the group columns (as text, as ``fit.levels`` spells them), the noise column (if
        any) and the target. The labels are the runs table's index, integers and floats read back as such, so that
        the table lines up with the one fitted (a fit saved before 2026-12-07 gives them as text).
        """
        cd, site = self.tree.constant_data, obs_site(self.law)
        labels = self.tree.observed_data["run"].values
        kind = self.meta.get("run_index", "str")
        if kind != "str":
            labels = labels.astype({"int": np.int64, "uint": np.uint64, "float": np.float64}[kind])
        index = pd.Index(labels, name="run")
        out = pd.DataFrame({x: cd[x].values for x in self.law.inputs}, index=index)
        if self.groups:
            keys = [self.levels[int(c)] for c in cd["group_code"].values]
            parts = [k.split(" | ") for k in keys] if len(self.groups) > 1 else [[k] for k in keys]
            for j, g in enumerate(self.groups):
                out[g] = [p[j] for p in parts]
        if self.meta.get("noise") is not None:
            out[self.meta["noise"]] = cd["noise"].values
        for col in _predictor_columns(self.config):
            out[col] = cd[col].values
        y = self.tree.observed_data[site].values
        items = cd["noise"].values if "noise" in cd else None
        out[self.law.target] = from_site(self.law, self.config.likelihood, y, items)
        return out

    def check(self, at=None, *, seed: int = 0):
        """Run every trust check on the fit (see :func:`bayescale.check.check`); returns a ``Report``."""
        from bayescale.check import check

        return check(self, at, seed=seed)

    def report(self, path: str | os.PathLike, *, at=None, title: str | None = None, seed: int = 0,
               progress_bar: bool | None = None):
        """Write the fit's report to the folder ``path``: ``report.html`` (self-contained) and ``report.md``.

        See :func:`bayescale.report.write_report`; returns its ``ReportFiles``.
        """
        from bayescale.report import write_report

        return write_report(self, path, at=at, title=title, seed=seed, progress_bar=progress_bar)

    def _known_vars(self, names: Sequence[str]) -> list[str]:
        """Return ``names`` as a list, or raise naming the unknown ones and the fit's variables."""
        import difflib

        known = list(self.tree.posterior.data_vars)
        unknown = [v for v in names if v not in known]
        if unknown:
            close = {v: [k for k in known if k.lower() == str(v).lower()]
                     or difflib.get_close_matches(str(v), known, n=1) for v in unknown}
            hints = "; ".join(f"did you mean {c[0]!r} for {v!r}?" for v, c in close.items() if c)
            raise KeyError(f"the fit has no variable(s) {unknown}{'; ' + hints if hints else ''}; its variables are "
                           f"{known}")
        return list(names)

    def draws(self, var_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Posterior draws flattened over chains: ``{name: array (num_chains * num_samples, ...)}``."""
        post = self.tree.posterior
        names = self._known_vars([var_names] if isinstance(var_names, str) else var_names or list(post.data_vars))
        return {v: post[v].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy() for v in names}

    # ------------------------------------------------------------------ use
    def predict(self, new_runs, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), kind: str = "observation",
                seed: int = 0) -> pd.DataFrame:
        """Posterior predictive quantiles at new inputs (see :func:`bayescale.predict.predict`)."""
        from bayescale.predict import predict

        return predict(self, new_runs, quantiles=quantiles, kind=kind, seed=seed)

    def optimal_allocation(self, c, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), group: str | None = None,
                           flops_per_param_token: float | None = None,
                           fixed: Mapping[str, float] | None = None) -> pd.DataFrame:
        """Posterior of the compute-optimal N*(C), D*(C), L*(C) (see :func:`bayescale.predict.optimal_allocation`).

        ``flops_per_param_token`` defaults to the fit's own (``bs.fit(flops_per_param_token=)``, 6 unless given).
        """
        from bayescale.predict import optimal_allocation

        k = self.meta["options"]["flops_per_param_token"] if flops_per_param_token is None else flops_per_param_token
        return optimal_allocation(self, c, quantiles=quantiles, group=group, flops_per_param_token=k, fixed=fixed)

    def recommend(self, **kwargs):
        """Recommended learning rate and batch size with intervals (see :func:`bayescale.decide.recommend`)."""
        from bayescale.decide import recommend

        return recommend(self, **kwargs)

    def batch_tradeoff(self, batches, **kwargs):
        """Price candidate batch sizes by steps, tokens and cost (see :func:`bayescale.decide.batch_tradeoff`)."""
        from bayescale.decide import batch_tradeoff

        return batch_tradeoff(self, batches, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit to a netCDF file atomically (temp file + fsync + rename).

        A crash during the write leaves any previous file at ``path`` untouched. Missing folders of ``path`` are
        made.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        pathlib.Path

        Raises
        ------
        IsADirectoryError
            When ``path`` is a folder (nothing is written).
        NotADirectoryError
            When a folder in ``path`` is a file (nothing is written).
        """
        _check_savable(self.tree)
        return _atomic_netcdf(self.tree, path)


def _file_path(path, what: str) -> Path:
    """``path`` as a Path (``~`` expanded, as a shell would), or a TypeError saying what it should be."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} takes the path of a fit file (a str or pathlib.Path such as 'fit.nc'), got "
                        f"{type(path).__name__} {path!r}")
    return Path(path).expanduser()


def _atomic_netcdf(tree: xr.DataTree, path: str | os.PathLike) -> Path:
    """Write a DataTree to netCDF atomically: temp file, fsync, rename, fsync of the folder.

    Missing folders of ``path`` are made.
    """
    path = _file_path(path, "save")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; save to a file in it, e.g. {path / 'fit.nc'}")
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise NotADirectoryError(f"cannot save to {path}: {blocked} is a file, not a folder; save elsewhere, e.g. "
                                 f"{blocked.parent / path.name}")
    if path.is_symlink():  # write through a link to the file it names, leaving the link in place
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(path.parent, os.W_OK | os.X_OK):  # said here, not as an error naming the hidden temp file
        raise PermissionError(f"cannot save to {path}: the folder {path.parent} is not writable (read-only, or not "
                              "yours); save elsewhere")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")  # one per save: saves may overlap
    # Fletcher-32 checksums on every numeric array: HDF5 verifies them on reading, so damage after the write is an
    # error on load rather than silently wrong draws
    encoding = {node.path: {name: {"fletcher32": True} for name, v in node.ds.data_vars.items()
                            if v.dtype.kind in "biufc" and v.ndim}
                for node in tree.subtree}
    try:
        tree.to_netcdf(tmp, engine="h5netcdf", encoding={k: v for k, v in encoding.items() if v})
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if path.exists():  # the file replaced keeps its permissions (a read-only fit stays read-only)
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _pct(q: float) -> str:
    """Return a quantile's column suffix: ``0.05 -> "05"``, ``0.975 -> "97.5"``, from float64 or float32 alike."""
    v = 100 * float(q)
    return f"{round(v):02d}" if abs(v - round(v)) < 1e-5 else f"{v:.6g}"


def _diagnose(tree, var_names: Sequence[str], max_tree_depth: int, warmup_tree_depth: int | None = None,
              target_accept_prob: float | None = None) -> Diagnostics:
    return _diagnose_many([tree], var_names, max_tree_depth, warmup_tree_depth, target_accept_prob)[0]


def _diagnose_many(trees: Sequence, var_names: Sequence[str], max_tree_depth: int,
                   warmup_tree_depth: int | None = None, target_accept_prob: float | None = None
                   ) -> list[Diagnostics]:
    """Diagnostics of fits of one structure (same variables and shapes), one :class:`Diagnostics` each.

    ``warmup_tree_depth`` is the warm-up's tree-depth cap (None for fits saved before it was recorded): a fit whose
    draws hit ``max_tree_depth`` after a capped warm-up is told that the cap may be the cause.
    """
    post = {v: np.stack([t.posterior[v].values for t in trees]) for v in var_names}
    return _judge_all(_worst_stats(post), [t.sample_stats for t in trees], max_tree_depth, warmup_tree_depth,
                      target_accept_prob)


def _judge_all(worst: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]], stats: Sequence, max_tree_depth: int,
               warmup_tree_depth: int | None, target_accept_prob: float | None = None) -> list[Diagnostics]:
    """One :class:`Diagnostics` per fit from :func:`_worst_stats` and each fit's sample statistics.

    ``stats`` holds each fit's ``sample_stats`` (a Dataset) or :func:`_stat_arrays` of the engine's arrays, all of
    one shape. The statistics are read once as NumPy arrays and E-BFMI is one ArviZ call for all the fits, not one
    each: 0.05 ms a fit against 0.65 ms for problem C's fits (8 chains x 750 draws), which ``fit_many`` pays in its
    main process for every fit.
    """
    import arviz_stats as azs
    import xarray as xr

    arrays = [_stat_arrays(s) for s in stats]
    if not arrays:
        return []
    energy = xr.DataArray(np.stack([a["energy"] for a in arrays]), dims=("fit", "chain", "draw"))
    ebfmi = np.asarray(azs.bfmi(energy)).reshape(len(arrays), -1)
    return [_judge({v: float(w[0][i]) for v, w in worst.items()}, {v: float(w[1][i]) for v, w in worst.items()},
                   {v: float(w[2][i]) for v, w in worst.items()}, a, max_tree_depth, warmup_tree_depth, ebfmi[i],
                   target_accept_prob)
            for i, a in enumerate(arrays)]


def _stat_arrays(stats) -> dict[str, np.ndarray]:
    """Return a fit's ``diverging``, ``tree_depth`` (NUTS only) and ``energy`` as NumPy arrays, chains x draws.

    ``stats`` is its ``sample_stats`` Dataset, or a mapping of arrays already in that layout.
    """
    import xarray as xr

    def get(k):
        v = stats[k]
        return v.transpose("chain", "draw").values if isinstance(v, xr.DataArray) else np.asarray(v)

    return {k: get(k) for k in ("diverging", "tree_depth", "energy") if k in stats}


def _worst_stats(post: Mapping[str, np.ndarray], r_hat: bool = True
                 ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return ``{variable: (largest R-hat, smallest bulk ESS, smallest tail ESS) of each fit}``, NaN as failing.

    ``post`` holds draws shaped ``(fits, chains, draws, ...)``. One ArviZ call per statistic (R-hat, bulk and tail
    ESS) for all the fits, stacked on a ``fit`` dimension, instead of one per fit: for 64 fits of ``bs.fit_many``
    (profiled) 2.0 s against 2.8 s. A module-level function of arrays, so that :func:`_host_stats` can run it in
    worker processes on shares of the fits. ``r_hat=False`` leaves R-hat out (NaN), for callers that need only the
    ESS.
    """
    import arviz_stats as azs
    import xarray as xr

    ds = xr.Dataset({v: (("fit", "chain", "draw", *(f"{v}_dim_{i}" for i in range(a.ndim - 3))), a)
                     for v, a in post.items()})
    rds = ds
    if r_hat and ds.sizes["chain"] == 1:  # ArviZ gives NaN for one chain: compare its two halves (as split R-hat does)
        half = ds.sizes["draw"] // 2
        rds = xr.concat([ds.isel(draw=slice(0, half)), ds.isel(draw=slice(half, 2 * half))], dim="chain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = azs.rhat(rds) if r_hat else None
        ess_b = azs.ess(ds, method="bulk")
        ess_t = azs.ess(ds, method="tail")

    def worst(values, fn, nan):
        return fn(np.nan_to_num(values, nan=nan, posinf=np.inf, neginf=-np.inf).reshape(values.shape[0], -1), axis=1)

    n = ds.sizes["fit"]
    return {v: (worst(rhat[v].values, np.max, np.inf) if r_hat else np.full(n, np.nan),
                worst(ess_b[v].values, np.min, 0.0), worst(ess_t[v].values, np.min, 0.0)) for v in post}


def _judge(r: dict[str, float], eb: dict[str, float], et: dict[str, float], stats, max_tree_depth: int,
           warmup_tree_depth: int | None = None, ebfmi: np.ndarray | None = None,
           target_accept_prob: float | None = None) -> Diagnostics:
    """One fit's :class:`Diagnostics` from its worst R-hat and ESS per variable and its sample statistics.

    ``stats``: its ``sample_stats`` or :func:`_stat_arrays`; ``ebfmi``: each chain's E-BFMI, if already computed
    (by ArviZ, as here otherwise); ``target_accept_prob``: the fit's step-size target, which the advice on
    divergences starts from (None: unknown).
    """
    stats = _stat_arrays(stats)
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    depth = stats.get("tree_depth", np.zeros(1))
    depth_frac = float(np.mean(depth >= max_tree_depth))
    energy = stats["energy"]
    if ebfmi is None:
        import arviz_stats as azs
        import xarray as xr

        ebfmi = azs.bfmi(xr.DataArray(energy, dims=("chain", "draw")))
    ebfmi = np.atleast_1d(np.asarray(ebfmi))
    problems = []
    t = THRESHOLDS
    bad_r = {k: v for k, v in r.items() if not v < t["r_hat"]}
    if bad_r:
        close = any(_r_hat_text(v) != f"{v:.3f}" for v in bad_r.values())  # 1.0102 would read 1.010
        problems.append(f"R-hat >= {t['r_hat']} for {_fmt(bad_r, '.4f' if close else '.3f')}: chains disagree; "
                        "run longer or reparameterise")
    for label, vals, key in (("bulk", eb, "ess_bulk"), ("tail", et, "ess_tail")):
        bad = {k: v for k, v in vals.items() if v < t[key]}
        if bad:
            problems.append(f"{label} ESS < {t[key]} for {_fmt(bad, '.0f')}: increase num_samples")
    if div > t["divergences"]:
        problems.append(f"{div} divergent transition(s) after warm-up (threshold {t['divergences']}): the posterior "
                        f"may be biased; {_divergence_fix(target_accept_prob)}")
    if depth_frac > t["tree_depth_frac"]:
        problems.append(f"{100 * depth_frac:.1f}% of draws hit the maximum tree depth {max_tree_depth} (threshold "
                        f"0%): sampling is inefficient; {_tree_depth_fix(max_tree_depth, warmup_tree_depth)}")
    low = ebfmi[~(ebfmi >= t["e_bfmi"])]  # NaN (a chain of one draw) fails, as a NaN R-hat does
    if low.size:
        problems.append(f"E-BFMI {', '.join(f'{v:.2f}' for v in low)} < {t['e_bfmi']} in {low.size} chain(s): "
                        "heavy-tailed energy; a warm-up too short to adapt (raise num_warmup), or a hierarchy to "
                        "reparameterise (pooling='noncentred')")
    return Diagnostics(
        max_r_hat=max(r.values()), min_ess_bulk=min(eb.values()), min_ess_tail=min(et.values()), divergences=div,
        tree_depth_frac=depth_frac, max_tree_depth=max_tree_depth, min_e_bfmi=float(np.min(ebfmi)),
        num_draws=int(energy.size), problems=tuple(problems), trees="tree_depth" in stats,
    )


def _divergence_fix(target_accept_prob: float | None) -> str:
    """Say what to do about divergences, from the step-size target the fit used."""
    if target_accept_prob is not None and target_accept_prob >= REFIT_TARGET_ACCEPT:
        return (f"they remain at target_accept_prob {target_accept_prob}: reparameterise, or add runs that "
                "constrain the law where it curves")
    used = "" if target_accept_prob is None else f" from {target_accept_prob}"
    return f"raise target_accept_prob{used} to {REFIT_TARGET_ACCEPT}, or reparameterise"


def _tree_depth_fix(max_tree_depth: int, warmup_tree_depth: int | None) -> str:
    """Say what to do when draws hit the maximum tree depth: the warm-up's cap first, if it had one.

    A warm-up whose trees are capped shallower than the draws need adapts the step size and mass matrix badly: in
    the loss-to-loss case study's second stage, 99.8% of draws reached depth 10 after a warm-up capped at 7, none
    after one capped at 9 or uncapped (``docs/speed.md``); warm-started, its draws took 18 leapfrog steps each.
    """
    fix = ("raise max_tree_depth or reparameterise (warm_start=True, NUTS in the Laplace approximation's whitened "
           "coordinates, helps where some parameters are known far more precisely than others; a hierarchical fit "
           "whose groups each have many runs may sample better centred, pooling='centred')")
    if warmup_tree_depth is None or warmup_tree_depth >= max_tree_depth:
        return fix
    return (f"the warm-up's trees were capped at depth {warmup_tree_depth} (warmup_tree_depth), and a warm-up "
            f"shallower or shorter than the draws need adapts badly: refit with warmup_tree_depth={max_tree_depth} "
            f"(and, if num_warmup was below its default of 1000, a longer warm-up) first, then {fix}")


def _fmt(d: Mapping[str, float], spec: str) -> str:
    items = sorted(d.items(), key=lambda kv: kv[1])

    def num(v: float) -> str:  # an R-hat of inf or 1e30 (a fit that broke down) in a few characters
        return f"{v:{spec}}" if np.isfinite(v) and abs(v) < 1e6 else f"{v:.3g}"

    return ", ".join(f"{k} ({num(v)})" for k, v in items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6
                                                                    else "")


def load(path: str | os.PathLike) -> Fit | ChainFit:
    """Read a fit written by :meth:`Fit.save` (or a chain's, by :meth:`ChainFit.save`).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Fit or ChainFit
        Predicts without the script that made it; a :class:`~bayescale.ChainFit` for a chain's file.

    Raises
    ------
    FitFileError
        The file is missing, truncated, corrupted or not a bayescale fit.
    """
    import xarray as xr

    path = _file_path(path, "load")
    if not path.exists():
        raise FitFileError(f"no fit file at {path}")
    if path.is_dir():
        raise FitFileError(f"{path} is a folder; give the fit file in it (written by Fit.save or `bayescale fit`)")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != b"\x89HDF\r\n\x1a\n":  # the signature every netCDF-4 file starts with
        what = "is empty" if not head else "is not a netCDF-4 file"
        raise FitFileError(f"{path} {what}, so it is not a fit file: fit files are written by Fit.save or "
                           "`bayescale fit --out`; re-run the fit, or restore the file")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
        tree = tree.load()
        tree.close()
    except Exception as err:  # noqa: BLE001 - h5py/netCDF raise many types for damaged files
        raise FitFileError(
            f"cannot read fit file {path} ({type(err).__name__}: {err}); it is truncated or corrupted — re-run the "
            "fit, or restore the file (bayescale writes atomically, so a crash during save never damages it)"
        ) from err
    from bayescale.chain import _ATTR as _CHAIN_ATTR
    from bayescale.chain import ChainFit

    if _CHAIN_ATTR not in tree.attrs and _ATTR not in tree.attrs:
        raise FitFileError(f"{path} is a netCDF file but not a bayescale fit (no 'bayescale' attrs)")
    if _CHAIN_ATTR not in tree.attrs and "posterior" not in tree.children:  # a chain's stages are its children
        raise FitFileError(f"{path} holds a damaged bayescale fit: its posterior draws are missing; re-run the fit, "
                           "or restore the file")
    try:
        fit = ChainFit(tree) if _CHAIN_ATTR in tree.attrs else Fit(tree)
    except _LawNotHere as err:  # a sound file whose law this process does not know
        raise FitFileError(f"{path}: {err}") from err
    except (KeyError, ValueError, TypeError, AttributeError, LawSpecError) as err:
        raise FitFileError(
            f"{path} holds a damaged bayescale fit ({type(err).__name__}: {err}): its metadata or groups are missing "
            "or altered; re-run the fit, or restore the file"
        ) from err
    for where, one in (fit.stages.items() if isinstance(fit, ChainFit) else [(None, fit)]):
        gone = _missing_parts(one)
        if gone:
            raise FitFileError(f"{path} holds a damaged bayescale fit{f' (stage {where!r})' if where else ''}: "
                               f"{gone} missing; re-run the fit, or restore the file")
    return fit


#: What every fit file holds (:func:`load` checks them, so that a damaged file fails there, not at a later use).
_FILE_GROUPS = ("posterior", "sample_stats", "observed_data", "constant_data")
_FILE_META = ("options", "log_x0", "seed", "sampler", "input_hash")


def _missing_parts(fit: Fit) -> str:
    """Name what ``fit``'s tree lacks of a fit's groups, metadata and posterior variables ("" when nothing)."""
    parts = [f"its {g} group" for g in _FILE_GROUPS if g not in fit.tree.children]
    parts += [f"its metadata's {k!r}" for k in _FILE_META if k not in fit.meta]
    if "posterior" in fit.tree.children:  # files written since 2026-12-07 list the variables drawn
        parts += [f"the posterior's {v!r}" for v in fit.meta.get("posterior_vars", ())
                  if v not in fit.tree.posterior.data_vars]
    return ", ".join(parts[:-2] + [" and ".join(parts[-2:])]) + (" are" if len(parts) > 1 else " is") if parts else ""
