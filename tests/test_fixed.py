"""Parameters held at a known value (``fixed=``): the model is the full model conditioned on the value, the fit
recovers the other parameters, and every later use of the fit (summary, checks, prediction, allocation, saving,
batched fits, the command line) sees the fixed value."""

from __future__ import annotations

import importlib
import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from _recovery import far_from_truth
from typer.testing import CliRunner

import bayescale as bs
from bayescale.build import LEVEL_SITE, ModelConfig, build_model, constant_prior, resolve_pool
from bayescale.simulate import default_design

fit_module = importlib.import_module("bayescale.fit")  # the module (``bayescale.fit`` is also the function)

TRUTH = {"e": 1.8, "a": 480.0, "b": 2000.0, "alpha": 0.34, "beta": 0.28}
DESIGN = default_design(bs.get_law("chinchilla"), sizes=np.geomspace(3e7, 1e10, 8),
                        tokens_per_param=(2, 5, 10, 20, 50, 100))
SETTINGS = dict(num_warmup=500, num_samples=500, progress_bar=False)


def ladder(seed: int) -> pd.DataFrame:
    return bs.simulate_ladder("chinchilla", TRUTH, design=DESIGN, noise_sd=0.01, seed=seed)


def test_a_fixed_parameter_is_the_full_model_conditioned_on_its_value():
    """At the same values of the other sites, the log density of the model with ``alpha`` fixed equals the full
    model's less ``alpha``'s prior log density (both with a site per parameter), and the fixed model has no
    ``alpha`` site to sample."""
    from numpyro.infer import Predictive
    from numpyro.infer.util import log_density

    from bayescale.predict import _sample_sites

    law = bs.get_law("chinchilla")
    pool = resolve_pool(law, None, False)
    full = build_model(law, ModelConfig(pool=pool, sigma_scale=law.noise_scale, level=()))
    held = build_model(law, ModelConfig(pool=pool, sigma_scale=law.noise_scale, level=(), fixed={"alpha": 0.34}))
    runs = ladder(0)
    with jax.enable_x64(True):
        table = bs.validate_runs(runs, law)
        data, _, _ = fit_module._model_data(table, fit_module.geometric_centre({k: runs[k] for k in law.inputs}))
        sites_full, sites_held = _sample_sites(full, data), _sample_sites(held, data)
        assert "alpha" in sites_full and "alpha" not in sites_held and set(sites_held) == set(sites_full) - {"alpha"}
        prior = jax.jit(lambda key: Predictive(held, num_samples=3)(key, data))(jax.random.PRNGKey(0))
        np.testing.assert_array_equal(np.asarray(prior["alpha"]), 0.34)  # recorded, as a deterministic site
        both = jax.jit(lambda at: (log_density(full, (data,), {}, {**{k: at[k] for k in sites_held}, "alpha": 0.34})[0],
                                   log_density(held, (data,), {}, {k: at[k] for k in sites_held})[0]))
        alpha_prior = float(constant_prior(law.params["alpha"]).log_prob(0.34))  # the model's form of the prior
        for i in range(3):
            lp_full, lp_held = both({k: v[i] for k, v in prior.items()})
            assert float(lp_held) == pytest.approx(float(lp_full) - alpha_prior, rel=1e-12, abs=1e-9)


@pytest.mark.statistical
def test_fixed_exponent_holds_its_value_and_the_others_recover(tmp_path):
    """``alpha`` fixed at its true value: every draw holds it, the fit passes its checks, the other parameters are
    recovered, and the summary, checks, predictions, allocation and a saved and reloaded fit all carry the value."""
    f = bs.fit("chinchilla", ladder(1), fixed={"alpha": 0.34}, seed=0, **SETTINGS)
    np.testing.assert_array_equal(np.unique(f.tree.posterior["alpha"].values), [0.34])
    assert f.config.fixed == {"alpha": 0.34} and f.config.level == ("e", "a", "b")  # alpha is not a level term
    assert "alpha" not in f.param_vars and "alpha" not in f.summary().index
    assert f.diagnostics.ok, f.diagnostics
    assert "alpha fixed at 0.34" in repr(f)
    bad = far_from_truth(f, {k: v for k, v in TRUTH.items() if k != "alpha"})
    assert not bad, bad
    report = f.check()
    assert not [x for x in report.findings if "alpha" in x.message and x.status != "ok"], report
    at = pd.DataFrame({"n": [7e10], "d": [1.4e12]})
    alloc = f.optimal_allocation(c=5.76e23)
    assert np.isfinite(alloc.select_dtypes("number").to_numpy()).all()
    f.save(tmp_path / "held.nc")
    g = bs.load(tmp_path / "held.nc")
    assert g.config.fixed == {"alpha": 0.34}
    pd.testing.assert_frame_equal(g.predict(at, kind="mean"), f.predict(at, kind="mean"))


