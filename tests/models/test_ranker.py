"""The LightGBM ranker: learns a planted signal, stops early, explains its scores."""

from __future__ import annotations

import numpy as np
import pytest

from tenantmatch.models import FeatureMismatchError, LGBMRankerScorer, RandomScorer
from tests.models.conftest import World, fit_with_valid, make_world, mean_ndcg_at_10


@pytest.fixture(scope="module")
def train_valid_test() -> tuple[World, World, World]:
    return (
        make_world(n_groups=120, group_size=30, seed=10),
        make_world(n_groups=40, group_size=30, seed=11),
        make_world(n_groups=40, group_size=30, seed=12),
    )


@pytest.fixture(scope="module")
def fitted(train_valid_test: tuple[World, World, World]) -> LGBMRankerScorer:
    train, valid, _ = train_valid_test
    ranker = LGBMRankerScorer(categorical_features=["pair__category"], num_boost_round=300)
    return fit_with_valid(ranker, train, valid=valid)


def test_params_follow_the_spec() -> None:
    params = LGBMRankerScorer(seed=7).lgb_params()
    assert params["objective"] == "lambdarank"
    assert params["metric"] == "ndcg" and params["eval_at"] == [10]
    assert params["label_gain"] == [0.0, 1.0, 3.0, 7.0, 15.0]
    assert params["lambdarank_truncation_level"] == 20
    assert (params["num_threads"], params["deterministic"], params["seed"]) == (2, True, 7)
    assert (params["min_data_in_leaf"], params["num_leaves"]) == (50, 31)


def test_ranker_learns_the_planted_signal(
    fitted: LGBMRankerScorer, train_valid_test: tuple[World, World, World]
) -> None:
    train, _, test = train_valid_test
    ranker_ndcg = mean_ndcg_at_10(test, fitted.score(test.X))
    random = RandomScorer(seed=0).fit(train.X, train.y, group=train.group)
    random_ndcg = mean_ndcg_at_10(test, random.score(test.X))
    assert ranker_ndcg > 0.85
    assert ranker_ndcg > random_ndcg + 0.3
    top = fitted.feature_importance().index[0]
    assert top == "pair__signal"


def test_early_stopping_records_best_iteration(
    train_valid_test: tuple[World, World, World],
) -> None:
    train, _, _ = train_valid_test
    # Validation grades unrelated to the features: NDCG stops improving almost at once.
    noise = make_world(n_groups=20, group_size=30, seed=13)
    shuffled = np.random.default_rng(0).permutation(noise.y)
    ranker = LGBMRankerScorer(num_boost_round=400, early_stopping_rounds=10)
    fit_with_valid(ranker, train, valid=noise, y_valid=shuffled)
    assert 1 <= ranker.best_iteration_ < 100  # stopped long before the 400-round cap
    assert ranker.booster_.current_iteration() == ranker.best_iteration_  # trees kept to best
    assert "ndcg@10" in ranker.best_score_["valid"]


def test_without_validation_all_rounds_are_used(small_world: World) -> None:
    ranker = LGBMRankerScorer(num_boost_round=15, min_data_in_leaf=10)
    ranker.fit(small_world.X, small_world.y, group=small_world.group)
    assert ranker.best_iteration_ == 15


def test_contributions_sum_to_raw_score(
    fitted: LGBMRankerScorer, train_valid_test: tuple[World, World, World]
) -> None:
    test = train_valid_test[2]
    contrib = fitted.contributions(test.X)
    assert contrib.shape == (len(test.X), len(fitted.feature_names_) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), fitted.score(test.X), rtol=0, atol=1e-9)


def test_unknown_categorical_feature_is_refused(small_world: World) -> None:
    ranker = LGBMRankerScorer(categorical_features=["pair__industry"])
    with pytest.raises(FeatureMismatchError, match="pair__industry"):
        ranker.fit(small_world.X, small_world.y, group=small_world.group)
