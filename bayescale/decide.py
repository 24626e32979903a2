"""Decisions from posterior draws: hyperparameters to train with, and the batch size that costs least.

Pure functions over a fit's draws; results are frozen dataclasses holding tidy tables.

* :func:`recommend`: for a law with learning-rate and batch inputs (e.g. ``lr_batch_landscape``), the posterior of
  the optimum ``(eta*, B*)`` of a new (N, D) cell, the Bayes choice (the point of least expected loss, which is not
  the optimum of the posterior means when the bowl is uncertain), the loss expected there, and the expected loss
  penalty of any chosen point against each draw's own optimum.
* :func:`batch_tradeoff`: McCandlish et al.'s time-versus-compute trade-off. For each candidate batch size, the
  steps and tokens to the target loss and a user cost ``w_time * steps + w_compute * tokens``; the batch of least
  expected cost, with the probability that each candidate is the cheapest.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from bayescale.build import noise_params
from bayescale.data import (
    _FLOPS_HINT,
    _PACKAGE_DIRS,
    _UNIT_WORDS,
    SIZE_FLOOR,
    DataWarning,
    RunTableError,
    _budgets,
    _flag,
    _numeric,
    _positive_number,
    _size_value,
    _warn_compute_units,
)
from bayescale.fit import ConvergenceWarning, _pct, _resolve_seed
from bayescale.predict import _check_quantiles, _group_params, _quantiles, parameter_draws, typical_noise

__all__ = ["Recommendation", "BatchTradeoff", "Allocation", "ScaleComparison", "NextRun", "recommend",
           "batch_tradeoff", "allocate", "compare_at_scale", "next_run"]

_QS = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class Recommendation:
    """What :func:`recommend` returns.

    Attributes
    ----------
    inputs : mapping of str to float
        The cell the recommendation is for (e.g. ``{"n": 1e9, "d": 2e10}``).
    choice : mapping of str to float
        The Bayes choice: the values of the chosen inputs (e.g. ``lr``, ``batch``) of least expected loss.
    table : pandas.DataFrame
        One row per quantity with ``mean`` and quantile columns: ``<x>_opt`` (each draw's optimum of every chosen
        input), ``loss_opt`` (the loss at each draw's optimum), ``loss_at_choice`` (the loss at the Bayes choice),
        ``penalty`` (``loss_at_choice - loss_opt``: what choosing one point costs against knowing the optimum),
        and, when a point was given, ``loss_at_point`` and ``penalty_at_point``.
    plug_in : mapping of str to float
        The optimum of the posterior-median parameters (a point fit's answer) and its expected penalty.
    """

    inputs: Mapping[str, float]
    choice: Mapping[str, float]
    table: pd.DataFrame
    plug_in: Mapping[str, float]

    def __repr__(self) -> str:
        at = ", ".join(f"{k}={v:.4g}" for k, v in self.inputs.items())
        ch = ", ".join(f"{k}={v:.4g}" for k, v in self.choice.items())
        return f"Recommendation({at}: {ch})\n{self.table.to_string(index=False, float_format='%.4g')}"


@dataclass(frozen=True)
class BatchTradeoff:
    """What :func:`batch_tradeoff` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate batch: ``batch``, steps and tokens (``steps_q50``, ``steps_q05``, ``steps_q95``,
        ``tokens_q50``, ...), ``expected_cost`` and ``p_cheapest``.
    best : float
        The candidate of least expected cost.
    weights : mapping of str to float
        ``w_time`` and ``w_compute``.
    tokens_per_unit : float
        Tokens per unit of the fit's ``b``, by which the ``tokens_*`` columns were counted.
    """

    table: pd.DataFrame
    best: float
    weights: Mapping[str, float]
    tokens_per_unit: float = 1.0

    def __repr__(self) -> str:
        unit = "b's unit" if self.tokens_per_unit == 1 else f"{self.tokens_per_unit:g} tokens per unit of b"
        cost = " + ".join(f"{w:g} x {what}" for w, what in ((self.weights["w_time"], "steps"),
                                                              (self.weights["w_compute"], "tokens")) if w)
        return (f"BatchTradeoff(best batch {self.best:g}; cost = {cost}, tokens = steps x batch x {unit})\n"
                f"{self.table.to_string(index=False, float_format='%.4g')}")


def _summarise(name: str, v, qs) -> dict:
    v = np.asarray(v).reshape(-1)
    row = {"quantity": name, "mean": float(np.mean(v))}
    row.update({c: float(x) for c, x in _quantiles(v, qs).items()})
    return row


def _cell_params(fit, group, **columns):
    """Per-draw law parameters of one group, or of a new group drawn from the population (``group=None``).

    ``columns`` are a new group's group-level predictor values (e.g. ``n=1.2e9``).
    """
    if not fit.groups:
        return _group_params(fit, group)
    if group is not None:
        return _group_params(fit, group)
    frame = pd.DataFrame({**{g: ["(new)"] for g in fit.groups}, **{k: [v] for k, v in columns.items()}})
    return {p: v[:, 0] for p, v in parameter_draws(fit, frame).items()}


@partial(jax.jit, static_argnums=0)
def _law_at(law, inputs: Mapping[str, jnp.ndarray], params: Mapping[str, jnp.ndarray]) -> jnp.ndarray:
    """``law.fn`` at ``inputs`` (by name) for ``params``, broadcast: one compiled program per law and shapes.

    Evaluated eagerly, JAX compiles every operation of the law on its own for each new shape (``recommend`` on the
    learning-rate landscape compiled about 390 such programs in a new process, 2026-12-03).
    """
    return law.fn(*[inputs[x] for x in law.inputs], **params)


def _newton(law, inputs, choose, z0, params, h, *, mean: bool = False, steps: int = 8):
    """Polish grid minima by Newton steps on the law in the log of the chosen inputs.

    ``z0`` is ``(rows, k)``: one start per posterior draw (``params`` holding each row's values), or, with
    ``mean=True``, one start for the posterior mean loss over every draw in ``params``. Every step is clipped to one
    grid spacing ``h`` around the start, so a surface that is not convex there keeps its grid point. The steps run
    as one compiled program (:func:`_newton_steps`).
    """
    others = {x: jnp.asarray(float(v)) for x, v in inputs.items()}
    return np.asarray(_newton_steps(law, tuple(choose), bool(mean), int(steps), others, jnp.asarray(z0),
                                    {k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(h)))


@partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _newton_steps(law, choose, mean, steps, others, z, params, h):
    def f(z, p):
        args = {**others, **{x: jnp.exp(z[i]) for i, x in enumerate(choose)}}
        return jnp.mean(law.fn(*[args[x] for x in law.inputs], **p))

    axes = (0, None) if mean else (0, 0)
    grad = jax.vmap(jax.grad(f), in_axes=axes)
    hess = jax.vmap(jax.hessian(f), in_axes=axes)
    lo, hi = z - h, z + h

    def step(_, z):
        g, hm = grad(z, params), hess(z, params)
        ok = jnp.all(jnp.linalg.eigvalsh(hm) > 0, axis=-1, keepdims=True)
        move = jnp.linalg.solve(jnp.where(ok[..., None], hm, jnp.eye(z.shape[1])), g[..., None])[..., 0]
        return jnp.clip(z - jnp.where(ok, move, 0.0), lo, hi)

    return jax.lax.fori_loop(0, steps, step, z)


def recommend(fit, *, choose: Sequence[str] = ("lr", "batch"), point: Mapping[str, float] | None = None,
              group: str | None = None, quantiles: Sequence[float] = _QS, grid_size: int = 161,
              span: float = 4.0, **inputs) -> Recommendation:
    """Recommend the values of some inputs (learning rate and batch size) for a new run, with intervals.

    For each posterior draw the law is minimised over the chosen inputs on a log grid (``grid_size`` points a side,
    over the fitted runs' range widened by ``span`` e-folds each way, then polished by Newton steps within a grid
    cell). The Bayes choice minimises the posterior mean of the loss over the same grid.

    Parameters
    ----------
    fit : Fit
        A fit of a law whose inputs include ``choose``, e.g. ``bs.fit("lr_batch_landscape", runs, groups="cell")``.
    choose : sequence of str
        The inputs to choose (one or two).
    point : mapping, optional
        A point to price, e.g. ``{"lr": 2e-3, "batch": 1e6}``: its expected loss and penalty are added.
    group : str, optional
        A fitted group to recommend for; by default a new group (partially pooled parameters from the population,
        so the spread between groups is in the intervals).
    quantiles : sequence of float
    grid_size : int
    span : float
        How far (e-folds of each chosen input) the search extends beyond the fitted runs.
    **inputs
        Values of the law's other inputs, e.g. ``n=1e9, d=2e10``.

    Returns
    -------
    Recommendation
    """
    law = fit.law
    choose = list(choose)
    missing = [x for x in choose if x not in law.inputs]
    if missing or not 1 <= len(choose) <= 2:
        raise ValueError(f"choose must name one or two inputs of law {law.name!r} ({list(law.inputs)}); "
                         f"got {choose}")
    others = [x for x in law.inputs if x not in choose]
    absent = [x for x in others if x not in inputs]
    unknown = [x for x in inputs if x not in law.inputs]
    if absent or unknown:
        raise ValueError(f"recommend needs the other inputs of {law.name!r} as keywords: "
                         f"missing {absent}, unknown {unknown}; e.g. recommend(fit, n=1e9, d=2e10)")
    inputs = dict(inputs)
    for x in others:
        if law.is_size_input(x):
            inputs[x] = _size_value(inputs[x], x, law.unit_scale(x))
        elif (isinstance(inputs[x], bool) or not isinstance(inputs[x], (int, float, np.integer, np.floating))
              or not np.isfinite(inputs[x])):
            raise ValueError(f"input {x}={inputs[x]!r} must be a finite number")
    point = dict(point or {})
    if point and set(point) != set(choose):
        raise ValueError(f"point must give every chosen input {choose}, got {sorted(point)}")
    qs = _check_quantiles(quantiles)
    runs = fit.runs()
    axes = [np.linspace(np.log(runs[x].min()) - span, np.log(runs[x].max()) + span, grid_size) for x in choose]
    params = _cell_params(fit, group)
    mesh = np.meshgrid(*axes, indexing="ij")
    flat = {x: np.exp(m.reshape(-1)) for x, m in zip(choose, mesh, strict=True)}

    def loss(values, p):
        args = {**{x: jnp.asarray(float(inputs[x])) for x in others}, **{x: jnp.asarray(v) for x, v in values.items()}}
        return np.asarray(_law_at(law, args, p))

    with jax.enable_x64(True):
        p = {k: jnp.asarray(v)[:, None] for k, v in params.items()}
        surface = loss(flat, p)  # draws x grid points
        best = np.argmin(surface, axis=1)
        shape = [grid_size] * len(choose)
        h = jnp.asarray([ax[1] - ax[0] for ax in axes])
        fixed = {x: inputs[x] for x in others}
        per_draw = {k: jnp.asarray(v) for k, v in params.items()}

        def start(flat_index):
            return np.stack([ax[i] for ax, i in zip(axes, np.unravel_index(flat_index, shape), strict=True)], axis=-1)

        z = _newton(law, fixed, choose, start(best), per_draw, h)
        opt = {x: np.exp(z[:, i]) for i, x in enumerate(choose)}
        loss_opt = loss({x: v[:, None] for x, v in opt.items()}, p)[:, 0]
        zc = _newton(law, fixed, choose, start(np.argmin(surface.mean(axis=0)))[None, :], per_draw, h, mean=True)
        choice = {x: float(np.exp(zc[0, i])) for i, x in enumerate(choose)}
        at_choice = loss({x: np.array([v]) for x, v in choice.items()}, p)[:, 0]
        median = {k: jnp.median(v, axis=0, keepdims=True) for k, v in p.items()}
        zp = _newton(law, fixed, choose, start(np.argmin(loss(flat, median)[0]))[None, :],
                     {k: v[:, 0] for k, v in median.items()}, h)
        plug = {x: float(np.exp(zp[0, i])) for i, x in enumerate(choose)}
        at_plug = loss({x: np.array([v]) for x, v in plug.items()}, p)[:, 0]
        at_point = loss({x: np.array([float(v)]) for x, v in point.items()}, p)[:, 0] if point else None
    edge = [x for x, ax in zip(choose, axes, strict=True)
            if np.mean((np.log(opt[x]) <= ax[1]) | (np.log(opt[x]) >= ax[-2])) > 0.01]
    if edge:
        warnings.warn(f"the optimum of {edge} lies at the edge of the search grid for over 1% of draws; "
                      f"widen span= (now {span} e-folds beyond the fitted runs)", stacklevel=2)
    rows = [_summarise(f"{x}_opt", v, qs) for x, v in opt.items()]
    rows += [_summarise("loss_opt", loss_opt, qs), _summarise("loss_at_choice", at_choice, qs),
             _summarise("penalty", at_choice - loss_opt, qs)]
    if at_point is not None:
        rows += [_summarise("loss_at_point", at_point, qs), _summarise("penalty_at_point", at_point - loss_opt, qs)]
    plug_in = {**plug, "expected_loss": float(at_plug.mean()), "expected_penalty": float((at_plug - loss_opt).mean())}
    return Recommendation(inputs={x: float(inputs[x]) for x in others}, choice=choice, table=pd.DataFrame(rows),
                          plug_in=plug_in)


def batch_tradeoff(fit, batches, *, w_time: float = 1.0, w_compute: float = 0.0, tokens_per_unit: float = 1.0,
                   group: str | None = None, quantiles: Sequence[float] = (0.05, 0.5, 0.95), **inputs
                   ) -> BatchTradeoff:
    """Price each candidate batch size by the steps and tokens it needs to reach a target loss (McCandlish 2018).

    Parameters
    ----------
    fit : Fit
        A fit of a steps-to-target law with a batch input ``b`` (``"mccandlish"``).
    batches : sequence of float
        Candidate batch sizes, in the unit of the fit's ``b``.
    w_time, w_compute : float
        The cost ``w_time * steps + w_compute * tokens`` (e.g. seconds per step and FLOPs per token, or any
        weights); steps stand for wall-clock time on hardware that processes a batch in constant time,
        tokens for compute.
    tokens_per_unit : float
        Tokens per unit of ``b`` (the sequence length when batches are counted in sequences; 1 when ``b`` counts
        tokens). The ``tokens_*`` columns and ``w_compute``'s cost are per token only with the right value.
    group : str, optional
        A fitted group (e.g. a model size); by default a new group from the population (its group-predictor
        columns, if any, go in ``inputs``).
    quantiles : sequence of float
    **inputs
        Group-predictor values for a new group (e.g. ``n=1.2e9, d=2.4e10``): only the fit's predictor columns, and
        only without ``group=`` (a fitted group's parameters are its own).

    Returns
    -------
    BatchTradeoff

    Warns
    -----
    UserWarning
        When a candidate lies over 10x beyond the fitted runs' batches (the law is extrapolated there).
    """
    law = fit.law
    if list(law.inputs) != ["b"]:
        raise ValueError(f"batch_tradeoff needs a steps-to-target law with the single input 'b' (e.g. "
                         f"'mccandlish'); law {law.name!r} has {list(law.inputs)}")
    _check_predictor_keywords(fit, group, inputs, "batch_tradeoff",
                              ("w_time", "w_compute", "tokens_per_unit", "group", "quantiles"))
    b = np.asarray(batches, dtype=float).reshape(-1)
    if b.size == 0 or np.any(~np.isfinite(b) | (b <= 0)):
        raise ValueError(f"batches must be finite and > 0, got {b.tolist()}")
    if np.unique(b).size < b.size:
        twice = sorted({float(v) for v in b if np.sum(b == v) > 1})
        raise ValueError(f"batches {twice} are given twice: give each candidate once")
    w_time = _one_number(w_time, "w_time")
    w_compute = _one_number(w_compute, "w_compute")
    if not (np.isfinite(w_time) and np.isfinite(w_compute)) or w_time < 0 or w_compute < 0 \
            or w_time + w_compute == 0:
        raise ValueError(f"weights must be finite, >= 0 and not both 0, got w_time={w_time}, w_compute={w_compute}")
    tokens_per_unit = _one_number(tokens_per_unit, "tokens_per_unit")
    if not (np.isfinite(tokens_per_unit) and tokens_per_unit > 0):
        raise ValueError(f"tokens_per_unit must be finite and > 0 (the sequence length when b counts sequences, 1 "
                         f"when it counts tokens), got {tokens_per_unit}")
    qs = _check_quantiles(quantiles)
    fitted = fit.runs()["b"].to_numpy(dtype=float)
    far = b[(b > 10 * fitted.max()) | (b < fitted.min() / 10)]
    if far.size:
        warnings.warn(f"batches {[float(v) for v in far]} lie over 10x beyond the fitted runs' batches "
                      f"({fitted.min():g} to {fitted.max():g}), where the law is extrapolated; check that they are "
                      f"in the fit's unit of b", stacklevel=2)
    params = _cell_params(fit, group, **inputs)
    steps = _law_values(law, {"b": b}, params)
    tokens = steps * b[None, :] * tokens_per_unit
    cost = w_time * steps + w_compute * tokens
    cheapest = np.bincount(np.argmin(cost, axis=1), minlength=b.size) / cost.shape[0]
    table = pd.DataFrame({"batch": b})
    for name, v in (("steps", steps), ("tokens", tokens)):
        for c, x in _quantiles(v, qs, prefix=f"{name}_").items():
            table[c] = x
    table["expected_cost"] = cost.mean(axis=0)
    table["p_cheapest"] = cheapest
    return BatchTradeoff(table=table, best=float(b[int(np.argmin(table["expected_cost"]))]),
                         weights={"w_time": float(w_time), "w_compute": float(w_compute)},
                         tokens_per_unit=float(tokens_per_unit))


def _check_predictor_keywords(fit, group, columns: Mapping, what: str, own: Sequence[str]) -> None:
    """Refuse keywords that are not the fit's group-predictor columns, or predictors that would be ignored.

    A misspelt keyword (``w_comptue=``) would otherwise be taken for a predictor and dropped, and predictors beside
    ``group=`` (or for a fit without groups) would change nothing.
    """
    if not columns:
        return
    from bayescale.fit import _predictor_columns

    known = _predictor_columns(fit.config) if fit.groups else []
    unknown = [k for k in columns if k not in known]
    if unknown:
        near = {k: m for k in unknown if (m := difflib.get_close_matches(k, [*own, *known], n=1))}
        hint = "".join(f"; did you mean {m[0]!r} for {k!r}?" for k, m in near.items())
        predictors = (f"the fit's group-predictor columns {known}" if known
                      else "no group-predictor columns (the fit has none)")
        raise TypeError(f"{what} got unknown keyword(s) {unknown}{hint}: it takes {list(own)} and {predictors}")
    if group is not None:
        raise ValueError(f"{what}: {sorted(columns)} describe a new group, and group={group!r} is a fitted one, whose "
                         "parameters are its own; leave out group= to price a new group, or the predictors")


# ------------------------------------------------------------------------------------------- allocation under a budget
OBJECTIVES = ("expected", "quantile", "p_target")


@dataclass(frozen=True)
class Allocation:
    """What :func:`allocate` returns.

    Attributes
    ----------
    compute : float
        The budget, in FLOPs.
    objective : str
        ``"expected"`` (least expected loss: the Bayes action), ``"quantile"`` (least posterior quantile of the loss:
        risk-averse) or ``"p_target"`` (greatest probability of reaching ``target``).
    choice, plug_in : mapping of str to float
        ``n`` and ``d`` of the chosen allocation and of the plug-in allocation (the optimum of the law at the
        posterior means of its parameters, a point fit's answer).
    table : pandas.DataFrame
        One row per allocation (``bayes``, ``plug_in``): ``n, d, tokens_per_param``, the loss's ``mean`` and
        quantiles, ``expected_regret`` (the mean, over posterior draws, of its loss minus that draw's best loss on
        the budget) and, with a target, ``p_target``.
    curve : pandas.DataFrame
        Along the budget line: ``n, d``, the loss's mean and quantiles (and ``p_target``).
    """

    compute: float
    objective: str
    choice: Mapping[str, float]
    plug_in: Mapping[str, float]
    table: pd.DataFrame
    curve: pd.DataFrame

    def __repr__(self) -> str:
        return (f"Allocation(C={self.compute:.3g}, {self.objective}: n={self.choice['n']:.4g}, "
                f"d={self.choice['d']:.4g})\n{self.table.to_string(index=False, float_format='%.4g')}")


def _law_values(law, inputs: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate the law for every draw (rows) at every input point (columns), in float64."""
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v)[:, None] for k, v in params.items()}
        x = {k: jnp.asarray(np.broadcast_to(v, np.shape(v)))[None, :] for k, v in inputs.items()}
        return np.asarray(_law_at(law, x, p))


def _one_number(value, name: str) -> float:
    """``value`` as one float: a number, or a size written with a suffix (``"100T"``, as budgets elsewhere)."""
    from bayescale.data import parse_size

    number = parse_size(value) if isinstance(value, str) else value
    if isinstance(value, str) and np.isnan(number) and value.strip().lower() != "nan":  # text that is no size
        raise ValueError(f"{name}={value!r} is not a number: write it as 5.76e23, or as a size such as 100T")
    if isinstance(number, np.ndarray) and number.ndim == 0:  # np.array(1e23): one number
        number = number[()]
    if isinstance(number, bool | np.bool_) or not isinstance(number, (int, float, np.number)):
        raise TypeError(f"{name} must be a number (or a size such as '100T'), got {value!r}")
    try:
        return float(number)
    except OverflowError:  # an integer beyond float's range (10**400): as infinite, which the callers refuse
        return float("inf") if number > 0 else float("-inf")


def _budget_line(c: float, k: float, d_inf: float, grid_size: int, bounds=None) -> np.ndarray:
    """Return model sizes N on a log grid along the budget line.

    Eight decades around the balanced point (or ``bounds``), below the largest N that leaves training tokens once
    ``d_inf`` inference tokens are paid for.
    """
    centre = np.sqrt(c / k)
    lo, hi = bounds if bounds is not None else (centre * 1e-4, centre * 1e4)
    if d_inf > 0:
        hi = min(hi, c / (2.0 * d_inf) * (1 - 1e-6))
        lo = min(lo, hi * 1e-8)  # inference so costly that the whole grid lies below the balanced point
    return np.geomspace(lo, hi, grid_size)


def _budget_surface(fit, compute, *, inference_tokens=0.0, n=None, d=None, unique_tokens=None, group=None, k=6.0,
                    grid_size=801, bounds=None):
    """Lay the budget line ``k N D + 2 N D_inf = C`` on a log grid of N; evaluate the law there for every draw.

    ``N``, ``D`` and ``D_inf`` are in the law's units (:meth:`~bayescale.Law.unit_scale`), ``C`` in FLOPs.
    """
    law = fit.law
    if np.ndim(compute) != 0:
        raise TypeError(f"compute is one budget in FLOPs, got {compute!r}: call once per budget "
                        "(fit.optimal_allocation(c=[...]) gives the law's optimum at several budgets at once)")
    c, k = _one_number(compute, "compute"), _positive_number(k, "flops_per_param_token", _FLOPS_HINT)
    d_inf = _one_number(inference_tokens, "inference_tokens")
    if not np.isfinite(c) or c <= 0 or not (np.isfinite(d_inf) and d_inf >= 0):
        raise ValueError(f"compute must be finite and > 0 and inference_tokens finite and >= 0; got compute={c:g}, "
                         f"inference_tokens={d_inf:g}")
    if isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer)) or grid_size < 3:
        raise ValueError(f"grid_size must be an integer of at least 3 (points of N on the budget line), got "
                         f"{grid_size!r}")
    _warn_compute_units(c)
    flops, c = c, c / law.flops(1.0, 1.0, 1.0)  # k N D + 2 N D_inf = C in the law's units (D_inf in its d's)
    if n is not None and d is not None:
        raise ValueError("fix n or d, not both: the budget decides the other")
    n, d, unique_tokens = (None if v is None else _size_value(v, name, law.unit_scale(x))
                           for v, name, x in ((n, "n", "n"), (d, "d", "d"), (unique_tokens, "unique_tokens", "u")))
    for name, value, x in (("n", n, "n"), ("d", d, "d"), ("unique_tokens", unique_tokens, "u")):
        if value is not None and value * law.unit_scale(x) < SIZE_FLOOR:  # the floor validate_runs applies to runs
            units = ("sizes are raw counts (7e9 or '7B' for 7 billion)" if law.unit_scale(x) == 1 else
                     f"law {law.name!r} takes {x} in {law.inputs[x]}")
            warnings.warn(f"{name}={value:g} looks like millions or billions; {units}", DataWarning, stacklevel=3)
    others = set(law.inputs) - {"n", "d"}
    if others - {"u"} or ("u" in others) != (unique_tokens is not None):
        raise ValueError(f"law {law.name!r} has inputs {list(law.inputs)}: give unique_tokens= exactly when it has "
                         "an input 'u'")
    if d_inf > 0 and c / (2.0 * d_inf) * law.unit_scale("n") < SIZE_FLOOR:  # the largest model it pays inference for
        raise ValueError(f"inference_tokens={d_inf:.3g} alone costs 2 N x {d_inf:.3g} FLOPs, which the budget of "
                         f"{flops:.3g} FLOPs pays only for models under {c / (2.0 * d_inf):.3g} parameters, before any "
                         "training: raise compute, or lower inference_tokens (the tokens served over the model's "
                         "deployment)")
    if n is not None:
        grid_n = np.array([float(n)])
    elif d is not None:
        grid_n = np.array([c / (k * float(d) + 2.0 * d_inf)])
        if grid_n[0] * law.unit_scale("n") < 1:
            raise ValueError(f"the budget {flops:.3g} FLOPs with d={float(d):.3g} leaves n = "
                             f"{grid_n[0] * law.unit_scale('n'):.3g} parameters (C = {k:g} N D + 2 N D_inf): lower "
                             "d, or raise compute")
    else:
        grid_n = _budget_line(c, k, d_inf, grid_size, bounds)
    grid_d = (c - 2.0 * grid_n * d_inf) / (k * grid_n)
    if np.any(grid_d <= 0):
        raise ValueError(f"the budget {flops:.3g} FLOPs leaves no training tokens for n = {grid_n[grid_d <= 0][0]:.3g} "
                         f"with {d_inf:.3g} inference tokens")
    if n is not None and grid_d[0] * law.unit_scale("d") < 1:
        raise ValueError(f"the budget {flops:.3g} FLOPs with n={float(n):.3g} leaves d = "
                         f"{grid_d[0] * law.unit_scale('d'):.3g} training tokens (C = {k:g} N D + 2 N D_inf): lower "
                         "n, or raise compute")
    params = _cell_params(fit, group)
    inputs = {"n": grid_n, "d": grid_d}
    if unique_tokens is not None:
        inputs["u"] = np.full_like(grid_n, float(unique_tokens))
    surface = _law_values(law, inputs, params)  # draws x grid
    return grid_n, grid_d, inputs, surface, params


def allocate(fit, compute: float, *, objective: str = "expected", quantile: float = 0.9, target: float | None = None,
             inference_tokens: float = 0.0, n: float | None = None, d: float | None = None,
             unique_tokens: float | None = None, group: str | None = None,
             flops_per_param_token: float | None = None,
             quantiles: Sequence[float] = (0.05, 0.5, 0.95), grid_size: int = 801) -> Allocation:
    """Choose a model size and token count for a compute budget under the posterior.

    The budget line is ``k N D + 2 N D_inf = C`` (training at ``k = 6`` FLOPs per parameter and token, plus
    inference on ``D_inf`` tokens over the deployment, Sardana et al. 2024); the search runs over a log grid of
    ``N`` along it (eight decades around the balanced point), for every posterior draw at once.

    Parameters
    ----------
    fit : Fit
        A fit of a law in ``n`` and ``d`` (and ``u`` for the data-constrained law).
    compute : float
        The budget C in FLOPs (training plus inference).
    objective : {"expected", "quantile", "p_target"}
        Least expected loss (the Bayes action for a utility linear in the loss), least ``quantile`` of the
        loss (risk-averse), or greatest probability that the loss is below ``target`` (among allocations with the
        same probability, the least expected loss: where every draw reaches the target, the expected one's choice).
        "The loss" is the law's curve at each posterior draw, the loss the allocation controls; it leaves out the
        run-to-run noise of one training run (``fit.predict(kind="observation")`` adds it), so ``p_target`` is the
        probability that the allocation's expected loss reaches the target, not that a single run's measured loss
        does.
    quantile : float
        The quantile of ``objective="quantile"`` (0.9: the loss one is 90% sure to beat).
    target : float, optional
        Target loss; required by ``objective="p_target"``, reported for the others when given.
    inference_tokens : float
        Tokens to be served over the deployment (0: training compute only).
    n, d : float, optional
        A fixed model size or a fixed token budget: the other follows from the budget.
    unique_tokens : float, optional
        Unique tokens available, for laws with an input ``u`` (``data_constrained``).
    group : str, optional
        A fitted group; by default a new group from the population when the fit is hierarchical.
    flops_per_param_token : float, optional
        ``k``; default the fit's own (``bs.fit(flops_per_param_token=)``, 6 unless given). Sizes (``n``, ``d``,
        ``inference_tokens``, ``unique_tokens``, and the table's) are in the law's units, raw counts unless it
        declares millions or billions (:meth:`~bayescale.Law.unit_scale`); the budget is in FLOPs.
    quantiles : sequence of float
    grid_size : int

    Returns
    -------
    Allocation
    """
    law = fit.law
    if not {"n", "d"} <= set(law.inputs):
        raise ValueError(f"allocate needs a law in n and d; law {law.name!r} has inputs {list(law.inputs)}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective == "p_target" and target is None:
        raise ValueError("objective='p_target' needs target= (the loss to reach)")
    if target is not None:
        _positive_number(target, "target", " (the loss to reach)")
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float, np.number)) or not 0 < quantile < 1:
        raise ValueError(f"quantile must be a number in (0, 1), got {quantile!r}")
    qs = _check_quantiles(quantiles)
    flops_per_param_token = _fit_k(fit, flops_per_param_token)
    grid_n, grid_d, inputs, surface, params = _budget_surface(
        fit, compute, inference_tokens=inference_tokens, n=n, d=d, unique_tokens=unique_tokens, group=group,
        k=flops_per_param_token, grid_size=grid_size)
    c = _one_number(compute, "compute")
    if n is None and d is None:
        best = surface.min(axis=1, keepdims=True)
    else:  # the regret of the fixed size is against each draw's best on the whole budget line
        k, d_inf = float(flops_per_param_token), _one_number(inference_tokens, "inference_tokens")
        c_law = c / law.flops(1.0, 1.0, 1.0)  # the budget line in the law's units
        free_n = _budget_line(c_law, k, d_inf, grid_size)
        free = {**inputs, "n": free_n, "d": (c_law - 2.0 * free_n * d_inf) / (k * free_n)}
        if "u" in free:
            free["u"] = np.full_like(free_n, free["u"][0])
        best = np.minimum(_law_values(law, free, params).min(axis=1), surface.min(axis=1))[:, None]
    mean = surface.mean(axis=0)
    score = {"expected": mean, "quantile": np.quantile(surface, quantile, axis=0)}.get(objective)
    hit = (surface < target).mean(axis=0) if target is not None else None
    if objective == "p_target" and not hit.max() > 0:
        raise ValueError(f"no allocation of {c:.3g} FLOPs reaches a loss below target={target:g} in any posterior "
                         f"draw (the lowest loss any draw reaches is {surface.min():.4g}); raise target or compute")
    if objective == "p_target":  # ties (every draw reaching the target) go to the least expected loss
        ties = np.flatnonzero(hit == hit.max())
        j = int(ties[np.argmin(mean[ties])])
    else:
        j = int(np.argmin(score))
    means = {p: np.asarray(np.mean(v, axis=0))[None] for p, v in params.items()}
    jp = int(np.argmin(_law_values(law, inputs, means)[0]))
    curve = pd.DataFrame({"n": grid_n, "d": grid_d, "mean": mean})
    for col, x in _quantiles(surface, qs).items():
        curve[col] = x
    if hit is not None:
        curve["p_target"] = hit
    rows = []
    for name, i in (("bayes", j), ("plug_in", jp)):
        v = surface[:, i]
        row = {"allocation": name, "n": grid_n[i], "d": grid_d[i],
               "tokens_per_param": grid_d[i] * law.unit_scale("d") / (grid_n[i] * law.unit_scale("n")),
               "mean": float(v.mean())}
        row.update({col: float(x) for col, x in _quantiles(v, qs).items()})
        if objective == "quantile":  # the value the choice optimises
            row[f"q{_pct(quantile)}"] = float(np.quantile(v, quantile))
        row["expected_regret"] = float(np.mean(v - best[:, 0]))
        if hit is not None:
            row["p_target"] = float(hit[i])
        rows.append(row)
    return Allocation(compute=c, objective=objective, choice={"n": float(grid_n[j]), "d": float(grid_d[j])},
                      plug_in={"n": float(grid_n[jp]), "d": float(grid_d[jp])}, table=pd.DataFrame(rows), curve=curve)


