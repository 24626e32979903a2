"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from _skips import skip_without_data

ROOT = Path(__file__).resolve().parents[1]

#: Test files, longest first: seconds each took in a full run with two workers and an empty JAX cache on a 2-core AMD
#: EPYC (2026-12-06, 19:24 UTC, before the case-study smokes ran in-process), summed from ``--durations=0``:
#: engine 553, downstream 466, demo/CLI 351, fit 308, landscape 294, decide 288, chain 280, backtest 278, downstream
#: case studies 215, counts 213, chees 185, batch 181, check 170, laws 133, compute-optimal 89, calibration 70,
#: packaging 43, benchmark scripts 40, loss-to-loss 28, docs 19; the rest under 6 s each.
#: The README's command runs ``--dist loadfile --no-loadscope-reorder``: each file on one worker, handed out in
#: this order, so the long files start first and the short ones fill in at the end (xdist's default order, by
#: number of tests, left a long file for last, with one worker idle).
LONGEST_FIRST = ("test_engine.py", "test_downstream.py", "test_demo_cli.py", "test_fit.py", "test_landscape.py",
                 "test_decide.py", "test_chain.py", "test_backtest.py", "test_case_studies_downstream.py",
                 "test_counts.py", "test_chees.py", "test_batch.py", "test_check.py", "test_laws.py",
                 "test_compute_optimal.py", "test_calibration.py", "test_packaging.py", "test_benchmark_scripts.py",
                 "test_loss_to_loss.py", "test_docs.py")


def pytest_collection_modifyitems(items):
    """Order the files as :data:`LONGEST_FIRST` (the rest after them, as collected; tests in a file keep their
    order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def run_case_study(capsys):
    """Run ``case_studies/<name>/run.py --smoke --out <out> [args]`` and return what it printed (fails on error).

    It runs in this process: the script's ``main(argv)``, as ``python run.py`` would call it. A new process would
    import JAX and bayescale again and trace every program anew; here it shares the programs the worker's earlier
    tests compiled. Warnings are shown, not raised, as when the script runs on its own (the suite raises them).
    """
    import importlib.util
    import warnings

    import matplotlib.pyplot as plt

    import bayescale as bs

    def run(name: str, out: Path, *args: str) -> str:
        script = ROOT / "case_studies" / name / "run.py"
        spec = importlib.util.spec_from_file_location(f"_case_study_{name}", script)
        module = importlib.util.module_from_spec(spec)
        capsys.readouterr()  # what earlier steps of the test printed is not the script's
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                spec.loader.exec_module(module)
                code = module.main(["--smoke", "--out", str(out), *args])
        except (bs.datasets.DatasetNotFoundError, SystemExit) as exc:
            if isinstance(exc, bs.datasets.DatasetNotFoundError) or "not reachable" in str(exc):
                skip_without_data(f"case study {name!r}: its data are not reachable (set BAYESCALE_DATA_DIR)")
            raise
        finally:
            plt.close("all")
        printed = capsys.readouterr()
        assert code in (0, None), f"{name} exited with {code}: {printed.err[-3000:]}"
        return printed.out

    return run


@pytest.fixture(scope="session")
def sbc_alpha() -> float:
    """Family-wise level for simulation-based calibrations that must pass (negative controls keep the default 0.01).

    A correct model fails an SBC at level alpha with probability alpha, and the suite runs 13 that must pass: at
    0.01 that is about a 12% chance that one fails on a CPU whose rounding differs from the one their seeds were
    chosen on. It happened: on 2026-12-01, under XLA's AVX code path, `accuracy_compute`'s SBC gave p = 0.0002
    for `top` (ranks spread over every bin, no pile-up at the ends; seeds 1-3 there and 0-5 with AVX-512 gave
    0.18-0.82). At 0.001 the chance is about 1.3%; a real bug in a model or the sampler still fails by orders of
    magnitude (the negative controls reach p ~ 1e-150).
    """
    return 0.001
