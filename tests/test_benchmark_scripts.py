"""The benchmark scripts' tables: what they compute from their measurements, on small inputs (the measurements
themselves are never asserted; they are printed by the scripts in ``benchmarks/``)."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench_module():
    """Import a module of ``benchmarks/`` by name."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_problem_c_table_prints_the_sampler_against_its_gradient_floor(capsys, bench_module):
    """``table_c`` divides each row's sampler seconds by its gradients x one gradient's cost / cores (and prints a
    dash for a row without them, and for a saved run from before the floor was measured)."""
    speed = bench_module("speed")
    row = {"system": "many", "fits": 10, "wall_s": 5.0, "per_fit_s": 0.5, "compile_s": 1.0, "sampler_s": 3.0,
           "grad_evals": 1_000_000, "passed": 10}
    old = {"system": "old", "fits": 2, "wall_s": 20.0, "per_fit_s": 10.0, "compile_s": 19.0, "passed": 2}
    cost = {"system": "_gradient", "grad_s": {"alone": 1e-6, "together": 2e-6, "concurrent": 2}, "cores": 2}
    loop = {"system": "loop of bs.fit", "fits": 10, "wall_s": 10.0, "per_fit_s": 1.0, "compile_s": 1.0, "passed": 10}
    speed.table_c([row, old, loop, cost])
    lines = capsys.readouterr().out.splitlines()
    assert "2.00 us each with 2 at once" in lines[1]
    assert lines[4].startswith("| many |") and "| 1,000,000 | 3.00 |" in lines[4]  # 3 s / (1e6 x 2 us / 2)
    assert "| 0.50 | 1.0x | 2.0x |" in lines[4]  # the loop takes 1 s a fit, the batched row 0.5 s
    assert lines[5].startswith("| old |") and lines[5].endswith("| — | — | — | 2/2 |")
    assert "| 20.0x | 0.1x |" in lines[5]
    speed.table_c([row, old])  # no gradient row: no floor; no loop row: no speed-up over it
    out = capsys.readouterr().out
    assert "| 1,000,000 | — |" in out and "| 1.0x | — |" in out


def test_problem_c_floor_uses_the_gradient_timed_around_its_row(capsys, bench_module):
    """A row timed between two gradient measurements gets the mean of the two as its cost (not the run's last), and
    the drift between them is printed, flagged when over 20%."""
    speed = bench_module("speed")
    cost = {"system": "_gradient", "grad_s": {"alone": 1e-6, "together": 9e-6, "concurrent": 2}, "cores": 2}

    def row(name, before, after):
        return {"system": name, "fits": 10, "wall_s": 5.0, "per_fit_s": 0.5, "compile_s": 1.0, "sampler_s": 3.0,
                "grad_evals": 1_000_000, "passed": 10,
                "grad_s": {k: {"alone": 1e-6, "together": v, "concurrent": 2} for k, v in (("before", before),
                                                                                            ("after", after))}}

    speed.table_c([row("steady", 2e-6, 2e-6), row("drifted", 1e-6, 3e-6), cost])
    lines = capsys.readouterr().out.splitlines()
    assert "| 1,000,000 | 3.00 |" in lines[4] and "| 1,000,000 | 3.00 |" in lines[5]  # 3 s / (1e6 x 2 us / 2)
    assert lines[6] == "  steady: one gradient 2.00 us before the row, 2.00 us after it"
    assert lines[7].startswith("  drifted: one gradient 1.00 us before the row, 3.00 us after it (the machine's")
    alone = {"system": "steady: its first 5 fits again, sampler alone", "alone": True, "fits": 5, "reps": 3,
             "sampler_s": 0.5, "grad_evals": 100_000, "floor_ratios": [1.3, 1.1, 1.2]}
    speed.table_c([row("steady", 2e-6, 2e-6), alone, cost])
    lines = capsys.readouterr().out.splitlines()
    assert lines[4].startswith("| steady |") and not any(ln.startswith("| steady: its first") for ln in lines[:6])
    assert lines[-1] == "| steady: its first 5 fits again, sampler alone | 3 | 0.50 | 100,000 | 1.20 | 1.10-1.30 |"


