"""Quantities computed from a fit after sampling, at the runs it was fitted to.

The fit's model is rebuilt on its own runs (:func:`fit_data`, the same layout the sampler used), so prior draws,
log prior densities, posterior predictive draws and (for a fit made with ``log_likelihood=False``) pointwise
log-likelihoods come from the one model function that was sampled; PSIS-LOO and LOO-PIT come from arviz-stats.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from bayescale import engine
from bayescale.build import COUNT_LIKELIHOODS, ModelData, build_model, obs_site

__all__ = ["fit_data", "prior_draws", "log_prior_tree", "predictive_tree", "loo_table", "with_log_likelihood"]


def fit_data(fit) -> ModelData:
    """Return the model data of the fit's own runs, laid out as when it was sampled (groups x points when grouped).

    Parameters
    ----------
    fit : bayescale.Fit
        A fit of a law; its runs are validated again (:meth:`bayescale.Fit.runs`), without repeating the data warnings.

    Returns
    -------
    ModelData
        The arrays the fit's model was sampled with, observed target included.
    """
    return _layout(fit)[0]


def _layout(fit) -> tuple[ModelData, np.ndarray | None]:
    """Return the fit's model data and, for the groups x points layout, each run's flat position in it."""
    from bayescale.data import DataWarning, validate_runs
    from bayescale.fit import _grid_data, _model_data, _predictor_columns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # already reported when the fit was made
        table = validate_runs(fit.runs(), fit.law, groups=fit.groups, noise=fit.meta.get("noise"),
                              keep=_predictor_columns(fit.config),
                              counts=fit.config.likelihood in COUNT_LIKELIHOODS)
    data, _, _ = _model_data(table, fit.meta["log_x0"], levels=fit.levels, config=fit.config)
    return _grid_data(data) if data.group is not None else (data, None)


def prior_draws(fit, data: ModelData | None = None, *, num_samples: int = 2000, seed: int = 0,
                observed: bool = True) -> dict[str, np.ndarray]:
    """Draws of every site (latent, deterministic) from the fit's prior, ``{name: (num_samples, ...)}``.

    The program is compiled once per law, model configuration and shapes in a process (:func:`_shared_model`).

    Parameters
    ----------
    fit : bayescale.Fit
    data : ModelData, optional
        The model data to draw for; default the fit's own runs (:func:`fit_data`).
    num_samples : int
        Draws.
    seed : int
    observed : bool
        False leaves out the observed site: the runs are not simulated, which for a Student-t (or any Gamma-based)
        likelihood keeps a rejection sampler out of the compiled program; the other sites' draws are the same.

    Returns
    -------
    dict of str to numpy.ndarray
    """
    data = fit_data(fit) if data is None else data
    model = _model(fit)
    draw = engine.reused(("posterior.prior", id(model), num_samples, observed),
                         partial(_prior_program, model, obs_site(fit.law), num_samples, observed))
    with jax.enable_x64(True):
        out = draw(jax.random.PRNGKey(seed), dataclasses.replace(data, y=None))
    return {k: np.asarray(v) for k, v in out.items()}


def _model(fit):
    """Return the fit's NumPyro model: :func:`_shared_model` of its law and configuration."""
    return _shared_model(fit.law, fit.config)


def _shared_model(law, config):
    """Return ``build_model(law, config)``, one object per law and configuration in a process.

    Compiled functions are cached by the model object (:func:`bayescale.engine.reused`): the predictions, checks
    and calibrations of a law share its model, so a second call with the same shapes traces and compiles nothing.
    """
    key = ("model", id(law), json.dumps(config.to_dict(), sort_keys=True))
    return engine.reused(key, partial(build_model, law, config))


def _curve(model, sites):
    """Return ``model`` with its observation ``sites`` drawing no noise, one object per model and sites.

    :func:`bayescale.predict._without_noise`, kept (:func:`bayescale.engine.reused`) so that what is compiled for
    it is reused.
    """
    from bayescale.predict import _without_noise

    return engine.reused(("curve", id(model), tuple(sites)), partial(_without_noise, model, list(sites)))


def _prior_program(model, site: str, num_samples: int, observed: bool):
    from numpyro.infer import Predictive

    if not observed:
        model = _curve(model, [site])

    @engine.light_jit
    def draw(key, data):
        out = Predictive(model, num_samples=num_samples)(key, data)
        return out if observed else {k: v for k, v in out.items() if k != site}

    return draw


def _posterior_latents(fit, model, data) -> dict[str, jnp.ndarray]:
    from bayescale.predict import _sample_sites

    with jax.enable_x64(True):
        sites = [s for s in _sample_sites(model, data) if s in fit.tree.posterior]
    return {k: jnp.asarray(v) for k, v in fit.draws(sites).items()}


