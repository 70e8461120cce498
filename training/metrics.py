"""Ranking metrics over scored pools: NDCG@k (graded), Recall@k, Hit@k, MRR, catalog
coverage@k.

A row of a scored pool is one (query, item) pair with ``grade`` (0-4, 0 = not relevant) and
``score`` (higher ranks first). Relevant means grade >= 1. NDCG averages over tied scores
(sklearn's default); recall, MRR and coverage break ties by a seeded random order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score

RELEVANT_GRADE = 1
HIT_K = 5  # hit@5: the first screen of an enterprise's building list


def ndcg_at_k(grades: np.ndarray, scores: np.ndarray, *, k: int = 10) -> float:
    """NDCG@k of one query with linear gains ``grades`` and log2 discounts; ties averaged.
    0 when nothing is relevant."""
    grades = np.asarray(grades, dtype=float)
    scores = np.asarray(scores, dtype=float)
    if not (grades > 0).any():
        return 0.0
    if len(grades) == 1:
        return 1.0
    return float(ndcg_score(grades[None, :], scores[None, :], k=k))


def _order(scores: np.ndarray, tiebreak: np.ndarray | None) -> np.ndarray:
    """Positions sorted best first; ties by ``tiebreak`` (ascending), else by position."""
    scores = np.asarray(scores, dtype=float)
    keys = np.arange(len(scores)) if tiebreak is None else np.asarray(tiebreak)
    return np.lexsort((keys, -scores))


def recall_at_k(
    grades: np.ndarray, scores: np.ndarray, *, k: int = 50, tiebreak: np.ndarray | None = None
) -> float:
    """Share of the query's relevant items ranked in the top ``k``; 0 when none is relevant."""
    relevant = np.asarray(grades) >= RELEVANT_GRADE
    if not relevant.any():
        return 0.0
    top = _order(scores, tiebreak)[:k]
    return float(relevant[top].sum() / relevant.sum())


def hit_at_k(
    grades: np.ndarray, scores: np.ndarray, *, k: int = 5, tiebreak: np.ndarray | None = None
) -> float:
    """1 when a relevant item is ranked in the top ``k``, else 0 (also when none is relevant)."""
    relevant = np.asarray(grades) >= RELEVANT_GRADE
    return float(relevant[_order(scores, tiebreak)[:k]].any())


def reciprocal_rank(
    grades: np.ndarray, scores: np.ndarray, *, tiebreak: np.ndarray | None = None
) -> float:
    """1 / rank (1-based) of the first relevant item; 0 when none is relevant."""
    relevant = np.asarray(grades)[_order(scores, tiebreak)] >= RELEVANT_GRADE
    hits = np.flatnonzero(relevant)
    return float(1.0 / (hits[0] + 1)) if len(hits) else 0.0


def catalog_coverage(
    scored: pd.DataFrame, *, query: str, item: str, k: int = 10, seed: int = 0
) -> float:
    """Share of the distinct items in all pools that appear in at least one top-``k`` list."""
    if scored.empty:
        return 0.0
    top = _top_k(scored, query=query, k=k, seed=seed)
    return float(top[item].nunique() / scored[item].nunique())


def _top_k(scored: pd.DataFrame, *, query: str, k: int, seed: int) -> pd.DataFrame:
    tiebreak = np.random.default_rng(seed).random(len(scored))
    ordered = scored.assign(_tb=tiebreak).sort_values(
        [query, "score", "_tb"], ascending=[True, False, True], kind="stable"
    )
    return ordered.loc[ordered.groupby(query).cumcount() < k]


def per_query_metrics(
    scored: pd.DataFrame, *, query: str, k_ndcg: int = 10, k_recall: int = 50, seed: int = 0
) -> pd.DataFrame:
    """One row per query with a relevant item: ndcg@k_ndcg, recall@k_recall, mrr, hit@5."""
    tiebreak = np.random.default_rng(seed).random(len(scored))
    rows = []
    for qid, idx in scored.groupby(query, sort=True).indices.items():
        g = scored["grade"].to_numpy()[idx]
        if not (g >= RELEVANT_GRADE).any():
            continue
        s = scored["score"].to_numpy()[idx]
        tb = tiebreak[idx]
        rows.append(
            (
                qid,
                ndcg_at_k(g, s, k=k_ndcg),
                recall_at_k(g, s, k=k_recall, tiebreak=tb),
                reciprocal_rank(g, s, tiebreak=tb),
                hit_at_k(g, s, k=HIT_K, tiebreak=tb),
            )
        )
    columns = [query, f"ndcg@{k_ndcg}", f"recall@{k_recall}", "mrr", f"hit@{HIT_K}"]
    return pd.DataFrame(rows, columns=columns)


def summarize(
    scored: pd.DataFrame,
    *,
    query: str,
    item: str,
    k_ndcg: int = 10,
    k_recall: int = 50,
    k_coverage: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """Mean per-query NDCG, recall, MRR and hit@5 over queries with a relevant item, catalog
    coverage over all queries, and ``queries`` (how many were averaged); NaN metrics when none."""
    per_query = per_query_metrics(scored, query=query, k_ndcg=k_ndcg, k_recall=k_recall, seed=seed)
    means = per_query.drop(columns=[query]).mean() if len(per_query) else None
    out = {
        col: (float(means[col]) if means is not None else float("nan"))
        for col in (f"ndcg@{k_ndcg}", f"recall@{k_recall}", "mrr", f"hit@{HIT_K}")
    }
    out[f"coverage@{k_coverage}"] = catalog_coverage(
        scored, query=query, item=item, k=k_coverage, seed=seed
    )
    out["queries"] = float(len(per_query))
    return out
