"""Figures that read only a :class:`~bayescale.Fit` (and, for context, the runs it was fitted to).

Every function returns a matplotlib ``Figure`` and saves it when ``path=`` is given; nothing is ever shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["plot_loss_vs_compute", "plot_frontier", "plot_pair"]


def _pyplot():
    import matplotlib

    if not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=130, bbox_inches="tight")
    return fig


def _band(ax, x, frame: pd.DataFrame, quantity: str, color: str, label: str):
    rows = frame[frame["quantity"] == quantity]
    ax.fill_between(x, rows["q05"], rows["q95"], color=color, alpha=0.25, lw=0, label=f"{label} 90% interval")
    ax.plot(x, rows["q50"], color=color, lw=1.8, label=f"{label} median")


def plot_loss_vs_compute(fit, runs: pd.DataFrame | None = None, *, c: Sequence[float] | None = None,
                         k: float | None = None, path=None):
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
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    k = fit.meta["options"]["flops_per_param_token"] if k is None else k
    if runs is None:
        runs = fit.runs()
    compute = k * runs["n"].to_numpy() * runs["d"].to_numpy()
    if c is None:
        c = np.geomspace(compute.min(), compute.max() * 100, 40)
    alloc = fit.optimal_allocation(c, quantiles=(0.05, 0.5, 0.95), flops_per_param_token=k)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sc = ax.scatter(compute, runs[fit.law.target], c=np.log10(runs["n"]), cmap="viridis", s=14, zorder=3)
    fig.colorbar(sc, ax=ax, label="log10 model size N")
    _band(ax, c, alloc, "loss_opt", "C3", "compute-optimal loss L*(C)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"compute C = {k:g} N D (FLOPs)")
    ax.set_ylabel(fit.law.target)
    ax.set_title(f"{fit.law.name}: runs and posterior L*(C)")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def plot_frontier(fit, c: Sequence[float], *, k: float | None = None,
                  marks: Mapping[str, tuple[float, float, float]] | None = None, path=None):
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
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    k = fit.meta["options"]["flops_per_param_token"] if k is None else k
    c = np.asarray(c, dtype=float)
    alloc = fit.optimal_allocation(c, quantiles=(0.05, 0.5, 0.95), flops_per_param_token=k)
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


def plot_pair(fit, var_names: Sequence[str] = ("alpha", "beta"), *,
              reference: Mapping[str, Mapping[str, float]] | None = None, path=None):
    """Pair plot of posterior draws (ArviZ ``plot_pair``) with named reference points overlaid.

    Parameters
    ----------
    fit : Fit
    var_names : sequence of str
        Posterior variables.
    reference : mapping, optional
        ``{label: {var: value}}``, e.g. published estimates, drawn as markers on the off-diagonal panels.
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _pyplot()
    import arviz_plots as azp

    var_names = list(var_names)
    pc = azp.plot_pair(fit.tree, var_names=var_names, backend="matplotlib",
                       figure_kwargs={"figsize": (3.4 * len(var_names), 3.0 * len(var_names))})
    fig = pc.viz["figure"].item()
    axes = pc.viz["plot"].values
    names_y = list(pc.viz["var_name_y"].values)
    names_x = list(pc.viz["var_name_x"].values)
    for i, vy in enumerate(names_y):
        for j, vx in enumerate(names_x):
            ax = axes[i, j]
            if vx == vy or ax is None or not ax.axison:  # the diagonal and the switched-off upper triangle
                continue
            for m, (label, ref) in enumerate((reference or {}).items()):
                if vx in ref and vy in ref:
                    ax.scatter([ref[vx]], [ref[vy]], marker="X", s=90, color=f"C{m + 1}", edgecolor="k",
                               zorder=5, label=label)
            if reference:
                ax.legend(fontsize=7)
    fig.suptitle(f"{fit.law.name}: posterior of {', '.join(var_names)}")
    return _save(fig, path)
