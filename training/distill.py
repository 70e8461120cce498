"""Fitting the pre-scorer (``matching.prescore``) by distillation from a ranker, and storing it
with a model version.

Training calls :func:`fit_prescorer` on the training cut's snapshot and passes the bytes to
``models.save_version(attachments={PRESCORER_FILE: ...})``; :func:`attach_prescorer` does the
same for a version that is already stored (an older model), as a new version.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import Ridge

from tenantmatch.features import (
    RANKER_SET,
    FeatureContext,
    Vocabulary,
    build_matrix_at,
    categorical_features,
    context_for,
)
from tenantmatch.matching import CandidatePool, PoolRules
from tenantmatch.matching.candidates import Pairs
from tenantmatch.models import (
    CHUNK_ROWS,
    PRESCORER_FILE,
    RESERVED_KEYS,
    SPARSE_EDGES,
    Prescorer,
    Scorer,
    bins,
    current_version,
    feature_set_of,
    load_version,
    model_vocabulary,
    pair_term_values,
    promote,
    save_version,
    top_m,
)
from tenantmatch.registry import InputError, Snapshot

logger = logging.getLogger(__name__)

MAX_BINS = 24  # quantile bins per term (plus one for NaN)


@dataclass(frozen=True)
class DistillConfig:
    """How many queries and candidates per query the pre-scorer is distilled from."""

    building_queries: int = 64
    enterprise_queries: int = 32
    per_query: int = 3000
    top_share: float = 0.05  # the ranker's top share of a query's candidates ...
    top_weight: float = 5.0  # ... weighs this much more (the pre-score must keep the top)
    head: int = 2000  # second pass: each building query's head by the first fit (0: none)
    alpha: float = 1.0
    seed: int = 0


def _edges(values: np.ndarray, *, categorical: bool) -> np.ndarray:
    known = np.unique(values[~np.isnan(values)])
    if len(known) <= 1:
        return known[:0]
    if categorical or len(known) <= MAX_BINS:
        return (known[:-1] + known[1:]) / 2.0
    return np.unique(np.quantile(values[~np.isnan(values)], np.linspace(0, 1, MAX_BINS + 1)[1:-1]))


def _design(values: dict[str, np.ndarray], edges: dict[str, np.ndarray]) -> sparse.csr_array:
    """One-hot (rows, total bins) of every term's bin, terms in ``edges`` order."""
    columns, offset = [], 0
    for term, term_edges in edges.items():
        columns.append(bins(values[term], term_edges) + offset)
        offset += len(term_edges) + 2
    cols = np.stack(columns, axis=1)
    n, k = cols.shape
    data = np.ones(n * k)
    return sparse.csr_array((data, cols.reshape(-1), np.arange(0, n * k + 1, k)), shape=(n, offset))


def fit_tables(
    values: dict[str, np.ndarray],
    target: np.ndarray,
    *,
    query: np.ndarray,
    categorical: frozenset[str] = frozenset(),
    config: DistillConfig | None = None,
) -> Prescorer:
    """Ridge fit of per-bin weights to ``target`` centred per ``query`` (int codes, one per
    row), the top ``top_share`` of each query weighted up; terms are the keys of ``values``."""
    config = config or DistillConfig()
    edges = {
        t: SPARSE_EDGES[t] if t in SPARSE_EDGES else _edges(v, categorical=t in categorical)
        for t, v in values.items()
    }
    frame = pd.DataFrame({"q": query, "y": target})
    centred = target - frame.groupby("q")["y"].transform("mean").to_numpy()
    top = frame.groupby("q")["y"].rank(pct=True, ascending=False).to_numpy() <= config.top_share
    weight = np.where(top, config.top_weight, 1.0)
    model = Ridge(alpha=config.alpha, fit_intercept=True)
    model.fit(_design(values, edges), centred, sample_weight=weight)
    tables, offset = {}, 0
    for term, term_edges in edges.items():
        size = len(term_edges) + 2
        tables[term] = model.coef_[offset : offset + size].astype(np.float64)
        offset += size
    return Prescorer(edges=edges, tables=tables, fitted=True, model=model)


