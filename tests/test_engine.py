"""The compiled sampler: compile reuse, shape buckets, batched fits, float32, the persistent cache, Dask."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale import engine
from bayescale.build import ModelConfig, build_model
from bayescale.engine import CompiledNUTS

fit_module = importlib.import_module("bayescale.fit")

PARAMS = ["e", "a", "b", "alpha", "beta", "sigma", "nu"]
#: One setting for the Chinchilla fits here, so that they share one compiled program. 1000 draws a chain: fits that
#: must pass every check need them (with 500, 1 of 16 seeds failed R-hat at 1.0101, with 1000 the worst of 16 was
#: 1.0051, 2026-12-02), and a program compiles in longer than the extra draws sample.
SMALL = dict(num_chains=4, num_warmup=400, num_samples=1000, progress_bar=False)


class CompileCounter:
    """Counts XLA compilations (``jax.monitoring`` backend-compile events) from the moment it is created."""

    _events: list[str] = []
    _registered = False

    def __init__(self):
        if not CompileCounter._registered:
            jax.monitoring.register_event_duration_secs_listener(
                lambda event, duration, **kw: CompileCounter._events.append(event))
            CompileCounter._registered = True
        self.start = len(self._events)

    @property
    def compiles(self) -> int:
        return sum(e == "/jax/core/compile/backend_compile_duration" for e in self._events[self.start:])

    @property
    def lowerings(self) -> int:
        """Programs lowered for XLA, whether compiled or then found in the persistent cache."""
        return sum(e == "/jax/core/compile/jaxpr_to_mlir_module_duration" for e in self._events[self.start:])


def ladder(seed: int, n_d: int = 6, noise: float = 0.005) -> pd.DataFrame:
    n = np.geomspace(4e7, 4e9, 5)
    d = np.geomspace(5e9, 5e11, n_d)
    nn, dd = np.meshgrid(n, d, indexing="ij")
    design = pd.DataFrame({"n": nn.ravel(), "d": dd.ravel()})
    return bs.simulate_ladder("chinchilla", design=design, noise_sd=noise, seed=seed)


def quiet_fit(*args, **kwargs):
    """Fit with short chains, keeping the first fit (no refit at a higher target) and ignoring its checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.fit(*args, **{"fallback": False, **kwargs})


# --------------------------------------------------------------------------------------------- shapes and masks
@given(st.integers(1, 100_000))
def test_bucket_pads_at_most_a_quarter(n):
    b = engine.bucket(n)
    assert n <= b <= max(n * 1.25, n + 1)
    assert engine.bucket(b) == b  # a bucket is its own bucket


@given(st.integers(1, 300), st.integers(1, 64))
def test_equal_batches_cover_every_fit_in_calls_of_one_size(n, batch_size):
    batches = fit_module._equal_batches(list(range(n)), batch_size)
    sizes = {len(b) for b in batches}
    assert len(sizes) == 1 and sizes.pop() <= batch_size
    assert sorted(set(i for b in batches for i in b)) == list(range(n))
    assert len(batches) == -(-n // batch_size)


@given(st.integers(1, 300), st.integers(1, 64))
def test_even_batches_take_every_fit_once_in_the_fewest_calls(n, batch_size):
    batches = fit_module._even_batches(list(range(n)), batch_size)
    sizes = [len(b) for b in batches]
    assert max(sizes) <= batch_size and max(sizes) - min(sizes) <= 1
    assert [i for b in batches for i in b] == list(range(n))  # no repeats, in order
    assert len(batches) == -(-n // batch_size)
    assert all(type(i) is int for b in batches for i in b)


def test_default_batch_size_is_32_on_cpu_and_bounded_by_memory_on_an_accelerator(monkeypatch):
    law = bs.get_law("chinchilla")
    prep = fit_module._prepare(law, bs.simulate_ladder("chinchilla", seed=0), groups=None, pool=None,
                               pooling="auto", likelihood="student_t", noise=None, sigma_scale=0.1, group_scale=0.5,
                               flops_per_param_token=6.0)

    def size(num_samples, precision="float64"):
        opts = fit_module._options(4, 1000, num_samples, 0.9, 10, precision, 6.0, 6)
        return fit_module._default_batch_size([prep], opts)

    assert size(1000) == 32  # this machine's CPU
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    per_fit = 4 * 1000 * (np.size(prep.data.y) + 64) * 8
    assert size(1000) == min(fit_module._ACCELERATOR_MAX_BATCH, fit_module._BATCH_BYTES // per_fit) == 400
    assert size(100_000) == fit_module._BATCH_BYTES // (100 * per_fit) < size(1000)
    assert size(10**9) == 1  # at least one fit per call, however large
    assert size(1000, "float32") >= size(1000)


def test_bucket_examples():
    assert [engine.bucket(n) for n in (1, 8, 30, 240, 250, 300)] == [1, 8, 32, 256, 256, 320]


@jax.jit
def _beta_densities_of_traced_concentrations(ab, u):
    """Value and gradient in the concentrations of bayescale's Beta density and NumPyro's (a likelihood's case)."""
    from bayescale.build import _Beta

    ours = jax.value_and_grad(lambda ab: _Beta(ab[0], ab[1]).log_prob(u))(ab)
    theirs = jax.value_and_grad(lambda ab: dist.Beta(ab[0], ab[1]).log_prob(u))(ab)
    return ours, theirs


@settings(max_examples=40, deadline=None)
@given(st.floats(0.3, 20.0), st.floats(0.3, 20.0), st.floats(1e-6, 1 - 1e-6), st.floats(1e-3, 200.0))
def test_constant_priors_keep_numpyros_density_and_gradient(a, b, u, x):
    from bayescale.build import constant_prior

    with jax.enable_x64(True):
        for d, v in [(dist.Beta(a, b), u), (dist.Gamma(a, b), x)]:
            c = constant_prior(d)
            assert isinstance(c, type(d)) and type(c) is not type(d)
            assert float(c.log_prob(v)) == pytest.approx(float(d.log_prob(v)), rel=1e-9, abs=1e-9)
            assert float(jax.grad(c.log_prob)(v)) == pytest.approx(float(jax.grad(d.log_prob)(v)), rel=1e-9, abs=1e-9)
        # traced concentrations (the beta likelihood's): the normaliser from lgamma, as NumPyro's inside (0, 1)
        ours, theirs = _beta_densities_of_traced_concentrations(jnp.array([a, b]), u)
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8, atol=1e-8)


def _count_primitive(jaxpr, name: str) -> int:
    """Equations of primitive ``name`` in a jaxpr and every jaxpr nested in its equations' parameters."""
    count = 0
    for eqn in jaxpr.eqns:
        count += eqn.primitive.name == name
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else [value]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    count += _count_primitive(inner, name)
    return count


@pytest.mark.parametrize("likelihood, lgammas", [("normal", 0), ("student_t", 2)])
def test_constant_prior_normalisers_stay_out_of_the_compiled_program(likelihood, lgammas):
    """Beta and Gamma priors' normalisers are numbers, not traced: only the Student-t's own ``nu`` needs lgamma.

    NumPyro's Beta density stages a Dirichlet's density and TFP's ``betaln`` each time it is evaluated (12 lgamma here),
    which XLA then compiled only to fold away (a cold Chinchilla fit's compile: 6.5-8.7 s then, 4.3-5.6 s now).
    """
    from numpyro.infer.util import log_density

    law = bs.get_law("chinchilla")
    assert isinstance(law.params["alpha"], dist.Beta)
    model = build_model(law, ModelConfig(pool={p: "shared" for p in law.params}, likelihood=likelihood))
    params = {"log_terms": np.array([1.8, 1.0, 2.0]), "alpha": 0.35, "beta": 0.36, "sigma": 0.01, "nu": 5.0}
    with jax.enable_x64(True):
        table = bs.validate_runs(ladder(0), law)
        data, _, _ = fit_module._model_data(table, fit_module.geometric_centre({k: table.frame[k] for k in law.inputs}))
        jaxpr = jax.make_jaxpr(lambda p: log_density(model, (data,), {}, p)[0])(params)
    assert _count_primitive(jaxpr.jaxpr, "lgamma") == lgammas


# --------------------------------------------------------------------------------------------- level coordinates
@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-4.0, 4.0), min_size=2, max_size=4), st.integers(0, 1))
def test_level_transform_round_trips_and_its_jacobian_is_autodiffs(u, natural):
    """``(log m / LEVEL_SCALE, z)`` -> terms and back; the log-Jacobian is JAX's; the terms add up to ``m``."""
    from bayescale.build import LEVEL_SCALE, LevelSplit, LevelTransform

    t = LevelTransform(natural)
    assert t.codomain == LevelSplit(natural)
    with jax.enable_x64(True):
        u = jnp.asarray(u)
        y, back, jacobian, log_det, total = _level_round_trip(u, natural)
        assert bool(LevelSplit(natural)(y))
        np.testing.assert_allclose(back, u, atol=1e-12)
        jac = np.linalg.slogdet(np.asarray(jacobian))[1]
        assert float(log_det) == pytest.approx(jac, abs=1e-10)
        assert float(total) == pytest.approx(float(jnp.exp(LEVEL_SCALE * u[0])), rel=1e-12)


@functools.partial(jax.jit, static_argnums=1)
def _level_round_trip(u, natural):
    """One program per length and ``natural`` for the property test above (run op by op, its 40 examples had JAX
    compile ~150 operations one at a time: 20 s of XLA in a CI run on a 2-core AMD EPYC, 2026-12-06)."""
    from bayescale.build import LevelTransform

    t = LevelTransform(natural)
    y = t(u)
    terms = jnp.concatenate([y[:natural], jnp.exp(y[natural:])])
    return y, t.inv(y), jax.jacfwd(t)(u), t.log_abs_det_jacobian(u, y), jnp.sum(terms)


