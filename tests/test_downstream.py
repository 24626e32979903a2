"""Likelihood links (log, logit, identity), the downstream laws (family 2) and the loss-to-loss law (family 3):
spec, recovery, SBC with a negative control."""

from __future__ import annotations

import dataclasses
import warnings

import jax
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from _recovery import far_from_truth
from bayescale.models.downstream import sigmoid_transfer_law

import bayescale as bs
from bayescale.build import obs_site

DESIGN = pd.DataFrame({"loss": np.linspace(0.6, 3.0, 24)})
TRUTH = {"ceiling": 0.8, "k": 4.0, "l0": 1.5}
#: law -> (design, true parameters, a wrong prior for the SBC negative control)
CASES = {
    "sigmoid_transfer": (DESIGN, TRUTH, {"l0": dist.LogNormal(1.5, 0.1)}),
    "exp_error": (pd.DataFrame({"loss": np.linspace(2.5, 6.0, 24)}), {"eps": 0.85, "gamma": 0.7, "l_zero": 0.8},
                  {"eps": dist.Beta(40.0, 160.0)}),
    "bleu_log": (pd.DataFrame({"d": np.geomspace(1e8, 1e11, 16)}), {"alpha": 0.25, "beta": 1.6, "d_star": 200.0},
                 {"beta": dist.LogNormal(np.log(4.0), 0.1)}),
    # tasks of two and four options in one fit: the chance level is an input column
    "sigmoid_transfer_chance": (pd.DataFrame({"loss": np.tile(np.linspace(0.6, 3.0, 12), 2),
                                              "chance": np.repeat([0.25, 0.5], 12)}),
                                {"top": 0.75, "k": 4.0, "l0": 1.5}, {"l0": dist.LogNormal(1.5, 0.1)}),
    # accuracy against compute (the clip_vs_mammut case study's law), on a front from 1e18 to 1e21 FLOPs
    "accuracy_compute": (pd.DataFrame({"c": np.geomspace(1e18, 1e21, 20)}), {"top": 0.9, "c0": 2e17, "alpha": 0.22},
                         {"alpha": dist.LogNormal(np.log(0.8), 0.1)}),
    # family 3: one pair of the loss-to-loss law
    "shifted_power": (pd.DataFrame({"l_x": np.linspace(2.0, 4.5, 20)}),
                      {"k": 1.2, "kappa": 0.9, "e_x": 1.5, "e_y": 1.0}, {"kappa": dist.LogNormal(0.5, 0.05)}),
}


# --------------------------------------------------------------------------------------------- links
@pytest.mark.parametrize(("link", "y"), [("log", [0.5, 2.0, 7.0]), ("logit", [0.01, 0.5, 0.97]),
                                         ("identity", [-1.0, 0.0, 3.0])])
def test_link_round_trip(link, y):
    law = dataclasses.replace(bs.get_law("power_law_c"), name="linked", link=link)
    y = np.asarray(y)
    np.testing.assert_allclose(law.from_link(law.to_link(y)), y, rtol=1e-12)
    assert law.positive == (link == "log")
    assert obs_site(law) == ("loss" if link == "identity" else f"{link}_loss")


def test_link_defaults_follow_positive_and_bad_links_are_refused():
    law = bs.get_law("chinchilla")
    assert law.link == "log"
    assert dataclasses.replace(law, name="free", positive=False, link="").link == "identity"
    with pytest.raises(bs.LawSpecError, match="link must be one of"):
        dataclasses.replace(law, name="bad", link="probit")


def test_accuracy_outside_the_unit_interval_is_refused_with_a_fix():
    law = bs.get_law("sigmoid_transfer")
    runs = pd.DataFrame({"loss": [1.0, 1.5, 2.0, 2.5], "acc": [55.0, 48.0, 40.0, 31.0]})
    with pytest.raises(bs.RunTableError, match=r"column 'acc' has 4 value\(s\) outside \(0, 1\) \(rows 0, 1, 2, 3\); "
                                               r"law 'sigmoid_transfer' models 'acc' on the logit scale, as a fraction "
                                               r"strictly between 0 and 1: it looks like a percentage: divide by 100"):
        bs.validate_runs(runs, law)
    with pytest.raises(bs.RunTableError, match=r"column 'acc' has 1 value\(s\) outside \(0, 1\) \(row 3\); .* a "
                                               r"score of exactly 0 or 1 out of k questions can be moved inside with "
                                               r"the continuity correction \(k \* score \+ 0.5\) / \(k \+ 1\)"):
        bs.validate_runs(runs.assign(acc=[0.55, 0.48, 0.40, 1.0]), law)