def _sample(pairs: Pairs, *, per_query: int, rng: np.random.Generator) -> Pairs:
    """At most ``per_query`` random rows of each query, query order kept."""
    if len(pairs) == 0:
        return pairs
    bounds = np.flatnonzero(np.r_[True, pairs.query[1:] != pairs.query[:-1], True]).tolist()
    rows = [
        np.sort(rng.choice(np.arange(s, e), size=min(per_query, e - s), replace=False))
        for s, e in itertools.pairwise(bounds)
    ]
    keep = np.concatenate(rows)
    return Pairs(pairs.query[keep], pairs.building[keep], pairs.enterprise[keep])


def _queries(pool: CandidatePool, *, config: DistillConfig) -> tuple[np.ndarray, np.ndarray]:
    """Random building and enterprise query positions (sorted) to distil from."""
    rng = np.random.default_rng(config.seed)
    n_b, n_e = len(pool.buildings.ids), len(pool.enterprises.ids)
    b_q = np.sort(rng.choice(n_b, size=min(config.building_queries, n_b), replace=False))
    e_q = np.sort(rng.choice(n_e, size=min(config.enterprise_queries, n_e), replace=False))
    return b_q, e_q


def _joined(by_b: Pairs, by_e: Pairs, *, n_b: int) -> Pairs:
    """Building queries' pairs, then enterprise queries' with codes after the buildings'."""
    return Pairs(
        np.r_[by_b.query, by_e.query + n_b],
        np.r_[by_b.building, by_e.building],
        np.r_[by_b.enterprise, by_e.enterprise],
    )


def distill_pairs(pool: CandidatePool, *, config: DistillConfig) -> Pairs:
    """Sampled candidate pairs of random building and enterprise queries (feasible under the
    default rules); enterprise queries' codes follow the building queries'."""
    rng = np.random.default_rng(config.seed + 1)
    b_q, e_q = _queries(pool, config=config)
    by_b = _sample(pool.pairs_for_buildings(b_q, rules=PoolRules()), per_query=config.per_query,
                   rng=rng)  # fmt: skip
    by_e = _sample(pool.pairs_for_enterprises(e_q, rules=PoolRules()), per_query=config.per_query,
                   rng=rng)  # fmt: skip
    return _joined(by_b, by_e, n_b=len(b_q))


