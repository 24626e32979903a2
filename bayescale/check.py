"""Can this fit be trusted? :func:`check` runs every check on a :class:`~bayescale.Fit` and returns a :class:`Report`.

The checks, each stated with its threshold (:data:`CHECKS`):

* **sampler**: R-hat, bulk and tail ESS, divergences, E-BFMI (the fit's :class:`~bayescale.fit.Diagnostics`) and
  tree-depth saturation from ArviZ's ``diagnose``, which looks for a ``reached_max_treedepth`` statistic; fits
  sampled by NumPyro name it differently, so ArviZ silently skips the check for them. bayescale records ArviZ's
  name and adds it to fits saved before it did.
* **identifiability**: posterior correlations above 0.9 among the law's parameters (positive ones on the log
  scale; a coefficient of a centred input as its value at the data's centre, ``a_c``), a warning when the pair is
  also loosely determined (a posterior sd above 25% of the prior sd: a ridge the runs do not resolve);
  parameters whose posterior barely contracts from the prior (``1 - var_post / var_prior`` under 0.1); inputs
  spanning under two decades.
* **influence and outliers**: PSIS-LOO Pareto k above ArviZ's good-k threshold, listed by run; runs whose
  observed value falls in a tail of its leave-one-out predictive distribution (LOO-PIT) beyond ``0.05 / (2 n)``
  for ``n`` runs (Bonferroni: a clean fit of any size is flagged with probability about 5%). The LOO-PIT's tails
  come from arviz-stats' generalised Pareto fit (``pareto_pit=True``): ranks among the draws alone cannot resolve
  a tail below one over the number of draws, and with 1,200 draws they flagged as outliers two of the 240
  Chinchilla runs whose Student-t tails are 8e-4 and 1e-3, ten times the threshold of 1e-4.
* **prior sensitivity**: power-scaling (Kallioinen et al. 2024) with arviz-stats' ``psense_summary`` (threshold
  0.05): prior-data conflict (a problem when both sensitivities are at least twice the threshold, else a
  warning), or a strong prior with a weak likelihood (a warning); and a residual sd whose posterior median exceeds
  twice the scale of its HalfNormal prior (a warning: the prior holds the noise down and narrows every interval;
  the fit's :class:`~bayescale.PriorWarning`).
* **extrapolation** (with ``at=``): how far each requested prediction lies beyond the largest observed compute
  (or input, for laws without ``n`` and ``d``): a warning past 10x, a problem past 100x; for laws of a loss
  (downstream transfer), how far below the smallest observed loss, in spans of the observed losses: a warning
  past half a span, a problem past one.
* **data**: what validation noted about the runs when the fit was made.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Finding", "Report", "check", "CHECKS"]

#: Thresholds of every check (sampler thresholds are :data:`bayescale.fit.THRESHOLDS`).
CHECKS = {
    "correlation": 0.9,
    "contraction": 0.1,
    "loose_sd_ratio": 0.25,
    "decades": 2.0,
    "outlier_alpha": 0.05,
    "psense": 0.05,
    "extrapolation_warn": 10.0,
    "extrapolation_problem": 100.0,
    "loss_extrapolation_warn": 0.5,
    "loss_extrapolation_problem": 1.0,
}
LEVELS = ("ok", "warning", "problem")


@dataclass(frozen=True)
class Finding:
    """One result of one check.

    Attributes
    ----------
    check : str
        ``"sampler"``, ``"identifiability"``, ``"influence"``, ``"prior sensitivity"``, ``"extrapolation"`` or
        ``"data"``.
    level : str
        ``"ok"``, ``"warning"`` or ``"problem"``.
    message : str
        Plain-language statement of what was found, with the threshold and what to do.
    """

    check: str
    level: str
    message: str

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")


@dataclass(frozen=True, eq=False)
class Report:
    """Everything :func:`check` found about a fit.

    Attributes
    ----------
    findings : tuple of Finding
        In check order; every check contributes at least one finding (``"ok"`` when it passed).
    law : str
    num_runs : int
    diagnostics : bayescale.fit.Diagnostics
    pareto_k : pandas.DataFrame
        Per run: its inputs, target, Pareto k and LOO-PIT value.
    correlations : pandas.DataFrame
        Posterior correlation matrix of the law's parameters (positive ones on the log scale).
    contraction : pandas.DataFrame
        Per parameter: prior sd, posterior sd and contraction ``1 - var_post / var_prior``.
    sensitivity : pandas.DataFrame
        arviz-stats' ``psense_summary``: prior and likelihood sensitivity and diagnosis per parameter.
    extrapolation : pandas.DataFrame or None
        Per requested point: compute (or input) and its ratio to the largest observed one.
    thresholds : dict
    """

    findings: tuple[Finding, ...]
    law: str
    num_runs: int
    diagnostics: Any
    pareto_k: pd.DataFrame
    correlations: pd.DataFrame
    contraction: pd.DataFrame
    sensitivity: pd.DataFrame
    extrapolation: pd.DataFrame | None = None
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(CHECKS))

    @property
    def problems(self) -> list[Finding]:
        """Findings at level ``"problem"``."""
        return [f for f in self.findings if f.level == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings at level ``"warning"``."""
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing was found at level ``"warning"`` or ``"problem"``."""
        return not self.problems and not self.warnings

    @property
    def verdict(self) -> str:
        """One sentence: clean, or how many problems and warnings."""
        if self.ok:
            return "clean: every check passed"
        parts = []
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s)")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s)")
        return " and ".join(parts)

    def __repr__(self) -> str:
        lines = [f"Report for the {self.law} fit on {self.num_runs} runs: {self.verdict}"]
        order = {"problem": 0, "warning": 1, "ok": 2}
        for f in sorted(self.findings, key=lambda f: order[f.level]):
            lines.append(f"  [{f.level}] {f.check}: {f.message}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return the findings as a table (``check, level, message``)."""
        return pd.DataFrame([dataclasses.asdict(f) for f in self.findings], columns=["check", "level", "message"])


