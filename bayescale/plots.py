"""Figures that read only a :class:`~bayescale.Fit` (and, for context, the runs it was fitted to).

Every function returns a matplotlib ``Figure`` and saves it when ``path=`` is given (its folder made if missing);
nothing is ever shown. A figure saved to ``path`` is closed in pyplot, so a loop over groups or budgets holds no
figures open (the returned object can still be saved again or displayed); a call that fails closes what it made.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.build import group_key

__all__ = ["plot_loss_vs_compute", "plot_frontier", "plot_pair", "plot_chain", "plot_compare_at_scale"]


def _pyplot():
    import matplotlib

    if not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _readable_log_y(ax) -> None:
    """Label a log y axis spanning under a decade (a loss from 1.8 to 3.5) at 2, 2.5, 3 rather than 2x10^0."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    lo, hi = ax.get_ylim()
    if ax.get_yscale() != "log" or lo <= 0 or hi / lo >= 10:
        return
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save(fig, path):
    """Save ``fig`` to ``path`` (its folder made if missing, as ``Fit.save`` does) and close it in pyplot."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=130, bbox_inches="tight")
        _pyplot().close(fig)
    return fig


def _closes_on_error(fn):
    """Close the figures a plotting function made when it fails (a bad argument found after the figure's start)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        plt = _pyplot()
        before = set(plt.get_fignums())
        try:
            return fn(*args, **kwargs)
        except BaseException:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise

    return wrapper


def _need(obj, kind: str, fn: str, fix: str = "") -> None:
    """Refuse an object of the wrong kind for a plotting function, by class name, before any work."""
    names = {k.__name__ for k in type(obj).__mro__}
    if kind not in names:
        raise TypeError(f"{fn} takes a {kind}, got {type(obj).__name__}{fix}")


def _band(ax, x, frame: pd.DataFrame, quantity: str, color: str, label: str):
    """Draw the 90% band and the median of ``quantity`` over ``x``; at one budget, a point with its 90% bar."""
    rows = frame[frame["quantity"] == quantity]
    if len(x) == 1:
        mid = rows["q50"].to_numpy()
        ax.errorbar(x, mid, yerr=[mid - rows["q05"].to_numpy(), rows["q95"].to_numpy() - mid], fmt="o", ms=6,
                    color=color, capsize=4, label=f"{label}: median and 90% interval")
        return
    ax.fill_between(x, rows["q05"], rows["q95"], color=color, alpha=0.25, lw=0, label=f"{label} 90% interval")
    ax.plot(x, rows["q50"], color=color, lw=1.8, label=f"{label} median")


def _beyond_data(ax, largest: float, c: np.ndarray) -> None:
    """Shade the budgets past the largest fitted run's compute: there the curve is an extrapolation.

    One budget is a point, with no span to shade.
    """
    if c.size > 1 and c.max() > max(largest, c.min()):
        ax.axvspan(max(largest, c.min()), c.max(), color="0.93", lw=0, zorder=0,
                   label=f"beyond the largest fitted run ({largest:.2g} FLOPs)")


def _loss_opt_panel(ax, fit, c: np.ndarray, k: float, largest: float, group: str | None = None) -> None:
    """Draw the posterior of the compute-optimal loss L*(C) over budgets ``c`` as a 90% band on log axes.

    The budgets past ``largest`` (the largest fitted run's compute) are shaded; the runs are the caller's to draw
    first (the y axis' ticks follow what is drawn). :func:`plot_loss_vs_compute` and the report's per-group panels.
    """
    alloc = fit.optimal_allocation(c, quantiles=(0.05, 0.5, 0.95), flops_per_param_token=k, group=group)
    _band(ax, c, alloc, "loss_opt", "C3", "compute-optimal loss L*(C)")
    _beyond_data(ax, largest, c)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"compute C = {k:g} N D (FLOPs)")
    ax.set_ylabel(fit.law.target)
    _readable_log_y(ax)


def _frontier_law(fit, fn: str) -> None:
    """Refuse a fit whose law has no compute frontier (inputs ``n`` and ``d``) for ``fn``."""
    _need(fit, "Fit", fn, "; for a chain's stage, pass chain_fit.stages[target]")
    if not {"n", "d"} <= set(fit.law.inputs):
        raise ValueError(f"{fn} draws a compute frontier, which needs a law in n and d; law {fit.law.name!r} takes "
                         f"{list(fit.law.inputs)}")


