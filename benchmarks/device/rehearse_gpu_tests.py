"""Rehearse ``tests/test_gpu.py`` on the CPU before spending a lent GPU's minutes on it.

bayescale takes its accelerator path whenever ``jax.default_backend()`` is not ``"cpu"``: the chains and fits of a
call vectorised with ``vmap`` in one program (no threads), and up to 400 fits per ``fit_many`` call. This script
makes bayescale see ``"gpu"`` while JAX still runs on the CPU, with one host device as a GPU machine has, and runs
the GPU-only tests. It measures nothing about a GPU; it catches a test whose logic or statistics would fail there
(with 500 + 500 iterations the first test's fit failed R-hat on this path, 1.020, on 2026-12-02). Run from the
repository root (about 2 minutes on 2 cores)::

    BAYESCALE_HOST_DEVICES=1 python benchmarks/device/rehearse_gpu_tests.py
"""

import os
import sys

if os.environ.get("BAYESCALE_HOST_DEVICES") != "1":
    sys.exit("set BAYESCALE_HOST_DEVICES=1 (one device, as on a GPU machine) before running this script")

import jax  # noqa: E402

jax.default_backend = lambda: "gpu"  # read by bayescale at call time; JAX's own code does not use this name

import pytest  # noqa: E402

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests/test_gpu.py", *sys.argv[1:]]))
