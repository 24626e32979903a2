"""The learning-rate x batch-size loss landscape and the decisions drawn from it (recommend, batch trade-off)."""

from __future__ import annotations

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from bayescale.models.batch import flag_diverged, landscape_optimum, lr_batch_landscape, steplaw_batch, steplaw_lr
from scipy import stats
from test_engine import CompileCounter

import bayescale as bs
from bayescale.build import noise_params
from bayescale.decide import _noise_draws, batch_tradeoff, recommend
from bayescale.law import law_from_dict

LAW = bs.get_law("lr_batch_landscape")
TRUTH = {"e": 1.8, "a": 482.0, "b": 2085.0, "alpha": 0.35, "beta": 0.37, "k_lr": 0.02, "k_b": 0.015, "rho": -0.4,
         "s_lr": 0.6, "s_b": -0.3,
         **{k: LAW.published[k] for k in ("eta_ref", "p", "q", "b_ref", "r")}}
SLOPE = 0.1  # sd added per unit of log(L / floor): a run 0.03 above its floor scatters 2x as much as one on it


def _design(sizes=(1e8, 1e9, 1e10), ratios=(20, 100), lrs=6, batches=5):
    return pd.DataFrame([{"n": n, "d": n * t, "lr": lr, "batch": b} for n in sizes for t in ratios
                         for lr in np.geomspace(1e-4, 1e-2, lrs) for b in np.geomspace(1e5, 8e6, batches)])


def test_landscape_is_a_bowl_whose_minimum_follows_the_optimal_hyperparameter_laws():
    n, d = 3e8, 2e10
    with jax.enable_x64(True):
        lr_opt, b_opt, l_opt = (float(v) for v in landscape_optimum(n, d, **TRUTH))
        assert lr_opt == pytest.approx(float(steplaw_lr(n, d, eta_ref=TRUTH["eta_ref"], p=TRUTH["p"], q=TRUTH["q"])))
        assert b_opt == pytest.approx(float(steplaw_batch(d, b_ref=TRUTH["b_ref"], r=TRUTH["r"])))
        floor = TRUTH["e"] + TRUTH["a"] * n ** -TRUTH["alpha"] + TRUTH["b"] * d ** -TRUTH["beta"]
        assert l_opt == pytest.approx(floor, rel=1e-12)
        # shapes broadcast: a grid of lr x batch around the optimum, every point above the floor
        lr = lr_opt * np.exp(np.linspace(-2, 2, 9))[:, None]
        b = b_opt * np.exp(np.linspace(-2, 2, 7))[None, :]
        grid = np.asarray(lr_batch_landscape(n, d, jnp.asarray(lr), jnp.asarray(b), **TRUTH))
        assert grid.shape == (9, 7) and np.all(grid >= l_opt - 1e-12)
        assert np.unravel_index(np.argmin(grid), grid.shape) == (4, 3)
        # a learning rate one e-fold off the optimum at the optimal batch costs k_lr u^2, u = (e^{s x} - 1) / s:
        # more above the optimum than below it when s_lr > 0
        s_lr = TRUTH["s_lr"]
        for x in (1.0, -1.0):
            off = float(lr_batch_landscape(n, d, lr_opt * np.exp(x), b_opt, **TRUTH))
            assert off - l_opt == pytest.approx(TRUTH["k_lr"] * (np.expm1(s_lr * x) / s_lr) ** 2, rel=1e-9)
        above, below = (float(lr_batch_landscape(n, d, lr_opt * f, b_opt, **TRUTH)) for f in (4.0, 0.25))
        assert above > below
        # s = 0 is the symmetric quadratic, with finite gradients
        sym = {**TRUTH, "s_lr": 0.0, "s_b": 0.0}
        assert float(lr_batch_landscape(n, d, lr_opt * np.e, b_opt, **sym)) - l_opt == pytest.approx(TRUTH["k_lr"],
                                                                                                     rel=1e-5)
        g0 = jax.grad(lambda s: lr_batch_landscape(n, d, 2 * lr_opt, b_opt, **{**sym, "s_lr": s}))(0.0)
        assert np.isfinite(float(g0))
        # gradients are finite and vanish at the optimum
        g = jax.grad(lambda x: lr_batch_landscape(n, d, jnp.exp(x[0]), jnp.exp(x[1]), **TRUTH))(
            jnp.log(jnp.array([lr_opt, b_opt])))
        np.testing.assert_allclose(np.asarray(g), 0.0, atol=1e-10)
        gp = jax.grad(lambda e: lr_batch_landscape(n, d, 1e-3, 1e6, **{**TRUTH, "e": e}))(1.8)
        assert float(gp) == pytest.approx(1.0)
    # the floor falls with N and D at each cell's own optimum (family-1 monotonicity)
    floors = [float(landscape_optimum(nn, dd, **TRUTH)[2]) for nn, dd in ((1e8, 2e9), (1e9, 2e9), (1e9, 2e10))]
    assert floors[0] > floors[1] > floors[2]


