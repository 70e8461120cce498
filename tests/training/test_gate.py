"""The promotion gate: a worse candidate is rejected with a reason, a better one promoted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.models import (
    current_version,
    list_versions,
    load_current,
    make_scorer,
    promote,
    save_version,
)
from tenantmatch.training.config import RANKER
from tenantmatch.training.pipeline import CURRENT, promotion_gate

B2E = "building_to_enterprise"


def _store_with_current(tmp_path: Path) -> tuple[Path, str, str]:
    X = pd.DataFrame({"f": np.arange(6, dtype=np.float32)})
    scorer = make_scorer("random").fit(X, [0, 1, 0, 0, 2, 0], group=[3, 3])
    store = tmp_path / "models"
    old = save_version(store, scorer, created=datetime(2026, 1, 1, tzinfo=UTC))
    promote(store, old)
    new = save_version(store, scorer, created=datetime(2026, 2, 1, tzinfo=UTC))
    return store, old, new


def _metrics(new: float, old: float) -> pd.DataFrame:
    rows = [
        (RANKER, B2E, "ndcg@10", new),
        (CURRENT, B2E, "ndcg@10", old),
        (RANKER, "enterprise_to_building", "ndcg@10", 0.99),
    ]
    return pd.DataFrame(rows, columns=["system", "direction", "metric", "value"])


def _status(store: Path, version: str) -> dict:
    return next(v for v in list_versions(store) if v["version"] == version)


def test_worse_candidate_is_rejected_and_current_kept(tmp_path: Path) -> None:
    store, old, new = _store_with_current(tmp_path)
    promoted, reason = promotion_gate(
        store, new, metrics=_metrics(0.30, 0.31), current=load_current(store), previous=old
    )
    assert not promoted
    assert current_version(store) == old
    status = _status(store, new)
    assert status["status"] == "rejected"
    assert "0.3000" in status["reason"] and "0.3100" in status["reason"]
    assert reason.startswith("rejected")


def test_equal_or_better_candidate_is_promoted(tmp_path: Path) -> None:
    store, old, new = _store_with_current(tmp_path)
    promoted, reason = promotion_gate(
        store, new, metrics=_metrics(0.31, 0.31), current=load_current(store), previous=old
    )
    assert promoted
    assert current_version(store) == new
    assert _status(store, old)["status"] == "candidate"
    assert "promoted" in reason


def test_first_model_is_promoted_without_comparison(tmp_path: Path) -> None:
    store, _, new = _store_with_current(tmp_path)
    (store / "CURRENT").unlink()
    promoted, reason = promotion_gate(
        store, new, metrics=_metrics(0.1, float("nan")), current=None, previous=None
    )
    assert promoted and current_version(store) == new
    assert "no current model" in reason
