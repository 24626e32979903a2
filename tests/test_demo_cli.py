"""The Chinchilla replication (full, on the real data), its smoke mode and offline fallback, and the CLI."""

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _skips import skip_without_data
from typer.testing import CliRunner

import bayescale as bs
from bayescale import demo
from bayescale._scripts import show_warning
from bayescale.cli import app, main

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch):
    if not os.environ.get("BAYESCALE_DATA_DIR") and SHARED.is_dir():
        monkeypatch.setenv("BAYESCALE_DATA_DIR", str(SHARED))


def _have_data() -> bool:
    try:
        bs.datasets.path("chinchilla_epoch")
    except (bs.datasets.DatasetNotFoundError, OSError):
        return False
    return True


def _record_figure_texts(monkeypatch) -> dict[str, list[str]]:
    """Record the texts placed on each figure the demo saves (file name -> texts), as it saves them."""
    from bayescale import plots

    saved, save = {}, plots._save

    def record(fig, path):
        if path is not None:  # the plotting functions call it without a path too
            saved[Path(path).name] = [t.get_text() for t in fig.texts]
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", record)
    return saved


@pytest.mark.slow
def test_replication_recovers_besiroglu(tmp_path, monkeypatch):
    if not _have_data():
        skip_without_data("Chinchilla data not reachable: set BAYESCALE_DATA_DIR to the shared data directory")
    figures = _record_figure_texts(monkeypatch)
    result = demo.run(out_dir=tmp_path, seed=0, progress_bar=False, verbose=False)
    assert not result.simulated
    assert len(result.fit.tree.observed_data["run"]) == 240 and len(result.dropped) == 5
    assert (result.dropped["d"] / result.dropped["n"]).max() < 0.41
    d = result.fit.diagnostics
    assert d.divergences == 0 and d.max_r_hat < 1.01, d
    # acceptance: medians of E, alpha, beta within 2 Besiroglu SEs (0.03, 0.02, 0.02) of the published values
    t = result.table
    for p in ("e", "alpha", "beta"):
        assert abs(t.loc[p, "median"] - demo.BESIROGLU[p]) <= 2 * demo.BESIROGLU_SE[p], t
    assert result.recovers_besiroglu
    assert not result.hoffmann_in_region and result.hoffmann_mahalanobis > 5.99
    n_opt = result.allocation.set_index("quantity").loc["n_opt"]
    assert n_opt["q05"] < 7.22e10 < n_opt["q95"]  # Besiroglu's point optimum inside our 90% interval
    for name in ("fit.nc", "parameters.csv", "allocation.csv", "loss_vs_compute.png", "frontier.png",
                 "exponents_pair.png"):
        assert (tmp_path / name).stat().st_size > 300, name
    assert bs.load(tmp_path / "fit.nc").law.name == "chinchilla"
    assert len(figures) == 3 and not any(demo.SIMULATED_MARK in texts for texts in figures.values()), figures


@pytest.mark.slow
def test_case_study_script_smoke(tmp_path, run_case_study):
    if not _have_data():
        skip_without_data("Chinchilla data not reachable")
    out = run_case_study("chinchilla_replication", tmp_path)
    assert "dropped the 5 with the smallest D/N" in out
    assert "N* parameters" in out and "SIMULATED" not in out
    # the replication's findings (Besiroglu et al. 2024), which the smoke run's short chains reach on the same data
    assert "E, alpha, beta within 2 Besiroglu SEs: yes." in out
    assert "Hoffmann's (alpha, beta) = (0.34, 0.28) is OUTSIDE the 95% posterior region" in out
    n_star = re.search(r"N\* parameters: (\S+) \[(\S+), (\S+)\]", out)  # Chinchilla itself: 7e10 parameters
    assert n_star and float(n_star[2]) < 7e10 < float(n_star[3]), out
    assert (tmp_path / "frontier.png").exists()