# ------------------------------------------------------------------------------------------ which config wins at scale
@dataclass(frozen=True)
class ScaleComparison:
    """What :func:`compare_at_scale` returns.

    Attributes
    ----------
    better : str
        ``"lower"`` (losses, error rates) or ``"higher"`` (accuracies).
    table : pandas.DataFrame
        Per compute and configuration: the target's ``mean`` and quantiles and ``p_best``.
    pairwise : pandas.DataFrame
        Per compute and ordered pair ``(a, b)``: ``p_a_better`` and the margin (``a`` minus ``b``, signed so that
        positive favours ``a``) with its mean and quantiles.
    crossover : pandas.DataFrame
        Per pair: ``p_cross`` (the share of draws whose curves cross inside ``span``), ``crossing_draws`` (their
        number) and, among those, the quantiles of the first crossing's compute (curves that cross twice in ``span``
        report the lower one); the quantiles are left empty (NaN) when fewer than ``MIN_CROSSING_DRAWS`` (20) draws
        cross.
    curves : pandas.DataFrame
        Per compute on a fine grid (``span``) and configuration: mean, quantiles and ``p_best`` (for figures).
    target : str or None
        The quantity compared (``"loss"``, a chain stage such as ``"acc"``), which figures label their axis with.
    span : (float, float) or None
        The compute range searched for crossings and spanned by ``curves``.
    """

    better: str
    table: pd.DataFrame
    pairwise: pd.DataFrame
    crossover: pd.DataFrame
    curves: pd.DataFrame
    target: str | None = None
    span: tuple[float, float] | None = None

    def __repr__(self) -> str:
        return (f"ScaleComparison({self.better} is better)\n"
                f"{self.table.to_string(index=False, float_format='%.4g')}")


