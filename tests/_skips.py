"""Skips that must not hide failures under CI."""

from __future__ import annotations

import os

import pytest


def skip_without_data(reason: str) -> None:
    """Skip a real-data test when no data is reachable; fail it under CI (``CI=true``), which always provides the
    data (``.ci/run`` sets ``BAYESCALE_DATA_DIR``), so that a broken data path cannot pass CI as skipped tests."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, where the data must be reachable)")
    pytest.skip(reason)