def test_flag_diverged_marks_runs_far_above_their_cell_best():
    runs = pd.DataFrame({"n": [1.0] * 4 + [2.0] * 3, "d": 1.0, "loss": [2.5, 2.6, 7.1, 3.6, 2.2, 2.3, 11.0]})
    np.testing.assert_array_equal(flag_diverged(runs), [False, False, True, False, False, False, True])
    np.testing.assert_array_equal(flag_diverged(runs, factor=1.4), [False, False, True, True, False, False, True])


@pytest.fixture(scope="module")
def recovery_fit():
    runs = bs.simulate_ladder(LAW, TRUTH, design=_design(), noise_sd=0.003, noise_slope=SLOPE, seed=3)
    return bs.fit(LAW, runs, seed=3, progress_bar=False)


@pytest.mark.statistical
def test_landscape_recovers_its_parameters(recovery_fit):
    assert recovery_fit.diagnostics.ok, recovery_fit.diagnostics
    truth = {**TRUTH, "sigma": 0.003, "sigma_slope": SLOPE}
    s = recovery_fit.summary(list(truth), ci_prob=0.98)
    for p, v in truth.items():
        assert s.loc[p, "q01"] < v < s.loc[p, "q99"], (p, s.loc[p].to_dict())


def test_landscape_noise_grows_with_the_excess_over_the_floor():
    design = _design()
    xs = [design[k].to_numpy(float) for k in LAW.inputs]
    floor = TRUTH["e"] + TRUTH["a"] * xs[0] ** -TRUTH["alpha"] + TRUTH["b"] * xs[1] ** -TRUTH["beta"]
    with jax.enable_x64(True):
        excess = np.asarray(LAW.excess(*xs, **TRUTH))
        mean = np.asarray(LAW(*xs, **TRUTH))
        lr_opt, b_opt, _ = landscape_optimum(1e9, 2e10, **TRUTH)
        at_optimum = float(LAW.excess(1e9, 2e10, lr_opt, b_opt, **TRUTH))
    np.testing.assert_allclose(excess, np.log(mean / floor), rtol=1e-10)
    assert at_optimum == pytest.approx(0.0, abs=1e-12)
    assert excess.min() >= 0 and excess.max() > 0.1
    assert noise_params(LAW, "student_t") == ("sigma", "nu", "sigma_slope")
    assert noise_params(LAW, "normal") == ("sigma", "sigma_slope")
    chinchilla = bs.get_law("chinchilla")
    assert noise_params(chinchilla, "student_t") == ("sigma", "nu")
    with pytest.raises(ValueError, match="declares no floor"):
        chinchilla.excess(1e9, 2e10, e=1.7, a=400.0, b=400.0, alpha=0.3, beta=0.3)
    # simulated: with noise_sd = 0 the log residual is noise_slope * excess * N(0, 1)
    runs = bs.simulate_ladder(LAW, TRUTH, design=design, noise_sd=0.0, noise_slope=0.5, seed=0)
    z = np.log(runs["loss"].to_numpy() / mean) / excess
    assert np.std(z) == pytest.approx(0.5, rel=0.15)
    with pytest.raises(ValueError, match="Law.floor"):
        bs.simulate_ladder("chinchilla", noise_slope=0.1)
    with pytest.raises(ValueError, match="noise_slope must be"):
        bs.simulate_ladder(LAW, TRUTH, design=design, noise_slope=-0.1)


