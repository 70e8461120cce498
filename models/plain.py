"""The plain baseline's model: a LightGBM binary classifier of "moves in within the label
window" (any grade >= 1 is a positive), saved as LightGBM's native text model like the ranker
and explained the same way. Scores are raw log-odds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tenantmatch.models.ranker import LGBMRankerScorer
from tenantmatch.models.rows import NpyRows

logger = logging.getLogger(__name__)


class LGBMBinaryScorer(LGBMRankerScorer):
    """LightGBM binary classifier on independent rows (``group`` is ignored beyond the shared
    checks); early stopping on the validation set's log loss when one is given, else
    ``num_boost_round`` rounds. Shares the ranker's store format, contributions and
    importances."""

    name = "lightgbm_binary"

    def __init__(
        self,
        *,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_data_in_leaf: int = 50,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        bagging_freq: int = 1,
        num_boost_round: int = 1000,
        early_stopping_rounds: int = 50,
        categorical_features: Sequence[str] = (),
        seed: int = 0,
        n_jobs: int = 2,
    ) -> None:
        # only this scorer's settings (the ranker's query-level ones do not apply)
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.bagging_freq = bagging_freq
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.categorical_features = categorical_features
        self.seed = seed
        self.n_jobs = n_jobs

    def lgb_params(self) -> dict[str, Any]:
        """The parameter dict handed to ``lightgbm.train``."""
        return {"objective": "binary", "metric": "binary_logloss", **self.tree_params()}

    def _dataset(
        self, data: pd.DataFrame | list[NpyRows], y: np.ndarray, group: np.ndarray,
        *, feature_names: Sequence[str], **kw: Any,
    ) -> lgb.Dataset:  # fmt: skip
        return lgb.Dataset(
            data,
            label=(np.asarray(y) > 0).astype(np.float64),
            feature_name=list(feature_names),
            categorical_feature=list(self.categorical_features),
            free_raw_data=False,
            **kw,
        )

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(
            self.booster_.predict(X, num_iteration=self.best_iteration_, raw_score=True)
        )
