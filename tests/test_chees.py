"""The lockstep sampler (``sampler="chees"``): its Laplace metric, its program, fits against NUTS, calibration."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from test_engine import PARAMS, CompileCounter, Data, ladder, normal_mean, quiet_fit

import bayescale as bs
from bayescale import engine
from bayescale.fit import SAMPLERS


# --------------------------------------------------------------------------------------------- the metric
def test_laplace_finds_the_mode_and_inverse_hessian_of_a_gaussian():
    precision = np.array([[4.0, 1.5, 0.0], [1.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    centre = np.array([1.0, -2.0, 30.0])
    with jax.enable_x64(True):
        def potential(x):
            r = x - centre
            return 0.5 * r @ precision @ r

        mode, root = (np.asarray(v) for v in engine.laplace(potential, jnp.array([10.0, 10.0, -10.0]), 30))
    np.testing.assert_allclose(mode, centre, atol=1e-8)
    np.testing.assert_allclose(root @ root.T, np.linalg.inv(precision), rtol=1e-8)


def _student_t_potential(z):
    y = jnp.array([0.5, -1.0, 3.0, 0.1, 2.2])
    mu, log_sigma, log_nu = z[0] / 20.0, z[1], jnp.log1p(jnp.exp(z[2]))
    nu, r = jnp.exp(log_nu), (y - mu) / jnp.exp(log_sigma)
    lp = (jax.scipy.special.gammaln((nu + 1) / 2) - jax.scipy.special.gammaln(nu / 2) - 0.5 * jnp.log(nu)
          - log_sigma - (nu + 1) / 2 * jnp.log1p(r ** 2 / nu))
    return -jnp.sum(lp) + 0.5 * jnp.sum(z ** 2) / 100.0


# jitted once for both points: run op by op, JAX compiled each of the Hessian's ~200 operations on its own (40 s of
# XLA in a CI run on a 2-core AMD EPYC, 2026-12-06)
_EXACT = jax.jit(lambda z: (jax.grad(_student_t_potential)(z), jax.hessian(_student_t_potential)(z)))
_BY_DIFFERENCES = jax.jit(engine._grad_and_hessian(_student_t_potential))


@pytest.mark.parametrize("x", [[0.3, -1.2, 2.0], [40.0, 1e-3, -7.5]])
def test_hessian_by_differences_matches_jax_hessian_on_a_student_t_potential(x):
    """The Laplace metric's gradient and Hessian (central differences of the gradient, in the same vectorised call)
    against JAX's exact ones, on a potential with a log-gamma term and coordinates of different sizes."""
    with jax.enable_x64(True):
        point = jnp.array(x)
        exact_grad, exact = (np.asarray(v) for v in _EXACT(point))
        grad, approx = (np.asarray(v) for v in _BY_DIFFERENCES(point))
    np.testing.assert_allclose(grad, exact_grad, rtol=1e-12, atol=1e-14 * np.abs(exact_grad).max())
    np.testing.assert_allclose(approx, approx.T)
    np.testing.assert_allclose(approx, exact, rtol=1e-6, atol=1e-8 * np.abs(exact).max())


def test_laplace_steps_back_from_where_the_potential_is_not_finite():
    """A full Newton step from x = 0 lands at x = 4, where the potential is NaN: a shorter step is taken instead."""
    with jax.enable_x64(True):
        def potential(x):
            u = jnp.sum((x - 2.0) ** 2) + 0.1 * jnp.sum(x ** 4)
            return jnp.where(x[0] > 3.0, jnp.nan, u)

        mode, root = engine.laplace(potential, jnp.zeros(2), 30)
        g = np.asarray(jax.grad(potential)(mode))
    assert np.all(np.isfinite(root))
    assert g @ g < 1e-16
    assert 1.0 < float(mode[0]) < 2.0


def test_laplace_falls_back_to_the_start_and_identity():
    with jax.enable_x64(True):
        mode, root = (np.asarray(v) for v in engine.laplace(lambda x: jnp.nan * jnp.sum(x), jnp.array([0.5, -0.5]), 5))
    np.testing.assert_array_equal(mode, [0.5, -0.5])
    np.testing.assert_array_equal(root, np.eye(2))


