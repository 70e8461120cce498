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
from tenantmatch.models.baselines import bounded_rows
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


def test_bounded_rows_keeps_every_positive_and_the_bound() -> None:
    positive = np.zeros(1_000, dtype=bool)
    positive[::50] = True  # 20 positives
    rows = bounded_rows(positive, max_rows=100, seed=3)
    assert len(rows) == 100
    assert np.all(np.diff(rows) > 0)
    assert set(np.flatnonzero(positive)) <= set(rows.tolist())
    assert np.array_equal(rows, bounded_rows(positive, max_rows=100, seed=3))
    assert not np.array_equal(rows, bounded_rows(positive, max_rows=100, seed=4))


def test_bounded_rows_samples_positives_beyond_half_the_bound() -> None:
    positive = np.ones(300, dtype=bool)
    positive[:100] = False
    rows = bounded_rows(positive, max_rows=60, seed=0)
    assert int(positive[rows].sum()) == 30
    assert len(rows) == 60
    assert np.array_equal(bounded_rows(positive, max_rows=300, seed=0), np.arange(300))


def test_logistic_on_a_row_sample_still_learns(small_world: World, other_world: World) -> None:
    assert len(small_world.y) > 400
    scorer = LogisticScorer(max_rows=400).fit(small_world.X, small_world.y, group=small_world.group)
    whole = LogisticScorer().fit(small_world.X, small_world.y, group=small_world.group)
    sampled_ndcg = mean_ndcg_at_10(other_world, scorer.score(other_world.X))
    assert sampled_ndcg > mean_ndcg_at_10(other_world, whole.score(other_world.X)) - 0.1
    assert not np.allclose(scorer.score(other_world.X), whole.score(other_world.X))
