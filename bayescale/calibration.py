"""Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788) of a law's model and sampler.

For ``s = 1..S``: draw parameters from the prior and a ladder of runs from the model, fit it with NUTS, and record
the rank of each true quantity among ``L`` (thinned) posterior draws (ties broken at random). When the model, its
priors and the sampler are right, every rank is uniform on ``0..L``. Checked quantities: each parameter, ``sigma``
(and ``nu``), the log-likelihood of the simulated data, and the law's prediction (on the likelihood's scale) beyond
the design: at ten times the largest compute for laws in sizes, at half the smallest loss for laws of a loss
(downstream transfer). A chain (:func:`bayescale.chain`) is calibrated the same way over all its stages, and the
coverage of its chained predictive intervals is measured against the plug-in chain of point estimates.

The uniformity test is Pearson's chi-square on ``bins`` equal bins per quantity, with a Bonferroni correction over
quantities; :attr:`CalibrationResult.passed` is False when any quantity fails. A negative control fits with priors
that differ from the ones the data were simulated from (``fit_priors=``): its ranks must pile up and fail.
"""

from __future__ import annotations

import collections
import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from bayescale import engine
from bayescale.build import (
    COUNT_LIKELIHOODS,
    LIKELIHOODS,
    ModelConfig,
    ModelData,
    build_model,
    from_site,
    geometric_centre,
    law_location,
    noise_params,
    obs_site,
    resolve_pool,
)
from bayescale.data import _PACKAGE_DIRS, _flag, validate_runs
from bayescale.engine import CompiledNUTS
from bayescale.law import Law, _check_refittable, get_law
from bayescale.posterior import _shared_model
from bayescale.simulate import default_design

if TYPE_CHECKING:
    from bayescale.chain import Chain

__all__ = ["CalibrationResult", "CalibrationWarning", "calibrate"]


class CalibrationWarning(UserWarning):
    """A calibration's ranks may be unreliable (its thinned draws are autocorrelated)."""


