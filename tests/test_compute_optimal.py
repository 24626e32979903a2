"""The compute-optimal size law N*(C) = N_ref (C/1e18)^a and Porian et al.'s protocols case study."""

from __future__ import annotations

import warnings

import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from bayescale.models.loss_scaling import compute_optimal_n

import bayescale as bs
from bayescale.predict import parameter_draws

DESIGN = pd.DataFrame({"c": 1.25e16 * 2.0 ** np.arange(11)})


def test_compute_optimal_size_is_a_power_of_compute():
    law = bs.get_law("compute_optimal_n")
    assert float(compute_optimal_n(1e18, n_ref=3e7, a=0.5)) == pytest.approx(3e7)
    assert float(law(c=4e18, n_ref=3e7, a=0.5)) == pytest.approx(6e7, rel=1e-6)
    assert float(law.log(4e18, n_ref=3e7, a=0.73)) == pytest.approx(np.log(3e7) + 0.73 * np.log(4), rel=1e-6)
    assert law.monotone == {"c": 1} and law.target == "n_opt"


@pytest.mark.statistical
def test_protocol_exponents_recover_and_calibrate(sbc_alpha):
    rng = np.random.default_rng(0)
    truth = {"kaplan": 0.83, "tuned": 0.5, "warmup": 0.6, "last_layer": 0.7, "cosine": 0.57}
    n_ref = {"kaplan": 2e7, "tuned": 9e7, "warmup": 6e7, "last_layer": 4e7, "cosine": 7e7}  # counting conventions
    runs = pd.concat([pd.DataFrame({"setting": s, "c": DESIGN["c"], "n_opt_logstd": 0.12,
                                    "n_opt": n_ref[s] * (DESIGN["c"] / 1e18) ** a * np.exp(rng.normal(0, 0.12, 11))})
                      for s, a in truth.items()], ignore_index=True)
    fit = bs.fit("compute_optimal_n", runs, groups="setting", pool={"a": "partial", "n_ref": "partial"},
                 noise="n_opt_logstd", seed=0, target_accept_prob=0.95, progress_bar=False)
    assert fit.diagnostics.ok, fit.diagnostics
    a = parameter_draws(fit, pd.DataFrame({"setting": list(truth)}))["a"]
    for j, v in enumerate(truth.values()):
        assert np.quantile(a[:, j], 0.01) < v < np.quantile(a[:, j], 0.99), (v, np.quantile(a[:, j], [0.01, 0.99]))
    assert np.mean(a[:, 0] > a[:, 1]) > 0.99
    good = bs.calibrate("compute_optimal_n", num_simulations=100, design=DESIGN, seed=0, alpha=sbc_alpha)
    assert good.passed, good.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a ~ Beta(900, 100) (0.9 +- 0.01) against the uniform prior; Beta(50, 50) pulls too weakly on 11 sizes:
        # at S = 20 its p-value was 0.025, above the Bonferroni threshold
        wrong = bs.calibrate("compute_optimal_n", num_simulations=20, design=DESIGN, seed=0,
                             fit_priors={"a": dist.Beta(900.0, 100.0)})
    assert not wrong.passed and "a" in wrong.failed


@pytest.mark.slow
def test_compute_optimal_protocols_case_study_smoke(tmp_path, run_case_study):
    out = run_case_study("compute_optimal_protocols", tmp_path)
    assert "P(|a - 0.5| < 0.05) for the tuned protocol on rw" in out and "16x beyond" in out
    table = pd.read_csv(tmp_path / "predictions.csv")
    a = table[table["quantity"] == "a"].set_index("label")
    assert len(a) == 5 and a.loc["Reproducing Kaplan et al.", "q50"] > a.loc["Optimizer tuning (no decay)", "q50"]
    assert a.loc["Reproducing Kaplan et al.", "published"] == pytest.approx(0.8353, abs=1e-3)
    assert {"q05", "q25", "q50", "q75", "q95", "published"} <= set(table.columns)
    assert (tmp_path / "compute_optimal_protocols.png").stat().st_size > 10_000
