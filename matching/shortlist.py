"""Shortlists as named stages: candidates (``matching.candidates``) -> scores (the model over
``features.build_matrix``) -> top k per query -> reasons and risk warnings.

Work is batched: queries are taken in chunks whose candidate pairs are scored in row chunks of at
most ``CHUNK_PAIRS``; features are rebuilt and explained only for the k kept rows per query.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureContext, Snapshot, Vocabulary, build_matrix
from matching.candidates import CandidatePool, Pairs, PoolRules
from matching.errors import InputError
from matching.reasons import top_reasons
from matching.rules import risk_warnings
from models import LoadedModel

logger = logging.getLogger(__name__)

MAX_K = 500
CHUNK_PAIRS = 200_000  # rows of X built at once (about 50 MB of float32 features)
SCORE_DECIMALS = 6
# Cheap signals (summed, NaN as 0) that pick which candidates the model scores when a caller
# caps the work per query with ``max_scored``: the staff's hand rule plus history and chain.
PRESCREEN_COLUMNS = (
    "pair__theme_prior_fit", "pair__same_city", "pair__same_district", "pair__space_need_fits",
    "pair__prior_events", "pair__chain_partners_in_building",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ScoringState:
    """Everything a shortlist reads, built once per (data version, model version)."""

    snapshot: Snapshot
    ctx: FeatureContext
    vocab: Vocabulary
    model: LoadedModel
    pool: CandidatePool


@dataclass(frozen=True)
class _Kept:
    """The top rows of every query: pairs, their scores, grouped by query in rank order."""

    pairs: Pairs
    score: np.ndarray


def check_k(k: int) -> int:
    """``k`` itself if it is an int in 1..MAX_K, else InputError."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InputError(f"k={k!r} is out of range; allowed: an integer from 1 to {MAX_K}")
    return int(k)


def shortlist_for_buildings(
    state: ScoringState,
    building_ids: Sequence[str],
    *,
    k: int = 20,
    rules: PoolRules | None = None,
    max_scored: int | None = None,
) -> list[dict[str, Any]]:
    """Per building id, the k enterprises to court as the interface's jsonl object
    (``query``, ``model_version``, ``items``); NotFoundError for an unknown id.
    ``max_scored`` (>= k) caps the candidates per query the model scores (None: all, exact)."""
    k, rules = check_k(k), rules or PoolRules()
    positions = state.pool.buildings.positions(building_ids, kind="building")
    max_scored = None if max_scored is None else max(max_scored, k)
    kept = _top_pairs(state, positions, k=k, rules=rules, building_query=True,
                      max_scored=max_scored)  # fmt: skip
    items = _items(state, kept, n_queries=len(positions), rules=rules, building_query=True)
    return [
        _result(state, "building_id", str(q), its)
        for q, its in zip(building_ids, items, strict=True)
    ]


def shortlist_for_enterprises(
    state: ScoringState,
    enterprise_ids: Sequence[str],
    *,
    k: int = 20,
    rules: PoolRules | None = None,
    max_scored: int | None = None,
) -> list[dict[str, Any]]:
    """Per enterprise id, the k buildings that fit it best, as the jsonl object of a query;
    NotFoundError for an unknown id."""
    k, rules = check_k(k), rules or PoolRules()
    positions = state.pool.enterprises.positions(enterprise_ids, kind="enterprise")
    max_scored = None if max_scored is None else max(max_scored, k)
    kept = _top_pairs(state, positions, k=k, rules=rules, building_query=False,
                      max_scored=max_scored)  # fmt: skip
    items = _items(state, kept, n_queries=len(positions), rules=rules, building_query=False)
    return [
        _result(state, "enterprise_id", str(q), its)
        for q, its in zip(enterprise_ids, items, strict=True)
    ]


def _result(
    state: ScoringState, key: str, query_id: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"query": {key: query_id}, "model_version": state.model.version, "items": items}


