"""Dataset assembly: labelled, negatively sampled (building, enterprise) rows per snapshot date,
with point-in-time features from ``features.build_matrix``.

Rows of a ranking set are grouped by query (one query = one direction, window start and query
id) in contiguous runs, LightGBM's convention.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from joblib.externals.loky import get_reusable_executor
from tqdm import tqdm

from tenantmatch.features import RANKER_SET, Vocabulary, build_matrix, context_for
from tenantmatch.matching import CandidatePool, PoolRules
from tenantmatch.models.baselines import bounded_rows
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.labels import (
    DIRECTIONS,
    PAIR,
    Direction,
    hard_flags,
    in_sorted,
    query_ids,
    sample_examples,
    window_labels,
)
from tenantmatch.training.splits import Window

log = logging.getLogger(__name__)

IGNORED_COLUMNS = frozenset({"updated_at"})  # storage bookkeeping, not content
# Candidate-pool rows (queries x the other side's ids, an upper bound) drawn from at once: a
# window's sampled queries are split into chunks of at most this many, so the pool its
# negatives are drawn from stops growing with the registry (1,000 building queries of a 200k
# registry held 100M+ pairs and 4 GB per worker). A 20k registry's 1,000 building queries fit
# in one chunk, drawn exactly as before.
POOL_ROWS_PER_CHUNK = 25_000_000


@dataclass(frozen=True)
class SamplingConfig:
    """Negatives per query: ``n_courted`` pool rows courted before the window (earlier
    attraction events, the look-alikes of a move under way), ``n_hard`` same-city pool rows and
    ``n_random`` other pool rows; ``pool_only`` keeps only labelled pairs the pool would rank.
    A building query ranks thousands of enterprises, an enterprise query a few hundred
    buildings, so each direction has its own counts (``*_buildings``: enterprise queries).
    Measured on the 20k default demo: 30 + 20 negatives per building query gave b->e NDCG@10
    0.20-0.23, 100 + 400 gave 0.23-0.25 (the model then sees the pool it will rank)."""

    n_hard: int = 100
    n_random: int = 400
    n_hard_buildings: int = 30
    n_random_buildings: int = 20
    # Queries kept per window (a seeded sample when there are more): the training set stops
    # growing with the registry, so a 200k-enterprise world trains in the memory of a 20k one.
    max_building_queries: int = 1000
    max_enterprise_queries: int = 3000
    seed: int = 0
    pool_only: bool = True
    n_courted: int = 0  # off: 100 per query lowered b->e NDCG@10 0.178 -> 0.150 (20k demo)


def group_sizes(query_id: np.ndarray) -> np.ndarray:
    """Sizes of the contiguous runs of equal query ids, in row order."""
    if len(query_id) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, query_id[1:] != query_id[:-1]])
    return np.diff(np.r_[starts, len(query_id)]).astype(np.int64)


def label_sizes(y: np.ndarray, group: np.ndarray) -> dict[str, int]:
    """Rows, queries and positive rows of a set with grades ``y`` and query sizes ``group``,
    as the training summary records them."""
    return {"rows": len(y), "queries": len(group), "positives": int((y >= 1).sum())}


@dataclass(frozen=True)
class RankingSet:
    """``pairs`` (building_id, enterprise_id, grade, direction, query_id, as_of) and the
    feature matrix ``X`` (float32, registry column order), row-aligned, grouped by query_id."""

    pairs: pd.DataFrame
    X: pd.DataFrame

    @property
    def y(self) -> np.ndarray:
        return self.pairs["grade"].to_numpy(dtype=np.int64)

    @property
    def group(self) -> np.ndarray:
        """Sizes of the contiguous query runs, in row order."""
        return group_sizes(self.pairs["query_id"].to_numpy())

    @property
    def n_queries(self) -> int:
        return int(self.pairs["query_id"].nunique())

    def only(self, *directions: str) -> RankingSet:
        """The rows of the given directions (by name), in order."""
        keep = self.pairs["direction"].isin(directions).to_numpy()
        return RankingSet(
            self.pairs.loc[keep].reset_index(drop=True), self.X.loc[keep].reset_index(drop=True)
        )

    def sample(self, *, max_rows: int, seed: int) -> RankingSet:
        """At most ``max_rows`` rows, in order: every positive row up to half of it and a
        seeded sample of the rest (``models.baselines.bounded_rows``)."""
        keep = bounded_rows(self.y > 0, max_rows=max_rows, seed=seed)
        return RankingSet(self.pairs.iloc[keep].reset_index(drop=True),
                          self.X.iloc[keep].reset_index(drop=True))  # fmt: skip

    @classmethod
    def concat(cls, sets: Sequence[RankingSet]) -> RankingSet:
        """Rows of every set in order; sets must share the feature columns."""
        pairs = pd.concat([s.pairs for s in sets], ignore_index=True)
        X = pd.concat([s.X for s in sets], ignore_index=True)
        return cls(pairs, X)


def registry_tables(registry: Registry) -> dict[str, pd.DataFrame]:
    """The registry's dated tables (tenancies, events) as a name -> frame mapping for labels."""
    return {"tenancies": registry.tenancies, "events": registry.events}


