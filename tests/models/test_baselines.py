"""Values of the baselines: what each one ranks first, and its required columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.models import (
    FeatureMismatchError,
    HandRuleScorer,
    InvalidTargetError,
    LogisticScorer,
    PopularityScorer,
    RandomScorer,
)
from tests.models.conftest import World, mean_ndcg_at_10


def _frame(**cols: list[float]) -> pd.DataFrame:
    return pd.DataFrame(cols).astype(np.float32)


def test_popularity_scores_are_the_column_with_nan_as_zero() -> None:
    X = _frame(e__events_12m=[3, np.nan, 7], b__moveins_12m=[9, 9, 9])
    scorer = PopularityScorer().fit(X, [0, 0, 1], group=[3])
    np.testing.assert_array_equal(scorer.score(X), [3.0, 0.0, 7.0])


def test_popularity_for_enterprise_queries_uses_building_moveins() -> None:
    X = _frame(e__events_12m=[3, 1, 7], b__moveins_12m=[1, 5, 2])
    scorer = PopularityScorer(query_side="enterprise").fit(X, [0, 0, 1], group=[3])
    np.testing.assert_array_equal(scorer.score(X), [1.0, 5.0, 2.0])


def test_popularity_fit_requires_its_column() -> None:
    X = _frame(b__moveins_12m=[1, 2])
    with pytest.raises(FeatureMismatchError, match="e__events_12m"):
        PopularityScorer().fit(X, [0, 1], group=[2])


def test_hand_rule_sums_terms_with_nan_as_zero_and_breaks_ties_by_content() -> None:
    X = _frame(
        pair__theme_prior_fit=[0.5, np.nan, 1.0, 0.0],
        pair__same_city=[1, 1, 0, 1],
        pair__space_need_fits=[1, np.nan, 1, 1],
    )
    scores = HandRuleScorer().fit(X, [1, 0, 0, 0], group=[4]).score(X)
    np.testing.assert_allclose(scores, [2.5, 1.0, 2.0, 2.0], atol=1e-8)
    assert scores[2] != scores[3]  # tie broken
    again = HandRuleScorer().fit(X, [1, 0, 0, 0], group=[4]).score(X.iloc[::-1])
    np.testing.assert_array_equal(again, scores[::-1])  # by row content, not position


def test_hand_rule_fit_requires_its_columns() -> None:
    X = _frame(pair__theme_prior_fit=[1.0, 0.0], pair__same_city=[1, 0])
    with pytest.raises(FeatureMismatchError, match="pair__space_need_fits"):
        HandRuleScorer().fit(X, [1, 0], group=[2])


def test_logistic_needs_both_classes() -> None:
    X = _frame(a=[1, 2, 3])
    with pytest.raises(InvalidTargetError, match="all 3 rows have y == 0"):
        LogisticScorer().fit(X, [0, 0, 0], group=[3])


def test_logistic_learns_the_planted_signal(small_world: World, other_world: World) -> None:
    scorer = LogisticScorer().fit(small_world.X, small_world.y, group=small_world.group)
    logistic = mean_ndcg_at_10(other_world, scorer.score(other_world.X))
    random = mean_ndcg_at_10(
        other_world,
        RandomScorer(seed=0)
        .fit(small_world.X, small_world.y, group=small_world.group)
        .score(other_world.X),
    )
    assert logistic > random + 0.2
