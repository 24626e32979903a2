"""A fit's report: one self-contained HTML page (figures inlined) and its Markdown twin.

:func:`write_report` (``Fit.report``, ``bayescale report fit.nc --out DIR``) runs :func:`bayescale.check.check`, draws
the figures (arviz-plots where it has them: trace, rank, pair, posterior predictive, LOO-PIT; matplotlib for the
residuals and the law's extrapolation bands) and renders two Jinja2 templates: ``report.html`` with every figure
as an inline PNG, and ``report.md`` with the figures as files in ``figures/``. Nothing is shown on screen.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.build import group_key, obs_site
from bayescale.data import _flag
from bayescale.plots import _panels

__all__ = ["write_report", "ReportFiles", "SECTIONS"]

#: Section ids of the report, in order (the HTML has an element with each id; the Markdown a heading each).
SECTIONS = ("verdict", "data", "diagnostics", "parameters", "trace", "pair", "ppc", "residuals", "loo-pit",
            "influence", "sensitivity", "law", "provenance")


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`write_report` wrote the report.

    Attributes
    ----------
    html : pathlib.Path
        Self-contained page (figures inlined as PNG data URIs).
    markdown : pathlib.Path
        Markdown twin; its figures are ``figures/*.png`` beside it.
    figures : dict of str to pathlib.Path
    report : bayescale.check.Report
    """

    html: Path
    markdown: Path
    figures: dict[str, Path]
    report: object


@dataclass(frozen=True)
class _Figure:
    key: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def write_report(fit, out_dir, *, at=None, title: str | None = None, seed: int = 0,
                 progress_bar: bool | None = None) -> ReportFiles:
    """Write the report of a fit to ``out_dir`` (``report.html``, ``report.md``, ``figures/``).

    Parameters
    ----------
    fit : Fit
    out_dir : str or path-like
        Created if missing; files in it are replaced atomically.
    at : pandas.DataFrame, optional
        Inputs where predictions are wanted: adds the extrapolation check, and the law figure extends to them.
    title : str, optional
    seed : int
        Seed of the prior and posterior predictive draws.
    progress_bar : bool, optional
        Print a line to stderr as each step starts (checks, predictive draws, figures), with the seconds so far;
        default when stderr is a terminal outside CI, as for ``bs.fit``.

    Returns
    -------
    ReportFiles
    """
    import sys
    import time

    from bayescale.check import _check
    from bayescale.fit import _default_progress
    from bayescale.posterior import predictive_tree

    _flag(progress_bar, "progress_bar", optional=True)
    start, show = time.perf_counter(), _default_progress() if progress_bar is None else progress_bar

    def step(what: str) -> None:
        if show:
            print(f"bayescale report: {what} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)

    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"the report's folder must be a path, got {type(out_dir).__name__}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} is a file; a report is a folder (report.html, report.md, figures/): "
                                 "give the path of a folder to create or replace")
    blocked = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise NotADirectoryError(f"{out_dir}: {blocked} is a file, so the report's folder cannot be created in it")
    step("drawing the posterior predictive")
    ptree = predictive_tree(fit, seed=seed)
    step("checking the fit: diagnostics, PSIS-LOO, prior sensitivity")
    report = _check(fit, at, seed, ptree)  # its LOO table (Pareto k, LOO-PIT) from these draws, as the figures
    step("drawing the figures")
    figures = _figures(fit, report, ptree, at)
    # the folder only once everything is computed: a bad `at` or a failed check leaves no half-made report
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    paths = {}
    for f in figures:
        paths[f.key] = out_dir / "figures" / f"{f.key}.png"
        _atomic_write(paths[f.key], f.png)
    context = _context(fit, report, figures, title)
    env = _environment()
    html = env.get_template("report.html.j2").render(**context, inline=True)
    md = env.get_template("report.md.j2").render(**context, inline=False)
    html_path, md_path = out_dir / "report.html", out_dir / "report.md"
    _atomic_write(html_path, html.encode())
    _atomic_write(md_path, md.encode())
    step(f"wrote {html_path} and {md_path}")
    return ReportFiles(html=html_path, markdown=md_path, figures=paths, report=report)


# ---------------------------------------------------------------------------------------------- context
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("bayescale", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "html.j2"]), trim_blocks=True,
                              lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _table(frame: pd.DataFrame, index_name: str | None = None, digits: int = 4) -> dict:
    """Return the header and rows (formatted strings) of a table for the templates."""
    frame = frame.copy()
    if index_name is not None:
        frame = frame.reset_index(names=index_name)
    rows = [[_cell(v, digits) for v in r] for r in frame.itertuples(index=False)]
    return {"header": [str(c) for c in frame.columns], "rows": rows}


