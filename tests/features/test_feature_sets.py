"""Named feature sets: the plain baseline's columns, built by the same build_matrix, agree with
the ranker's where they share a feature; its own columns hold the values the world implies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import (
    FEATURE_SETS,
    PLAIN_SET,
    Vocabulary,
    build_matrix,
    build_matrix_at,
    context_for,
    feature_names,
    feature_set,
    feature_spec_fingerprint,
)
from tenantmatch.features.errors import FeatureError
from tenantmatch.registry import Registry, Snapshot
from tests.features import world


@pytest.fixture(scope="module")
def matrices() -> tuple[pd.DataFrame, pd.DataFrame]:
    snapshot = Snapshot.at(Registry.from_tables(world.tables()), world.T)
    vocab = Vocabulary.fit(snapshot)
    pairs = world.all_pairs()
    index = pd.MultiIndex.from_frame(pairs)
    ranker = build_matrix(pairs, snapshot, vocab=vocab).set_axis(index)
    plain = build_matrix(pairs, snapshot, vocab=vocab, features=PLAIN_SET).set_axis(index)
    return ranker, plain


def test_plain_set_has_its_own_order_and_fingerprint(matrices) -> None:  # type: ignore[no-untyped-def]
    _, plain = matrices
    assert list(plain.columns) == feature_names(PLAIN_SET) == list(FEATURE_SETS[PLAIN_SET])
    assert len(plain.columns) == 23 and plain.dtypes.eq(np.float32).all()
    assert feature_spec_fingerprint(PLAIN_SET) != feature_spec_fingerprint()
    with pytest.raises(FeatureError, match="unknown"):
        feature_set("nope")


def test_shared_columns_are_identical(matrices) -> None:  # type: ignore[no-untyped-def]
    ranker, plain = matrices
    shared = [c for c in plain.columns if c in ranker.columns]
    assert len(shared) >= 14
    pd.testing.assert_frame_equal(plain[shared], ranker[shared])


def _v(X: pd.DataFrame, name: str, b: str, e: str) -> float:
    return float(X.loc[(b, e), name])


def test_tenure_moves_courtships_and_division_tenants(matrices) -> None:  # type: ignore[no-untyped-def]
    _, X = matrices
    e1 = (world.T - pd.Timestamp("2020-01-01")).days / 365.25 * 12  # E1 in B1 since 2020-01-01
    assert _v(X, "e__tenure_months", "B3", "E1") == pytest.approx(e1, rel=1e-5)
    for m in (12, 24, 36):
        assert _v(X, f"e__tenure_mod_{m}", "B3", "E1") == pytest.approx(e1 % m, abs=1e-4)
    assert np.isnan(_v(X, "e__tenure_mod_36", "B1", "E4"))  # E4 rents nowhere
    assert [_v(X, "e__moves_total", "B3", e) for e in ("E1", "E2", "E3")] == [1, 2, 0]
    # events in the 180 days before T: E4 at B1 (Dec 15), E3 at B3 (Dec 20); E1's is older
    assert [_v(X, "e__courting_buildings", "B1", e) for e in ("E1", "E3", "E4")] == [0, 1, 1]
    # B1 houses E1 (division 66) and E2 (65): E3 (66) finds one, E1 none besides itself
    assert _v(X, "pair__division_tenants_in_building", "B1", "E3") == 1
    assert _v(X, "pair__division_tenants_in_building", "B1", "E1") == 0


def test_pipeline_columns_look_back_180_days(matrices) -> None:  # type: ignore[no-untyped-def]
    _, X = matrices
    assert _v(X, "pair__last_stage_180d", "B1", "E4") == -1  # declined on 2022-12-15
    assert _v(X, "pair__days_since_event_180d", "B1", "E4") == 17
    assert _v(X, "pair__last_stage_180d", "B3", "E3") == 2  # visited on 2022-12-20
    # E4's courtship at B2 last moved on 2022-04-01: older than 180 days
    assert np.isnan(_v(X, "pair__last_stage_180d", "B2", "E4"))
    assert np.isnan(_v(X, "pair__days_since_event_180d", "B2", "E4"))


def test_positions_path_builds_the_same_plain_rows(matrices) -> None:  # type: ignore[no-untyped-def]
    _, plain = matrices
    snapshot = Snapshot.at(Registry.from_tables(world.tables()), world.T)
    vocab = Vocabulary.fit(snapshot)
    ctx = context_for(snapshot, vocab=vocab)
    pairs = world.all_pairs()
    b = ctx.buildings.index.get_indexer(pairs["building_id"])
    e = ctx.enterprises.index.get_indexer(pairs["enterprise_id"])
    X = build_matrix_at(b, e, ctx, vocab=vocab, features=PLAIN_SET)
    np.testing.assert_array_equal(X.to_numpy(), plain.to_numpy())
