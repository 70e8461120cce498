"""The held-out evaluation of fitted systems: the window's pools (the engine's first stage by
default), every system's metrics, the demo ceiling, and the ranker's Platt calibration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.features import RANKER_SET, Vocabulary
from tenantmatch.models import Scorer
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.calibration import Calibration, calibrate_ranker
from tenantmatch.training.dataset import registry_tables
from tenantmatch.training.errors import NotEnoughDataError
from tenantmatch.training.evaluate import EvalPools, System, evaluation_pools, score_and_measure
from tenantmatch.training.labels import BUILDING_TO_ENTERPRISE, window_labels
from tenantmatch.training.splits import TemporalSplit

log = logging.getLogger(__name__)

CEILING = "ceiling"


@dataclass(frozen=True)
class Evaluation:
    """Everything one evaluation produced: tidy metrics, the pools, their snapshot and the
    scored pools per direction name (one score column per system)."""

    metrics: pd.DataFrame
    pools: dict[str, EvalPools]
    snapshot: Snapshot
    scored: dict[str, pd.DataFrame]


def ceiling_system(tables: dict[str, pd.DataFrame], split: TemporalSplit, truth: Path) -> System:
    """The generator's true move probability as a system (demo worlds; evaluation only)."""
    from tenantmatch.training.demo import ceiling_scores

    window = split.evaluation

    def score(pairs: pd.DataFrame, direction: str) -> np.ndarray:
        values = ceiling_scores(
            pairs[["building_id", "enterprise_id"]],
            tables,
            as_of=window.start,
            horizon_days=window.days,
            truth_dir=truth,
        )
        return np.asarray(values, dtype=np.float64)

    def by_x(X: pd.DataFrame, pairs: pd.DataFrame, direction: str) -> np.ndarray:
        return score(pairs, direction)

    return System(CEILING, by_x, pair_score=score)


def evaluate_holdout(
    registry: Registry,
    split: TemporalSplit,
    *,
    systems: list[System],
    vocab: Vocabulary,
    max_queries: int,
    seed: int,
    limits: Mapping[str, int] | None,
    progress: bool,
) -> Evaluation:
    """Every system on the evaluation window's pools: at most ``max_queries`` queries per
    direction, each pool cut by a pre-score stage keeping ``limits`` candidates per query side
    (the engine's: :data:`STAGE_LIMITS`; None: every feasible pair)."""
    snapshot, pools = evaluation_pools(
        registry,
        window=split.evaluation,
        max_queries=max_queries,
        seed=seed,
        vocab=vocab,
        limits=limits,
    )
    metrics, scored = score_and_measure(
        snapshot, pools, systems=systems, vocab=vocab, progress=progress
    )
    return Evaluation(metrics, pools, snapshot, scored)


def holdout_calibration(
    ranker: Scorer, evaluation: Evaluation, *, registry: Registry, split: TemporalSplit,
    vocab: Vocabulary, column: str, seed: int, features: str = RANKER_SET,
) -> Calibration | None:  # fmt: skip
    """Platt fit of ``ranker`` (its scores in the scored pools' ``column``, X of ``features``)
    on the building->enterprise evaluation pools; None when the window holds too few moves
    (logged)."""
    d = BUILDING_TO_ENTERPRISE.name
    labels = window_labels(registry_tables(registry), window=split.evaluation)
    try:
        return calibrate_ranker(
            ranker, evaluation.snapshot, pools=evaluation.pools[d],
            scored=evaluation.scored[d][column], labels=labels, vocab=vocab,
            horizon_days=split.evaluation.days, seed=seed, features=features,
        )  # fmt: skip
    except NotEnoughDataError as exc:
        log.warning("no calibration stored: %s", exc)
        return None
