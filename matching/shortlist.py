"""Shortlists as named stages: candidates (``matching.candidates``: feasibility, exclusions,
rules) -> pre-score and top M per query plus the query's pairs with a history (earlier events,
chain partners in the building; ``matching.prescore``, when ``max_scored`` is given) ->
LightGBM scores over ``features.build_matrix`` -> top k per query -> reasons and warnings.

Work is batched across queries: queries are taken in chunks whose candidate pairs (at most about
``CHUNK_PAIRS``) are built into X and scored in one call; reasons are computed from the kept
rows of that X, only for the k items returned.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd

from tenantmatch.features import FeatureContext, Vocabulary, build_matrix_at
from tenantmatch.matching.candidates import CandidatePool, Pairs, PoolRules
from tenantmatch.matching.details import item_details
from tenantmatch.matching.precomputed import BuildingCandidates
from tenantmatch.matching.reasons import top_reasons
from tenantmatch.matching.rules import recent_declines, risk_warnings
from tenantmatch.models import (
    CompiledModel,
    LoadedModel,
    PathExplainer,
    PrescoreIndex,
    Prescorer,
    feature_set_of,
    in_order,
    top_m,
    unfitted_prescorer,
    with_history,
)
from tenantmatch.models.prescore import top_m_checked
from tenantmatch.registry import InputError, Registry, Snapshot

logger = logging.getLogger(__name__)

MAX_K = 500
CHUNK_PAIRS = 200_000  # rows of X built at once (about 50 MB of float32 features)
SCORE_DECIMALS = 6


@dataclass(frozen=True, eq=False)
class ScoringState:
    """Everything a shortlist reads, built once per (data version, model version)."""

    snapshot: Snapshot
    ctx: FeatureContext
    vocab: Vocabulary
    model: LoadedModel
    pool: CandidatePool
    prescorer: Prescorer | None = None  # None: built unfitted on first two-stage use
    prescore: PrescoreIndex | None = None
    explainer: PathExplainer | None = None  # reasons' contributions; None: the scorer's own
    compiled: CompiledModel | None = None  # compiled trees, used once ready
    candidates: BuildingCandidates | None = None  # stage 1's kept answers (one rule set and M)
    data_version: int | None = None  # the repository's data_version the snapshot was read at
    # the registry the snapshot was cut from, patched by the next write's rows (engine); None
    # for a dated state
    registry: Registry | None = None

    def __post_init__(self) -> None:
        # Pool and context are both built from the snapshot, in its row order; X is built from
        # pool positions, so a pool of another snapshot would silently score the wrong rows.
        sizes = {(len(self.pool.buildings.ids), len(self.pool.enterprises.ids)),
                 (len(self.ctx.buildings), len(self.ctx.enterprises))}  # fmt: skip
        if len(sizes) != 1:
            raise InputError(f"candidate pool and feature context differ in size: {sizes}")

    @property
    def features(self) -> str:
        """The feature set the model scores (its manifest's; X is built for it)."""
        return feature_set_of(self.model.manifest)

    def kept_candidates(self, rules: PoolRules, m: int) -> BuildingCandidates | None:
        """``candidates`` when they serve building queries under ``rules`` with this ``m``
        over this state's pool and pre-score arrays, else None (stage 1 runs per query)."""
        kept = self.candidates
        if kept is None or not kept.serves(rules, m, pool=self.pool, index=self.prescore):
            return None
        return kept

    def prescore_parts(self) -> tuple[Prescorer, PrescoreIndex]:
        """The pre-scorer and its arrays (the unfitted fallback, built once, if none is set)."""
        if self.prescorer is not None and self.prescore is not None:
            return self.prescorer, self.prescore
        with _LAZY_LOCK:
            parts = _LAZY.get(self)
            if parts is None:
                pre = self.prescorer or unfitted_prescorer()
                parts = (pre, pre.build_index(self.ctx))
                _LAZY[self] = parts
        return parts


_LAZY: weakref.WeakKeyDictionary[ScoringState, tuple[Prescorer, PrescoreIndex]] = (
    weakref.WeakKeyDictionary()
)
_LAZY_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Kept:
    """The top rows of every query: pairs, their scores and feature rows, grouped by query in
    rank order (``X`` None when the rows must be rebuilt for reasons)."""

    pairs: Pairs
    score: np.ndarray
    X: pd.DataFrame | None = None


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
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Per building id, the k enterprises to court as the interface's jsonl object
    (``query``, ``model_version``, ``items``); NotFoundError for an unknown id.
    ``max_scored`` (raised to k) is M of the two-stage path: only the M best candidates by the
    pre-score and those with a history reach the model (None: the full scan, every candidate
    scored, exact). ``threads``: threads one query's work is split over (same results)."""
    return _shortlists(state, building_ids, building_query=True, k=k, rules=rules,
                       max_scored=max_scored, threads=threads)  # fmt: skip


def shortlist_for_enterprises(
    state: ScoringState,
    enterprise_ids: Sequence[str],
    *,
    k: int = 20,
    rules: PoolRules | None = None,
    max_scored: int | None = None,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Per enterprise id, the k buildings that fit it best, as the jsonl object of a query;
    NotFoundError for an unknown id. ``max_scored`` and ``threads`` as for building queries."""
    return _shortlists(state, enterprise_ids, building_query=False, k=k, rules=rules,
                       max_scored=max_scored, threads=threads)  # fmt: skip


def _shortlists(
    state: ScoringState,
    query_ids: Sequence[str],
    *,
    building_query: bool,
    k: int,
    rules: PoolRules | None,
    max_scored: int | None,
    threads: int,
) -> list[dict[str, Any]]:
    """Both directions: validate, pick the top pairs per query, explain them, wrap each query."""
    k, rules = check_k(k), rules or PoolRules()
    kind = "building" if building_query else "enterprise"
    side = state.pool.buildings if building_query else state.pool.enterprises
    positions = side.positions(query_ids, kind=kind)
    max_scored = None if max_scored is None else max(max_scored, k)
    kept = _top_pairs(state, positions, k=k, rules=rules, building_query=building_query,
                      max_scored=max_scored, threads=threads)  # fmt: skip
    items = _items(state, kept, n_queries=len(positions), rules=rules,
                   building_query=building_query, threads=threads)  # fmt: skip
    return [
        _result(state, f"{kind}_id", str(q), its) for q, its in zip(query_ids, items, strict=True)
    ]


def _result(
    state: ScoringState, key: str, query_id: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"query": {key: query_id}, "model_version": state.model.version,
            "data_version": state.data_version,
            "as_of": state.snapshot.as_of.date().isoformat(), "items": items}  # fmt: skip


def _query_chunks(positions: np.ndarray, *, per_query: int) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, positions) chunks whose candidate pairs stay near ``CHUNK_PAIRS`` rows."""
    size = max(1, CHUNK_PAIRS // max(per_query, 1))
    for start in range(0, len(positions), size):
        yield start, positions[start : start + size]


def _candidates(
    state: ScoringState,
    positions: np.ndarray,
    *,
    rules: PoolRules,
    building_query: bool,
    max_scored: int | None,
    threads: int = 1,
) -> Pairs:
    """Candidate pairs of the queries at ``positions``: all feasible ones, or with
    ``max_scored`` the best M of them by the pre-score (``threads`` at once)."""
    pool = state.pool
    if max_scored is None:
        if building_query:
            return pool.pairs_for_buildings(positions, rules=rules)
        return pool.pairs_for_enterprises(positions, rules=rules)
    if building_query:
        return _staged_for_buildings(state, positions, rules=rules, m=max_scored, threads=threads)
    return _staged_for_enterprises(state, positions, rules=rules, m=max_scored)


def _staged_for_buildings(
    state: ScoringState, positions: np.ndarray, *, rules: PoolRules, m: int, threads: int = 1
) -> Pairs:
    """Per building query, its feasible enterprises' M best by the pre-score, plus every
    feasible one with a history at the building (``PrescoreIndex.history``); read from and
    kept in ``state.candidates`` when it serves these rules and M."""
    kept = state.kept_candidates(rules, m)
    chosen = []
    for b in positions:
        found = kept.get(int(b)) if kept is not None else None
        if found is None:
            found = _stage_one(state, int(b), rules=rules, m=m, threads=threads)
            if kept is not None:
                kept.put(int(b), found)
        chosen.append(found)
    return Pairs.of(chosen, fixed=positions, fixed_is_building=True)


def _stage_one(
    state: ScoringState, building: int, *, rules: PoolRules, m: int, threads: int
) -> np.ndarray:
    """Sorted enterprise positions stage 1 hands the ranker for one building query."""
    pool, (pre, index) = state.pool, state.prescore_parts()
    base = pool.cached_enterprise_mask(rules, location=True)
    fits = functools.partial(pool.enterprises_fit_building, building, base=base, rules=rules)
    scores = pre.building_scores(index, building, threads=threads)
    best = top_m_checked(scores, fits, m=m)
    if best is None:  # few feasible candidates: the whole mask is cheap enough
        best = top_m(scores, pool.enterprises_for_building(building, base=base, rules=rules), m=m)
    history = index.history_of_building(building)
    return with_history(best, history[fits(history)])


def precompute_candidates(
    state: ScoringState,
    buildings: np.ndarray | None = None,
    *,
    threads: int = 1,
    chunk: int = 256,
) -> int:
    """Fill ``state.candidates`` for the building positions given (None: every building still
    without them), ``chunk`` buildings per task on ``threads`` threads (joblib; the pre-score's
    numpy work drops the GIL). Returns how many buildings it looked at (0 when the state keeps
    no candidates, or keeps them for other pre-score arrays)."""
    kept = state.candidates
    if kept is None or state.kept_candidates(kept.rules, kept.m) is None:
        return 0
    todo = kept.missing() if buildings is None else np.asarray(buildings, dtype=np.int64)
    parts = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]

    def fill(part: np.ndarray) -> None:
        for b in part.tolist():
            if kept.get(b) is None:
                kept.put(b, _stage_one(state, b, rules=kept.rules, m=kept.m, threads=1))

    joblib.Parallel(n_jobs=max(1, threads), prefer="threads")(
        joblib.delayed(fill)(part) for part in parts
    )
    return len(todo)


def _staged_for_enterprises(
    state: ScoringState, positions: np.ndarray, *, rules: PoolRules, m: int
) -> Pairs:
    """Per enterprise query, its feasible buildings' M best by the pre-score, plus every
    feasible one it has a history with."""
    pool, (pre, index) = state.pool, state.prescore_parts()
    allowed = pool.cached_enterprise_mask(rules, location=False)
    base = pool.building_mask(rules)
    chosen = []
    for e in positions:
        ok = pool.buildings_for_enterprise(int(e), base=base, allowed=allowed, rules=rules)
        best = top_m(pre.enterprise_scores(index, int(e)), ok, m=m)
        chosen.append(with_history(best, index.history_of_enterprise(int(e)), ok))
    return Pairs.of(chosen, fixed=positions, fixed_is_building=False)


def _features(state: ScoringState, pairs: Pairs, *, threads: int = 1) -> pd.DataFrame:
    """X of ``pairs``: pool positions are the context's rows (both follow the snapshot's
    order, see :meth:`ScoringState.__post_init__`), so no ids are looked up."""
    return build_matrix_at(pairs.building, pairs.enterprise, state.ctx, vocab=state.vocab,
                           threads=threads, features=state.features)  # fmt: skip


def _scores(
    state: ScoringState, pairs: Pairs, *, threads: int = 1
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """float64 model score per pair, built and scored in row chunks of ``CHUNK_PAIRS``; and X
    itself when it fitted in one chunk (else None: too big to keep)."""
    if len(pairs) == 0:
        return np.empty(0), None
    if len(pairs) <= CHUNK_PAIRS:
        X = _features(state, pairs, threads=threads)
        return _model_scores(state, X, threads=threads), X
    parts = [np.empty(0)]
    for start in range(0, len(pairs), CHUNK_PAIRS):
        part = _slice(pairs, slice(start, start + CHUNK_PAIRS))
        X = _features(state, part, threads=threads)
        parts.append(_model_scores(state, X, threads=threads))
    return np.concatenate(parts), None


def _model_scores(state: ScoringState, X: pd.DataFrame, *, threads: int = 1) -> np.ndarray:
    """The ranker's scores of X: by the compiled trees once they are ready (on ``threads``),
    else LightGBM (on its own threads)."""
    if len(X) == 0:
        return np.empty(0)
    fast = state.compiled.score(X, threads=threads) if state.compiled is not None else None
    return fast if fast is not None else state.model.scorer.score(X)


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
    threads: int,
) -> _Kept:
    """Each query's k best candidates over all chunks (``query`` indexes ``positions``)."""
    pool = state.pool
    per_query = len(pool.enterprises.ids) if building_query else len(pool.buildings.ids)
    kept: list[_Kept] = []
    for offset, chunk in _query_chunks(
        positions, per_query=min(per_query, max_scored or per_query)
    ):
        pairs = _candidates(state, chunk, rules=rules, building_query=building_query,
                            max_scored=max_scored, threads=threads)  # fmt: skip
        score, X = _scores(state, pairs, threads=threads)
        rows = _top_rows(pairs, score, k=k, building_query=building_query)
        top = _slice(pairs, rows)
        top_X = None if X is None else X.iloc[rows]
        kept.append(
            _Kept(Pairs(top.query + offset, top.building, top.enterprise), score[rows], top_X)
        )
    logger.debug("scored candidates of %d %s queries", len(positions),
                 "building" if building_query else "enterprise")  # fmt: skip
    return _concat(kept)


def _concat(parts: list[_Kept]) -> _Kept:
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return _Kept(Pairs(empty, empty, empty), np.empty(0))
    pairs = Pairs(
        *(
            np.concatenate([getattr(p.pairs, f) for p in parts])
            for f in ("query", "building", "enterprise")
        )
    )
    frames = [p.X for p in parts if len(p.pairs)]
    whole = frames and all(f is not None for f in frames)
    X = pd.concat(frames, ignore_index=True) if whole else None
    return _Kept(pairs, np.concatenate([p.score for p in parts]), X)


def _reasons(
    state: ScoringState, kept: _Kept, *, declined: list[str | None], threads: int
) -> list[list[dict[str, object]]]:
    """Top reasons of every kept pair, relative to the others of its query; [] each when the
    model gives no contributions."""
    pairs = kept.pairs
    explain = getattr(state.model.scorer, "contributions", None)
    if state.explainer is not None:
        explain = functools.partial(state.explainer.contributions, threads=threads)
    if explain is None or len(pairs) == 0:
        return [[] for _ in range(len(pairs))]
    X = kept.X if kept.X is not None else _features(state, pairs, threads=threads)
    aligned = in_order(X, state.model.manifest["feature_names"])
    return top_reasons(explain(aligned), aligned, vocab=state.vocab, groups=pairs.query,
                       declined_on=declined)  # fmt: skip


def declined_on(state: ScoringState, pairs: Pairs) -> list[str | None]:
    """Per pair, the ISO date of its decline when its latest attraction event is a decline
    within ``DECLINE_MEMORY_DAYS`` of the snapshot's date (``matching.rules``), else None."""
    if len(pairs) == 0:
        return []
    ctx = state.ctx  # sparse (enterprise, building): stage rank + 2 and days + 1, 0 = none
    rank = np.asarray(ctx.last_event_stage[pairs.enterprise, pairs.building], dtype=np.float64)
    days = np.asarray(ctx.last_event_days[pairs.enterprise, pairs.building], dtype=np.float64)
    rank, days = rank.reshape(-1), days.reshape(-1)
    mask = recent_declines(np.where(rank == 0, np.nan, rank - 2.0),
                           np.where(days == 0, np.nan, days - 1.0))  # fmt: skip
    as_of = state.snapshot.as_of
    return [
        (as_of - pd.Timedelta(days=int(d))).date().isoformat() if m else None
        for m, d in zip(mask.tolist(), np.nan_to_num(days - 1.0).tolist(), strict=True)
    ]


def _items(
    state: ScoringState,
    kept: _Kept,
    *,
    n_queries: int,
    rules: PoolRules,
    building_query: bool,
    threads: int,
) -> list[list[dict[str, Any]]]:
    """Shortlist items per query: rank, candidate id and name, score, reasons (and warnings),
    then what staff decide on (``matching.details``); recently declined pairs after the others
    of their query, flagged with ``declined_on``."""
    pool, pairs = state.pool, kept.pairs
    declined = declined_on(state, pairs)
    reasons = _reasons(state, kept, declined=declined, threads=threads)
    details = item_details(state.snapshot, pool, pairs, kept.score, manifest=state.model.manifest,
                           building_query=building_query)  # fmt: skip
    side = pool.enterprises if building_query else pool.buildings
    other = pairs.enterprise if building_query else pairs.building
    key = "enterprise_id" if building_query else "building_id"
    # whole columns at once: ids and names one by one from pyarrow cost ~5 us each
    ids, names = side.ids[other].tolist(), side.names[other].tolist()
    queries, scores = pairs.query.tolist(), kept.score.tolist()
    out: list[list[dict[str, Any]]] = [[] for _ in range(n_queries)]
    # rows come grouped by query in rank order: a stable sort moves the declines to the end
    demoted = np.array([d is not None for d in declined], dtype=bool)
    for i in np.lexsort((np.arange(len(pairs)), demoted, pairs.query)).tolist():
        q = queries[i]
        item = {
            "rank": len(out[q]) + 1,
            key: str(ids[i]),
            "name": names[i],
            "score": round(scores[i], SCORE_DECIMALS),
            "reasons": reasons[i],
        }
        if declined[i] is not None:
            item["declined_on"] = declined[i]
        if rules.include_risky:
            e = int(pairs.enterprise[i])
            flags, credit = pool.risk_flags[e], pool.credit_score[e]
            item["risk_warnings"] = risk_warnings(flags, credit_score=float(credit))
        item.update(details[i])
        out[q].append(item)
    return out
