"""Platt calibration of the ranker: a sigmoid mapping its raw score to P(the enterprise moves
into the building within the horizon), fitted on the evaluation window's candidate pools.

``p = 1 / (1 + exp(-(a * score + b)))``, the form ``matching.planning.probabilities`` reads from
the manifest's ``calibration`` ``{"a", "b", "horizon_days"}``. A ranking score is only defined up
to a monotone map, so calibrating never changes a ranking metric.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from tenantmatch.features import RANKER_SET, Vocabulary, build_matrix
from tenantmatch.models import Scorer
from tenantmatch.registry import Snapshot
from tenantmatch.training.dataset import candidate_pool, pool_source
from tenantmatch.training.errors import NotEnoughDataError
from tenantmatch.training.evaluate import EvalPools
from tenantmatch.training.labels import PAIR, TENANCY_GRADE, PairKeys, in_sorted

log = logging.getLogger(__name__)

MIN_POSITIVES = 5  # fewer moves than this cannot pin down a slope
OUTSIDE_ROWS = 60_000  # pool rows beyond the first stage sampled to calibrate low scores


@dataclass(frozen=True)
class Calibration:
    """A fitted Platt sigmoid and how well it fits: ``log_loss`` and ``brier`` on the rows it
    was checked on, ``expected`` (sum of p) against ``observed`` moves there."""

    a: float
    b: float
    horizon_days: int
    rows: int
    positives: int
    log_loss: float
    brier: float
    expected: float
    observed: int

    def manifest_entry(self) -> dict[str, float | int]:
        """The manifest's ``calibration`` value: a, b and horizon_days."""
        return {"a": self.a, "b": self.b, "horizon_days": self.horizon_days}

    def diagnostics(self) -> dict[str, float | int]:
        """Fit statistics for the training summary (JSON-friendly)."""
        return {
            "rows": self.rows, "positives": self.positives, "log_loss": self.log_loss,
            "brier": self.brier, "expected_moves": self.expected, "observed_moves": self.observed,
        }  # fmt: skip


def platt_probability(scores: np.ndarray, *, a: float, b: float) -> np.ndarray:
    """``1 / (1 + exp(-(a * scores + b)))`` as float64, shape of ``scores``; NaN stays NaN."""
    z = a * np.asarray(scores, dtype=np.float64) + b
    with np.errstate(over="ignore"):  # exp overflow -> inf -> p = 0, the right limit
        return 1.0 / (1.0 + np.exp(-z))


def _fit_sigmoid(
    scores: np.ndarray, moved: np.ndarray, *, weight: np.ndarray
) -> tuple[float, float]:
    model = LogisticRegression(C=1e6, tol=1e-8, max_iter=1000)
    model.fit(scores[:, None], moved, sample_weight=weight)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _check(scores: np.ndarray, moved: np.ndarray, weight: np.ndarray) -> None:
    if not (len(scores) == len(moved) == len(weight)):
        raise NotEnoughDataError(
            f"calibration inputs differ in length: scores {len(scores)}, moved {len(moved)}, "
            f"weight {len(weight)}; they must be row-aligned"
        )
    if not np.isfinite(scores).all():
        raise NotEnoughDataError("calibration scores hold NaN or inf; allowed: finite scores")
    positives, negatives = int(moved.sum()), int((~moved).sum())
    if positives < MIN_POSITIVES or negatives < MIN_POSITIVES:
        raise NotEnoughDataError(
            f"calibration needs >= {MIN_POSITIVES} moves and non-moves, got {positives} moves "
            f"and {negatives} non-moves in the evaluation pools"
        )