def pool_source(snapshot: Snapshot, *, vocab: Vocabulary) -> CandidatePool:
    """The serving candidate pool of ``snapshot``, its space needs read from the snapshot's
    feature context for ``vocab`` (built once and reused by ``build_matrix``)."""
    need = context_for(snapshot, vocab=vocab).enterprises["space_need_m2"]
    return CandidatePool.from_snapshot(snapshot, need_m2=need)


def candidate_pool(
    source: CandidatePool, ids: Sequence[str] | np.ndarray, *, direction: Direction
) -> pd.DataFrame:
    """The serving candidate pool of the ``direction`` queries ``ids`` (default rules: no risky
    enterprises, space must fit) as categorical building_id, enterprise_id columns, grouped by
    query in ``ids`` order; no strings are built, so million-row pools stay cheap."""
    ids = [str(i) for i in ids]
    rules = PoolRules()
    if direction.query == "building_id":
        positions = source.buildings.positions(ids, kind="building")
        pairs = source.pairs_for_buildings(positions, rules=rules)
    else:
        positions = source.enterprises.positions(ids, kind="enterprise")
        pairs = source.pairs_for_enterprises(positions, rules=rules)
    return pd.DataFrame(
        {
            "building_id": pd.Categorical.from_codes(
                pairs.building, categories=source.buildings.ids
            ),
            "enterprise_id": pd.Categorical.from_codes(
                pairs.enterprise, categories=source.enterprises.ids
            ),
        }
    )


def courted_flags(pool: pd.DataFrame, *, snapshot: Snapshot, vocab: Vocabulary) -> np.ndarray:
    """True where the pool pair (categorical ids in snapshot order) had attraction events
    before the snapshot date (the feature context's ``prior_events``)."""
    prior = context_for(snapshot, vocab=vocab).prior_events.tocoo()
    n_e = len(snapshot.enterprises)
    keys = np.sort(prior.col.astype(np.int64) * n_e + prior.row.astype(np.int64))
    b = pool["building_id"].cat.codes.to_numpy(dtype=np.int64)
    e = pool["enterprise_id"].cat.codes.to_numpy(dtype=np.int64)
    return in_sorted(b * n_e + e, keys)


