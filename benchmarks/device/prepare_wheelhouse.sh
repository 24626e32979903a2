#!/usr/bin/env bash
# Build benchmarks/device/wheelhouse/: the wheels that `bayescale[test]` needs on a lent GPU machine beyond what its
# image holds. That machine runs Python 3.12 on x86-64 and reaches no package index; its image already has JAX with
# the CUDA plugin, NumPy, SciPy, pandas, Matplotlib and h5py, which stay (JAX's CUDA plugin is built against the
# image's own jaxlib). Run this where PyPI is reachable; the folder is git-ignored and travels with the device
# tool's `carry` (about 15 MB). Then run gpu_check.sh there (its header says how).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WH=benchmarks/device/wheelhouse
PY=${PYTHON:-python3}
rm -rf "$WH"
mkdir -p "$WH"
"$PY" -m pip download -q -d "$WH" --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    --platform any ".[test]"
for p in jax jaxlib numpy scipy pandas matplotlib pillow fonttools h5py kiwisolver contourpy ml_dtypes; do
    rm -f "$WH/$p"-[0-9]*.whl
done
echo "$(find "$WH" -name '*.whl' | wc -l) wheels, $(du -sh "$WH" | cut -f1) in $WH"