@pytest.mark.statistical
def test_landscape_likelihood_scale_is_sigma_plus_slope_times_excess(recovery_fit, tmp_path):
    """The stored pointwise log-likelihood is the Student-t of log loss with scale sigma + sigma_slope * excess."""
    post = recovery_fit.draws([*TRUTH, "sigma", "nu", "sigma_slope"])
    runs = recovery_fit.runs()
    xs = [runs[k].to_numpy(float) for k in LAW.inputs]
    i = 17  # any draw
    params = {p: float(np.ravel(post[p])[i]) for p in TRUTH}
    with jax.enable_x64(True):
        excess, mean = np.asarray(LAW.excess(*xs, **params)), np.asarray(LAW(*xs, **params))
    scale = float(np.ravel(post["sigma"])[i]) + float(np.ravel(post["sigma_slope"])[i]) * excess
    expected = stats.t.logpdf(np.log(runs["loss"].to_numpy()), float(np.ravel(post["nu"])[i]), np.log(mean), scale)
    site = recovery_fit.tree["log_likelihood"]["log_loss"].values
    np.testing.assert_allclose(site.reshape(-1, site.shape[-1])[i], expected, rtol=1e-8)
    # the floor is saved with the fit (exported like fn): the reloaded fit's law has it and predicts the same
    loaded = bs.load(recovery_fit.save(tmp_path / "landscape.nc"))
    assert loaded.law.floor is not None and "sigma_slope" in loaded.tree["posterior"]
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(loaded.law.excess(*xs, **params)), excess, rtol=1e-10, atol=1e-12)
    new = runs.head(3)[list(LAW.inputs)]
    np.testing.assert_allclose(loaded.predict(new)["mean"], recovery_fit.predict(new)["mean"], rtol=1e-10)
    saved = json.loads(LAW.to_json())
    assert saved["floor"] and saved["floor_export"]
    # a file written before the law declared its floor (constant noise) does not match the registered law: it is
    # rebuilt from its exported function, without a floor, so it keeps the noise it was fitted with
    old = law_from_dict({k: v for k, v in saved.items() if k not in ("floor", "floor_export")})
    assert old is not LAW and old.floor is None and noise_params(old, "student_t") == ("sigma", "nu")
    assert law_from_dict(saved) is LAW
    with pytest.raises(ValueError, match="Law.floor"):  # next_run's simulated outcomes have one sd per draw
        _noise_draws(recovery_fit, 10)


@pytest.mark.statistical
def test_recommend_finds_the_optimum_and_prices_a_point(recovery_fit):
    n, d = 3e9, 6e10
    true_lr, true_b, true_loss = (float(v) for v in landscape_optimum(n, d, **TRUTH))
    off = {"lr": 4 * true_lr, "batch": true_b}
    rec = recommend(recovery_fit, n=n, d=d, point=off, quantiles=(0.01, 0.5, 0.99))
    t = rec.table.set_index("quantity")
    # the optimum of every draw is the law's closed form, found by the grid and Newton search
    draws = recovery_fit.draws(["eta_ref", "p", "q"])
    closed = draws["eta_ref"] * (n / 1e9) ** draws["p"] * (d / 1e11) ** draws["q"]
    assert t.loc["lr_opt", "q50"] == pytest.approx(np.median(closed), rel=1e-6)
    for name, true in (("lr_opt", true_lr), ("batch_opt", true_b), ("loss_opt", true_loss)):  # 98% intervals
        assert t.loc[name, "q01"] < true < t.loc[name, "q99"], t.loc[name]
    # a posterior this concentrated chooses what the point estimate chooses, at a negligible penalty
    assert rec.choice["lr"] == pytest.approx(rec.plug_in["lr"], rel=0.06)
    assert rec.choice["batch"] == pytest.approx(rec.plug_in["batch"], rel=0.1)
    assert 0 <= t.loc["penalty", "mean"] < 1e-3
    # a learning rate 4x too high costs k_lr u^2 with u = (4^s - 1) / s
    expected = TRUTH["k_lr"] * (np.expm1(TRUTH["s_lr"] * np.log(4)) / TRUTH["s_lr"]) ** 2
    assert t.loc["penalty_at_point", "q50"] == pytest.approx(expected, rel=0.15)
    assert "Recommendation(n=3e+09" in repr(rec)