@pytest.mark.parametrize("name", [n for n in bs.laws() if bs.get_law(n).level])
def test_level_site_is_the_same_model_as_one_site_per_parameter(name):
    """``Law.level`` changes the sampler's coordinates, not the model: at the same values the log density (prior
    and likelihood) equals that of the model with a site per parameter, and the prior draws of the joint site have
    each parameter's own prior (the same draws of the other sites)."""
    from numpyro.infer import Predictive
    from numpyro.infer.util import log_density

    from bayescale.build import LEVEL_SITE, level_params, resolve_level, resolve_pool
    from bayescale.predict import _sample_sites

    law = bs.get_law(name)
    pool = resolve_pool(law, None, False)
    assert resolve_level(law, pool) == level_params(law, ModelConfig(pool=pool)) == law.level
    assert resolve_level(law, {**pool, law.level[0]: "partial"}) == ()  # a pooled term keeps its own site
    assert level_params(law, ModelConfig(pool=pool, level=())) == ()
    joint = build_model(law, ModelConfig(pool=pool, sigma_scale=law.noise_scale))
    apart = build_model(law, ModelConfig(pool=pool, sigma_scale=law.noise_scale, level=()))
    runs = bs.simulate_ladder(law, seed=0)
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # lr_batch_landscape's sweep has runs of fewer tokens
        table = bs.validate_runs(runs, law)
        data, _, _ = fit_module._model_data(table, fit_module.geometric_centre({k: runs[k] for k in law.inputs}))
        # prior draws of the latent sites, jitted, with y observed so that the program does not also draw y (the
        # priors' own rejection samplers still take most of its compile)
        prior = jax.jit(lambda key: Predictive(joint, num_samples=400)(key, data))(jax.random.PRNGKey(0))
        assert prior[LEVEL_SITE].shape == (400, len(law.level))
        sites_joint, sites_apart = _sample_sites(joint, data), _sample_sites(apart, data)
        assert LEVEL_SITE in sites_joint and LEVEL_SITE not in sites_apart and law.level[0] in sites_apart
        both = jax.jit(lambda at: (log_density(joint, (data,), {}, {k: at[k] for k in sites_joint})[0],
                                   log_density(apart, (data,), {}, {k: at[k] for k in sites_apart})[0]))
        for i in range(5):  # one program for both densities (run op by op, JAX compiles each operation on its own)
            lp_joint, lp_apart = both({k: v[i] for k, v in prior.items()})
            assert float(lp_joint) == pytest.approx(float(lp_apart), rel=1e-12, abs=1e-9)
        again = jax.jit(lambda key: Predictive(apart, num_samples=4000)(key, data))(jax.random.PRNGKey(1))
    for k in (p if p not in law.centre else f"{p}_c" for p in law.level):  # each term's prior, by quantiles
        q = np.quantile(np.asarray(prior[k]), [0.1, 0.5, 0.9])
        ref = np.quantile(np.asarray(again[k]), [0.1, 0.5, 0.9])
        spread = np.subtract(*np.quantile(np.asarray(again[k]), [0.9, 0.1]))
        assert np.all(np.abs(q - ref) < 0.25 * spread), (k, q, ref)


@pytest.mark.statistical
def test_level_coordinates_sample_the_same_posterior_and_a_fit_saved_before_them_predicts_as_it_did(
        monkeypatch, tmp_path):
    """A Chinchilla fit in the level's coordinates and one with a site per parameter (as every fit was sampled
    before ``Law.level``) agree within MCSE; a file of the latter, whose config has no ``level``, reloads with its
    own sites and predicts the same numbers."""
    runs = ladder(3)
    joint = quiet_fit("chinchilla", runs, seed=5, **SMALL)
    with monkeypatch.context() as m:
        m.setattr(fit_module, "resolve_level", lambda law, pool: ())
        apart = quiet_fit("chinchilla", runs, seed=6, **SMALL)
    assert joint.config.level == ("e", "a", "b") and "log_terms" in joint.tree.posterior
    assert apart.config.level == () and "log_terms" not in apart.tree.posterior
    a, b = joint.summary(PARAMS), apart.summary(PARAMS)
    z = (a["mean"] - b["mean"]) / np.sqrt(a["mcse_mean"] ** 2 + b["mcse_mean"] ** 2)
    assert (z.abs() < 4.5).all(), f"z-scores\n{z}"
    assert ((a["sd"] / b["sd"] - 1).abs() < 0.25).all(), f"sd ratios\n{a['sd'] / b['sd']}"
    assert joint.diagnostics.ok, joint.diagnostics

    meta = json.loads(apart.tree.attrs["bayescale"])
    del meta["config"]["level"]  # as written before 2026-12-06
    apart.tree.attrs["bayescale"] = json.dumps(meta)
    new = pd.DataFrame({"n": [1e10, 3e8], "d": [2e11, 1e10]})
    for fit in (apart, joint):
        back = bs.load(fit.save(tmp_path / "fit.nc"))
        assert back.config.level == fit.config.level
        pd.testing.assert_frame_equal(back.predict(new, seed=3), fit.predict(new, seed=3))


def test_padded_runs_do_not_change_the_log_density():
    from numpyro.infer.util import log_density

    law = bs.get_law("chinchilla")
    runs = ladder(0)
    config = ModelConfig(pool={p: "shared" for p in law.params})
    model = build_model(law, config)
    params = {"log_terms": np.array([1.8, 1.0, 2.0]), "alpha": 0.35, "beta": 0.36, "sigma": 0.01, "nu": 5.0}
    with jax.enable_x64(True):
        table = bs.validate_runs(runs, law)
        data, _, _ = fit_module._model_data(table, fit_module.geometric_centre({k: runs[k] for k in law.inputs}))
        exact, _ = log_density(model, (data,), {}, params)
        padded = fit_module._padded(data, 48, np.float64)
        assert padded.mask.sum() == len(runs) and len(padded.y) == 48
        masked, _ = log_density(model, (padded,), {}, params)
    assert float(masked) == pytest.approx(float(exact), rel=1e-12)


