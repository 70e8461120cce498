"""Evaluation on the held-out window: rank exactly the serving candidate pools of sampled
queries with every system and report NDCG@10, Recall@50, MRR, coverage@10 and pool coverage.

Queries are those with a positive in the window and known at its start, at most
``max_queries`` per direction drawn with a fixed seed (sorted ids, so the draw is reproducible).
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from tenantmatch.features import RANKER_SET, Vocabulary, build_matrix, context_for
from tenantmatch.matching import CandidatePool
from tenantmatch.matching.engine import DEFAULT_MAX_SCORED, DEFAULT_MAX_SCORED_BUILDINGS
from tenantmatch.models import PrescoreIndex, Prescorer, unfitted_prescorer, with_history
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.dataset import candidate_pool, pool_source, registry_tables
from tenantmatch.training.labels import (
    DIRECTIONS,
    PAIR,
    TENANCY_GRADE,
    Direction,
    PairKeys,
    id_codes,
    in_sorted,
    query_ids,
    window_labels,
)
from tenantmatch.training.metrics import summarize
from tenantmatch.training.splits import Window

log = logging.getLogger(__name__)

ScoreFn = Callable[[pd.DataFrame, pd.DataFrame, str], np.ndarray]
PairScoreFn = Callable[[pd.DataFrame, str], np.ndarray]
# The engine's first stage keeps this many candidates per query: the Engine's own defaults.
STAGE_LIMITS: dict[str, int] = {
    "building_id": DEFAULT_MAX_SCORED,
    "enterprise_id": DEFAULT_MAX_SCORED_BUILDINGS,
}
METRIC_ORDER = (
    "ndcg@10", "recall@50", "hit@5", "mrr", "coverage@10", "pool_coverage", "queries",
)  # fmt: skip


@dataclass(frozen=True)
class System:
    """A ranked system: ``score(X, pairs, direction_name) -> scores``; X is built with
    ``vocab`` (None: the evaluation's own vocabulary) for the feature set ``features``. A
    system that needs no X (the ceiling) sets ``pair_score(pairs, direction_name)`` instead
    and is called once per pool."""

    name: str
    score: ScoreFn
    vocab: Vocabulary | None = None
    pair_score: PairScoreFn | None = None  # if set: scores a whole pool from its ids, no X
    features: str = RANKER_SET


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


def _best(scores: np.ndarray, *, m: int) -> np.ndarray:
    """Sorted positions of the ``m`` highest ``scores`` (all when fewer; ties by position)."""
    if len(scores) <= m:
        return np.arange(len(scores))
    return np.sort(np.argsort(-scores, kind="stable")[:m])


def _pair_frame(source: CandidatePool, b: np.ndarray, e: np.ndarray) -> pd.DataFrame:
    """Categorical building_id, enterprise_id of pool positions ``b``, ``e``."""
    buildings, enterprises = source.buildings.ids, source.enterprises.ids
    return pd.DataFrame(
        {
            "building_id": pd.Categorical.from_codes(b, categories=buildings),
            "enterprise_id": pd.Categorical.from_codes(e, categories=enterprises),
        }
    )


def _prescores(
    prescorer: Prescorer, index: PrescoreIndex, b: np.ndarray, e: np.ndarray
) -> np.ndarray:
    """Pre-scores of one query's pairs; a building query reads one gather per enterprise."""
    if (b == b[0]).all():
        return prescorer.building_scores(index, int(b[0]))[e].astype(np.float64)
    return prescorer.pair_scores(index, b_pos=b, e_pos=e)


def staged_pool(
    source: CandidatePool,
    index: PrescoreIndex,
    ids: np.ndarray,
    *,
    direction: Direction,
    prescorer: Prescorer,
    limit: int,
) -> pd.DataFrame:
    """The engine's first stage for the ``direction`` queries ``ids``: each query's serving
    candidate pool (default rules) cut to its ``limit`` best by ``prescorer`` plus its pairs
    with a history (:meth:`PrescoreIndex.has_history`); categorical
    building_id, enterprise_id grouped by query in ``ids`` order, items in pool order."""
    full = candidate_pool(source, ids, direction=direction)
    b = full["building_id"].cat.codes.to_numpy(dtype=np.int64)
    e = full["enterprise_id"].cat.codes.to_numpy(dtype=np.int64)
    query, _ = id_codes(full[direction.query])
    starts = np.flatnonzero(np.r_[True, query[1:] != query[:-1]]) if len(query) else query
    bounds = [*starts, len(query)]
    keep = []
    for lo, hi in itertools.pairwise(bounds):
        if hi - lo <= limit:
            keep.append(np.arange(lo, hi))
        else:
            best = _best(_prescores(prescorer, index, b[lo:hi], e[lo:hi]), m=limit)
            history = np.flatnonzero(index.has_history(b_pos=b[lo:hi], e_pos=e[lo:hi]))
            keep.append(lo + with_history(best, history))
    rows = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return _pair_frame(source, b[rows], e[rows])


def _pools(
    snapshot: Snapshot,
    labels: pd.DataFrame,
    *,
    pool_of: Callable[[np.ndarray, Direction], pd.DataFrame],
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
    pool = pool_of(queries, direction)
    keys = PairKeys(pool)
    pairs = pool.assign(grade=keys.grades(labels))
    movers = labels.loc[
        labels[direction.query].isin(queries) & labels["grade"].eq(TENANCY_GRADE), PAIR
    ]
    found = int(in_sorted(keys.of(movers), np.sort(keys.pool)).sum())
    coverage = found / len(movers) if len(movers) else float("nan")
    return EvalPools(direction, pairs, coverage, len(candidates), len(queries))


def pool_builder(
    snapshot: Snapshot,
    *,
    vocab: Vocabulary,
    limits: Mapping[str, int] | None,
    prescorer: Prescorer | None = None,
) -> Callable[[np.ndarray, Direction], pd.DataFrame]:
    """``pool_of(ids, direction)``: the full serving pools (``limits`` None) or the engine's
    two-stage pools, at most ``limits[direction.query]`` candidates per query."""
    source = pool_source(snapshot, vocab=vocab)
    if limits is None:
        return lambda ids, d: candidate_pool(source, ids, direction=d)
    pre = prescorer or unfitted_prescorer()
    ctx = context_for(snapshot, vocab=vocab)
    index = pre.build_index(ctx)

    def pool_of(ids: np.ndarray, direction: Direction) -> pd.DataFrame:
        limit = limits.get(direction.query)
        if limit is None:
            return candidate_pool(source, ids, direction=direction)
        return staged_pool(source, index, ids, direction=direction, prescorer=pre, limit=limit)

    return pool_of


def evaluation_pools(
    registry: Registry,
    *,
    window: Window,
    max_queries: int = 200,
    seed: int = 0,
    directions: Sequence[Direction] = DIRECTIONS,
    vocab: Vocabulary | None = None,
    limits: Mapping[str, int] | None = None,
) -> tuple[Snapshot, dict[str, EvalPools]]:
    """The snapshot at ``window.start`` and the graded pools per direction name. ``limits``
    (e.g. :data:`STAGE_LIMITS`) bounds each query's pool by the engine's pre-score stage;
    ``vocab`` is the one X will be built with (its feature context is shared)."""
    snapshot = Snapshot.at(registry, window.start)
    labels = window_labels(registry_tables(registry), window=window)
    pool_of = pool_builder(snapshot, vocab=vocab or Vocabulary.fit(snapshot), limits=limits)
    pools = {
        d.name: _pools(
            snapshot, labels, pool_of=pool_of, direction=d, max_queries=max_queries, seed=seed
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
    whole queries (once per distinct vocabulary and feature set) so memory stays bounded;
    ``pair_score`` systems score the whole pool in one call."""
    pairs = pools.pairs
    name = pools.direction.name
    scores = {s.name: np.zeros(len(pairs)) for s in systems}
    by_ids = [s for s in systems if s.pair_score is not None]
    if by_ids:
        ids = pairs[PAIR].astype("str")
        for system in by_ids:
            scores[system.name][:] = system.pair_score(ids, name)  # type: ignore[misc]
    by_x = [s for s in systems if s.pair_score is None]
    slices = list(_chunks(pairs, query=pools.direction.query, chunk_rows=chunk_rows))
    for part in tqdm(slices, desc=f"scoring {name}", file=sys.stderr, disable=not progress):
        chunk = pairs.iloc[part].reset_index(drop=True)
        chunk[PAIR] = chunk[PAIR].astype("str")
        matrices: dict[tuple[Vocabulary, str], pd.DataFrame] = {}
        for system in by_x:
            key = (system.vocab or vocab, system.features)
            if key not in matrices:
                X = build_matrix(chunk[PAIR], snapshot, vocab=key[0], features=key[1])
                matrices[key] = X.reset_index(drop=True)
            scores[system.name][part] = system.score(matrices[key], chunk, name)
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
    metrics, _ = score_and_measure(snapshot, pools, systems=systems, vocab=vocab, progress=progress)
    return metrics


def score_and_measure(
    snapshot: Snapshot,
    pools: Mapping[str, EvalPools],
    *,
    systems: Sequence[System],
    vocab: Vocabulary,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Tidy metrics as :func:`evaluate_systems` and the scored pools per direction name
    (``pools.pairs`` plus one score column per system)."""
    frames, scored_pools = [], {}
    for name, p in pools.items():
        scored = score_pools(p, snapshot, systems=systems, vocab=vocab, progress=progress)
        frames.append(metrics_frame(scored, p, systems=[s.name for s in systems]))
        scored_pools[name] = scored
    return pd.concat(frames, ignore_index=True), scored_pools


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
