"""One contract, run against every scorer (ranker and baselines alike)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.models import (
    SCORERS,
    FeatureMismatchError,
    GroupSizeError,
    HandRuleScorer,
    InvalidTargetError,
    LGBMBinaryScorer,
    LGBMRankerScorer,
    LogisticScorer,
    NonFiniteScoreError,
    NotFittedError,
    PopularityScorer,
    RandomScorer,
    Scorer,
    UnknownScorerError,
    make_scorer,
)
from tests.models.conftest import World


class ScorerContract:
    """Mixin: subclasses set ``name`` and ``make()``; every test here must hold for them."""

    name: str

    def make(self) -> Scorer:
        raise NotImplementedError

    def test_name_and_factory(self) -> None:
        scorer = self.make()
        assert scorer.name == self.name
        assert type(make_scorer(self.name)) is type(scorer)

    def test_init_stores_only_settings(self) -> None:
        scorer = self.make()
        assert [k for k in vars(scorer) if k.endswith("_")] == []
        assert set(vars(scorer)) == set(scorer.get_params())

    def test_score_before_fit_raises(self, small_world: World) -> None:
        with pytest.raises(NotFittedError, match=self.name):
            self.make().score(small_world.X)

    def test_fit_returns_self(self, small_world: World) -> None:
        scorer = self.make()
        assert scorer.fit(small_world.X, small_world.y, group=small_world.group) is scorer
        assert scorer.feature_names_ == list(small_world.X.columns)

    def test_scores_are_finite_float64_one_per_row(
        self, small_world: World, other_world: World
    ) -> None:
        scorer = self.make().fit(small_world.X, small_world.y, group=small_world.group)
        scores = scorer.score(other_world.X)
        assert scores.dtype == np.float64
        assert scores.shape == (len(other_world.X),)
        assert np.isfinite(scores).all()
        assert np.unique(scores).size > 1

    def test_deterministic(self, small_world: World, other_world: World) -> None:
        a = self.make().fit(small_world.X, small_world.y, group=small_world.group)
        b = self.make().fit(small_world.X, small_world.y, group=small_world.group)
        np.testing.assert_array_equal(a.score(other_world.X), b.score(other_world.X))
        np.testing.assert_array_equal(a.score(other_world.X), a.score(other_world.X))

    def test_handles_nan_input(self, small_world: World) -> None:
        scorer = self.make().fit(small_world.X, small_world.y, group=small_world.group)
        X = small_world.X.head(30).copy()
        X.iloc[::2, :] = np.nan
        assert np.isfinite(scorer.score(X)).all()

    def test_column_order_and_extra_columns_do_not_matter(self, small_world: World) -> None:
        scorer = self.make().fit(small_world.X, small_world.y, group=small_world.group)
        X = small_world.X.head(40)
        shuffled = X[list(reversed(X.columns))].assign(extra__col=1.0)
        np.testing.assert_array_equal(scorer.score(shuffled), scorer.score(X))

    def test_missing_feature_at_score_raises(self, small_world: World) -> None:
        scorer = self.make().fit(small_world.X, small_world.y, group=small_world.group)
        with pytest.raises(FeatureMismatchError, match="pair__signal"):
            scorer.score(small_world.X.drop(columns="pair__signal"))

    @pytest.mark.parametrize(
        ("bad_group", "message"),
        [([25] * 39, "sum to 975 but there are 1000 rows"), ([1000, 0], "must all be > 0")],
    )
    def test_group_sizes_validated(self, small_world: World, bad_group: list[int], message: str):
        with pytest.raises(GroupSizeError, match=message):
            self.make().fit(small_world.X, small_world.y, group=bad_group)

    def test_valid_group_sizes_validated(self, small_world: World, other_world: World) -> None:
        w, v = small_world, other_world
        with pytest.raises(GroupSizeError, match="group_valid sizes sum to 25"):
            self.make().fit(w.X, w.y, group=w.group, X_valid=v.X, y_valid=v.y, group_valid=[25])
        with pytest.raises(GroupSizeError, match="together"):
            self.make().fit(w.X, w.y, group=w.group, X_valid=v.X)

    def test_grades_validated(self, small_world: World) -> None:
        y = small_world.y.copy()
        y[3] = 7
        with pytest.raises(InvalidTargetError, match=r"allowed integers 0\.\.4"):
            self.make().fit(small_world.X, y, group=small_world.group)


class TestLGBMRanker(ScorerContract):
    name = "lightgbm"

    def make(self) -> Scorer:
        return LGBMRankerScorer(num_boost_round=20, min_data_in_leaf=10)


class TestLGBMBinary(ScorerContract):
    name = "lightgbm_binary"

    def make(self) -> Scorer:
        return LGBMBinaryScorer(num_boost_round=20, min_data_in_leaf=10)


class TestRandom(ScorerContract):
    name = "random"

    def make(self) -> Scorer:
        return RandomScorer(seed=3)


class TestPopularity(ScorerContract):
    name = "popularity"

    def make(self) -> Scorer:
        return PopularityScorer()


class TestHandRule(ScorerContract):
    name = "hand_rule"

    def make(self) -> Scorer:
        return HandRuleScorer()


class TestLogistic(ScorerContract):
    name = "logistic"

    def make(self) -> Scorer:
        return LogisticScorer()


def test_every_factory_name_has_a_contract_test() -> None:
    tested = {cls.name for cls in ScorerContract.__subclasses__()}
    # a blend is built from fitted parts, never fitted on rows: tests/models/test_blend.py
    assert tested == set(SCORERS) - {"blend"}
    assert set(SCORERS) == {
        "lightgbm", "lightgbm_binary", "random", "popularity", "hand_rule", "logistic", "blend"
    }  # fmt: skip


def test_unknown_scorer_name() -> None:
    with pytest.raises(UnknownScorerError, match=r"'xgboost'.*allowed.*hand_rule"):
        make_scorer("xgboost")


class _NaNScorer(RandomScorer):
    """A scorer forced to produce a NaN, to prove the shared finiteness check."""

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        scores = super()._predict(X)
        scores[2] = np.nan
        return scores


def test_non_finite_scores_raise(small_world: World) -> None:
    scorer = _NaNScorer().fit(small_world.X, small_world.y, group=small_world.group)
    with pytest.raises(NonFiniteScoreError, match=r"1 non-finite score.*row 2"):
        scorer.score(small_world.X)


def test_infinite_popularity_raises(small_world: World) -> None:
    scorer = PopularityScorer().fit(small_world.X, small_world.y, group=small_world.group)
    X = small_world.X.head(5).copy()
    X.loc[0, "e__events_12m"] = np.inf
    with pytest.raises(NonFiniteScoreError):
        scorer.score(X)