def fit_platt(
    scores: np.ndarray,
    moved: np.ndarray,
    *,
    horizon_days: int,
    weight: np.ndarray | None = None,
    holdout: np.ndarray | None = None,
) -> Calibration:
    """Fit ``a``, ``b`` by weighted maximum likelihood on all rows (``moved``: bool, a move
    within ``horizon_days``; ``weight``: inverse sampling rates, default 1). Fit quality is
    measured out of sample: rows where ``holdout`` is True are scored by a fit on the others."""
    scores = np.asarray(scores, dtype=np.float64)
    moved = np.asarray(moved, dtype=bool)
    weight = np.ones(len(scores)) if weight is None else np.asarray(weight, dtype=np.float64)
    _check(scores, moved, weight)
    a, b = _fit_sigmoid(scores, moved, weight=weight)
    check = np.ones(len(scores), dtype=bool) if holdout is None else np.asarray(holdout, bool)
    p = platt_probability(scores[check], a=a, b=b)
    if holdout is not None and 0 < check.sum() < len(check):
        fa, fb = _fit_sigmoid(scores[~check], moved[~check], weight=weight[~check])
        p = platt_probability(scores[check], a=fa, b=fb)
    y, w = moved[check], weight[check]
    eps = 1e-12
    loss = -np.average(y * np.log(p + eps) + (~y) * np.log(1 - p + eps), weights=w)
    calibration = Calibration(
        a=a, b=b, horizon_days=int(horizon_days), rows=len(scores), positives=int(moved.sum()),
        log_loss=float(loss), brier=float(np.average((p - y) ** 2, weights=w)),
        expected=float(np.sum(p * w)), observed=round(float(np.sum(y * w))),
    )  # fmt: skip
    log.info("platt calibration: %s", calibration)
    return calibration


def _pair_keys(frame: pd.DataFrame, n_enterprises: int) -> np.ndarray:
    b = frame["building_id"].cat.codes.to_numpy(dtype=np.int64)
    return b * n_enterprises + frame["enterprise_id"].cat.codes.to_numpy(dtype=np.int64)


def _outside_rows(
    full: pd.DataFrame, staged: pd.DataFrame, *, n_enterprises: int, rows: int, seed: int
) -> tuple[pd.DataFrame, float]:
    """A uniform sample of ``full``'s rows missing from ``staged`` (same categories) and the
    inverse of its sampling rate."""
    outside = np.flatnonzero(
        ~in_sorted(_pair_keys(full, n_enterprises), np.sort(_pair_keys(staged, n_enterprises)))
    )
    if len(outside) == 0:
        return full.iloc[:0], 1.0
    picked = np.sort(np.random.default_rng(seed).choice(outside, min(rows, len(outside)), False))
    return full.iloc[picked].reset_index(drop=True), len(outside) / len(picked)


def calibrate_ranker(
    ranker: Scorer,
    snapshot: Snapshot,
    *,
    pools: EvalPools,
    scored: pd.Series,
    labels: pd.DataFrame,
    vocab: Vocabulary,
    horizon_days: int,
    seed: int = 0,
    features: str = RANKER_SET,
) -> Calibration:
    """Platt fit of ``ranker`` (scoring X of the feature set ``features``) on the evaluation
    queries of one direction: every row of their (staged) ``pools`` with its ``scored``
    score, plus a weighted uniform sample of their feasible pairs the first stage left out; a
    move is a tenancy start (grade 4) in the window. Fit quality is checked on every other
    query by a fit on the rest."""
    d = pools.direction
    source = pool_source(snapshot, vocab=vocab)
    queries = np.sort(pools.pairs[d.query].astype("str").unique())
    full = candidate_pool(source, queries, direction=d)
    extra, inverse_rate = _outside_rows(
        full, pools.pairs, n_enterprises=len(source.enterprises.ids), rows=OUTSIDE_ROWS, seed=seed
    )
    extra = extra.assign(grade=PairKeys(extra).grades(labels))
    extra_score = np.zeros(0)
    if len(extra):
        X = build_matrix(extra[PAIR].astype("str"), snapshot, vocab=vocab, features=features)
        extra_score = ranker.score(X)
    rows = pd.concat([pools.pairs[[*PAIR, "grade"]], extra], ignore_index=True)
    score = np.r_[np.asarray(scored, dtype=np.float64), extra_score]
    weight = np.r_[np.ones(len(pools.pairs)), np.full(len(extra), inverse_rate)]
    query_pos = pd.Index(queries).get_indexer(rows[d.query].astype("str"))
    return fit_platt(
        score, rows["grade"].to_numpy() == TENANCY_GRADE, horizon_days=horizon_days,
        weight=weight, holdout=query_pos % 2 == 1,
    )  # fmt: skip
