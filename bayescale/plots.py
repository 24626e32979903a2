"""Figures that read only a :class:`~bayescale.Fit` (and, for context, the runs it was fitted to).

Every function returns a matplotlib ``Figure`` and saves it when ``path=`` is given; nothing is ever shown.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

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
    if path is not None:
        fig.savefig(path, dpi=130, bbox_inches="tight")
    return fig


def _band(ax, x, frame: pd.DataFrame, quantity: str, color: str, label: str):
    rows = frame[frame["quantity"] == quantity]
    ax.fill_between(x, rows["q05"], rows["q95"], color=color, alpha=0.25, lw=0, label=f"{label} 90% interval")
    ax.plot(x, rows["q50"], color=color, lw=1.8, label=f"{label} median")


def _sorted_budgets(c) -> np.ndarray:
    """Return budgets as ``optimal_allocation`` reads them (numbers, or sizes like ``"100T"``), in increasing order.

    A band is drawn between neighbouring budgets, so they must be sorted.
    """
    from bayescale.data import _budgets

    return np.sort(_budgets(c, "c"))


def plot_loss_vs_compute(fit, runs: pd.DataFrame | None = None, *, c: Sequence[float] | None = None,
                         k: float | None = None, group: str | None = None, path=None):
    """Observed loss against compute, with the posterior of the compute-optimal loss L*(C) as a 90% band.

    Parameters
    ----------
    fit : Fit
        A fit of a law with a compute frontier (inputs ``n`` and ``d``).
    runs : pandas.DataFrame, optional
        Runs to draw as points (coloured by model size); default the fit's observed data.
    c : sequence of float, optional
        Compute budgets of the band; default from the smallest run's compute to 100x the largest.
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
    k = fit.meta["options"]["flops_per_param_token"] if k is None else k
    if group is not None:  # a label the fit has not seen is refused here, before the runs are filtered by it
        from bayescale.predict import _group_params

        _group_params(fit, group)
    if runs is None:
        runs = fit.runs()
        if group is not None:
            runs = runs[runs[list(fit.groups)].astype(str).agg(" | ".join, axis=1) == str(group)]
    compute = k * runs["n"].to_numpy() * runs["d"].to_numpy()
    c = np.geomspace(compute.min(), compute.max() * 100, 40) if c is None else _sorted_budgets(c)
    alloc = fit.optimal_allocation(c, quantiles=(0.05, 0.5, 0.95), flops_per_param_token=k, group=group)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sc = ax.scatter(compute, runs[fit.law.target], c=np.log10(runs["n"]), cmap="viridis", s=14, zorder=3)
    fig.colorbar(sc, ax=ax, label="log10 model size N")
    _band(ax, c, alloc, "loss_opt", "C3", "compute-optimal loss L*(C)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"compute C = {k:g} N D (FLOPs)")
    ax.set_ylabel(fit.law.target)
    _readable_log_y(ax)
    ax.set_title(f"{fit.law.name}: runs and posterior L*(C)")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def plot_frontier(fit, c: Sequence[float], *, k: float | None = None,
                  marks: Mapping[str, tuple[float, float, float]] | None = None, group: str | None = None,
                  path=None):
    """Plot the compute-optimal frontier N*(C) and D*(C) with 90% posterior bands.

    Parameters
    ----------
    fit : Fit
    c : sequence of float
        Compute budgets (FLOPs).
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
    k = fit.meta["options"]["flops_per_param_token"] if k is None else k
    c = _sorted_budgets(c)
    alloc = fit.optimal_allocation(c, quantiles=(0.05, 0.5, 0.95), flops_per_param_token=k, group=group)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, quantity, label, color in ((axes[0], "n_opt", "N*(C) parameters", "C0"),
                                       (axes[1], "d_opt", "D*(C) tokens", "C1")):
        _band(ax, c, alloc, quantity, color, label.split()[0])
        for i, (name, (mc, mn, md)) in enumerate((marks or {}).items()):
            ax.scatter([mc], [mn if quantity == "n_opt" else md], marker="*", s=120, color=f"C{i + 4}",
                       zorder=4, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle(f"{fit.law.name}: compute-optimal allocation (C = {k:g} N D)")
    fig.tight_layout()
    return _save(fig, path)


def _pair_names(fit, var_names: Sequence[str] | None) -> list[str]:
    """:func:`plot_pair`'s variables: those given, none of them fixed, or its default."""
    fixed = dict(getattr(getattr(fit, "config", None), "fixed", None) or {})
    free = [p for p in fit.law.params if p not in fixed]
    if var_names is None:
        names = [p for p in ("alpha", "beta") if p in free]
        return names + [p for p in free if p not in names][:max(0, 2 - len(names))]
    known = list(fit.tree.posterior.data_vars)
    unknown = [v for v in var_names if v not in known]
    if unknown:
        raise KeyError(f"the fit has no variable(s) {unknown}; its posterior holds {known}")
    held = [v for v in var_names if v in fixed]
    if held:
        raise ValueError(f"{held} held fixed in this fit (fixed={fixed}): their draws are one value, nothing to plot; "
                         f"choose among the parameters fitted: {free}")
    return list(var_names)


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

    var_names = _pair_names(fit, var_names)
    pc = azp.plot_pair(fit.tree, var_names=var_names, backend="matplotlib",
                       figure_kwargs={"figsize": (3.4 * len(var_names), 3.0 * len(var_names))})
    fig = pc.viz["figure"].item()
    axes = pc.viz["plot"].values
    names_y = list(pc.viz["var_name_y"].values)
    names_x = list(pc.viz["var_name_x"].values)
    for i, vy in enumerate(names_y):
        for j, vx in enumerate(names_x):
            ax = axes[i, j]
            if ax is None or not ax.axison:  # the switched-off upper triangle
                continue
            if vx == vy:  # a marginal density: its y axis is a density, not the variable
                if ax.get_ylabel():
                    ax.set_ylabel("density")
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


def plot_chain(chain_fit, *, at: pd.DataFrame | None = None, groups: Sequence[str] | None = None, seed: int = 0,
               title: str | None = None, path=None):
    """Each stage of a chained fit with its bands, and the chained predictions at ``at``.

    The first panel shows the first stage's observed target against compute (``6 n d`` for laws in ``n`` and ``d``,
    else the first input); each later panel shows a stage's target against the previous stage's target: the runs,
    the law's curve with its 90% band (posterior of the curve, per group), and, at ``at``, the chained predictive
    medians with 90% intervals on both axes.

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
    chain = chain_fit.chain
    runs = chain_fit.runs()
    gcols = list(chain_fit.groups)
    levels = list(groups) if groups is not None else list(chain_fit.levels)[:6]
    key = runs[gcols].astype(str).agg(" | ".join, axis=1) if gcols else pd.Series("all", index=runs.index)
    pred = chain_fit.predict(at, quantiles=(0.05, 0.5, 0.95), seed=seed) if at is not None else None
    pkey = None
    if pred is not None:
        pkey = pred[gcols].astype(str).agg(" | ".join, axis=1) if gcols else pd.Series("all", index=pred.index)
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
        xname, xrun = "compute (FLOPs)", k * runs["n"] * runs["d"]

        def xof(frame):
            return k * frame["n"] * frame["d"]
    else:
        x0 = first.input_names[0]
        xname, xrun = f"{x0} [{first.inputs[x0]}]", runs[x0]

        def xof(frame):
            return frame[x0]
    for lv, col in colours.items():
        sel = key == lv
        ax.scatter(xrun[sel], runs.loc[sel, first.target], s=14, color=col, label=lv if gcols else "runs")
        if pred is not None:
            p = pred[(pred["target"] == first.target) & (pkey == lv)]
            ax.errorbar(xof(p), p["q50"], yerr=[p["q50"] - p["q05"], p["q95"] - p["q50"]], fmt="D", ms=5, color=col,
                        mfc="white", capsize=3)
            if "n" in p.columns:  # name each predicted model by its size
                for x, y, n in zip(xof(p), p["q95"], p["n"], strict=True):
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
                            fmt="D", ms=5, color=col, mfc="white", capsize=3)
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


def _size_label(n: float) -> str:
    """``7e9`` -> ``"7B"``, ``1.5e8`` -> ``"150M"``: a model size as papers write it."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


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
        Label of the target axis.
    title : str, optional
    path : path-like, optional
        Where to save the figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
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
    ax.set_ylabel(f"{ylabel or 'target'} ({result.better} is better)")
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