def head_pairs(
    prescorer: Prescorer, pool: CandidatePool, ctx: FeatureContext, *, config: DistillConfig
) -> Pairs:
    """The distillation queries' ``config.head`` best feasible candidates (a quarter of it for
    enterprise queries) by a first-pass pre-score: the head the pre-score must order well."""
    index, rules = prescorer.build_index(ctx), PoolRules()
    b_q, e_q = _queries(pool, config=config)
    base = pool.cached_enterprise_mask(rules, location=True)
    by_b = [
        np.sort(top_m(prescorer.building_scores(index, int(b)),
                      pool.enterprises_for_building(int(b), base=base, rules=rules), m=config.head))
        for b in b_q
    ]  # fmt: skip
    allowed, b_mask = pool.cached_enterprise_mask(rules, location=False), pool.building_mask(rules)
    by_e = [
        np.sort(top_m(prescorer.enterprise_scores(index, int(e)),
                      pool.buildings_for_enterprise(int(e), base=b_mask, allowed=allowed,
                                                    rules=rules), m=max(1, config.head // 4)))
        for e in e_q
    ]  # fmt: skip
    return _joined(
        Pairs.of(by_b, fixed=b_q, fixed_is_building=True),
        Pairs.of(by_e, fixed=e_q, fixed_is_building=False),
        n_b=len(b_q),
    )


def _examples(
    pairs: Pairs, *, pool: CandidatePool, ctx: FeatureContext, scorer: Scorer,
    feature_names: Sequence[str], features: str = RANKER_SET,
) -> tuple[dict[str, np.ndarray], np.ndarray]:  # fmt: skip
    """Term values (one-sided features of the ranker's X, pair terms) and the scores of
    ``pairs`` by ``scorer`` (its X built for the feature set ``features``)."""
    target, frames = [], []
    for start in range(0, len(pairs), CHUNK_ROWS):
        part = Pairs(*(a[start : start + CHUNK_ROWS] for a in (pairs.query, pairs.building,
                                                               pairs.enterprise)))  # fmt: skip
        X = build_matrix_at(part.building, part.enterprise, ctx, vocab=ctx.vocab)
        own = X if features == RANKER_SET else build_matrix_at(
            part.building, part.enterprise, ctx, vocab=ctx.vocab, features=features
        )  # fmt: skip
        target.append(scorer.score(own[list(feature_names)]))
        frames.append(X[[c for c in X.columns if c.startswith(("e__", "b__"))]])
    side = np.concatenate([f.to_numpy(dtype=np.float64) for f in frames])
    values = {name: side[:, i] for i, name in enumerate(frames[0].columns)}
    bare = Prescorer(edges={}, tables={}, fitted=False).build_index(ctx)
    values |= pair_term_values(bare, b_pos=pairs.building, e_pos=pairs.enterprise)
    return values, np.concatenate(target)


def fit_prescorer(
    snapshot: Snapshot,
    scorer: Scorer,
    *,
    vocab: Vocabulary,
    feature_names: Sequence[str],
    config: DistillConfig | None = None,
    features: str = RANKER_SET,
) -> Prescorer:
    """A pre-scorer distilled from ``scorer``'s scores (of X for the feature set ``features``)
    on ``snapshot`` (use the training cut's): first on a uniform sample of candidates, then
    again with each query's head by that first fit added; InputError when the snapshot has no
    candidate pair."""
    config = config or DistillConfig()
    ctx = context_for(snapshot, vocab=vocab)
    pool = CandidatePool.from_snapshot(snapshot, need_m2=ctx.enterprises["space_need_m2"])
    pairs = distill_pairs(pool, config=config)
    if len(pairs) == 0:
        raise InputError("no candidate pairs to fit a pre-scorer on; the snapshot is empty")
    kw = {"pool": pool, "ctx": ctx, "scorer": scorer, "feature_names": feature_names,
          "features": features}  # fmt: skip
    values, target = _examples(pairs, **kw)  # type: ignore[arg-type]
    categorical = frozenset(categorical_features())
    prescorer = fit_tables(values, target, query=pairs.query, categorical=categorical,
                           config=config)  # fmt: skip
    if config.head:
        head = head_pairs(prescorer, pool, ctx, config=config)
        more, more_target = _examples(head, **kw)  # type: ignore[arg-type]
        values = {name: np.r_[v, more[name]] for name, v in values.items()}
        target, query = np.r_[target, more_target], np.r_[pairs.query, head.query]
        prescorer = fit_tables(values, target, query=query, categorical=categorical,
                               config=config)  # fmt: skip
    logger.info("pre-scorer distilled from %d pairs", len(target))
    return prescorer


def attach_prescorer(
    store: Path,
    version: str | None,
    snapshot: Snapshot,
    *,
    created: datetime,
    config: DistillConfig | None = None,
) -> str:
    """Store ``version`` again with a pre-scorer distilled on ``snapshot``, as a new version
    (versions are immutable); promoted when ``version`` was CURRENT. Returns the new id."""
    if version is None:
        raise InputError(f"no model version given for the store {store}; train one first")
    model = load_version(Path(store), version)
    manifest = model.manifest
    vocab = model_vocabulary(model)
    prescorer = fit_prescorer(snapshot, model.scorer, vocab=vocab,
                              feature_names=manifest["feature_names"], config=config,
                              features=feature_set_of(manifest))  # fmt: skip
    extra: dict[str, Any] = {k: v for k, v in manifest.items() if k not in RESERVED_KEYS}
    new = save_version(
        Path(store), model.scorer, created=created,
        manifest_extra={**extra, "derived_from": version},
        vocabulary=manifest.get("vocabulary"),
        feature_spec_fingerprint=manifest.get("feature_spec_fingerprint"),
        data_fingerprint=manifest.get("data_fingerprint"),
        metrics=manifest.get("metrics"),
        attachments={**model.attachments, PRESCORER_FILE: prescorer.to_bytes()},
    )  # fmt: skip
    if current_version(Path(store)) == version:
        promote(Path(store), new)
    return new