# --------------------------------------------------------------------------------------------- the program
def test_chees_program_samples_the_conjugate_posterior_and_compiles_once():
    """Called with one job per chain (as NUTS is), it runs one job per fit and returns one row per chain."""
    rng = np.random.default_rng(0)
    chains = 8
    prog = engine.ChEESProgram(normal_mean, engine.ChEESSettings(200, 500, num_chains=chains), loglik_site="y")
    for rep in range(2):
        ys = np.stack([rng.normal(m + rep, 1.0, 20) for m in (-1.0, 0.5, 2.0)])  # 3 data sets
        keys = np.asarray(jax.random.split(jax.random.PRNGKey(rep), 3 * chains), dtype=np.uint32)
        with jax.enable_x64(True):
            samples, stats = prog.run(keys, Data(y=np.repeat(ys, chains, axis=0)))
        assert samples["mu"].shape == (3 * chains, 500)
        assert stats["log_likelihood"].shape == (3 * chains, 500, 20)
        assert stats["warmup_steps"].shape == (3 * chains,) and (stats["warmup_steps"] >= 200).all()
        assert (stats["num_steps"] >= 1).all() and not stats["diverging"].any()
        for i, y in enumerate(ys):
            mu = samples["mu"][i * chains:(i + 1) * chains].reshape(-1)
            mean, sd = y.sum() / 21, np.sqrt(1 / 21)
            assert abs(mu.mean() - mean) < 5 * sd / np.sqrt(chains * 500 / 2)
            assert abs(mu.std() / sd - 1) < 0.1
    assert prog.traces == 1
    with pytest.raises(ValueError, match="12 jobs are not whole fits of num_chains=8 chains each"):
        prog.launch(keys[:12], Data(y=np.zeros((12, 20))))


def _cauchy(data):
    """A Cauchy posterior: its curvature at the mode says sd 0.7, its tails reach everywhere (data.y is unused)."""
    import numpyro
    import numpyro.distributions as dist

    numpyro.sample("mu", dist.Cauchy(0.0, 1.0))


def test_chees_trajectories_stop_at_max_leapfrog_steps():
    """A posterior the Laplace metric misses drives the trajectories to the cap, and no further: 100 by default."""
    assert engine.ChEESSettings(1, 1).max_leapfrog_steps == 100
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(0), 4), dtype=np.uint32)
    longest = {}
    for cap in (100, 1000):
        prog = engine.ChEESProgram(_cauchy, engine.ChEESSettings(150, 100, num_chains=4, max_leapfrog_steps=cap))
        with jax.enable_x64(True):
            _, stats = prog.run(keys, Data(y=np.zeros((4, 1))))
        longest[cap] = int(stats["num_steps"].max())
    assert 50 < longest[100] <= 100 < longest[1000] <= 1000


def test_compiled_sampler_runs_chees_per_data_set():
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        sampler = engine.CompiledNUTS(normal_mean, num_warmup=100, num_samples=200, num_chains=4, sampler="chees")
        keys = [jax.random.PRNGKey(s) for s in range(2)]
        batched = sampler.run_batch(keys, [Data(y=rng.normal(m, 1.0, 20)) for m in (0.0, 3.0)])
    assert [b[0]["mu"].shape for b in batched] == [(4, 200), (4, 200)]
    assert batched[0][0]["mu"].mean() < 1.5 < batched[1][0]["mu"].mean()
    with pytest.raises(ValueError, match=r"sampler='hmc' is not one of \('nuts', 'chees'\)"):
        engine.CompiledNUTS(normal_mean, num_warmup=1, num_samples=1, sampler="hmc")