def test_recommend_compiles_whole_programs_not_each_operation(recovery_fit):
    """The law's surface and the Newton steps run as compiled programs: evaluated operation by operation, the
    hyperparameters case study's recommendations compiled about 390 programs in a new process (2026-12-03)."""
    jax.clear_caches()  # as in a new process
    counter = CompileCounter()
    recommend(recovery_fit, n=3e9, d=6e10, point={"lr": 1e-3, "batch": 1e6})
    assert counter.lowerings <= 40, counter.lowerings


def test_recommend_errors_are_clear(recovery_fit):
    with pytest.raises(ValueError, match=r"missing \['d'\]"):
        recommend(recovery_fit, n=1e9)
    with pytest.raises(ValueError, match="choose must name"):
        recommend(recovery_fit, choose=("depth",), n=1e9, d=1e10)
    with pytest.raises(ValueError, match="point must give"):
        recommend(recovery_fit, n=1e9, d=1e10, point={"lr": 1e-3})
    with pytest.raises(ValueError, match=r"n must be a finite number > 0, got -1.0"):
        recommend(recovery_fit, n=-1.0, d=1e10)
    with pytest.raises(ValueError, match=r"d='plenty' is not a size; give a number or a size like '350M'"):
        recommend(recovery_fit, n=1e9, d="plenty")
    # sizes written as text, as the runs table takes them
    by_text = recommend(recovery_fit, n="3B", d="60B").table
    pd.testing.assert_frame_equal(by_text, recommend(recovery_fit, n=3e9, d=6e10).table)


@pytest.mark.statistical
def test_landscape_sbc_and_negative_control(sbc_alpha):
    design = _design(sizes=(1e8, 1e10), ratios=(20, 200), lrs=4, batches=3)
    draws = dict(num_warmup=300, num_samples=300)  # one chain of 300 draws per fit, ranks among 99 of them
    good = bs.calibrate(LAW, num_simulations=100, design=design, seed=0, alpha=sbc_alpha, **draws)
    assert good.passed, good.summary()
    with warnings.catch_warnings():  # the control fails by a wide margin (p ~ 1e-30 at S = 20, every rank piled)
        warnings.simplefilter("ignore")
        wrong = bs.calibrate(LAW, num_simulations=20, design=design, seed=0, fit_priors={"r": dist.Normal(0.0, 0.05)},
                             **draws)
    assert not wrong.passed and "r" in wrong.failed


# ------------------------------------------------------------------------------------------ McCandlish's trade-off
@pytest.fixture(scope="module")
def steps_fit():
    design = pd.DataFrame({"b": 32.0 * 2.0 ** np.arange(10)})
    runs = bs.simulate_ladder("mccandlish", {"s_min": 1000.0, "b_noise": 512.0}, design=design, noise_sd=0.01,
                              seed=4)
    return bs.fit("mccandlish", runs, seed=4, progress_bar=False)


