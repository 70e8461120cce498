"""The move hazard: the probability that an enterprise starts a new tenancy within a horizon
(a year by default), learned from its own ``e__`` features on earlier years' firms with
LightGBM's binary objective. Its value per enterprise is the ``e__move_hazard`` feature.

Why a model of its own: in the ranker's building queries a firm that moved into another building
is a negative, so "who moves at all" is learned from few, mixed signals. Every firm-year is an
example here, and the ranker reads the result (stacking).

For the ranker's own training rows the hazard comes from :attr:`MoveHazard.folds` models, each
fitted without the firms of one fold (cross-fitting): a firm's value never comes from a model
that saw its own outcome, as at serving time. The served model is fitted on every row and stored
as LightGBM's text model (``hazard.txt``, hashed in the manifest).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tenantmatch.features import Vocabulary
from tenantmatch.models.artifact import LoadedModel
from tenantmatch.models.errors import CorruptModelError, FeatureMismatchError

logger = logging.getLogger(__name__)

HAZARD_FILE = "hazard.txt"
FOLDS = 4
MIN_CLASS_ROWS = 20  # fewer movers (or stayers) than this: no hazard is fitted
ROUNDS = 300
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 0,
    "verbosity": -1,
}


def fold_of(ids: pd.Index | Sequence[str], folds: int) -> np.ndarray:
    """Fold (0..folds-1) of each enterprise id: a stable hash of the id, the same in every
    window and process."""
    hashed = pd.util.hash_array(np.asarray(ids, dtype=object))
    return (hashed % np.uint64(folds)).astype(np.intp)


@dataclass(frozen=True, eq=False)
class MoveHazard:
    """Fitted boosters over ``inputs``: one (served) or one per fold (cross-fitted: a row is
    predicted by the booster of its id's fold, which never saw that firm)."""

    boosters: tuple[lgb.Booster, ...]
    inputs: tuple[str, ...]

    @property
    def cross_fitted(self) -> bool:
        return len(self.boosters) > 1

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """float64 probability per row of X (columns ``inputs``, index enterprise ids)."""
        missing = [c for c in self.inputs if c not in X.columns]
        if missing:
            raise FeatureMismatchError(f"the move hazard needs columns {missing} that X lacks")
        values = X[list(self.inputs)]
        if not self.cross_fitted:
            return np.asarray(self.boosters[0].predict(values, num_threads=2), dtype=np.float64)
        fold = fold_of(X.index, len(self.boosters))
        out = np.empty(len(X), dtype=np.float64)
        for k, booster in enumerate(self.boosters):
            rows = fold == k
            if rows.any():
                out[rows] = booster.predict(values[rows], num_threads=2)
        return out

    def to_text(self) -> str:
        """LightGBM's text model of the served booster."""
        if self.cross_fitted:
            raise ValueError("only the served (single-booster) move hazard is stored")
        return str(self.boosters[0].model_to_string())

    @classmethod
    def from_text(cls, text: str) -> MoveHazard:
        """Inverse of :meth:`to_text`; CorruptModelError if LightGBM cannot read it."""
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise CorruptModelError(f"{HAZARD_FILE} is not a LightGBM model: {exc}") from exc
        return cls((booster,), tuple(booster.feature_name()))


def fit_move_hazard(
    X: pd.DataFrame,
    moved: np.ndarray,
    *,
    categorical: Sequence[str] = (),
    folds: int = FOLDS,
    params: Mapping[str, Any] | None = None,
    n_jobs: int = 2,
) -> tuple[MoveHazard, MoveHazard] | None:
    """``(served, cross_fitted)`` hazards from firm examples: X (index enterprise ids, one row
    per firm and window) and ``moved`` (bool: started a tenancy within the horizon). None when
    either class has fewer than :data:`MIN_CLASS_ROWS` rows (nothing to learn from)."""
    y = np.asarray(moved, dtype=np.float64)
    if len(y) != len(X):
        raise FeatureMismatchError(f"{len(X)} rows of X but {len(y)} labels")
    if min(y.sum(), len(y) - y.sum()) < MIN_CLASS_ROWS:
        logger.warning("move hazard not fitted: %d movers among %d firm examples", y.sum(), len(y))
        return None
    settings = {**PARAMS, **(params or {}), "num_threads": n_jobs}
    cats = [c for c in categorical if c in X.columns]

    def fit(rows: np.ndarray) -> lgb.Booster:
        data = lgb.Dataset(X.iloc[rows], label=y[rows], categorical_feature=cats)
        return lgb.train(settings, data, num_boost_round=ROUNDS)

    inputs = tuple(str(c) for c in X.columns)
    served = MoveHazard((fit(np.arange(len(X))),), inputs)
    fold = fold_of(X.index, folds)
    crossed = MoveHazard(tuple(fit(np.flatnonzero(fold != k)) for k in range(folds)), inputs)
    logger.info("move hazard fitted on %d firm examples, %.1f%% movers", len(y), 100 * y.mean())
    return served, crossed


def model_vocabulary(model: LoadedModel) -> Vocabulary:
    """The vocabulary a stored model's features are built with: its category lists and, when
    the version holds ``hazard.txt``, its move hazard."""
    vocab = Vocabulary.from_dict(model.manifest.get("vocabulary") or {})
    text = model.attachments.get(HAZARD_FILE)
    return vocab.with_hazard(None if text is None else MoveHazard.from_text(text.decode()))


def hazard_attachments(vocab: Vocabulary) -> dict[str, bytes]:
    """The files that store ``vocab``'s move hazard with a model version (none without one)."""
    if not isinstance(vocab.hazard, MoveHazard):
        return {}
    return {HAZARD_FILE: vocab.hazard.to_text().encode()}