def test_groups_x_points_layout_keeps_every_run_once():
    law = bs.get_law("chinchilla")
    runs = bs.simulate_ladder("chinchilla", num_groups=3, seed=0)
    runs = runs.drop(index=[0, 1, 2, 20]).sample(frac=1.0, random_state=1)  # unequal groups, shuffled rows
    table = bs.validate_runs(runs, law, groups="group")
    data, _, _ = fit_module._model_data(table, {"n": 20.0, "d": 22.0})
    grid, positions = fit_module._grid_data(data)
    assert grid.grid and grid.group is None and grid.y.shape == grid.mask.shape == (3, 32)  # 30 runs -> bucket 32
    np.testing.assert_array_equal(grid.y.reshape(-1)[positions], runs["loss"].to_numpy())
    np.testing.assert_array_equal(grid.x["n"].reshape(-1)[positions], runs["n"].to_numpy())
    assert grid.mask.sum() == len(runs) and grid.mask.reshape(-1)[positions].all()
    # every row holds its own group's runs only
    codes = np.asarray(data.group)
    np.testing.assert_array_equal(positions // 32, codes)


def test_inputs_constant_within_groups_are_laid_out_once_per_group():
    """A cell's model size and tokens are (n_groups, 1) in the grid; the log density is the same as laid out per run."""
    from numpyro.infer.util import log_density

    law = bs.get_law("lr_batch_landscape")
    rng = np.random.default_rng(0)
    cells = [(2e8, 4e9), (2e8, 2e10), (5e8, 1e10)]
    runs = pd.DataFrame([{"n": n, "d": d, "lr": lr, "batch": b, "cell": f"c{i}"}
                         for i, (n, d) in enumerate(cells) for lr in (5e-4, 1e-3, 2e-3, 4e-3)
                         for b in (2e5, 5e5, 1e6)][:-2])  # unequal cells: the last has padding
    runs["loss"] = 2.5 + 0.05 * rng.random(len(runs))
    pool = {p: "partial" if p in ("eta_ref", "b_ref") else "shared" for p in law.params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # n spans under a decade: beside the point here
        table = bs.validate_runs(runs, law, groups="cell")
    data, _, _ = fit_module._model_data(table, fit_module.geometric_centre({k: runs[k] for k in law.inputs}))
    grid, positions = fit_module._grid_data(data)
    assert {k: v.shape for k, v in grid.x.items()} == {"n": (3, 1), "d": (3, 1), "lr": (3, 12), "batch": (3, 12)}
    np.testing.assert_array_equal(grid.x["n"][:, 0], [c[0] for c in cells])
    full = dataclasses.replace(grid, x={k: np.broadcast_to(v, grid.y.shape) for k, v in grid.x.items()})
    padded = fit_module._padded(grid, 16, np.float64)
    assert padded.x["n"].shape == (3, 1) and padded.x["lr"].shape == padded.mask.shape == (3, 16)
    model = build_model(law, ModelConfig(pool=pool, centred=True))
    with jax.enable_x64(True):
        trace = numpyro.handlers.trace(numpyro.handlers.seed(model, 1)).get_trace(full)
        params = {k: v["value"] for k, v in trace.items() if v["type"] == "sample" and not v["is_observed"]}
        assert "sigma_slope" in params  # the law's floor makes the noise grow: the floor broadcasts too
        # jitted: run op by op, JAX compiled each operation on its own for each of the three layouts' shapes
        values = [float(jax.jit(lambda p, d=d: log_density(model, (d,), {}, p)[0])(params))
                  for d in (full, grid, padded)]
    assert values[1] == pytest.approx(values[0], rel=1e-12) and values[2] == pytest.approx(values[0], rel=1e-12)
    # fits that share a program must agree in which inputs are laid out once per group
    prep = fit_module._Prepared(law, table, ModelConfig(pool=pool), data.log_x0, grid, ("c0", "c1", "c2"), positions)
    assert fit_module._structure(prep)[-1] == ("d", "n")


def test_shifted_gamma_prior_of_nu():
    from numpyro.distributions import Gamma

    from bayescale.build import ShiftedGamma

    d = ShiftedGamma(2.0, 0.1, 1.0)
    x = np.array([1.01, 2.0, 30.0])
    with jax.enable_x64(True):
        np.testing.assert_allclose(d.log_prob(x), Gamma(2.0, 0.1).log_prob(x - 1.0), rtol=1e-12)
        assert float(d.mean) == 21.0
        assert float(d.sample(jax.random.PRNGKey(0), (2000,)).min()) > 1.0
    leaves, tree = jax.tree.flatten(d)
    assert float(jax.tree.unflatten(tree, leaves).shift) == 1.0


# --------------------------------------------------------------------------------------------- compile reuse
@pytest.mark.parametrize("df", [1.05, 2.5, 7.0, 1e4])
def test_student_t_likelihood_draws_by_the_polar_method_follow_the_t_distribution(df):
    """The likelihood's draws (Bailey's polar method, no gamma variate) are Student-t, with its density NumPyro's."""
    from scipy import stats

    from bayescale.build import _StudentT

    loc, scale = np.array([0.5, -2.0]), np.array([0.1, 3.0])
    d = _StudentT(df, loc, scale)
    with jax.enable_x64(True):
        x = np.asarray(jax.jit(lambda k: d.sample(k, (20_000,)))(jax.random.PRNGKey(int(df * 10))))
        np.testing.assert_allclose(d.log_prob(x[:5]), dist.StudentT(df, loc, scale).log_prob(x[:5]), rtol=1e-12)
        jaxpr = jax.make_jaxpr(lambda k: d.sample(k, (3,)))(jax.random.PRNGKey(0))
    assert x.shape == (20_000, 2) and np.isfinite(x).all()
    for j in range(2):  # Kolmogorov-Smirnov against SciPy's t (fixed seeds; p ~ U(0, 1) under the right law)
        assert stats.kstest((x[:, j] - loc[j]) / scale[j], stats.t(df).cdf).pvalue > 0.001
    assert "random_gamma" not in str(jaxpr) and _count_primitive(jaxpr.jaxpr, "while") == 1


def test_repeat_fit_of_the_same_shapes_compiles_nothing():
    first = quiet_fit("chinchilla", ladder(0), seed=0, **SMALL)
    key = next(k for k in engine._PROGRAMS if k[0][1] == "chinchilla")
    traces = engine._PROGRAMS[key].traces
    counter = CompileCounter()
    # new data (29 runs: same bucket of 32 as 30), new seed: nothing is traced or compiled
    start = time.perf_counter()
    second = quiet_fit("chinchilla", ladder(1).iloc[:29], seed=1, **SMALL)
    wall = time.perf_counter() - start
    assert counter.compiles == 0
    # the sampler's own run time is recorded, and is part of the fit's wall time
    assert 0 < second.meta["options"]["sampler_seconds"] < wall
    assert engine._PROGRAMS[key].traces == traces
    assert second.tree.observed_data.sizes["run"] == 29
    assert second.tree.log_likelihood.sizes["run"] == 29
    assert second.meta["options"]["padded_runs"] == 32
    assert not np.allclose(first.tree.posterior["e"].values, second.tree.posterior["e"].values)


def test_a_refit_at_another_target_accept_prob_compiles_nothing():
    """The target acceptance rate is an input of the program: ``bs.fit``'s refit at 0.99 runs the first fit's."""
    first = quiet_fit("chinchilla", ladder(0), seed=0, **SMALL)
    counter = CompileCounter()
    refit = quiet_fit("chinchilla", ladder(0), seed=0, target_accept_prob=0.99, **SMALL)
    assert counter.compiles == 0
    assert refit.meta["options"]["target_accept_prob"] == 0.99
    # the target reached the sampler: its adapted steps are shorter
    step = {f: float(f.tree.sample_stats["step_size"].mean()) for f in (first, refit)}
    assert step[refit] < 0.8 * step[first], step


def test_same_seed_same_draws():
    a = quiet_fit("chinchilla", ladder(0), seed=5, **SMALL)
    b = quiet_fit("chinchilla", ladder(0), seed=5, **SMALL)
    np.testing.assert_array_equal(a.tree.posterior["alpha"].values, b.tree.posterior["alpha"].values)


def test_fit_tree_has_arviz_groups_and_stats():
    f = quiet_fit("chinchilla", ladder(0), seed=0, **SMALL)  # must pass every check (SMALL's 1000 draws)
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"):
        assert group in f.tree.children
    stats = f.tree.sample_stats
    for name in ("diverging", "energy", "n_steps", "tree_depth", "step_size", "acceptance_rate", "lp"):
        assert stats[name].shape == (4, 1000)
    assert f.tree.log_likelihood["log_loss"].shape == (4, 1000, 30)
    assert f.diagnostics.ok, f.diagnostics


# --------------------------------------------------------------------------------------------- batched fits
@pytest.mark.statistical
def test_fit_many_matches_one_at_a_time_fits_within_mcse():
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(3)], ignore_index=True)
    counter = CompileCounter()
    # SMALL's 1000 draws: each fit must pass every check, and with 500 the worst R-hat of these 3 fits reached
    # 1.009 at this seed and 1.0078 at others (24 fits over 8 seeds, 2026-12-02); with 1000, 1.0011-1.0067
    many = bs.fit_many("chinchilla", runs, by="task", seed=11, **SMALL)
    assert counter.compiles <= 1 + 5  # one sampler program (plus a few tiny host ops on first use)
    assert list(many) == ["t0", "t1", "t2"]
    for s, (name, fm) in enumerate(many.items()):
        assert isinstance(fm, bs.Fit) and fm.diagnostics.ok, fm.diagnostics
        fs = quiet_fit("chinchilla", ladder(s), seed=100 + s, **SMALL)
        a, b = fm.summary(PARAMS), fs.summary(PARAMS)
        z = (a["mean"] - b["mean"]) / np.sqrt(a["mcse_mean"] ** 2 + b["mcse_mean"] ** 2)
        assert (z.abs() < 4.5).all(), f"{name}: z-scores\n{z}"
        assert ((a["sd"] / b["sd"] - 1).abs() < 0.25).all(), f"{name}: sd ratios\n{a['sd'] / b['sd']}"
        # a normal Fit: predicts, and records where it came from
        pred = fm.predict(pd.DataFrame({"n": [1e10], "d": [2e11]}))
        assert np.isfinite(pred.to_numpy(dtype=float)).all()
        assert json.loads(fm.tree.attrs["bayescale"])["options"]["batch_fits"] == 3


