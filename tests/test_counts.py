"""Count likelihoods: an accuracy as correct answers out of each run's known items (Binomial, Beta-Binomial)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from _recovery import far_from_truth
from scipy import stats

import bayescale as bs
from bayescale.build import CountsOnLink, count_accuracy, count_link, from_site, to_site

LAW = "sigmoid_transfer"
TRUTH = {"ceiling": 0.8, "k": 4.0, "l0": 1.5}
#: 24 losses, each scored on 100 to 3,000 items (the sizes of common benchmarks' test sets)
DESIGN = pd.DataFrame({"loss": np.linspace(0.6, 3.0, 24), "n_items": np.tile([100, 300, 1000, 3000], 6).astype(float)})


def _runs(seed: int = 0, overdispersion: float | None = None) -> pd.DataFrame:
    """Correct answers drawn for each run: Binomial, or Beta-Binomial with concentration ``overdispersion``."""
    rng = np.random.default_rng(seed)
    p = np.asarray(bs.get_law(LAW)(DESIGN["loss"].to_numpy(), **TRUTH))
    if overdispersion is not None:
        p = rng.beta(p * overdispersion, (1 - p) * overdispersion)
    k = rng.binomial(DESIGN["n_items"].to_numpy().astype(int), p)
    return DESIGN.assign(acc=k / DESIGN["n_items"])


def test_count_scale_is_one_to_one_and_finite_at_both_ends():
    n = 40.0
    k = np.arange(41.0)
    value = count_link(k / n, n)
    assert np.isfinite(value).all() and (np.diff(value) > 0).all()
    np.testing.assert_array_equal(count_accuracy(value, n), k / n)
    np.testing.assert_allclose(value, np.log((k + 0.5) / (n - k + 0.5)))


def test_site_scale_is_the_link_or_the_counts():
    """to_site / from_site: the law's link for the other likelihoods (items ignored), the counts' scale for these."""
    law, acc, n = bs.get_law(LAW), np.array([0.0, 0.25, 1.0]), np.array([4.0, 8.0, 10.0])
    np.testing.assert_allclose(to_site(law, "binomial", acc, n), count_link(acc, n))
    np.testing.assert_allclose(from_site(law, "beta_binomial", to_site(law, "beta_binomial", acc, n), n), acc)
    inside = np.array([0.2, 0.5, 0.9])
    np.testing.assert_allclose(to_site(law, "student_t", inside, n), np.log(inside / (1 - inside)))
    np.testing.assert_allclose(from_site(law, "beta", to_site(law, "beta", inside)), inside)
    loss = bs.get_law("chinchilla")
    np.testing.assert_allclose(to_site(loss, "normal", np.array([2.0])), np.log([2.0]))


@pytest.mark.parametrize("kind", ["binomial", "beta_binomial"])
def test_counts_on_link_carry_the_counts_mass_and_draws(kind):
    """log_prob at a count's value is scipy's pmf; draws map back to whole counts with the right mean."""
    with jax.enable_x64(True):
        n, p = jnp.array([10, 200, 3000]), jnp.array([0.1, 0.5, 0.93])
        counts = (dist.Binomial(total_count=n, probs=p) if kind == "binomial"
                  else dist.BetaBinomial(p * 50.0, (1 - p) * 50.0, total_count=n))
        like = CountsOnLink(counts, n.astype(float))
        ks = np.array([[0.0, 17.0, 2790.0], [10.0, 100.0, 3000.0]])
        at = count_link(ks / np.asarray(n), np.asarray(n, dtype=float))
        # one program for the mass and the draws (run op by op, JAX compiled each of the samplers' operations on its
        # own: 21 s of XLA for both kinds in a CI run on a 2-core AMD EPYC, 2026-12-06)
        got, draws = (np.asarray(v) for v in jax.jit(lambda key: (like.log_prob(at), like.sample(key, (4000,))))(
            jax.random.PRNGKey(0)))
        ref = (stats.binom.logpmf(ks, np.asarray(n), np.asarray(p)) if kind == "binomial"
               else stats.betabinom.logpmf(ks, np.asarray(n), np.asarray(p) * 50, (1 - np.asarray(p)) * 50))
        # NumPyro's Beta-Binomial mass uses JAX's betaln, good to about 1e-9 here (1e-6 at worst)
        np.testing.assert_allclose(got, ref, rtol=1e-9 if kind == "binomial" else 1e-6, atol=1e-9)
    acc = count_accuracy(draws, np.asarray(n, dtype=float))
    whole = acc * np.asarray(n)
    np.testing.assert_allclose(whole, np.round(whole), atol=1e-9)
    # each score's mean within 4.5 Monte Carlo standard errors of p (from the counts' own variance)
    nn, pp = np.asarray(n, dtype=float), np.asarray(p)
    var = (stats.binom.var(nn, pp) if kind == "binomial" else stats.betabinom.var(nn, pp * 50, (1 - pp) * 50)) / nn**2
    assert (np.abs(acc.mean(0) - pp) <= 4.5 * np.sqrt(var / len(acc))).all(), (acc.mean(0), pp, np.sqrt(var / len(acc)))


@pytest.mark.statistical
@pytest.mark.parametrize("kind", ["binomial", "beta_binomial"])
def test_count_likelihood_recovers_the_law(kind):
    runs = _runs(seed=1, overdispersion=300.0 if kind == "beta_binomial" else None)
    fit = bs.fit(LAW, runs, likelihood=kind, noise="n_items", seed=0, progress_bar=False)
    assert fit.diagnostics.ok, fit.diagnostics
    assert far_from_truth(fit, TRUTH) == {}
    assert ("phi" in fit.tree.posterior) == (kind == "beta_binomial") and "sigma" not in fit.tree.posterior
    if kind == "beta_binomial":  # phi: on the log scale, within the posterior's spread of 300
        phi = np.log(fit.draws(["phi"])["phi"])
        assert abs(np.mean(phi) - np.log(300.0)) < 3.5 * np.std(phi), (np.mean(phi), np.std(phi))


def test_count_predictions_are_whole_answers_out_of_a_new_runs_items():
    fit = bs.fit(LAW, _runs(), likelihood="binomial", noise="n_items", seed=0, progress_bar=False)
    at = pd.DataFrame({"loss": [1.5, 1.5], "n_items": [50.0, 5000.0]})
    draws = bs.predict.predictive_draws(fit, at)[1]
    whole = draws * at["n_items"].to_numpy()
    np.testing.assert_allclose(whole, np.round(whole), atol=1e-6)
    pred = fit.predict(at, quantiles=(0.05, 0.95))
    for col in ("q05", "q95"):  # a score's quantiles are scores too, not values between two (q95 of 5/7 and 6/7)
        answers = pred[col].to_numpy() * at["n_items"].to_numpy()
        np.testing.assert_allclose(answers, np.round(answers), atol=1e-6)
    width = (pred["q95"] - pred["q05"]).to_numpy()
    assert width[0] > 4 * width[1]  # 50 items scatter a score far more than 5,000
    mean = fit.predict(at, kind="mean")  # the curve does not depend on the items
    assert mean["mean"].iloc[0] == pytest.approx(mean["mean"].iloc[1])
    assert bs.predict.typical_noise(fit) == 650.0  # median items of the runs, a whole number
    assert fit.predict(at[["loss"]]).shape[0] == 2  # without the column: the runs' typical items


def test_count_likelihood_takes_scores_of_zero_and_one():
    runs = _runs().assign(acc=lambda r: np.where(r.index < 2, 1.0, np.where(r.index > 21, 0.0, r["acc"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the edited runs do not follow the law: only the likelihood is checked
        fit = bs.fit(LAW, runs, likelihood="binomial", noise="n_items", seed=0, num_warmup=300, num_samples=300,
                     progress_bar=False)
    site = bs.build.obs_site(fit.law)
    assert np.isfinite(fit.tree.log_likelihood[site].values).all()
    observed = fit.tree.observed_data[site].values  # on the site's scale: the corrected logit, finite at 0 and 1
    np.testing.assert_allclose(observed, count_link(runs["acc"].to_numpy(), runs["n_items"].to_numpy()))
    np.testing.assert_allclose(fit.runs()["acc"].to_numpy(), runs["acc"].to_numpy(), rtol=0, atol=1e-12)
    # the predictive checks read the same scale: the runs' scores, and LOO-PIT values that place each edited run
    # beyond what the fit predicts for it, above for the ones and below for the zeros
    loo = fit.check().pareto_k
    np.testing.assert_array_equal(loo["acc"].to_numpy(), runs["acc"].to_numpy())
    assert not np.signbit(loo["acc"].to_numpy()).any()  # a zero score is 0, not -0
    pit = loo["loo_pit"].to_numpy()
    assert np.isfinite(pit).all() and ((pit >= 0) & (pit <= 1)).all()
    assert (pit[:2] > 0.999).all() and (pit[-2:] < 0.001).all(), pit


def test_count_inputs_are_checked_with_named_rows():
    runs = _runs()
    with pytest.raises(ValueError, match=r"likelihood='binomial' models each score as correct answers out of a "
                                         r"known number of items: .*noise= naming the column"):
        bs.fit(LAW, runs, likelihood="binomial")
    with pytest.raises(ValueError, match=r"needs a law with link='logit' \(law 'chinchilla' has link='log'\)"):
        bs.fit("chinchilla", bs.simulate_ladder("chinchilla", seed=0).assign(m=100.0), likelihood="binomial",
               noise="m")
    with pytest.raises(bs.RunTableError, match=r"items column 'n_items' has 2 value\(s\) missing or not whole "
                                               r"numbers >= 1 \(rows 3, 5\)"):
        bs.fit(LAW, runs.assign(n_items=lambda r: np.where(r.index == 3, 99.5, np.where(r.index == 5, 0, r.n_items))),
               likelihood="binomial", noise="n_items")
    with pytest.raises(bs.RunTableError, match=r"column 'acc' times items column 'n_items' is not a whole number of "
                                               r"correct answers at 1 run\(s\) \(row 4; e.g. "):
        bs.fit(LAW, runs.assign(acc=lambda r: np.where(r.index == 4, r.acc + 0.001, r.acc)), likelihood="binomial",
               noise="n_items")
    with pytest.raises(bs.RunTableError, match=r"outside \(0, 1\) \(row 0\).* or fitted as a count "
                                               r"\(likelihood='binomial' with noise= naming the column of k\)"):
        bs.fit(LAW, runs.assign(acc=lambda r: np.where(r.index == 0, 1.0, r.acc)))
    # repeated run labels: the example is taken by position (it raised a TypeError)
    with pytest.raises(bs.RunTableError, match=r"not a whole number of correct answers at 1 run\(s\) \(row 1; e.g. "
                                               r"0.6543 x 100 = 65.430\)"):
        bs.validate_runs(pd.DataFrame({"loss": np.linspace(0.6, 3, 4), "acc": [0.5, 0.6543, 0.5, 0.5], "items": 100},
                                      index=[0, 1, 1, 2]), LAW, noise="items", counts=True)
    # sigma_scale= was accepted and ignored (the draws bit for bit those without it)
    with pytest.raises(ValueError, match=r"sigma_scale= sets the prior of the residual sd sigma, which "
                                         r"likelihood='binomial' has not \(it has no noise parameter\)"):
        bs.fit(LAW, runs, likelihood="binomial", noise="n_items", sigma_scale=5.0)
    with pytest.raises(ValueError, match=r"which likelihood='beta' has not \(its noise is phi\)"):
        bs.fit(LAW, runs.drop(columns="n_items"), likelihood="beta", sigma_scale=5.0)


def test_count_fits_are_kept_apart_where_their_scale_differs():
    runs = _runs()
    fit = bs.fit(LAW, runs, likelihood="binomial", noise="n_items", seed=0, progress_bar=False)
    dense = bs.fit(LAW, runs.drop(columns="n_items"), seed=0, progress_bar=False)
    with pytest.raises(ValueError, match=r"mix count likelihoods \(a probability mass per run\) with densities"):
        bs.compare({"count": fit, "density": dense})
    with pytest.raises(ValueError, match=r"likelihood='binomial': backtest scores predictions on the logit scale"):
        bs.backtest(LAW, runs, by="loss", likelihood="binomial", noise="n_items")
    with pytest.raises(ValueError, match=r"a Chain's stages take 'student_t', 'normal' or 'beta'"):
        bs.fit(bs.chain("chinchilla", LAW), runs, likelihood="binomial", noise="n_items")


@pytest.mark.statistical
def test_binomial_sbc_and_its_negative_control(sbc_alpha):
    good = bs.calibrate(LAW, likelihood="binomial", noise="n_items", design=DESIGN, num_simulations=100, seed=0,
                        alpha=sbc_alpha)
    assert good.passed, good.summary()
    assert set(good.ranks.columns) == {"ceiling", "k", "l0", "log_lik", "pred_half_loss"}
    wrong = bs.calibrate(LAW, likelihood="binomial", noise="n_items", design=DESIGN, num_simulations=20, seed=0,
                         fit_priors={"l0": dist.LogNormal(1.5, 0.1)})
    assert not wrong.passed and "l0" in wrong.failed


@pytest.mark.statistical
def test_beta_binomial_sbc(sbc_alpha):
    res = bs.calibrate(LAW, likelihood="beta_binomial", noise="n_items", design=DESIGN, num_simulations=100, seed=0,
                       alpha=sbc_alpha)
    assert res.passed, res.summary()
    assert "phi" in res.ranks.columns


def test_calibrate_names_the_items_column_of_a_count_likelihood():
    with pytest.raises(ValueError, match=r"noise= names the design's column of items for a count likelihood"):
        bs.calibrate(LAW, likelihood="binomial", design=DESIGN)
    with pytest.raises(ValueError, match=r"noise= names the design's column of items"):
        bs.calibrate(LAW, likelihood="student_t", noise="n_items", design=DESIGN)
    with pytest.raises(bs.RunTableError, match=r"items column 'n_items' has 1 value\(s\) missing or not whole numbers"):
        bs.calibrate(LAW, likelihood="binomial", noise="n_items",
                     design=DESIGN.assign(n_items=np.where(DESIGN.index == 0, 2.5, 100.0)))


def test_cli_fits_and_predicts_counts_with_the_items_column(tmp_path):
    from typer.testing import CliRunner

    from bayescale.cli import app

    _runs().to_csv(tmp_path / "runs.csv", index=False)
    runner = CliRunner()
    res = runner.invoke(app, ["fit", str(tmp_path / "runs.csv"), "--law", LAW, "--likelihood", "binomial", "--noise",
                              "n_items", "--out", str(tmp_path / "fit.nc")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "fit.nc"), "--at", "loss=1.2,n_items=200"])
    assert res.exit_code == 0, res.output
    row = res.output.strip().splitlines()[-1].split()
    assert float(row[0]) == 1.2 and all(abs(float(v) * 200 - round(float(v) * 200)) < 1e-9 for v in row[-3:])