def _query_chunks(positions: np.ndarray, *, per_query: int) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, positions) chunks whose candidate pairs stay near ``CHUNK_PAIRS`` rows."""
    size = max(1, CHUNK_PAIRS // max(per_query, 1))
    for start in range(0, len(positions), size):
        yield start, positions[start : start + size]


def _candidates(
    state: ScoringState, positions: np.ndarray, *, rules: PoolRules, building_query: bool
) -> Pairs:
    pool = state.pool
    if building_query:
        return pool.pairs_for_buildings(positions, rules=rules)
    return pool.pairs_for_enterprises(positions, rules=rules)


def _features(state: ScoringState, pairs: Pairs) -> pd.DataFrame:
    return build_matrix(state.pool.pair_frame(pairs), state.ctx, vocab=state.vocab)


def _scores(
    state: ScoringState, pairs: Pairs, *, max_scored: int | None, building_query: bool
) -> np.ndarray:
    """float64 score per pair, built and scored in row chunks of ``CHUNK_PAIRS``; with
    ``max_scored``, only that many rows per query (best by the prescreen) reach the model and
    the rest score -inf."""
    parts = [np.empty(0)]
    for start in range(0, len(pairs), CHUNK_PAIRS):
        part = _slice(pairs, slice(start, start + CHUNK_PAIRS))
        X = _features(state, part)
        score = np.full(len(part), -np.inf)
        rows = np.arange(len(part))
        if max_scored is not None:
            prescore = np.nansum(X[list(PRESCREEN_COLUMNS)].to_numpy(dtype=np.float64), axis=1)
            rows = _top_rows(part, prescore, k=max_scored, building_query=building_query)
        if len(rows):
            score[rows] = state.model.scorer.score(X.iloc[rows])
        parts.append(score)
    return np.concatenate(parts)


def _slice(pairs: Pairs, rows: slice | np.ndarray) -> Pairs:
    return Pairs(pairs.query[rows], pairs.building[rows], pairs.enterprise[rows])


def _top_rows(pairs: Pairs, score: np.ndarray, *, k: int, building_query: bool) -> np.ndarray:
    """Row indices of each query's k best pairs, grouped by query, best first; ties go to the
    candidate earlier in the registry so results are reproducible."""
    other = pairs.enterprise if building_query else pairs.building
    if len(pairs) == 0:
        return np.empty(0, dtype=np.int64)
    bounds = np.flatnonzero(np.r_[True, pairs.query[1:] != pairs.query[:-1], True])
    rows = []
    for start, end in itertools.pairwise(bounds):
        order = np.lexsort((other[start:end], -score[start:end]))[:k]
        rows.append(start + order)
    return np.concatenate(rows)


def _top_pairs(
    state: ScoringState,
    positions: np.ndarray,
    *,
    k: int,
    rules: PoolRules,
    building_query: bool,
    max_scored: int | None,
) -> _Kept:
    """Each query's k best candidates over all chunks (``query`` indexes ``positions``)."""
    pool = state.pool
    per_query = len(pool.enterprises.ids) if building_query else len(pool.buildings.ids)
    kept: list[Pairs] = []
    scores = []
    for offset, chunk in _query_chunks(positions, per_query=per_query):
        pairs = _candidates(state, chunk, rules=rules, building_query=building_query)
        score = _scores(state, pairs, max_scored=max_scored, building_query=building_query)
        rows = _top_rows(pairs, score, k=k, building_query=building_query)
        top = _slice(pairs, rows)
        kept.append(Pairs(top.query + offset, top.building, top.enterprise))
        scores.append(score[rows])
    logger.info("scored candidates of %d %s queries", len(positions),
                "building" if building_query else "enterprise")  # fmt: skip
    return _Kept(_concat(kept), np.concatenate(scores) if scores else np.empty(0))


def _concat(parts: list[Pairs]) -> Pairs:
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Pairs(empty, empty, empty)
    return Pairs(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("query", "building", "enterprise")
        )
    )


def _reasons(state: ScoringState, pairs: Pairs) -> list[list[dict[str, object]]]:
    """Top reasons of every kept pair; [] each when the model gives no contributions."""
    explain = getattr(state.model.scorer, "contributions", None)
    if explain is None or len(pairs) == 0:
        return [[] for _ in range(len(pairs))]
    X = _features(state, pairs)
    aligned = X[state.model.manifest["feature_names"]]
    return top_reasons(explain(aligned), aligned, vocab=state.vocab)


def _items(
    state: ScoringState, kept: _Kept, *, n_queries: int, rules: PoolRules, building_query: bool
) -> list[list[dict[str, Any]]]:
    """Shortlist items per query: rank, candidate id and name, score, reasons (and warnings)."""
    pool, pairs = state.pool, kept.pairs
    reasons = _reasons(state, pairs)
    side = pool.enterprises if building_query else pool.buildings
    other = pairs.enterprise if building_query else pairs.building
    key = "enterprise_id" if building_query else "building_id"
    out: list[list[dict[str, Any]]] = [[] for _ in range(n_queries)]
    for i in range(len(pairs)):
        q, e, o = int(pairs.query[i]), int(pairs.enterprise[i]), int(other[i])
        item = {
            "rank": len(out[q]) + 1,
            key: str(side.ids[o]),
            "name": side.names[o],
            "score": round(float(kept.score[i]), SCORE_DECIMALS),
            "reasons": reasons[i],
        }
        if rules.include_risky:
            flags, credit = pool.risk_flags[e], pool.credit_score[e]
            item["risk_warnings"] = risk_warnings(flags, credit_score=float(credit))
        out[q].append(item)
    return out
