#!/usr/bin/env bash
# Issue 3's GPU checks in one command on a lent GPU machine, about 8 minutes: the GPU-only tests and problem G
# (1,000 batched small fits and one 64-group fit) against the saved CPU baseline. First, here:
#
#   bash benchmarks/device/prepare_wheelhouse.sh
#
# then, with the device tool:
#
#   run(command="bash benchmarks/device/gpu_check.sh", carry=["benchmarks/device/wheelhouse"], timeout_s=600)
#
# Before spending device time, rehearse the GPU tests on this CPU (bayescale's accelerator path, about 2
# minutes): BAYESCALE_HOST_DEVICES=1 python benchmarks/device/rehearse_gpu_tests.py
#
# Everything it prints is also written under $OUT (setup.log, gpu_tests.log, g_gpu.log, g_gpu.json, host.log,
# host.json, g_hostcpu.log and g_hostcpu.json), which comes back. It installs bayescale and what the image lacks
# from the carried wheels, offline, into the image's own python3 (itself a venv, whose JAX has CUDA: a venv made
# from it would not see its packages); the machine is thrown away afterwards. Each step has its own time limit, so
# a slow step leaves the later ones their time; the JSON is written only when problem G finishes. Then, if time is
# left, benchmarks/host.py measures the main process's work per fit on this host (the ceiling it sets on any
# device). Last, if more than a minute is left, G's small fits run again on the same machine's CPU cores
# (JAX_PLATFORMS=cpu, one host device per core, no 64-group fit): is that host, which also builds every Fit in
# Python, better at small laws than its GPU? Neither sets the exit status. BAYESCALE_GPU_MANY (default 1000) sets
# G's number of fits, BAYESCALE_HOSTCPU_MANY (default 256) the host run's, BAYESCALE_GPU_BUDGET_S (default 560) the
# seconds for the whole script, BAYESCALE_GPU_PYTHON (default python3) the interpreter.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
START=$(date +%s)
BUDGET=${BAYESCALE_GPU_BUDGET_S:-560}
MANY=${BAYESCALE_GPU_MANY:-1000}
PY=${BAYESCALE_GPU_PYTHON:-python3}
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
stamp() { echo "[gpu_check] $(( $(date +%s) - START )) s: $*"; }

{
    stamp "setup"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "(no nvidia-smi)"
    # the build backend first: the editable install below builds without isolation, and a Python 3.12 venv has no
    # setuptools of its own
    "$PY" -m pip install -q --no-index --find-links benchmarks/device/wheelhouse setuptools wheel || exit 1
    "$PY" -m pip install -q --no-index --find-links benchmarks/device/wheelhouse --no-build-isolation \
        -e '.[test]' || exit 1
    "$PY" -c "import jax, jaxlib, numpyro, arviz_base, xarray, bayescale
print('jax', jax.__version__, 'jaxlib', jaxlib.__version__, 'numpyro', numpyro.__version__, 'arviz-base',
      arviz_base.__version__, 'xarray', xarray.__version__)
print('backend', jax.default_backend(), jax.devices())"
} 2>&1 | tee "$OUT/setup.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || { stamp "setup failed"; exit 1; }

stamp "GPU-only tests" | tee "$OUT/gpu_tests.log"
timeout 200 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py 2>&1 | tee -a "$OUT/gpu_tests.log"
TESTS=${PIPESTATUS[0]}

stamp "problem G: $MANY fits, $(left) s left" | tee "$OUT/g_gpu.log"
timeout "$(left)" "$PY" benchmarks/speed.py --problems G --many "$MANY" \
    --baseline benchmarks/results/g_cpu_2026-12-05_0650.json --json "$OUT/g_gpu.json" 2>&1 | tee -a "$OUT/g_gpu.log"
G=${PIPESTATUS[0]}
stamp "problem G exit $G" | tee -a "$OUT/g_gpu.log"

# the main process's work a fit of fit_many on this host (benchmarks/host.py): the most fits/s any device gets
# through fit_many here, against the GPU goal's bar; informative only, so it does not set the exit status
if (( $(left) > 170 )); then
    stamp "main-process work per fit (benchmarks/host.py), $(left) s left" | tee "$OUT/host.log"
    timeout 150 "$PY" benchmarks/host.py --fits 100 --workers 4 --repeats 2 --json "$OUT/host.json" 2>&1 \
        | tee -a "$OUT/host.log"
    stamp "host.py exit ${PIPESTATUS[0]}" | tee -a "$OUT/host.log"
fi

# G's fits (fewer: its JSON is written only when it finishes) on this machine's CPU cores; informative only, so it
# does not set the exit status
HOST_MANY=${BAYESCALE_HOSTCPU_MANY:-256}
if (( $(left) > 60 )); then
    stamp "problem G on the host's $(nproc) CPU cores: $HOST_MANY fits, $(left) s left" | tee "$OUT/g_hostcpu.log"
    JAX_PLATFORMS=cpu BAYESCALE_HOST_DEVICES=$(nproc) timeout "$(left)" "$PY" benchmarks/speed.py --problems G \
        --many "$HOST_MANY" --no-big --baseline benchmarks/results/g_cpu_2026-12-05_0650.json --json "$OUT/g_hostcpu.json" \
        2>&1 | tee -a "$OUT/g_hostcpu.log"
    stamp "host CPU run exit ${PIPESTATUS[0]}" | tee -a "$OUT/g_hostcpu.log"
fi
stamp "done: tests exit $TESTS, problem G exit $G"
exit $(( TESTS != 0 || G != 0 ))