def test_demo_without_data_runs_on_simulated_ladder_and_says_so(tmp_path, monkeypatch, capsys):
    def unreachable(name, **kwargs):
        raise bs.datasets.DatasetNotFoundError(f"{name}: not in the data dir, not cached, download failed")

    monkeypatch.setattr(bs.datasets, "load", unreachable)
    figures = _record_figure_texts(monkeypatch)
    result = demo.run(out_dir=tmp_path, seed=0, progress_bar=False)
    text = capsys.readouterr().out
    assert result.simulated
    # the simulated ladder is drawn from Besiroglu's fit: the full fit must find it again, cleanly
    assert result.recovers_besiroglu and result.fit.diagnostics.ok, (result.table, result.fit.diagnostics)
    assert "SIMULATED iso-FLOP ladder" in text and "Reminder: these results are from SIMULATED data." in text
    assert "download failed" in text  # the reason, so that the user can fix it
    # each saved figure says so too: it is often looked at without the printed output
    assert [p.name for p in result.figures] == list(figures)
    assert all(demo.SIMULATED_MARK in texts for texts in figures.values()), figures
    assert all(p.stat().st_size > 300 for p in result.figures)


def test_a_case_study_without_the_real_data_stops_without_claiming_to_simulate(monkeypatch, capsys):
    """Case studies answer questions about the real runs: without them they stop, saying why, and print nothing
    about a simulated ladder they do not run on."""
    from bayescale._scripts import real_chinchilla_runs

    def unreachable(name, **kwargs):
        raise bs.datasets.DatasetNotFoundError(f"{name}: not in the data dir, not cached, download failed")

    monkeypatch.setattr(bs.datasets, "load", unreachable)
    with pytest.raises(SystemExit, match=r"(?s)the Chinchilla data are not reachable: .*download failed"):
        real_chinchilla_runs()
    assert "SIMULATED" not in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------- CLI
