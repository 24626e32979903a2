"""Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788) of a law's model and sampler.

For ``s = 1..S``: draw parameters from the prior and a ladder of runs from the model, fit it with NUTS, and record
the rank of each true quantity among ``L`` (thinned) posterior draws. When the model, its priors and the sampler
are right, every rank is uniform on ``0..L``. Checked quantities: each parameter, ``sigma`` (and ``nu``), the
log-likelihood of the simulated data, and the law's prediction (on the likelihood's scale) beyond the design: at
ten times the largest compute for laws in sizes, at half the smallest loss for laws of a loss (downstream transfer).

The uniformity test is Pearson's chi-square on ``bins`` equal bins per quantity, with a Bonferroni correction over
quantities; :attr:`CalibrationResult.passed` is False when any quantity fails. A negative control fits with priors
that differ from the ones the data were simulated from (``fit_priors=``): its ranks must pile up and fail.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
from scipy import stats

from bayescale.build import (
    NOISE_PARAMS,
    ModelConfig,
    ModelData,
    build_model,
    geometric_centre,
    law_location,
    obs_site,
    resolve_pool,
)
from bayescale.engine import CompiledNUTS
from bayescale.law import Law, get_law
from bayescale.simulate import default_design

__all__ = ["CalibrationResult", "calibrate"]


@dataclass(frozen=True)
class CalibrationResult:
    """Ranks of the true values among posterior draws, one row per simulation.

    Attributes
    ----------
    ranks : pandas.DataFrame
        Integer ranks in ``0..num_draws``, one column per checked quantity.
    num_draws : int
        Posterior draws each rank is taken among (``L``).
    pvalues : pandas.Series
        Chi-square uniformity p-value of each quantity.
    alpha : float
        Family-wise level; each quantity is tested at ``alpha / number of quantities`` (Bonferroni).
    bins : int
        Number of equal rank bins of the chi-square test.
    divergences : numpy.ndarray
        Divergent transitions of each simulation's fit.
    seconds : float
        Wall time of the whole calibration.
    law : str
    fit_priors : dict
        Parameters whose fitting prior differed from the simulating prior (the negative control), as text.
    """

    ranks: pd.DataFrame
    num_draws: int
    pvalues: pd.Series
    alpha: float
    bins: int
    divergences: np.ndarray
    seconds: float
    law: str
    fit_priors: dict = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        """Per-quantity p-value threshold (Bonferroni)."""
        return self.alpha / len(self.pvalues)

    @property
    def failed(self) -> list[str]:
        """Quantities whose ranks are not uniform at the Bonferroni-corrected level."""
        return [k for k, p in self.pvalues.items() if p < self.threshold]

    @property
    def passed(self) -> bool:
        """True when every quantity's ranks pass the uniformity test."""
        return not self.failed

    def summary(self) -> pd.DataFrame:
        """Per quantity: chi-square p-value, mean rank / L (0.5 when calibrated), and pass/fail."""
        return pd.DataFrame({
            "pvalue": self.pvalues,
            "mean_rank": self.ranks.mean() / self.num_draws,
            "passed": self.pvalues >= self.threshold,
        })

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else f"FAILED for {self.failed}"
        return (f"<CalibrationResult {self.law}: S={len(self.ranks)}, L={self.num_draws}, {verdict} "
                f"(chi-square, {self.bins} bins, alpha={self.alpha} Bonferroni over {len(self.pvalues)}); "
                f"{int(self.divergences.sum())} divergences; {self.seconds:.0f} s>")

    def plot(self, path=None):
        """Rank histograms with the 99% band of a uniform histogram; saved to ``path`` when given.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        cols = list(self.ranks.columns)
        ncol = min(4, len(cols))
        nrow = -(-len(cols) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
        s = len(self.ranks)
        lo, hi = stats.binom.ppf([0.005, 0.995], s, 1 / self.bins)
        edges = np.linspace(0, self.num_draws + 1, self.bins + 1)
        for ax, col in zip(axes.flat, cols, strict=False):
            ax.axhspan(lo, hi, color="0.85", label="99% band (uniform)")
            ax.hist(self.ranks[col], bins=edges, color="C0", edgecolor="white")
            ax.set_title(f"{col}  (p={self.pvalues[col]:.2g})", fontsize=9)
            ax.set_yticks([])
        for ax in list(axes.flat)[len(cols):]:
            ax.set_visible(False)
        fig.suptitle(f"SBC rank histograms: {self.law}, S={s}, L={self.num_draws}", fontsize=10)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def _uniformity_pvalue(ranks: np.ndarray, num_draws: int, bins: int) -> float:
    counts = np.bincount((ranks * bins) // (num_draws + 1), minlength=bins)
    return float(stats.chisquare(counts).pvalue)


def calibrate(
    law: Law | str = "chinchilla",
    *,
    num_simulations: int = 100,
    design: pd.DataFrame | None = None,
    likelihood: str = "student_t",
    fit_priors: Mapping[str, dist.Distribution] | None = None,
    num_chains: int = 2,
    num_warmup: int = 400,
    num_samples: int = 500,
    num_draws: int = 99,
    target_accept_prob: float = 0.9,
    bins: int = 10,
    alpha: float = 0.01,
    seed: int = 0,
    progress: bool = False,
) -> CalibrationResult:
    """Simulation-based calibration of a law's model (shared parameters, no groups) under its default priors.

    Parameters
    ----------
    law : Law or str
    num_simulations : int
        Number of simulated data sets ``S``.
    design : pandas.DataFrame, optional
        Inputs of the simulated ladder; default :func:`bayescale.simulate.default_design`.
    likelihood : {"student_t", "normal", "beta"}
    fit_priors : mapping, optional
        Priors used for fitting instead of the law's (data are still simulated from the law's priors): a
        misspecified prior here is the negative control, whose ranks must fail the test.
    num_chains, num_warmup, num_samples : int
        NUTS settings of each fit; the sampler is compiled once and reused for every simulation.
    num_draws : int
        Posterior draws ``L`` each rank is taken among (thinned evenly from ``num_chains * num_samples``); choose
        ``L + 1`` divisible by ``bins``.
    target_accept_prob : float
        NUTS step-size adaptation target (as in :func:`bayescale.fit`).
    bins : int
        Bins of the chi-square uniformity test.
    alpha : float
        Family-wise level of the test (Bonferroni over quantities).
    seed : int
        Fixes the simulations and the fits.
    progress : bool
        Print one line per 10 simulations.

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> import bayescale as bs
    >>> result = bs.calibrate("chinchilla", num_simulations=100, seed=0)  # doctest: +SKIP
    >>> result.passed  # doctest: +SKIP
    True
    """
    from numpyro.infer import Predictive
    from numpyro.infer.util import log_likelihood

    law = get_law(law)
    if (num_draws + 1) % bins:
        raise ValueError(f"num_draws + 1 ({num_draws + 1}) must be divisible by bins ({bins})")
    total = num_chains * num_samples
    if total < num_draws:
        raise ValueError(f"num_chains * num_samples ({total}) must be at least num_draws ({num_draws})")
    design = default_design(law) if design is None else design.reset_index(drop=True)
    missing = [x for x in law.inputs if x not in design]
    if missing:
        raise ValueError(f"design is missing input column(s) {missing} of law {law.name!r}")
    config = ModelConfig(pool=resolve_pool(law, None, False), likelihood=likelihood)
    fit_law = law
    if fit_priors:
        unknown = set(fit_priors) - set(law.params)
        if unknown:
            raise ValueError(f"fit_priors names unknown parameter(s) {sorted(unknown)} of law {law.name!r}")
        fit_law = dataclasses.replace(law, params={**law.params, **fit_priors}, registered=False)
    sim_model, fit_model = build_model(law, config), build_model(fit_law, config)
    start = time.perf_counter()
    with jax.enable_x64(True):
        x = {k: design[k].to_numpy(np.float64) for k in law.inputs}
        log_x0 = geometric_centre(x)
        data = ModelData(x=x, log_x0=log_x0)
        site = obs_site(law)
        x_ext, ext_name = _extrapolation_point(law, design)
        key_sim, key_fit = jax.random.split(jax.random.PRNGKey(seed))
        prior = Predictive(sim_model, num_samples=num_simulations)(key_sim, data)
        names = [p for p in law.params] + list(NOISE_PARAMS[likelihood])
        sampler = CompiledNUTS(fit_model, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                               target_accept_prob=target_accept_prob)
        thin = np.linspace(0, total - 1, num_draws).round().astype(int)
        rows, divergences = [], []
        for s in range(num_simulations):
            y = law.from_link(np.asarray(prior[site][s]))
            sim_data = dataclasses.replace(data, y=y)
            samples, sstats = sampler.run(jax.random.fold_in(key_fit, s), sim_data)
            post = {k: v.reshape((total,) + v.shape[2:])[thin] for k, v in samples.items()}
            divergences.append(int(sstats["diverging"].sum()))
            truth = {k: np.asarray(prior[k][s]) for k in names}
            row = {k: int(np.sum(post[k] < truth[k])) for k in names}
            ll_post = log_likelihood(fit_model, post, sim_data)[site].sum(-1)
            latent = {k: np.asarray(v[s])[None] for k, v in prior.items() if k != site}
            ll_true = log_likelihood(sim_model, latent, sim_data)[site].sum(-1)
            row["log_lik"] = int(np.sum(np.asarray(ll_post) < float(ll_true[0])))
            ext_post = _log_prediction(law, x_ext, {p: post[p] for p in law.params})
            ext_true = _log_prediction(law, x_ext, {p: truth[p][None] for p in law.params})
            row[ext_name] = int(np.sum(ext_post < ext_true[0]))
            rows.append(row)
            if progress and (s + 1) % 10 == 0:
                print(f"  calibrate {law.name}: {s + 1}/{num_simulations} fits, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    ranks = pd.DataFrame(rows)
    pvalues = pd.Series({c: _uniformity_pvalue(ranks[c].to_numpy(), num_draws, bins) for c in ranks.columns})
    return CalibrationResult(
        ranks=ranks, num_draws=num_draws, pvalues=pvalues, alpha=alpha, bins=bins,
        divergences=np.asarray(divergences), seconds=time.perf_counter() - start, law=law.name,
        fit_priors={k: repr(v) for k, v in (fit_priors or {}).items()},
    )


def _extrapolation_point(law: Law, design: pd.DataFrame) -> tuple[dict[str, np.ndarray], str]:
    """Where the extrapolation statistic predicts, and its name.

    Laws in sizes: every input of the largest run scaled so that compute grows tenfold (``pred_10x_compute``).
    Laws of a loss (downstream transfer): the smallest loss of the design halved (``pred_half_loss``): better
    models have lower loss.
    """
    if not any(law.is_loss_input(k) for k in law.inputs):
        big = design.iloc[int(np.argmax(np.prod([design[k].to_numpy(float) for k in law.inputs], axis=0)))]
        factor = 10.0 ** (1.0 / len(law.inputs))
        return {k: np.asarray([float(big[k]) * factor]) for k in law.inputs}, "pred_10x_compute"
    return {k: np.asarray([float(design[k].min()) * (0.5 if law.is_loss_input(k) else 1.0)]) for k in law.inputs}, \
        "pred_half_loss"


def _log_prediction(law: Law, x: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate the law's (log) mean at one input point for a batch of parameter draws."""
    out = law_location(law, [jnp.asarray(x[k]) for k in law.inputs], {k: jnp.asarray(v) for k, v in params.items()})
    return np.asarray(out).reshape(-1)