# --------------------------------------------------------------------------------------------- fits
@pytest.mark.statistical
def test_chees_fits_match_nuts_fits_within_mcse_and_reuse_the_program():
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(3)], ignore_index=True)
    many = bs.fit_many("chinchilla", runs, by="task", seed=3, sampler="chees", fallback=False, progress_bar=False)
    nuts_grads = chees_grads = 0
    for s, (name, fc) in enumerate(many.items()):
        assert fc.diagnostics.ok, fc.diagnostics
        options = fc.meta["options"]
        assert (options["sampler"], options["chain_method"], options["num_chains"]) == ("chees", "lockstep", 8)
        stats = fc.tree.sample_stats
        assert stats["n_steps"].shape == (8, SAMPLERS["chees"][2]) and "tree_depth" not in stats
        assert fc.tree.attrs["sampler"] == "bayescale.engine.ChEESProgram"
        fn = quiet_fit("chinchilla", ladder(s), seed=200 + s, num_samples=1000, progress_bar=False)
        nuts_grads += fn.meta["sampler"]["warmup_steps"] + fn.meta["sampler"]["sample_steps"]
        chees_grads += fc.meta["sampler"]["warmup_steps"] + fc.meta["sampler"]["sample_steps"]
        a, b = fc.summary(PARAMS), fn.summary(PARAMS)
        z = (a["mean"] - b["mean"]) / np.sqrt(a["mcse_mean"] ** 2 + b["mcse_mean"] ** 2)
        assert (z.abs() < 4.5).all(), f"{name}: z-scores\n{z}"
        assert ((a["sd"] / b["sd"] - 1).abs() < 0.2).all(), f"{name}: sd ratios\n{a['sd'] / b['sd']}"
        assert np.isfinite(fc.predict(pd.DataFrame({"n": [1e10], "d": [2e11]})).to_numpy(dtype=float)).all()
    # more draws (8 x 750 against 4 x 1000) for fewer gradients
    assert chees_grads < 0.5 * nuts_grads, (chees_grads, nuts_grads)
    counter = CompileCounter()
    again = bs.fit_many("chinchilla", runs.assign(loss=runs["loss"] * 1.01), by="task", seed=4, sampler="chees",
                        fallback=False, progress_bar=False)
    assert counter.compiles == 0
    assert not np.allclose(again["t0"].tree.posterior["e"].values, many["t0"].tree.posterior["e"].values)


def test_chees_fit_report_names_the_sampler(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        f = bs.fit("chinchilla", ladder(0), sampler="chees", fallback=False, seed=2, progress_bar=False)
    assert f.meta["options"]["sampler"] == "chees"
    assert f.diagnostics.ok, f.diagnostics
    assert not f.diagnostics.trees and "no trees (ChEES)" in repr(f.diagnostics)  # no "0.0% at max tree depth"
    assert "max tree depth" not in repr(f.diagnostics)
    files = f.report(tmp_path / "report")
    text = files.markdown.read_text()
    assert "ChEES-HMC" in text and "at max tree depth" not in text
    sampler = [x for x in files.report.findings if x.check == "sampler"]
    assert [x.level for x in sampler] == ["ok"] and "ChEES-HMC (no trees)" in sampler[0].message


def test_sampler_argument_is_checked():
    with pytest.raises(ValueError, match=r"sampler='hmc' is not one of \('nuts', 'chees'\)"):
        bs.fit("chinchilla", ladder(0), sampler="hmc")
    with pytest.raises(ValueError, match=r"num_chains=1 must be at least 2"):
        bs.calibrate("chinchilla", sampler="chees", num_chains=1)


@pytest.mark.statistical
def test_chees_sbc_ranks_are_uniform(sbc_alpha):
    """The ChEES sampler with bs.fit's defaults for it (8 chains, 200 warm-up), 125 draws a chain, S = 100."""
    result = bs.calibrate("chinchilla", num_simulations=100, seed=0, sampler="chees", num_chains=8, num_warmup=200,
                          num_samples=125, alpha=sbc_alpha)
    assert result.passed, result.summary()


def test_failed_chees_fits_are_refitted_with_nuts():
    """Too few ChEES draws for the ESS threshold: each fit falls back to NUTS, which passes, and says so."""
    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in range(2)], ignore_index=True)
    tiny = dict(sampler="chees", num_chains=4, num_warmup=50, num_samples=50, seed=0, progress_bar=False)
    fits = bs.fit_many("chinchilla", runs, by="task", **tiny)
    for f in fits.values():
        assert f.meta["options"]["sampler"] == "nuts" and f.meta["options"]["num_samples"] == 1000
        (failed,) = f.meta["fallback_from"]
        assert failed["sampler"] == "chees" and failed["target_accept_prob"] == 0.9
        assert any("ESS" in p for p in failed["problems"])
        assert f.diagnostics.ok, f.diagnostics
    single = bs.fit("chinchilla", ladder(0), **tiny)
    assert [a["sampler"] for a in single.meta["fallback_from"]] == ["chees"] and single.diagnostics.ok
    with pytest.warns(bs.ConvergenceWarning, match="fallback=False: refit with sampler='nuts'"):
        kept = bs.fit_many("chinchilla", runs, by="task", fallback=False, **tiny)
    assert {f.meta["options"]["sampler"] for f in kept.values()} == {"chees"}
    assert not any("fallback_from" in f.meta for f in kept.values())
