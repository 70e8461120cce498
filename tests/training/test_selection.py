"""The gate's choice of system and what a refit keeps of the chosen settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.models import LGBMBinaryScorer
from tenantmatch.training.errors import TrainingError
from tenantmatch.training.selection import Candidate, choose_system

B2E, E2B = "building_to_enterprise", "enterprise_to_building"


def _metrics(values: dict[str, float]) -> pd.DataFrame:
    rows = [(name, B2E, "ndcg@10", v) for name, v in values.items()]
    rows += [(name, E2B, "ndcg@10", 0.9) for name in values]
    return pd.DataFrame(rows, columns=["system", "direction", "metric", "value"])


def test_the_best_candidate_on_building_queries_is_chosen() -> None:
    chosen, record = choose_system(_metrics({"lightgbm": 0.21, "plain": 0.25, "random": 0.9}),
                                   ["lightgbm", "plain"])  # fmt: skip
    assert chosen == "plain"  # random is not a candidate, however well it did
    assert record["chosen"] == "plain"
    assert record["candidates"]["plain"][B2E]["ndcg@10"] == pytest.approx(0.25)
    assert record["candidates"]["lightgbm"][E2B]["ndcg@10"] == pytest.approx(0.9)
    assert "plain 0.2500, lightgbm 0.2100" in record["why"]


def test_ties_and_missing_values_go_to_the_first_candidate() -> None:
    assert choose_system(_metrics({"lightgbm": 0.2, "plain": 0.2}), ["lightgbm", "plain"])[0] == (
        "lightgbm"
    )
    nan = _metrics({"lightgbm": float("nan"), "plain": 0.1})
    assert choose_system(nan, ["lightgbm", "plain"])[0] == "plain"
    assert choose_system(_metrics({"lightgbm": 0.3}), ["lightgbm", "plain"])[0] == "lightgbm"
    with pytest.raises(TrainingError, match="no candidate"):
        choose_system(_metrics({}), [])


def test_refit_settings_keep_the_parameters_and_the_rounds_early_stopping_kept() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(400), "b": rng.random(400)}, dtype=np.float32)
    y = (X["a"] + 0.1 * rng.random(400) > 0.6).astype(int).to_numpy()
    scorer = LGBMBinaryScorer(num_boost_round=500, learning_rate=0.3, min_data_in_leaf=5,
                              early_stopping_rounds=5)  # fmt: skip
    scorer.fit(X[:300], y[:300], group=[300], X_valid=X[300:], y_valid=y[300:], group_valid=[100])
    settings = Candidate("plain", scorer, "plain").refit_settings()
    assert settings["num_boost_round"] == scorer.best_iteration_ < 500
    assert settings["learning_rate"] == 0.3 and settings["min_data_in_leaf"] == 5