def _chain_at_compute(fit, group, c, k: float, target: str) -> np.ndarray:
    """Per-draw value of a chain's stage ``target`` at each compute.

    The first stage is taken at its compute-optimal allocation and fed draw by draw (the joint posterior) through
    the later stages' laws.
    """
    chain_, stages = fit.chain, list(fit.stages.values())
    if target not in chain_.targets:
        raise ValueError(f"target {target!r} is not a stage of the chain; its targets are {list(chain_.targets)}")
    values = _at_compute(stages[0], group, c, k)
    for i in range(1, chain_.targets.index(target) + 1):
        law, f, feed = chain_.stages[i], stages[i], chain_.feeds[i - 1]
        if set(law.inputs) != {feed}:
            raise ValueError(f"compare_at_scale follows a chain whose later stages take only the fed input; stage "
                             f"{law.name!r} also needs {sorted(set(law.inputs) - {feed})}")
        with jax.enable_x64(True):
            p = {name: jnp.asarray(v)[:, None] for name, v in _cell_params(f, group).items()}
            values = np.asarray(_law_at(law, {feed: jnp.asarray(values)}, p))
    return values


def _at_compute(fit, group, c, k: float, target: str | None = None) -> np.ndarray:
    """Per-draw target at each compute in ``c``.

    The law in ``c``, or its compute-optimal value for laws in N, D (for a chain, the stage ``target`` fed from the
    first stage's compute-optimal value).
    """
    from bayescale.chain import ChainFit
    from bayescale.predict import _numeric_optimum

    if isinstance(fit, ChainFit):
        return _chain_at_compute(fit, group, c, k, target or fit.chain.target)
    law = fit.law
    params = _cell_params(fit, group)
    if list(law.inputs) == ["c"]:
        return _law_values(law, {"c": np.asarray(c, dtype=float)}, params)
    if set(law.inputs) == {"n", "d"}:
        out = []
        with jax.enable_x64(True):
            p = {name: jnp.asarray(v)[:, None] for name, v in params.items()}
            k_law = law.flops(1.0, 1.0, k)  # C = k N D in FLOPs, with N and D in the law's units
            for budget in np.asarray(c, dtype=float):
                if law.optimum is not None:
                    loss = law.optimum(budget, k_law, **p)[2]
                else:
                    loss = _numeric_optimum(law, budget, k_law, p, {}, 801)[2]
                out.append(np.asarray(loss).reshape(-1))
        return np.stack(out, axis=1)
    raise ValueError(f"compare_at_scale needs laws in compute c, or in n and d (compared at their compute-optimal "
                     f"allocation); law {law.name!r} has inputs {list(law.inputs)}")


