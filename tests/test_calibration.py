"""Simulation-based calibration of the Chinchilla law (S=100, fixed seed) and its negative control."""

import warnings

import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest

import bayescale as bs

#: Bounds on the Chinchilla SBC's fits at calibrate's defaults (one chain, 400 + 1000 iterations, NUTS target 0.99):
#: 15 of 100 fits diverged (28 transitions) and 6 had an ESS below L/2 on an Intel Xeon (2026-12-04); at the defaults
#: before that day (target 0.9, 500 draws), 50 fits diverged (323 transitions) there and 52 (775) on an AMD EPYC,
#: and 21-23 had an ESS below L/2. Divergences on prior-simulated ladders move with the CPU's rounding (the same
#: settings, 0.99 with 1000 + 1000, gave 11 fits and 22 transitions on the AMD EPYC, 18 and 68 on the Xeon), hence
#: the margin. The transitions are the less stable count, since one fit whose chain sticks adds hundreds: on the AMD
#: EPYC with jax 0.12.0.1, 3 fits diverged, 204 transitions in all (2026-12-06; 150 was the bound until then), and
#: with jax 0.12.1 there the test passed. Both bounds stay below what the earlier defaults gave (50-52 fits, 323-775).
MAX_DIVERGENT_FITS, MAX_DIVERGENCES, MAX_LOW_ESS_FITS = 30, 250, 12


