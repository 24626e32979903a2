"""Likelihood links (log, logit, identity) and the sigmoid transfer law (family 2): spec, recovery, SBC."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from bayescale.models.downstream import sigmoid_transfer_law

import bayescale as bs
from bayescale.build import obs_site

DESIGN = pd.DataFrame({"loss": np.linspace(0.6, 3.0, 24)})
TRUTH = {"ceiling": 0.8, "k": 4.0, "l0": 1.5}


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
    with pytest.raises(bs.RunTableError, match=r"outside \(0, 1\).*divide by 100"):
        bs.validate_runs(runs, law)


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
    with pytest.raises(ValueError, match="chance"):
        sigmoid_transfer_law(chance=1.0)


@pytest.mark.slow
def test_sigmoid_transfer_recovers_its_parameters():
    runs = bs.simulate_ladder("sigmoid_transfer", TRUTH, design=DESIGN, noise_sd=0.05, seed=3)
    assert runs["acc"].between(0, 1).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # loss spans under one decade, as task losses do
        fit = bs.fit("sigmoid_transfer", runs, seed=3, progress_bar=False, target_accept_prob=0.9)
    assert fit.diagnostics.ok, fit.diagnostics
    s = fit.summary(list(TRUTH))
    for p, v in TRUTH.items():
        assert s.loc[p, "q05"] < v < s.loc[p, "q95"], (p, v, s.loc[p].to_dict())
    pred = fit.predict(pd.DataFrame({"loss": [0.3]}), kind="mean")
    true = float(bs.get_law("sigmoid_transfer")(np.array(0.3), **TRUTH))
    assert pred["q05"].iloc[0] < true < pred["q95"].iloc[0]
    assert 0.25 < pred["q05"].iloc[0] and pred["q95"].iloc[0] < 1.0


@pytest.mark.statistical
def test_sigmoid_transfer_sbc_and_its_negative_control():
    good = bs.calibrate("sigmoid_transfer", num_simulations=100, design=DESIGN, seed=0)
    assert good.passed, good.summary()
    assert "pred_half_loss" in good.ranks.columns
    wrong = bs.calibrate("sigmoid_transfer", num_simulations=100, design=DESIGN, seed=0,
                         fit_priors={"l0": dist.LogNormal(1.5, 0.1)})
    assert not wrong.passed and "l0" in wrong.failed