#: Fewest crossing draws whose crossing compute gets quantiles (fewer: ``p_cross`` and the count alone).
MIN_CROSSING_DRAWS = 20


#: Targets where lower is better (``compare_at_scale``'s default ``better``), and those where higher is, by the
#: start of their names; others must say (``better=``): a critical batch size or an optimal learning rate is neither.
_LOWER_BETTER = ("loss", "err", "ppl", "perplex", "bpb", "l_", "steps", "time", "cost")
_HIGHER_BETTER = ("acc", "top", "bleu", "score", "f1", "auc", "win", "pass", "exact", "reward")


def _which_better(target: str) -> str:
    """``"lower"`` or ``"higher"`` from the target's name, or a ValueError asking for ``better=``."""
    name = target.lower()
    if name.startswith(_LOWER_BETTER):
        return "lower"
    if name.startswith(_HIGHER_BETTER):
        return "higher"
    raise ValueError(f"is a higher or a lower {target!r} better? its name does not say (losses, errors and steps are "
                     "lower-better; accuracies and scores higher-better): pass better='lower' or better='higher'")


def _fit_k(fit, given) -> float:
    """Return ``given``, checked, or else the fit's FLOPs per parameter and token (6 unless fitted with another)."""
    if given is None:
        return float(fit.meta.get("options", {}).get("flops_per_param_token", 6.0))
    return _positive_number(given, "flops_per_param_token", _FLOPS_HINT)


