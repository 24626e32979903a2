"""Property-based tests (hypothesis): size parsing, and validation that never crashes or mutates its input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayescale as bs
from bayescale.data import parse_size

SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "m": 1e6, "B": 1e9, "b": 1e9, "G": 1e9, "T": 1e12}


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False), st.sampled_from(sorted(SUFFIX)))
def test_parse_size_scales_by_suffix(x, suffix):
    text = f"{x:.6g}{suffix}"
    assert parse_size(text) == pytest.approx(float(f"{x:.6g}") * SUFFIX[suffix], rel=1e-12)


@given(st.text(alphabet="xyz?!/ ", min_size=1, max_size=6))
def test_parse_size_rejects_garbage_as_nan(text):
    assert np.isnan(parse_size(text))


cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=1e6, max_value=1e12),
    st.sampled_from(["7B", "350M", "abc", "", "1e9"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(cell, cell, cell), min_size=0, max_size=12))
def test_validate_runs_never_crashes_or_mutates(rows):
    """Whatever the table, validation either returns a clean table or raises RunTableError; the input is untouched."""
    frame = pd.DataFrame(rows, columns=["n", "d", "loss"], dtype=object)
    before = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        try:
            table = bs.validate_runs(frame, "chinchilla")
        except bs.RunTableError as err:
            assert err.problems and all(isinstance(p, str) and p for p in err.problems)
        else:
            clean = table.frame[["n", "d", "loss"]].to_numpy(dtype=float)
            assert np.isfinite(clean).all() and (clean > 0).all() and len(clean) >= 3
    pd.testing.assert_frame_equal(frame, before)