def _direction_examples(
    snapshot: Snapshot,
    labels: pd.DataFrame,
    *,
    source: CandidatePool,
    direction: Direction,
    config: SamplingConfig,
    vocab: Vocabulary,
) -> pd.DataFrame:
    by_building = direction.query == "building_id"
    seed = config.seed + int(snapshot.as_of.value // 86_400_000_000_000)
    queries = query_ids(labels, direction=direction)
    cap = config.max_building_queries if by_building else config.max_enterprise_queries
    if len(queries) > cap:
        queries = np.sort(np.random.default_rng(seed).choice(queries, cap, replace=False))
    items = len(source.enterprises.ids) if by_building else len(source.buildings.ids)
    chunks = np.array_split(queries, max(1, -(-len(queries) * items // POOL_ROWS_PER_CHUNK)))
    parts = []
    for i, chunk in enumerate(chunks):
        pool = candidate_pool(source, chunk, direction=direction)
        pool["hard"] = hard_flags(
            pool,
            building_city=snapshot.buildings["city"],
            enterprise_city=snapshot.enterprises["city"],
        )
        if config.n_courted:
            pool["courted"] = courted_flags(pool, snapshot=snapshot, vocab=vocab)
        parts.append(sample_examples(
            labels[labels[direction.query].isin(chunk)],
            pool,
            direction=direction,
            n_hard=config.n_hard if by_building else config.n_hard_buildings,
            n_random=config.n_random if by_building else config.n_random_buildings,
            seed=seed + i,
            pool_only=config.pool_only,
            n_courted=config.n_courted,
        ))  # fmt: skip
        del pool
    rows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    stamp = str(snapshot.as_of.date())
    rows["direction"] = direction.name
    rows["query_id"] = direction.name + "|" + stamp + "|" + rows[direction.query].astype("str")
    rows["as_of"] = snapshot.as_of
    return rows


def known_pairs(pairs: pd.DataFrame, snapshot: Snapshot) -> pd.DataFrame:
    """Rows of ``pairs`` whose building and enterprise both exist in the snapshot."""
    known = pairs["building_id"].isin(snapshot.buildings.index) & pairs["enterprise_id"].isin(
        snapshot.enterprises.index
    )
    return pairs.loc[known].reset_index(drop=True)


def window_examples(
    registry: Registry,
    *,
    window: Window,
    vocab: Vocabulary,
    config: SamplingConfig = SamplingConfig(),
    directions: Sequence[Direction] = DIRECTIONS,
    features: str = RANKER_SET,
) -> RankingSet:
    """Sampled, labelled rows of ``window`` for every direction, X of the feature set
    ``features`` as of window.start."""
    snapshot = Snapshot.at(registry, window.start)
    labels = window_labels(registry_tables(registry), window=window)
    labels = known_pairs(labels, snapshot)
    source = pool_source(snapshot, vocab=vocab)
    parts = [
        _direction_examples(
            snapshot, labels, source=source, direction=d, config=config, vocab=vocab
        )
        for d in directions
    ]
    pairs = pd.concat(parts, ignore_index=True)
    X = build_matrix(pairs[PAIR], snapshot, vocab=vocab, features=features)
    log.info(
        "window %s: %d rows, %d queries, %d positives",
        window,
        len(pairs),
        pairs["query_id"].nunique(),
        int((pairs["grade"] >= 1).sum()),
    )
    return RankingSet(pairs, X.reset_index(drop=True))


def iter_window_sets(
    registry: Registry, windows: Sequence[Window], *, vocab: Vocabulary,
    config: SamplingConfig = SamplingConfig(), n_jobs: int = 2, progress: bool = False,
    features: str = RANKER_SET,
) -> Iterator[RankingSet]:  # fmt: skip
    """One ranking set per window, in window order, as each is built (``n_jobs`` processes
    across windows; their workers are shut down at the end, releasing their registry copies);
    X of the feature set ``features``."""
    jobs = (
        delayed(window_examples)(registry, window=w, vocab=vocab, config=config, features=features)
        for w in windows
    )
    parallel = n_jobs > 1 and len(windows) > 1
    if parallel:
        results: Iterator[RankingSet] = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    else:
        results = (job[0](*job[1], **job[2]) for job in jobs)
    try:
        yield from tqdm(results, total=len(windows), desc="training windows", file=sys.stderr,
                        disable=not progress)  # fmt: skip
    finally:
        if parallel:
            get_reusable_executor().shutdown(wait=True)


def build_sets(
    registry: Registry,
    windows: Sequence[Window],
    *,
    vocab: Vocabulary,
    config: SamplingConfig = SamplingConfig(),
    n_jobs: int = 2,
    progress: bool = False,
    features: str = RANKER_SET,
) -> list[RankingSet]:
    """One ranking set per window, in window order, all in memory (:func:`iter_window_sets`;
    a training run spools them to disk instead, ``training.spool``)."""
    return list(iter_window_sets(registry, windows, vocab=vocab, config=config, n_jobs=n_jobs,
                                 progress=progress, features=features))  # fmt: skip


def data_fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    """SHA-256 (hex) of the tables' contents, independent of row order and of storage
    bookkeeping columns (``updated_at``)."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        frame = frame[sorted(c for c in frame.columns if c not in IGNORED_COLUMNS)].astype("str")
        rows = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
        digest.update(f"{name}:{','.join(frame.columns)}:".encode())
        digest.update(rows.tobytes())
    return digest.hexdigest()