def _fits_k(configs, given) -> float:
    """Return the fits' FLOPs per parameter and token (``bs.fit(flops_per_param_token=)``), unless ``given``."""
    if given is not None:
        return _positive_number(given, "flops_per_param_token", _FLOPS_HINT)
    from bayescale.chain import ChainFit

    ks = {}
    for name, (f, _) in configs.items():
        for stage in (f.stages.values() if isinstance(f, ChainFit) else [f]):
            ks.setdefault(_fit_k(stage, None), name)
    if len(ks) > 1:
        raise ValueError(f"the fits count training compute differently (flops_per_param_token {sorted(ks)} in "
                         f"{list(ks.values())}): refit alike, or pass flops_per_param_token= to compare at one")
    return ks.popitem()[0] if ks else 6.0


def _smallest_fitted_compute(f, k: float) -> float | None:
    """Return the least compute among the runs a fit (a chain's: its first stage's) learned from, else None."""
    from bayescale.chain import ChainFit

    if isinstance(f, ChainFit):
        f = f.stages[f.chain.stages[0].target]
    law, runs = f.law, f.runs()
    if "c" in law.inputs:
        return float(runs["c"].min())
    if {"n", "d"} <= set(law.inputs):
        return float(law.flops(runs["n"], runs["d"], k).min())
    return None


def compare_at_scale(fits, compute, *, better: str | None = None, span: tuple[float, float] | None = None,
                     quantiles: Sequence[float] = (0.05, 0.5, 0.95), flops_per_param_token: float | None = None,
                     target: str | None = None, seed: int = 0) -> ScaleComparison:
    """Which configuration is best at each compute: probabilities, margins and where the curves cross.

    Parameters
    ----------
    fits : mapping of str to Fit, or Fit, or ChainFit
        One fit per configuration (recipes, architectures, data sets: separate posteriors, so draws are paired at
        random), or one hierarchical fit whose groups are the configurations (draws paired as sampled, keeping the
        posterior correlation between groups). A chain fit (e.g. ``bs.chain("overtraining", "exp_error")``) compares
        a stage's target: each draw's compute-optimal loss fed through the later stages of the same draw.
    compute : float or sequence of float
        Compute budgets (FLOPs). Laws in ``n`` and ``d`` are compared at each draw's compute-optimal allocation.
    better : {"lower", "higher"}, optional
        Default ``"lower"`` for targets named like losses, errors or steps (``loss``, ``err``, ``l_y``, ``steps``...),
        ``"higher"`` for accuracies and scores (``acc``, ``top1``, ``bleu``...); other targets must say.
    span : (float, float), optional
        The compute range searched for crossings (and drawn); default from the least compute any fit learned from
        (or two decades below ``compute``, if lower) to two decades above ``compute``, so that a crossing among
        the runs is found whichever budgets are asked about. Kept in the result's ``span``.
    quantiles : sequence of float
    flops_per_param_token : float, optional
        ``k`` in ``C = k N D``; default the fits' own (``bs.fit(flops_per_param_token=)``, 6 unless given), which
        must agree.
    target : str, optional
        For chains: the stage compared (default the chain's last target, e.g. the downstream error).
    seed : int
        Pairing of draws between separate fits.

    Returns
    -------
    ScaleComparison
    """
    if isinstance(fits, Mapping):
        configs = {str(name): (f, None) for name, f in fits.items()}
        wrong = {name: type(f).__name__ for name, (f, _) in configs.items() if not hasattr(f, "law")}
        if wrong:
            raise TypeError(f"compare_at_scale takes fits; {wrong} are not (a saved fit is read with bs.load(path))")
        grouped = {name: list(f.levels)[:4] for name, (f, _) in configs.items() if f.groups}
        if grouped:  # its groups would be pooled into an unseen group's prediction, silently
            name, levels = next(iter(grouped.items()))
            raise ValueError(f"configuration {name!r} is a hierarchical fit (groups {levels}...): pass it alone, "
                             "bs.compare_at_scale(fit, ...), to compare its groups, or give one fit per configuration")
    else:
        if not hasattr(fits, "law"):
            raise TypeError(f"fits must be a mapping of name to fit, or one fit with groups; got {type(fits).__name__}")
        if not fits.groups:
            raise ValueError("pass a mapping {name: fit}, or one fit with groups (the configurations)")
        configs = {str(g): (fits, g) for g in fits.levels}
    if len(configs) < 2:
        raise ValueError(f"compare_at_scale needs at least two configurations, got {list(configs)}")
    from bayescale.chain import ChainFit

    for name, (f, _) in configs.items():  # a chain's stages are checked where they are read
        if target is not None and not isinstance(f, ChainFit) and target != f.law.target:
            raise ValueError(f"target={target!r}: configuration {name!r} is a fit of law {f.law.name!r}, whose target "
                             f"is {f.law.target!r}; target= picks a stage of a chain's fits (leave it out here)")
    targets = {target or f.law.target for f, _ in configs.values()}
    if len(targets) > 1:
        raise ValueError(f"the configurations predict different targets {sorted(targets)}; compare like with like")
    target = targets.pop()
    if better is None:
        better = _which_better(target)
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    budgets = _budgets(compute, "compute")
    _warn_compute_units(float(budgets.min()))
    qs = _check_quantiles(quantiles)
    k = _fits_k(configs, flops_per_param_token)
    _warn_failed_fits(configs)
    try:
        if span is None:
            seen = [c for f, _ in configs.values() if (c := _smallest_fitted_compute(f, k)) is not None]
            lo, hi = min([budgets.min() / 100.0, *seen]), budgets.max() * 100.0
        else:
            lo, hi = (_one_number(x, "span") for x in span)
    except (TypeError, ValueError):
        lo = hi = np.nan
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"span must be (low, high) compute with 0 < low < high, got {span!r}")
    grid = np.geomspace(lo, hi, 121)
    sign = 1.0 if better == "higher" else -1.0
    values = {name: _at_compute(f, g, np.concatenate([budgets, grid]), k, target)
              for name, (f, g) in configs.items()}
    m = min(v.shape[0] for v in values.values())
    rng = np.random.default_rng(seed)
    if isinstance(fits, Mapping):  # independent posteriors: pair draws at random
        values = {name: v[rng.permutation(v.shape[0])[:m]] for name, v in values.items()}
    names = list(values)
    at = np.stack([values[name][:, :budgets.size] for name in names])  # configs x draws x budgets
    curve = np.stack([values[name][:, budgets.size:] for name in names])
    winner = np.argmax(sign * at, axis=0)  # draws x budgets
    grid_winner = np.argmax(sign * curve, axis=0)
    rows, pairs, cross, curves = [], [], [], []
    for i, name in enumerate(names):
        for b, budget in enumerate(budgets):
            v = at[i, :, b]
            row = {"compute": budget, "config": name, "mean": float(v.mean()),
                   "p_best": float(np.mean(winner[:, b] == i))}
            row.update({col: float(x) for col, x in _quantiles(v, qs).items()})
            rows.append(row)
        for g, c in enumerate(grid):
            row = {"compute": c, "config": name, "mean": float(curve[i, :, g].mean()),
                   "p_best": float(np.mean(grid_winner[:, g] == i))}
            row.update({col: float(x) for col, x in _quantiles(curve[i, :, g], qs).items()})
            curves.append(row)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i == j:
                continue
            for t, budget in enumerate(budgets):
                margin = sign * (at[i, :, t] - at[j, :, t])
                row = {"compute": budget, "a": a, "b": b, "p_a_better": float(np.mean(margin > 0)),
                       "margin_mean": float(margin.mean())}
                row.update({col: float(x) for col, x in _quantiles(margin, qs, prefix="margin_").items()})
                pairs.append(row)
            if j > i:
                diff = curve[i] - curve[j]  # draws x grid
                flips = np.diff(np.sign(diff), axis=1) != 0
                has = flips.any(axis=1)
                row = {"a": a, "b": b, "p_cross": float(has.mean()), "crossing_draws": int(has.sum()),
                       **dict.fromkeys(_quantiles(np.zeros(1), qs), np.nan)}  # the columns, empty unless filled
                if has.sum() >= MIN_CROSSING_DRAWS:  # quantiles of a handful of draws would read as an interval
                    first = np.argmax(flips[has], axis=1)
                    d0, d1 = diff[has, first], diff[has, first + 1]
                    lg = np.log(grid)
                    frac = d0 / (d0 - d1)
                    where = np.exp(lg[first] + frac * (lg[first + 1] - lg[first]))
                    row.update({col: float(x) for col, x in _quantiles(where, qs).items()})
                cross.append(row)
    return ScaleComparison(better=better, table=pd.DataFrame(rows), pairwise=pd.DataFrame(pairs),
                           crossover=pd.DataFrame(cross), curves=pd.DataFrame(curves), target=target,
                           span=(float(lo), float(hi)))


