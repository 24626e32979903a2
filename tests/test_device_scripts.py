"""The prepared GPU check (``benchmarks/device/``) is valid bash and asks only for what exists.

A lent GPU machine gives a session 15 minutes in all, so its one command must not fail on a typo: the scripts parse,
the files they name are in the repository, and ``speed.py`` accepts the arguments ``gpu_check.sh`` passes it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "benchmarks" / "device"


@pytest.mark.parametrize("script", ["gpu_check.sh", "prepare_wheelhouse.sh"])
def test_device_scripts_parse(script):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    res = subprocess.run([bash, "-n", str(DEVICE / script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_gpu_check_names_existing_files_and_valid_speed_arguments():
    text = (DEVICE / "gpu_check.sh").read_text()
    for rel in re.findall(r"(?:tests|benchmarks)/[\w./-]+\.(?:py|json)", text):
        assert (ROOT / rel).is_file(), rel
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import speed
    finally:
        sys.path.pop(0)
    calls = re.findall(r"benchmarks/speed\.py (.*?)2>&1", text, flags=re.S)
    assert len(calls) == 2  # on the GPU, then on the same machine's CPU cores
    for call in calls:
        args = [a.strip('"') for a in call.replace("\\\n", " ").split()]
        args = ["8" if a in ("$MANY", "$HOST_MANY") else "out.json" if "$OUT" in a else a for a in args]
        parsed = speed.build_parser().parse_args(args)
        assert parsed.problems == ["G"] and parsed.many == 8 and parsed.baseline.endswith(".json")
    # the second run is on the CPU, one host device per core
    assert re.search(r'JAX_PLATFORMS=cpu BAYESCALE_HOST_DEVICES=\$\(nproc\) timeout "\$\(left\)" "\$PY" '
                     r"benchmarks/speed\.py", text)
    # the main process's work per fit on that host: host.py accepts what it is passed
    (call,) = re.findall(r'"\$PY" benchmarks/host\.py (.*?)2>&1', text, flags=re.S)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import host
    finally:
        sys.path.pop(0)
    args = ["out.json" if "$OUT" in a else a for a in (a.strip('"') for a in call.split())]
    parsed = host.build_parser().parse_args(args)
    assert parsed.fits == 100 and parsed.workers == 4 and parsed.json == "out.json"
    assert "benchmarks/device/wheelhouse" in text and "--no-index" in text  # the machine reaches no index
    assert "benchmarks/device/wheelhouse/" in (ROOT / ".gitignore").read_text()