def _at_draws(fit, data: ModelData, of_trace, *args) -> np.ndarray:
    """Return ``of_trace(trace, *args)`` of the model's trace at each posterior draw (chains flattened), in one map.

    ``of_trace`` is a module-level function (:func:`_log_likelihood_of`, :func:`_log_prior_of`) and ``args``
    hashable: the compiled map is kept per model, function and arguments.
    """
    model = _model(fit)
    with jax.enable_x64(True):
        draws = _posterior_latents(fit, model, data)
        run = engine.reused(("posterior.at_draws", id(model), of_trace, args),
                            partial(_map_program, model, of_trace, args))
        return np.asarray(run(draws, data))


def _map_program(model, of_trace, args: tuple):
    from numpyro import handlers

    @jax.jit
    def run(draws, data):
        def one(params):
            trace = handlers.trace(handlers.substitute(handlers.seed(model, 0), data=params)).get_trace(data)
            return of_trace(trace, *args)

        # lax.map, not vmap: a law reloaded from a saved fit is an exported function, which JAX cannot batch
        return jax.lax.map(one, draws)

    return run


def _log_likelihood_of(tr, site: str) -> jnp.ndarray:
    """Pointwise log-likelihood of the observed ``site`` in a model trace."""
    return tr[site]["fn"].log_prob(tr[site]["value"])


def _log_prior_of(tr) -> jnp.ndarray:
    """Log prior density of a model trace: the sum over its latent sample sites."""
    return sum(jnp.sum(s["fn"].log_prob(s["value"])) for s in tr.values() if s["type"] == "sample"
               and not s["is_observed"])


def _per_run_group(fit, site: str, values: np.ndarray, positions: np.ndarray | None):
    """Return an ``xarray.Dataset`` of one variable ``site``, dims ``(chain, draw, run)`` labelled as the fit's.

    ``values`` has one row per draw (chains flattened) over the model's layout; ``positions`` as :func:`_layout`.
    """
    import xarray as xr

    from bayescale.fit import _per_run

    post, runs = fit.tree.posterior, fit.tree.observed_data[site]["run"].values
    values = _per_run(values.reshape(post.sizes["chain"], post.sizes["draw"], -1), positions, len(runs))
    return xr.Dataset({site: (("chain", "draw", "run"), values)},
                      coords={"chain": post["chain"].values, "draw": post["draw"].values, "run": runs})


def with_log_likelihood(fit):
    """Return the fit's DataTree, with its ``log_likelihood`` group: each run's log-likelihood under every draw.

    A fit sampled with ``log_likelihood=False`` has none; it is computed here from the draws, with the model that
    was sampled (the values the sampler would have returned), and kept in the fit's tree, so it is computed once.
    PSIS-LOO (:func:`loo_table`, ``bs.compare``), LOO-PIT and power-scaling sensitivity read it.

    Parameters
    ----------
    fit : bayescale.Fit
        A fit of a law (not a Chain's joint fit, whose stages keep theirs).

    Returns
    -------
    xarray.DataTree
        ``fit.tree`` itself, holding ``log_likelihood`` with one variable named after the observed site, dims
        ``(chain, draw, run)``.

    Examples
    --------
    >>> fit = bs.fit("chinchilla", runs, log_likelihood=False)  # doctest: +SKIP
    >>> with_log_likelihood(fit).log_likelihood["log_loss"].shape  # doctest: +SKIP
    (4, 1000, 30)
    """
    if "log_likelihood" in fit.tree.children:
        return fit.tree
    data, positions = _layout(fit)
    site = obs_site(fit.law)
    ll = _at_draws(fit, data, _log_likelihood_of, site)
    fit.tree["log_likelihood"] = _per_run_group(fit, site, ll, positions)
    return fit.tree


def log_prior_tree(fit, data: ModelData | None = None):
    """Return the fit's DataTree with a ``log_prior`` group: the log prior density of every draw (for power-scaling).

    Parameters
    ----------
    fit : bayescale.Fit
    data : ModelData, optional
        The model data to trace the model with; default the fit's own runs (:func:`fit_data`).

    Returns
    -------
    xarray.DataTree
        A copy of the fit's tree, with its ``log_likelihood`` group (:func:`with_log_likelihood`, which also adds it
        to ``fit.tree``) and a ``log_prior`` group of one variable, ``prior``, dims ``(chain, draw)``: the sum of the
        log densities of the model's latent sites at each draw.
    """
    import xarray as xr

    data = fit_data(fit) if data is None else data
    post = fit.tree.posterior
    lp = _at_draws(fit, data, _log_prior_of)
    tree = with_log_likelihood(fit).copy()
    tree["log_prior"] = xr.Dataset({"prior": (("chain", "draw"), lp.reshape(post.sizes["chain"], post.sizes["draw"]))},
                                   coords={"chain": post["chain"].values, "draw": post["draw"].values})
    return tree


