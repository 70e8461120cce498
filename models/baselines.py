"""Baselines scored through the same interface as the ranker: random, popularity, hand rule,
logistic regression. The ranker must beat them to be worth its complexity."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tenantmatch.models.errors import CorruptModelError, FeatureMismatchError, InvalidTargetError
from tenantmatch.models.scorers import Scorer, ValidSet

logger = logging.getLogger(__name__)

POPULARITY_COLUMN_BUILDING_QUERY = "e__events_12m"  # enterprises to court for a building
POPULARITY_COLUMN_ENTERPRISE_QUERY = "b__moveins_12m"  # buildings for an enterprise
HAND_RULE_COLUMNS = ("pair__theme_prior_fit", "pair__same_city", "pair__space_need_fits")
# Far below any difference of the rule's terms, so it only orders otherwise tied rows.
TIE_BREAK_SCALE = 1e-9


def _require_columns(X: pd.DataFrame, columns: Sequence[str], *, scorer: str) -> None:
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise FeatureMismatchError(
            f"the {scorer} scorer needs column(s) {missing} which X lacks; "
            f"X has {len(X.columns)} columns, e.g. {list(X.columns)[:5]}"
        )


def row_tie_breaker(X: pd.DataFrame) -> np.ndarray:
    """A deterministic value in [0, 1) per row from the row's contents (not its position)."""
    hashes = pd.util.hash_pandas_object(X, index=False).to_numpy(dtype=np.uint64)
    return (hashes >> np.uint64(11)).astype(np.float64) / float(2**53)


class RandomScorer(Scorer):
    """Uniform random scores in [0, 1), the same for the same X and seed."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _fit(
        self, X: pd.DataFrame, y: np.ndarray, *, group: np.ndarray, valid: ValidSet | None
    ) -> None:
        self.n_train_rows_ = len(X)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.random.default_rng(self.seed).random(len(X))


class PopularityScorer(Scorer):
    """Scores by one popularity count (NaN counts as 0): the most courted enterprises or the
    buildings with most move-ins come first, whatever the query."""

    name = "popularity"

    def __init__(
        self,
        column: str | None = None,
        *,
        query_side: Literal["building", "enterprise"] = "building",
    ) -> None:
        self.column = column
        self.query_side = query_side

    @property
    def column_used(self) -> str:
        """The popularity column: ``column`` if given, else the default for ``query_side``."""
        if self.column is not None:
            return self.column
        if self.query_side == "enterprise":
            return POPULARITY_COLUMN_ENTERPRISE_QUERY
        if self.query_side == "building":
            return POPULARITY_COLUMN_BUILDING_QUERY
        raise FeatureMismatchError(
            f"query_side must be 'building' or 'enterprise', got {self.query_side!r}"
        )

    def _fit(
        self, X: pd.DataFrame, y: np.ndarray, *, group: np.ndarray, valid: ValidSet | None
    ) -> None:
        _require_columns(X, [self.column_used], scorer=self.name)
        self.column_ = self.column_used

    def load_state(self, folder: Path, *, feature_names: Sequence[str]) -> None:
        super().load_state(folder, feature_names=feature_names)
        self.column_ = self.column_used

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        counts = X[self.column_].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(counts), 0.0, counts)


class HandRuleScorer(Scorer):
    """Today's staff rule: theme fit + same city + space fits (NaN as 0), ties broken by a tiny
    deterministic per-row value."""

    name = "hand_rule"

    def __init__(self, columns: Sequence[str] = HAND_RULE_COLUMNS) -> None:
        self.columns = columns

    def _fit(
        self, X: pd.DataFrame, y: np.ndarray, *, group: np.ndarray, valid: ValidSet | None
    ) -> None:
        _require_columns(X, self.columns, scorer=self.name)
        self.columns_ = list(self.columns)

    def load_state(self, folder: Path, *, feature_names: Sequence[str]) -> None:
        super().load_state(folder, feature_names=feature_names)
        self.columns_ = list(self.columns)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        terms = X[self.columns_].to_numpy(dtype=np.float64, na_value=np.nan)
        rule = np.nansum(terms, axis=1)
        return rule + TIE_BREAK_SCALE * row_tie_breaker(X)


def _float32(X: pd.DataFrame) -> np.ndarray:
    return X.to_numpy(dtype=np.float32, na_value=np.nan)


def bounded_rows(positive: np.ndarray, *, max_rows: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``max_rows`` rows: every positive row (up to half of the
    bound, a seeded sample beyond it) and a seeded sample of the others for the rest; all rows
    when there are no more than ``max_rows``."""
    n = len(positive)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    take_pos = min(len(pos), max_rows // 2)
    take_neg = min(len(neg), max_rows - take_pos)
    keep = np.concatenate([rng.choice(pos, take_pos, replace=False),
                           rng.choice(neg, take_neg, replace=False)])  # fmt: skip
    return np.sort(keep)


# Rows a baseline learns from at most (training.pipeline samples the training set to it).
BASELINE_MAX_ROWS = 250_000


class LogisticScorer(Scorer):
    """Logistic regression of "any positive grade" (y > 0) on median-imputed, standardised
    features plus missing indicators; the score is the decision function (log-odds).

    Fitted in float32 (X's own precision; scikit-learn keeps it through every step), scaled in
    place of the imputer's output, on at most ``max_rows`` rows (every positive, a seeded
    sample of the rest; the classes are weighted to balance either way). It was the peak of a
    training run: on the 20k demo (1.9M training rows) fitting on every row took the run from
    3.5 to 7.5 GB."""

    name = "logistic"
    model_file = "model.joblib"

    def __init__(
        self,
        *,
        max_iter: int = 1000,
        C: float = 1.0,
        max_rows: int = BASELINE_MAX_ROWS,
        seed: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.C = C
        self.max_rows = max_rows
        self.seed = seed

    def _pipeline(self) -> Pipeline:
        return Pipeline(
            [
                # an all-missing column is kept (imputed 0), not dropped with a warning per call
                (
                    "impute",
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                ),
                ("scale", StandardScaler(copy=False)),  # scales the imputer's fresh output
                (
                    "logit",
                    LogisticRegression(max_iter=self.max_iter, C=self.C, class_weight="balanced"),
                ),
            ]
        )

    def _fit(
        self, X: pd.DataFrame, y: np.ndarray, *, group: np.ndarray, valid: ValidSet | None
    ) -> None:
        positive = np.asarray(y) > 0
        if positive.min(initial=True) == positive.max(initial=False):
            raise InvalidTargetError(
                f"the logistic scorer needs rows with y == 0 and rows with y > 0; "
                f"all {len(y)} rows have {'y > 0' if positive.any() else 'y == 0'}"
            )
        rows = bounded_rows(positive, max_rows=self.max_rows, seed=self.seed)
        self.pipeline_ = self._pipeline().fit(
            _float32(X.iloc[rows]), positive[rows].astype(np.int8)
        )

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline_.decision_function(_float32(X)), dtype=np.float64)

    def save_state(self, folder: Path) -> list[str]:
        self._check_fitted()
        joblib.dump(self.pipeline_, folder / "model.joblib")
        return ["model.joblib"]

    def load_state(self, folder: Path, *, feature_names: Sequence[str]) -> None:
        pipeline = joblib.load(folder / "model.joblib")
        if not isinstance(pipeline, Pipeline):
            raise CorruptModelError(
                f"model.joblib holds a {type(pipeline).__name__}, expected a scikit-learn Pipeline"
            )
        self.pipeline_ = pipeline
        super().load_state(folder, feature_names=feature_names)