def _largest_compute(fit, k: float) -> float:
    runs = fit.runs()
    return float(fit.law.flops(runs["n"], runs["d"], k).max())


def _flops_per_token(fit, k) -> float:
    from bayescale.data import _FLOPS_HINT, _positive_number

    return float(fit.meta["options"]["flops_per_param_token"]) if k is None else _positive_number(k, "k",
                                                                                                    _FLOPS_HINT)


def _panels(post, v: str) -> int:
    """Count the panels of posterior variable ``v`` in a per-element figure (pair, trace, rank): a group's each."""
    return int(np.prod(post[v].shape[2:], dtype=int))


def _group_title(group) -> str:
    return "" if group is None else f", group {group}"


def _sorted_budgets(c) -> np.ndarray:
    """Return budgets as ``optimal_allocation`` reads them (numbers, or sizes like ``"100T"``), in increasing order.

    A band is drawn between neighbouring budgets, so they must be sorted.
    """
    from bayescale.data import _budgets

    return np.sort(_budgets(c, "c"))


@_closes_on_error
def plot_loss_vs_compute(fit, runs: pd.DataFrame | None = None, *, c: Sequence[float] | None = None,
                         k: float | None = None, group: str | None = None, path=None):
    """Observed loss against compute, with the posterior of the compute-optimal loss L*(C) as a 90% band.

    Budgets past the largest fitted run's compute are shaded: there the band is an extrapolation.

    Parameters
    ----------
    fit : Fit
        A fit of a law with a compute frontier (inputs ``n`` and ``d``).
    runs : pandas.DataFrame, optional
        Runs to draw as points (coloured by model size; columns ``n``, ``d`` and the law's target); default the
        fit's observed data.
    c : sequence of float, optional
        Compute budgets of the band; default from the smallest run's compute to 100x the largest. One budget is
        drawn as a point with its 90% interval.
    k : float, optional
        FLOPs per parameter per token; default the fit's convention.
    group : str, optional
        For a hierarchical fit: the fitted group whose L*(C) to draw (and whose runs, by default); with several
        group columns, its label joins their values with ``" | "`` (``"g0 | x"``), as ``fit.levels`` lists them.
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    _frontier_law(fit, "plot_loss_vs_compute")
    k = _flops_per_token(fit, k)
    if group is not None:  # a label the fit has not seen is refused here, before the runs are filtered by it
        from bayescale.predict import _group_params

        _group_params(fit, group)
    target = fit.law.target
    if runs is None:
        runs = fit.runs()
        if group is not None:
            runs = runs[group_key(runs, fit.groups) == str(group)]
    else:
        from bayescale.data import _not_a_table

        if not isinstance(runs, pd.DataFrame):
            raise _not_a_table(runs)
        missing = [col for col in ("n", "d", target) if col not in runs.columns]
        if missing or runs.empty:
            raise ValueError(f"runs= to draw needs rows with columns n, d and {target!r}; "
                             + (f"it lacks {missing}" if missing else "it has no rows"))
    compute = fit.law.flops(runs["n"].to_numpy(float), runs["d"].to_numpy(float), k)
    largest = _largest_compute(fit, k)
    c = np.geomspace(compute.min(), compute.max() * 100, 40) if c is None else _sorted_budgets(c)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sc = ax.scatter(compute, runs[target], c=np.log10(runs["n"].to_numpy(float)), cmap="viridis", s=14, zorder=3,
                    label="runs (colour: model size)")
    bar = fig.colorbar(sc, ax=ax, label="model size N (parameters)")
    _size_ticks(bar, *sc.get_clim())
    _loss_opt_panel(ax, fit, c, k, largest, group)
    ax.set_title(f"{fit.law.name}{_group_title(group)}: runs and posterior L*(C)")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


@_closes_on_error
def plot_frontier(fit, c: Sequence[float], *, k: float | None = None,
                  marks: Mapping[str, tuple[float, float, float]] | None = None, group: str | None = None,
                  path=None):
    """Plot the compute-optimal frontier N*(C) and D*(C) with 90% posterior bands.

    Parameters
    ----------
    fit : Fit
    c : sequence of float
        Compute budgets (FLOPs); one budget is drawn as a point with its 90% interval. Budgets past the largest
        fitted run's compute are shaded: there the frontier is an extrapolation.
    k : float, optional
        FLOPs per parameter per token; default the fit's convention.
    marks : mapping, optional
        Named reference points ``{label: (c, n, d)}`` (e.g. a trained model), drawn on both panels.
    group : str, optional
        For a hierarchical fit: the fitted group whose frontier to draw (one of ``fit.levels``).
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    _frontier_law(fit, "plot_frontier")
    k = _flops_per_token(fit, k)
    c = _sorted_budgets(c)
    marks = _checked_marks(marks)
    alloc = fit.optimal_allocation(c, quantiles=(0.05, 0.5, 0.95), flops_per_param_token=k, group=group)
    largest = _largest_compute(fit, k)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, quantity, label, color in ((axes[0], "n_opt", "N*(C) parameters", "C0"),
                                       (axes[1], "d_opt", "D*(C) tokens", "C1")):
        _band(ax, c, alloc, quantity, color, label.split()[0])
        _beyond_data(ax, largest, c)
        for i, (name, (mc, mn, md)) in enumerate(marks.items()):
            ax.scatter([mc], [mn if quantity == "n_opt" else md], marker="*", s=120, color=f"C{i + 4}",
                       zorder=4, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"{fit.law.name}{_group_title(group)}: compute-optimal allocation (C = {k:g} N D)")
    fig.tight_layout()
    return _save(fig, path)