def test_chance_levels_are_fractions_from_zero_up_to_one():
    """A chance level in percent (or of 1) was accepted, and the fit then diverged in every transition and predicted
    NaN; 0 (a free-answer task) was refused as non-positive."""
    law = bs.get_law("sigmoid_transfer_chance")
    loss = np.tile(np.linspace(0.6, 3.0, 8), 2)
    chance = np.repeat([0.0, 0.5], 8)
    acc = np.asarray(law.fn(loss, chance, top=0.8, k=3.0, l0=1.5))
    runs = pd.DataFrame({"loss": loss, "chance": chance, "acc": acc})
    with pytest.raises(bs.RunTableError, match=r"column 'chance' has 16 value\(s\) outside \[0, 1\) \(rows 0, 1, .*"
                                               r"'chance-level accuracy \(fraction\)' of law "
                                               r"'sigmoid_transfer_chance', a fraction from 0 up to \(not including\) "
                                               r"1: it looks like a percentage: divide by 100"):
        bs.validate_runs(runs.assign(chance=100 * runs["chance"] + 25), law)
    with pytest.raises(bs.RunTableError, match=r"column 'chance' has 1 value\(s\) outside \[0, 1\) \(row 3\).*"
                                               r"correct or drop those runs"):
        bs.validate_runs(runs.assign(chance=np.where(runs.index == 3, 1.0, runs["chance"])), law)
    assert (bs.validate_runs(runs, law).frame["chance"] == chance).all()  # 0 is a chance level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains: the numbers' finiteness is checked
        fit = bs.fit(law, runs, num_chains=1, num_warmup=150, num_samples=100, seed=0, progress_bar=False,
                     fallback=False)
    assert np.isfinite(fit.meta["log_x0"]["chance"])
    pred = fit.predict({"loss": [1.0, 1.0], "chance": [0.0, 0.5]})
    assert np.isfinite(pred[["q05", "q50", "q95"]].to_numpy()).all() and (pred["q50"].diff().iloc[1] > 0)
    with pytest.raises(bs.RunTableError, match="it looks like a percentage: divide by 100"):
        fit.predict({"loss": [1.0], "chance": [25.0]})


