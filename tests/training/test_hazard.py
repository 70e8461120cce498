"""The move hazard's firm examples: labels over complete horizons only, features as of the
window start, and the two vocabularies the pipeline trains and serves with."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, context_for
from tenantmatch.models import MoveHazard
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.demo.params import WorldParams
from tenantmatch.training.hazard import (
    HAZARD_FEATURE,
    HAZARD_INPUTS,
    firm_examples,
    firm_sample,
    fit_hazard_vocabularies,
    hazard_windows,
    moved_within,
)
from tenantmatch.training.splits import TemporalSplit, Window, make_split
from tests.demo_world import imported_tables
from tests.features import world as hand_world

D = pd.Timestamp


def test_moved_within_counts_tenancy_starts_inside_the_window_only() -> None:
    tenancies = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E2", "E3", "E4"],
            "building_id": "B1",
            "start_date": [D("2024-01-01"), D("2024-07-01"), D("2025-01-02"), D("2023-12-31")],
            "end_date": pd.NaT,
        }
    )
    ids = pd.Index(["E1", "E2", "E3", "E4", "E5"])
    window = Window(D("2024-01-01"), D("2025-01-01"))  # (start, end]: E1 starts on the start
    assert moved_within(tenancies, ids, window=window).tolist() == [
        False, True, False, False, False,
    ]  # fmt: skip


def test_hazard_windows_end_by_the_cut() -> None:
    starts = [D("2023-01-01"), D("2023-04-01"), D("2023-07-01"), D("2023-10-01")]
    split = TemporalSplit(
        cut=D("2024-07-01"),
        train=tuple(Window(s, s + pd.DateOffset(months=6)) for s in starts[:-1]),
        valid=Window(starts[-1], D("2024-04-01")),
        evaluation=Window(D("2024-07-01"), D("2025-07-01")),
    )
    windows = hazard_windows(split, horizon_months=12)
    assert [w.start for w in windows] == starts[:3]  # 2023-10-01 + 12 months is after the cut
    assert all(w.end == w.start + pd.DateOffset(months=12) <= split.cut for w in windows)


def test_firm_examples_are_point_in_time() -> None:
    # E3 moves into B2 on 2023-03-01: a mover of the window from T, not yet in a building at T
    registry = hand_world.registry()
    vocab = Vocabulary.fit(Snapshot.at(registry, hand_world.T))
    window = Window(hand_world.T, hand_world.T + pd.DateOffset(months=12))
    X, moved = firm_examples(registry, window=window, vocab=vocab)
    assert list(X.columns) == list(HAZARD_INPUTS) and HAZARD_FEATURE not in X.columns
    assert dict(zip(X.index, moved, strict=True))["E3"]
    assert int(moved.sum()) == 1
    assert X.loc["E3", "e__in_building"] == 0.0  # as of T, not as of today


@pytest.mark.slow
def test_the_pipeline_trains_with_the_cross_fitted_hazard_and_serves_the_full_one() -> None:

    with tempfile.TemporaryDirectory() as tmp:
        tables, _ = imported_tables(Path(tmp), WorldParams(enterprises=1500, seed=3))
    registry = Registry.from_tables(tables)
    split = make_split(tables, history_months=24)
    vocab = Vocabulary.fit(Snapshot.at(registry, split.cut))
    for_training, served = fit_hazard_vocabularies(
        registry, split, vocab=vocab, horizon_months=12, n_jobs=1
    )
    assert isinstance(served.hazard, MoveHazard) and not served.hazard.cross_fitted
    assert isinstance(for_training.hazard, MoveHazard) and for_training.hazard.cross_fitted
    assert served.to_dict() == for_training.to_dict() == vocab.to_dict()
    snapshot = Snapshot.at(registry, split.cut)
    values = context_for(snapshot, vocab=served).enterprises["move_hazard"]
    assert values.between(0, 1).all() and values.std() > 0
    assert context_for(snapshot, vocab=vocab).enterprises["move_hazard"].isna().all()
    assert fit_hazard_vocabularies(registry, split, vocab=vocab, horizon_months=0) == (
        vocab, vocab,
    )  # fmt: skip


def test_firm_sample_is_a_stable_bounded_subset() -> None:
    ids = pd.Index([f"E{i:05d}" for i in range(1_000)])
    keep = firm_sample(ids, limit=100, salt="2024-01-01")
    assert int(keep.sum()) == 100
    # the same firms whatever the row order, other firms for another window
    shuffled = ids[::-1]
    assert set(shuffled[firm_sample(shuffled, limit=100, salt="2024-01-01")]) == set(ids[keep])
    other = firm_sample(ids, limit=100, salt="2024-04-01")
    assert set(ids[other]) != set(ids[keep])
    assert firm_sample(ids, limit=1_000, salt="x").all()


def test_firm_examples_keep_at_most_max_firms() -> None:
    registry = hand_world.registry()
    vocab = Vocabulary.fit(Snapshot.at(registry, hand_world.T))
    window = Window(hand_world.T, hand_world.T + pd.DateOffset(months=12))
    X_all, moved_all = firm_examples(registry, window=window, vocab=vocab)
    X, moved = firm_examples(registry, window=window, vocab=vocab, max_firms=2)
    assert len(X) == 2 < len(X_all)
    pd.testing.assert_frame_equal(X, X_all.loc[X.index])
    assert list(moved) == list(pd.Series(moved_all, index=X_all.index).loc[X.index])