def _checked_marks(marks) -> dict[str, tuple[float, float, float]]:
    """``plot_frontier``'s ``marks``, each a finite positive ``(c, n, d)``; a bad one is refused by its label."""
    out = {}
    for label, value in (marks or {}).items():
        try:
            point = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            point = ()
        if len(point) != 3 or not all(np.isfinite(v) and v > 0 for v in point):
            raise ValueError(f"marks[{label!r}] = {value!r}: a mark is (c, n, d), three finite numbers > 0 (compute "
                             "in FLOPs, parameters, tokens), e.g. (5.76e23, 7e10, 1.4e12)")
        out[label] = point
    return out


def _pair_names(fit, var_names: Sequence[str] | None) -> list[str]:
    """:func:`plot_pair`'s variables: those given, none of them fixed, or its default."""
    fixed = dict(getattr(getattr(fit, "config", None), "fixed", None) or {})
    free = [p for p in fit.law.params if p not in fixed]
    if var_names is None:
        names = [p for p in ("alpha", "beta") if p in free]
        return names + [p for p in free if p not in names][:max(0, 2 - len(names))]
    if isinstance(var_names, str):  # one name, not its letters
        var_names = [var_names]
    var_names = list(dict.fromkeys(var_names))  # a name given twice is one panel
    if not var_names:
        raise ValueError(f"var_names is empty; name at least one posterior variable, e.g. {free[:2]}")
    known = list(fit.tree.posterior.data_vars)
    unknown = [v for v in var_names if v not in known]
    if unknown:
        raise KeyError(f"the fit has no variable(s) {unknown}; its posterior holds {known}")
    held = [v for v in var_names if v in fixed]
    if held:
        raise ValueError(f"{held} held fixed in this fit (fixed={fixed}): their draws are one value, nothing to plot; "
                         f"choose among the parameters fitted: {free}")
    return list(var_names)