def test_fit_many_accepts_a_mapping_and_mixed_sizes():
    tables = {"small": ladder(0, n_d=4), "large": ladder(1, n_d=8)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # 200 draws: too few for the ESS threshold
        fits = bs.fit_many("chinchilla", tables, seed=0, num_chains=2, num_warmup=200, num_samples=200,
                           progress_bar=False, fallback=False)
    assert fits["small"].tree.observed_data.sizes["run"] == 20
    assert fits["large"].tree.observed_data.sizes["run"] == 40
    assert fits["small"].meta["options"]["padded_runs"] == 40


def test_fit_many_diagnoses_in_worker_processes_with_the_same_results():
    # 16 fits: two shares of 8 for two workers; the same seed gives the same draws, so the same diagnostics
    tables = {f"t{s}": ladder(s, n_d=4) for s in range(16)}
    kw = dict(seed=0, num_chains=2, num_warmup=200, num_samples=200, progress_bar=False, fallback=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # 200 draws: too few for the ESS threshold
        here = bs.fit_many("chinchilla", tables, host_workers=0, **kw)
        workers = bs.fit_many("chinchilla", tables, host_workers=2, **kw)
    assert list(workers) == list(here)
    for name, f in here.items():
        np.testing.assert_array_equal(f.tree.posterior["alpha"].values, workers[name].tree.posterior["alpha"].values)
        assert workers[name].diagnostics == f.diagnostics
        assert workers[name].diagnostics == bs.Fit(f.tree).diagnostics  # as a saved fit's, computed afresh
    assert fit_module._host_workers(None) == 0  # the default on a CPU: its cores sample the next call meanwhile
    with pytest.raises(ValueError, match="host_workers must be a non-negative integer"):
        bs.fit_many("chinchilla", tables, host_workers=-1, **kw)


def _stacked_draws(fits: int, chains: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    draws = {"a": rng.normal(size=(fits, chains, 100)), "b": rng.normal(size=(fits, chains, 100, 3))}
    draws["a"][1, :, :50] += 3.0  # one fit's first halves elsewhere: R-hat far above 1
    return draws


@pytest.mark.parametrize("chains", [1, 4])
def test_host_workers_split_the_fits_and_give_arviz_numbers(chains):
    post = _stacked_draws(20, chains)
    here = fit_module._worst_stats(post)
    assert here["a"][0].shape == (20,) and here["a"][0][1] > 1.1 and here["b"][0].shape == (20,)
    shared = fit_module._host_stats(post, 3)()  # two shares of 10 fits: at least 8 fits a share
    for v in post:
        for k in range(3):
            np.testing.assert_array_equal(shared[v][k], here[v][k])


def test_a_broken_worker_pool_falls_back_to_this_process(monkeypatch):
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    post = _stacked_draws(16, 2)
    here = fit_module._worst_stats(post)

    class Broken:
        def submit(self, *args):
            future = Future()
            future.set_exception(BrokenProcessPool("a worker was killed"))
            return future

    for executor in (lambda workers: Broken(), lambda workers: 1 / 0):  # breaks later, or cannot start
        monkeypatch.setattr(fit_module, "_host_executor", executor)
        with pytest.warns(RuntimeWarning, match="diagnosing in this process instead"):
            got = fit_module._host_stats(post, 2)()
        np.testing.assert_array_equal(got["b"][1], here["b"][1])


NO_MAIN_GUARD = textwrap.dedent("""
    import importlib
    import numpy as np
    print("script ran", flush=True)
    fit = importlib.import_module("bayescale.fit")
    post = {"a": np.random.default_rng(0).normal(size=(16, 4, 100))}
    worst = fit._host_stats(post, 2)()
    assert np.array_equal(worst["a"][0], fit._worst_stats(post)["a"][0])
    print("done", flush=True)
""")


def test_worker_processes_do_not_rerun_a_script_without_a_main_guard(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(NO_MAIN_GUARD)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["script", "ran", "done"], proc.stdout


def test_fit_many_bad_input_names_the_fit_and_the_fix():
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(2)], ignore_index=True)
    with pytest.raises(ValueError, match="by= is required"):
        bs.fit_many("chinchilla", runs)
    with pytest.raises(ValueError, match=r"by column\(s\) \['job'\] not in runs"):
        bs.fit_many("chinchilla", runs, by="job")
    with pytest.raises(ValueError, match=r"by column\(s\) \['Task'\] not in runs .*; did you mean 'task' for 'Task'\?"):
        bs.fit_many("chinchilla", runs, by="Task")
    with pytest.raises(ValueError, match=r"by column\(s\) \[0\] not in runs"):  # an integer column name
        bs.fit_many("chinchilla", runs, by=0)
    with pytest.raises(ValueError, match="already a mapping"):
        bs.fit_many("chinchilla", {"a": ladder(0)}, by="task")
    broken = runs.copy()
    broken.loc[33, "loss"] = np.nan
    with pytest.raises(ValueError, match=r"fit 't1' \(by='task'\).*loss"):
        bs.fit_many("chinchilla", broken, by="task")
    # what the checks of one fit's runs notice names that fit, as its errors do (t0's runs in billions here)
    billions = broken.assign(n=np.where(broken["task"] == "t0", broken["n"] / 1e9, broken["n"]))
    with pytest.warns(bs.DataWarning, match=r"fit 't0' \(by='task'\): column 'n' looks like it is in millions"), \
            pytest.raises(ValueError, match=r"fit 't1' \(by='task'\).*loss"):
        bs.fit_many("chinchilla", billions, by="task")
    # every fit's problems in one error, not the first fit's alone; a mapping's fits are named without by=
    broken.loc[3, "n"] = -1.0  # in t0, beside t1's missing loss
    with pytest.raises(bs.RunTableError, match=r"2 problem\(s\) with the runs tables:\n  - fit 't0' \(by='task'\): "
                                               r"column 'n' has 1 non-positive value\(s\) \(row 3\).*\n  - fit 't1' "
                                               r"\(by='task'\): column 'loss' has 1 missing"):
        bs.fit_many("chinchilla", broken, by="task")
    with pytest.raises(bs.RunTableError, match=r"  - fit 'b': column 'loss' has 1 missing"):
        bs.fit_many("chinchilla", {"a": ladder(0), "b": broken[broken["task"] == "t1"].drop(columns="task")})
    missing = runs.copy()
    missing.loc[3, "task"] = None
    with pytest.raises(ValueError, match=r"missing in row 3: every run must name its fit"):
        bs.fit_many("chinchilla", missing, by="task")
    # tables joined without ignore_index repeat their row labels: the rows are then said by position
    joined = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(2)])
    joined.iloc[[3, 33], joined.columns.get_loc("task")] = None
    with pytest.raises(ValueError, match=r"missing in rows 3, 33 by position \(the index repeats labels; "
                                         r"runs.reset_index\(drop=True\) numbers the rows\)"):
        bs.fit_many("chinchilla", joined, by="task")
    with pytest.raises(ValueError, match=r"by column 'task' holds list values in rows 0, 1, .*which cannot name a "
                                         r"fit; .*\.map\(tuple\)"):
        bs.fit_many("chinchilla", runs.assign(task=[["a"]] * len(runs)), by="task")
    with pytest.raises(ValueError, match=r"\['task'\] name index levels: make them columns first, "
                                         r"runs.reset_index\(\)"):
        bs.fit_many("chinchilla", runs.set_index("task"), by="task")
    for client, fix in (("tcp://localhost:8786", r"connect first: .*Client\('tcp://localhost:8786'\)"),
                        (object(), "pass a dask.distributed.Client, or None"),
                        (ThreadPoolExecutor(1), "pass a dask.distributed.Client, or None")):  # it cannot cancel
        with pytest.raises(TypeError, match=rf"client must be a dask.distributed.Client, got .*; {fix}"):
            bs.fit_many("chinchilla", runs, by="task", client=client)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        bs.fit_many("chinchilla", runs, by="task", batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got True"):
        bs.fit_many("chinchilla", runs, by="task", batch_size=True)
    with pytest.raises(ValueError, match="fallback must be True or False, got 'no'"):
        bs.fit_many("chinchilla", runs, by="task", fallback="no")
    with pytest.raises(ValueError, match=r"progress_bar must be True, False or None \(its default\), got 'no'"):
        bs.fit_many("chinchilla", runs, by="task", progress_bar="no")
    with pytest.raises(ValueError, match="by= names no column"):
        bs.fit_many("chinchilla", runs, by=[])
    mixed = runs.assign(task=runs["task"].map({"t0": 1, "t1": "1"}))  # 1 and '1': two fits, one name as text
    with pytest.raises(ValueError, match=r"by column 'task' has different labels that read the same as text or "
                                         r"compare equal \(1 and '1'\), so their fits would be hard to tell apart, "
                                         r"or one fit; .*\.astype\(str\)"):
        bs.fit_many("chinchilla", mixed, by="task")
    merged = runs.assign(task=pd.Series([1 if t == "t0" else 1.0 for t in runs["task"]], index=runs.index,
                                        dtype=object))  # 1 and 1.0: one key to groupby, so one fit of both
    with pytest.raises(ValueError, match=r"compare equal \(1 and 1.0\)"):
        bs.fit_many("chinchilla", merged, by="task")
    with pytest.raises(ValueError, match=r"by column\(s\) \['loss'\] are the law's inputs, its target or groups="):
        bs.fit_many("chinchilla", runs, by="loss")
    with pytest.raises(TypeError, match="fit_many fits laws, not chains"):
        bs.fit_many(bs.chain("chinchilla", "sigmoid_transfer"), runs, by="task")


def test_float32_fits_the_same_posterior():
    runs = ladder(2)
    # SMALL's 1000 draws a chain: with 500, float32's max R-hat at seed 0 was 1.0133 on an AMD EPYC with AVX-512
    # (2026-12-02; seeds 1 and 2: 1.0069, 1.0045; float64 1.003-1.004), a chance excursion past 1.01 that passed on
    # the CPU the seed was chosen on; with 1000 draws 1.0014-1.0027 for both precisions
    f64 = quiet_fit("chinchilla", runs, seed=0, **SMALL)
    f32 = quiet_fit("chinchilla", runs, seed=0, precision="float32", **SMALL)
    assert f32.tree.posterior["alpha"].dtype == np.float32
    assert f32.meta["options"]["precision"] == "float32"
    assert f32.diagnostics.divergences == 0 and f32.diagnostics.max_r_hat < 1.01
    a, b = f32.summary(PARAMS), f64.summary(PARAMS)
    z = (a["mean"] - b["mean"]) / np.sqrt(a["mcse_mean"] ** 2 + b["mcse_mean"] ** 2)
    assert (z.abs() < 4.5).all(), z
    with pytest.raises(ValueError, match=r"precision='float16' is not one of \('float64', 'float32'\)"):
        bs.fit("chinchilla", runs, precision="float16")


# --------------------------------------------------------------------------------------------- across processes
SCRIPT = textwrap.dedent("""
    import json, jax, warnings, bayescale as bs
    from bayescale import engine
    hits = []
    jax.monitoring.register_event_listener(lambda event, **kw: hits.append(event))
    runs = bs.simulate_ladder("chinchilla", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bs.fit("chinchilla", runs, num_chains=2, num_warmup=50, num_samples=50, progress_bar=False,
                     fallback=False)
    print(json.dumps({"hits": hits.count("/jax/compilation_cache/cache_hits"),
                      "traces": sum(p.traces for p in engine._PROGRAMS.values()),
                      "max_size": jax.config.jax_compilation_cache_max_size,
                      "alpha": fit.tree.posterior["alpha"].values.ravel()[:5].tolist()}))
""")


def run_script(env) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_persistent_cache_serves_a_new_process(tmp_path, monkeypatch):
    cache = tmp_path / "jax"
    monkeypatch.setenv("BAYESCALE_JAX_CACHE_MAX_MB", "64")  # this process's cache_info reads it too
    env = {**os.environ, "BAYESCALE_JAX_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    first = run_script(env)
    # JAX evicts its least recently used code beyond three quarters of the limit (it keeps an access time each)
    assert first["max_size"] == int(0.75 * 64 * 2**20)
    info = engine.cache_info(cache)
    assert info["dir"] == str(cache) and info["max_bytes"] == 64 * 2**20
    assert info["xla_entries"] >= 1 and info["program_entries"] == 1, info
    assert len(list(cache.glob("*-atime"))) == info["xla_entries"]
    (stored,) = (cache / "programs").glob("*.jaxexport")
    os.utime(stored, (stored.stat().st_atime, stored.stat().st_mtime - 86400))
    before = stored.stat().st_mtime
    second = run_script(env)
    assert second["hits"] >= 1 and second["hits"] > first["hits"]
    # the second process loads the stored program: it traces nothing, samples the same draws, and marks the
    # program as just used (the store drops its least recently used programs first)
    assert len(list((cache / "programs").glob("*.jaxexport"))) == 1
    assert first["traces"] == 1 and second["traces"] == 0
    assert second["alpha"] == first["alpha"]
    assert stored.stat().st_mtime > before + 3600
    # clearing deletes the entries, not the folder, and returns what there was
    (cache / "notes.txt").write_text("not the cache's")
    assert engine.clear_cache(cache)["program_entries"] == 1
    after = engine.cache_info(cache)
    assert after["xla_entries"] == after["xla_bytes"] == after["program_entries"] == 0, after
    assert (cache / "notes.txt").exists()
    # a process with JAX's Shardy partitioner off cannot run the stored (Shardy) program: it traces its own
    gspmd = run_script({**env, "JAX_USE_SHARDY_PARTITIONER": "false"})
    assert gspmd["traces"] == 1
    # its program is the same model and draws the same chains, to within rounding: XLA may fuse the two
    # partitioners' programs differently (one CI run of 2026-12-06 differed by 1e-4 of alpha after 100 iterations)
    np.testing.assert_allclose(gspmd["alpha"], first["alpha"], rtol=1e-2)


@pytest.mark.slow
def test_unreadable_stored_program_is_traced_again(tmp_path):
    env = {**os.environ, "BAYESCALE_JAX_CACHE": str(tmp_path / "jax")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    first = run_script(env)
    (stored,) = (tmp_path / "jax" / "programs").glob("*.jaxexport")
    stored.write_bytes(b"half a file")
    again = run_script(env)
    assert again["traces"] == 1 and again["alpha"] == first["alpha"]
    assert stored.read_bytes() != b"half a file"  # rewritten whole


def test_store_key_names_the_law_and_structure_not_the_caller():
    law = bs.get_law("chinchilla")
    key = fit_module._store_key(law, ("chinchilla", "s", "float64"))
    assert key == (lambda: fit_module._store_key(law, ("chinchilla", "s", "float64")))()
    assert key != fit_module._store_key(law, ("chinchilla", "s", "float32"))
    kaplan = bs.get_law("kaplan")
    assert fit_module._store_key(kaplan, ("chinchilla", "s", "float64")) != key


def test_laws_without_an_export_are_not_stored():
    law = bs.get_law("chinchilla")
    unexportable = dataclasses.replace(law, name="chinchilla_copy", fn=lambda n, d, **p: law.fn(n, d, **p))
    object.__setattr__(unexportable, "_fn_export", None)
    assert fit_module._store_key(unexportable, ("chinchilla_copy", "s", "float64")) is None


LOADED_FIT_SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import jax, pandas as pd
    events = []
    jax.monitoring.register_event_duration_secs_listener(lambda event, duration, **kw: events.append(event))
    jax.monitoring.register_event_listener(lambda event, **kw: events.append(event))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import bayescale as bs
    out = {"dir": jax.config.jax_compilation_cache_dir, "warnings": [str(w.message) for w in caught]}
    if sys.argv[1:]:
        fit = bs.load(sys.argv[1])
        fit.predict(pd.DataFrame({"n": [7e10], "d": [1.4e12]}))
        fit.optimal_allocation(c=5.76e23)
    # XLA compiles: JAX's backend-compile event times a fetch from the persistent cache too
    out["compiles"] = (events.count("/jax/core/compile/backend_compile_duration")
                       - events.count("/jax/compilation_cache/cache_hits"))
    print(json.dumps(out))
""")


def test_a_process_that_only_loads_a_fit_and_predicts_compiles_nothing_the_second_time(tmp_path):
    """The cache is on from ``import bayescale``, not from a process's first fit, so a process that loads a fit
    (the CLI's predict, report and decide) keeps what it compiled for the next one."""
    path = tmp_path / "fit.nc"
    quiet_fit("chinchilla", ladder(0), seed=0, **{**SMALL, "num_chains": 2, "num_samples": 100}).save(path)
    cache = tmp_path / "jax"
    env = {**os.environ, "BAYESCALE_JAX_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop("BAYESCALE_JAX_CACHE_MAX_MB", None)

    def run(env, *args):
        proc = subprocess.run([sys.executable, "-c", LOADED_FIT_SCRIPT, *args], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first, second = run(env, str(path)), run(env, str(path))
    assert first["dir"] == second["dir"] == str(cache) and not first["warnings"]
    assert first["compiles"] > 0 and second["compiles"] == 0, (first, second)
    assert run({**env, "BAYESCALE_JAX_CACHE": "off"})["dir"] is None
    # a bad limit does not stop the import: it warns, naming the variable, and leaves the cache off
    bad = run({**env, "BAYESCALE_JAX_CACHE": str(tmp_path / "other"), "BAYESCALE_JAX_CACHE_MAX_MB": "lots"})
    assert bad["dir"] is None and not (tmp_path / "other").exists()
    assert any("BAYESCALE_JAX_CACHE_MAX_MB='lots'" in w and "fits raise this error" in w for w in bad["warnings"])


def test_job_keys_depend_on_seed_and_fit_only():
    a = engine.job_keys(3, 0, 4)
    assert a.shape == (4, 2) and a.dtype == np.uint32
    np.testing.assert_array_equal(a, engine.job_keys(3, 0, 4))
    assert len({tuple(k) for k in np.concatenate([a, engine.job_keys(3, 1, 4), engine.job_keys(4, 0, 4)])}) == 12


def test_cache_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(engine, "_CACHE_STATE", {"dir": None, "checked": False})
    monkeypatch.setenv("BAYESCALE_JAX_CACHE", "off")
    assert engine.enable_persistent_cache() is None
    monkeypatch.setenv("BAYESCALE_JAX_CACHE_MAX_MB", "lots")  # a limit of a cache that is off is never read
    monkeypatch.setattr(engine, "_CACHE_STATE", {"dir": None, "checked": False})
    assert engine.enable_persistent_cache() is None
    assert engine.cache_info() == {"dir": None, "max_bytes": None, "xla_entries": 0, "xla_bytes": 0,
                                   "program_entries": 0, "program_bytes": 0}


@pytest.mark.parametrize("raw", ["0", "-5", "1.5", "lots"])
def test_a_bad_cache_limit_is_named_and_switches_nothing_on(monkeypatch, tmp_path, raw):
    monkeypatch.setattr(engine, "_CACHE_STATE", {"dir": None, "checked": False})
    monkeypatch.setenv("BAYESCALE_JAX_CACHE", str(tmp_path / "jax"))
    monkeypatch.setenv("BAYESCALE_JAX_CACHE_MAX_MB", raw)
    before = jax.config.jax_compilation_cache_dir
    with pytest.raises(ValueError, match=rf"BAYESCALE_JAX_CACHE_MAX_MB='{re.escape(raw)}' is not a positive whole "
                                         r"number of MiB; set it to, say, 1024"):
        engine.enable_persistent_cache()
    assert jax.config.jax_compilation_cache_dir == before and not (tmp_path / "jax").exists()
    monkeypatch.setenv("BAYESCALE_JAX_CACHE_MAX_MB", " 64 ")
    assert engine.cache_max_bytes() == 64 * 2**20
    monkeypatch.delenv("BAYESCALE_JAX_CACHE_MAX_MB")
    assert engine.cache_max_bytes() == engine.CACHE_MAX_MB * 2**20 == 2**30


def test_program_store_drops_its_least_recently_used_programs(tmp_path):
    now = time.time()
    for i in range(5):  # program 0 used longest ago
        f = tmp_path / f"p{i}.jaxexport"
        f.write_bytes(b"x" * 1000)
        os.utime(f, (now, now - 100 * (5 - i)))
    (tmp_path / "other.bin").write_bytes(b"y" * 5000)  # not a program: neither counted nor deleted
    engine._prune_programs(tmp_path, 5000)
    assert len(list(tmp_path.glob("*.jaxexport"))) == 5
    engine._prune_programs(tmp_path, 2500)
    assert sorted(f.name for f in tmp_path.glob("*.jaxexport")) == ["p3.jaxexport", "p4.jaxexport"]
    assert (tmp_path / "other.bin").exists()


@pytest.mark.slow
def test_fit_many_on_a_local_dask_cluster():
    distributed = pytest.importorskip("distributed")
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(3)], ignore_index=True)
    # batch_size 2 for 3 fits: calls of at most 2 fits (on CPU [t0, t1] and [t2]; on an accelerator [t0, t1] and
    # [t2, t0], the repeat dropped); no refits of the fits that 200 draws leave failing their checks
    kw = dict(seed=3, num_chains=2, num_warmup=200, num_samples=200, batch_size=2, progress_bar=False,
              fallback=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's start-up chatter; 200 draws are too few for the ESS threshold
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            with distributed.get_task_stream(client=client) as stream:
                remote = bs.fit_many("chinchilla", runs, by="task", client=client, **kw)
            workers = set(client.scheduler_info()["workers"])
        local = bs.fit_many("chinchilla", runs, by="task", **kw)
    assert len(workers) == 2
    # the fits ran as tasks (calls of _run_batch) on the cluster's worker processes, each call once
    ran = [str(t["key"]) for t in stream.data if str(t["key"]).startswith("_run_batch")]
    assert len(ran) in (2, 3) and len(set(ran)) == len(ran), ran
    assert {t["worker"] for t in stream.data if str(t["key"]) in ran} <= workers
    assert list(remote) == list(local) == ["t0", "t1", "t2"]
    for name in local:
        # same batches and keys on the same kind of process: the same draws
        np.testing.assert_allclose(remote[name].tree.posterior["alpha"].values,
                                   local[name].tree.posterior["alpha"].values, rtol=1e-9)
        assert remote[name].diagnostics.max_r_hat < 1.1


@pytest.mark.slow
def test_a_cluster_lost_before_the_refits_keeps_the_fits_done(monkeypatch):
    """The refits' calls were submitted outside the step that keeps finished fits: a client closed after the first
    pass raised Dask's ClosedClientError, and every fit of the first pass was lost. (The client is not the default
    one, which fit_many's waiting on the calls needed: "ValueError: No clients found".)"""
    distributed = pytest.importorskip("distributed")
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(2)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's start-up chatter
        # not the default client: closed early, it would leave dask's scheduler set to it for later tests
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
                                      ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
            careful = fit_module._fallback_options
            monkeypatch.setattr(fit_module, "_fallback_options", lambda o: (client.close(), careful(o))[1])
            with pytest.raises(bs.FitManyError, match=r"a call of fit_many failed \(ClosedClientError: .*\); 2 of "
                                                      r"2 fits had finished.*\(the refits of failed fits were under "
                                                      r"way\)") as err:
                bs.fit_many("chinchilla", runs, by="task", client=client, seed=0, num_chains=2, num_warmup=50,
                            num_samples=30, progress_bar=False)  # 30 draws fail the ESS check: refits follow
    assert list(err.value.fits) == ["t0", "t1"] and err.value.failed == []
    assert all(f.summary().shape[0] > 0 for f in err.value.fits.values())


def test_default_calls_share_the_fits_out_over_a_clusters_workers():
    """At 32 fits a call on CPU, a cluster of 8 workers given 60 fits ran them all on one worker."""
    preps = [None] * 60
    opts = fit_module._options(4, 1000, 1000, 0.8, 10, "float64", 6.0, None, None, "nuts")
    cluster = SimpleNamespace(nthreads=lambda: {f"w{i}": 1 for i in range(8)})
    assert fit_module._default_batch_size(preps, opts) == 32
    assert fit_module._default_batch_size(preps, opts, cluster) == 8
    assert fit_module._default_batch_size(preps[:5], opts, cluster) == 1
    assert fit_module._default_batch_size(preps * 10, opts, cluster) == 32
    with pytest.warns(RuntimeWarning, match="the Dask cluster has no workers yet: fit_many waits until some join"):
        assert fit_module._default_batch_size(preps, opts, SimpleNamespace(nthreads=dict)) == 32


def test_a_failed_call_keeps_the_fits_done(monkeypatch):
    """A call that fails part way (here out of memory on the second of three) loses no finished fit: they come
    with the error, and the others are named."""
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(3)], ignore_index=True)
    launch, calls = fit_module._launch_batch, []

    def second_fails(preps, indices, *args):
        calls.append(list(indices))
        if len(calls) == 2:
            raise MemoryError("out of memory (a test)")
        return launch(preps, indices, *args)

    monkeypatch.setattr(fit_module, "_launch_batch", second_fails)
    with pytest.raises(bs.FitManyError, match=r"a call of fit_many failed \(MemoryError: out of memory \(a test\)\); "
                                              r"1 of 3 fits had finished: they are in this error's .fits \(by name\), "
                                              r"and the names of the other 2 in .failed") as err:
        bs.fit_many("chinchilla", runs, by="task", batch_size=1, seed=0, fallback=False, num_chains=2,
                    num_warmup=100, num_samples=100, progress_bar=False)
    assert calls == [[0], [1]] and isinstance(err.value.__cause__, MemoryError)
    assert list(err.value.fits) == ["t0"] and err.value.failed == ["t1", "t2"]
    assert err.value.fits["t0"].summary().shape[0] > 0  # a normal fit


def test_grouped_fit_log_likelihood_is_in_run_order():
    """The groups x points layout is undone for log_likelihood: each run's value is its own."""
    from numpyro.infer.util import log_likelihood

    runs = bs.simulate_ladder("chinchilla", num_groups=3, seed=4).drop(index=[1, 2, 40])
    runs = runs.sample(frac=1.0, random_state=0)
    fit = quiet_fit("chinchilla", runs, groups="group", pool={"e": "partial"}, num_chains=1, num_warmup=100,
                    num_samples=20, progress_bar=False)
    assert fit.config.centred  # 27-30 runs per group
    model = build_model(fit.law, fit.config)
    draws = fit.draws()
    with jax.enable_x64(True):
        table = bs.validate_runs(runs, fit.law, groups="group")
        data, _, _ = fit_module._model_data(table, fit.meta["log_x0"], levels=fit.levels)  # per-run layout
        expected = np.asarray(log_likelihood(model, {k: v[:5] for k, v in draws.items()}, data)["log_loss"])
    got = fit.tree.log_likelihood["log_loss"].values[0, :5]
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Data:
    y: np.ndarray


def normal_mean(data):
    """Normal mean with known sd: posterior N(sum(y)/(n+1), 1/(n+1)) under a N(0, 1) prior."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("y", dist.Normal(mu, 1.0), obs=data.y)


def test_compiled_nuts_matches_conjugate_posterior_and_reuses_compilation():
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        sampler = CompiledNUTS(normal_mean, num_warmup=300, num_samples=1000, num_chains=2)
        for s in range(2):
            y = rng.normal(1.5 * s, 1.0, 20)
            draws, stats = sampler.run(jax.random.PRNGKey(s), Data(y=y))
            mu = draws["mu"].reshape(-1)
            mean, sd = y.sum() / 21, np.sqrt(1 / 21)
            # 2000 draws of near-independent NUTS: MCSE of the mean ~ sd / sqrt(2000 / 2)
            assert abs(mu.mean() - mean) < 5 * sd / np.sqrt(1000)
            assert abs(mu.std() / sd - 1) < 0.1
            assert stats["diverging"].sum() == 0
        assert sampler.traces == 1


def test_run_batch_gives_each_data_set_the_draws_run_gives_it():
    """Several data sets in one call (as bs.calibrate fits its simulations): the same chains as one at a time."""
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        sampler = CompiledNUTS(normal_mean, num_warmup=100, num_samples=100, num_chains=2)
        keys = [jax.random.PRNGKey(s) for s in range(2)]
        datas = [Data(y=rng.normal(m, 1.0, 20)) for m in (0.0, 2.0)]
        batched = sampler.run_batch(keys, datas)
        assert len(batched) == 2
        for key, data, (draws, stats) in zip(keys, datas, batched, strict=True):
            one_draws, one_stats = sampler.run(key, data)
            assert draws["mu"].shape == (2, 100)
            np.testing.assert_array_equal(draws["mu"], one_draws["mu"])
            np.testing.assert_array_equal(stats["num_steps"], one_stats["num_steps"])
        assert batched[0][0]["mu"].mean() < 1.0 < batched[1][0]["mu"].mean()


@pytest.mark.parametrize("batching", ["map", "vmap"])
def test_program_batching_modes_sample_the_conjugate_posterior(batching):
    """Several jobs per device, run one after another (CPU default) or vectorised (the GPU default)."""
    rng = np.random.default_rng(0)
    ys = np.stack([rng.normal(m, 1.0, 20) for m in (-1.0, 0.5, 2.0)])  # 3 data sets
    chains = 4
    jobs = Data(y=np.repeat(ys, chains, axis=0))  # 12 jobs: 3 per host device
    prog = engine.NUTSProgram(normal_mean, engine.NUTSSettings(300, 1000), loglik_site="y", batching=batching)
    with jax.enable_x64(True):
        samples, stats = prog.run(jax.random.split(jax.random.PRNGKey(1), len(jobs.y)), jobs)
    assert samples["mu"].shape == (12, 1000) and stats["log_likelihood"].shape == (12, 1000, 20)
    for i, y in enumerate(ys):
        mu = samples["mu"][i * chains:(i + 1) * chains].reshape(-1)
        mean, sd = y.sum() / 21, np.sqrt(1 / 21)
        assert abs(mu.mean() - mean) < 5 * sd / np.sqrt(2000)
        assert abs(mu.std() / sd - 1) < 0.1
    assert prog.traces == 1


def test_warmup_tree_depth_caps_the_warmup_trees_only():
    """The cap bounds each warm-up iteration's leapfrog steps by 2**depth - 1; the draws keep max_tree_depth."""
    y = np.random.default_rng(2).normal(1.0, 1.0, 20)
    assert engine.NUTSSettings(10, 10).tree_depths == (7, 10)
    assert engine.NUTSSettings(10, 10, max_tree_depth=12).tree_depths == (9, 12)  # a deeper fit, a deeper warm-up
    assert engine.NUTSSettings(10, 10, max_tree_depth=4).tree_depths == (4, 4)
    assert engine.NUTSSettings(10, 10, max_tree_depth=4, warmup_tree_depth=6).tree_depths == (4, 4)
    steps = {}
    for depth in (1, 10):
        prog = engine.NUTSProgram(normal_mean, engine.NUTSSettings(200, 500, warmup_tree_depth=depth))
        assert prog.settings.tree_depths == (depth, 10)
        with jax.enable_x64(True):
            samples, stats = prog.run(jax.random.split(jax.random.PRNGKey(3), 2), Data(y=np.stack([y, y])))
        steps[depth] = np.asarray(stats["warmup_steps"])
        mean, sd = y.sum() / 21, np.sqrt(1 / 21)  # two chains of 500 near-independent draws
        assert abs(samples["mu"].mean() - mean) < 5 * sd / np.sqrt(1000)
        assert stats["num_steps"].max() > 1  # the draws are not capped
    assert np.all(steps[1] <= 200) and np.all(steps[10] > 200)


def narrow_and_wide(data):
    """Two independent normal means: ``m1`` known to about 0.001 (posterior variance ~1e-6), ``m2`` to about 0.4."""
    m1 = numpyro.sample("m1", dist.Normal(0.0, 1.0))
    m2 = numpyro.sample("m2", dist.Normal(0.0, 1.0))
    numpyro.sample("y1", dist.Normal(m1, 0.01), obs=data.y[:100])
    numpyro.sample("y2", dist.Normal(m2, 1.0), obs=data.y[100:105])


def _narrow_and_wide_draws(settings: dict) -> tuple[dict, dict]:
    """Fit :func:`narrow_and_wide` under each of ``settings`` (key: ``NUTSSettings``), two chains of 500 draws on the
    same data and seed; assert that each run's draws are the exact posterior with no divergences, and return each
    run's mean leapfrog steps per draw and its stats."""
    rng = np.random.default_rng(4)
    y = np.concatenate([rng.normal(0.3, 0.01, 100), rng.normal(-1.0, 1.0, 5)])
    exact = {"m1": (y[:100].sum() / 1e-4 / (1 + 100 / 1e-4), np.sqrt(1 / (1 + 100 / 1e-4))),
             "m2": (y[100:].sum() / 6, np.sqrt(1 / 6))}
    steps, all_stats = {}, {}
    for key, setting in settings.items():
        prog = engine.NUTSProgram(narrow_and_wide, setting)
        with jax.enable_x64(True):
            samples, stats = prog.run(jax.random.split(jax.random.PRNGKey(5), 2), Data(y=np.stack([y, y])))
        steps[key], all_stats[key] = stats["num_steps"].mean(), stats
        for name, (mean, sd) in exact.items():  # two chains of 500 near-independent draws
            draws = samples[name].reshape(-1)
            assert abs(draws.mean() - mean) < 5 * sd / np.sqrt(1000), (key, name)
            assert abs(draws.std() / sd - 1) < 0.12, (key, name, draws.std() / sd)
        assert stats["diverging"].sum() == 0, key
    return steps, all_stats


def test_mass_shrinkage_samples_the_same_posterior_with_fewer_gradients():
    """NUTS samples z / c so that Stan's shrinkage toward 1e-3 I targets ``mass_shrinkage``; the posterior is the
    same, and a narrow posterior no longer gets a mass matrix (and so a step size) fitted to 1e-3."""
    with pytest.raises(ValueError, match="mass_shrinkage"):
        engine.NUTSSettings(10, 10, mass_shrinkage=0.0)
    assert engine.NUTSSettings(10, 10).space_scale == 1.0  # the default: NumPyro's own regularisation
    assert engine.NUTSSettings(10, 10, mass_shrinkage=1e-5).space_scale == pytest.approx(0.1)
    steps, _ = _narrow_and_wide_draws({s: engine.NUTSSettings(300, 500, mass_shrinkage=s) for s in (1e-3, 1e-5)})
    # 0.37-0.47 over seeds 5-10 (8.8-11.6 steps per draw at 1e-3); 1e-4 gave 0.51-0.63 (m1's variance, 1e-6, is
    # still below its shrinkage)
    assert steps[1e-5] < 0.6 * steps[1e-3], steps


def sum_and_difference(data):
    """``a + b`` known to about 0.001, ``a - b`` to about 0.4: a narrow, strongly correlated Gaussian posterior."""
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    b = numpyro.sample("b", dist.Normal(0.0, 1.0))
    numpyro.sample("y1", dist.Normal(a + b, 0.01), obs=data.y[:100])
    numpyro.sample("y2", dist.Normal(a - b, 1.0), obs=data.y[100:105])


def test_warm_start_samples_the_same_posterior_with_a_shorter_warmup():
    """``warm_start``: each chain samples the Laplace approximation's whitened coordinates from near the mode; the
    draws still follow the exact posterior, and the warm-up (which otherwise starts at a unit metric half a unit from
    the prior mean) takes fewer leapfrog steps."""
    rng = np.random.default_rng(6)
    y = np.concatenate([rng.normal(0.3, 0.01, 100), rng.normal(-1.0, 1.0, 5)])
    u, v = np.array([1.0, 1.0]), np.array([1.0, -1.0])
    precision = np.eye(2) + 1e4 * 100 * np.outer(u, u) + 5 * np.outer(v, v)
    cov = np.linalg.inv(precision)
    mean = cov @ (1e4 * y[:100].sum() * u + y[100:].sum() * v)
    steps = {}
    for warm_start in (False, True):
        prog = engine.NUTSProgram(sum_and_difference, engine.NUTSSettings(300, 500, warm_start=warm_start))
        with jax.enable_x64(True):
            samples, stats = prog.run(jax.random.split(jax.random.PRNGKey(7), 2), Data(y=np.stack([y, y])))
        steps[warm_start] = int(np.sum(stats["warmup_steps"]))
        draws = np.stack([samples["a"].reshape(-1), samples["b"].reshape(-1)], axis=1)
        sd = np.sqrt(np.diag(cov))
        assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * sd / np.sqrt(1000 / 4)), (warm_start, draws.mean(0))
        assert np.all(np.abs(draws.std(axis=0) / sd - 1) < 0.15), (warm_start, draws.std(0) / sd)
        assert stats["diverging"].sum() == 0
    assert steps[True] < 0.6 * steps[False], steps  # 0.40-0.47 over seeds 7-10 (about 21,000 steps without)


def test_warm_start_whitens_a_narrow_posterior_at_the_default_shrinkage():
    """With ``warm_start`` NUTS samples ``y`` with ``x = mode + L y``, where the posterior is near a standard normal:
    a direction known to 0.001 (variance ~1e-6) no longer gets a metric shrunk toward NumPyro's 1e-3, so the draws
    take fewer leapfrog steps at the default ``mass_shrinkage``, and they are still the exact posterior."""
    steps, stats = _narrow_and_wide_draws({w: engine.NUTSSettings(300, 500, warm_start=w) for w in (False, True)})
    assert stats[True]["warm_started"].all()
    assert steps[True] < 0.6 * steps[False], steps  # 0.48 (4.2 against 8.8 steps per draw, 2026-12-06)


def test_laplace_search_reports_the_newton_decrement_where_it_ends():
    """On a Gaussian potential the squared Newton decrement at a point is its squared Mahalanobis distance from
    the mode: what the search reports when it takes no step, and about 0 once it has found the mode."""
    precision = np.array([[4.0, 1.5], [1.5, 1.0]])
    centre, x0 = np.array([1.0, -2.0]), np.array([3.0, 0.5])
    with jax.enable_x64(True):
        def potential(x):
            r = x - centre
            return 0.5 * r @ precision @ r

        _, _, ok0, stalled = engine._laplace_search(potential, jnp.asarray(x0), 0)
        mode, _, ok, reached = engine._laplace_search(potential, jnp.asarray(x0), 30)
    assert bool(ok0) and bool(ok)
    np.testing.assert_allclose(float(stalled), (x0 - centre) @ precision @ (x0 - centre), rtol=1e-6)
    assert float(reached) < 1e-12 and np.allclose(mode, centre)


def test_warm_start_keeps_the_default_start_of_a_chain_whose_search_stalls(monkeypatch):
    """A chain whose search for the mode ends far from it (squared Newton decrement over
    ``WARM_START_MAX_DECREMENT``) samples as it would without the warm start, from the default point at a unit metric,
    and says so in ``warm_started``; with the search's usual steps every chain is warm-started. The draws follow
    the posterior either way."""
    y = np.concatenate([np.full(100, 0.3), np.linspace(-2.0, 0.0, 5)])
    for steps, started in ((0, False), (engine.WARM_START_NEWTON_STEPS, True)):
        monkeypatch.setattr(engine, "WARM_START_NEWTON_STEPS", steps)  # read when the program is traced
        prog = engine.NUTSProgram(sum_and_difference, engine.NUTSSettings(300, 500, warm_start=True))
        with jax.enable_x64(True):
            samples, stats = prog.run(jax.random.split(jax.random.PRNGKey(3), 2), Data(y=np.stack([y, y])))
        assert stats["warm_started"].tolist() == [started, started]
        assert stats["diverging"].sum() == 0
        np.testing.assert_allclose(np.mean(samples["a"] + samples["b"]), 0.3 * 1e6 / (1e6 + 0.5), atol=3e-4)
    plain = engine.NUTSProgram(sum_and_difference, engine.NUTSSettings(50, 50))
    with jax.enable_x64(True):
        _, stats = plain.run(jax.random.split(jax.random.PRNGKey(3), 2), Data(y=np.stack([y, y])))
    assert "warm_started" not in stats  # recorded only where the warm start was asked for


def test_while_compiling_runs_once_per_new_shape_and_runs_are_timed():
    prog = engine.NUTSProgram(normal_mean, engine.NUTSSettings(50, 50))
    calls = []
    with jax.enable_x64(True):
        for n in (20, 20, 21):  # a new shape compiles again
            keys = jax.random.split(jax.random.PRNGKey(n), 2)
            prog.run(keys, Data(y=np.zeros((2, n))), while_compiling=lambda n=n: calls.append(n))
            assert prog.last_run_seconds > 0
    assert calls == [20, 21] and prog.traces == 2
    with jax.enable_x64(True):  # launch returns at once; result waits, copies to the host once and is timed
        pending = prog.launch(jax.random.split(jax.random.PRNGKey(0), 2), Data(y=np.zeros((2, 20))))
        first = pending.result()
    assert pending.result() is first and pending.seconds > 0 and prog.traces == 2


def test_threaded_cpu_runs_match_the_sharded_program(monkeypatch):
    """On CPU each job of a run is a call of one single-device, one-job program from parallel threads; the draws
    are those of the program sharded over the host devices (the same NUTS on the same keys), for one job per device
    and for several (the sharded program's ``lax.map`` within a share, its last share padded with repeats)."""
    assert engine.threaded()  # the suite runs on CPU
    rng = np.random.default_rng(3)
    for jobs in (jax.local_device_count(), 2 * jax.local_device_count() + 1):
        keys = np.asarray(jax.random.split(jax.random.PRNGKey(jobs), jobs), dtype=np.uint32)
        data = Data(y=rng.normal(0.5, 1.0, (jobs, 12)))
        out = {}
        for mode in (True, False):
            monkeypatch.setattr(engine, "threaded", lambda mode=mode: mode)
            prog = engine.NUTSProgram(normal_mean, engine.NUTSSettings(60, 40), loglik_site="y")
            with jax.enable_x64(True):
                out[mode] = prog.run(keys, data)
            assert prog.traces == 1
        (s_thr, st_thr), (s_sh, st_sh) = out[True], out[False]
        assert s_thr["mu"].shape == (jobs, 40)
        np.testing.assert_allclose(s_thr["mu"], s_sh["mu"], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(st_thr["num_steps"], st_sh["num_steps"])
        np.testing.assert_allclose(st_thr["log_likelihood"], st_sh["log_likelihood"], rtol=1e-9, atol=1e-12)


def test_threaded_run_threads_take_job_after_job_in_order():
    """Each job is one call; a thread that finishes takes the next job not yet taken, so a slow job holds up one
    thread only, and the outputs come back in job order, each job run once."""
    seen = []

    def program(keys, y):
        seen.append((int(keys[0, 0]), threading.current_thread().name))
        time.sleep(0.5 if keys[0, 0] == 0 else 0.01)  # job 0 is slow: the other thread runs every other job
        return {"k": keys}, {"y": y}

    keys, y = np.arange(16).reshape(8, 2), np.arange(24.0).reshape(8, 3)
    samples, stats = engine.Pending(functools.partial(engine._ThreadedRun, program, 2), (keys, y), num_jobs=8).result()
    np.testing.assert_array_equal(samples["k"], keys)  # in job order
    np.testing.assert_array_equal(stats["y"], y)
    assert sorted(j for j, _ in seen) == list(range(0, 16, 2))  # every job once
    slow = next(name for j, name in seen if j == 0)
    assert [j for j, name in seen if name == slow] == [0]
    assert all(name.startswith("bayescale-nuts") for _, name in seen)


def test_threaded_run_stops_taking_jobs_after_one_fails():
    calls = []

    def program(keys, y):
        calls.append(int(keys[0, 0]))
        if keys[0, 0] == 0:
            raise RuntimeError("job 0 failed")
        time.sleep(0.05)
        return {"k": keys}, {"y": y}

    keys, y = np.arange(40).reshape(20, 2), np.zeros((20, 1))
    with pytest.raises(RuntimeError, match="job 0 failed"):
        engine.Pending(functools.partial(engine._ThreadedRun, program, 2), (keys, y), num_jobs=20).result()
    assert len(calls) < 20


def test_each_thread_calls_its_own_copy_of_a_compiled_program(monkeypatch):
    """JAX runs the first call of a compiled program while it fills the program's dispatch cache, and another thread
    calling the same program waits for that call to finish (``engine.own_dispatch`` has the measurements): so each
    thread of a run calls its own copy, which shares the compiled executable and has its own dispatch cache."""
    made, both, real = [], threading.Barrier(2, timeout=30), engine.own_dispatch

    def own_dispatch(fn):
        made.append(real(fn))
        copy, waited = made[-1], []

        def call(*args):  # each thread's first call waits for the other's: both threads take a job
            if not waited:
                waited.append(True)
                both.wait()
            return copy(*args)

        return call

    monkeypatch.setattr(engine, "own_dispatch", own_dispatch)

    def program(keys, y):
        return {"k": keys}, {"y": y + 1.0}

    keys, y = np.arange(4, dtype=np.uint32).reshape(2, 2), np.arange(6.0).reshape(2, 3)
    fn = jax.jit(program).lower(keys[:1], y[:1]).compile()
    samples, stats = engine.Pending(functools.partial(engine._ThreadedRun, fn, 2), (keys, y), num_jobs=2).result()
    np.testing.assert_array_equal(samples["k"], keys)
    np.testing.assert_array_equal(stats["y"], y + 1.0)
    assert len(made) == 2 and made[0] is not made[1] and fn not in made
    assert all(c._executable is fn._executable for c in made)  # nothing compiled again
    dispatch = [c._call for c in made]  # each copy filled its own cache; the original was never called
    assert all(callable(d) for d in dispatch) and dispatch[0] is not dispatch[1] and fn._call is None
    assert real(program) is program  # not a compiled program: called as it is


def test_program_cache_reuses_and_clears():
    settings = engine.NUTSSettings(10, 10)
    first = engine.program(("test", 1), normal_mean, settings)
    assert engine.program(("test", 1), normal_mean, settings) is first
    assert engine.program(("test", 2), normal_mean, settings) is not first
    engine.clear_programs()
    assert engine.program(("test", 1), normal_mean, settings) is not first
    engine.clear_programs()


def test_reused_builds_once_per_key_keeps_the_most_recent_and_clears():
    built = []

    def build(name):
        built.append(name)
        return object()

    first = engine.reused(("test", 0), lambda: build(0))
    assert engine.reused(("test", 0), lambda: build("again")) is first and built == [0]
    for i in range(1, engine._MAX_PROGRAMS):  # the cache is full; ("test", 0) is the least recently used
        engine.reused(("test", i), lambda i=i: build(i))
    engine.reused(("test", 0), lambda: build("again"))  # now the most recent: ("test", 1) goes next
    engine.reused(("test", "new"), lambda: build("new"))
    assert engine.reused(("test", 0), lambda: build("again")) is first
    engine.reused(("test", 1), lambda: build(1))
    assert built == [0, *range(1, engine._MAX_PROGRAMS), "new", 1]
    engine.clear_programs()
    assert engine.reused(("test", 0), lambda: build("cleared")) is not first and built[-1] == "cleared"
    # a build may itself reuse (a curve's model wraps the law's model): the lock is reentrant
    outer = engine.reused(("test", "outer"), lambda: (engine.reused(("test", "inner"), lambda: build("inner")),))
    assert outer[0] is engine.reused(("test", "inner"), lambda: build("again")) and built[-1] == "inner"
    engine.clear_programs()


def test_init_near_mean_jitters_within_the_radius():
    prior = dist.Beta(2.0, 4.0)
    site = {"type": "sample", "is_observed": False, "fn": prior, "value": None, "name": "alpha",
            "kwargs": {"rng_key": None, "sample_shape": ()}}
    assert float(engine.init_near_mean(site)) == pytest.approx(1 / 3)  # no key: the mean itself
    logit = np.log(1 / 3 / (2 / 3))
    for s in range(20):
        v = float(engine.init_near_mean({**site, "kwargs": {"rng_key": jax.random.PRNGKey(s), "sample_shape": ()}},
                                        radius=0.5))
        assert abs(np.log(v / (1 - v)) - logit) <= 0.5 + 1e-9
    assert engine.init_near_mean({**site, "is_observed": True}) is None


@pytest.mark.parametrize(("opt_out", "before", "expected"), [("", "", False), ("1", "", True),
                                                             ("", "import jax; jax.numpy.zeros(1); ", True)])
def test_cpu_dispatch_is_synchronous_unless_opted_out_or_too_late(opt_out, before, expected):
    """bayescale turns off JAX's asynchronous CPU dispatch at import (the Huber fit's 44,000 small calls ran 1.7x
    faster alone and 3.4x faster beside another process); not when the user opts out, nor once JAX's backend has
    started (the option is read when the backend starts)."""
    code = f"{before}import bayescale, jax; print(jax.config.values['jax_cpu_enable_async_dispatch'])"
    env = {**os.environ, "BAYESCALE_CPU_ASYNC_DISPATCH": opt_out}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(expected)


def test_light_jit_draws_what_jit_draws():
    """engine.light_jit (LLVM's optimisations off, for prior predictives) gives jax.jit's values to rounding: the
    rejection loops of Gamma and Beta variates accept the same proposals."""
    from bayescale import engine

    def draws(key):
        k1, k2, k3 = jax.random.split(key, 3)
        return (jax.random.beta(k1, 2.0, 4.0, (200,)), jax.random.gamma(k2, 0.7, (200,)),
                jax.random.t(k3, 4.0, (200,)))

    with jax.enable_x64(True):
        key = jax.random.PRNGKey(7)
        fast, light = jax.jit(draws)(key), engine.light_jit(draws)(key)
    for a, b in zip(fast, light, strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12)
