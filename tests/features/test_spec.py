"""The registry tuple, the fingerprint, and build_matrix on a larger world."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.features import (
    FEATURES,
    Feature,
    FeatureContext,
    Vocabulary,
    build_matrix,
    build_matrix_at,
    categorical_features,
    feature_names,
    feature_spec_fingerprint,
    spec,
)
from tenantmatch.features.context import join_positions
from tenantmatch.registry import Registry, Snapshot

BASELINE_COLUMNS = (
    "pair__theme_prior_fit",
    "pair__same_city",
    "pair__space_need_fits",
    "b__moveins_12m",
    "e__events_12m",
)


def test_names_are_unique_prefixed_and_cover_the_baselines() -> None:
    names = feature_names()
    assert len(names) == len(set(names))
    assert all(n.split("__")[0] in ("b", "e", "pair") for n in names)
    assert set(BASELINE_COLUMNS) <= set(names)
    assert "pair__is_current_tenant" not in names
    assert categorical_features() == ["b__theme", "e__section", "e__division", "e__hq_type"]


def test_fingerprint_changes_with_the_spec(monkeypatch) -> None:
    original = feature_spec_fingerprint()
    assert len(original) == 64 and original == feature_spec_fingerprint()
    bumped = tuple(
        Feature(f.name, f.fn, f.kind, f.explain_zh, version="2") if i == 0 else f
        for i, f in enumerate(FEATURES)
    )
    monkeypatch.setattr(spec, "FEATURES", bumped)
    assert feature_spec_fingerprint() != original
    monkeypatch.setattr(spec, "FEATURES", FEATURES[::-1])
    assert feature_spec_fingerprint() != original


def _big_registry(n_enterprises: int, n_buildings: int, seed: int = 0) -> Registry:
    rng = np.random.default_rng(seed)
    b_ids = [f"B{i}" for i in range(n_buildings)]
    e_ids = [f"E{i}" for i in range(n_enterprises)]
    buildings = pd.DataFrame(
        {
            "building_id": b_ids,
            "city": "太原市",
            "district": "小店区",
            "theme": rng.choice(["finance", "tech_rnd", "general"], n_buildings),
            "total_area_m2": 50_000.0,
            "vacant_area_m2": 10_000.0,
            "lat": 37.7 + rng.random(n_buildings) / 10,
            "lon": 112.5 + rng.random(n_buildings) / 10,
            "grade": rng.choice(["super_a", "a", "b", "c"], n_buildings),
            "completed_year": rng.integers(1995, 2021, n_buildings),
        }
    )
    enterprises = pd.DataFrame(
        {
            "enterprise_id": e_ids,
            "industry_code": rng.choice(["6621", "6520", "7240", "7510"], n_enterprises),
            "employees": rng.integers(1, 500, n_enterprises),
            "city": "太原市",
        }
    )
    n_ten = n_enterprises // 2
    tenancies = pd.DataFrame(
        {
            "enterprise_id": rng.choice(e_ids, n_ten),
            "building_id": rng.choice(b_ids, n_ten),
            "area_m2": rng.integers(50, 2000, n_ten).astype(float),
            "start_date": pd.Timestamp("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 3000, n_ten), unit="D"),
        }
    )
    links = pd.DataFrame(
        {
            "source_id": rng.choice(e_ids, n_enterprises),
            "target_id": rng.choice(e_ids, n_enterprises),
            "relation": rng.choice(["supplies", "invests", "partners"], n_enterprises),
        }
    )
    links = links[links["source_id"] != links["target_id"]]
    return Registry.from_tables(
        {"buildings": buildings, "enterprises": enterprises, "tenancies": tenancies, "links": links}
    )


def test_build_matrix_on_a_larger_random_world_matches_single_pair_rows() -> None:
    # Speed is measured in benchmarks/, never asserted here: the machines are shared and noisy.
    snapshot = Snapshot.at(_big_registry(50_000, 200), pd.Timestamp("2022-01-01"))
    vocab = Vocabulary.fit(snapshot)
    ctx = FeatureContext.build(snapshot, vocab=vocab)
    pairs = pd.DataFrame({"building_id": "B7", "enterprise_id": snapshot.enterprises.index[:5000]})
    X = build_matrix(pairs, ctx, vocab=vocab)
    assert X.shape == (5000, len(FEATURES))
    assert (X.dtypes == np.float32).all()
    for row in (0, 1234, 4999):
        single = build_matrix(pairs.iloc[[row]], ctx, vocab=vocab)
        np.testing.assert_array_equal(single.to_numpy(), X.iloc[[row]].to_numpy())


def test_x_equals_every_feature_function_on_the_full_join() -> None:
    # X gathers its e__/b__ columns from the context's per-side blocks and joins only the
    # attributes the pair features read: the same values as each function on a full join
    snapshot = Snapshot.at(_big_registry(3_000, 40, seed=3), pd.Timestamp("2022-01-01"))
    vocab = Vocabulary.fit(snapshot)
    ctx = FeatureContext.build(snapshot, vocab=vocab)
    rng = np.random.default_rng(1)
    b_pos, e_pos = rng.integers(0, 40, 4000), rng.integers(0, 3000, 4000)
    X = build_matrix_at(b_pos, e_pos, ctx, vocab=vocab, threads=2)
    joined = join_positions(b_pos, e_pos, ctx, index=pd.RangeIndex(len(b_pos)))
    expected = np.column_stack([f.fn(joined, ctx).to_numpy(np.float32) for f in FEATURES])
    np.testing.assert_array_equal(X.to_numpy(), expected)
    assert np.isfinite(expected).mean() > 0.5  # mostly defined values, not NaN == NaN
