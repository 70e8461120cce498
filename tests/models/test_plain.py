"""The plain baseline's binary classifier: learns the planted signal, is stored as LightGBM
text with its feature names and comes back with the same scores and contributions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tenantmatch.models import (
    FEATURE_SET_KEY,
    LGBMBinaryScorer,
    feature_set_of,
    load_version,
    path_explainer,
    save_version,
)
from tests.models.conftest import World, fit_with_valid, mean_ndcg_at_10


def _fitted(small_world: World, other_world: World) -> LGBMBinaryScorer:
    scorer = LGBMBinaryScorer(num_boost_round=200, min_data_in_leaf=10, early_stopping_rounds=20)
    return fit_with_valid(scorer, small_world, valid=other_world)


def test_binary_classifier_ranks_the_planted_signal(small_world: World, other_world: World) -> None:
    scorer = _fitted(small_world, other_world)
    scores = scorer.score(other_world.X)
    shuffled = np.random.default_rng(0).permutation(scores)
    assert mean_ndcg_at_10(other_world, scores) > mean_ndcg_at_10(other_world, shuffled) + 0.1
    assert scorer.lgb_params()["objective"] == "binary"
    assert 1 <= scorer.best_iteration_ <= 200
    # the top feature is the planted one
    assert scorer.feature_importance().index[0] == "pair__signal"


def test_scores_are_raw_log_odds_and_sum_of_contributions(
    small_world: World, other_world: World
) -> None:
    scorer = _fitted(small_world, other_world)
    X = other_world.X.head(50)
    contributions = scorer.contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=1), scorer.score(X), rtol=1e-6, atol=1e-6)
    assert scorer.score(X).min() < 0 < scorer.score(X).max()  # log-odds, not probabilities
    explainer = path_explainer(scorer)
    assert explainer is not None
    np.testing.assert_allclose(explainer.contributions(X).sum(axis=1), scorer.score(X), atol=1e-6)


def test_stored_as_lightgbm_text_and_loaded_back(
    tmp_path: Path, small_world: World, other_world: World
) -> None:
    scorer = _fitted(small_world, other_world)
    store = tmp_path / "models"
    version = save_version(store, scorer, created=datetime(2026, 1, 1, tzinfo=UTC),
                           manifest_extra={FEATURE_SET_KEY: "plain"})  # fmt: skip
    text = (store / "versions" / version / "model.txt").read_text()
    assert text.startswith("tree") and "objective=binary" in text
    assert "feature_names=" + " ".join(small_world.X.columns) in text
    loaded = load_version(store, version)
    assert loaded.manifest["kind"] == "lightgbm_binary"
    assert feature_set_of(loaded.manifest) == "plain"
    np.testing.assert_array_equal(loaded.scorer.score(other_world.X), scorer.score(other_world.X))


def test_models_without_a_feature_set_use_the_rankers() -> None:
    assert feature_set_of({}) == "ranker"
    assert feature_set_of({FEATURE_SET_KEY: "plain"}) == "plain"
