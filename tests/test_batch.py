"""Family 4, batch size: McCandlish's law, Kaplan's and the power-law critical batch, group-level predictors."""

from __future__ import annotations

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from _recovery import far_from_truth
from bayescale.models.batch import kaplan_bcrit, mccandlish_steps, zhang_cbs

import bayescale as bs
from bayescale.predict import parameter_draws

DESIGN = pd.DataFrame({"b": 32.0 * 2.0 ** np.arange(10)})


def _sweep(seed=0, sizes=(8.5e7, 1.5e8, 3e8, 6e8, 1.2e9), exponent=0.45, sd=0.04):
    """Steps to a target at 9 batch sizes for each model size, B_noise = 900 (N / 3e8)^exponent."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(sizes):
        b_noise = 900 * (n / 3e8) ** exponent * np.exp(rng.normal(0, 0.05))
        s_min = 1500 * (n / 3e8) ** 0.5
        for b in 64 * 2.0 ** np.arange(9):
            rows.append({"model": f"m{i}", "n": n, "d": 20 * n, "b": b,
                         "steps": s_min * (1 + b_noise / b) * np.exp(rng.normal(0, sd))})
    return pd.DataFrame(rows)


def test_mccandlish_steps_and_examples_share_two_parameters():
    b = np.array([64.0, 256.0, 4096.0])
    with jax.enable_x64(True):
        s = np.asarray(mccandlish_steps(jnp.asarray(b), s_min=1000.0, b_noise=512.0))
        log_s = np.asarray(bs.get_law("mccandlish").log(jnp.asarray(b), s_min=1000.0, b_noise=512.0))
    np.testing.assert_allclose(s, 1000 * (1 + 512 / b))
    np.testing.assert_allclose(log_s, np.log(s), rtol=1e-12)
    examples = b * s  # E = E_min (1 + B / B_noise) with E_min = S_min B_noise
    np.testing.assert_allclose(examples, 1000 * 512 * (1 + b / 512))
    # (S / S_min - 1)(E / E_min - 1) = 1
    np.testing.assert_allclose((s / 1000 - 1) * (examples / (1000 * 512) - 1), 1.0)
    # Zhang's 20%-overhead critical batch from B_noise, as their notebook computes it from steps = a + b / B
    a, bb = 1293.826869, 2.834258e6  # their 85M fit
    assert zhang_cbs(bb / a) == pytest.approx(745.320147, rel=1e-6)


def test_kaplan_critical_batch_check_values():
    law = bs.get_law("kaplan_bcrit")
    p = law.published
    for loss, expected in ((2.0, 7.4e6), (3.0, 1.07e6), (4.0, 2.7e5)):
        assert float(kaplan_bcrit(loss, **p)) == pytest.approx(expected, rel=0.03)
    assert law.monotone == {"loss": -1}


def test_critical_batch_power_law_in_n_and_d():
    law = bs.get_law("bcrit_power")
    v = float(law(n=2e9, d=4e10, c=1e6, b_n=0.1, b_d=0.5))
    assert v == pytest.approx(1e6 * 2 ** 0.1 * 4 ** 0.5)


@pytest.mark.statistical
def test_mccandlish_recovers_its_parameters():
    truth = {"s_min": 2000.0, "b_noise": 700.0}
    runs = bs.simulate_ladder("mccandlish", truth, design=DESIGN, noise_sd=0.03, seed=1)
    fit = bs.fit("mccandlish", runs, seed=1, progress_bar=False)
    assert fit.diagnostics.ok, fit.diagnostics
    assert far_from_truth(fit, truth) == {}


@pytest.mark.statistical
def test_mccandlish_sbc_and_negative_control(sbc_alpha):
    good = bs.calibrate("mccandlish", num_simulations=100, design=DESIGN, seed=0, alpha=sbc_alpha)
    assert good.passed, good.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrong = bs.calibrate("mccandlish", num_simulations=20, design=DESIGN, seed=0,
                             fit_priors={"b_noise": dist.LogNormal(np.log(1e5), 0.2)})
    assert not wrong.passed and "b_noise" in wrong.failed


@pytest.mark.statistical
def test_group_predictors_recover_the_exponent_and_predict_a_held_out_size():
    runs = _sweep()
    train = runs[runs["model"] != "m4"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit("mccandlish", train, groups="model", pool={"s_min": "partial", "b_noise": "partial"},
                     group_predictors={"b_noise": ["n"], "s_min": ["n"]}, pooling="noncentred", seed=0,
                     target_accept_prob=0.99, progress_bar=False)
    assert fit.diagnostics.divergences <= 5, fit.diagnostics
    assert {"b_noise_on_n", "s_min_on_n"} <= set(fit.param_vars)  # judged by the checks, in the summary
    s = fit.summary(["b_noise_on_n", "s_min_on_n"], ci_prob=0.98)
    assert s.loc["b_noise_on_n", "q01"] < 0.45 < s.loc["b_noise_on_n", "q99"]
    assert s.loc["s_min_on_n", "q01"] < 0.5 < s.loc["s_min_on_n", "q99"]
    assert fit.config.group_predictors["b_noise"]["n"] == pytest.approx(np.mean(np.log(train["n"].unique())))
    # the held-out size: its critical batch from its own N
    held = runs[runs["model"] == "m4"].iloc[:1][["model", "n"]]
    bn = parameter_draws(fit, held)["b_noise"][:, 0]
    truth = 900 * (1.2e9 / 3e8) ** 0.45
    assert np.quantile(bn, 0.02) < truth < np.quantile(bn, 0.98)
    known = parameter_draws(fit, pd.DataFrame({"model": ["m0"], "n": [8.5e7]}))["b_noise"][:, 0]
    np.testing.assert_array_equal(known, fit.draws(["b_noise"])["b_noise"][:, 0])
    pred = fit.predict(held.assign(b=256.0))
    assert pred.attrs["new_groups"] == ["m4"]


def test_group_predictor_errors_are_clear():
    runs = _sweep()
    with pytest.raises(ValueError, match="needs groups="):
        bs.fit("mccandlish", runs, group_predictors={"b_noise": ["n"]})
    with pytest.raises(ValueError, match="must be partially pooled"):
        bs.fit("mccandlish", runs, groups="model", pool={"b_noise": "independent"},
               group_predictors={"b_noise": ["n"]})
    with pytest.raises(ValueError, match="varies within group"):
        bs.fit("mccandlish", runs.assign(n=runs["n"] * (1 + runs.index % 2)), groups="model",
               pool={"b_noise": "partial"}, group_predictors={"b_noise": ["n"]})
    with pytest.raises(bs.RunTableError, match="group-level predictor"):
        bs.fit("mccandlish", runs.drop(columns="n"), groups="model", pool={"b_noise": "partial"},
               group_predictors={"b_noise": ["n"]})
    with pytest.raises(TypeError, match=r"group_predictors= maps parameters to predictor columns"):
        bs.fit("mccandlish", runs, groups="model", pool={"b_noise": "partial"}, group_predictors=["b_noise"])
    with warnings.catch_warnings(), pytest.raises(bs.DataWarning, match=r"group predictor 'n' takes the same value "
                                                                         r"\(1e\+09\) in every group"):
        warnings.simplefilter("error", bs.DataWarning)  # stops the fit at the warning, before sampling
        bs.fit("mccandlish", runs.assign(n=1e9), groups="model", pool={"b_noise": "partial"},
               group_predictors={"b_noise": ["n"]})


def test_prediction_fills_in_a_fitted_groups_predictors_and_refuses_values_it_would_ignore():
    runs = _sweep()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains: what prediction takes is checked
        warnings.simplefilter("ignore", bs.PriorWarning)
        fit = bs.fit("mccandlish", runs, groups="model", pool={"b_noise": "partial"},
                     group_predictors={"b_noise": ["n"]}, num_chains=1, num_warmup=30, num_samples=20, seed=0,
                     progress_bar=False)
    # a fitted group at another size: its parameters are its own, so the size would change nothing
    with pytest.raises(ValueError, match=r"group predictor 'n' is 1e\+09 for fitted group 'm0' \(row 0\), which "
                                         r"was fitted with n=8.5e\+07.*or a new group label"):
        fit.predict(pd.DataFrame({"model": ["m0"], "n": [1e9], "b": [256.0]}))
    with pytest.raises(ValueError, match="fitted group 'm1'"):
        parameter_draws(fit, pd.DataFrame({"model": ["m0", "m1"], "n": [8.5e7, 2e8]}))
    # one group at two sizes in the new frame: only its first row's would count
    with pytest.raises(ValueError, match=r"group predictor 'n' varies within group 'new' \(rows 0, 1\)"):
        fit.predict(pd.DataFrame({"model": ["new", "new"], "n": [1e9, 2e9], "b": [256.0, 512.0]}))
    # the fitted values, and a new group at any size, are fine
    fitted = fit.predict(runs.iloc[:2].drop(columns="steps"))
    assert list(fitted.index) == [0, 1]
    new = fit.predict(pd.DataFrame({"model": ["new"], "n": [2e9], "b": [256.0]}))
    assert new.attrs["new_groups"] == ["new"]
    # a fitted group's predictor need not be repeated: the value it was fitted with is filled in
    pd.testing.assert_frame_equal(fit.predict({"model": "m1", "b": 256.0}, seed=3),
                                  fit.predict({"model": "m1", "n": 1.5e8, "b": 256.0}, seed=3))
    np.testing.assert_array_equal(parameter_draws(fit, {"model": ["m0", "m1"]})["b_noise"],
                                  fit.draws(["b_noise"])["b_noise"][:, :2])
    np.testing.assert_array_equal(parameter_draws(fit, pd.Series(["m1"], name="model"))["b_noise"][:, 0],
                                  fit.draws(["b_noise"])["b_noise"][:, 1])  # a named Series: one group column
    with pytest.raises(bs.RunTableError, match=r"column 'n' .* is missing"):  # a new group's must be given
        fit.predict({"model": "new", "b": 256.0})
    with pytest.raises(bs.RunTableError, match=r"column\(s\) \['model', 'n'\] are missing .*; the table has columns "
                                               r"\['group'\]$"):
        parameter_draws(fit, pd.DataFrame({"group": ["m0"]}))
    with pytest.raises(TypeError, match=r"groups must be a DataFrame or a mapping of the fit's group columns "
                                        r"\['model'\] .* e.g. \{'model': \[...\]\}; got list"):
        parameter_draws(fit, ["m0"])


@pytest.mark.slow
def test_critical_batch_case_study_smoke(tmp_path, run_case_study):
    out = run_case_study("critical_batch", tmp_path)
    assert "Does the critical batch follow model size or data?" in out and "Held-out 1.2B" in out
    table = pd.read_csv(tmp_path / "predictions.csv")
    assert set(table["quantity"]) == {"b_noise_seqs", "cbs_seqs"} and set(table["fit"]) == {"all", "without_1.2B"}
    assert {"q05", "q25", "q50", "q75", "q95"} <= set(table.columns)
    assert (tmp_path / "critical_batch.png").stat().st_size > 10_000
    trade = pd.read_csv(tmp_path / "tradeoff.csv")
    assert trade.groupby("weights")["p_cheapest"].sum().round(6).eq(1.0).all() and trade["weights"].nunique() == 4
    # the answers of the full run (README, 2026-12-04), which the smoke run's short chains reproduce on the same data
    rows = table.set_index(["model", "quantity", "fit"])
    zhang = {"85M": 745.3, "151M-ablation": 955.2, "302M": 1393.7, "604M": 1888.5, "1.2B": 2533.4}  # their notebook
    for model, cbs in zhang.items():
        r = rows.loc[(model, "cbs_seqs", "all")]
        assert r["q05"] < cbs < r["q95"], (model, cbs, r.to_dict())
    held, own = rows.loc[("1.2B", "b_noise_seqs", "without_1.2B")], rows.loc[("1.2B", "b_noise_seqs", "all")]
    assert held["q05"] < own["q50"] < held["q95"], (held.to_dict(), own["q50"])
    total = re.search(r"b_N \+ b_D (\S+) \[(\S+), (\S+)\]", out)  # full run: 0.63 [0.52, 0.72]
    assert total and 0.45 < float(total[2]) < float(total[1]) < float(total[3]) < 0.85, out
    best = trade.loc[trade.groupby("weights")["expected_cost"].idxmin()].set_index("weights")["batch"]
    assert best.to_dict() == {"time only": 16384, "a step costs as much as 1M tokens": 4096,
                              "a step costs as much as 4M tokens": 8192, "compute only": 64}, best


# --------------------------------------------------------------------------------------------- optimal hyperparameters
def test_optimal_hyperparameter_laws_reproduce_the_published_forms():
    lr, batch = bs.get_law("steplaw_lr"), bs.get_law("steplaw_batch")
    for n, d in ((1.07e9, 2e10), (1.07e9, 5.69e10), (3e8, 1e12)):  # float32 evaluation: 1e-6
        assert float(lr(n=n, d=d, **lr.published)) == pytest.approx(1.79 * n ** -0.713 * d ** 0.307, rel=1e-6)
        assert float(batch(d=d, **batch.published)) == pytest.approx(0.58 * d ** 0.571, rel=1e-6)
    for name, (a, k) in (("deepseek_lr", (0.3118, -0.1250)), ("deepseek_batch", (0.2920, 0.3271))):
        law = bs.get_law(name)
        for c in (1e17, 3e20, 1e24):
            assert float(law(c=c, **law.published)) == pytest.approx(a * c ** k, rel=1e-6)


@pytest.mark.statistical
def test_steplaw_lr_recovery_sbc_and_negative_control(sbc_alpha):
    design = pd.DataFrame([{"n": n, "d": n * t} for n in np.geomspace(1e8, 3e9, 5) for t in (8, 20, 60, 200)])
    truth = bs.get_law("steplaw_lr").published
    runs = bs.simulate_ladder("steplaw_lr", truth, design=design, noise_sd=0.1, seed=2)
    fit = bs.fit("steplaw_lr", runs, seed=2, progress_bar=False)
    assert fit.diagnostics.ok, fit.diagnostics
    # the residual sd's prior scale is the law's (a grid's best learning rates scatter more than losses)
    assert bs.get_law("steplaw_lr").noise_scale == 0.5 and fit.config.sigma_scale == 0.5
    assert bs.get_law("chinchilla").noise_scale == 0.1
    s = fit.summary(list(truth), ci_prob=0.98)
    for p, v in truth.items():
        assert s.loc[p, "q01"] < v < s.loc[p, "q99"], (p, s.loc[p].to_dict())
    good = bs.calibrate("steplaw_lr", num_simulations=100, design=design, seed=0, alpha=sbc_alpha)
    assert good.passed, good.summary()
    wrong = bs.calibrate("steplaw_lr", num_simulations=20, design=design, seed=0,
                         fit_priors={"p": dist.Normal(0.5, 0.1)})
    assert not wrong.passed and "p" in wrong.failed