def test_problem_c_second_calls_get_their_own_table_against_the_loops_second_pass(capsys, bench_module):
    """Rows marked ``repeat`` stay out of the main table (and its speed-up over the first loop) and are compared
    with the loop's second pass in a table of their own."""
    speed = bench_module("speed")
    cost = {"system": "_gradient", "grad_s": {"alone": 1e-6, "together": 2e-6, "concurrent": 2}, "cores": 2}

    def row(name, per_fit, **extra):
        return {"system": name, "fits": 10, "wall_s": 10 * per_fit, "per_fit_s": per_fit, "compile_s": 0.0,
                "sampler_s": 3.0, "grad_evals": 1_000_000, "passed": 10, **extra}

    speed.table_c([row("chees", 0.5), row("loop of bs.fit", 2.0), row("chees, second call", 0.25, repeat=True),
                   row("loop of bs.fit, second pass", 1.5, repeat=True), cost])
    lines = capsys.readouterr().out.splitlines()
    assert lines[4].startswith("| chees |") and "| 4.0x |" in lines[4]  # against the first loop: 2.0 / 0.5
    assert lines[5].startswith("| loop of bs.fit |") and lines[6] == ""
    assert lines[7].startswith("### A second call of the same shapes")
    assert lines[10] == "| chees, second call | 10 | 2.5 | 0.25 | 6.0x | 0.0 | 3.0 | 3.00 | 10/10 |"  # 1.5 / 0.25
    assert lines[11].startswith("| loop of bs.fit, second pass | 10 | 15.0 | 1.50 | 1.0x |")


def test_every_law_table_gives_each_law_its_ratios_to_the_baseline(capsys, bench_module):
    """``every_law.table`` sums each mode's first and second calls, divides by the baseline's, and totals the
    gradients and failed fits over the laws."""
    every_law = bench_module("every_law")

    def call(steps, warmup, wall, passed, problems=(), refitted=0):
        return {"wall_s": wall, "compile_s": 1.0, "sampler_s": wall / 2, "warmup_steps": warmup, "steps": steps,
                "passed": passed, "fits": 4, "min_ess_bulk": 500.0, "problems": list(problems),
                "refitted": refitted}

    row = {"law": "kaplan",
           "first": {"False": call(1000, 600, 9.0, 4), "True": call(700, 300, 8.0, 3, ["R-hat >= 1.01 for e"])},
           "second": {"False": call(1000, 600, 2.0, 4), "True": call(800, 300, 1.0, 4, refitted=2)}}
    every_law.table([row], "fallback")
    lines = capsys.readouterr().out.splitlines()
    assert "fallback=True (failed fits refitted at target_accept_prob 0.99)" in lines[1]
    assert lines[5] == ("| kaplan | off (baseline) | 4/4, 4/4 | 0, 0 | 500, 500 | 1,200 | 2,000 | 1.0 | 2.0 | 1.0 "
                        "| 1.00 | 1.00 | 1.00 |")
    assert lines[6] == ("| kaplan | on | 3/4, 4/4 | 0, 2 | 500, 500 | 600 | 1,500 | 1.0 | 1.0 | 0.5 | 0.75 | 0.50 "
                        "| 0.50 |")
    assert ("fallback on took 0.75x the baseline's gradients (1,500 against 2,000); fits failing a check: 1 with it "
            "on, 0 off, of 8") in lines[8]
    assert lines[9] == "  kaplan, fallback=True: R-hat >= 1.01 for e"


def test_every_law_counts_the_gradients_of_the_fits_a_refit_replaced(bench_module):
    """A refitted fit's steps are its own plus those of the failed fit it replaced (``meta["fallback_from"]``)."""
    from types import SimpleNamespace

    every_law = bench_module("every_law")
    fit = SimpleNamespace(meta={"sampler": {"warmup_steps": 50, "sample_steps": 70},
                                "fallback_from": [{"warmup_steps": 5, "sample_steps": 7}]})
    assert every_law._steps(fit, "warmup_steps") == 55 and every_law._steps(fit, "sample_steps") == 77
    assert every_law.OPTIONS["warm_start"][0]["fallback"] is False  # the warm start measures the sampler alone


def test_every_law_level_option_fits_the_earlier_mode_with_one_site_per_parameter(bench_module):
    """``--option level``'s baseline makes ``bs.fit_many`` resolve no level (and restores it after)."""
    import bayescale as bs

    every_law = bench_module("every_law")
    fit_module = importlib.import_module("bayescale.fit")
    law = bs.get_law("chinchilla")
    pool = {p: "shared" for p in law.params}
    assert every_law.OPTIONS["level"] == ({"fallback": False, "level": False}, {"fallback": False})
    with every_law._without_level(False):
        assert fit_module.resolve_level(law, pool) == ()
    with every_law._without_level(True):
        assert fit_module.resolve_level(law, pool) == ("e", "a", "b")
    assert fit_module.resolve_level(law, pool) == ("e", "a", "b")


