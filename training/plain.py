"""The plain baseline (issue 19): a LightGBM binary classifier on the ``plain`` feature set
(raw contract columns, simple counts, tenure in lease terms, three pipeline columns), labels =
move-ins in the 12 months after a snapshot, dense random negatives (30 per positive).

It is a candidate system like the ranker: fitted on windows ending by the cut, evaluated on
the same held-out pools, served when the gate chooses it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.features import (
    PLAIN_SET,
    WIDE_SET,
    Vocabulary,
    build_matrix,
    categorical_features,
)
from tenantmatch.models import Scorer, make_scorer
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.dataset import RankingSet, known_pairs, registry_tables
from tenantmatch.training.labels import PAIR, TENANCY_GRADE, window_labels
from tenantmatch.training.splits import Window

log = logging.getLogger(__name__)

PLAIN = "plain"  # the system's name in evaluations, manifests and reports
WIDE = "wide"  # the same recipe on the wide feature set (every builder but label-fitted ones)
# The systems fitted with this recipe, and the feature set each learns from.
PLAIN_RECIPE: dict[str, str] = {PLAIN: PLAIN_SET, WIDE: WIDE_SET}
PLAIN_SCORER = "lightgbm_binary"
PLAIN_DIRECTION = "pairs"  # its rows are independent pairs, not queries


@dataclass(frozen=True)
class PlainConfig:
    """Settings of the plain baseline; months are calendar months. Its windows end by the cut
    like the ranker's: validation (cut - horizon, cut], training windows every ``step_months``
    before it over ``history_months``."""

    horizon_months: int = 12
    step_months: int = 3
    history_months: int = 36
    negatives_per_positive: int = 30
    # move-ins kept per window (a seeded sample beyond): the 20k demo has ~3,500, a 200k world
    # ~35,000, whose 1M rows per window took the plain fit to 100 s and 7 GB
    max_moveins: int = 10_000
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def plain_windows(
    cut: pd.Timestamp, *, earliest: pd.Timestamp, config: PlainConfig
) -> tuple[tuple[Window, ...], Window]:
    """Training windows (oldest first, each ending by the validation start) and the
    validation window ending at ``cut``; a training window starts no earlier than
    ``earliest`` (the data's first date). Training may be empty on a short history."""
    horizon = pd.DateOffset(months=config.horizon_months)
    valid = Window(cut - horizon, cut)
    first = max(cut - pd.DateOffset(months=config.history_months), earliest)
    train, start = [], valid.start - horizon
    while start >= first:
        train.append(Window(start, start + horizon))
        start = start - pd.DateOffset(months=config.step_months)
    return tuple(reversed(train)), valid


def random_negatives(
    n_buildings: int, n_enterprises: int, *, taken: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct (building, enterprise) positions drawn uniformly, none of whose keys
    ``b * n_enterprises + e`` is in ``taken`` (fewer when the grid runs out)."""
    total = n_buildings * n_enterprises
    n = int(min(n, total - len(np.unique(taken))))
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    keys = np.zeros(0, dtype=np.int64)
    while len(keys) < n:
        draw = rng.integers(0, total, size=2 * (n - len(keys)) + 16, dtype=np.int64)
        keys = np.unique(np.r_[keys, draw[~np.isin(draw, taken)]])
    keys = rng.permutation(keys)[:n]
    return keys // n_enterprises, keys % n_enterprises


def plain_examples(
    registry: Registry, *, window: Window, vocab: Vocabulary, config: PlainConfig,
    features: str = PLAIN_SET,
) -> RankingSet:  # fmt: skip
    """Rows of one snapshot: the move-ins of ``window`` between a building and an enterprise
    known at its start (grade 1; at most ``max_moveins``, a seeded sample), and
    ``negatives_per_positive`` random pairs per move-in kept (grade 0, never a pair that moved
    in); X of the feature set ``features`` as of ``window.start``. One group per window."""
    snapshot = Snapshot.at(registry, window.start)
    labels = window_labels(registry_tables(registry), window=window)
    moves = known_pairs(labels.loc[labels["grade"].eq(TENANCY_GRADE), PAIR], snapshot)
    b_ids, e_ids = snapshot.buildings.index, snapshot.enterprises.index
    b_pos = b_ids.get_indexer(pd.Index(moves["building_id"]))
    e_pos = e_ids.get_indexer(pd.Index(moves["enterprise_id"]))
    seed = config.seed + int(window.start.value // 86_400_000_000_000)
    taken = b_pos * len(e_ids) + e_pos
    if len(moves) > config.max_moveins:
        keep = np.sort(np.random.default_rng(seed).choice(len(moves), config.max_moveins,
                                                          replace=False))  # fmt: skip
        moves, b_pos, e_pos = moves.iloc[keep], b_pos[keep], e_pos[keep]
    nb, ne = random_negatives(
        len(b_ids), len(e_ids), taken=taken, n=config.negatives_per_positive * len(moves),
        seed=seed,
    )  # fmt: skip
    pairs = pd.DataFrame(
        {
            "building_id": np.r_[b_ids.to_numpy()[b_pos], b_ids.to_numpy()[nb]].astype(str),
            "enterprise_id": np.r_[e_ids.to_numpy()[e_pos], e_ids.to_numpy()[ne]].astype(str),
            "grade": np.r_[np.ones(len(moves), np.int64), np.zeros(len(nb), np.int64)],
        }
    )
    stamp = str(window.start.date())
    pairs = pairs.assign(direction=PLAIN_DIRECTION, query_id=f"{PLAIN_DIRECTION}|{stamp}",
                         as_of=window.start)  # fmt: skip
    X = build_matrix(pairs[PAIR], snapshot, vocab=vocab, features=features)
    log.info("plain window %s: %d move-ins, %d negatives", window, len(moves), len(nb))
    return RankingSet(pairs, X.reset_index(drop=True))


def plain_sets(
    registry: Registry, windows: Sequence[Window], *, vocab: Vocabulary, config: PlainConfig,
    features: str = PLAIN_SET,
) -> list[RankingSet]:  # fmt: skip
    """One set per window with X of ``features``, in window order (windows without a move-in
    are skipped)."""
    sets = [
        plain_examples(registry, window=w, vocab=vocab, config=config, features=features)
        for w in windows
    ]
    return [s for s in sets if len(s.pairs)]


def fit_plain(
    train: RankingSet, valid: RankingSet | None, *, params: dict[str, Any],
    features: str = PLAIN_SET,
) -> Scorer:  # fmt: skip
    """The binary classifier fitted on ``train`` (X of ``features``), early-stopped on
    ``valid`` when given."""
    scorer = make_scorer(
        PLAIN_SCORER, categorical_features=tuple(categorical_features(features)), **params
    )
    if valid is None or not len(valid.pairs):
        return scorer.fit(train.X, train.y, group=train.group)
    return scorer.fit(
        train.X, train.y, group=train.group,
        X_valid=valid.X, y_valid=valid.y, group_valid=valid.group,
    )  # fmt: skip
