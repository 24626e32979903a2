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


def skip_without_browser() -> None:
    """Skip a test that needs a headless Chromium when there is none; under CI (``CI=true``) fail instead, unless
    ``BAYESCALE_NO_BROWSER`` says why there is none (``.ci/run`` installs one where it can, and sets it where not)."""
    reason = ("no Chromium on PATH (apt install chromium); the HTML is still parsed by "
              "test_report_html_is_self_contained_with_every_section_and_figure")
    if os.environ.get("CI") == "true" and not os.environ.get("BAYESCALE_NO_BROWSER"):
        pytest.fail(f"{reason} (CI=true: .ci/run installs Chromium, or sets BAYESCALE_NO_BROWSER with the reason)")
    pytest.skip(f"{reason}: {os.environ.get('BAYESCALE_NO_BROWSER', 'not CI')}")


def load_or_skip(name: str):
    """``bayescale.datasets.load(name)``, or skip (fail under CI) when no data dir, cache or download has it."""
    import bayescale as bs

    try:
        return bs.datasets.load(name)
    except bs.datasets.DatasetNotFoundError as exc:
        skip_without_data(f"data set {name!r} not reachable (set BAYESCALE_DATA_DIR): {str(exc).splitlines()[0]}")


def real_chinchilla_runs():
    """The demo's Chinchilla runs (``runs, dropped``), or skip (fail under CI) when only its simulated ladder is."""
    from bayescale.demo import load_runs

    runs, dropped, simulated = load_runs()
    if simulated:
        skip_without_data("Chinchilla data not reachable: set BAYESCALE_DATA_DIR to the shared data directory")
    return runs, dropped