# ---------------------------------------------------------------------------------------------- entry point
def check(fit, at=None, *, seed: int = 0) -> Report:
    """Run every check on a fit (see the module docstring for what each check does and its threshold).

    Parameters
    ----------
    fit : Fit
    at : pandas.DataFrame, optional
        Inputs where predictions are wanted (the law's input columns); adds the extrapolation check.
    seed : int
        Seed for the prior draws of the contraction check.

    Returns
    -------
    Report

    Examples
    --------
    >>> report = fit.check(at=pd.DataFrame({"n": [7e10], "d": [1.4e12]}))  # doctest: +SKIP
    >>> report.ok, report.problems  # doctest: +SKIP
    """
    return _check(fit, at, seed)


def _check(fit, at=None, seed: int = 0, predictive=None) -> Report:
    """Run :func:`check`'s checks.

    ``predictive``: the fit's tree with a posterior predictive group (:func:`bayescale.posterior.predictive_tree`)
    for the LOO table, when the caller has drawn one already (the report draws it once, for the table and its
    figures); None draws it here.
    """
    from bayescale.posterior import fit_data, log_prior_tree, loo_table, prior_draws

    findings: list[Finding] = []
    findings += _sampler(fit)
    data = fit_data(fit)
    prior = prior_draws(fit, data, seed=seed, observed=False)  # the contraction reads the parameters alone
    contraction, contraction_findings = _contraction(fit, prior)
    corr, corr_findings = _correlations(fit, contraction)
    findings += corr_findings + contraction_findings + _spans(fit)
    loo = loo_table(fit, predictive)
    findings += _influence(fit, loo)
    sens, sens_findings = _sensitivity(fit, log_prior_tree(fit, data))
    findings += sens_findings + _noise_prior(fit)
    extrap = None
    if at is not None:
        extrap, extrap_findings = _extrapolation(fit, at)
        findings += extrap_findings
    findings += _data_notes(fit)
    return Report(findings=tuple(findings), law=fit.law.name, num_runs=int(fit.tree.observed_data.sizes["run"]),
                  diagnostics=fit.diagnostics, pareto_k=loo, correlations=corr, contraction=contraction,
                  sensitivity=sens, extrapolation=extrap)