runner = CliRunner()


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "runs.csv"
    bs.simulate_ladder("chinchilla", seed=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fit_file(runs_csv):
    out = runs_csv.with_name("fit.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains; the CLI prints the diagnostics
        res = runner.invoke(app, ["fit", str(runs_csv), "--out", str(out), "--num-chains", "2", "--num-warmup",
                                  "300", "--num-samples", "300", "--target-accept-prob", "0.95",
                                  "--max-tree-depth", "9", "--warmup-tree-depth", "6", "--no-fallback"])
    assert res.exit_code == 0, (res.output, res.exception)
    options = bs.load(out).meta["options"]
    # the options reached the fit; with --no-fallback the short chains' fit was kept, not refitted at 0.99
    assert (options["target_accept_prob"], options["max_tree_depth"], options["warmup_tree_depth"]) == (0.95, 9, 6)
    assert "fallback_from" not in bs.load(out).meta
    assert "Diagnostics(" in res.output
    assert "saved" in res.output and "r_hat" in res.output
    return out


def test_cli_fit_predict_summary(fit_file, tmp_path):
    res = runner.invoke(app, ["summary", str(fit_file)])
    assert res.exit_code == 0 and "<Fit chinchilla: 30 runs" in res.output
    res = runner.invoke(app, ["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--kind", "mean",
                              "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "p.csv")
    assert pred.loc[0, "n"] == 7e10 and 1.5 < pred.loc[0, "q50"] < 2.5
    assert list(pred.columns) == ["n", "d", "mean", "q05", "q50", "q95"]


def test_cli_fit_passes_no_log_likelihood_on(fit_file, runs_csv, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bs, "fit", lambda *a, **kw: calls.append(kw) or bs.load(fit_file))
    for flag, expected in (([], True), (["--no-log-likelihood"], False)):
        res = runner.invoke(app, ["fit", str(runs_csv), "--out", str(tmp_path / "fit.nc"), *flag])
        assert res.exit_code == 0, res.output
        assert calls[-1]["log_likelihood"] is expected


def test_cli_prints_warnings_as_plain_lines(runs_csv, tmp_path, capsys):
    runs = pd.read_csv(runs_csv)
    pd.concat([runs, runs.iloc[[4]]], ignore_index=True).to_csv(tmp_path / "dup.csv", index=False)
    with warnings.catch_warnings(), pytest.raises(SystemExit) as done:
        warnings.simplefilter("default")  # pytest's filter would raise them
        main(["fit", str(tmp_path / "dup.csv"), "--out", str(tmp_path / "fit.nc"), "--num-chains", "2",
              "--num-warmup", "300", "--num-samples", "300", "--target-accept-prob", "0.95", "--max-tree-depth", "9",
              "--warmup-tree-depth", "6", "--no-fallback"])
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    assert (f"warning: 1 exact duplicate run(s) (row {len(runs) + 2}) were dropped; each run is counted once (rows are "
            "named by their line in dup.csv (line 1 is its header)) [DataWarning]") \
        in err.splitlines(), err
    assert ".py:" not in err, err  # no file:line of the code that warned, and no source line
    assert warnings.showwarning is not show_warning, "main left its warning printer installed"


def test_cli_laws_lists_registry():
    res = runner.invoke(app, ["laws"])
    assert res.exit_code == 0
    assert all(name in res.output for name in bs.laws())


def test_cli_cache_shows_its_folder_and_limit_and_clears_it(tmp_path, monkeypatch):
    cache = tmp_path / "jax"
    (cache / "programs").mkdir(parents=True)
    (cache / "k1-cache").write_bytes(b"x" * 2**20)
    (cache / "k1-atime").write_bytes(b"t" * 8)
    (cache / "programs" / "p.jaxexport").write_bytes(b"p" * 2**19)
    (cache / "notes.txt").write_text("not the cache's")
    monkeypatch.setenv("BAYESCALE_JAX_CACHE", str(cache))
    monkeypatch.setenv("BAYESCALE_JAX_CACHE_MAX_MB", "256")
    res = runner.invoke(app, ["cache"])
    assert res.exit_code == 0, res.output
    assert f"persistent cache: {cache}" in res.output
    assert "compiled code (JAX): 1 program, 1.0 MiB" in res.output
    assert "traced programs (bayescale): 1 program, 0.5 MiB" in res.output
    assert "in all 1.5 MiB of at most 256.0 MiB" in res.output
    res = runner.invoke(app, ["cache", "--clear"])
    assert res.exit_code == 0 and "cleared: 1.5 MiB freed" in res.output, res.output
    assert sorted(p.name for p in cache.rglob("*")) == ["notes.txt", "programs"]
    monkeypatch.setenv("BAYESCALE_JAX_CACHE_MAX_MB", "1e3")
    res = runner.invoke(app, ["cache"])
    assert res.exit_code == 2 and "error: BAYESCALE_JAX_CACHE_MAX_MB='1e3' is not a positive whole number" in res.output
    monkeypatch.setenv("BAYESCALE_JAX_CACHE", "off")
    res = runner.invoke(app, ["cache"])
    assert res.exit_code == 0 and "persistent cache: off" in res.output


def test_python_dash_m_runs_the_command():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "bayescale", "laws"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert all(name in res.stdout for name in bs.laws())
    res = subprocess.run([sys.executable, "-m", "bayescale", "fit", "missing.csv"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "error: no such file: missing.csv" in res.stderr, res.stderr
    # a bad cache limit, said at the import, reads as the command's other warnings do: one plain line
    env = {**os.environ, "BAYESCALE_JAX_CACHE_MAX_MB": "lots"}
    res = subprocess.run([sys.executable, "-m", "bayescale", "laws"], capture_output=True, text=True, timeout=120,
                         env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("warning: bayescale: BAYESCALE_JAX_CACHE_MAX_MB='lots' is not a positive whole "
                                 "number of MiB"), res.stderr
    assert res.stderr.rstrip().endswith("fits raise this error. [RuntimeWarning]"), res.stderr


def test_case_study_scripts_run_as_scripts():
    """Every ``case_studies/<name>/run.py`` starts as ``python run.py`` would run it (``__main__``); the smoke tests
    call their ``main()`` in the test process. One new process runs each with ``--help``."""
    import subprocess
    import sys

    scripts = sorted(str(p) for p in (ROOT / "case_studies").glob("*/run.py"))
    code = ("import runpy, sys\n"
            "for path in sys.argv[1:]:\n"
            "    sys.argv = [path, '--help']\n"
            "    try:\n"
            "        runpy.run_path(path, run_name='__main__')\n"
            "    except SystemExit as exc:\n"
            "        assert exc.code in (0, None), (path, exc.code)\n"
            "    else:\n"
            "        raise AssertionError(f'{path} --help did not exit')\n")
    res = subprocess.run([sys.executable, "-c", code, *scripts], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(scripts) >= 12 and res.stdout.count("usage:") == len(scripts), res.stdout


@pytest.mark.parametrize(
    ("args", "match"),
    [(["fit", "missing.csv"], "no such file: missing.csv"),
     (["fit", "good.csv", "--out", "."], "--out . is a folder; give the fit file's name, e.g. --out fit.nc"),
     (["fit", "chinchilla", "good.csv"],  # as bs.fit("chinchilla", runs) reads
      "chinchilla is a law, not a table of runs; the law is an option: bayescale fit good.csv --law chinchilla"),
     (["fit", "chinchilla"], "chinchilla is a law, not a table of runs; the law is an option: bayescale fit runs.csv"),
     (["fit", "good.csv", "other.csv"], "unexpected extra argument(s): other.csv; fit takes one table of runs"),
     (["summary", "missing.nc"], "no fit file at missing.nc"),
     (["fit", "runs.txt"], "expected a .csv or .parquet file of runs"),
     (["fit", "bad.csv"], "column 'loss' has 1 missing or infinite value(s) (row 5); drop those runs or fill them "
                          "in\n(rows are named by their line in bad.csv (line 1 is its header))"),
     (["backtest", "blank.csv", "--holdout", "0.2"],  # a blank line: line numbers would be off by one after it
      "(row 1); drop those runs or fill them in\n(rows are numbered from 0, the first run after blank.csv's header)"),
     (["fit", "good.csv", "--law", "chinchila"], "unknown law 'chinchila'; did you mean 'chinchilla'?"),
     (["fit", "good.csv", "--target-accept-prob", "1.5"], "target_accept_prob must be in (0, 1), got 1.5"),
     (["calibrate", "chinchila"], "unknown law 'chinchila'"),
     (["calibrate", "--likelihood", "gaussian"], "--likelihood gaussian is not one of"),
     (["calibrate", "-S", "1"], "num_simulations must be an integer of at least 2"),
     (["calibrate", "mccandlish", "--design", "good.csv"],
      "problem(s) with the design (inputs of the simulated runs):\n  - column 'b' (input"),
     (["calibrate", "--design", "negative.csv"], "column 'n' has 1 non-positive value(s) (row 4)"),
     (["calibrate", "--design", "two.csv"], "the design (inputs of the simulated runs) has 2 distinct run(s); each "
                                            "simulated data set is fitted, and a law needs at least 3 runs"),
     (["calibrate", "--alpha", "0"], "alpha must be a level strictly between 0 and 1"),
     (["calibrate", "--design", "runs.txt"], "expected a .csv or .parquet file"),
     (["fit", "empty.csv"], "empty.csv is empty; a table of runs has a header line of column names"),
     (["fit", "ragged.csv"], "ragged.csv is not a well-formed CSV table"),
     (["fit", "latin1.csv"], "latin1.csv is not UTF-8 text (byte 0xe9 on line 2, 28 bytes in)"),
     (["fit", "good.csv", "--out", "good.csv/fit.nc"], "the folder good.csv is a file, not a folder"),
     (["backtest", "good.csv", "--out", "good.csv"], "--out good.csv is a file; give a folder's name"),
     (["backtest", "good.csv"], "give exactly one of --holdout (fractions of the runs to hold out, largest first) and "
                                "--cut"),
     (["backtest", "good.csv", "--holdout", "0.2", "--cut", "1e20"], "give exactly one of --holdout"),
     (["demo", "--smoke", "--out", "good.csv"], "--out good.csv is a file; give a folder's name")],
)
def test_cli_errors_are_messages_not_tracebacks(args, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("runs.txt").write_text("n,d,loss\n")
    runs = bs.simulate_ladder("chinchilla", seed=0)
    runs.to_csv("good.csv", index=False)
    runs.assign(loss=np.where(runs.index == 3, np.nan, runs["loss"])).to_csv("bad.csv", index=False)
    runs[["n", "d"]].assign(n=np.where(runs.index == 2, -1.0, runs["n"])).to_csv("negative.csv", index=False)
    Path("blank.csv").write_text("n,d,loss\n1e8,1e9,3.1\n\n2e8,2e9,\n4e8,4e9,2.9\n8e8,8e9,2.7\n\n")
    Path("empty.csv").write_text("")
    Path("two.csv").write_text("n,d\n1e8,2e9\n1e9,2e10\n1e9,2e10\n")
    Path("ragged.csv").write_text("n,d,loss\n1e9,2e10,2.5\n1e9,2e10,2.5,7,8\n")
    Path("latin1.csv").write_bytes("n,d,loss,note\n1e9,2e10,2.5,d\u00e9j\u00e0\n".encode("latin-1"))
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert match in res.output
    assert "Traceback" not in res.output


def test_cli_calibrate_writes_ranks_and_exits_1_only_on_failure(tmp_path):
    out = tmp_path / "sbc"
    # 100 draws cannot hold an ESS of half the 99 each rank is taken among: the calibration says so
    with pytest.warns(bs.CalibrationWarning, match="fits had a bulk or tail ESS below half the 99 draws each rank"):
        res = runner.invoke(app, ["calibrate", "sigmoid_transfer", "-S", "10", "--num-warmup", "150",
                                  "--num-samples", "100", "--out", str(out)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    summary = pd.read_csv(out / "sbc_summary.csv", index_col="quantity")
    assert {"ceiling", "k", "l0", "log_lik"} <= set(summary.index)
    assert summary["passed"].all() and res.exit_code == 0, res.output  # this seed passes: the failing branch below
    ranks = pd.read_csv(out / "ranks.csv")
    assert len(ranks) == 10 and ranks.to_numpy().min() >= 0 and ranks.to_numpy().max() <= 99
    assert (out / "sbc_ranks.png").stat().st_size > 0
    assert "<CalibrationResult sigmoid_transfer: S=10" in res.output
    assert "calibrate sigmoid_transfer: 10/10" in res.output  # progress on long work


def test_cli_calibrate_exits_1_when_a_rank_test_fails_and_still_writes_its_files(tmp_path, monkeypatch):
    """Exit code 1 on a failed uniformity test, after the summary, ranks and figure are written."""
    from bayescale.calibration import CalibrationResult

    ranks = pd.DataFrame({"k": np.zeros(20, dtype=int), "l0": np.arange(20) * 5})  # k: every rank 0, not uniform
    failing = CalibrationResult(ranks=ranks, num_draws=99, pvalues=pd.Series({"k": 1e-9, "l0": 0.6}), alpha=0.01,
                                bins=10, divergences=np.zeros(20, dtype=int), seconds=1.0, law="sigmoid_transfer",
                                min_ess=np.full(20, 500.0))
    calls = []
    monkeypatch.setattr(bs, "calibrate", lambda *a, **kw: calls.append(kw) or failing)
    out = tmp_path / "sbc"
    res = runner.invoke(app, ["calibrate", "sigmoid_transfer", "-S", "20", "--out", str(out)])
    assert calls and calls[0]["num_simulations"] == 20
    assert res.exit_code == 1, res.output
    assert "FAILED for ['k']" in res.output
    summary = pd.read_csv(out / "sbc_summary.csv", index_col="quantity")
    assert not summary.loc["k", "passed"] and summary.loc["l0", "passed"]
    assert len(pd.read_csv(out / "ranks.csv")) == 20 and (out / "sbc_ranks.png").stat().st_size > 0


def test_cli_calibrate_defaults_are_the_functions():
    """The command's sampler settings default to bs.calibrate's (its NUTS target, SBC_TARGET_ACCEPT)."""
    import inspect

    from bayescale import calibration
    from bayescale.cli import calibrate as command

    api, cli = inspect.signature(bs.calibrate).parameters, inspect.signature(command).parameters
    for name in ("num_simulations", "likelihood", "noise", "num_chains", "num_warmup", "num_samples", "alpha", "seed"):
        assert cli[name].default == api[name].default, name
    assert api["target_accept_prob"].default is None  # NUTS's target for SBC; ChEES's is bs.fit's
    assert cli["target_accept_prob"].default == calibration.SBC_TARGET_ACCEPT == 0.99


def test_cli_errors_with_a_fit_are_messages(fit_file, tmp_path):
    res = runner.invoke(app, ["predict", str(fit_file), "--at", "n=70B,d=1.4T;n=7B,d=140B"])
    assert res.exit_code == 2 and "names 'd' twice: one --at is one point; repeat --at" in res.output, res.output
    res = runner.invoke(app, ["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--at", "n=7B,d=140B"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 3, res.output  # header + two points
    (tmp_path / "taken").write_text("")
    res = runner.invoke(app, ["report", str(fit_file), "--out", str(tmp_path / "taken")])
    assert res.exit_code == 2 and "--out" in res.output and "taken is a file; give a folder's name" in res.output, \
        res.output
    assert "Traceback" not in res.output


def test_cli_bad_values_with_a_fit_are_named(fit_file, tmp_path):
    cases = [
        (["predict", str(fit_file), "--at", "n=70x,d=1.4T"], "n='70x' is not a number; write it as 7e10 or as a size"),
        (["report", str(fit_file), "--at", "n=,d=1.4T"], "n='' is not a number"),
        (["predict", str(fit_file), "--at", "n=70B,d=1.4T,foo=bar"], "names 'foo', which the fit does not use"),
        (["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--quantiles", "a,b"],
         "--quantiles 'a,b': expected numbers between 0 and 1"),
        (["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--quantiles", "5,50,95"],
         "--quantiles takes numbers strictly between 0 and 1, e.g. 0.05,0.5,0.95; got (5.0, 50.0, 95.0)"),
        (["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--out", str(tmp_path / "p.csv" / "in" / "p.csv")],
         "the folder " + str(tmp_path / "p.csv") + " is a file, not a folder"),
        (["decide", str(fit_file), "--compute", "1e22", "--objective", "p_target", "--target", "0"],
         "target must be a finite number > 0"),
        (["decide", str(fit_file), "--compute", "1e22", "--inference-tokens", "lots"],
         "--inference-tokens lots is not a number: write it as 5.76e23, or as a size such as 100T"),
        (["decide", str(fit_file), "--compute", "1e22", "--inference-tokens", "-5"],
         "inference_tokens finite and >= 0; got --compute 1e+22, --inference-tokens -5"),
    ]
    (tmp_path / "p.csv").write_text("")
    for args, match in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and match in res.output, (args, res.output)
        assert "Traceback" not in res.output


def test_cli_checks_where_it_writes_before_the_work_and_fails_in_one_line(fit_file, runs_csv, tmp_path,
                                                                          monkeypatch):
    """An output folder that cannot be written, or a figure of a format matplotlib does not write, fails before the
    work; a write that fails afterwards says so in one line, after the results are shown."""
    import tempfile

    from bayescale import engine

    res = runner.invoke(app, ["compare-at-scale", f"a={fit_file}", f"b={fit_file}", "--compute", "1e22",
                              "--figure", str(tmp_path / "f.pngg")])
    assert res.exit_code == 2 and "matplotlib writes no '.pngg' files; end the name with one of" in res.output
    assert "p_best" not in res.output  # refused before the work
    res = runner.invoke(app, ["compare-at-scale", f"a={fit_file}", f"a={fit_file}", "--compute", "1e22"])
    assert res.exit_code == 2 and "configuration 'a' given twice" in res.output, res.output
    res = runner.invoke(app, ["demo", "--smoke", "--data-dir", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "no such folder" in res.output, res.output
    res = runner.invoke(app, ["decide", str(fit_file), "--compute", "12X"])
    assert res.exit_code == 2 and "--compute takes budgets in FLOPs" in res.output and "got 12X" in res.output, \
        res.output

    def locked(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(tempfile, "NamedTemporaryFile", locked)
        for args in (["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--out", str(tmp_path / "p.csv")],
                     ["backtest", str(runs_csv), "--holdout", "0.2", "--out", str(tmp_path / "bt")],
                     ["report", str(fit_file), "--out", str(tmp_path / "rep")]):
            res = runner.invoke(app, args)
            assert res.exit_code == 2 and "cannot write into the folder" in res.output, (args, res.output)
            assert "Traceback" not in res.output
    with monkeypatch.context() as m:
        m.setattr(engine, "_atomic_write", locked)
        res = runner.invoke(app, ["predict", str(fit_file), "--at", "n=70B,d=1.4T", "--out", str(tmp_path / "p.csv")])
        assert res.exit_code == 2 and "q50" in res.output  # the predictions were shown before the write failed
        assert f"cannot write {tmp_path / 'p.csv'}: Permission denied" in res.output and "Traceback" not in res.output


def test_cli_predict_names_the_lines_of_its_table(fit_file, tmp_path):
    """Rows of a table of new points are named by their line in the file (as fit's are), ``--at`` points by their
    order, and a header written with spaces after its commas is read."""
    (tmp_path / "points.csv").write_text("n, d\n7e10, 1.4e12\n7e9, 1.4e11\n-1, 1e11\n")
    res = runner.invoke(app, ["predict", str(fit_file), str(tmp_path / "points.csv")])
    assert res.exit_code == 2 and "(row 4)" in res.output and "named by their line in points.csv" in res.output, \
        res.output
    (tmp_path / "points.csv").write_text("n, d\n7e10, 1.4e12\n7e9, 1.4e11\n")
    out = tmp_path / "new" / "folders" / "p.csv"  # made, as Fit.save and the figures make theirs
    res = runner.invoke(app, ["predict", str(fit_file), str(tmp_path / "points.csv"), "--at", "n=70B,d=1.4T",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(out)["n"]) == [7e10, 7e9, 7e10]


def test_cli_predict_asks_a_hierarchical_fit_for_the_group(tmp_path):
    """New points of a hierarchical fit without a group get the fix: name one (or a new one) in ``--at``."""
    bs.simulate_ladder("chinchilla", num_groups=2, seed=3).to_csv(tmp_path / "groups.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # short chains; the message is what is checked
        res = runner.invoke(app, ["fit", str(tmp_path / "groups.csv"), "--groups", "group", "--out",
                                  str(tmp_path / "g.nc"), "--num-chains", "1", "--num-warmup", "100",
                                  "--num-samples", "100", "--no-fallback"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "g.nc"), "--at", "n=7B,d=1T"])
    assert res.exit_code == 2 and "this fit is hierarchical: name the group of each new point, e.g. --at " \
        "n=7e10,d=1.4e12,group=<label>" in res.output, res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "g.nc"), "--at", "n=7B,d=1T,group=new"])
    assert res.exit_code == 0 and "q50" in res.output, res.output


def test_cli_predict_needs_inputs(fit_file):
    res = runner.invoke(app, ["predict", str(fit_file)])
    assert res.exit_code == 2 and "give new inputs" in res.output
    res = runner.invoke(app, ["predict", str(fit_file), "--at", "n70B"])
    assert res.exit_code == 2 and "expected name=value pairs" in res.output


def test_cli_report_writes_html_and_markdown(fit_file, tmp_path):
    res = runner.invoke(app, ["report", str(fit_file), "--out", str(tmp_path / "rep"), "--at", "n=70B,d=1.4T"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "Report for the chinchilla fit on 30 runs" in res.output
    assert "extrapolation:" in res.output  # --at adds the extrapolation check
    assert "bayescale report: checking the fit" in res.output and "bayescale report: drawing the figures" in res.output
    assert (tmp_path / "rep" / "report.html").stat().st_size > 100_000
    assert (tmp_path / "rep" / "report.md").read_text().startswith("# bayescale report")
    res = runner.invoke(app, ["report", "missing.nc"])
    assert res.exit_code == 2 and "no fit file" in res.output


def test_cli_decide_and_compare_at_scale(fit_file, tmp_path):
    res = runner.invoke(app, ["decide", str(fit_file), "--compute", "1e21", "--compute", "1e23",
                              "--inference-tokens", "1T", "--out", str(tmp_path / "alloc.csv")])
    assert res.exit_code == 0, (res.output, res.exception)
    table = pd.read_csv(tmp_path / "alloc.csv")
    assert list(table["allocation"]) == ["bayes", "plug_in"] * 2 and (table["expected_regret"] >= 0).all()
    res = runner.invoke(app, ["decide", str(fit_file), "--compute", "1e21", "--objective", "p_target"])
    assert res.exit_code == 2 and "--objective p_target needs --target (the loss to reach)" in res.output, res.output
    with pytest.warns(bs.ConvergenceWarning, match=r"the fits of 2 configuration\(s\) failed a sampler check"):
        res = runner.invoke(app, ["compare-at-scale", f"one={fit_file}", f"two={fit_file}", "--compute", "1e22",
                                  "--figure", str(tmp_path / "figures" / "cmp.png")])  # a short fit's, both
    assert res.exit_code == 0, (res.output, res.exception)
    assert "loss: lower is better; crossings searched from" in res.output
    assert "p_best" in res.output and "crossover" in res.output and (tmp_path / "figures" / "cmp.png").exists()
    assert "margins (first minus second configuration" in res.output and "p_first_better" in res.output
    res = runner.invoke(app, ["decide", str(fit_file), "--compute", "1e21", "--objective", "quantile"])
    assert res.exit_code == 0 and "q90" in res.output, res.output  # the optimised quantile is shown
    res = runner.invoke(app, ["compare-at-scale", str(fit_file), "--compute", "1e22"])
    assert res.exit_code == 2 and "groups" in res.output
    res = runner.invoke(app, ["compare-at-scale", "one", "two", "--compute", "1e22"])
    assert res.exit_code == 2 and "NAME=FIT_FILE" in res.output


def test_cli_compare_and_backtest(runs_csv, fit_file, tmp_path):
    res = runner.invoke(app, ["compare", str(fit_file)])
    assert res.exit_code == 2 and "at least two fits" in res.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        res = runner.invoke(app, ["backtest", str(runs_csv), "--law", "chinchilla", "--holdout", "0.2",
                                  "--num-warmup", "300", "--num-samples", "300", "--out", str(tmp_path / "bt")])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "Backtest on compute" in res.output and "huber" in res.output
    table = pd.read_csv(tmp_path / "bt" / "backtest.csv")
    assert list(table["method"]) == ["bayescale", "huber"]
    assert len(pd.read_csv(tmp_path / "bt" / "predictions.csv")) == 2 * table["n_test"].iloc[0]
    res = runner.invoke(app, ["backtest", str(runs_csv), "--holdout", "2"])
    assert res.exit_code == 2 and "strictly between 0 and 1" in res.output
    res = runner.invoke(app, ["backtest", str(runs_csv), "--holdout", "0.2", "--no-classical",
                              "--target-accept-prob", "1.5"])
    assert res.exit_code == 2 and "target_accept_prob must be in (0, 1), got 1.5" in res.output, res.output


@pytest.mark.slow
def test_law_selection_case_study_smoke(tmp_path, run_case_study):
    out = run_case_study("law_selection", tmp_path)
    assert "Which law extrapolates best" in out and "PSIS-LOO prefers" in out
    for f in ("loo_chinchilla.csv", "backtest_chinchilla.csv", "predictions_chinchilla.csv", "backtest_chinchilla.png"):
        assert (tmp_path / f).stat().st_size > 0
    table = pd.read_csv(tmp_path / "backtest_chinchilla.csv")
    assert set(table["method"]) == {"bayescale", "huber"} and len(table) == 4
    # the full run's findings on Chinchilla (README): LOO prefers the two-input law by far, yet the power law in
    # compute is the better-calibrated extrapolator (90% intervals cover 87.5% of the held-out runs, 42 of 48; the
    # smoke run: the same), and the Bayesian intervals cover more than the Huber fit's bootstrap ones
    loo = pd.read_csv(tmp_path / "loo_chinchilla.csv", index_col=0)
    assert loo["rank"].idxmin() == "chinchilla" and loo.loc["chinchilla", "weight"] > 0.95, loo
    assert loo.loc["power_law_c", "elpd_diff"] < -4 * loo.loc["power_law_c", "dse"], loo
    cover = table.set_index(["law", "method"])["cover90"]
    assert cover["power_law_c", "bayescale"] > 0.75 > cover["chinchilla", "bayescale"], cover
    for law in ("power_law_c", "chinchilla"):
        assert cover[law, "bayescale"] > cover[law, "huber"], cover
