"""The benchmark scripts' tables: what they compute from their measurements, on small inputs (the measurements
themselves are never asserted; they are printed by the scripts in ``benchmarks/``)."""

from __future__ import annotations

import importlib
import sys
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


def test_vmap_gradient_prints_a_row_per_k_against_one_chain(capsys, bench_module):
    vmap_gradient = bench_module("vmap_gradient")
    assert vmap_gradient.main(["--ks", "3", "--work", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "| chains at once (K) | us per chain per gradient | against K = 1 |"
    rows = [ln.strip("|").split("|") for ln in lines[3:]]
    assert [int(r[0]) for r in rows] == [1, 3]  # K = 1, the baseline, is always run
    assert rows[0][2].strip() == "1.00x" and float(rows[1][1]) > 0