# ---------------------------------------------------------------------------------------------- sampler
def with_treedepth_stat(tree):
    """Return ``tree`` with ArviZ's ``reached_max_treedepth`` sample statistic (added when missing).

    ArviZ 1.3's ``diagnose`` checks tree-depth saturation only when ``sample_stats`` has that exact name; NumPyro's
    converters and bayescale before this check wrote ``reached_max_tree_depth`` or only ``tree_depth``, and the
    check was skipped without a word.
    """
    stats = tree["sample_stats"]
    if "reached_max_treedepth" in stats:
        return tree
    tree = tree.copy()
    ss = tree["sample_stats"].to_dataset()
    if "reached_max_tree_depth" in ss:
        flag = ss["reached_max_tree_depth"]
    elif "tree_depth" in ss:
        flag = ss["tree_depth"] >= int(_meta_tree_depth(tree))
    else:
        return tree
    tree["sample_stats"] = ss.assign(reached_max_treedepth=flag)
    return tree


def _meta_tree_depth(tree) -> int:
    import json

    return json.loads(tree.attrs["bayescale"])["options"]["max_tree_depth"]


def _sampler(fit) -> list[Finding]:
    import arviz_stats as azs

    from bayescale.fit import THRESHOLDS, _tree_depth_fix

    d = fit.diagnostics
    out = [Finding("sampler", "problem", p) for p in d.problems if "tree depth" not in p]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, res = azs.diagnose(with_treedepth_stat(fit.tree), var_names=fit.param_vars, show_diagnostics=False,
                              return_diagnostics=True, rhat_max=THRESHOLDS["r_hat"],
                              ess_threshold=THRESHOLDS["ess_bulk"], bfmi_threshold=THRESHOLDS["e_bfmi"])
    depth = res.get("treedepth")
    lockstep = fit.meta["options"].get("sampler") == "chees"  # HMC with fixed trajectories builds no tree
    if depth is None:
        if not lockstep:
            out.append(Finding("sampler", "warning", "tree depth could not be checked: the fit records no tree depth"))
    elif depth["n_max"] > 0:
        out.append(Finding(
            "sampler", "problem",
            f"{depth['n_max']} of {depth['total_samples']} transitions ({depth['pct']:.1f}%) hit the maximum tree "
            f"depth {d.max_tree_depth} (threshold: none): NUTS stopped its trajectories early, so sampling is "
            "inefficient and may not have explored the posterior; "
            f"{_tree_depth_fix(d.max_tree_depth, fit.meta['options'].get('warmup_tree_depth'))}"))
    if not out:
        out.append(Finding(
            "sampler", "ok",
            f"R-hat {d.max_r_hat:.3f} (< {THRESHOLDS['r_hat']}), ESS bulk {d.min_ess_bulk:.0f} / tail "
            f"{d.min_ess_tail:.0f} (>= {THRESHOLDS['ess_bulk']}), no divergences, "
            f"{'ChEES-HMC (no trees)' if lockstep else 'no tree-depth saturation'}, E-BFMI "
            f"{d.min_e_bfmi:.2f} (>= {THRESHOLDS['e_bfmi']})"))
    return out


# ---------------------------------------------------------------------------------------------- identifiability
def law_param_names(fit, *, centred: bool = False) -> list[str]:
    """Name the scalar posterior variables that stand for the law's parameters (``p``, or ``p_loc`` when pooled).

    With ``centred=True``, a coefficient of a centred input is named by its sampled coefficient at the centre of
    the data (``a_c``, ``a_c_loc``): ``log a`` itself is ``a_c + alpha log N0``, so it correlates with its exponent
    by construction however well the runs pin both down. A parameter held fixed (``fixed=``) is left out: its draws
    are one value.
    """
    post = fit.tree.posterior
    names = []
    for p in fit.law.params:
        if p in fit.config.fixed:
            continue
        base = f"{p}_c" if centred and p in fit.law.centre else p
        name = f"{base}_loc" if fit.config.pool.get(p) == "partial" else base
        if name in post and post[name].ndim == 2:
            names.append(name)
    return names