def test_batch_tradeoff_balances_time_and_compute(steps_fit):
    batches = 32.0 * 2.0 ** np.arange(10)
    # cost = w_t S + w_c S B is least at B = sqrt(w_t B_noise / w_c): 1024 for w_t / w_c = 2048
    t = batch_tradeoff(steps_fit, batches, w_time=2048.0, w_compute=1.0)
    assert t.best == 1024.0 and t.table["p_cheapest"].sum() == pytest.approx(1.0)
    assert t.table.set_index("batch").loc[1024.0, "p_cheapest"] > 0.9
    row = t.table.set_index("batch").loc[512.0]
    assert row["steps_q05"] < 2000 < row["steps_q95"] and row["tokens_q05"] < 2000 * 512 < row["tokens_q95"]
    assert batch_tradeoff(steps_fit, batches, w_time=1.0).best == batches.max()  # time only: the largest batch
    assert batch_tradeoff(steps_fit, batches, w_time=0.0, w_compute=1.0).best == batches.min()  # compute only
    with pytest.raises(ValueError, match="not both 0"):
        batch_tradeoff(steps_fit, batches, w_time=0.0)
    with pytest.raises(ValueError, match="finite and > 0"):
        batch_tradeoff(steps_fit, [0.0, 64.0])


def test_batch_tradeoff_refuses_what_it_would_ignore_or_misread(steps_fit):
    batches = 32.0 * 2.0 ** np.arange(10)
    # a misspelt weight is not taken for a group predictor and dropped (it changed the decision silently)
    with pytest.raises(TypeError, match=r"batch_tradeoff got unknown keyword\(s\) \['w_comptue'\]; did you mean "
                                        r"'w_compute' for 'w_comptue'\?: it takes \['w_time', 'w_compute', "
                                        r"'tokens_per_unit', 'group', 'quantiles'\] and no group-predictor columns"):
        batch_tradeoff(steps_fit, batches, w_time=2048.0, w_comptue=1.0)
    for kw, match in (({"w_time": float("nan")}, "weights must be finite"),
                      ({"w_compute": float("inf")}, "weights must be finite"),
                      ({"tokens_per_unit": 0}, r"tokens_per_unit must be finite and > 0 \(the sequence length"),
                      ({"tokens_per_unit": -512}, "tokens_per_unit must be finite and > 0")):
        with pytest.raises(ValueError, match=match):
            batch_tradeoff(steps_fit, batches, **kw)
    with pytest.raises(ValueError, match=r"batches \[256.0\] are given twice"):
        batch_tradeoff(steps_fit, [256, 256, 512])
    with pytest.warns(UserWarning, match=r"batches \[1.0, 1000000.0\] lie over 10x beyond the fitted runs' batches"):
        batch_tradeoff(steps_fit, [1, 256, 1e6])
    t = batch_tradeoff(steps_fit, batches, w_time=2048.0, w_compute=1.0, tokens_per_unit=512)
    assert t.tokens_per_unit == 512.0
    row = t.table.set_index("batch").loc[512.0]
    assert row["tokens_q05"] < 2000 * 512 * 512 < row["tokens_q95"]
    text = repr(t)
    assert text.startswith(f"BatchTradeoff(best batch {t.best:g}; cost = 2048 x steps + 1 x tokens, tokens = steps x "
                           "batch x 512 tokens per unit of b)\n") and "p_cheapest" in text


@pytest.mark.slow
def test_hyperparameters_case_study_smoke(tmp_path, run_case_study):
    out = run_case_study("hyperparameters", tmp_path)
    assert "Step Law's exponents" in out and "diverged" in out
    preds = pd.read_csv(tmp_path / "predictions.csv")
    assert list(preds.columns[:3]) == ["n", "d", "quantity"] and set(preds["quantity"]) == {"lr", "batch_tokens"}
    assert set(preds["d"]) == {2e10, 5.69e10} and set(preds["n"]) == {1_073_741_824}
    assert {"q05", "q25", "q50", "q75", "q95"} <= set(preds.columns)
    assert (preds["q05"] <= preds["q50"]).all() and (preds["q50"] <= preds["q95"]).all()
    rec = pd.read_csv(tmp_path / "recommendation.csv")
    assert (rec["expected_penalty"] >= 0).all() and rec["expected_loss"].between(1.5, 3.5).all()
    exps = pd.read_csv(tmp_path / "exponents.csv").set_index("quantity")
    assert exps.loc["p", "published"] == -0.713 and exps.loc["r", "published"] == 0.571
    assert (tmp_path / "hyperparameters.png").stat().st_size > 10_000
