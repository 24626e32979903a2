"""Chained laws (N, D -> loss -> accuracy) fitted as one model: spec, fit, prediction, SBC and coverage."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from numpyro.infer.util import log_density

import bayescale as bs
from bayescale import engine
from bayescale.build import build_model
from bayescale.chain import ChainData, build_chain_model
from bayescale.fit import _prepare

TRUTH_ACC = {"ceiling": 0.8, "k": 3.0, "l0": 2.6}
AT = pd.DataFrame({"n": [7e10, 3e9], "d": [1.4e12, 6e10]})


def _runs(seed=0, sd=0.05):
    runs = bs.simulate_ladder("chinchilla", seed=seed)
    rng = np.random.default_rng(seed)
    acc = np.asarray(bs.get_law("sigmoid_transfer")(loss=runs["loss"].to_numpy(), **TRUTH_ACC))
    return runs.assign(acc=1 / (1 + np.exp(-(np.log(acc / (1 - acc)) + rng.normal(0, sd, len(acc))))))


@pytest.fixture(scope="module")
def chain_fit():
    # The loss stage (Chinchilla on a 30-run ladder) has curved tails (small alpha with small e and a) where NUTS
    # diverges now and then. Measured on 6 ladders x 4 seeds (2026-12-01), fits failing a diagnostic check:
    # 500 + 500 iterations at target_accept_prob 0.9 (this fixture's old settings) 13/24, 1000 + 1000 at 0.9 9/24,
    # at 0.95 5/24, at 0.99 0/24 (500 + 500 at 0.99: 11/24, too few draws for R-hat and ESS).
    # On this ladder over seeds 1-22 (2026-12-02, another CPU): 1000 + 1000 at 0.99 failed R-hat in 2 of 22 (1.0165,
    # 1.0154; seed 1, this fixture's, gave 1.0081), 1000 + 2000 in none (worst 1.0064); a seed's draws change with
    # the CPU, so the fixture draws 2000.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), _runs(), target_accept_prob=0.99, seed=1,
                      num_samples=2000, progress_bar=False)


# --------------------------------------------------------------------------------------------- spec
def test_chain_links_each_stage_to_the_previous_target():
    ch = bs.chain("chinchilla", "sigmoid_transfer")
    assert ch.targets == ("loss", "acc") and ch.feeds == ("loss",) and ch.target == "acc"
    assert ch.inputs == {"n": "parameters", "d": "tokens"}
    assert ch.name == "chinchilla_to_sigmoid_transfer" and "sigmoid_transfer(loss) -> acc" in repr(ch)
    back = type(ch).from_dict(ch.to_dict())
    assert back.targets == ch.targets and back.feeds == ch.feeds


def test_chain_refuses_what_it_cannot_link():
    with pytest.raises(bs.LawSpecError, match="at least two laws"):
        bs.chain("chinchilla")
    with pytest.raises(bs.LawSpecError, match="different targets"):
        bs.chain("chinchilla", "kaplan")
    with pytest.raises(bs.LawSpecError, match="cannot tell which input"):
        bs.chain("chinchilla", "bleu_log")
    with pytest.raises(bs.LawSpecError, match="not an input"):
        bs.chain("chinchilla", "sigmoid_transfer", feeds=["bpb"])
    with pytest.raises(bs.LawSpecError, match=r"law 'sigmoid_transfer' predicts 'acc', a fraction in \(0, 1\), and "
                                              r"law 'kaplan_bcrit' takes a loss"):
        bs.chain("sigmoid_transfer", "kaplan_bcrit")
    with pytest.raises(bs.LawSpecError, match="a chain's name must be a Python identifier"):
        bs.chain("chinchilla", "sigmoid_transfer", name="a b")


def test_chain_model_density_and_gradient_are_finite():
    """The joint model's log density is the sum of the stages' and has a finite gradient everywhere sampled."""
    ch = bs.chain("chinchilla", "sigmoid_transfer")
    runs = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preps = [_prepare(law, runs, groups=None, pool=None, pooling="auto", likelihood="student_t", noise=None,
                          sigma_scale=0.1, group_scale=0.5, flops_per_param_token=6.0) for law in ch.stages]
    model = build_chain_model(ch, [p.config for p in preps])
    data = ChainData(tuple(p.data for p in preps))
    params = {"loss.log_terms": [1.7, 0.0, 0.0], "loss.alpha": 0.34, "loss.beta": 0.28,
              "loss.sigma": 0.02, "loss.nu": 5.0, "acc.ceiling": 0.8, "acc.k": 3.0, "acc.l0": 2.6,
              "acc.sigma": 0.05, "acc.nu": 5.0}
    trace = {}

    def joint(p):
        lp, tr = log_density(model, (data,), {}, p)
        trace.update(tr)  # while JAX traces: the sites, for their names
        return lp

    # jitted, the density, its gradient and the stages' densities are four programs; run op by op, JAX compiled
    # each of their ~250 operations on its own (15 s of XLA in a CI run on a 2-core AMD EPYC, 2026-12-06)
    with jax.enable_x64(True):
        params = {k: jnp.asarray(v) for k, v in params.items()}
        total, grad = jax.jit(jax.value_and_grad(joint))(params)
        # each stage alone, its parameters unscoped and the fed input (loss) the observed one
        stages = []
        for law, prep in zip(ch.stages, preps, strict=True):
            stage = build_model(law, prep.config)
            own = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(f"{law.target}.")}
            stages.append(float(jax.jit(lambda p, m=stage, d=prep.data: log_density(m, (d,), {}, p)[0])(own)))
    assert np.isfinite(float(total))
    assert float(total) == pytest.approx(sum(stages), rel=1e-10, abs=1e-8)
    assert all(abs(float(s)) > 1.0 for s in stages)  # both stages contribute
    assert {"loss.log_loss", "acc.logit_acc"} <= set(trace)
    assert all(np.isfinite(np.asarray(g)).all() for g in grad.values())


# --------------------------------------------------------------------------------------------- fit and predict
@pytest.mark.statistical
def test_chain_fit_recovers_both_stages(chain_fit):
    assert chain_fit.diagnostics.ok, chain_fit.diagnostics
    s = chain_fit.summary(ci_prob=0.98)  # six checks at once: 98% intervals
    for p, v in TRUTH_ACC.items():
        assert s.loc[f"acc.{p}", "q01"] < v < s.loc[f"acc.{p}", "q99"], (p, s.loc[f"acc.{p}"].to_dict())
    truth_loss = bs.simulate.reference_params("chinchilla")
    for p in ("e", "alpha", "beta"):
        assert s.loc[f"loss.{p}", "q01"] < truth_loss[p] < s.loc[f"loss.{p}", "q99"], p
    assert set(chain_fit.stages) == {"loss", "acc"}
    assert list(chain_fit.runs().columns) == ["n", "d", "loss", "acc"]


def test_chain_figure_names_what_it_shows_and_each_predicted_size(chain_fit, tmp_path):
    from bayescale.plots import plot_chain

    fig = plot_chain(chain_fit, at=AT, title="task X", path=tmp_path / "chain.png")
    assert fig._suptitle.get_text().startswith("task X: chinchilla_to_sigmoid_transfer: runs (dots)")
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert labels == {"70B", "3B"}
    assert [ax.get_title() for ax in fig.axes] == ["stage 1: chinchilla", "stage 2: sigmoid_transfer (curve: 90% band)"]
    assert (tmp_path / "chain.png").stat().st_size > 20_000


def test_chain_predicts_every_stage_and_the_plugin_chain_is_narrower(chain_fit):
    pred = chain_fit.predict(AT)
    assert list(pred["target"]) == ["loss", "loss", "acc", "acc"]
    assert list(pred.columns) == ["n", "d", "target", "mean", "q05", "q50", "q95"]
    acc = pred[pred["target"] == "acc"]
    assert ((acc["q05"] > 0.25) & (acc["q95"] < 1)).all()
    mean = chain_fit.predict(AT, kind="mean")
    plug = chain_fit.plugin_predict(AT)
    width = (acc["q95"] - acc["q05"]).to_numpy()
    assert np.all((mean[mean["target"] == "acc"].eval("q95 - q05")).to_numpy() < width)
    assert np.all(plug[plug["target"] == "acc"].eval("q95 - q05").to_numpy() < width)
    # the plug-in's stage-2 input is the point prediction of stage 1: its median follows the chained median
    assert np.allclose(plug[plug["target"] == "acc"]["q50"], acc["q50"], atol=0.02)
    # the accuracy at the chained loss matches the accuracy stage evaluated at the predicted loss
    loss_mid = mean[mean["target"] == "loss"]["q50"].to_numpy()
    at_loss = chain_fit.stages["acc"].predict(pd.DataFrame({"loss": loss_mid}), kind="mean")
    assert np.allclose(at_loss["q50"], mean[mean["target"] == "acc"]["q50"], atol=0.01)


def test_chain_mean_prediction_draws_no_stage_noise(chain_fit, monkeypatch):
    """kind="mean" feeds each stage the curve before it, so no stage's likelihood noise is drawn."""
    from bayescale.build import _StudentT

    def no_noise(*args, **kwargs):
        raise AssertionError("kind='mean' drew a stage's noise")

    monkeypatch.setattr(_StudentT, "sample", no_noise)
    engine.clear_programs()  # the predictions below are traced here, not reused from earlier tests
    mean = chain_fit.predict(AT, kind="mean")
    assert list(mean["target"]) == ["loss", "loss", "acc", "acc"]
    assert (mean["q05"] < mean["q95"]).all()  # the parameters' uncertainty is still there
    with pytest.raises(AssertionError, match="drew a stage's noise"):
        chain_fit.predict(AT)