def _warn_failed_fits(configs) -> None:
    """Warn about configurations whose fits failed a sampler check: their draws, and the comparison, may be off."""
    from bayescale.chain import ChainFit

    fits = {}  # one hierarchical fit's groups: its problems said once
    for name, (f, _) in configs.items():
        fits.setdefault(id(f), (name, f))
    failed = {}
    for name, f in fits.values():
        label = name if len(fits) == len(configs) else "the hierarchical fit"
        for stage in (f.stages.values() if isinstance(f, ChainFit) else [f]):
            if not stage.diagnostics.ok:
                failed.setdefault(label, stage.diagnostics.problems[0])
    if failed:
        listed = "; ".join(f"{name!r}: {problem}" for name, problem in failed.items())
        warnings.warn(f"the fits of {len(failed)} configuration(s) failed a sampler check, so their draws, and these "
                      f"probabilities, may be off ({listed}); refit them first (fit.check() says how)",
                      ConvergenceWarning, skip_file_prefixes=_PACKAGE_DIRS)


# ------------------------------------------------------------------------------------------------ value of the next run
@dataclass(frozen=True)
class NextRun:
    """What :func:`next_run` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate, best value per cost first: ``n, d, cost``, ``evsi`` (the expected drop in the
        expected loss of the final allocation if the run were trained), ``evsi_per_cost``, ``d_gain`` (the
        expected drop in the log-determinant of the posterior covariance of the law's parameters: Bayesian
        D-optimality), ``weights_ess`` (mean effective sample size of the reweighted draws; small values make
        ``evsi`` noisy) and ``pick_<policy>`` flags for the policies ``voi``, ``cheapest``, ``largest`` and
        ``d_optimal``.
    expected_loss : float
        The expected loss of today's Bayes allocation.
    compute : float
        The budget of the final decision.
    """

    table: pd.DataFrame
    expected_loss: float
    compute: float


def _noise_draws(fit, num: int) -> dict[str, np.ndarray]:
    like = fit.config.likelihood
    if like not in ("student_t", "normal"):
        raise ValueError(f"next_run simulates outcomes for Student-t and Normal likelihoods, not {like!r}")
    if fit.config.pool.get("sigma", "shared") != "shared":
        raise ValueError("next_run needs one noise scale for all groups (pool sigma 'shared')")
    if fit.law.floor is not None:
        raise ValueError(f"next_run simulates outcomes with one noise sd per draw; law {fit.law.name!r}'s noise grows "
                         "with each run's distance from its optimum (Law.floor), which next_run does not model")
    names = ["sigma", "nu"] if like == "student_t" else ["sigma"]
    out = {k: np.asarray(v).reshape(num, -1)[:, 0] for k, v in fit.draws(names).items()}
    if fit.meta.get("noise") is not None:  # a new run's known noise sd adds in quadrature, as in the fit
        out["sigma"] = np.hypot(out["sigma"], typical_noise(fit))
    return out


def _outcomes(rng, mu, noise, size: int) -> np.ndarray:
    """Draw ``size`` results of one run from the posterior predictive (on the likelihood's scale).

    ``mu`` holds the run's mean on that scale for every posterior draw; ``noise`` the draws' ``sigma`` (and ``nu``).
    """
    s = rng.integers(len(mu), size=size)
    eps = rng.standard_t(noise["nu"][s]) if "nu" in noise else rng.standard_normal(size)
    return mu[s] + noise["sigma"][s] * eps


def _logpdf(y, mu, sigma, nu=None):
    from scipy import special

    z = (y - mu) / sigma
    if nu is None:
        return -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - np.log(sigma)
            - (nu + 1) / 2 * np.log1p(z**2 / nu))


def _quiet_fit(law, runs: pd.DataFrame, **kwargs):
    """Fit ``law`` to ``runs`` without data or convergence warnings.

    For refits whose diagnostics the caller records (or averages over), and whose data were checked, with their
    warnings, by the fit they extend.
    """
    from bayescale.fit import fit as fit_law

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DataWarning)
        return fit_law(law, runs, **{"progress_bar": False, **kwargs})  # the caller's progress_bar= wins


def _refit_gain(fit, run: pd.Series, result: float, compute: float, bounds, j0: int, refit_kwargs, *,
                inference_tokens: float, k: float, seed: int) -> float:
    """Return the gain of the best allocation over today's choice ``j0`` after refitting with one more run."""
    opts = fit.meta["options"]
    kwargs = {"likelihood": fit.config.likelihood, "num_chains": opts["num_chains"], "num_warmup": opts["num_warmup"],
              "num_samples": opts["num_samples"], "target_accept_prob": opts["target_accept_prob"], "seed": seed,
              **({"sigma_scale": fit.config.sigma_scale}
                 if "sigma" in noise_params(fit.law, fit.config.likelihood) else {}),
              "max_tree_depth": opts["max_tree_depth"],
              "flops_per_param_token": opts.get("flops_per_param_token", 6.0),
              **({"fixed": dict(fit.config.fixed)} if fit.config.fixed else {}), **dict(refit_kwargs or {})}
    runs = fit.runs()
    new = pd.DataFrame({"n": [float(run["n"])], "d": [float(run["d"])], fit.law.target: [result]},
                       index=pd.Index(["(next run)"], name=runs.index.name))
    noise = fit.meta.get("noise")
    if noise is not None:
        new[noise] = typical_noise(fit)
        kwargs.setdefault("noise", noise)
    refit = _quiet_fit(fit.law, pd.concat([runs, new]), **kwargs)
    surface = _budget_surface(refit, compute, inference_tokens=inference_tokens, k=k, grid_size=401,
                              bounds=bounds)[3].mean(axis=0)
    return float(surface[j0] - surface.min())


