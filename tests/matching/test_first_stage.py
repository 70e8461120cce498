"""The first-stage plan a model is stored with, and the M the engine reads from it."""

from __future__ import annotations

import numpy as np
import pytest

from tenantmatch.features import Vocabulary, build_matrix
from tenantmatch.matching import plan_first_stage, served_building_m
from tenantmatch.matching.first_stage import M_STEPS, top_overlap
from tenantmatch.models import make_scorer, unfitted_prescorer
from tenantmatch.registry import Registry, Snapshot
from tests.features import world


def test_overlap_is_the_mean_share_of_each_full_top_list_kept() -> None:
    full = [{"a", "b", "c", "d"}, {"x", "y"}, set()]
    staged = [{"a", "b", "z"}, {"x", "y"}, {"q"}]
    assert top_overlap(full, staged) == pytest.approx((0.5 + 1.0) / 2)
    assert top_overlap([set()], [set()]) == 1.0


def test_the_engine_reads_m_from_the_manifest() -> None:
    assert served_building_m({}, default=1000) == 1000
    assert served_building_m({"first_stage": {"building_m": None}}, default=1000) is None
    assert served_building_m({"first_stage": {"building_m": 3000}}, default=1000) == 3000


def _plan(below: int) -> dict:
    registry = Registry.from_tables(world.tables())
    snapshot = Snapshot.at(registry, world.T)
    vocab = Vocabulary.fit(snapshot)
    X = build_matrix(world.all_pairs(), snapshot, vocab=vocab)
    scorer = make_scorer("hand_rule").fit(X, np.zeros(len(X), dtype=int), group=[len(X)])
    manifest = {"feature_names": list(X)}
    pre = unfitted_prescorer()
    return plan_first_stage(
        snapshot, scorer, vocab=vocab, manifest=manifest, prescorer=pre, full_scan_below=below
    )


def test_a_small_registry_scores_every_feasible_pair() -> None:
    plan = _plan(50_000)
    assert plan["building_m"] is None and plan["full_scan"] is True
    assert plan["enterprises"] == 5


def test_a_large_registry_raises_m_until_the_top_50_overlap_holds() -> None:
    plan = _plan(1)
    # 5 enterprises: the smallest M keeps every candidate, so the full scan's top 50 too
    assert plan["full_scan"] is False and plan["building_m"] == M_STEPS[0]
    assert plan["overlap@50"] == 1.0 and plan["tried"] == {str(M_STEPS[0]): 1.0}
    assert plan["sampled_buildings"] == 3