def test_chain_fit_saves_loads_checks_and_reports(chain_fit, tmp_path):
    path = chain_fit.save(tmp_path / "chain.nc")
    back = bs.load(path)
    assert isinstance(back, bs.ChainFit) and back.chain.targets == ("loss", "acc")
    pd.testing.assert_frame_equal(back.predict(AT, seed=3), chain_fit.predict(AT, seed=3))
    reports = chain_fit.check()
    assert set(reports) == {"loss", "acc"}
    files = chain_fit.report(tmp_path / "report", at=AT.iloc[:1])
    assert (files["loss"] / "report.html").exists() and (files["acc"] / "report.html").exists()
    assert files["figure"].stat().st_size > 10_000


def test_chain_errors_name_the_stage():
    runs = _runs().drop(columns="acc")
    with pytest.raises(bs.RunTableError, match="stage 'acc'.*column 'acc'"):
        bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), runs, progress_bar=False)
    both = _runs()
    both.loc[2, "acc"], both.loc[4, "loss"] = np.nan, -1.0  # every stage's problems at once, not the first's alone
    with pytest.raises(bs.RunTableError, match=r"2 problem\(s\) with the runs table:\n  - stage 'loss' .*column 'loss' "
                                               r"has 1 non-positive value\(s\) \(row 4\).*\n  - stage 'acc' .*column "
                                               r"'acc' has 1 missing or infinite value\(s\) \(row 2\)"):
        bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), both, progress_bar=False)
    with pytest.raises(ValueError, match="unknown stage"):
        bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), _runs(), likelihood={"err": "beta"})
    with pytest.raises(ValueError, match="group_predictors: not supported for a Chain"):
        bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), _runs(), group_predictors={"e": ["n"]})
    with pytest.raises(ValueError, match="fixed: not supported for a Chain"):
        bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), _runs(), fixed={"alpha": 0.34})
    with pytest.raises(ValueError, match="log_likelihood=False: a Chain's fit keeps each stage's pointwise"):
        bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), _runs(), log_likelihood=False)