def predictive_tree(fit, *, seed: int = 0):
    """Return the fit's DataTree with a ``posterior_predictive`` group: a replicate of every run for every draw.

    Parameters
    ----------
    fit : bayescale.Fit
    seed : int
        Seed for the predictive draws.

    Returns
    -------
    xarray.DataTree
        A copy of the fit's tree, with its ``log_likelihood`` group (:func:`with_log_likelihood`, which also adds it
        to ``fit.tree``) and a ``posterior_predictive`` group of one variable named after the observed site (e.g.
        ``log_loss``, on the likelihood's scale), dims ``(chain, draw, run)``.
    """
    data, positions = _layout(fit)
    model = _model(fit)
    site = obs_site(fit.law)
    with jax.enable_x64(True):
        draws = _posterior_latents(fit, model, data)
        yrep = _posterior_predictive(model, (site,))(jax.random.PRNGKey(seed), dataclasses.replace(data, y=None),
                                                    draws)[site]
    tree = with_log_likelihood(fit).copy()
    tree["posterior_predictive"] = _per_run_group(fit, site, np.asarray(yrep), positions)
    return tree


def _posterior_predictive(model, sites: tuple[str, ...]):
    """Return the compiled ``(key, data, draws) -> {site: draws of it}`` of NumPyro's ``Predictive`` for ``model``.

    One per model object and sites in a process (:func:`bayescale.engine.reused`; the model from :func:`_model`):
    NumPyro's ``Predictive``, called as it is, traces and compiles its draws again on every call (0.8-1.1 s of XLA
    compile for a Chinchilla fit's 1,200 draws, 2026-12-06).
    """
    return engine.reused(("posterior.predictive", id(model), sites), partial(_predictive_program, model, sites))


def _predictive_program(model, sites: tuple[str, ...]):
    from numpyro.infer import Predictive

    @jax.jit
    def predictive(key, data, draws):
        return Predictive(model, posterior_samples=draws, return_sites=list(sites))(key, data)

    return predictive


def loo_table(fit, tree=None) -> pd.DataFrame:
    """Tabulate per run the law's inputs and target, PSIS-LOO Pareto k and the LOO-PIT value.

    ``attrs["good_k"]`` holds ArviZ's threshold for a reliable Pareto k at this number of draws, ``attrs["elpd"]``
    and ``attrs["se"]`` the LOO estimate.

    Parameters
    ----------
    fit : bayescale.Fit
    tree : xarray.DataTree, optional
        The fit's tree with its ``log_likelihood`` and ``posterior_predictive`` groups, as :func:`predictive_tree`
        returns it. When it is None or has no ``posterior_predictive`` group, ``predictive_tree(fit)`` draws one
        (seed 0).

    Returns
    -------
    pandas.DataFrame
        One row per run, indexed as :meth:`bayescale.Fit.runs`: the law's inputs, the group columns, the target,
        ``pareto_k`` and ``loo_pit``.
    """
    import arviz_stats as azs

    tree = predictive_tree(fit) if tree is None or "posterior_predictive" not in tree else tree
    site = obs_site(fit.law)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        elpd = azs.loo(tree, pointwise=True, var_name=site)
        # LOO-PIT reuses LOO's smoothed importance weights and Pareto k (ArviZ's loo_pit takes them) instead of
        # smoothing the same log-likelihood ratios again: the same values, and on the 245 chinchilla_epoch runs x
        # 4,000 draws 0.53 s against 0.82 s. pareto_pit: tails by a generalised Pareto fit, resolving PITs beyond
        # 1 / draws
        pit = azs.loo_pit(tree, var_names=site, log_weights=elpd.log_weights.to_dataset(name=site),
                          pareto_k=elpd.pareto_k.to_dataset(name=site), pareto_pit=True)
    runs = fit.runs()
    out = runs[list(fit.law.inputs) + list(fit.groups) + [fit.law.target]].copy()
    out["pareto_k"] = np.asarray(elpd.pareto_k).reshape(-1)
    out["loo_pit"] = np.asarray(pit[site]).reshape(-1)
    out.attrs.update(good_k=float(elpd.good_k), elpd=float(elpd.elpd), se=float(elpd.se))
    return out