def _cell(v, digits: int) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v)


def _sampler_line(opts, warmup_depth, warm_started: int | None = None) -> str:
    """Describe the sampler and its settings for the report (``warm_started``: chains whose warm start was used)."""
    draws = f"{opts['num_chains']} chains x {opts['num_warmup']} warm-up x {opts['num_samples']} draws"
    precision = opts.get("precision", "float64")
    if opts.get("sampler") == "chees":
        return (f"ChEES-HMC (chains in lockstep, Laplace metric), {draws}, target accept "
                f"{opts['target_accept_prob']}, {precision}")
    start = ""
    if opts.get("warm_start"):
        start = ", warm-up started from the Laplace approximation at the mode"
        if warm_started is not None and warm_started < opts["num_chains"]:
            start += (f" in {warm_started} of {opts['num_chains']} chains (the others' searches for the mode stalled, "
                      f"and they started as without the warm start)")
    return (f"NUTS, {draws}, target accept {opts['target_accept_prob']}, max tree depth {opts['max_tree_depth']} "
            f"({warmup_depth} in warm-up){start}, {precision}")


#: How the fallback's lines name the sampler of each try (progress lines use bayescale.fit._SAMPLER_NAMES).
_ATTEMPT_NAMES = {"nuts": "NUTS", "chees": "ChEES-HMC"}


def _fallback_line(attempts) -> str:
    """Describe the failed fits that a fit replaced (``fit.meta["fallback_from"]``, ``fallback=True``)."""
    if isinstance(attempts, Mapping):  # fits saved before 2026-12-05 recorded one ChEES attempt as a mapping
        attempts = [attempts]
    return "; then ".join(
        f"{_ATTEMPT_NAMES.get(a['sampler'], a['sampler'])}"
        + (f" at target accept {a['target_accept_prob']}" if "target_accept_prob" in a else "")
        + f" failed: {', '.join(p.split(':')[0] for p in a['problems'])}"
        for a in attempts)


def _not_kept_line(attempts) -> str:
    """Describe the refits that did worse than the fit kept (``fit.meta["refit_not_kept"]``), in a line."""
    return "; ".join(
        f"a refit with {_ATTEMPT_NAMES.get(a['sampler'], a['sampler'])} at target accept {a['target_accept_prob']} "
        f"did worse ({len(a['problems'])} check(s) failed, max R-hat {a['max_r_hat']:.3g}) and was not kept"
        for a in attempts)