@_closes_on_error
def plot_pair(fit, var_names: Sequence[str] | None = None, *,
              reference: Mapping[str, Mapping[str, float]] | None = None, path=None):
    """Pair plot of posterior draws (ArviZ ``plot_pair``) with named reference points overlaid.

    Parameters
    ----------
    fit : Fit
    var_names : sequence of str, optional
        Posterior variables; default the exponents ``alpha`` and ``beta`` where the law has them, otherwise its first
        two parameters, leaving out parameters the fit held fixed (``fixed=``), whose draws are all one value.
    reference : mapping, optional
        ``{label: {var: value}}``, e.g. published estimates, drawn as markers on the off-diagonal panels.
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _pyplot()
    import arviz_plots as azp

    _need(fit, "Fit", "plot_pair", "; for a chain's stage, pass chain_fit.stages[target]")
    var_names = _pair_names(fit, var_names)
    _check_reference(reference, var_names)
    panels = sum(_panels(fit.tree.posterior, v) for v in var_names)
    pc = azp.plot_pair(fit.tree, var_names=var_names, backend="matplotlib",
                       figure_kwargs={"figsize": (2.6 * panels + 1.0, 2.3 * panels + 0.8)})
    fig = pc.viz["figure"].item()
    axes = pc.viz["plot"].values
    names_y = list(pc.viz["var_name_y"].values)
    names_x = list(pc.viz["var_name_x"].values)
    for i, vy in enumerate(names_y):
        for j, vx in enumerate(names_x):
            ax = axes[i, j]
            if ax is None or not ax.axison:  # the switched-off upper triangle
                continue
            if i == j:  # a marginal density (of one group's parameter, where grouped): not a variable's scale
                ax.set_ylabel("density" if j == 0 else "")
                ax.tick_params(axis="y", labelleft=False)
                continue
            refs = [(label, ref) for label, ref in (reference or {}).items() if vx in ref and vy in ref]
            for m, (label, ref) in enumerate(refs):
                ax.scatter([ref[vx]], [ref[vy]], marker="X", s=90, color=f"C{m + 1}", edgecolor="k", zorder=5,
                           label=label)
            for get, put, v in ((ax.get_xlim, ax.set_xlim, vx), (ax.get_ylim, ax.set_ylim, vy)):
                if refs:  # keep every reference point (and its marker) inside the panel
                    lo, hi = get()
                    vals = [float(ref[v]) for _, ref in refs]
                    pad = 0.06 * (max(hi, *vals) - min(lo, *vals))
                    put(min(lo, min(vals) - pad), max(hi, max(vals) + pad))
            if refs:
                ax.legend(fontsize=7)
    fig.suptitle(f"{fit.law.name}: posterior of {', '.join(var_names)}")
    return _save(fig, path)


def _check_reference(reference, var_names: Sequence[str]) -> None:
    """Refuse a reference point that marks no panel (a misspelt name): it would be left out without a word.

    A point is drawn on the panels of each pair of drawn variables it gives; other names (a paper's full set of
    estimates) are passed over.
    """
    for label, ref in (reference or {}).items():
        if not isinstance(ref, Mapping):
            raise TypeError(f"reference[{label!r}] must map variable names to values, e.g. {{'alpha': 0.34}}; got "
                            f"{type(ref).__name__}")
        if len([v for v in ref if v in var_names]) < min(2, len(var_names)):
            raise ValueError(f"reference[{label!r}] gives {list(ref)}, which marks no panel: a point needs two of the "
                             f"variables drawn, {list(var_names)}; correct the names, or add them to var_names=")


@_closes_on_error
def plot_chain(chain_fit, *, at: pd.DataFrame | None = None, groups: Sequence[str] | None = None, seed: int = 0,
               title: str | None = None, path=None):
    """Each stage of a chained fit with its bands, and the chained predictions at ``at``.

    The first panel shows the first stage's observed target against compute (``6 n d`` for laws in ``n`` and ``d``,
    else the first input); each later panel shows a stage's target against the previous stage's target: the runs,
    the law's curve with its 90% band (posterior of the curve, per group), and, at ``at``, the chained predictive
    medians with 90% intervals on both axes. In the first panel, groups predicted at the same inputs are set a little
    apart in x, so that none hides another.

    Parameters
    ----------
    chain_fit : bayescale.chain.ChainFit
    at : pandas.DataFrame, optional
        Inputs of the chained predictions to mark (the chain's inputs and groups).
    groups : sequence of str, optional
        Group levels to draw (default: up to 6 of the fit's, then every other level ``at`` predicts, a new group's
        with the population's band). With ``groups=``, ``at``'s rows in other groups are left out with a warning.
    seed : int
    title : str, optional
        What the figure shows (e.g. the task or corpus), put before the chain's name in the figure's title; by
        default the group level when one is drawn.
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    _need(chain_fit, "ChainFit", "plot_chain", "; fit a chain with bs.fit(bs.chain(...), runs)")
    chain = chain_fit.chain
    runs = chain_fit.runs()
    gcols = list(chain_fit.groups)
    if groups is not None:
        if isinstance(groups, str):
            groups = [groups]
        if not gcols or not list(groups):
            raise ValueError("groups= picks groups of a grouped chain fit: " + (
                f"name some of {list(chain_fit.levels)}" if gcols else "this one has none (leave groups= out)"))
    levels = list(groups) if groups is not None else list(chain_fit.levels)[:6]
    key = group_key(runs, gcols) if gcols else pd.Series("all", index=runs.index)
    pred = chain_fit.predict(at, quantiles=(0.05, 0.5, 0.95), seed=seed) if at is not None else None
    pkey = None
    if pred is not None:
        pkey = group_key(pred, gcols) if gcols else pd.Series("all", index=pred.index)
        if gcols:
            levels = _predicted_levels(levels, pkey, pred, gcols, given=groups is not None)
    if gcols:  # the drawn groups only (axes follow their runs)
        runs, key = runs[key.isin(levels)], key[key.isin(levels)]
    n_st = len(chain.stages)
    fig, axes = plt.subplots(1, n_st, figsize=(4.6 * n_st, 3.8), squeeze=False)
    colours = {lv: f"C{i % 10}" for i, lv in enumerate(levels if gcols else ["all"])}
    first = chain.stages[0]
    ax = axes[0, 0]
    if {"n", "d"} <= set(first.inputs):
        k = chain_fit.stages[first.target].meta["options"]["flops_per_param_token"]
        xname, xrun = "compute (FLOPs)", first.flops(runs["n"], runs["d"], k)

        def xof(frame):
            return first.flops(frame["n"], frame["d"], k)
    else:
        x0 = first.input_names[0]
        xname, xrun = f"{x0} [{first.inputs[x0]}]", runs[x0]

        def xof(frame):
            return frame[x0]
    predicted = [lv for lv in colours if pred is not None and (pkey == lv).any()]
    shift = _dodge(xrun, None if pred is None else xof(pred), predicted)
    # the widest intervals (a new group's) beneath, so that they do not cover a fitted group's narrow ones
    width = {lv: float(np.median((pred["q95"] - pred["q05"])[pkey == lv] / pred["q50"][pkey == lv].abs().clip(1e-12)))
             for lv in predicted}
    above = {lv: 3 + i for i, lv in enumerate(sorted(predicted, key=width.get, reverse=True))}
    for lv, col in colours.items():
        sel = key == lv
        ax.scatter(xrun[sel], runs.loc[sel, first.target], s=14, color=col, label=lv if gcols else "runs")
        if pred is not None:
            p = pred[(pred["target"] == first.target) & (pkey == lv)]
            px = xof(p) * shift.get(lv, 1.0)
            ax.errorbar(px, p["q50"], yerr=[p["q50"] - p["q05"], p["q95"] - p["q50"]], fmt="D", ms=5, color=col,
                        mfc="white", capsize=3, zorder=above.get(lv, 3))
            if "n" in p.columns:  # name each predicted model by its size
                for x, y, n in zip(px, p["q95"], p["n"], strict=True):
                    ax.annotate(_size_label(n), (x, y), xytext=(0, 3), textcoords="offset points", ha="center",
                                fontsize=7, color=col)
    ax.set_xscale("log")
    ax.set_xlabel(xname)
    ax.set_ylabel(first.target)
    ax.set_title(f"stage 1: {first.name}", fontsize=10)
    for j, (law, fed) in enumerate(zip(chain.stages[1:], chain.feeds, strict=True), start=1):
        ax = axes[0, j]
        prev = chain.stages[j - 1].target
        fit_j = chain_fit.stages[law.target]
        lo_x = float(runs[prev].min())
        hi_x = float(runs[prev].max())
        if pred is not None:
            lo_x = min(lo_x, float(pred.loc[pred["target"] == prev, "q05"].min()))
            hi_x = max(hi_x, float(pred.loc[pred["target"] == prev, "q95"].max()))
        grid = np.linspace(lo_x, hi_x, 60)
        for lv, col in colours.items():
            sel = key == lv
            ax.scatter(runs.loc[sel, prev], runs.loc[sel, law.target], s=14, color=col)
            new = pd.DataFrame({fed: grid})
            # a group without runs (predicted at ``at`` only) takes its other inputs from its predictions' rows
            src = runs.loc[sel] if sel.any() or pred is None else pred[pkey == lv]
            for x in law.inputs:
                if x != fed:
                    new[x] = float(src[x].iloc[0])
            for g, v in zip(gcols, lv.split(" | ") if gcols else [], strict=False):
                new[g] = v
            band = fit_j.predict(new, quantiles=(0.05, 0.5, 0.95), kind="mean", seed=seed)
            ax.fill_between(grid, band["q05"], band["q95"], color=col, alpha=0.2, lw=0)
            ax.plot(grid, band["q50"], color=col, lw=1.4)
            if pred is not None:
                px = pred[(pred["target"] == prev) & (pkey == lv)]
                py = pred[(pred["target"] == law.target) & (pkey == lv)]
                ax.errorbar(px["q50"].to_numpy(), py["q50"].to_numpy(),
                            xerr=[(px["q50"] - px["q05"]).to_numpy(), (px["q95"] - px["q50"]).to_numpy()],
                            yerr=[(py["q50"] - py["q05"]).to_numpy(), (py["q95"] - py["q50"]).to_numpy()],
                            fmt="D", ms=5, color=col, mfc="white", capsize=3, zorder=above.get(lv, 3))
        ax.set_xlabel(prev)
        ax.set_ylabel(law.target)
        ax.set_title(f"stage {j + 1}: {law.name} (curve: 90% band)", fontsize=10)
    if gcols and len(colours) > 1:
        axes[0, 0].legend(fontsize=7, frameon=False)
    if title is None and gcols and len(levels) == 1:
        title = f"{' | '.join(gcols)} = {levels[0]}"
    fig.suptitle(f"{title + ': ' if title else ''}{chain.name}: runs (dots), chained predictions (diamonds, 90% "
                 "intervals)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _dodge(x_runs, x_pred, levels: list[str]) -> dict[str, float]:
    """Return factors that set each group's predictions a little apart on a log x axis (one group: none).

    Groups predicted at the same inputs then do not hide one another's intervals; the axis spans ``x_runs`` and
    ``x_pred``.
    """
    if len(levels) < 2:
        return {}
    x = np.concatenate([np.asarray(x_runs, float), np.asarray(x_pred, float)])
    x = np.log10(x[np.isfinite(x) & (x > 0)])  # what a log axis shows
    step = 0.025 * max(float(np.ptp(x)) if x.size else 0.0, 1.0)  # between neighbours: a fortieth of the axis
    return {lv: 10.0 ** (step * (i - (len(levels) - 1) / 2)) for i, lv in enumerate(levels)}


def _predicted_levels(levels: list[str], pkey: pd.Series, pred: pd.DataFrame, gcols: list[str], *,
                      given: bool) -> list[str]:
    """Return the group levels :func:`plot_chain` draws once ``at``'s are known.

    By default every level ``at`` predicts is drawn (a group the fit has not seen too: its diamonds without runs,
    its band the population's), after the fit's first levels. Levels chosen with ``groups=`` stay as chosen, and
    ``at``'s rows in other groups are said in a warning rather than dropped unsaid.
    """
    extra = [lv for lv in dict.fromkeys(pkey) if lv not in levels]
    if not extra:
        return levels
    if not given:
        return levels + extra
    rows = [str(r) for r in dict.fromkeys(pred.index[pkey.isin(extra)])]
    warnings.warn(f"plot_chain: at= rows {', '.join(rows)} ({' | '.join(gcols)} = {', '.join(extra)}) are not "
                  f"drawn, since groups={list(levels)} leaves their groups out; add them to groups= to draw them",
                  UserWarning, stacklevel=3)
    return levels


def _size_ticks(bar, lo: float, hi: float) -> None:
    """Tick a colour bar of log10 sizes at round sizes named as papers write them (100M, 1B) rather than 8.0, 9.0."""
    steps = (1, 3) if hi - lo > 2 else (1, 2, 5)
    ticks = [e + np.log10(m) for e in range(int(np.floor(lo)), int(np.ceil(hi)) + 1) for m in steps]
    ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    if len(ticks) >= 2:
        bar.set_ticks(ticks)
        bar.set_ticklabels([_size_label(10.0 ** t) for t in ticks])


def _size_label(n: float) -> str:
    """``7e9`` -> ``"7B"``, ``1.5e8`` -> ``"150M"``: a model size as papers write it."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


@_closes_on_error
def plot_compare_at_scale(result, *, observed=None, ylabel: str | None = None, title: str | None = None, path=None):
    """Each configuration's curve against compute with its band, and beneath it the strip of P(best).

    The band spans the outermost quantiles ``compare_at_scale`` computed (90% with its default quantiles).

    Parameters
    ----------
    result : bayescale.decide.ScaleComparison
        What :func:`bayescale.compare_at_scale` returned (its ``curves`` hold the fine compute grid).
    observed : pandas.DataFrame, optional
        Measured points to overlay, with columns ``config``, ``compute`` and ``value`` (and optionally a boolean
        ``held_out``: those are drawn hollow).
    ylabel : str, optional
        Label of the target axis; default the compared target's name (``result.target``).
    title : str, optional
    path : path-like, optional
        Where to save the figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    _need(result, "ScaleComparison", "plot_compare_at_scale", "; pass what bs.compare_at_scale returned")
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    curves, table = result.curves, result.table
    # the band between the outermost quantiles compare_at_scale computed (its default: q05 and q95), the line at
    # the median, or the mean when q50 was not asked for
    qcols = sorted((col for col in curves.columns if re.fullmatch(r"q\d+(\.\d+)?", col)), key=lambda q: float(q[1:]))
    lo_q, hi_q = (qcols[0], qcols[-1]) if len(qcols) >= 2 else ("mean", "mean")
    mid = "q50" if "q50" in curves.columns else "mean"
    band = f"{float(hi_q[1:]) - float(lo_q[1:]):g}% bands" if len(qcols) >= 2 else "means (no quantiles)"
    names = list(dict.fromkeys(curves["config"]))
    for i, name in enumerate(names):
        c = curves[curves["config"] == name]
        ax.fill_between(c["compute"], c[lo_q], c[hi_q], color=f"C{i}", alpha=0.2, lw=0)
        ax.plot(c["compute"], c[mid], color=f"C{i}", lw=1.6, label=name)
        t = table[table["config"] == name]
        ax.errorbar(t["compute"], t[mid], yerr=[t[mid] - t[lo_q], t[hi_q] - t[mid]], fmt="o", ms=4,
                    color=f"C{i}", capsize=3)
        if observed is not None:
            o = observed[observed["config"] == name]
            held = o["held_out"].to_numpy(bool) if "held_out" in o else np.zeros(len(o), bool)
            ax.scatter(o["compute"][~held], o["value"][~held], s=10, color=f"C{i}", alpha=0.7, lw=0)
            if held.any():
                ax.scatter(o["compute"][held], o["value"][held], s=18, facecolors="none", edgecolors=f"C{i}",
                           label=f"{name}: held out")
    ax.set_xscale("log")
    ax.set_ylabel(f"{ylabel or result.target or 'target'}; {result.better} is better")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title or f"Curves with {band}; dots: the compared budgets", fontsize=10)
    grid = np.sort(curves["compute"].unique())
    shares = [curves[curves["config"] == name].set_index("compute").loc[grid, "p_best"].to_numpy() for name in names]
    strip.stackplot(grid, *shares, colors=[f"C{i}" for i in range(len(names))], alpha=0.8)
    for budget in table["compute"].unique():
        for a in (ax, strip):
            a.axvline(budget, color="grey", lw=0.6, ls=":")
    strip.set_ylim(0, 1)
    seen = observed["compute"].to_numpy(float) if observed is not None and len(observed) else grid
    lo, hi = min(grid[0], seen.min()), max(grid[-1], seen.max())
    pad = (hi / lo) ** 0.03
    ax.set_xlim(lo / pad, hi * pad)
    for left, right in ((lo / pad, grid[0]), (grid[-1], hi * pad)):  # observed points beyond the compared span
        if right > left * pad ** 1.5:
            strip.axvspan(left, right, color="0.92", lw=0)
            strip.text(np.sqrt(left * right), 0.5, "not compared", ha="center", va="center", fontsize=7, color="0.4")
    strip.set_ylabel("P(best)")
    strip.set_xlabel("compute (FLOPs)")
    fig.tight_layout()
    return _save(fig, path)
