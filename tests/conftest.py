"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_case_study():
    """Run ``case_studies/<name>/run.py --smoke --out <out> [args]`` in a new process; return its stdout (fails on
    error)."""

    def run(name: str, out: Path, *args: str) -> str:
        script = ROOT / "case_studies" / name / "run.py"
        proc = subprocess.run([sys.executable, str(script), "--smoke", "--out", str(out), *args], capture_output=True,
                              text=True, timeout=900, env={**os.environ, "CI": "true"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    return run
