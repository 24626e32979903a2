"""The family-2/3 case studies run with one command, in --smoke mode, on the real data, and write what they promise."""

from __future__ import annotations

import pandas as pd
import pytest

QCOLS = ["q05", "q25", "q50", "q75", "q95"]


def _quantiles_ordered(frame: pd.DataFrame) -> bool:
    return bool((frame[QCOLS].diff(axis=1).iloc[:, 1:] >= 0).all().all())


@pytest.mark.slow
def test_olmo_ladder_smoke(tmp_path, run_case_study):
    out = run_case_study("olmo_ladder", tmp_path)
    assert "Held-out 3B runs inside the 90% intervals" in out
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert {"model", "task", "metric", *QCOLS} <= set(pred.columns)
    assert set(pred["model"]) == {"OLMo-2-7B", "OLMo-2-13B"} and set(pred["metric"]) == {"bpb", "acc"}
    assert len(pred) == 2 * 3 * 2 and _quantiles_ordered(pred)
    acc = pred[pred["metric"] == "acc"]
    assert ((acc["q05"] > 0) & (acc["q95"] < 1)).all()
    hold = pd.read_csv(tmp_path / "holdout_3b.csv")
    assert set(hold["method"]) == {"chain", "plug-in"} and len(hold) == 2 * 2 * 6 * 3
    assert (tmp_path / "chain_hellaswag.png").stat().st_size > 10_000


@pytest.mark.slow
def test_loss_to_loss_smoke(tmp_path, run_case_study):
    out = run_case_study("loss_to_loss", tmp_path)
    assert "Lowest expected loss on each evaluation set at 1e21 FLOPs" in out
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert {"pretraining_set", "eval_set", *QCOLS} <= set(pred.columns)
    assert len(pred) == 3 * 3 and _quantiles_ordered(pred)
    best = pd.read_csv(tmp_path / "best.csv")
    assert best.groupby("eval_set")["p_best"].sum().round(6).eq(1.0).all()
    assert (tmp_path / "p_best.png").stat().st_size > 5_000


@pytest.mark.slow
def test_overtraining_downstream_smoke(tmp_path, run_case_study):
    out = run_case_study("overtraining_downstream", tmp_path)
    assert "paper: 0.71%" in out
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert {"dataset", "model", "metric", "observed", "rel_error", *QCOLS} <= set(pred.columns)
    assert set(pred["metric"]) == {"loss", "err"} and set(pred["method"]) == {"chain", "plug-in"}
    assert pred[QCOLS].notna().all().all() and _quantiles_ordered(pred)