@pytest.fixture(scope="module")
def sbc_run(sbc_alpha):
    """The calibration and the warnings it gave other than its own report (CalibrationWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bs.calibrate("chinchilla", num_simulations=100, seed=0, alpha=sbc_alpha)
    return result, [str(w.message) for w in caught if w.category is not bs.CalibrationWarning]


@pytest.fixture(scope="module")
def sbc(sbc_run):
    return sbc_run[0]


@pytest.mark.statistical
def test_chinchilla_sbc_ranks_are_uniform(sbc, sbc_run):
    assert set(sbc.ranks.columns) == {"e", "a", "b", "alpha", "beta", "sigma", "nu", "log_lik", "pred_10x_compute"}
    assert len(sbc.ranks) == 100
    assert sbc.ranks.to_numpy().min() >= 0 and sbc.ranks.to_numpy().max() <= sbc.num_draws
    assert sbc_run[1] == []  # no warning but the calibration's own report of its fits
    # the fits behind the ranks: few diverge, few have autocorrelated thinned draws (thresholds of CalibrationResult)
    low_ess = (sbc.min_ess < sbc.num_draws / 2).sum()
    assert sbc.min_ess.shape == (100,) and low_ess <= MAX_LOW_ESS_FITS, np.sort(sbc.min_ess)[:15]
    assert (sbc.divergences > 0).sum() <= MAX_DIVERGENT_FITS, sbc.divergences
    assert sbc.divergences.sum() <= MAX_DIVERGENCES, sbc.divergences
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


def test_a_second_calibration_of_the_law_compiles_nothing(sbc):
    """Calibrating the law again with the same settings (here fewer simulations) reuses the first calibration's
    sampler, prior predictive and scores: nothing is traced or compiled, and the ranks are the first's (simulation
    ``s`` is drawn and fitted with the same keys whatever ``S``)."""
    from test_engine import CompileCounter

    counter = CompileCounter()
    again = bs.calibrate("chinchilla", num_simulations=8, seed=0)
    assert counter.lowerings == 0 and counter.compiles == 0
    pd.testing.assert_frame_equal(again.ranks, sbc.ranks.iloc[:8])


@pytest.mark.statistical
def test_sbc_fails_an_overconfident_posterior(monkeypatch):
    """The SBC pipeline must catch a posterior half as wide as it should be (draws shrunk to half their spread about
    each fit's mean): ranks then pile at both ends. Every other control shifts a prior's location."""
    from bayescale import calibration

    fits = calibration._fits

    def overconfident(*args, **kwargs):
        for s, sim, (samples, stats) in fits(*args, **kwargs):
            mean = {k: np.mean(v, axis=(0, 1), keepdims=True) for k, v in samples.items()}
            yield s, sim, ({k: mean[k] + 0.5 * (v - mean[k]) for k, v in samples.items()}, stats)

    monkeypatch.setattr(calibration, "_fits", overconfident)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.CalibrationWarning)  # low ESS of some fits: beside the point here
        narrow = bs.calibrate("chinchilla", num_simulations=60, seed=0)
    # S = 60: at S = 20 three of the five parameters failed, a different three at each of calibrate's defaults
    # (e p = 0.013 at today's, on 2026-12-04); at 40 every quantity failed (largest p 3e-5 for the parameters) until
    # the law's terms were sampled as their total and shares (Law.level, 2026-12-06): then e's and beta's p were
    # 1.6e-4-4.4e-4, near the threshold, and one CI run passed beta; at 60 the largest is 6.6e-6
    assert not narrow.passed
    assert {"e", "a", "b", "alpha", "beta"} <= set(narrow.failed), narrow.summary()
    counts = narrow.ranks[["e", "a", "b", "alpha", "beta"]].to_numpy()
    ends = (counts < 0.1 * narrow.num_draws) | (counts > 0.9 * narrow.num_draws)
    assert ends.mean() > 0.5  # a calibrated posterior puts 20% of its ranks there


def test_calibration_reports_low_ess_and_divergent_fits():
    from bayescale.calibration import _ESSInChunks, _min_ess, _warn_problems

    rng = np.random.default_rng(0)
    walk = {"a": rng.normal(size=(1, 500)).cumsum(axis=1), "b": rng.normal(size=(1, 500, 2))}
    assert _min_ess([walk], ["a", "b"])[0] < 20 < _min_ess([walk], ["b"])[0]
    # taken in chunks as the fits come, and in one call for all, the same numbers as one fit at a time
    fits = [{"a": rng.normal(size=(1, 500)).cumsum(axis=1) * (1 + i), "b": rng.normal(size=(1, 500, 2))}
            for i in range(7)]
    chunks = _ESSInChunks(["a", "b"])
    chunks.CHUNK = 3
    for f in fits:
        chunks.add(f)
    one_by_one = np.concatenate([_min_ess([f], ["a", "b"]) for f in fits])
    np.testing.assert_allclose(chunks.values(), one_by_one, rtol=1e-12)
    np.testing.assert_allclose(_min_ess(fits, ["a", "b"]), one_by_one, rtol=1e-12)
    assert len(chunks.done) == 3 and len(_min_ess([], ["a"])) == 0
    result = bs.calibration.CalibrationResult(
        ranks=pd.DataFrame({"a": [0, 99, 50]}), num_draws=99, pvalues=pd.Series({"a": 0.5}), alpha=0.01, bins=10,
        divergences=np.array([0, 3, 1]), seconds=1.0, law="x", min_ess=np.array([250.0, 31.0, 60.0]))
    assert result.problems == [
        "1 of 3 fits had a bulk or tail ESS below half the 99 draws each rank is taken among (smallest 31.0): their "
        "thinned draws are autocorrelated, which skews ranks even for a calibrated model; raise num_samples",
        "2 of 3 fits had divergent transitions (4 in all): the sampler struggles on part of the prior's range; raise "
        "target_accept_prob",
    ]
    assert "4 divergences in 2 fits; 1 fits with ESS < L/2" in repr(result)
    with pytest.warns(bs.CalibrationWarning, match=r"calibrate x: 1 of 3 fits had a bulk or tail ESS below half"):
        _warn_problems(result)


def test_rank_counts_draws_below_and_breaks_ties_at_random():
    from bayescale.calibration import _rank

    rng = np.random.default_rng(0)
    assert _rank([1.0, 2.0, 3.0], 0.0, rng) == 0
    assert _rank([1.0, 2.0, 3.0], 4.0, rng) == 3
    assert _rank([1.0, 2.0, 3.0], 2.5, rng) == 2
    tied = [_rank(np.full(9, 0.25), 0.25, rng) for _ in range(2000)]  # a law at its floor: every draw equal
    assert set(tied) == set(range(10))
    assert max(np.bincount(tied)) < 2.0 * 2000 / 10


@pytest.mark.statistical
def test_sbc_plot_is_saved(sbc, tmp_path):
    fig = sbc.plot(tmp_path / "new" / "ranks.png")  # a missing folder is made, as Fit.save makes one
    assert (tmp_path / "new" / "ranks.png").stat().st_size > 10_000
    assert len([ax for ax in fig.axes if ax.get_visible()]) == sbc.ranks.shape[1]


def test_uniformity_test_detects_piled_ranks():
    from bayescale.calibration import _uniformity_pvalue

    rng = np.random.default_rng(0)
    assert _uniformity_pvalue(rng.integers(0, 100, 1000), 99, 10) > 1e-3
    assert _uniformity_pvalue(rng.integers(0, 30, 1000), 99, 10) < 1e-10


def test_calibrate_rejects_bad_options():
    with pytest.raises(ValueError, match=r"num_draws \+ 1 \(100\) must be divisible by bins \(7\)"):
        bs.calibrate("chinchilla", bins=7)
    for bins in (0, 1, 2.5):
        with pytest.raises(ValueError, match=rf"bins must be an integer of at least 2, got {bins}"):
            bs.calibrate("chinchilla", bins=bins)
    with pytest.raises(ValueError, match="fit_priors names unknown parameter"):
        bs.calibrate("chinchilla", fit_priors={"E": dist.LogNormal(0, 1)})
    with pytest.raises(ValueError, match=r"must be at least num_draws"):
        bs.calibrate("chinchilla", num_chains=1, num_samples=50)
    with pytest.raises(ValueError, match=r"likelihood='gaussian' is not one of \('student_t', 'normal', 'beta', "
                                         r"'binomial', 'beta_binomial'\)"):
        bs.calibrate("chinchilla", likelihood="gaussian")
    with pytest.raises(ValueError, match="num_simulations must be an integer of at least 2"):
        bs.calibrate("chinchilla", num_simulations=0)
    for alpha in (0, 1.5, "0.05"):
        with pytest.raises(ValueError, match="alpha must be a level strictly between 0 and 1"):
            bs.calibrate("chinchilla", alpha=alpha)
    # the sampler's settings and the likelihood are checked as bs.fit checks them, before any simulation
    with pytest.raises(ValueError, match=r"target_accept_prob must be in \(0, 1\), got 1.5"):
        bs.calibrate("chinchilla", target_accept_prob=1.5)
    for name, value in (("num_chains", 0), ("num_chains", 2.0), ("num_warmup", -5), ("num_warmup", 0)):
        with pytest.raises(ValueError, match=rf"{name} must be a positive integer, got {value}"):
            bs.calibrate("chinchilla", **{name: value})
    with pytest.raises(TypeError, match="seed must be an integer, or None for a fresh seed"):
        bs.calibrate("chinchilla", seed="x")
    with pytest.raises(ValueError, match=r"progress_bar must be True, False or None \(its default\), got 'no'"):
        bs.calibrate("chinchilla", progress_bar="no")
    with pytest.raises(ValueError, match=r"likelihood='beta' models a fraction in \(0, 1\): it needs a law with "
                                         r"link='logit' \(law 'chinchilla' has link='log'\)"):
        bs.calibrate("chinchilla", likelihood="beta")


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



def test_fits_keeps_two_calls_running_and_yields_every_simulation_in_order(monkeypatch):
    """``_fits`` starts the next call before it waits for the current one (two in flight), pads the last call, and
    yields each simulation once, in order, with the fit of its own key."""
    import jax

    from bayescale import calibration

    events = []

    class Sampler:
        sampler = "nuts"

        def launch_batch(self, keys, datas):
            call = sum(e[0] == "launch" for e in events)
            events.append(("launch", call))
            assert len(keys) == len(datas) == 4  # every call the same shape: the last one padded

            def result():
                events.append(("result", call))
                return [({"x": np.asarray(k)}, {"data": d}) for k, d in zip(keys, datas, strict=True)]

            return result

    monkeypatch.setattr(calibration, "_sims_per_call", lambda num_chains: 4)
    key = jax.random.PRNGKey(3)
    sims = [f"sim{s}" for s in range(10)]  # three calls: 4 + 4 + 2 (padded to 4)
    out = list(calibration._fits(Sampler(), key, sims, num_chains=1))
    assert [s for s, _, _ in out] == list(range(10)) and [sim for _, sim, _ in out] == sims
    for s, sim, (samples, stats) in out:
        assert stats["data"] == sim
        np.testing.assert_array_equal(samples["x"], np.asarray(jax.random.fold_in(key, s)))
    assert events == [("launch", 0), ("launch", 1), ("result", 0), ("launch", 2), ("result", 1), ("result", 2)]