@pytest.mark.statistical
def test_fixing_a_level_term_samples_the_other_terms_one_site_each():
    """The irreducible loss fixed: the law's level site is not used (it splits terms that are all sampled), ``e``
    holds its value, and the exponents are recovered."""
    f = bs.fit("chinchilla", ladder(2), fixed={"e": 1.8}, seed=0, **SETTINGS)
    assert f.config.level == () and LEVEL_SITE not in f.tree.posterior
    np.testing.assert_array_equal(np.unique(f.tree.posterior["e"].values), [1.8])
    assert f.diagnostics.ok, f.diagnostics
    bad = far_from_truth(f, {k: TRUTH[k] for k in ("alpha", "beta")})
    assert not bad, bad


def test_fit_many_and_the_command_line_pass_fixed_values_on(tmp_path):
    """``fit_many``'s fits each hold the value; ``bayescale fit --fix alpha=0.34`` saves a fit that does."""
    from bayescale.cli import app

    runs = pd.concat([ladder(s).assign(task=f"t{s}") for s in (3, 4)])
    short = dict(num_chains=2, num_warmup=150, num_samples=150, progress_bar=False, fallback=False)
    ladder(5).to_csv(tmp_path / "runs.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains; the values are what is checked
        fits = bs.fit_many("chinchilla", runs, by="task", fixed={"beta": 0.28}, seed=0, **short)
        res = CliRunner().invoke(app, ["fit", str(tmp_path / "runs.csv"), "--fix", "alpha=0.34", "--num-chains",
                                       "2", "--num-warmup", "150", "--num-samples", "150", "--no-fallback",
                                       "--out", str(tmp_path / "fit.nc")])
    for f in fits.values():
        np.testing.assert_array_equal(np.unique(f.tree.posterior["beta"].values), [0.28])
    assert res.exit_code == 0, res.output
    assert bs.load(tmp_path / "fit.nc").config.fixed == {"alpha": 0.34}
    bad = CliRunner().invoke(app, ["fit", str(tmp_path / "runs.csv"), "--fix", "alpha:0.34"])
    assert bad.exit_code == 2 and "--fix 'alpha:0.34': give a parameter and a number, as name=value" in bad.output


def test_a_fixed_parameter_stays_out_of_a_pool_string_over_groups():
    """With groups and ``pool="partial"`` (or the default), a fixed parameter is shared and held; the others vary
    by group."""
    runs = bs.simulate_ladder("chinchilla", num_groups=2, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains; the structure is what is checked
        f = bs.fit("chinchilla", runs, groups="group", pool="partial", fixed={"alpha": 0.34}, num_chains=2,
                   num_warmup=150, num_samples=150, progress_bar=False, fallback=False)
    assert f.config.pool["alpha"] == "shared" and f.config.pool["e"] == "partial"
    np.testing.assert_array_equal(np.unique(f.tree.posterior["alpha"].values), [0.34])
    assert f.tree.posterior["e"].ndim == 3  # one value per group


@pytest.mark.parametrize(("fixed", "extra", "error", "match"), [
    ({"gamma": 1.0}, {}, ValueError, r"fixed= names unknown parameter\(s\) \['gamma'\]; law 'chinchilla' has"),
    ({"alpha": 1.5}, {}, ValueError, r"fixed\['alpha'\] = 1.5 is outside the support of 'alpha''s prior \(Beta"),
    ({"e": -1.0}, {}, ValueError, r"fixed\['e'\] = -1.0 is outside the support"),
    ({"alpha": float("nan")}, {}, ValueError, r"fixed\['alpha'\] = nan is outside the support"),
    ({"alpha": "0.34"}, {}, TypeError, r"fixed\['alpha'\] must be a number, got '0.34'"),
    ([("alpha", 0.34)], {}, TypeError, r"fixed= must be a mapping of parameter to value"),
    ({"e": 1.8}, {"groups": "group", "pool": {"e": "partial"}}, ValueError,
     r"parameter 'e' is partial across groups and fixed \(fixed=\): a fixed parameter is one value for every run"),
    (TRUTH, {}, ValueError, r"fixed= holds every parameter of law 'chinchilla': nothing of the law is left to fit"),
])
def test_bad_fixed_values_are_refused_before_sampling(fixed, extra, error, match):
    runs = ladder(0).assign(group=lambda t: np.where(t.index % 2 == 0, "g0", "g1"))
    if "groups" not in extra:
        runs = runs.drop(columns="group")
    with pytest.raises(error, match=match):
        bs.fit("chinchilla", runs, fixed=fixed, progress_bar=False, **extra)


@pytest.fixture(scope="module")
def held_fit():
    """A short flat fit with ``alpha`` fixed, for the uses of a fit below."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains; the plumbing is what is checked
        return bs.fit("chinchilla", ladder(7), fixed={"alpha": 0.34}, num_chains=2, num_warmup=150, num_samples=150,
                      progress_bar=False, fallback=False)


def test_next_runs_refits_and_the_huber_fit_hold_the_fixed_value(held_fit, monkeypatch):
    """A refit of ``next_run`` keeps the fit's fixed parameters (freeing them would answer another question), and
    the backtest's Huber point fit holds them too, at the value, where its free fit would not."""
    from bayescale.classical import huber_fit

    seen = []

    def refit(law, table, **kwargs):
        seen.append(kwargs)
        return held_fit

    monkeypatch.setattr("bayescale.decide._quiet_fit", refit)
    cands = pd.DataFrame({"n": [1e8, 1e9], "d": [4e9, 2e10]})
    bs.next_run(held_fit, cands, compute=1e22, num_outcomes=32, refit_top=1, refit_outcomes=2)
    assert len(seen) == 2 and all(k["fixed"] == {"alpha": 0.34} for k in seen)
    assert seen[0]["max_tree_depth"] == held_fit.meta["options"]["max_tree_depth"]
    runs = ladder(8)
    free, held = huber_fit("chinchilla", runs, n_boot=2), huber_fit("chinchilla", runs, n_boot=2, fixed={"alpha": 0.3})
    assert free.params["alpha"] != pytest.approx(0.3, abs=1e-3)
    assert held.params["alpha"] == pytest.approx(0.3, rel=1e-12) and np.allclose(held.boot["alpha"], 0.3, rtol=1e-12)
    assert held.objective >= free.objective  # the same objective, over fewer free parameters
    with pytest.raises(ValueError, match=r"fixed= names unknown parameter\(s\) \['gamma'\]"):
        huber_fit("chinchilla", runs, n_boot=0, fixed={"gamma": 1.0})


def test_pair_plots_and_allocations_point_at_the_fixed_parameters(held_fit, tmp_path):
    """The pair plot's default leaves the fixed exponent out (its draws are one value) and naming it is refused;
    ``optimal_allocation``'s ``fixed=`` (the law's other inputs) points a parameter's name to ``bs.fit``'s."""
    from bayescale.plots import _pair_names, plot_pair

    assert _pair_names(held_fit, None) == ["beta", "e"]
    with pytest.raises(ValueError, match=r"\['alpha'\] held fixed in this fit .*choose among the parameters fitted"):
        plot_pair(held_fit, ("alpha", "beta"))
    fig = plot_pair(held_fit, path=tmp_path / "pair.png")
    assert (tmp_path / "pair.png").stat().st_size > 0 and fig is not None
    with pytest.raises(KeyError, match=r"the fit has no variable\(s\) \['zeta'\]; its posterior holds"):
        plot_pair(held_fit, ("beta", "zeta"))
    # the frontier's budgets are read as optimal_allocation reads them and sorted, so that its bands join up
    from bayescale.plots import _sorted_budgets, plot_frontier

    np.testing.assert_array_equal(_sorted_budgets([1e25, "1e21", "100T"]), [1e14, 1e21, 1e25])
    fig = plot_frontier(held_fit, [1e25, 1e21, "1e23"])
    line = fig.axes[0].lines[0].get_xdata()
    np.testing.assert_array_equal(line, [1e21, 1e23, 1e25])
    with pytest.raises(ValueError, match=r"\['alpha'\] is a parameter of the law: .*bs.fit\(\.\.\., fixed="):
        held_fit.optimal_allocation(c=1e22, fixed={"alpha": 0.3})


def test_the_command_line_names_fix_in_its_errors(tmp_path):
    """``--fix`` takes several values comma-separated, refuses a parameter given twice, and the fit's errors about
    fixed values speak of ``--fix``; none of them writes the fit file."""
    from bayescale.cli import app

    ladder(9).to_csv(tmp_path / "runs.csv", index=False)
    out = tmp_path / "fit.nc"
    for args, message in ((["--fix", "alpha=0.34", "--fix", "alpha=0.3"],
                           "--fix gives alpha twice (0.34 and 0.3); give each parameter once"),
                          (["--fix", "alpha=0.34,alpha=0.3"], "--fix gives alpha twice"),
                          (["--fix", "e=-1"], "--fix e=-1 is outside the support of 'e''s prior (LogNormal: a "
                                              "number > 0); give a number > 0"),
                          (["--fix", "alpha=1.5,beta=0.3"], "--fix alpha=1.5 is outside the support of 'alpha''s "
                                                            "prior (Beta: a number between 0 and 1)"),
                          (["--fix", "gamma=1"], "--fix names unknown parameter(s) ['gamma']")):
        res = CliRunner().invoke(app, ["fit", str(tmp_path / "runs.csv"), "--out", str(out), *args])
        assert res.exit_code != 0 and message in " ".join(res.output.split()), (args, res.output)
        assert "Traceback" not in res.output and not out.exists()