#: NUTS's step-size target in :func:`calibrate` (``bs.fit`` uses 0.9): on prior-simulated data sets 0.9 left
#: 50 of 100 Chinchilla fits and 58 of 100 chain fits with divergences, 0.99 left 7 and 12, in about the same time
#: (S = 100, one chain of 400 + 500 iterations, 2 CPU cores, 2026-12-04).
SBC_TARGET_ACCEPT = 0.99


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
    min_ess : numpy.ndarray
        Each simulation's smallest bulk or tail ESS over the ranked parameters (before thinning). Below half of
        ``num_draws`` the ``L`` thinned draws are autocorrelated enough to skew the ranks even for a calibrated
        model (Talts et al. 2018 thin to the ESS; the threshold is the SBC R package's): see :attr:`problems`.
    coverage : dict
        Chains only: how often a new run's last-stage target at the extrapolation point fell inside the central
        ``prob`` predictive interval of the chained posterior (``"chain"``) and of the plug-in chain of point
        estimates (``"plugin"``), with the intervals' mean widths (``"chain_width"``, ``"plugin_width"``).
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
    coverage: dict = field(default_factory=dict)
    min_ess: np.ndarray = field(default_factory=lambda: np.zeros(0))

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

    @property
    def problems(self) -> list[str]:
        """What makes the ranks less trustworthy, with the thresholds used (:func:`calibrate` warns with these).

        Fits whose ESS is below half the ``L`` draws each rank is taken among, and fits with divergent transitions
        (SBC checks the sampler too: such fits are where it struggles over the prior's range).
        """
        out = []
        s = len(self.min_ess)
        low = self.min_ess < self.num_draws / 2
        if low.any():
            out.append(f"{int(low.sum())} of {s} fits had a bulk or tail ESS below half the {self.num_draws} draws "
                       f"each rank is taken among (smallest {np.min(self.min_ess):.1f}): their thinned draws are "
                       "autocorrelated, which skews ranks even for a calibrated model; raise num_samples")
        div = np.asarray(self.divergences) > 0
        if div.any():
            out.append(f"{int(div.sum())} of {len(div)} fits had divergent transitions "
                       f"({int(np.sum(self.divergences))} in all): the sampler struggles on part of the prior's "
                       "range; raise target_accept_prob")
        return out

    def summary(self) -> pd.DataFrame:
        """Per quantity: chi-square p-value, mean rank / L (0.5 when calibrated), and pass/fail."""
        return pd.DataFrame({
            "pvalue": self.pvalues,
            "mean_rank": self.ranks.mean() / self.num_draws,
            "passed": self.pvalues >= self.threshold,
        })

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else f"FAILED for {self.failed}"
        cov = ""
        if self.coverage:
            c = self.coverage
            cov = (f"; {100 * c['prob']:.0f}% intervals at {c['point']} cover {100 * c['chain']:.0f}% (chain) vs "
                   f"{100 * c['plugin']:.0f}% (plug-in)")
        return (f"<CalibrationResult {self.law}: S={len(self.ranks)}, L={self.num_draws}, {verdict} "
                f"(chi-square, {self.bins} bins, alpha={self.alpha} Bonferroni over {len(self.pvalues)}); "
                f"{int(self.divergences.sum())} divergences in {int((self.divergences > 0).sum())} fits; "
                f"{int((self.min_ess < self.num_draws / 2).sum())} fits with ESS < L/2; {self.seconds:.0f} s{cov}>")

    def plot(self, path=None):
        """Rank histograms with the 99% band of a uniform histogram; saved to ``path`` when given.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from scipy import stats

        from bayescale.plots import _pyplot, _save

        plt = _pyplot()

        cols = list(self.ranks.columns)
        ncol = min(4, len(cols))
        nrow = -(-len(cols) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
        s = len(self.ranks)
        lo, hi = stats.binom.ppf([0.005, 0.995], s, 1 / self.bins)
        edges = np.linspace(0, self.num_draws + 1, self.bins + 1)
        for i, (ax, col) in enumerate(zip(axes.flat, cols, strict=False)):
            ax.axhspan(lo, hi, color="0.85", label="99% band of a uniform histogram")
            ax.hist(self.ranks[col], bins=edges, color="C0", edgecolor="white", label="simulations")
            ax.set_title(f"{col}  (p={self.pvalues[col]:.2g})", fontsize=9)
            if i % ncol == 0:
                ax.set_ylabel("simulations", fontsize=8)
            if i >= len(cols) - ncol:  # the bottom panel of each column
                ax.set_xlabel(f"rank of the true value among {self.num_draws} draws", fontsize=8)
            ax.tick_params(labelsize=7)
        axes.flat[0].legend(fontsize=7, loc="lower left")
        for ax in list(axes.flat)[len(cols):]:
            ax.set_visible(False)
        fig.suptitle(f"SBC rank histograms: {self.law}, S={s}, L={self.num_draws}", fontsize=10)
        fig.tight_layout()
        return _save(fig, path)  # as bayescale.plots' figures: its folder made, then closed


def _min_ess(fits: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]) -> np.ndarray:
    """Return the smallest bulk or tail ESS over ``names`` of each fit.

    ``fits``: each fit's arrays shaped ``(chains, draws, ...)``, every fit of the same shapes. The ESS of
    :func:`bayescale.fit._worst_stats`, which judges every fit (a NaN, from draws that never move, counts as 0),
    without its R-hat, in one ArviZ call per statistic for all the fits.
    """
    from bayescale.fit import _worst_stats

    if not fits:
        return np.zeros(0)
    worst = _worst_stats({k: np.stack([np.asarray(f[k]) for f in fits]) for k in names}, r_hat=False)
    return np.min([np.minimum(bulk, tail) for _, bulk, tail in worst.values()], axis=0)


class _ESSInChunks:
    """:func:`_min_ess` of each fit of a calibration, taken :attr:`CHUNK` fits at a time as they come.

    One call for many fits, without the R-hat a calibration does not report, instead of one call per fit with it:
    on the draws of 40 fits, 0.14-0.22 s against 0.43-0.60 s (``benchmarks/calibrate_speed.py``, 2026-12-06).
    Chunks keep the draws held for it bounded when ``S`` is in the thousands.
    """

    CHUNK = 100

    def __init__(self, names: Sequence[str]):
        self.names, self.done, self.waiting = list(names), [], []

    def add(self, samples: Mapping[str, np.ndarray]) -> None:
        self.waiting.append({k: np.array(samples[k]) for k in self.names})  # a copy: the call's arrays can go
        if len(self.waiting) == self.CHUNK:
            self._take()

    def _take(self) -> None:
        self.done.append(_min_ess(self.waiting, self.names))
        self.waiting = []

    def values(self) -> np.ndarray:
        """Return the smallest ESS of every fit added, in order."""
        self._take()
        return np.concatenate(self.done)


def _warn_problems(result: CalibrationResult) -> None:
    for msg in result.problems:
        warnings.warn(f"calibrate {result.law}: {msg}", CalibrationWarning, skip_file_prefixes=_PACKAGE_DIRS)


def _uniformity_pvalue(ranks: np.ndarray, num_draws: int, bins: int) -> float:
    from scipy import stats  # imported here: SciPy's statistics cost 0.3-0.5 s at `import bayescale`

    counts = np.bincount((ranks * bins) // (num_draws + 1), minlength=bins)
    return float(stats.chisquare(counts).pvalue)


def calibrate(
    law: Law | str | Chain = "chinchilla",
    *,
    num_simulations: int = 100,
    design: pd.DataFrame | None = None,
    likelihood: str = "student_t",
    noise: str | None = None,
    fit_priors: Mapping[str, dist.Distribution] | None = None,
    num_chains: int = 1,
    num_warmup: int = 400,
    num_samples: int = 1000,
    num_draws: int = 99,
    target_accept_prob: float | None = None,
    bins: int = 10,
    alpha: float = 0.01,
    seed: int = 0,
    progress_bar: bool | None = None,
    sampler: str = "nuts",
) -> CalibrationResult:
    """Simulation-based calibration of a law's model (shared parameters, no groups) under its default priors.

    Parameters
    ----------
    law : Law, str or Chain
        A law, its registered name, or a :class:`~bayescale.Chain` (NUTS only; its stages' parameters are ranked,
        and the coverage of chained and plug-in predictive intervals is reported).
    num_simulations : int
        Number of simulated data sets ``S``.
    design : pandas.DataFrame, optional
        Inputs of the simulated ladder; default :func:`bayescale.simulate.default_design`.
    likelihood : {"student_t", "normal", "beta", "binomial", "beta_binomial"}
    noise : str, optional
        For the count likelihoods (``"binomial"``, ``"beta_binomial"``): the design's column with each simulated
        run's number of items, from which its count of correct answers is drawn (as ``noise=`` in
        :func:`bayescale.fit`).
    fit_priors : mapping, optional
        Priors used for fitting instead of the law's (data are still simulated from the law's priors): a
        misspecified prior here is the negative control, whose ranks must fail the test.
    num_chains, num_warmup, num_samples : int
        NUTS settings of each fit. One chain by default: the ranks need draws, not a second chain (no R-hat is
        taken), and one chain samples half as much (``benchmarks/calibrate_speed.py``, S = 40, 2 cores, 400 + 500
        iterations, the defaults on 2026-12-01: 8.3 s against 10.7 s for two chains, Chinchilla law). Several
        data sets are fitted per call of the sampler, one chain per device (the same draws as one at a time).
        The sampler is compiled once and reused for every simulation, as are the log-likelihoods and
        extrapolations computed from each fit and the prior predictive that simulates the data sets (in chunks of
        ``bayescale.calibration.SIM_CHUNK``).
    num_draws : int
        Posterior draws ``L`` each rank is taken among (thinned evenly from ``num_chains * num_samples``); choose
        ``L + 1`` divisible by ``bins``.
    target_accept_prob : float, optional
        Step-size adaptation target (as in :func:`bayescale.fit`). Default for NUTS
        :data:`~bayescale.calibration.SBC_TARGET_ACCEPT` (0.99), above :func:`bayescale.fit`'s 0.9: prior-simulated
        data sets reach corners of the posterior (an exponent whose term is negligible, a floor traded against a
        scale) where 0.9's steps diverge; measured at S = 100, one chain of 400 + 1000 iterations, 2026-12-04 (see
        Warns). For ``sampler="chees"``, 0.9, as :func:`bayescale.fit` uses, so that the calibration is of the
        sampler a fit runs.
    bins : int
        Bins of the chi-square uniformity test.
    alpha : float
        Family-wise level of the test (Bonferroni over quantities).
    seed : int or None
        Fixes the simulations and the fits; None draws a fresh one, as for :func:`bayescale.fit`.
    progress_bar : bool, optional
        Print one line per 10 simulations; default on when stderr is a terminal (not under ``CI``), as for
        :func:`bayescale.fit`.
    sampler : {"nuts", "chees"}
        As in :func:`bayescale.fit`; ``"chees"`` (chains in lockstep) needs ``num_chains >= 2``, and calibrates
        that sampler on the law.

    Returns
    -------
    CalibrationResult

    Warns
    -----
    CalibrationWarning
        With :attr:`CalibrationResult.problems`: fits whose bulk or tail ESS is below ``L / 2`` (their thinned
        draws skew the ranks), and fits with divergent transitions. Prior-simulated data sets reach corners that
        real ones rarely do. For the Chinchilla law (S = 100, 2 CPU cores, 2026-12-04) these defaults left 15 fits
        with divergences (28 transitions) and 6 with an ESS below ``L / 2``, in 22 s; the defaults until then
        (target 0.9, 500 draws) left 50 (323 transitions) and 23, in 18 s, and the ranks passed both ways. The
        low-ESS fits trade the floor ``E`` against ``A`` and ``alpha``, or ``B`` against ``beta`` (at 500 draws
        and target 0.99, 16 fits with a bulk or tail ESS of 13-50).

    Examples
    --------
    >>> import bayescale as bs
    >>> result = bs.calibrate("chinchilla", num_simulations=100, seed=0)  # doctest: +SKIP
    >>> result.passed  # doctest: +SKIP
    True
    """
    from bayescale.chain import Chain
    from bayescale.fit import _check_likelihood, _default_progress, _options, _resolve_seed

    if target_accept_prob is None:
        target_accept_prob = SBC_TARGET_ACCEPT if sampler == "nuts" else 0.9
    # the sampler's settings, checked as bs.fit checks them (each simulated data set is fitted with them)
    _options(num_chains, num_warmup, num_samples, target_accept_prob, 10, "float64", 6.0, None, sampler=sampler)
    seed = _resolve_seed(seed)
    _flag(progress_bar, "progress_bar", optional=True)
    progress = _default_progress() if progress_bar is None else progress_bar
    if sampler == "chees" and num_chains < 2:
        raise ValueError(f"sampler='chees' adapts across a fit's chains: num_chains={num_chains} must be at least 2 "
                         "(8 is bs.fit's default for it)")
    if isinstance(law, Chain):
        for stage in law.stages:
            _check_refittable(stage, "calibrated")
        if sampler != "nuts":
            raise ValueError(f"sampler={sampler!r}: a Chain is calibrated with NUTS only (sampler='nuts')")
        return _calibrate_chain(law, num_simulations=num_simulations, design=design, likelihood=likelihood,
                                fit_priors=fit_priors, num_chains=num_chains, num_warmup=num_warmup,
                                num_samples=num_samples, num_draws=num_draws, target_accept_prob=target_accept_prob,
                                bins=bins, alpha=alpha, seed=seed, progress=progress)
    law = get_law(law)
    _check_refittable(law, "calibrated")
    if likelihood not in LIKELIHOODS:  # the check and message of bs.fit
        raise ValueError(f"likelihood={likelihood!r} is not one of {LIKELIHOODS}")
    counts = likelihood in COUNT_LIKELIHOODS
    if counts == (noise is not None):  # the law's link decides the rest, as for bs.fit
        _check_likelihood(law, likelihood, noise)
    if counts != (noise is not None) or (counts and design is None):
        raise ValueError(f"likelihood={likelihood!r}: noise= names the design's column of items for a count "
                         "likelihood ('binomial' or 'beta_binomial'), and only for one; got "
                         f"noise={noise!r} and {'a design' if design is not None else 'no design'}")
    _check_sizes(num_draws, bins, num_chains, num_samples, num_simulations, alpha)
    total = num_chains * num_samples
    design = default_design(law) if design is None else _validated_design(design, law, items=noise)
    config = ModelConfig(pool=resolve_pool(law, None, False), likelihood=likelihood, sigma_scale=law.noise_scale)
    fit_law = law
    if fit_priors:
        unknown = set(fit_priors) - set(law.params)
        if unknown:
            raise ValueError(f"fit_priors names unknown parameter(s) {sorted(unknown)} of law {law.name!r}")
        fit_law = dataclasses.replace(law, params={**law.params, **fit_priors}, registered=False)
    # the models and programs of a calibration are kept for the next one of the same law, configuration and
    # sampler settings (another seed, S, alpha, or a design of as many runs), which then compiles nothing
    sim_model = _shared_model(law, config)
    fit_model = build_model(fit_law, config) if fit_priors else sim_model
    start = time.perf_counter()
    with jax.enable_x64(True):
        x = {k: design[k].to_numpy(np.float64) for k in law.inputs}
        log_x0 = geometric_centre(x)
        items = design[noise].to_numpy(np.float64) if counts else None
        data = ModelData(x=x, log_x0=log_x0, noise=items)
        site = obs_site(law)
        x_ext, ext_name = _extrapolation_point(law, design)
        key_sim, key_fit = jax.random.split(jax.random.PRNGKey(seed))
        prior = _prior_draws(sim_model, data, num_simulations, key_sim)
        names = [p for p in law.params] + list(noise_params(law, likelihood))
        compiled = _sampler(fit_model, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                            target_accept_prob=target_accept_prob, sampler=sampler)
        thin = np.linspace(0, total - 1, num_draws).round().astype(int)
        rng = np.random.default_rng(seed)  # breaks ties between draws and the truth at random
        scores = engine.reused(("calibrate.scores", id(fit_model), id(sim_model)),
                               partial(_scores, law, fit_model, sim_model, site))
        rows, divergences, ess = [], [], _ESSInChunks(names)
        sims = [dataclasses.replace(data, y=from_site(law, likelihood, np.asarray(prior[site][s]), items))
                for s in range(num_simulations)]
        for s, sim_data, (samples, sstats) in _fits(compiled, key_fit, sims, num_chains):
            post = {k: v.reshape((total,) + v.shape[2:])[thin] for k, v in samples.items()}
            divergences.append(int(sstats["diverging"].sum()))
            ess.add(samples)
            truth = {k: np.asarray(prior[k][s]) for k in names}
            row = {k: _rank(post[k], truth[k], rng) for k in names}
            latent = {k: np.asarray(v[s])[None] for k, v in prior.items() if k != site}
            ll_post, ll_true, ext_post, ext_true = scores(post, latent, sim_data, x_ext)
            row["log_lik"] = _rank(ll_post, ll_true, rng)
            row[ext_name] = _rank(ext_post, ext_true, rng)
            rows.append(row)
            if progress and (s + 1) % 10 == 0:
                print(f"  calibrate {law.name}: {s + 1}/{num_simulations} fits, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    ranks, min_ess = pd.DataFrame(rows), ess.values()  # before the clock stops
    pvalues = pd.Series({c: _uniformity_pvalue(ranks[c].to_numpy(), num_draws, bins) for c in ranks.columns})
    result = CalibrationResult(
        ranks=ranks, num_draws=num_draws, pvalues=pvalues, alpha=alpha, bins=bins,
        divergences=np.asarray(divergences), seconds=time.perf_counter() - start, law=law.name,
        fit_priors={k: repr(v) for k, v in (fit_priors or {}).items()}, min_ess=min_ess,
    )
    _warn_problems(result)
    return result


def _sampler(fit_model, **settings) -> CompiledNUTS:
    """Return the calibration's sampler of ``fit_model`` with ``settings`` (:class:`CompiledNUTS`'s), reused.

    Keyed by the model's ``id``: the sampler holds the model, so the ``id`` stays its own while cached.
    """
    return engine.reused(("calibrate.sampler", id(fit_model), *sorted(settings.items())),
                         partial(CompiledNUTS, fit_model, **settings))


def _scores(law: Law, fit_model, sim_model, site: str) -> Callable:
    """Compiled log-likelihoods of a simulation's draws and of its truth, and the law's extrapolation of both.

    ``scores(post, latent, sim_data, x_ext)``: ``post`` the thinned draws, ``latent`` the true values (a leading
    axis of one), ``x_ext`` the extrapolation point's inputs.
    """
    from numpyro.infer.util import log_likelihood

    @jax.jit
    def scores(post, latent, sim_data, x_ext):
        ll_post = log_likelihood(fit_model, post, sim_data, parallel=True)[site].sum(-1)
        ll_true = log_likelihood(sim_model, latent, sim_data, parallel=True)[site].sum(-1)
        x = [jnp.asarray(x_ext[k]) for k in law.inputs]
        ext_post = law_location(law, x, {p: post[p] for p in law.params}).reshape(-1)
        ext_true = law_location(law, x, {p: latent[p] for p in law.params}).reshape(-1)
        return ll_post, ll_true[0], ext_post, ext_true[0]

    return scores


def _chain_logliks(fit_model, sim_model) -> Callable:
    """Compiled joint log-likelihood (over a chain's stages) of a simulation's draws and of its truth."""
    from numpyro.infer.util import log_likelihood

    @jax.jit
    def logliks(post, latent, sim_data):
        ll_post = sum(v.sum(-1) for v in log_likelihood(fit_model, post, sim_data, parallel=True).values())
        ll_true = sum(v.sum(-1) for v in log_likelihood(sim_model, latent, sim_data, parallel=True).values())
        return ll_post, ll_true[0]

    return logliks


def _rank(draws, truth, rng: np.random.Generator) -> int:
    """Rank of ``truth`` among ``draws``, ties broken at random.

    Ties happen where a law saturates (a sigmoid at its floor evaluates to the floor exactly in float64 for every
    draw and for the truth); counting them all as larger would pile ranks at 0 and fail a calibrated model.
    """
    draws, truth = np.asarray(draws).reshape(-1), float(np.asarray(truth))
    below = int(np.sum(draws < truth))
    return below + int(rng.integers(0, int(np.sum(draws == truth)) + 1))


def _validated_design(design, law: Law, extra: Sequence[str] = (), items: str | None = None) -> pd.DataFrame:
    """Return the design's input columns, checked as a table of new inputs is (numbers, finite, sizes > 0).

    ``items``: a count likelihood's column of items per run, checked as :func:`bayescale.fit` checks it (whole
    numbers >= 1) and kept.
    """
    if not isinstance(design, pd.DataFrame):
        raise TypeError(f"design must be a pandas DataFrame of the law's inputs, got {type(design).__name__}")
    checked = validate_runs(design, law, require_target=False, keep=extra, noise=items, counts=items is not None,
                            table="the design (inputs of the simulated runs)").frame
    kept = list(extra) + ([items] if items is not None else [])
    distinct = len(checked[list(law.inputs)].drop_duplicates())
    if distinct < 3:  # each simulated data set is fitted: the rule of bs.fit's runs
        raise ValueError(f"the design (inputs of the simulated runs) has {distinct} distinct run(s); each simulated "
                         "data set is fitted, and a law needs at least 3 runs to fit: add runs to the design")
    return checked[list(law.inputs) + [x for x in kept if x not in law.inputs]].reset_index(drop=True)


def _check_sizes(num_draws: int, bins: int, num_chains: int, num_samples: int, num_simulations: int,
                 alpha: float = 0.05) -> None:
    if not (isinstance(alpha, (int, float, np.floating)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a level strictly between 0 and 1 (0.05 is typical), got {alpha!r}")
    if not isinstance(num_simulations, (int, np.integer)) or num_simulations < 2:
        raise ValueError(f"num_simulations must be an integer of at least 2 (a rank test needs several simulated "
                         f"data sets; 100 is typical), got {num_simulations!r}")
    for name, value, least in (("bins", bins, 2), ("num_draws", num_draws, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer of at least {least}, got {value!r}")
    if (num_draws + 1) % bins:
        raise ValueError(f"num_draws + 1 ({num_draws + 1}) must be divisible by bins ({bins})")
    if num_chains * num_samples < num_draws:
        raise ValueError(f"num_chains * num_samples ({num_chains * num_samples}) must be at least num_draws "
                         f"({num_draws}), the posterior draws each rank is counted among: raise num_samples to "
                         f"{-(-num_draws // num_chains)} or more")


def _calibrate_chain(ch, *, num_simulations, design, likelihood, fit_priors, num_chains, num_warmup, num_samples,
                     num_draws, target_accept_prob, bins, alpha, seed, progress, prob: float = 0.9):
    """SBC of a chain, and the coverage of chained and plug-in predictive intervals of a new run.

    Ranks of every stage's parameters, the joint log-likelihood and the chained prediction beyond the design; the
    coverage is that of a new run's last-stage target at the same extrapolation point.
    """
    from numpyro.infer import Predictive

    from bayescale.chain import Chain, ChainData, _shared_chain_model, _stage_likelihoods, build_chain_model

    _check_sizes(num_draws, bins, num_chains, num_samples, num_simulations, alpha)
    first, last = ch.stages[0], ch.stages[-1]
    design = default_design(first) if design is None else _validated_design(
        design, first, [x for x in ch.inputs if x not in first.inputs])
    likelihoods = _stage_likelihoods(ch, likelihood)
    configs = [ModelConfig(pool=resolve_pool(law, None, False), likelihood=lk, sigma_scale=law.noise_scale)
               for law, lk in zip(ch.stages, likelihoods, strict=True)]
    fit_ch = ch
    if fit_priors:
        stages = list(ch.stages)
        for key, prior in fit_priors.items():
            target, _, p = key.partition(".")
            if target not in ch.targets or p not in ch.stage(target).params:
                raise ValueError(f"fit_priors key {key!r} must name '<target>.<parameter>' of chain {ch.name!r}")
            k = ch.targets.index(target)
            stages[k] = dataclasses.replace(stages[k], params={**stages[k].params, p: prior}, registered=False)
        fit_ch = Chain(ch.name, tuple(stages), ch.feeds)
    sim_model = _shared_chain_model(ch, configs)
    fit_model = build_chain_model(fit_ch, configs) if fit_priors else sim_model
    total = num_chains * num_samples
    start = time.perf_counter()
    x_ext, ext_name = _extrapolation_point(first, design)
    x_ext = {**{k: design[k].to_numpy(np.float64)[:1] for k in ch.inputs}, **x_ext}  # later stages' own inputs
    n = len(design)

    def chain_data(frame_x: Mapping[str, np.ndarray], ys=None, log_x0=None, feed="sample"):
        stages = []
        for k, law in enumerate(ch.stages):
            x = {i: np.asarray(frame_x[i], dtype=np.float64) if i in frame_x else
                 np.ones(len(next(iter(frame_x.values())))) for i in law.inputs}
            lx0 = log_x0[k] if log_x0 is not None else geometric_centre(x)
            stages.append(ModelData(x=x, log_x0=lx0, y=None if ys is None else ys[k]))
        return ChainData(tuple(stages), feed=feed)

    with jax.enable_x64(True):
        cols = {k: np.concatenate([design[k].to_numpy(np.float64), x_ext[k]]) for k in ch.inputs}
        sites = [f"{law.target}.{obs_site(law)}" for law in ch.stages]
        key_sim, key_fit, key_pred = jax.random.split(jax.random.PRNGKey(seed), 3)
        prior = _prior_draws(sim_model, chain_data(cols), num_simulations, key_sim)
        names = [f"{law.target}.{p}" for law, cfg in zip(ch.stages, configs, strict=True)
                 for p in list(law.params) + list(noise_params(law, cfg.likelihood))]
        sampler = _sampler(fit_model, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                           target_accept_prob=target_accept_prob)
        thin = np.linspace(0, total - 1, num_draws).round().astype(int)
        rng = np.random.default_rng(seed)  # breaks ties between draws and the truth at random
        last_site = sites[-1]

        @partial(jax.jit, static_argnums=3)
        def predict_ext(key, post, log_x0, feed):
            data = chain_data(x_ext, log_x0=log_x0, feed=feed)
            return Predictive(fit_model, posterior_samples=post, return_sites=[last_site])(key, data)[last_site]

        logliks = engine.reused(("calibrate.chain_logliks", id(fit_model), id(sim_model)),
                                partial(_chain_logliks, fit_model, sim_model))

        def chain_location(params):
            """Evaluate the chain's law at the extrapolation point (last stage, on its likelihood's scale)."""
            value = None
            for k, law in enumerate(ch.stages):
                xs = {i: jnp.asarray(x_ext[i]) for i in law.inputs if i in x_ext}
                if k:
                    xs[ch.feeds[k - 1]] = ch.stages[k - 1].from_link(value, jnp)
                value = law_location(law, [xs[i] for i in law.inputs], params[k])
            return np.asarray(value).reshape(-1)

        rows, divergences, ess = [], [], _ESSInChunks(names)
        inside, widths = {"chain": [], "plugin": []}, {"chain": [], "plugin": []}
        lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2

        def simulated(s):
            ys = [ch.stages[k].from_link(np.asarray(prior[site][s][:n])) for k, site in enumerate(sites)]
            fit_x = {k: v[:n] for k, v in cols.items()}
            for k in range(1, len(ch.stages)):
                fit_x[ch.feeds[k - 1]] = ys[k - 1]
            log_x0 = [geometric_centre({i: fit_x[i] for i in law.inputs}) for law in ch.stages]
            # each stage's own data (the fed input is overwritten inside the model with the observed target)
            return chain_data(fit_x, ys, log_x0=log_x0), log_x0

        sims = [simulated(s) for s in range(num_simulations)]
        for s, (sim_data, log_x0), (samples, sstats) in _fits(sampler, key_fit, sims, num_chains, data=0):
            post = {k: v.reshape((total,) + v.shape[2:])[thin] for k, v in samples.items()}
            divergences.append(int(sstats["diverging"].sum()))
            ess.add(samples)
            truth = {k: np.asarray(prior[k][s]) for k in names}
            row = {k: _rank(post[k], truth[k], rng) for k in names}
            latent = {k: np.asarray(v[s])[None] for k, v in prior.items() if k not in sites}
            ll_post, ll_true = logliks(post, latent, sim_data)
            row["log_lik"] = _rank(ll_post, ll_true, rng)
            split = [{p: post[f"{law.target}.{p}"] for p in law.params} for law in ch.stages]
            true_split = [{p: truth[f"{law.target}.{p}"][None] for p in law.params} for law in ch.stages]
            row[ext_name] = _rank(chain_location(split), chain_location(true_split)[0], rng)
            rows.append(row)
            # a new run at the extrapolation point: chained vs plug-in predictive intervals
            y_new = float(last.from_link(np.asarray(prior[last_site][s][n])))
            full = {k: jnp.asarray(v.reshape((total,) + v.shape[2:])) for k, v in samples.items()}
            med = {k: jnp.broadcast_to(jnp.median(v, axis=0), v.shape) for k, v in full.items()}
            for label, draws, feed in (("chain", full, "sample"), ("plugin", med, "mean")):
                pred = last.from_link(np.asarray(predict_ext(jax.random.fold_in(key_pred, s), draws, log_x0,
                                                             feed)).reshape(-1))
                lo, hi = np.quantile(pred, [lo_q, hi_q])
                inside[label].append(lo <= y_new <= hi)
                widths[label].append(hi - lo)
            if progress and (s + 1) % 10 == 0:
                print(f"  calibrate {ch.name}: {s + 1}/{num_simulations} fits, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    ranks, min_ess = pd.DataFrame(rows), ess.values()  # before the clock stops
    pvalues = pd.Series({c: _uniformity_pvalue(ranks[c].to_numpy(), num_draws, bins) for c in ranks.columns})
    coverage = {"prob": prob, "point": ext_name, "target": last.target,
                "chain": float(np.mean(inside["chain"])), "plugin": float(np.mean(inside["plugin"])),
                "chain_width": float(np.mean(widths["chain"])), "plugin_width": float(np.mean(widths["plugin"]))}
    result = CalibrationResult(
        ranks=ranks, num_draws=num_draws, pvalues=pvalues, alpha=alpha, bins=bins,
        divergences=np.asarray(divergences), seconds=time.perf_counter() - start, law=ch.name,
        fit_priors={k: repr(v) for k, v in (fit_priors or {}).items()}, coverage=coverage,
        min_ess=min_ess,
    )
    _warn_problems(result)
    return result


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


def _sims_per_call(num_chains: int) -> int:
    """Return how many simulated data sets one call of the sampler fits: as many as fill the local devices.

    On a CPU, JAX's host devices (:mod:`bayescale._devices`: at least 4) each run one chain as a thread: with two
    chains per fit, two data sets at a time, with the draws one data set per call gives (the same ranks). Measured
    on 2026-12-01 on 2 cores (sigmoid transfer law, 24 runs, S = 40, 400 + 500 iterations): with two chains per
    fit, 5.5-6.3 s against 5.9-6.1 s for one data set per call (both cores were busy either way); with one chain
    per fit, which uses every core only when fits are batched, 4.5 s.
    """
    return max(1, jax.local_device_count() // num_chains)


#: Calls of the sampler that :func:`_fits` keeps running at once. With one, a call of four one-chain fits on two
#: cores left a core idle while its longest fit finished, and both while the fits were ranked and scored; with two,
#: ``bs.calibrate("chinchilla", num_simulations=100)`` took 14.4 s against 16.7-16.9 s, the same ranks (2026-12-06).
CALLS_IN_FLIGHT = 2


def _fits(sampler: CompiledNUTS, key, sims: list, num_chains: int, data: int | None = None):
    """Yield ``(s, sims[s], (samples, stats))`` for every simulation, fitted :func:`_sims_per_call` at a time.

    ``data`` indexes the model data in each ``sims[s]`` when it is a tuple. The last call is padded with copies of
    its first data set (their fits are dropped), so every call has the same shape and one compiled program serves
    all. Simulation ``s`` is fitted with ``fold_in(key, s)`` whatever the batch, so its draws do not depend on it.
    :data:`CALLS_IN_FLIGHT` calls run at once, so the cores a call's last fits leave idle, and the time the caller
    takes to rank and score a call's fits, go to the next call.
    """
    # ChEES: a job is a whole data set (its chains in lockstep), so one data set per device
    batch = jax.local_device_count() if sampler.sampler == "chees" else _sims_per_call(num_chains)

    def launch(start):
        idx = list(range(start, min(start + batch, len(sims))))
        datas = [sims[s] if data is None else sims[s][data] for s in idx]
        keys = [jax.random.fold_in(key, s) for s in idx]
        pad = batch - len(idx)
        return idx, sampler.launch_batch(keys + keys[:1] * pad, datas + datas[:1] * pad)

    starts = range(0, len(sims), batch)
    running = collections.deque(launch(start) for start in starts[:CALLS_IN_FLIGHT])
    for k in range(len(starts)):
        idx, result = running.popleft()
        fits = result()
        if k + CALLS_IN_FLIGHT < len(starts):
            running.append(launch(starts[k + CALLS_IN_FLIGHT]))
        yield from ((s, sims[s], fit) for s, fit in zip(idx, fits, strict=False))


#: Simulated data sets drawn per call of the prior predictive: one compiled program serves every ``S`` (and a
#: negative control's second call), where a program per ``S`` cost 4-7 s of XLA compile each (Gamma and Beta
#: samplers are rejection loops).
SIM_CHUNK = 20


def _prior_draws(model, data, num: int, key) -> dict[str, np.ndarray]:
    """``num`` draws of every site of ``model(data)`` from its prior predictive, in chunks of ``SIM_CHUNK``."""
    from numpyro.infer import Predictive

    # reused for the model (held by the compiled function, so its id stays its own)
    draw = engine.reused(("calibrate.prior", id(model)),
                         lambda: engine.light_jit(lambda k, d: Predictive(model, num_samples=SIM_CHUNK)(k, d)))
    parts = [draw(jax.random.fold_in(key, i), data) for i in range(-(-num // SIM_CHUNK))]
    return {k: np.concatenate([np.asarray(p[k]) for p in parts])[:num] for k in parts[0]}