def test_speed_earlier_mode_samples_one_site_per_parameter(bench_module):
    """The earlier mode's model (``speed.earlier_model``) has the sites of before ``Law.level``."""
    import bayescale as bs
    from bayescale.build import ModelConfig, build_model
    from bayescale.predict import _sample_sites

    speed = bench_module("speed")
    law = bs.get_law("chinchilla")
    runs = bs.simulate_ladder(law, seed=0)
    fit_module = importlib.import_module("bayescale.fit")
    table = bs.validate_runs(runs, law)
    data, _, _ = fit_module._model_data(table, fit_module.geometric_centre({k: runs[k] for k in law.inputs}))
    config = ModelConfig(pool={p: "shared" for p in law.params})
    assert "log_terms" in _sample_sites(build_model(law, config), data)
    sites = _sample_sites(speed.earlier_model(law, config), data)
    assert "log_terms" not in sites and {"e", "a_c", "b_c"} <= set(sites)


def test_gradient_clock_times_the_compiled_loops_again_without_compiling(bench_module):
    """``gradient_clock`` compiles once; each call of what it returns times the two loops again."""
    import bayescale as bs

    speed = bench_module("speed")
    runs = bs.simulate_ladder("chinchilla", seed=0)
    clock = speed.gradient_clock(runs, likelihood="student_t")
    comp = speed.Compiles()
    first, second = clock(), clock()
    assert comp.seconds == 0.0
    for out in (first, second):
        assert set(out) == {"alone", "together", "concurrent"} and out["alone"] > 0 and out["together"] > 0


