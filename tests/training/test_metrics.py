"""Ranking metrics on hand cases with exact values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tenantmatch.training.metrics import (
    catalog_coverage,
    hit_at_k,
    ndcg_at_k,
    per_query_metrics,
    recall_at_k,
    reciprocal_rank,
    summarize,
)


def test_ndcg_hand_case() -> None:
    grades = np.array([0, 2, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(grades, scores, k=10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(grades, scores, k=1) == 0.0
    assert ndcg_at_k(grades, -scores * 0 + np.array([0, 9, 0, 5]), k=10) == pytest.approx(1.0)


def test_ndcg_averages_over_ties_and_handles_edge_cases() -> None:
    # two tied items, one relevant: expected DCG is the mean of both orders
    value = ndcg_at_k(np.array([1, 0]), np.array([0.5, 0.5]), k=10)
    assert value == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert ndcg_at_k(np.array([0, 0]), np.array([1.0, 0.0])) == 0.0
    assert ndcg_at_k(np.array([3]), np.array([0.2])) == 1.0


def test_recall_hand_case() -> None:
    grades = np.array([1, 0, 0, 4, 0, 2])
    scores = np.array([6, 5, 4, 3, 2, 1], dtype=float)
    assert recall_at_k(grades, scores, k=1) == pytest.approx(1 / 3)
    assert recall_at_k(grades, scores, k=4) == pytest.approx(2 / 3)
    assert recall_at_k(grades, scores, k=50) == 1.0
    assert recall_at_k(np.zeros(3), np.ones(3), k=2) == 0.0


def test_reciprocal_rank_hand_case() -> None:
    assert reciprocal_rank(np.array([0, 0, 1]), np.array([3.0, 2.0, 1.0])) == pytest.approx(1 / 3)
    assert reciprocal_rank(np.array([0, 1]), np.array([1.0, 2.0])) == 1.0
    assert reciprocal_rank(np.array([0, 0]), np.array([1.0, 2.0])) == 0.0
    # a tie is broken by the tiebreak key, not by position
    tied = reciprocal_rank(np.array([0, 1]), np.array([1.0, 1.0]), tiebreak=np.array([0.9, 0.1]))
    assert tied == 1.0


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "q": ["a", "a", "a", "b", "b", "c", "c"],
            "item": ["x", "y", "z", "x", "y", "x", "z"],
            "grade": [0, 1, 0, 4, 0, 0, 0],
            "score": [3.0, 2.0, 1.0, 1.0, 2.0, 5.0, 4.0],
        }
    )


def test_per_query_metrics_skip_queries_without_positives() -> None:
    per_query = per_query_metrics(_scored(), query="q", k_recall=1)
    assert list(per_query["q"]) == ["a", "b"]
    assert list(per_query["mrr"]) == [0.5, 0.5]
    assert list(per_query["recall@1"]) == [0.0, 0.0]


def test_catalog_coverage_counts_distinct_items_in_top_k() -> None:
    assert catalog_coverage(_scored(), query="q", item="item", k=1) == pytest.approx(2 / 3)
    assert catalog_coverage(_scored(), query="q", item="item", k=10) == 1.0


def test_summarize_means_over_queries() -> None:
    out = summarize(_scored(), query="q", item="item")
    assert out["mrr"] == 0.5
    assert out["recall@50"] == 1.0
    assert out["queries"] == 2.0
    assert out["ndcg@10"] == pytest.approx(1 / math.log2(3))


def test_hit_at_k_hand_case() -> None:
    grades = np.array([0, 0, 0, 0, 0, 2])
    scores = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    assert hit_at_k(grades, scores, k=5) == 0.0
    assert hit_at_k(grades, scores, k=6) == 1.0
    assert hit_at_k(np.zeros(3), scores[:3], k=5) == 0.0
