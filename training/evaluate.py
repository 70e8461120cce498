"""Evaluation on the held-out window: rank exactly the serving candidate pools of sampled
queries with every system and report NDCG@10, Recall@50, MRR, coverage@10 and pool coverage.

Queries are those with a positive in the window and known at its start, at most
``max_queries`` per direction drawn with a fixed seed (sorted ids, so the draw is reproducible).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from features import Registry, Snapshot, Vocabulary, build_matrix
from matching import CandidatePool
from training.dataset import candidate_pool, registry_tables
from training.labels import (
    DIRECTIONS,
    PAIR,
    TENANCY_GRADE,
    Direction,
    PairKeys,
    id_codes,
    query_ids,
    window_labels,
)
from training.metrics import summarize
from training.splits import Window

log = logging.getLogger(__name__)

ScoreFn = Callable[[pd.DataFrame, pd.DataFrame, str], np.ndarray]
METRIC_ORDER = ("ndcg@10", "recall@50", "mrr", "coverage@10", "pool_coverage", "queries")


@dataclass(frozen=True)
class System:
    """A ranked system: ``score(X, pairs, direction_name) -> scores``; X is built with
    ``vocab`` (None: the evaluation's own vocabulary)."""

    name: str
    score: ScoreFn
    vocab: Vocabulary | None = None


@dataclass(frozen=True)
class EvalPools:
    """Candidate pools of the sampled queries of one direction, with grades (0 = unlabelled)."""

    direction: Direction
    pairs: pd.DataFrame
    pool_coverage: float
    queries_with_positive: int
    queries_sampled: int


def sample_queries(ids: np.ndarray, *, max_queries: int, seed: int) -> np.ndarray:
    """At most ``max_queries`` of the sorted ``ids``, drawn without replacement with ``seed``."""
    ids = np.sort(np.asarray(ids))
    if len(ids) <= max_queries:
        return ids
    picked = np.random.default_rng(seed).choice(len(ids), size=max_queries, replace=False)
    return ids[np.sort(picked)]


def _pools(
    snapshot: Snapshot,
    labels: pd.DataFrame,
    *,
    source: CandidatePool,
    direction: Direction,
    max_queries: int,
    seed: int,
) -> EvalPools:
    index = (
        snapshot.buildings.index if direction.query == "building_id" else snapshot.enterprises.index
    )
    candidates = query_ids(labels, direction=direction)
    candidates = candidates[pd.Index(candidates).isin(index)]
    queries = sample_queries(candidates, max_queries=max_queries, seed=seed)
    pool = candidate_pool(source, queries, direction=direction)
    keys = PairKeys(pool)
    pairs = pool.assign(grade=keys.grades(labels))
    movers = labels.loc[
        labels[direction.query].isin(queries) & labels["grade"].eq(TENANCY_GRADE), PAIR
    ]
    found = int(np.isin(keys.of(movers), keys.pool).sum())
    coverage = found / len(movers) if len(movers) else float("nan")
    return EvalPools(direction, pairs, coverage, len(candidates), len(queries))


def evaluation_pools(
    registry: Registry,
    *,
    window: Window,
    max_queries: int = 200,
    seed: int = 0,
    directions: Sequence[Direction] = DIRECTIONS,
) -> tuple[Snapshot, dict[str, EvalPools]]:
    """The snapshot at ``window.start`` and the graded pools per direction name."""
    snapshot = Snapshot.at(registry, window.start)
    labels = window_labels(registry_tables(registry), window=window)
    source = CandidatePool.from_snapshot(snapshot)
    pools = {
        d.name: _pools(
            snapshot, labels, source=source, direction=d, max_queries=max_queries, seed=seed
        )
        for d in directions
    }
    for name, p in pools.items():
        log.info(
            "evaluation %s %s: %d of %d queries, %d pool rows, pool coverage %.3f",
            name,
            window,
            p.queries_sampled,
            p.queries_with_positive,
            len(p.pairs),
            p.pool_coverage,
        )
    return snapshot, pools


def _chunks(pairs: pd.DataFrame, *, query: str, chunk_rows: int) -> Iterator[slice]:
    """Row slices holding whole queries, each about ``chunk_rows`` rows (pairs sorted by query)."""
    qid, _ = id_codes(pairs[query])
    if len(qid) == 0:
        return
    starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
    begin = 0
    for s in [*starts[1:], len(qid)]:
        if s - begin >= chunk_rows or s == len(qid):
            yield slice(begin, int(s))
            begin = int(s)


def score_pools(
    pools: EvalPools,
    snapshot: Snapshot,
    *,
    systems: Sequence[System],
    vocab: Vocabulary,
    chunk_rows: int = 250_000,
    progress: bool = False,
) -> pd.DataFrame:
    """``pools.pairs`` plus one float64 score column per system name; X is built per chunk of
    whole queries (once per distinct vocabulary) so memory stays bounded."""
    pairs = pools.pairs
    scores = {s.name: np.zeros(len(pairs)) for s in systems}
    slices = list(_chunks(pairs, query=pools.direction.query, chunk_rows=chunk_rows))
    for part in tqdm(
        slices, desc=f"scoring {pools.direction.name}", file=sys.stderr, disable=not progress
    ):
        chunk = pairs.iloc[part].reset_index(drop=True)
        chunk[PAIR] = chunk[PAIR].astype("str")
        matrices: dict[Vocabulary, pd.DataFrame] = {}
        for system in systems:
            v = system.vocab or vocab
            if v not in matrices:
                matrices[v] = build_matrix(chunk[PAIR], snapshot, vocab=v).reset_index(drop=True)
            scores[system.name][part] = system.score(matrices[v], chunk, pools.direction.name)
    return pairs.assign(**scores)


def metrics_frame(
    scored: pd.DataFrame, pools: EvalPools, *, systems: Sequence[str]
) -> pd.DataFrame:
    """Tidy rows (system, direction, metric, value) of every system on one direction's pools."""
    d = pools.direction
    rows = []
    for name in systems:
        frame = scored[[*PAIR, "grade"]].assign(score=scored[name])
        values = summarize(frame, query=d.query, item=d.item)
        values["pool_coverage"] = pools.pool_coverage
        rows += [(name, d.name, m, float(values[m])) for m in METRIC_ORDER]
    return pd.DataFrame(rows, columns=["system", "direction", "metric", "value"])


def evaluate_systems(
    snapshot: Snapshot,
    pools: Mapping[str, EvalPools],
    *,
    systems: Sequence[System],
    vocab: Vocabulary,
    progress: bool = False,
) -> pd.DataFrame:
    """Tidy metrics (system, direction, metric, value) of every system on every direction."""
    frames = []
    for p in pools.values():
        scored = score_pools(p, snapshot, systems=systems, vocab=vocab, progress=progress)
        frames.append(metrics_frame(scored, p, systems=[s.name for s in systems]))
    return pd.concat(frames, ignore_index=True)


def format_table(metrics: pd.DataFrame) -> str:
    """A printable table: one row per (direction, system), one column per metric."""
    wide = metrics.pivot_table(
        index=["direction", "system"], columns="metric", values="value", sort=False
    )
    wide = wide[[m for m in METRIC_ORDER if m in wide.columns]]
    return wide.to_string(float_format=lambda v: f"{v:.4f}")


def metric_value(metrics: pd.DataFrame, *, system: str, direction: str, metric: str) -> float:
    """One value of the tidy metrics; NaN when absent."""
    hit = metrics.loc[
        metrics["system"].eq(system)
        & metrics["direction"].eq(direction)
        & metrics["metric"].eq(metric),
        "value",
    ]
    return float(hit.iloc[0]) if len(hit) else float("nan")
