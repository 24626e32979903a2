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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from bayescale.predict import _check_quantiles, _group_params, _qcols, parameter_draws

__all__ = ["Recommendation", "BatchTradeoff", "recommend", "batch_tradeoff"]

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
    """

    table: pd.DataFrame
    best: float
    weights: Mapping[str, float]


def _summarise(name: str, v, qs) -> dict:
    v = np.asarray(v).reshape(-1)
    row = {"quantity": name, "mean": float(np.mean(v))}
    row.update({c: float(np.quantile(v, q)) for q, c in zip(qs, _qcols(qs), strict=True)})
    return row


def _cell_params(fit, group):
    """Per-draw law parameters of one group, or of a new group drawn from the population (``group=None``)."""
    if not fit.groups:
        return _group_params(fit, None)
    if group is not None:
        return _group_params(fit, group)
    frame = pd.DataFrame({g: ["(new)"] for g in fit.groups})
    return {p: v[:, 0] for p, v in parameter_draws(fit, frame).items()}


def _newton(law, inputs, choose, z0, params, h, *, mean: bool = False, steps: int = 8):
    """Polish grid minima by Newton steps on the law in the log of the chosen inputs.

    ``z0`` is ``(rows, k)``: one start per posterior draw (``params`` holding each row's values), or, with
    ``mean=True``, one start for the posterior mean loss over every draw in ``params``. Every step is clipped to one
    grid spacing ``h`` around the start, so a surface that is not convex there keeps its grid point.
    """
    others = {x: jnp.asarray(float(v)) for x, v in inputs.items()}

    def f(z, p):
        args = {**others, **{x: jnp.exp(z[i]) for i, x in enumerate(choose)}}
        return jnp.mean(law.fn(*[args[x] for x in law.inputs], **p))

    axes = (0, None) if mean else (0, 0)
    grad = jax.vmap(jax.grad(f), in_axes=axes)
    hess = jax.vmap(jax.hessian(f), in_axes=axes)
    z = jnp.asarray(z0)
    lo, hi = z - h, z + h
    for _ in range(steps):
        g, hm = grad(z, params), hess(z, params)
        ok = jnp.all(jnp.linalg.eigvalsh(hm) > 0, axis=-1, keepdims=True)
        step = jnp.linalg.solve(jnp.where(ok[..., None], hm, jnp.eye(z.shape[1])), g[..., None])[..., 0]
        z = jnp.clip(z - jnp.where(ok, step, 0.0), lo, hi)
    return np.asarray(z)


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
    for x in others:
        if not np.isfinite(inputs[x]) or (law.is_size_input(x) and inputs[x] <= 0):
            raise ValueError(f"input {x}={inputs[x]!r} must be finite (and > 0 for a size)")
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
        return np.asarray(law.fn(*[args[x] for x in law.inputs], **p))

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
        import warnings

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
        Tokens per unit of ``b`` (the sequence length when batches are counted in sequences).
    group : str, optional
        A fitted group (e.g. a model size); by default a new group from the population (its group-predictor
        columns, if any, go in ``inputs``).
    quantiles : sequence of float
    **inputs
        Group-predictor values for a new group (e.g. ``n=1.2e9, d=2.4e10``).

    Returns
    -------
    BatchTradeoff
    """
    law = fit.law
    if list(law.inputs) != ["b"]:
        raise ValueError(f"batch_tradeoff needs a steps-to-target law with the single input 'b' (e.g. "
                         f"'mccandlish'); law {law.name!r} has {list(law.inputs)}")
    b = np.asarray(batches, dtype=float).reshape(-1)
    if b.size == 0 or np.any(~np.isfinite(b) | (b <= 0)):
        raise ValueError(f"batches must be finite and > 0, got {b.tolist()}")
    if w_time < 0 or w_compute < 0 or w_time + w_compute == 0:
        raise ValueError(f"weights must be >= 0 and not both 0, got w_time={w_time}, w_compute={w_compute}")
    qs = _check_quantiles(quantiles)
    if fit.groups and group is None:
        frame = pd.DataFrame({g: ["(new)"] for g in fit.groups})
        for col, v in inputs.items():
            frame[col] = v
        params = {p: v[:, 0] for p, v in parameter_draws(fit, frame).items()}
    else:
        params = _cell_params(fit, group)
    with jax.enable_x64(True):
        steps = np.asarray(law.fn(jnp.asarray(b)[None, :], **{k: jnp.asarray(v)[:, None] for k, v in params.items()}))
    tokens = steps * b[None, :] * tokens_per_unit
    cost = w_time * steps + w_compute * tokens
    cheapest = np.bincount(np.argmin(cost, axis=1), minlength=b.size) / cost.shape[0]
    table = pd.DataFrame({"batch": b})
    for name, v in (("steps", steps), ("tokens", tokens)):
        for q, c in zip(qs, _qcols(qs), strict=True):
            table[f"{name}_{c}"] = np.quantile(v, q, axis=0)
    table["expected_cost"] = cost.mean(axis=0)
    table["p_cheapest"] = cheapest
    return BatchTradeoff(table=table, best=float(b[int(np.argmin(table["expected_cost"]))]),
                         weights={"w_time": float(w_time), "w_compute": float(w_compute)})