def _scaled(v: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return the log of positive draws (scale parameters, coefficients), else the draws."""
    v = np.asarray(v, dtype=float)
    return (np.log(v), True) if np.all(v > 0) else (v, False)


def _correlations(fit, contraction: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    names = law_param_names(fit, centred=True)
    draws = fit.draws(names)
    x = pd.DataFrame({n: _scaled(draws[n])[0] for n in names})
    corr = x.corr()
    thr, loose = CHECKS["correlation"], CHECKS["loose_sd_ratio"]
    ratio = (contraction["posterior_sd"] / contraction["prior_sd"]).to_dict() if len(contraction) else {}
    found, benign = [], []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = float(corr.loc[a, b])
            if abs(r) <= thr:
                continue
            worst = max(ratio.get(a, np.inf), ratio.get(b, np.inf))
            if worst > loose:
                found.append(Finding(
                    "identifiability", "warning",
                    f"{a} and {b} are strongly correlated in the posterior (r = {r:+.2f}, threshold |r| > {thr}) and "
                    f"loosely determined (posterior sd up to {100 * worst:.0f}% of the prior sd, threshold "
                    f"{100 * loose:.0f}%): the runs pin down a combination of them, not each one, so extrapolations "
                    "that depend on them separately are uncertain; runs over a wider range help"))
            else:
                benign.append(f"{a} and {b} (r = {r:+.2f}, sd at most {100 * worst:.0f}% of the prior's)")
    if not found:
        top = corr.where(~np.eye(len(names), dtype=bool)).abs().max().max() if len(names) > 1 else 0.0
        msg = (f"no strongly correlated, loosely determined pair of law parameters (largest |r| "
               f"{float(np.nan_to_num(top)):.2f})")
        if benign:
            msg += (f"; correlated above {thr} but each well determined, which reflects the law's form rather than "
                    f"a gap in the data: {'; '.join(benign)}")
        found.append(Finding("identifiability", "ok", msg))
    return corr, found


def _contraction(fit, prior: Mapping[str, np.ndarray]) -> tuple[pd.DataFrame, list[Finding]]:
    names = [n for n in law_param_names(fit, centred=True) if n in prior]
    post = fit.draws(names)
    rows = {}
    for n in names:
        p, logged = _scaled(post[n])
        q = np.log(prior[n]) if logged and np.all(prior[n] > 0) else prior[n]
        q = q[np.isfinite(q)]
        sd_prior, sd_post = float(np.std(q)), float(np.std(p))
        rows[n] = {"scale": "log" if logged else "linear", "prior_sd": sd_prior, "posterior_sd": sd_post,
                   "contraction": 1.0 - (sd_post / sd_prior) ** 2 if sd_prior > 0 else np.nan}
    table = pd.DataFrame.from_dict(rows, orient="index")
    thr = CHECKS["contraction"]
    weak = table[table["contraction"] < thr] if len(table) else table
    found = [Finding(
        "identifiability", "warning",
        f"{n} barely moved from its prior (contraction {r.contraction:.2f} < {thr}: posterior sd {r.posterior_sd:.3g} "
        f"against prior sd {r.prior_sd:.3g}{' on the log scale' if r.scale == 'log' else ''}): the runs say little "
        f"about {n}, or its prior is too narrow for them to move it (a prior-data conflict, which the prior-"
        f"sensitivity check names), so its value and its share of any extrapolation come from the prior")
        for n, r in weak.iterrows()]
    if not found:
        found.append(Finding("identifiability", "ok",
                             f"every law parameter contracted from its prior (1 - var_post / var_prior >= {thr})"))
    return table, found


def _spans(fit) -> list[Finding]:
    runs = fit.runs()
    thr = CHECKS["decades"]
    found = []
    for x in (x for x in fit.law.inputs if fit.law.is_size_input(x)):  # losses never span decades
        lo, hi = float(runs[x].min()), float(runs[x].max())
        decades = np.log10(hi / lo)
        if decades < thr:
            found.append(Finding(
                "identifiability", "warning",
                f"input {x!r} spans only {decades:.1f} decade(s) ({lo:.3g} to {hi:.3g}; threshold {thr:g}): the "
                f"exponent of {x!r} and the floor trade off against each other over so short a range, so an "
                f"extrapolation in {x!r} leans on the prior; add runs further apart in {x!r}"))
    sizes = [x for x in fit.law.inputs if fit.law.is_size_input(x)]
    if not found and sizes:
        spans = ", ".join(f"{x} {np.log10(runs[x].max() / runs[x].min()):.1f}" for x in sizes)
        found.append(Finding("identifiability", "ok", f"every size input spans at least {thr:g} decades ({spans})"))
    return found


# ---------------------------------------------------------------------------------------------- influence
def _influence(fit, loo: pd.DataFrame) -> list[Finding]:
    target = fit.law.target
    inputs = list(fit.law.inputs)
    good_k = float(loo.attrs["good_k"])
    found = []

    def describe(rows: pd.DataFrame) -> str:
        def one(run, r):
            where = ", ".join(f"{x}={r[x]:.3g}" for x in inputs)
            return f"run {run} ({where}, {target}={r[target]:.4g}; k={r['pareto_k']:.2f}, LOO-PIT {r['loo_pit']:.4f})"

        more = f" and {len(rows) - 8} more" if len(rows) > 8 else ""
        return "; ".join(one(i, r) for i, r in rows.head(8).iterrows()) + more

    bad_k = loo[loo["pareto_k"] > good_k].sort_values("pareto_k", ascending=False)
    if len(bad_k):
        listed = describe(bad_k)
        found.append(Finding(
            "influence", "warning",
            f"{len(bad_k)} influential run(s) with Pareto k above {good_k:.2f}: {listed}. Leaving one out "
            "changes the posterior a lot; check these runs for errors (a wrong size, a crashed or mis-logged run)"))
    tail = CHECKS["outlier_alpha"] / (2 * len(loo))
    out = loo[(loo["loo_pit"] < tail) | (loo["loo_pit"] > 1 - tail)]
    if len(out):
        listed = describe(out)
        found.append(Finding(
            "influence", "problem",
            f"{len(out)} outlier run(s): the observed {target} lies outside the central {100 * (1 - 2 * tail):.2f}% "
            f"of what the fit predicts for it when it is left out (LOO-PIT beyond {tail:.2g} from 0 or 1, that is "
            f"{CHECKS['outlier_alpha']} over both tails of {len(loo)} runs): {listed}. Check the run; if it "
            "is right, the law misses something there"))
    if not found:
        found.append(Finding("influence", "ok",
                             f"no influential runs (every Pareto k <= {good_k:.2f}) and no outliers (every LOO-PIT "
                             f"within [{tail:.2g}, 1 - {tail:.2g}])"))
    return found


# ---------------------------------------------------------------------------------------------- prior sensitivity
def _sensitivity(fit, tree) -> tuple[pd.DataFrame, list[Finding]]:
    import arviz_stats as azs

    names = law_param_names(fit)
    log = logging.getLogger("arviz_stats.psense")  # logs a generic hint when it flags; the findings below say more
    level = log.level
    log.setLevel(logging.ERROR)  # setLevel, not .level =, so the logger's cached isEnabledFor answers are cleared
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = azs.psense_summary(tree, var_names=names, threshold=CHECKS["psense"])
    finally:
        log.setLevel(level)
    thr = CHECKS["psense"]
    found = []
    for name, r in table.iterrows():
        diag = str(r["diagnosis"])
        if "conflict" in diag:
            strong = r["prior"] >= 2 * thr and r["likelihood"] >= 2 * thr
            found.append(Finding(
                "prior sensitivity", "problem" if strong else "warning",
                f"{'' if strong else 'potential '}prior-data conflict on {name}: the posterior moves when either the "
                f"prior or the likelihood is power-scaled (sensitivity {r['prior']:.3f} and {r['likelihood']:.3f}, "
                f"threshold {thr}{'; both at least twice it' if strong else ''}); the prior puts {name} where the "
                "runs do not; widen or re-centre it"))
        elif "strong prior" in diag:
            found.append(Finding(
                "prior sensitivity", "warning",
                f"{name} is driven by its prior (prior sensitivity {r['prior']:.3f} >= {thr}, likelihood "
                f"{r['likelihood']:.3f} < {thr}): the runs say little about it; report it as an assumption"))
    if not found:
        found.append(Finding("prior sensitivity", "ok",
                             f"no parameter is sensitive to power-scaling the prior (threshold {thr})"))
    return table, found


def _noise_prior(fit) -> list[Finding]:
    """Return the fit's :class:`~bayescale.PriorWarning` as findings: a residual sd pressing against its prior."""
    from bayescale.fit import _noise_prior_problems

    return [Finding("prior sensitivity", "warning", msg) for msg in _noise_prior_problems(fit)]


# ---------------------------------------------------------------------------------------------- extrapolation
def _extrapolation(fit, at) -> tuple[pd.DataFrame, list[Finding]]:
    from bayescale.data import validate_runs

    law = fit.law
    table = validate_runs(at, law, groups=fit.groups, require_target=False).frame
    runs = fit.runs()
    k = fit.meta["options"]["flops_per_param_token"]
    if {"n", "d"} <= set(law.inputs):
        quantity = "compute"
        observed = float(law.flops(runs["n"], runs["d"], k).max())  # FLOPs, whatever the law's units
        requested = law.flops(table["n"], table["d"], k).to_numpy(dtype=float)
    elif law.is_loss_input(law.input_names[0]):  # a law of a loss: better models lie below the smallest loss seen
        return _loss_extrapolation(law, table, runs)
    else:
        quantity = law.input_names[0]
        observed = float(runs[quantity].max())
        requested = table[quantity].to_numpy(dtype=float)
    ratio = requested / observed
    out = table[list(law.inputs)].copy()
    out[quantity if quantity != "compute" else "c"] = requested
    out["ratio"] = ratio
    worst = float(ratio.max())
    where = "compute" if quantity == "compute" else f"{quantity!r}"
    what = f"the largest requested {where} is {worst:.3g}x the largest observed ({observed:.3g})"
    if worst > CHECKS["extrapolation_problem"]:
        n_far = int((ratio > CHECKS["extrapolation_problem"]).sum())
        found = [Finding("extrapolation", "problem",
                         f"{n_far} requested point(s) lie more than {CHECKS['extrapolation_problem']:g}x beyond the "
                         f"data: {what}. Treat those predictions as scenarios of the law's form, not forecasts: "
                         "nothing in the runs tests the law that far out")]
    elif worst > CHECKS["extrapolation_warn"]:
        found = [Finding("extrapolation", "warning",
                         f"{what} (warning past {CHECKS['extrapolation_warn']:g}x): the intervals assume the law "
                         "keeps its form out there; backtest it (bs.backtest) before relying on them")]
    else:
        found = [Finding("extrapolation", "ok", f"{what}, within {CHECKS['extrapolation_warn']:g}x")]
    return out, found


def _loss_extrapolation(law, table: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Extrapolation of a law of a loss: how far below the smallest observed loss, in spans of the observed losses."""
    x = law.input_names[0]
    lo, hi = float(runs[x].min()), float(runs[x].max())
    requested = table[x].to_numpy(dtype=float)
    gap = (lo - requested) / (hi - lo)
    out = table[list(law.inputs)].copy()
    out["spans_below"] = gap
    worst = float(gap.max())
    what = (f"the smallest requested {x!r} ({float(requested.min()):.4g}) lies {worst:.2f} spans of the observed "
            f"{x!r} ({lo:.4g} to {hi:.4g}) below the smallest observed")
    warn, problem = CHECKS["loss_extrapolation_warn"], CHECKS["loss_extrapolation_problem"]
    if worst > problem:
        found = [Finding("extrapolation", "problem",
                         f"{what} (problem past {problem:g} span): treat those predictions as scenarios of the law's "
                         "form, not forecasts; nothing in the runs tests it that far out")]
    elif worst > warn:
        found = [Finding("extrapolation", "warning",
                         f"{what} (warning past {warn:g} span): the intervals assume the law keeps its form out there")]
    else:
        found = [Finding("extrapolation", "ok", f"{what}, within {warn:g} span" if worst > 0 else
                         f"every requested {x!r} lies within or above the observed range ({lo:.4g} to {hi:.4g})")]
    return out, found


def _data_notes(fit) -> list[Finding]:
    notes = list(fit.meta.get("notes", []))
    if not notes:
        return [Finding("data", "ok", "validation noted nothing about the runs")]
    # replicates (runs sharing inputs) are recorded, not warned about: they inform the noise level
    return [Finding("data", "ok" if "kept as replicates" in n else "warning", n) for n in notes]