def test_scores_below_their_chance_level_are_recorded():
    """OLMo's ladder scores 0.223 on ARC-Challenge (chance 0.25): the law cannot go there, and nothing said so."""
    law = bs.get_law("sigmoid_transfer_chance")
    runs = pd.DataFrame({"loss": [0.8, 1.0, 1.4, 2.0, 0.8, 1.4], "chance": [0.25] * 4 + [0.5] * 2,
                         "acc": [0.61, 0.48, 0.31, 0.223, 0.81, 0.49]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recorded, not warned
        table = bs.validate_runs(runs, law)
    assert table.notes == ("2 run(s) score below their chance level 'chance' (rows 3, 5; lowest 0.223), where law "
                           "'sigmoid_transfer_chance' cannot go: it reads them as noise below its floor; if a task's "
                           "chance level is lower than given (more answer options), correct that column",)
    assert bs.validate_runs(runs.assign(acc=runs["acc"].clip(lower=0.51)), law).notes == ()
    assert bs.validate_runs(runs[["loss", "chance"]], law, require_target=False).notes == ()


def test_the_default_ladder_spans_the_sigmoids_rise():
    """At the prior's median midpoint the default design (half to 1.5 times the example loss) crosses the rise; at
    an example loss of 3 it sat on the chance floor (10 of 12 runs within 0.016 of 0.25)."""
    acc = bs.simulate_ladder("sigmoid_transfer", seed=0)["acc"]
    assert acc.max() - acc.min() > 0.25 and (acc > 0.3).mean() > 0.9


def test_counts_given_for_accuracies_are_named_as_counts():
    loss = np.linspace(0.6, 3.0, 12)
    acc = 0.25 + 0.5 / (1 + np.exp(3 * (loss - 1.5)))
    runs = pd.DataFrame({"loss": loss, "acc": np.round(acc * 500), "items": 500})
    with pytest.raises(bs.RunTableError, match=r"these look like counts of correct answers: divide by the items "
                                               r"column 'items'"):
        bs.validate_runs(runs, "sigmoid_transfer", noise="items", counts=True)
    with pytest.raises(bs.RunTableError, match=r"e.g. 0.6543 x 14042 = 9187.681\).*a score rounded to fewer "
                                               r"decimals than one item needs"):
        bs.validate_runs(pd.DataFrame({"loss": loss, "acc": 0.6543, "items": 14042}), "sigmoid_transfer",
                         noise="items", counts=True)


# --------------------------------------------------------------------------------------------- the law
def test_sigmoid_transfer_runs_from_ceiling_to_chance():
    law = bs.get_law("sigmoid_transfer")
    assert law.link == "logit" and law.monotone == {"loss": -1}
    acc = np.asarray(law(np.array([0.01, 1.5, 30.0]), **TRUTH))
    expected = 0.25 + 0.55 / (1 + np.exp(4.0 * (np.array([0.01, 1.5, 30.0]) - 1.5)))
    np.testing.assert_allclose(acc, expected, rtol=1e-6)
    assert acc[1] == pytest.approx(0.25 + 0.55 / 2) and acc[2] == pytest.approx(0.25, abs=1e-6)
    two_way = sigmoid_transfer_law(chance=0.5)
    assert two_way.name == "sigmoid_transfer_50"
    assert float(two_way(np.array(30.0), **TRUTH)) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match=r"chance must lie strictly between 0 and 1, got 1.0"):
        sigmoid_transfer_law(chance=1.0)


def test_exp_error_is_gadres_form_and_stays_a_valid_error_rate():
    from bayescale.models.downstream import exp_error, exp_error_zero

    law = bs.get_law("exp_error")
    loss = np.linspace(1.0, 8.0, 15)
    eps, gamma, l_zero = 0.85, 0.7, 0.8
    k = eps * np.exp(gamma * l_zero)
    np.testing.assert_allclose(np.asarray(exp_error_zero(loss, eps=eps, gamma=gamma, l_zero=l_zero)),
                               np.asarray(exp_error(loss, eps=eps, k=k, gamma=gamma)), rtol=1e-6)
    err = np.asarray(law(loss, eps=eps, gamma=gamma, l_zero=l_zero))
    assert ((err > 0) & (err < eps)).all() and (np.diff(err) > 0).all()


def test_accuracy_compute_is_nezhurinas_error_power_law_in_shifted_compute():
    law = bs.get_law("accuracy_compute")
    c = np.geomspace(1e12, 1e26, 29)
    top, c0, alpha = 0.9, 2e17, 0.22
    acc = np.asarray(law(c, top=top, c0=c0, alpha=alpha), dtype=float)
    # 1 - a = E0 + A (C + C0)^-alpha with E0 = 1 - top and A = top C0^alpha (float64 reference)
    np.testing.assert_allclose(1 - acc, (1 - top) + top * c0**alpha * (c + c0) ** -alpha, rtol=2e-5)
    assert ((acc > 0) & (acc < top)).all() and (np.diff(acc) > 0).all()
    # far below C0 the accuracy grows in proportion to compute: a ~ top alpha C / C0
    np.testing.assert_allclose(acc[0], top * alpha * c[0] / c0, rtol=1e-3)


def test_pareto_front_keeps_the_best_run_reachable_at_each_compute():
    runs = pd.DataFrame({"c": [1, 2, 2, 3, 4, 5, 1, 2], "acc": [0.1, 0.3, 0.2, 0.25, 0.4, 0.4, 0.5, 0.4],
                         "family": list("aaaaaabb")})
    front = bs.pareto_front(runs, y="acc", by="family")
    assert front.index.tolist() == [0, 1, 4, 6]  # 2: tie in c, worse; 3: below 0.3; 5: no gain; 7: below 0.5
    loss = bs.pareto_front(runs.assign(loss=1 - runs["acc"]), y="loss")  # lower is better for a loss
    assert loss.index.tolist() == [6]
    with pytest.raises(bs.RunTableError, match="row 3"):
        bs.pareto_front(runs.assign(acc=runs["acc"].where(runs.index != 3)), y="acc")
    with pytest.raises(bs.RunTableError, match="'flops' is missing"):
        bs.pareto_front(runs, x="flops", y="acc")
    # runs without a family are named, not dropped; sizes written as text read as numbers; a column is refused
    with pytest.raises(bs.RunTableError, match=r"group column\(s\) \['family'\] are empty in row 7; label those"):
        bs.pareto_front(runs.assign(family=runs["family"].where(runs.index != 7)), y="acc", by="family")
    texts = bs.pareto_front(runs.assign(c=[f"{v}M" for v in runs["c"]]), y="acc", by="family")
    assert texts.index.tolist() == [0, 1, 4, 6] and texts["c"].tolist() == [1e6, 2e6, 4e6, 1e6]
    with pytest.raises(TypeError, match="runs must be a pandas DataFrame"):
        bs.pareto_front(runs["c"])


def test_bleu_log_is_isiks_form():
    from bayescale.models.downstream import bleu_log, bleu_log_star

    d = np.geomspace(1e8, 1e11, 7)
    alpha, beta, d_star = 0.25, 1.6, 200.0
    np.testing.assert_allclose(np.asarray(bleu_log_star(d, alpha=alpha, beta=beta, d_star=d_star)),
                               np.asarray(bleu_log(d, a=d_star**-alpha, alpha=alpha, beta=beta)), rtol=1e-5)


#: Parameters a case's ladder informs too little for the posterior to be half as wide as the prior: bleu_log's alpha
#: and d_star (posterior sd 0.55 and 0.78 of the prior's on the log scale, measured 2026-12-04 on 16 sizes over 3
#: decades). Their closeness to the truth is still checked; beta contracts; the extrapolation check tests the fit.
UNCONTRACTED = {"bleu_log": ("alpha", "d_star")}


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CASES if n != "shifted_power"])
def test_downstream_law_recovers_its_parameters(name):
    """Recovery on one simulated ladder (the loss-to-loss law: over several pairs with crossed E, in
    tests/test_loss_to_loss.py; one pair alone leaves E_x, E_y and K on a ridge)."""
    design, truth, _ = CASES[name]
    law = bs.get_law(name)
    runs = bs.simulate_ladder(name, truth, design=design, noise_sd=0.03, seed=3)
    assert runs[law.target].gt(0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # task losses span under one decade
        # bleu_log's posterior is harder: at target_accept_prob=0.95, 16 and 20 of 60 fits (10 data sets x 6 seeds)
        # diverge with warm-up tree depths 10 and 6; at 0.99 none do, but 6-7 of 60 miss R-hat 1.01; at 0.99 with
        # 2000 + 2000 iterations, 30 of 30 pass every check (measured 2026-11-30)
        # accuracy_compute mixes slowly (min bulk ESS about 600-940 of 4000 draws): with 1000 draws its R-hat at seed
        # 3 was 1.011 on an AMD EPYC with AVX-512 (2026-12-02; seeds 4 and 5: 1.007, 1.004) and passed on the CPU
        # the seed was chosen on; with 2000 draws 1.0037, 1.0028 and 1.0021. exp_error (min bulk ESS about 700): with
        # 1000 draws 1 of 16 seeds failed R-hat (1.0148) and another gave 1.009; with 2000, worst of 16 1.0034
        opts = ({"target_accept_prob": 0.99, "num_warmup": 2000, "num_samples": 2000} if name == "bleu_log"
                else {"target_accept_prob": 0.95, "num_samples": 2000} if name in ("accuracy_compute", "exp_error")
                else {"target_accept_prob": 0.95})
        fit = bs.fit(name, runs, seed=3, progress_bar=False, **opts)
    assert fit.diagnostics.ok, fit.diagnostics
    assert far_from_truth(fit, truth, uncontracted=UNCONTRACTED.get(name, ())) == {}
    x = law.input_names[0]
    loss_law = law.is_loss_input(x)
    row = design.iloc[[int(np.argmin(design[x]) if loss_law else np.argmax(design[x]))]].reset_index(drop=True)
    beyond = row.assign(**{x: row[x] / 2 if loss_law else row[x] * 10})  # better models: lower loss, more data
    pred = fit.predict(beyond, kind="mean")
    true = float(law(*[np.asarray(beyond[i]) for i in law.inputs], **truth)[0])
    assert pred["q05"].iloc[0] < true < pred["q95"].iloc[0], (pred, true)


@pytest.mark.statistical
@pytest.mark.parametrize("name", list(CASES))
def test_downstream_law_sbc_and_its_negative_control(name, sbc_alpha):
    design, _, wrong_prior = CASES[name]
    good = bs.calibrate(name, num_simulations=100, design=design, seed=0, alpha=sbc_alpha)
    assert good.passed, good.summary()
    # the negative controls' priors are far off and narrow: each fails at S = 20 (p < 1e-18 on 2026-12-01; eps ~
    # Beta(2, 8) against Beta(8, 2) did not: the 24 runs outweigh a prior that wide, p = 0.07 at S = 40)
    wrong = bs.calibrate(name, num_simulations=20, design=design, seed=0, fit_priors=wrong_prior)
    assert not wrong.passed and set(wrong_prior) <= set(wrong.failed), wrong.summary()


@pytest.mark.slow
def test_checks_of_a_law_of_a_loss_measure_extrapolation_in_loss_spans():
    design = pd.DataFrame({"loss": np.linspace(1.5, 2.5, 16)})  # one nat of task loss: a span of 1
    runs = bs.simulate_ladder("sigmoid_transfer", TRUTH, design=design, noise_sd=0.03, seed=3)
    law = bs.get_law("sigmoid_transfer")
    assert law.is_loss_input("loss") and not bs.get_law("chinchilla").is_loss_input("n")
    # a task's chance level is a level: neither a size (no decade checks) nor a loss
    chance = bs.get_law("sigmoid_transfer_chance")
    assert chance.is_level_input("chance") and not chance.is_size_input("chance")
    assert not chance.is_loss_input("chance") and bs.get_law("chinchilla").is_size_input("n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.DataWarning)  # losses span under a decade, as they do: no warning
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit("sigmoid_transfer", runs, seed=3, progress_bar=False, target_accept_prob=0.95)
    for loss, level in ((2.0, "ok"), (1.2, "ok"), (0.8, "warning"), (0.3, "problem")):
        report = fit.check(at=pd.DataFrame({"loss": [loss]}))
        assert {f.level for f in report.findings if f.check == "extrapolation"} == {level}, (loss, repr(report))
    assert "decade" not in repr(report)


# --------------------------------------------------------------------------------------------- Beta likelihood
def _beta_runs(seed=0, phi=200.0, num=40):
    # 40 runs, not DESIGN's 24: on 24, the run nearest the midpoint l0 has a Pareto k near 0.7, so fit.check()'s
    # influence warning came and went with the chains (largest k over seeds 0-7, 2026-12-01: 24 runs 0.52-0.76,
    # seed 4 above 0.7, and seed 1 above it under XLA's AVX code path; 40 runs 0.37-0.58)
    design = pd.DataFrame({"loss": np.linspace(0.6, 3.0, num)})
    rng = np.random.default_rng(seed)
    p = np.asarray(bs.get_law("sigmoid_transfer")(design["loss"].to_numpy(), **TRUTH))
    return design.assign(acc=rng.beta(p * phi, (1 - p) * phi))


@pytest.mark.slow
def test_beta_likelihood_recovers_the_law_and_its_concentration():
    fit = bs.fit("sigmoid_transfer", _beta_runs(), likelihood="beta", seed=1, progress_bar=False,
                 target_accept_prob=0.9)
    assert fit.diagnostics.ok, fit.diagnostics
    assert "phi" in fit.param_vars and "sigma" not in fit.tree.posterior
    assert far_from_truth(fit, {**TRUTH, "phi": 200.0}) == {}
    pred = fit.predict(pd.DataFrame({"loss": [0.3, 2.0]}))
    assert ((pred["q05"] > 0) & (pred["q95"] < 1)).all()
    assert fit.check().ok


def test_beta_likelihood_needs_a_logit_law():
    with pytest.raises(ValueError, match="needs a law with link='logit'"):
        bs.fit("chinchilla", bs.simulate_ladder("chinchilla", seed=0), likelihood="beta")


@pytest.mark.statistical
def test_beta_likelihood_sbc(sbc_alpha):
    res = bs.calibrate("sigmoid_transfer", likelihood="beta", num_simulations=100, design=DESIGN, seed=0,
                       alpha=sbc_alpha)
    assert res.passed, res.summary()
    assert "phi" in res.ranks.columns and "sigma" not in res.ranks.columns


@pytest.mark.parametrize("chance", [0.2, 0.25, 0.5, 0.8])
def test_sigmoid_transfer_prior_keeps_the_ceiling_above_chance(chance):
    """Below chance the law would rise with the loss, against monotone={'loss': -1}: at most 0.2% of the prior may
    sit there (audit of 2026-12-04: Beta(6, 2) put 6.25% below 0.5 for two-option tasks)."""
    from scipy import stats

    law = sigmoid_transfer_law(chance)
    prior = law.params["ceiling"]
    below = stats.beta.cdf(chance, float(prior.concentration1), float(prior.concentration0))
    assert below <= 0.002
    draws = np.asarray(prior.sample(jax.random.PRNGKey(0), (20_000,)))
    assert np.mean(draws < chance) < 0.004