def test_vmap_gradient_prints_a_row_per_k_against_one_chain(capsys, bench_module):
    vmap_gradient = bench_module("vmap_gradient")
    assert vmap_gradient.main(["--ks", "3", "--work", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "| chains at once (K) | us per chain per gradient | against K = 1 |"
    rows = [ln.strip("|").split("|") for ln in lines[3:]]
    assert [int(r[0]) for r in rows] == [1, 3]  # K = 1, the baseline, is always run
    assert rows[0][2].strip() == "1.00x" and float(rows[1][1]) > 0


def test_memory_table_gives_each_row_added_memory_against_its_problems_baseline(capsys, bench_module):
    """``memory.table``: added memory over the baseline row's, and dashes where a row has no fits to size."""
    memory = bench_module("memory")
    base = {"system": "earlier", "baseline": True, "peak_mib": 700.0, "imports_mib": 300.0, "added_mib": 400.0,
            "results_mib": None, "saved_mib": None}
    row = {"system": "now", "baseline": False, "peak_mib": 600.0, "imports_mib": 300.0, "added_mib": 300.0,
           "results_mib": 1.25, "saved_mib": 1.5}
    memory.table("A", [base, row])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "## Problem A  (baseline: earlier)"
    assert lines[4] == "| earlier | 700 | 300 | 400 | 1.00x | — | — |"
    assert lines[5] == "| now | 600 | 300 | 300 | 0.75x | 1.2 | 1.5 |"
    assert set(memory.ROWS) == {"A", "B", "C"} and all(sum(b for _, b in rows) == 1 for rows in memory.ROWS.values())


def test_memory_sizes_a_fit_in_memory_and_on_disk(bench_module):
    """The results columns: every DataTree group's arrays, and the netCDF files ``Fit.save`` writes."""
    import bayescale as bs

    memory = bench_module("memory")
    runs = bs.simulate_ladder("chinchilla", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # 50 draws: sized, not judged
        fit = bs.fit("chinchilla", runs, num_chains=1, num_warmup=50, num_samples=50, seed=0, progress_bar=False)
    groups = {node.name for node in fit.tree.subtree}
    assert {"posterior", "log_likelihood", "observed_data"} <= groups
    posterior = fit.tree["posterior"].ds.nbytes / memory.MIB
    one = memory.tree_mib([fit])
    assert memory.tree_mib([fit, fit]) == pytest.approx(2 * one) and one > posterior
    assert 0 < memory.saved_mib([fit]) < 10 * memory.tree_mib([fit])
    assert memory.peak_mib() > 50  # this process, with JAX loaded


def test_host_table_gives_each_phase_per_fit_and_the_ceiling_against_the_baseline(capsys, bench_module):
    """``host.table``: each phase's median ms of main-thread CPU per fit over the repeats, their total, the ceiling
    ``1000 / total`` fits/s and its ratio to the baseline's fits/s."""
    host = bench_module("host")
    phases = {name: 0.0 for name in host.PHASES}
    first = dict(phases, _prepare=0.2, _make_fit=0.4, other=0.1)  # 100 fits: 7 ms a fit
    second = dict(phases, _prepare=0.3, _make_fit=0.4, other=0.1)  # 8 ms a fit
    third = dict(phases, _prepare=0.2, _make_fit=0.5, other=0.2)   # 9 ms a fit
    host.table({"fits": 100, "host_workers": 1, "phases": [first, second, third], "baseline_s": [5.0, 4.0, 10.0]})
    lines = capsys.readouterr().out.splitlines()
    row = {ln.split("|")[1].strip(): ln for ln in lines if ln.startswith("| ")}
    assert "| 2.00 | 2.00-3.00 | 25% |" in row["checking runs, model data"]  # median 2 ms of the median total 8
    assert "| 4.00 | 4.00-5.00 | 50% |" in row["building each Fit (DataTree, metadata)"]
    assert "| **8.00** | 7.00-9.00 | 100% |" in row["**total**"]
    # ceiling 1000 / 8 = 125 fits/s; baseline median of 20, 25 and 10 fits/s = 20; 125 / 20 = 6.2x
    assert "125 fits/s" in lines[-1] and "20.0 fits/s (10.0-25.0)" in lines[-1] and "6.2x" in lines[-1]


def test_new_process_table_divides_the_earlier_mode_by_each_mode(capsys, bench_module):
    """``new_process.table``: each row's later processes against the earlier mode's for the same job."""
    new_process = bench_module("new_process")
    rows = [{"job": job, "mode": mode, "first_s": 6.0, "again_s": again, "again_range": (again - 0.1, again + 0.1),
             "again_job_s": again - 1.0}
            for job, times in (("check", {"earlier": 6.0, "today": 2.4}), ("predict", {"earlier": 2.0, "today": 1.6}))
            for mode, again in times.items()]
    new_process.table(rows)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| load")]
    assert len(lines) == 4
    assert "(earlier mode) | 6.0 | 6.0 (5.9-6.1) | 5.00 | 1.00x |" in lines[0]
    assert "(today) | 6.0 | 2.4 (2.3-2.5) | 1.40 | 2.50x |" in lines[1]
    assert lines[3].startswith("| load a fit; predict") and lines[3].endswith("| 1.25x |")


def test_repeat_calls_table_divides_the_earlier_mode_by_today(capsys, bench_module):
    """``repeat_calls.table``: each mode's median (range), and the ratio of the earlier mode's median to today's."""
    repeat_calls = bench_module("repeat_calls")
    repeat_calls.table([{"job": "fit.check()", "first_s": 8.0, "rebuilt_s": [7.5, 8.0, 7.0], "kept_s": [0.7, 0.5, 0.6]},
                        {"job": "fit.predict()", "first_s": 1.0, "rebuilt_s": [1.0], "kept_s": [0.25]}])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| fit.")]
    assert lines == ["| fit.check() | 8.00 | 7.50 (7.00-8.00) | 0.60 (0.50-0.70) | 12.5x |",
                     "| fit.predict() | 1.00 | 1.00 (1.00-1.00) | 0.25 (0.25-0.25) | 4.0x |"]


def test_loss_to_loss_table_gives_the_warm_start_against_the_earlier_settings(capsys, bench_module):
    """``benchmarks/loss_to_loss.py``: stage 2's earlier settings turn the warm start off and leave the warm-up's
    trees uncapped; the table divides each row's sampler by the first row's and reports how far the medians moved."""
    mod = bench_module("loss_to_loss")
    earlier, warm = mod.MODES.values()
    assert earlier == {"warm_start": False, "warmup_tree_depth": 10} and warm == {"warm_start": True}
    base = {"mode": "earlier", "wall_s": 800.0, "sampler_s": 780.0, "warmup_steps": 2_000_000,
            "draws_steps": 1_500_000, "steps_per_draw": 250.0, "at_max_depth": 0.0, "min_ess_bulk": 5000.0,
            "min_ess_tail": 3800.0, "max_r_hat": 1.002, "divergences": 0, "ok": True,
            "medians": {"e[c4]": 2.358, "kappa_loc": 0.684}}
    new = dict(base, mode="warm", wall_s=90.0, sampler_s=78.0, steps_per_draw=15.0, ok=False,
               medians={"e[c4]": 2.355, "kappa_loc": 0.684})
    mod.table([base, new])
    out = capsys.readouterr().out
    assert "| warm | 90.0 | 78.0 | 0.10x | 2,000,000 | 1,500,000 | 15.0 | 0.0% | 5000 / 3800 | 1.002 | 0 | FAIL |" \
        in out
    assert "| earlier | 800.0 | 780.0 | 1.00x |" in out
    assert "posterior medians of E, kappa and K: 0.0030" in out


def test_jax_versions_table_gives_each_version_its_medians_and_ratios_to_the_first(bench_module):
    jax_versions = bench_module("jax_versions")

    def run(seconds):
        return {c: seconds for c in jax_versions.COLUMNS}

    lines = jax_versions.table({"0.12.0.1": [run(1.0), run(3.0)], "0.12.1": [run(4.0)]}).splitlines()
    assert lines[0].startswith("| jax | rounds | fit_a_cold s (ratio) |")
    assert lines[2] == "| 0.12.0.1 | 2 | " + " | ".join(["2.0 (1.00x)"] * len(jax_versions.COLUMNS)) + " |"
    assert lines[3] == "| 0.12.1 | 1 | " + " | ".join(["4.0 (2.00x)"] * len(jax_versions.COLUMNS)) + " |"


def test_speed_figure_draws_a_panel_per_problem_and_marks_the_gate(tmp_path, bench_module):
    """``speed.figure`` draws a saved run's A, B and C as one PNG; a C row whose fits do not all pass is labelled
    with how many fail, a B row failing the gate with why; the goal lines sit at 6 s (A) and at a tenth of the loop
    of ``bs.fit`` (C); a run of problem G alone has nothing to draw and says so."""
    speed = bench_module("speed")
    fit = {"max_r_hat": 1.001, "min_ess_bulk": 2000.0, "divergences": 0, "means": {"e": 1.0}, "sds": {"e": 0.1}}
    saved = {
        "machine": {"date_utc": "2026-12-07 11:00", "cpu_count": 2, "cpu": "test CPU"},
        "settings": {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000},
        "A": [{"system": "bayescale, cold process", "wall_s": 5.0, **fit},
              {"system": "stan", "wall_s": 50.0, "sample_s": 10.0, **fit},
              {"system": "Huber + L-BFGS grid + bootstrap", "wall_s": 12.0},
              {"system": "_gradient", "grad_s": {}}],
        "B": [{"system": "bayescale, first fit", "wall_s": 3.0, "sample_s": 1.0, **fit},
              {"system": "nutpie", "wall_s": 9.0, "sample_s": 3.0, **{**fit, "max_r_hat": 1.02}}],
        "C": [{"system": "bs.fit_many", "fits": 100, "wall_s": 5.0, "per_fit_s": 0.05, "passed": 98},
              {"system": "loop of bs.fit", "fits": 100, "wall_s": 20.0, "per_fit_s": 0.2, "passed": 100}],
    }
    out = speed.figure(saved, tmp_path / "speed.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert speed._row_gate("C", saved["C"][0], None) == "2 of 100 fail"
    assert speed._row_gate("C", saved["C"][1], None) == "pass"
    assert speed._row_gate("B", saved["B"][1], None).startswith("FAIL: R-hat 1.020")
    assert speed._row_gate("A", saved["A"][2], None) == "pass"  # the Huber fit has no draws to judge
    assert speed._goal_line("A", [])[0] == 6.0
    assert speed._goal_line("C", [("bs.fit_many", 0.05, "pass"), ("loop of bs.fit", 0.2, "pass")])[0] == 0.02
    assert speed._goal_line("B", []) is None
    with pytest.raises(ValueError, match="none of problems A, B and C"):
        speed.figure({"machine": saved["machine"], "settings": saved["settings"], "G": []}, tmp_path / "g.png")