def test_a_stage_fed_under_another_name_reads_the_previous_target():
    """``loss`` feeds ``shifted_power``'s input ``l_x``: the runs need no ``l_x`` column (the stage's own fit, its
    checks and report read the fed values), and one that differs from ``loss`` is refused, not silently unused."""
    runs = bs.simulate_ladder("chinchilla", seed=1)
    runs["l_y"] = bs.simulate_ladder("shifted_power", design=runs[["loss"]].rename(columns={"loss": "l_x"}),
                                     seed=2)["l_y"].to_numpy()
    ch = bs.chain("chinchilla", "shifted_power")
    with pytest.raises(ValueError, match=r"column 'l_x' differs from column 'loss', the target of stage 1"):
        bs.fit(ch, runs.assign(l_x=runs["loss"] * 10), progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains; what the stage reads is checked
        fit = bs.fit(ch, runs, num_chains=1, num_warmup=150, num_samples=150, progress_bar=False, fallback=False)
    np.testing.assert_allclose(fit.stages["l_y"].runs()["l_x"].to_numpy(), runs["loss"].to_numpy(), rtol=1e-12)
    # fed losses that reach the stage's E_x (far past the runs, the loss nears Chinchilla's E) are said, per row
    with pytest.warns(bs.DataWarning, match=r"stage 'l_y' of chain 'chinchilla_to_shifted_power': law 'shifted_power' "
                                             r"holds as written where L_x is above E_x .* \(row 1; up to"):
        fit.predict({"n": [1e9, 1e16], "d": [2e10, 1e18]}, kind="mean")
    with pytest.raises(TypeError, match="new_runs must be a DataFrame or a mapping of column to values"):
        fit.predict(np.array([[1e9, 2e10]]))
    with pytest.raises(bs.FitFileError, match="this DataTree is a chain's fit: read it with bs.load"):
        bs.Fit(fit.tree)


def test_sigma_scale_reaches_the_stages_with_a_sigma_and_a_float_task_label_its_fitted_task():
    """A chain with a Beta stage refused sigma_scale= once it was refused for a Beta fit alone (it is the loss
    stage's); and 11.0 (a column of integers after a merge brought a NaN) was predicted as a new task."""
    runs = pd.concat([_runs(seed=0).assign(task=10), _runs(seed=1).assign(task=11)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains: what reaches the stages is checked
        warnings.simplefilter("ignore", bs.PriorWarning)
        fit = bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), runs, groups="task", likelihood={"acc": "beta"},
                     sigma_scale=0.05, pool={"loss": {"e": "partial"}, "acc": {"l0": "partial"}}, num_chains=1,
                     num_warmup=100, num_samples=100, seed=0, progress_bar=False, fallback=False)
    assert fit.stages["loss"].config.sigma_scale == 0.05
    assert "sigma" not in fit.stages["acc"].tree.posterior
    floats = fit.predict(AT.assign(task=11.0), seed=1)
    assert "new_groups" not in floats.attrs
    np.testing.assert_array_equal(floats["q50"].to_numpy(), fit.predict(AT.assign(task=11), seed=1)["q50"].to_numpy())


def test_hierarchical_chain_over_tasks():
    """Two tasks, per-task parameters partially pooled in both stages, predicted per task."""
    runs = pd.concat([_runs(seed=0).assign(task="a"), _runs(seed=1, sd=0.03).assign(task="b")], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit(bs.chain("chinchilla", "sigmoid_transfer"), runs, groups="task",
                     pool={"loss": {"e": "partial"}, "acc": {"l0": "partial", "ceiling": "partial"}},
                     num_warmup=300, num_samples=300, seed=0, progress_bar=False)
    assert fit.stages["acc"].tree.posterior["l0"].sizes["task"] == 2
    pred = fit.predict(AT.assign(task="b"))
    assert set(pred["task"]) == {"b"} and len(pred) == 4
    with pytest.raises(ValueError, match="not in the fit"):
        fit.plugin_predict(AT.assign(task="new"))
    # the figure draws every group at= predicts, a new one too (its diamonds and the population's band) ...
    from bayescale.plots import plot_chain

    at = pd.concat([AT.assign(task="b"), AT.assign(task="new")], ignore_index=True)
    fig = plot_chain(fit, at=at)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b", "new"]
    assert len(fig.axes[1].collections) >= 3 * 2  # each group's band and runs (empty for the new group)
    # b and the new group are predicted at the same compute: set apart in x, the new group's wide bars beneath
    diamonds = {line.get_color(): line for line in fig.axes[0].lines if line.get_marker() == "D"}
    b, new = diamonds["C1"], diamonds["C2"]
    assert (b.get_xdata() < new.get_xdata()).all() and b.get_zorder() > new.get_zorder()
    # ... and with groups= chosen, at='s rows in other groups are said, not dropped unsaid
    with pytest.warns(UserWarning, match=r"at= rows 2, 3 \(task = new\) are not drawn, since groups=\['a', 'b'\]"):
        fig = plot_chain(fit, at=at, groups=["a", "b"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match=r"groups= picks groups of a grouped chain fit: name some of \['a', 'b'\]"):
        plot_chain(fit, groups=[])
    with pytest.raises(TypeError, match=r"plot_chain takes a ChainFit, got Fit"):
        plot_chain(fit.stages["loss"])
    # which task wins at scale: each draw's compute-optimal loss fed through the same draw's accuracy law
    from bayescale.models.loss_scaling import chinchilla_optimum

    from bayescale.predict import _group_params

    with pytest.warns(bs.ConvergenceWarning, match=r"the fits of 1 configuration\(s\) failed a sampler check.*"
                                                   r"\('the hierarchical fit': R-hat"):  # short chains
        cmp = bs.compare_at_scale(fit, [1e21], span=(1e20, 1e22))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        loss_cmp = bs.compare_at_scale(fit, [1e21], target="loss", span=(1e20, 1e22))
    assert cmp.better == "higher" and loss_cmp.better == "lower"
    for task in ("a", "b"):
        with jax.enable_x64(True):
            loss = chinchilla_optimum(1e21, 6.0, **_group_params(fit.stages["loss"], task))[2]
            acc = np.asarray(bs.get_law("sigmoid_transfer")(loss, **_group_params(fit.stages["acc"], task)))
            loss = np.asarray(loss)
        got = cmp.table.set_index("config").loc[task, "mean"]
        assert got == pytest.approx(float(np.mean(acc)), rel=1e-9)
        assert loss_cmp.table.set_index("config").loc[task, "mean"] == pytest.approx(float(np.mean(loss)), rel=1e-9)
    with pytest.raises(ValueError, match="not a stage"), warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        bs.compare_at_scale(fit, [1e21], target="err")


# --------------------------------------------------------------------------------------------- calibration
@pytest.mark.statistical
def test_chain_sbc_coverage_and_negative_control(sbc_alpha):
    """SBC over both stages (S=100), the chained 90% intervals' coverage, and a misspecified prior that fails (S=20)."""
    ch = bs.chain("chinchilla", "sigmoid_transfer")
    good = bs.calibrate(ch, num_simulations=100, seed=0, alpha=sbc_alpha)
    assert good.passed, good.summary()
    assert {"loss.alpha", "acc.l0", "acc.sigma", "log_lik", "pred_10x_compute"} <= set(good.ranks.columns)
    cov = good.coverage
    assert 0.84 <= cov["chain"] <= 0.95, cov
    # the plug-in chain under-covers: its intervals are narrower and miss more often (2026-12-06: 83% against 91%;
    # 76% against 87% before the Chinchilla stage's terms were sampled as their total and shares, whose worse-mixed
    # fits gave worse medians)
    assert cov["plugin"] <= cov["chain"] - 0.03 and cov["plugin"] < 0.87, cov
    assert cov["plugin_width"] < cov["chain_width"], cov
    wrong = bs.calibrate(ch, num_simulations=20, seed=0, fit_priors={"acc.l0": dist.LogNormal(1.5, 0.1)})
    assert not wrong.passed and "acc.l0" in wrong.failed
    with pytest.raises(ValueError, match="<target>.<parameter>"):
        bs.calibrate(ch, fit_priors={"l0": dist.LogNormal(0, 1)})