def next_run(fit, candidates: pd.DataFrame, *, compute: float, cost: str | None = None, group: str | None = None,
             inference_tokens: float = 0.0, num_outcomes: int = 256, flops_per_param_token: float | None = None,
             refit_top: int = 0, refit_outcomes: int = 8, refit_kwargs: Mapping | None = None,
             seed: int = 0) -> NextRun:
    """Rank candidate runs by the expected value of their result for an allocation decision, per unit cost.

    Preposterior simulation with importance reweighting: for each candidate, ``num_outcomes`` results are drawn
    from the posterior predictive, the posterior draws are reweighted by each result's likelihood, and the Bayes
    allocation at ``compute`` is made again under each reweighted posterior (no refit). The expected value of
    sample information is the mean, over results, of how much better the new best allocation is than today's under
    the updated posterior (equal in expectation to today's expected loss minus the expected loss after the run, and
    exactly zero for a result that would not change the choice): how much the run would improve the decision, in
    the loss the decision is about. Candidates that say nothing about the
    allocation (e.g. about an irreducible loss that shifts every allocation alike) score zero, however much they
    would narrow the posterior; ``d_gain`` reports that narrowing for comparison (D-optimal design).

    Parameters
    ----------
    fit : Fit
        A fit of a law in ``n`` and ``d`` with a Student-t or Normal likelihood.
    candidates : pandas.DataFrame
        Columns ``n`` and ``d``, and the column named by ``cost`` if given.
    compute : float
        The budget of the final allocation.
    cost : str, optional
        The column of ``candidates`` holding each run's cost; default each run's compute, ``k n d`` FLOPs with ``k``
        = ``flops_per_param_token`` (a column named ``cost`` is read only when ``cost="cost"`` names it).
    group : str, optional
        A fitted group, for hierarchical fits.
    inference_tokens : float
        As in :func:`allocate`.
    num_outcomes : int
        Simulated results per candidate.
    flops_per_param_token : float, optional
        ``k``; default the fit's own (``bs.fit(flops_per_param_token=)``, 6 unless given).
    refit_top : int
        Check the reweighted estimate of the ``refit_top`` best candidates (by EVSI per cost) by refitting: for each
        of ``refit_outcomes`` simulated results the law is fitted again to the fit's runs plus that result, and the
        allocation made again; the mean gain is ``evsi_refit`` with its standard error ``evsi_refit_se`` (NaN for
        the other candidates). Fits without groups only. Each refit's gain is at least 0, so the refits' own Monte
        Carlo noise (which moves their choice a little even when the result tells nothing) biases ``evsi_refit``
        upward: for a run worth almost nothing, 1.4e-4 +- 0.5e-4 against a reweighted ``evsi`` of 0.4e-4 (8 refits of
        a simulated Chinchilla ladder, measured for the tests); more draws in ``refit_kwargs`` shrink it.
    refit_outcomes : int
    refit_kwargs : mapping, optional
        Passed to :func:`bayescale.fit` for the refits; default the fit's own likelihood, noise prior, chains,
        draws, ``target_accept_prob``, ``max_tree_depth`` and fixed parameters (``fixed=``: a refit that freed them
        would answer a different question).
    seed : int

    Returns
    -------
    NextRun
    """
    from bayescale.predict import _warn_far_outside

    law = fit.law
    if isinstance(candidates, pd.Series):  # one candidate as a Series: its labels would become one column
        raise TypeError("candidates is a table with one row per candidate run; for one run give "
                        "candidates.to_frame().T, or pd.DataFrame({'n': [...], 'd': [...]})")
    cand = pd.DataFrame(candidates).reset_index(drop=True)
    missing = [c for c in ("n", "d") if c not in cand]
    if missing:
        raise ValueError(f"candidates need columns n and d (one row per candidate run); missing {missing}")
    if cand.empty:
        raise ValueError("candidates is empty: give one row (n, d) per candidate run")
    if cost is not None and cost not in cand:
        raise ValueError(f"cost={cost!r} is not a column of candidates (columns: {list(cand.columns)})")
    for name, value, least in (("num_outcomes", num_outcomes, 2), ("refit_top", refit_top, 0),
                               ("refit_outcomes", refit_outcomes, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    problems: list[str] = []
    cand = cand.assign(n=_numeric(cand["n"], "n", problems), d=_numeric(cand["d"], "d", problems))  # "7B" reads too
    if problems:
        raise RunTableError(problems, "the candidates table")
    for col in ("n", "d"):
        problems += [f"column {col!r} has {len(bad)} non-positive, missing or infinite value(s) (rows {list(bad)}); "
                     f"{_UNIT_WORDS[col]} must be > 0: correct or drop those candidates"
                     for bad in [cand.index[~(np.isfinite(cand[col]) & (cand[col] > 0))]] if len(bad)]
    if problems:
        raise RunTableError(problems, "the candidates table")
    _warn_far_outside(fit, cand)  # sizes in millions or billions (70 for 70B), as predictions are checked
    k = _fit_k(fit, flops_per_param_token)
    costs = (cand[cost].to_numpy(float) if cost is not None else
             law.flops(cand["n"].to_numpy(float), cand["d"].to_numpy(float), k))
    if np.any(~np.isfinite(costs) | (costs <= 0)):
        raise ValueError("every candidate's cost must be finite and > 0")
    grid_n, _, _, surface, _ = _budget_surface(fit, compute, inference_tokens=inference_tokens, group=group, k=k,
                                               grid_size=401)
    # a second, fine grid over the range of the draws' own optima: one run moves the choice by little
    best = grid_n[np.argmin(surface, axis=1)]
    step = grid_n[1] / grid_n[0]
    _, _, _, surface, params = _budget_surface(fit, compute, inference_tokens=inference_tokens, group=group, k=k,
                                               grid_size=401, bounds=(best.min() / step**2, best.max() * step**2))
    num = surface.shape[0]
    noise = _noise_draws(fit, num)
    today_mean = surface.mean(axis=0)
    today, j0 = float(today_mean.min()), int(np.argmin(today_mean))
    theta = np.column_stack([np.log(v) if np.all(v > 0) else v for v in params.values()])
    # D-optimality over the parameters the draws leave uncertain: a constant one (fixed in the model, or in a
    # posterior given by its draws) makes every covariance singular, and the gain inf or NaN
    theta = theta[:, np.ptp(theta, axis=0) > 1e-12 * np.maximum(1.0, np.abs(theta).max(axis=0))]
    base_logdet = np.linalg.slogdet(np.atleast_2d(np.cov(theta, rowvar=False)))[1] if theta.shape[1] else None
    mu = law.to_link(_law_values(law, {"n": cand["n"].to_numpy(float), "d": cand["d"].to_numpy(float)}, params))
    seed = _resolve_seed(seed)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(len(cand)):
        y = _outcomes(rng, mu[:, i], noise, num_outcomes)
        nu = noise["nu"][None, :] if "nu" in noise else None
        logw = _logpdf(y[:, None], mu[None, :, i], noise["sigma"][None, :], nu)
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)  # outcomes x draws
        updated = w @ surface  # outcomes x grid: expected loss of each allocation after the result
        gain = updated[:, j0] - updated.min(axis=1)  # >= 0: today's choice against the best one after the result
        ess = 1.0 / np.sum(w**2, axis=1)
        mean_w = w @ theta
        logdets = []
        for m in range(num_outcomes if theta.shape[1] else 0):  # no uncertain parameter: nothing to narrow
            dev = theta - mean_w[m]
            logdets.append(np.linalg.slogdet((w[m, :, None] * dev).T @ dev)[1])
        rows.append({"n": cand.loc[i, "n"], "d": cand.loc[i, "d"], "cost": costs[i], "evsi": float(gain.mean()),
                     "d_gain": float(base_logdet - np.mean(logdets)) if logdets else 0.0,
                     "weights_ess": float(ess.mean())})
    table = pd.DataFrame(rows)
    table["evsi_per_cost"] = table["evsi"] / table["cost"]
    if refit_top > 0:
        if fit.groups:
            raise ValueError("next_run refits (refit_top > 0) only fits without groups")
        bounds = (best.min() / step**2, best.max() * step**2)
        table["evsi_refit"], table["evsi_refit_se"] = np.nan, np.nan
        for i in table["evsi_per_cost"].nlargest(int(refit_top)).index:
            results = law.from_link(_outcomes(rng, mu[:, i], noise, int(refit_outcomes)))
            gains = [_refit_gain(fit, cand.loc[i, ["n", "d"]], float(y), compute, bounds, j0, refit_kwargs,
                                 inference_tokens=inference_tokens, k=k, seed=(seed + m) % 2**63)
                     for m, y in enumerate(results)]
            table.loc[i, "evsi_refit"] = float(np.mean(gains))
            table.loc[i, "evsi_refit_se"] = float(np.std(gains, ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 \
                else np.nan
    for policy, idx in (("voi", table["evsi_per_cost"].idxmax()), ("cheapest", table["cost"].idxmin()),
                        ("largest", table["cost"].idxmax()), ("d_optimal", table["d_gain"].idxmax())):
        table[f"pick_{policy}"] = table.index == idx
    table = table.sort_values("evsi_per_cost", ascending=False).reset_index(drop=True)
    return NextRun(table=table, expected_loss=today, compute=float(compute))


# ----------------------------------------------------------------------------------------------- replay of policies
POLICIES = ("voi", "cheapest", "random", "largest", "d_optimal")


@dataclass(frozen=True)
class Replay:
    """What :func:`replay` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per policy, repeat and step (step 0: the starting runs): the run added (``n, d, cost``), the
        compute ``spent`` on added runs so far, the Bayes choice ``choice_n, choice_d`` at ``compute`` from the runs
        so far, its ``regret`` (its expected loss under the full-data posterior minus that of the full-data Bayes
        choice) and ``diagnostics_ok`` of the fit.
    reference : mapping
        The full-data Bayes choice (``n``, ``d``), its expected loss ``loss`` and ``diagnostics_ok`` of that fit.
    summary : pandas.DataFrame
        Per policy and regret threshold: the compute spent when the regret first fell to the threshold and stayed
        there (``inf`` if never; the median over repeats for ``random``), and the mean regret at the end.
    """

    table: pd.DataFrame
    reference: Mapping[str, float]
    summary: pd.DataFrame


def replay(law, runs: pd.DataFrame, *, start: Sequence, compute: float, budget: float,
           policies: Sequence[str] = POLICIES, steps: int = 10, repeats: int = 3,
           thresholds: Sequence[float] = (1e-2, 3e-3, 1e-3), num_outcomes: int = 64,
           flops_per_param_token: float = 6.0, fit_kwargs: Mapping | None = None, reference=None, seed: int = 0,
           progress_bar: bool | None = None) -> Replay:
    """Replay run-selection policies on a real ladder: which one reaches a good allocation with the least compute.

    Start from the runs ``start`` (index labels of ``runs``); the rest are the candidates, each with its measured
    result. At every step each policy adds one candidate that fits in what is left of ``budget`` (the sum of the
    added runs' costs ``k n d``), the law is refitted, and the Bayes allocation at ``compute`` is scored against the
    full-data answer: its expected loss under the posterior of a fit to every run, minus the least such loss.

    Policies: ``voi`` (greatest expected value of sample information per FLOP, :func:`next_run`), ``d_optimal``
    (greatest expected drop in the log-determinant of the parameters' posterior covariance), ``cheapest``,
    ``largest`` (the largest affordable) and ``random`` (``repeats`` times with different seeds).

    Parameters
    ----------
    law : Law or str
        A law in ``n`` and ``d``.
    runs : pandas.DataFrame
        Every run of the ladder: ``n``, ``d`` and the law's target.
    start : sequence
        Index labels of the starting runs.
    compute : float
        The budget of the final decision (FLOPs).
    budget : float
        The compute each policy may spend on added runs.
    policies : sequence of str
    steps : int
        Most runs each policy adds.
    repeats : int
        Repeats of the ``random`` policy.
    thresholds : sequence of float
        Regrets (in the target's units) at which :attr:`Replay.summary` reports the compute spent.
    num_outcomes : int
        Simulated results per candidate for ``voi`` and ``d_optimal``.
    flops_per_param_token : float
    fit_kwargs : mapping, optional
        Passed to :func:`bayescale.fit` (draws, seed, ...).
    reference : Fit, optional
        The fit to every run (the full-data answer); fitted with ``fit_kwargs`` when not given.
    seed : int
    progress_bar : bool, optional
        Print one line per step; default on when stderr is a terminal (not under ``CI``), as for
        :func:`bayescale.fit`.

    Returns
    -------
    Replay
    """
    from bayescale.fit import _default_progress
    from bayescale.fit import fit as fit_law

    seed = _resolve_seed(seed)
    _flag(progress_bar, "progress_bar", optional=True)
    progress = _default_progress() if progress_bar is None else progress_bar

    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        raise ValueError(f"unknown policies {unknown}; choose from {POLICIES}")
    start = list(start)
    missing = [s for s in start if s not in runs.index]
    if missing or len(start) < 2:
        raise ValueError(f"start must name at least two rows of runs by index label; not found: {missing[:8]}")
    k = _positive_number(flops_per_param_token, "flops_per_param_token", _FLOPS_HINT)
    kwargs = dict(fit_kwargs or {})

    def fit_on(rows):  # the data warnings were given once, by the fit to every run; diagnostics go in the table
        return _quiet_fit(law, runs.loc[rows], **kwargs)

    # the fit to every run keeps its warnings; a progress_bar= in fit_kwargs is the caller's
    full = reference if reference is not None else fit_law(law, runs, **{"progress_bar": False, **kwargs})
    ref = allocate(full, compute, flops_per_param_token=k)
    ref_loss = float(ref.table.set_index("allocation").loc["bayes", "mean"])
    full_params = _cell_params(full, None)

    def regret(choice):
        v = _law_values(full.law, {"n": np.array([choice["n"]]), "d": np.array([choice["d"]])}, full_params)
        return max(float(v.mean()) - ref_loss, 0.0)

    cost = pd.Series(full.law.flops(runs["n"].to_numpy(float), runs["d"].to_numpy(float), k), index=runs.index)
    rows = []
    first = fit_on(start)
    first_choice = allocate(first, compute, flops_per_param_token=k).choice
    jobs = [(p, r) for p in policies for r in (range(repeats) if p == "random" else [0])]
    for policy, rep in jobs:
        rng = np.random.default_rng([seed, rep])
        have, spent, fit_t, choice = list(start), 0.0, first, first_choice
        rows.append({"policy": policy, "repeat": rep, "step": 0, "n": np.nan, "d": np.nan, "cost": 0.0,
                     "spent": 0.0, "choice_n": choice["n"], "choice_d": choice["d"], "regret": regret(choice),
                     "diagnostics_ok": bool(fit_t.diagnostics.ok)})
        for step in range(1, steps + 1):
            pool = runs.index.difference(have)
            pool = pool[cost[pool].to_numpy() <= budget - spent]
            if len(pool) == 0:
                break
            if policy in ("voi", "d_optimal"):
                cands = runs.loc[pool, ["n", "d"]]
                nr = next_run(fit_t, cands, compute=compute, num_outcomes=num_outcomes, flops_per_param_token=k,
                              seed=int(rng.integers(2**31)))
                row = nr.table[nr.table[f"pick_{policy}"]].iloc[0]
                pick = pool[np.flatnonzero(np.isclose(cands["n"], row["n"]) & np.isclose(cands["d"], row["d"]))[0]]
            elif policy == "cheapest":
                pick = cost[pool].idxmin()
            elif policy == "largest":
                pick = cost[pool].idxmax()
            else:
                pick = pool[int(rng.integers(len(pool)))]
            have.append(pick)
            spent += float(cost[pick])
            fit_t = fit_on(have)
            choice = allocate(fit_t, compute, flops_per_param_token=k).choice
            rows.append({"policy": policy, "repeat": rep, "step": step, "n": float(runs.loc[pick, "n"]),
                         "d": float(runs.loc[pick, "d"]), "cost": float(cost[pick]), "spent": spent,
                         "choice_n": choice["n"], "choice_d": choice["d"], "regret": regret(choice),
                         "diagnostics_ok": bool(fit_t.diagnostics.ok)})
            if progress:
                r = rows[-1]
                print(f"  {policy:9s} #{rep} step {step:2d}: + N {r['n']:.3g} D {r['d']:.3g} ({r['cost']:.2g} FLOPs), "
                      f"spent {spent:.3g}, choice N {choice['n']:.3g}, regret {r['regret']:.2e}", flush=True)
    table = pd.DataFrame(rows)
    summary = []
    for policy, g in table.groupby("policy", sort=False):
        row = {"policy": policy}
        for t in thresholds:
            reach = []
            for _, h in g.groupby("repeat"):
                above = np.flatnonzero(h["regret"].to_numpy() > t)
                last = above[-1] + 1 if len(above) else 0  # the regret stays at or below t from this step on
                reach.append(h["spent"].iloc[last] if last < len(h) else np.inf)
            row[f"spent_to_{t:g}"] = float(np.median(reach))
        row["final_regret"] = float(g.groupby("repeat")["regret"].last().mean())
        row["final_spent"] = float(g.groupby("repeat")["spent"].last().mean())
        summary.append(row)
    return Replay(table=table, reference={"n": ref.choice["n"], "d": ref.choice["d"], "loss": ref_loss,
                                          "diagnostics_ok": bool(full.diagnostics.ok)},
                  summary=pd.DataFrame(summary))