def _context(fit, report, figures, title) -> dict:
    runs = fit.runs()
    law = fit.law
    meta = fit.meta
    data_rows = [["runs", str(len(runs))]]
    for col in list(law.inputs) + [law.target]:
        lo, hi = runs[col].min(), runs[col].max()
        span = f" ({np.log10(hi / lo):.1f} decades)" if lo > 0 and col in law.inputs else ""
        data_rows.append([col, f"{lo:.4g} to {hi:.4g}{span}"])
    for g in fit.groups:
        data_rows.append([f"group {g}", f"{runs[g].nunique()} levels"])
    params = fit.summary()
    influence = report.pareto_k.sort_values("pareto_k", ascending=False).head(10)
    opts = meta["options"]
    warmup_depth = opts.get("warmup_tree_depth", opts["max_tree_depth"])  # fits saved before 2026-12 had no cap
    provenance = [["law", f"{law.name}: {law.formula or ''} ({law.reference})"],
                  ["seed", str(meta["seed"])], ["input hash (sha256 of the runs)", meta["input_hash"]],
                  ["sampler", _sampler_line(opts, warmup_depth, meta.get("sampler", {}).get("warm_started_chains"))],
                  *([["refitted after", _fallback_line(meta["fallback_from"])]] if meta.get("fallback_from") else []),
                  *([["refit not kept", _not_kept_line(meta["refit_not_kept"])]]
                    if meta.get("refit_not_kept") else []),
                  ["hierarchy", ", ".join(f"{p}: fixed at {fit.config.fixed[p]:g}" if p in fit.config.fixed
                                          else f"{p}: {m}" for p, m in fit.config.pool.items())
                   + (f" (groups {', '.join(fit.groups)})" if fit.groups else "")],
                  ["likelihood", fit.config.likelihood],
                  ["report written", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")]]
    provenance += [[f"version: {k}", v] for k, v in meta.get("versions", {}).items()]
    d = report.diagnostics
    diag_rows = [["max R-hat", f"{d.max_r_hat:.4f}", "< 1.01"],
                 ["min bulk ESS", f"{d.min_ess_bulk:.0f}", ">= 400"],
                 ["min tail ESS", f"{d.min_ess_tail:.0f}", ">= 400"],
                 ["divergences", str(d.divergences), "0"],
                 ["at max tree depth", f"{100 * d.tree_depth_frac:.1f}% (depth {d.max_tree_depth})", "0%"],
                 ["min E-BFMI", f"{d.min_e_bfmi:.2f}", ">= 0.3"]]
    if opts.get("sampler") == "chees":  # HMC builds no tree
        diag_rows = [row for row in diag_rows if row[0] != "at max tree depth"]
    order = {"problem": 0, "warning": 1, "ok": 2}
    return {
        "title": title or f"bayescale report: {law.name} fit on {len(runs)} runs",
        "verdict": report.verdict,
        "clean": report.ok,
        "findings": sorted(report.findings, key=lambda f: order[f.level]),
        "data": {"header": ["", "value"], "rows": data_rows},
        "notes": list(meta.get("notes", [])),
        "diagnostics": {"header": ["check", "value", "threshold"], "rows": diag_rows},
        "parameters": _table(params, "parameter"),
        "influence": _table(influence, "run"),
        "good_k": f"{report.pareto_k.attrs['good_k']:.2f}",
        "elpd": f"{report.pareto_k.attrs['elpd']:.1f} (se {report.pareto_k.attrs['se']:.1f})",
        "sensitivity": _table(report.sensitivity, "parameter"),
        "extrapolation": None if report.extrapolation is None else _table(report.extrapolation.reset_index(drop=True)),
        "provenance": {"header": ["", ""], "rows": provenance},
        "figures": {f.key: f for f in figures},
        "sections": SECTIONS,
    }


# ---------------------------------------------------------------------------------------------- figures
def _pyplot():
    from bayescale.plots import _pyplot as plt

    return plt()


def _png(fig) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _pc_png(pc) -> bytes:
    fig = pc.viz["figure"].item()
    fig.set_layout_engine("constrained")  # room for each panel's title above the tick labels of the panel over it
    return _png(fig)


def _tidy_pair(pc) -> None:
    """Hide the density axis of a pair plot's diagonal panels, whose ticks are densities, not the parameter."""
    for ax in pc.viz["figure"].item().axes:
        if ax.lines and not ax.collections:  # a density curve alone: a diagonal panel
            ax.set_yticks([])
            ax.set_ylabel("")


def _tidy_ppc(pc, site: str, target: str) -> None:
    """Label a posterior predictive density plot: its scale on x, and which lines are observed and replicated."""
    from matplotlib.lines import Line2D

    label = f"log({target})" if site == f"log_{target}" else f"logit({target})" if site == f"logit_{target}" else site
    for ax in pc.viz["figure"].item().axes:
        ax.set_xlabel(label)
        ax.set_ylabel("density")
        ax.legend(handles=[Line2D([], [], color="black", label="observed runs"),
                           Line2D([], [], color="C0", alpha=0.6, label="replicated from the posterior")],
                  loc="best", frameon=False, fontsize="small")


#: Most variables the trace and rank figures add beyond the law's parameters, sigma and nu: those failing a check.
MAX_FAILING_SHOWN = 6
#: Most panels (a variable's every element: a group's each) the trace and rank figures hold; ArviZ refuses over 40.
MAX_PANELS = 30


def _failing_vars(fit, shown: list[str]) -> list[str]:
    """Return the posterior variables, beyond ``shown``, whose R-hat or ESS fails its threshold.

    The fewest effective draws first, at most :data:`MAX_FAILING_SHOWN`. A hierarchy's scales and per-group
    parameters fail where its means pass; the trace and rank figures are where a reader looks at why, so they show
    those too.
    """
    from bayescale.fit import THRESHOLDS, _worst_stats

    post = fit.tree.posterior
    rest = [v for v in fit.param_vars if v not in shown]  # the variables the diagnostics judge, not the sampler's own
    if not rest:
        return []
    worst = _worst_stats({v: post[v].transpose("chain", "draw", ...).values[None] for v in rest})
    t = THRESHOLDS
    bad = {v: min(eb[0], et[0]) for v, (r, eb, et) in worst.items()
           if not r[0] < t["r_hat"] or min(eb[0], et[0]) < t["ess_bulk"]}
    return sorted(bad, key=bad.get)[:MAX_FAILING_SHOWN]


def _within_panels(post, names: list[str], room: int) -> list[str]:
    """Return ``names`` in order, leaving out each one whose panels would take the figure past ``room``.

    A sigma per group of 50 groups, say: those are left to the tables.
    """
    kept = []
    for v in names:
        if _panels(post, v) <= room:
            kept.append(v)
            room -= _panels(post, v)
    return kept


def _figures(fit, report, ptree, at) -> list[_Figure]:
    import arviz_plots as azp

    from bayescale.check import law_param_names

    _pyplot()
    names = law_param_names(fit)
    post = fit.tree.posterior
    show = _within_panels(post, names + [v for v in ("sigma", "nu") if v in post], MAX_PANELS)
    show += _within_panels(post, _failing_vars(fit, show), MAX_PANELS - sum(_panels(post, v) for v in show))
    site = obs_site(fit.law)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_trace_dist(fit.tree, var_names=show, backend="matplotlib")
        failing = [v for v in show if v not in names and v not in ("sigma", "nu")]
        also = (f" Shown too, as they fail an R-hat or ESS check: {', '.join(failing)}." if failing else "")
        chains = post.sizes["chain"]
        alone = (" One chain: no rank plot, which compares chains (R-hat compares the chain's two halves)."
                 if chains < 2 else "")
        out.append(_Figure("trace", "Trace", "Draws of each chain (left: densities per chain; right: the draws in "
                           f"order). Chains that agree overlap.{also}{alone}", _pc_png(pc)))
        if chains >= 2:  # arviz-plots' rank test needs two chains or more
            pc = azp.plot_rank(fit.tree, var_names=show, backend="matplotlib")
            out.append(_Figure("rank", "Rank plots", "Ranks of each chain's draws among all draws: uniform (flat) "
                               "when the chains sample the same distribution.", _pc_png(pc)))
        pair = _pair_vars(report.correlations)
        pc = azp.plot_pair(fit.tree, var_names=pair, backend="matplotlib",
                           figure_kwargs={"figsize": (3.0 * len(pair), 2.7 * len(pair))})
        _tidy_pair(pc)
        centred = [p for p in pair if p.endswith("_c")]
        note = (f" {', '.join(centred)}: the log of each coefficient's term at the runs' geometric-mean size x0 "
                "(log a - alpha log x0 for a term a / x^alpha), the coordinates the sampler works on"
                ) if centred else ""
        out.append(_Figure("pair", "Pair plot", f"Joint posterior of {', '.join(pair)}: the most strongly correlated "
                           f"law parameters (|r| > 0.9 is flagged above).{note}", _pc_png(pc)))
        pc = azp.plot_ppc_dist(ptree, kind="kde", backend="matplotlib")
        _tidy_ppc(pc, site, fit.law.target)
        out.append(_Figure("ppc", "Posterior predictive check", f"Distribution of the observed {site} (black) against "
                           "replicated data sets from the posterior predictive.", _pc_png(pc)))
        pc = _loo_pit_plot(report.pareto_k["loo_pit"], site)
        out.append(_Figure("loo_pit", "LOO-PIT", "Leave-one-out probability integral transform: the ECDF of the "
                           "runs' PIT values should follow a uniform's (the diagonal); points are highlighted where "
                           "arviz-plots' uniformity test finds it departs.", _pc_png(pc)))
    out.append(_Figure("residuals", "Residuals against compute", "Observed minus the posterior median of each run's "
                       "predictive distribution, on the likelihood's scale, with 90% predictive intervals"
                       f"{'; one colour per group' if fit.groups else ''}.",
                       _png(_residual_figure(fit, ptree))))
    law_fig = _law_figure(fit, at)
    if law_fig is not None:
        out.append(_Figure("law", "The law and its extrapolation", law_fig[1], _png(law_fig[0])))
    return out


def _loo_pit_plot(pit: pd.Series, site: str):
    """arviz-plots' LOO-PIT figure (``plot_loo_pit`` at its defaults) of the PIT values the checks computed.

    ``plot_loo_pit`` takes a tree and computes the values again from its log-likelihood (PSIS smoothing and the
    generalised Pareto tails: 0.3 s of a report on the 245 runs of chinchilla_epoch x 4,000 draws, 2026-12-07);
    ``plot_ecdf_pit``, which it hands them to, draws the same figure from the values (a test compares the two).
    """
    import arviz_plots as azp
    import xarray as xr

    tree = xr.DataTree.from_dict({"loo_pit": xr.Dataset({site: ("run", pit.to_numpy())})})
    return azp.plot_ecdf_pit(tree, group="loo_pit", sample_dims=["run"], method="pot_c", backend="matplotlib",
                             visuals={"ylabel": {}, "remove_axis": False, "xlabel": {"text": "LOO-PIT"}})


def _pair_vars(corr: pd.DataFrame) -> list[str]:
    names = list(corr.columns)
    if len(names) <= 3:
        return names
    c = corr.abs().where(~np.eye(len(names), dtype=bool)).fillna(0.0)
    strong = [n for n in names if (c[n] > 0.9).any()]
    if len(strong) >= 2:
        return strong[:5]
    i, j = np.unravel_index(np.argmax(c.to_numpy()), c.shape)
    return [names[i], names[j]]


def _x_compute(fit, runs: pd.DataFrame) -> tuple[np.ndarray, str]:
    if {"n", "d"} <= set(fit.law.inputs):
        k = fit.meta["options"]["flops_per_param_token"]
        return fit.law.flops(runs["n"].to_numpy(), runs["d"].to_numpy(), k), f"compute C = {k:g} N D (FLOPs)"
    x = fit.law.input_names[0]
    return runs[x].to_numpy(), f"{x} ({fit.law.inputs[x]})"


def _residual_figure(fit, ptree):
    plt = _pyplot()
    site = obs_site(fit.law)
    runs = fit.runs()
    x, label = _x_compute(fit, runs)
    obs = fit.tree.observed_data[site].values
    rep = ptree.posterior_predictive[site].stack(sample=("chain", "draw")).transpose("sample", ...).values
    med = np.median(rep, axis=0)
    lo, hi = np.quantile(rep, [0.05, 0.95], axis=0)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    groups = list(fit.groups)
    key = group_key(runs, groups).to_numpy() if groups else np.full(len(runs), "runs", dtype=object)
    levels = list(dict.fromkeys(key))
    for i, level in enumerate(levels):  # a group whose runs sit off the law shows as one colour off the line
        sel = key == level
        ax.errorbar(x[sel], (obs - med)[sel], yerr=[(med - lo)[sel], (hi - med)[sel]], fmt="o", ms=3, lw=0.6,
                    alpha=0.7, color=f"C{i % 10}", ecolor="0.6", label=level)
    if 1 < len(levels) <= 10:
        ax.legend(fontsize=7, frameon=False, ncol=2, title=" | ".join(groups), title_fontsize=7)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel(f"observed - predicted median ({site})")
    ax.set_title(f"{fit.law.name}: residuals")
    return fig


#: Most groups the law figure of a hierarchical fit draws, one panel each (the first of ``fit.levels``).
MAX_LAW_GROUPS = 6


def _law_figure(fit, at):
    """Draw the fitted law with 90% bands out past the data; None when the law has no one-dimensional view.

    A hierarchical fit whose law parameters vary by group gets one panel per group (up to :data:`MAX_LAW_GROUPS`),
    each with the group's runs and its own curve.
    """
    from bayescale.plots import plot_loss_vs_compute

    law = fit.law
    runs = fit.runs()
    x, label = _x_compute(fit, runs)
    hi = x.max() * 100
    if at is not None and not law.is_loss_input(law.input_names[0]):
        ax_at, _ = _x_compute(fit, pd.DataFrame(at))
        hi = max(hi, float(np.max(ax_at)) * 2)
    grouped = [p for p in law.params if fit.config.pool.get(p) != "shared"]
    frontier = set(law.inputs) == {"n", "d"}
    if not frontier and len(law.inputs) != 1:
        return None
    if grouped and fit.groups:
        return _grouped_law_figure(fit, runs, x, label, hi, at, frontier)
    if frontier:
        fig = plot_loss_vs_compute(fit, c=np.geomspace(x.min(), hi, 40))
        return fig, ("Runs (coloured by model size) and the posterior of the compute-optimal loss L*(C) with its 90% "
                     "interval, from the smallest run's compute to 100x the largest; shaded: the budgets beyond the "
                     "largest run, where the band is an extrapolation.")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    size = _predictive_panel(ax, fit, runs, _input_grid(fit, x, hi, at), label)
    ax.legend(fontsize=8)
    ax.set_title(f"{law.name}: fit and extrapolation")
    reach = "to 100x the largest observed input" if size else "to one span below the smallest loss"
    return fig, f"Runs and the posterior predictive median and 90% interval of a new run, {reach}."


def _input_grid(fit, x: np.ndarray, hi: float, at) -> pd.DataFrame:
    """Points of a one-input law's curve: sizes out to ``hi``, or losses one span below the observed ones."""
    name = fit.law.input_names[0]
    if not fit.law.is_loss_input(name):
        return pd.DataFrame({name: np.geomspace(x.min(), hi, 60)})
    lo = x.min() - (x.max() - x.min())  # a loss: better models lie below the data
    if at is not None:
        lo = min(lo, float(np.min(pd.DataFrame(at)[name])))
    return pd.DataFrame({name: np.linspace(max(lo, 1e-3), x.max(), 60)})


def _predictive_panel(ax, fit, runs: pd.DataFrame, grid: pd.DataFrame, label: str) -> bool:
    """Draw the runs and a new run's predictive median and 90% interval over ``grid``; True when the input is a size."""
    from bayescale.plots import _readable_log_y

    law = fit.law
    name = law.input_names[0]
    size = not law.is_loss_input(name)
    pred = fit.predict(grid, quantiles=(0.05, 0.5, 0.95))
    ax.fill_between(grid[name], pred["q05"], pred["q95"], color="C3", alpha=0.25, lw=0, label="90% interval")
    ax.plot(grid[name], pred["q50"], color="C3", label="median")
    ax.scatter(runs[name], runs[law.target], s=12, color="k", zorder=3, label="runs")
    ax.set_xscale("log" if size else "linear")
    ax.set_yscale("log" if law.link == "log" else "linear")
    _readable_log_y(ax)
    ax.set_xlabel(label)
    ax.set_ylabel(law.target)
    return size


def _grouped_law_figure(fit, runs: pd.DataFrame, x: np.ndarray, label: str, hi: float, at, frontier: bool):
    """One panel per group (the first :data:`MAX_LAW_GROUPS`): its runs and its own curve with the 90% band."""
    from bayescale.fit import _predictor_columns
    from bayescale.plots import _loss_opt_panel

    plt = _pyplot()
    law = fit.law
    key = group_key(runs, fit.groups).to_numpy()
    levels = list(fit.levels)[:MAX_LAW_GROUPS]
    ncol = min(3, len(levels))
    nrow = -(-len(levels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.5 * nrow), squeeze=False, sharey=True)
    for i, (ax, level) in enumerate(zip(axes.flat, levels, strict=False)):
        mine = key == level
        if frontier:
            ax.scatter(x[mine], runs[law.target].to_numpy()[mine], s=12, color="k", zorder=3, label="runs")
            _loss_opt_panel(ax, fit, np.geomspace(x.min(), hi, 40), fit.meta["options"]["flops_per_param_token"],
                            float(x[mine].max()), level)
        else:  # the group's own curve: its label and group-level predictors beside each point
            first = runs[mine].iloc[0]
            grid = _input_grid(fit, x, hi, at).assign(**{col: first[col] for col in
                                                         [*fit.groups, *_predictor_columns(fit.config)]})
            _predictive_panel(ax, fit, runs[mine], grid, label)
        ax.set_title(f"{' | '.join(fit.groups)} = {level}", fontsize=9)
        if i + ncol < len(levels):  # a panel below it names the axis (each keeps its ticks: the last row may be short)
            ax.set_xlabel("")
        if i % ncol:
            ax.set_ylabel("")
    for ax in list(axes.flat)[len(levels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{law.name}: each group's fit and extrapolation", fontsize=10)
    fig.tight_layout()
    shown = (f"the first {len(levels)} of the fit's {len(fit.levels)} groups" if len(fit.levels) > len(levels)
             else "each group")
    what = ("the posterior of its compute-optimal loss L*(C) with its 90% interval, to 100x the largest run's "
            "compute; shaded: the budgets beyond its largest run" if frontier
            else "the posterior predictive median and 90% interval of a new run of the group")
    return fig, f"One panel for {shown}: its runs and {what}."


# ---------------------------------------------------------------------------------------------- files
def _atomic_write(path: Path, blob: bytes) -> None:
    from bayescale.engine import _atomic_write as write

    write(path, blob)
