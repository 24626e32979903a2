"""Simulation-based calibration of the Chinchilla law (S=100, fixed seed) and its negative control."""


import numpy as np
import numpyro.distributions as dist
import pytest

import bayescale as bs


@pytest.fixture(scope="module")
def sbc(sbc_alpha):
    return bs.calibrate("chinchilla", num_simulations=100, seed=0, alpha=sbc_alpha)


@pytest.mark.statistical
def test_chinchilla_sbc_ranks_are_uniform(sbc):
    assert set(sbc.ranks.columns) == {"e", "a", "b", "alpha", "beta", "sigma", "nu", "log_lik", "pred_10x_compute"}
    assert len(sbc.ranks) == 100
    assert sbc.ranks.to_numpy().min() >= 0 and sbc.ranks.to_numpy().max() <= sbc.num_draws
    assert sbc.passed, sbc.summary()
    assert "passed" in repr(sbc)


@pytest.mark.statistical
def test_sbc_negative_control_fails(sbc):
    """Fitting with a prior on E far from the simulating prior must be flagged (E piles up at low ranks)."""
    wrong = bs.calibrate("chinchilla", num_simulations=20, seed=0, fit_priors={"e": dist.LogNormal(1.2, 0.1)})
    assert not wrong.passed
    assert "e" in wrong.failed and "pred_10x_compute" in wrong.failed
    assert wrong.summary().loc["e", "mean_rank"] < 0.3
    assert "FAILED" in repr(wrong)


@pytest.mark.statistical
def test_sbc_plot_is_saved(sbc, tmp_path):
    fig = sbc.plot(tmp_path / "ranks.png")
    assert (tmp_path / "ranks.png").stat().st_size > 10_000
    assert len([ax for ax in fig.axes if ax.get_visible()]) == sbc.ranks.shape[1]


def test_uniformity_test_detects_piled_ranks():
    from bayescale.calibration import _uniformity_pvalue

    rng = np.random.default_rng(0)
    assert _uniformity_pvalue(rng.integers(0, 100, 1000), 99, 10) > 1e-3
    assert _uniformity_pvalue(rng.integers(0, 30, 1000), 99, 10) < 1e-10


def test_calibrate_rejects_bad_options():
    with pytest.raises(ValueError, match=r"num_draws \+ 1 \(100\) must be divisible by bins \(7\)"):
        bs.calibrate("chinchilla", bins=7)
    with pytest.raises(ValueError, match="fit_priors names unknown parameter"):
        bs.calibrate("chinchilla", fit_priors={"E": dist.LogNormal(0, 1)})
    with pytest.raises(ValueError, match=r"must be at least num_draws"):
        bs.calibrate("chinchilla", num_chains=1, num_samples=50)
    with pytest.raises(ValueError, match=r"likelihood='gaussian' is not one of \('student_t', 'normal', 'beta'\)"):
        bs.calibrate("chinchilla", likelihood="gaussian")
    with pytest.raises(ValueError, match="num_simulations must be an integer of at least 2"):
        bs.calibrate("chinchilla", num_simulations=0)
    for alpha in (0, 1.5, "0.05"):
        with pytest.raises(ValueError, match="alpha must be a level strictly between 0 and 1"):
            bs.calibrate("chinchilla", alpha=alpha)


def test_calibrate_checks_the_design_as_a_table_of_inputs():
    design = bs.simulate.default_design(bs.get_law("chinchilla"))
    bad = design.assign(n=np.where(design.index == 4, -1.0, design["n"]), d=np.where(design.index == 5, np.nan,
                                                                                     design["d"]))
    with pytest.raises(bs.RunTableError,
                       match=r"2 problem\(s\) with the design \(inputs of the simulated runs\)") as err:
        bs.calibrate("chinchilla", design=bad)
    assert "column 'n' has 1 non-positive value(s) (row 4)" in str(err.value)
    assert "column 'd' has 1 missing or infinite value(s) (row 5)" in str(err.value)
    with pytest.raises(bs.RunTableError, match="the table has no rows"):
        bs.calibrate("chinchilla", design=design.iloc[:0])
    with pytest.raises(bs.RunTableError, match=r"column 'd' \(input \[tokens\] of law 'chinchilla'\) is missing"):
        bs.calibrate(bs.chain("chinchilla", "sigmoid_transfer"), design=design[["n"]])

