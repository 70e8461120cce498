"""Every registered feature on the hand-made world, the leakage test, and the feature contract."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import (
    FEATURES,
    FeatureContext,
    Vocabulary,
    build_matrix,
    build_matrix_at,
    enterprise_features,
    feature_names,
    fill_move_hazard,
    join_attributes,
)
from tenantmatch.features.enterprise import lease_end_probability, months_to_cycle_end
from tenantmatch.features.errors import FeatureError
from tenantmatch.registry import Registry, Snapshot, shanxi_districts
from tests.features import world

NAN = math.nan
LN = math.log


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _centroid(city: str, district: str | None = None) -> tuple[float, float]:
    ref = shanxi_districts()
    if district is None:
        row = ref[ref["city"] == city].iloc[0]
        return row["city_lat"], row["city_lon"]
    row = ref[(ref["city"] == city) & (ref["district"] == district)].iloc[0]
    return row["lat"], row["lon"]


# Learned theme fit of (finance, 66) at T: tenancies started by then are E1@B1 (finance, 66),
# E2@B1 (finance, 65), E2@B2 (tech_rnd, 65); prior q(finance) = 66: 2/3, 65: 1/3, general
# uniform 1/100, tech_rnd 65: 1; pseudo count 10.
_FIT_FIN_66 = ((1 + 10 * 2 / 3) / (2 + 10)) / ((1 + 10 * (2 / 3 + 0.01 + 0.0) / 3) / (3 + 10))
DAY = 1.0 / 365.25
_B1_CENTRE_KM = _haversine_km((37.74, 112.56), _centroid("太原市"))
_B2_CENTRE_KM = _haversine_km((37.86, 112.56), _centroid("太原市"))

# feature -> {(building, enterprise): value as of world.T}
EXPECTED: dict[str, dict[tuple[str, str], float]] = {
    "b__theme": {("B1", "E1"): 0, ("B2", "E1"): 2, ("B3", "E1"): 1},
    "b__grade": {("B1", "E1"): 3, ("B2", "E1"): 4, ("B3", "E1"): NAN},
    "b__total_area_log_m2": {("B1", "E1"): LN(10001)},
    "b__vacant_area_log_m2": {("B2", "E1"): LN(1301)},
    "b__vacancy_rate": {("B2", "E1"): 0.26, ("B3", "E1"): 1.0},
    "b__min_unit_log_m2": {("B1", "E1"): LN(101), ("B3", "E1"): NAN},
    "b__rent_cny_m2_day": {("B2", "E1"): 5.0, ("B3", "E1"): NAN},
    "b__smart_5a": {("B1", "E1"): 4, ("B3", "E1"): NAN},
    "b__amenity_count": {("B1", "E1"): 3, ("B2", "E1"): 1, ("B3", "E1"): NAN},
    "b__has_metro": {("B1", "E1"): 1, ("B2", "E1"): 0, ("B3", "E1"): NAN},
    "b__has_parking": {("B1", "E1"): 1, ("B2", "E1"): 0, ("B3", "E1"): NAN},
    "b__lat": {("B1", "E1"): 37.74, ("B3", "E1"): NAN},
    "b__lon": {("B2", "E1"): 112.56, ("B3", "E1"): NAN},
    "b__age_years": {("B1", "E1"): 13, ("B3", "E1"): NAN},
    "b__centre_km": {("B1", "E1"): _B1_CENTRE_KM, ("B2", "E1"): _B2_CENTRE_KM, ("B3", "E1"): NAN},
    "b__tenant_count": {("B1", "E1"): 2, ("B2", "E1"): 0},
    "b__tenant_mix_entropy": {("B1", "E1"): LN(2), ("B2", "E1"): NAN},
    "b__moveins_12m": {("B1", "E1"): 1, ("B2", "E1"): 0},
    "b__occupancy_trend_12m": {("B1", "E1"): 1, ("B2", "E1"): -1, ("B3", "E1"): 0},
    "e__section": {("B1", "E1"): 1, ("B1", "E2"): 0, ("B1", "E4"): 2, ("B1", "E5"): NAN},
    "e__division": {("B1", "E1"): 1, ("B1", "E4"): 2, ("B1", "E5"): NAN},
    "e__hq_type": {("B1", "E1"): 1, ("B1", "E2"): 0, ("B1", "E3"): NAN},
    "e__log_employees": {("B1", "E1"): LN(100), ("B1", "E5"): NAN},
    "e__log_revenue_10k_cny": {("B1", "E1"): LN(1001), ("B1", "E3"): NAN},
    "e__log_capital_10k_cny": {("B1", "E1"): LN(501), ("B1", "E2"): NAN},
    "e__age_years": {("B1", "E1"): 2922 * DAY, ("B1", "E5"): NAN},
    "e__moves_3y": {("B1", "E1"): 0, ("B1", "E2"): 1, ("B1", "E5"): 0},
    "e__area_growth_log": {("B1", "E2"): LN(2), ("B1", "E1"): NAN},
    "e__tag_fortune_global_500": {("B1", "E1"): 0, ("B1", "E2"): NAN},
    "e__tag_china_500": {("B1", "E1"): 0, ("B1", "E5"): NAN},
    "e__tag_listed": {("B1", "E1"): 1, ("B1", "E4"): 0},
    "e__tag_unicorn": {("B1", "E3"): 1, ("B1", "E1"): 0},
    "e__tag_high_tech": {("B1", "E1"): 1, ("B1", "E2"): NAN},
    "e__tag_specialized_sme": {("B1", "E1"): 0},
    "e__tag_leading_enterprise": {("B1", "E4"): 0},
    "e__tag_platform": {("B1", "E4"): 1, ("B1", "E1"): 0},
    "e__credit_score": {("B1", "E1"): 90, ("B1", "E3"): NAN},
    "e__risk_flag_count": {("B1", "E2"): 1, ("B1", "E1"): NAN},
    "e__tenure_years": {("B1", "E1"): 1096 * DAY, ("B1", "E4"): NAN},
    "e__in_building": {("B1", "E1"): 1, ("B1", "E4"): 0},
    "e__months_since_move": {("B1", "E2"): 214 / (365.25 / 12), ("B1", "E4"): NAN},
    "e__space_need_m2": {("B1", "E1"): 1000, ("B1", "E4"): 190, ("B1", "E5"): NAN},
    "e__events_12m": {("B1", "E4"): 3, ("B1", "E1"): 0},
    # Taiyuan's B1 (vacant 2,000 m², unit 100) and B2 (unit 500): E1's 1,000 m² fits both; a
    # 500 m² unit is more than twice E4's 190 m² and E3's 90 m²; Datong's B3 never counts.
    "e__fitting_buildings_in_city": {
        ("B1", "E1"): 2,
        ("B3", "E4"): 1,
        ("B2", "E3"): 1,
        ("B1", "E5"): NAN,
    },
    # StaffHazard: (log 100 + 1) / 10 for E1 (in B1); E4 has no building; E5 no head count
    "e__move_hazard": {
        ("B1", "E1"): (LN(100) + 1) / 10,
        ("B2", "E4"): LN(20) / 10,
        ("B1", "E5"): NAN,
    },
    # E2's last ended tenancy (B2) ran 1,611 days; its B1 tenancy has run 214 days by T.
    "e__months_to_cycle_end": {
        ("B1", "E2"): (1611 - 214) / (365.25 / 12),
        ("B1", "E1"): NAN,
        ("B1", "E4"): NAN,
    },
    # E2: terms fitting its 1,611-day tenancy whole: 13, 26, 52, 53 (10x each); after 214 days
    # in B1 a term ends within 12 months for L = 12..19: (7 + 10) / (57 + 4 * 10)
    "e__lease_end_12m": {("B1", "E2"): 17 / 97, ("B1", "E4"): NAN},
    "e__area_per_employee_log": {
        ("B1", "E1"): LN(1000 / 99),
        ("B1", "E2"): LN(500 / 49),
        ("B1", "E4"): NAN,
        ("B1", "E5"): NAN,
    },
    "e__recent_declines": {("B1", "E4"): 1, ("B2", "E4"): 1, ("B1", "E1"): 0},
    # E4's only event within 120 days of T is B1's decline: nothing is open
    "e__best_open_stage": {("B1", "E4"): NAN, ("B1", "E1"): NAN, ("B2", "E3"): 2},
    # No pipeline is open at T (E4's latest B1 event is a decline, its B2 ones are older).
    "pair__rival_courtships": {("B1", "E4"): 0, ("B2", "E4"): 0, ("B3", "E1"): 0},
    "pair__theme_fit_learned": {("B1", "E1"): _FIT_FIN_66, ("B2", "E4"): 0.0, ("B1", "E5"): NAN},
    "pair__theme_prior_fit": {
        ("B1", "E1"): 1.0,
        ("B1", "E2"): 0.5,
        ("B2", "E1"): 0.0,
        ("B3", "E1"): NAN,
        ("B1", "E5"): NAN,
    },
    "pair__space_need_log_ratio": {("B2", "E4"): LN(191) - LN(1301)},
    "pair__space_need_fits": {
        ("B2", "E3"): 0,
        ("B1", "E4"): 1,
        ("B3", "E4"): 1,
        ("B2", "E1"): 1,
        ("B1", "E5"): NAN,
    },
    "pair__rent_burden": {("B1", "E1"): 0.1095, ("B3", "E1"): NAN, ("B1", "E3"): NAN},
    "pair__chain_partners_in_building": {("B1", "E4"): 2, ("B1", "E1"): 1, ("B2", "E4"): 0},
    "pair__upstream_partners_in_building": {("B1", "E2"): 1, ("B1", "E4"): 0},
    "pair__downstream_partners_in_building": {("B1", "E1"): 1, ("B1", "E2"): 0},
    "pair__invest_partners_in_building": {("B1", "E4"): 1, ("B1", "E1"): 0},
    "pair__chain_weight_in_building": {("B1", "E4"): 1.5, ("B1", "E2"): 0.3, ("B3", "E4"): 0},
    "pair__division_share_in_building": {
        ("B1", "E3"): 0.5,
        ("B1", "E1"): 0.0,
        ("B2", "E1"): NAN,
        ("B1", "E5"): NAN,
    },
    "pair__section_share_in_building": {("B1", "E3"): 0.5, ("B1", "E2"): 0.0},
    "pair__size_similarity_to_tenants": {
        ("B1", "E3"): (10 / 100 + 10 / 50) / 2,
        ("B1", "E1"): 0.5,
        ("B1", "E5"): NAN,
        ("B2", "E1"): NAN,
    },
    "pair__distance_km": {
        ("B1", "E1"): 0.0,
        ("B2", "E1"): _haversine_km((37.74, 112.56), (37.86, 112.56)),
        ("B1", "E2"): 0.0,  # E2 has sat in B1 since 2022-06: its office is where it is
        ("B1", "E4"): _haversine_km(_centroid("太原市"), (37.74, 112.56)),
        ("B3", "E1"): NAN,
    },
    "pair__same_city": {("B1", "E1"): 1, ("B3", "E1"): 0, ("B1", "E5"): NAN},
    "pair__same_district": {("B1", "E1"): 1, ("B1", "E2"): 1, ("B1", "E3"): 0, ("B1", "E4"): NAN},
    "pair__grade_x_log_employees": {("B2", "E1"): 4 * LN(100), ("B3", "E1"): NAN},
    "pair__amenities_x_log_employees": {("B1", "E2"): 3 * LN(50), ("B3", "E2"): NAN},
    # The latest office as of T: E1's B1 (a, built 2010); E2's B1 since 2022-06 (its B2 tenancy
    # ended), E3's B2 starts only after T, E4 never had one; B3's grade and place are unknown.
    "pair__grade_vs_office": {
        ("B2", "E1"): 1,
        ("B1", "E1"): 0,
        ("B2", "E2"): 1,
        ("B2", "E3"): NAN,
        ("B1", "E4"): NAN,
        ("B3", "E1"): NAN,
    },
    "pair__age_vs_office": {("B2", "E1"): 3 - 13, ("B1", "E2"): 0, ("B1", "E4"): NAN},
    "pair__centre_km_vs_office": {
        ("B2", "E1"): _B2_CENTRE_KM - _B1_CENTRE_KM,
        ("B2", "E2"): _B2_CENTRE_KM - _B1_CENTRE_KM,
        ("B1", "E4"): NAN,
        ("B3", "E1"): NAN,
    },
    "pair__prior_events": {
        ("B2", "E4"): 2,
        ("B1", "E4"): -1,
        ("B3", "E1"): 1,
        ("B2", "E2"): NAN,
    },
    # Latest event as of T = 2023-01-01: visited 2022-04-01, declined 2022-12-15,
    # contacted 2021-06-01; E2's signing (2024) is not visible yet.
    "pair__days_since_last_event": {
        ("B2", "E4"): 275,
        ("B1", "E4"): 17,
        ("B3", "E1"): 579,
        ("B2", "E2"): NAN,
    },
    "pair__last_event_stage": {
        ("B2", "E4"): 2,
        ("B1", "E4"): -1,
        ("B3", "E1"): 1,
        ("B2", "E2"): NAN,
    },
}

# Defined without any optional input: counts from tenancies/links/events, required columns.
ALWAYS_DEFINED = {
    "b__theme",
    "b__total_area_log_m2",
    "b__vacant_area_log_m2",
    "b__vacancy_rate",
    "b__tenant_count",
    "b__moveins_12m",
    "b__occupancy_trend_12m",
    "e__moves_3y",
    "e__in_building",
    "e__events_12m",
    "e__recent_declines",
    "pair__rival_courtships",
    "pair__chain_partners_in_building",
    "pair__upstream_partners_in_building",
    "pair__downstream_partners_in_building",
    "pair__invest_partners_in_building",
    "pair__chain_weight_in_building",
}


class StaffHazard:
    """A hand-made move hazard: 0.1 per log head count, plus 0.1 for a firm in a building."""

    inputs = ("e__log_employees", "e__in_building")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return ((X["e__log_employees"] + X["e__in_building"]) / 10).to_numpy(np.float64)


HAZARD = StaffHazard()


def _context(as_of: pd.Timestamp, vocab: Vocabulary | None = None) -> FeatureContext:
    snapshot = Snapshot.at(world.registry(), as_of)
    vocab = (vocab or Vocabulary.fit(snapshot)).with_hazard(HAZARD)
    ctx = FeatureContext.build(snapshot, vocab=vocab, prior=world.prior())
    fill_move_hazard(ctx)
    return ctx


@pytest.fixture(scope="module")
def ctx_t() -> FeatureContext:
    return _context(world.T)


@pytest.fixture(scope="module")
def x_t(ctx_t: FeatureContext) -> pd.DataFrame:
    pairs = world.all_pairs()
    X = build_matrix(pairs, ctx_t, vocab=ctx_t.vocab)
    return X.set_axis(pd.MultiIndex.from_frame(pairs))


def _value(X: pd.DataFrame, name: str, pair: tuple[str, str]) -> float:
    return float(X.loc[pair, name])


def test_every_feature_has_expected_values() -> None:
    assert set(EXPECTED) == set(feature_names())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_feature_values_on_the_world(name: str, x_t: pd.DataFrame) -> None:
    for pair, expected in EXPECTED[name].items():
        got = _value(x_t, name, pair)
        if math.isnan(expected):
            assert math.isnan(got), f"{name}{pair}: expected NaN, got {got}"
        else:
            assert got == pytest.approx(expected, rel=1e-5, abs=1e-5), f"{name}{pair}"


def test_leakage_partner_tenure_and_mix_follow_as_of() -> None:
    """E3 (E4's supplier) moves into B2 on 2023-03-01: invisible as of T, visible as of T2."""
    pairs = pd.DataFrame({"building_id": ["B2", "B2", "B2"], "enterprise_id": ["E4", "E3", "E1"]})
    before, after = (
        build_matrix(pairs, ctx, vocab=ctx.vocab) for ctx in (_context(world.T), _context(world.T2))
    )
    for name in ("pair__chain_partners_in_building", "pair__upstream_partners_in_building"):
        assert before[name].tolist()[0] == 0.0 and after[name].tolist()[0] == 1.0
    assert after["pair__chain_weight_in_building"].iloc[0] == pytest.approx(0.8)
    assert np.isnan(before["e__tenure_years"].iloc[1])
    assert after["e__tenure_years"].iloc[1] == pytest.approx(121 / 365.25)
    assert before["b__tenant_count"].iloc[0] == 0.0 and after["b__tenant_count"].iloc[0] == 1.0
    assert np.isnan(before["pair__division_share_in_building"].iloc[2])
    assert after["pair__division_share_in_building"].iloc[2] == 1.0  # E3 is in E1's division 66
    assert after["b__vacant_area_log_m2"].iloc[0] == pytest.approx(math.log(1001))
    # E3's location follows its office only from its move-in on: before, the registry's district.
    assert before["pair__distance_km"].iloc[1] == pytest.approx(
        _haversine_km(_centroid("太原市", "迎泽区"), (37.86, 112.56)), rel=1e-5
    )
    assert after["pair__distance_km"].iloc[1] == 0.0
    # E3's office (B2) shapes its taste features only from its move-in on.
    assert np.isnan(before["pair__grade_vs_office"].iloc[1])
    assert after["pair__grade_vs_office"].iloc[1] == 0.0
    assert after["pair__centre_km_vs_office"].iloc[1] == 0.0
    # E2 signs with B2 in 2024: never visible before then.
    late = build_matrix(
        pd.DataFrame({"building_id": ["B2"], "enterprise_id": ["E2"]}),
        _context(world.T2),
        vocab=_context(world.T2).vocab,
    )
    assert np.isnan(late["pair__prior_events"].iloc[0])


def test_rival_courtships_count_other_open_pipelines() -> None:
    """E4 is courted by B2 (visited) and B3 (contacted) within 120 days and declined B1: each
    open pair sees the other as a rival, the declined pair sees both."""
    t = world.tables()
    extra = pd.DataFrame(
        {
            "enterprise_id": ["E4", "E4"],
            "building_id": ["B3", "B2"],
            "date": pd.to_datetime(["2022-11-01", "2022-12-01"]),
            "stage": ["contacted", "visited"],
        }
    )
    t["events"] = pd.concat([t["events"], extra], ignore_index=True)
    snapshot = Snapshot.at(Registry.from_tables(t), world.T)
    ctx = FeatureContext.build(snapshot, vocab=Vocabulary.fit(snapshot), prior=world.prior())
    pairs = pd.DataFrame({"building_id": ["B1", "B2", "B3"], "enterprise_id": ["E4"] * 3})
    X = build_matrix(pairs, ctx, vocab=ctx.vocab)
    assert X["pair__rival_courtships"].tolist() == [2.0, 1.0, 1.0]
    assert X["e__recent_declines"].tolist() == [1.0, 1.0, 1.0]
    assert X["e__best_open_stage"].tolist() == [2.0, 2.0, 2.0]  # B2's visit leads


def test_months_to_cycle_end_wraps_at_each_full_cycle() -> None:
    got = months_to_cycle_end(np.array([0.0, 10.0, 36.0, 40.0, 5.0, np.nan]),
                              np.array([36.0, 36.0, 36.0, 36.0, 3.0, 36.0]))  # fmt: skip
    np.testing.assert_allclose(got[:4], [36.0, 26.0, 36.0, 32.0])
    assert np.isnan(got[4]) and np.isnan(got[5])  # a 3-month "cycle" says nothing; no tenure


def test_lease_end_probability_weighs_terms_by_past_tenancies() -> None:
    got = lease_end_probability(np.array([20.0, np.nan, 20.0]), np.array([0, 1]),
                                np.array([36.0, 36.0]))  # fmt: skip
    # 20 months in; one ended tenancy of 36 months fits the terms 12, 18, 35, 36, 37 whole (10x
    # each); a term ends within 12 months for L = 12..16 and 21..32
    assert got[0] == pytest.approx((10 + 4 + 12) / (56 + 5 * 10))
    assert np.isnan(got[1])  # no current tenancy
    assert got[2] == pytest.approx(17 / 61)  # no ended tenancy: every term equally likely
    within_3 = lease_end_probability(np.array([20.0]), np.array([0]), np.array([36.0]),
                                     horizon_months=3.0)  # fmt: skip
    assert within_3[0] == pytest.approx(3 / 106)  # L = 21, 22, 23 only


def test_lease_end_probability_is_the_same_in_any_block_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    tenure = np.where(rng.random(500) < 0.7, rng.uniform(0, 80, 500), np.nan)
    owner, months = rng.integers(0, 500, 400), rng.uniform(1, 100, 400)
    whole = lease_end_probability(tenure, owner, months)
    monkeypatch.setattr("tenantmatch.features.enterprise._LEASE_CHUNK", 7)
    np.testing.assert_allclose(lease_end_probability(tenure, owner, months), whole)
    assert np.isnan(whole).sum() == np.isnan(tenure).sum()


def test_rows_are_identical_alone_and_in_a_batch(ctx_t: FeatureContext) -> None:
    batch = build_matrix(world.all_pairs(), ctx_t, vocab=ctx_t.vocab)
    for label, row in world.all_pairs().iterrows():
        alone = build_matrix(row.to_frame().T, ctx_t, vocab=ctx_t.vocab)
        pd.testing.assert_frame_equal(alone, batch.loc[[label]])


def test_snapshot_and_context_paths_agree(ctx_t: FeatureContext) -> None:
    snapshot = Snapshot.at(world.registry(), world.T)
    ctx = FeatureContext.build(snapshot, vocab=ctx_t.vocab)  # reference prior
    via_snapshot = build_matrix(world.all_pairs(), snapshot, vocab=ctx_t.vocab)
    via_ctx = build_matrix(world.all_pairs(), ctx, vocab=ctx_t.vocab)
    pd.testing.assert_frame_equal(via_snapshot, via_ctx)


def test_positions_path_gives_the_same_matrix(ctx_t: FeatureContext) -> None:
    pairs = world.all_pairs()
    b_pos = ctx_t.buildings.index.get_indexer(pd.Index(pairs["building_id"]))
    e_pos = ctx_t.enterprises.index.get_indexer(pd.Index(pairs["enterprise_id"]))
    by_ids = build_matrix(pairs, ctx_t, vocab=ctx_t.vocab).reset_index(drop=True)
    by_positions = build_matrix_at(b_pos, e_pos, ctx_t, vocab=ctx_t.vocab)
    pd.testing.assert_frame_equal(by_positions, by_ids)
    assert len(build_matrix_at(b_pos[:0], e_pos[:0], ctx_t, vocab=ctx_t.vocab)) == 0


@pytest.mark.parametrize("threads", [2, 3, 200])
def test_threads_give_the_same_matrix(ctx_t: FeatureContext, threads: int) -> None:
    pairs = world.all_pairs()
    b_pos = ctx_t.buildings.index.get_indexer(pd.Index(pairs["building_id"]))
    e_pos = ctx_t.enterprises.index.get_indexer(pd.Index(pairs["enterprise_id"]))
    one = build_matrix_at(b_pos, e_pos, ctx_t, vocab=ctx_t.vocab)
    many = build_matrix_at(b_pos, e_pos, ctx_t, vocab=ctx_t.vocab, threads=threads)
    pd.testing.assert_frame_equal(many, one)
    assert len(build_matrix_at(b_pos[:0], e_pos[:0], ctx_t, vocab=ctx_t.vocab, threads=2)) == 0


def test_positions_out_of_range_raise_feature_error(ctx_t: FeatureContext) -> None:
    from tenantmatch.features import FeatureError

    n_b = len(ctx_t.buildings)
    with pytest.raises(FeatureError, match=f"building positions must lie in 0..{n_b - 1}"):
        build_matrix_at(np.array([n_b]), np.array([0]), ctx_t, vocab=ctx_t.vocab)
    with pytest.raises(FeatureError, match="enterprise positions"):
        build_matrix_at(np.array([0]), np.array([-1]), ctx_t, vocab=ctx_t.vocab)
    with pytest.raises(FeatureError, match="1 building but 2 enterprise positions"):
        build_matrix_at(np.array([0]), np.array([0, 1]), ctx_t, vocab=ctx_t.vocab)


def test_unseen_category_is_nan_not_a_shifted_code() -> None:
    frozen = Vocabulary.from_dict(
        {**Vocabulary().to_dict(), "theme": ["tech_rnd"], "division": ["72", "66"]}
    )
    ctx = _context(world.T, frozen)
    pairs = pd.DataFrame({"building_id": ["B1", "B2"], "enterprise_id": ["E4", "E1"]})
    X = build_matrix(pairs, ctx, vocab=ctx.vocab)
    assert np.isnan(X["b__theme"].iloc[0]) and X["b__theme"].iloc[1] == 0.0
    assert X["e__division"].tolist() == [0.0, 1.0]
    assert X["e__section"].isna().all()


def test_unknown_ids_raise_feature_error_naming_them(ctx_t: FeatureContext) -> None:
    from tenantmatch.features import FeatureError

    pairs = pd.DataFrame({"building_id": ["B1", "B9"], "enterprise_id": ["E1", "E1"]})
    with pytest.raises(FeatureError, match="B9"):
        build_matrix(pairs, ctx_t, vocab=ctx_t.vocab)
    pairs = pd.DataFrame({"building_id": ["B1"], "enterprise_id": ["E7"]})
    with pytest.raises(FeatureError, match="'E7'"):
        build_matrix(pairs, ctx_t, vocab=ctx_t.vocab)


def test_context_built_with_another_vocabulary_is_refused(ctx_t: FeatureContext) -> None:
    from tenantmatch.features import VocabularyError

    with pytest.raises(VocabularyError):
        build_matrix(world.all_pairs(), ctx_t, vocab=Vocabulary())


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.name)
def test_feature_contract(feature, ctx_t: FeatureContext) -> None:
    pairs = world.all_pairs()
    joined = join_attributes(pairs, ctx_t)
    before, ctx_before = joined.copy(), ctx_t.enterprises.copy()
    out = feature.fn(joined, ctx_t)
    assert out.dtype == np.float32
    assert out.index.equals(pairs.index)
    pd.testing.assert_frame_equal(joined, before)
    pd.testing.assert_frame_equal(ctx_t.enterprises, ctx_before)
    all_missing = out.loc[(pairs["building_id"] == "B3") & (pairs["enterprise_id"] == "E5")]
    if feature.name not in ALWAYS_DEFINED:
        assert all_missing.isna().all(), "missing inputs must give NaN, not a number"
    assert out.notna().any()
    assert feature.explain_zh.format(value=1.0)


def test_context_keeps_one_copy_of_the_enterprise_attributes(ctx_t: FeatureContext) -> None:
    # the join's float64 block is the frame's own storage, not a second copy of it
    for column in ctx_t.enterprises.columns:
        assert np.shares_memory(ctx_t.enterprises[column].to_numpy(), ctx_t.enterprise_array)
    np.testing.assert_array_equal(ctx_t.enterprises.to_numpy(), ctx_t.enterprise_array)


def test_move_hazard_is_nan_without_a_hazard_model() -> None:
    snapshot = Snapshot.at(world.registry(), world.T)
    ctx = FeatureContext.build(snapshot, vocab=Vocabulary.fit(snapshot), prior=world.prior())
    fill_move_hazard(ctx)  # the vocabulary has none: nothing to fill
    X = build_matrix(world.all_pairs(), ctx, vocab=ctx.vocab)
    assert X["e__move_hazard"].isna().all()


def test_move_hazard_reads_features_as_of_the_context_date() -> None:
    # E3 has no building at T and rents in B2 from 2023-03-01: its hazard input changes by T2
    pair = pd.DataFrame({"building_id": ["B1"], "enterprise_id": ["E3"]})
    at_t, at_t2 = (
        build_matrix(pair, c, vocab=c.vocab) for c in (_context(world.T), _context(world.T2))
    )
    assert at_t["e__move_hazard"].iloc[0] == pytest.approx(LN(10) / 10)
    assert at_t2["e__move_hazard"].iloc[0] == pytest.approx((LN(10) + 1) / 10)


def test_enterprise_features_equal_the_matrix_columns(ctx_t: FeatureContext) -> None:
    names = ["e__log_employees", "e__tenure_years", "e__division"]
    frame = enterprise_features(ctx_t, names)
    assert list(frame.columns) == names and frame.index.equals(ctx_t.enterprises.index)
    pairs = pd.DataFrame({"building_id": "B2", "enterprise_id": ctx_t.enterprises.index})
    X = build_matrix(pairs, ctx_t, vocab=ctx_t.vocab)
    np.testing.assert_array_equal(frame.to_numpy(), X[names].to_numpy())
    with pytest.raises(FeatureError, match="e__ features"):
        enterprise_features(ctx_t, ["b__grade"])


def test_vocabulary_json_leaves_the_hazard_out() -> None:
    vocab = Vocabulary(theme=("finance",)).with_hazard(HAZARD)
    assert vocab.to_dict()["theme"] == ["finance"] and "hazard" not in vocab.to_dict()
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab.with_hazard(None)
    assert vocab != vocab.with_hazard(None)  # contexts are cached per hazard
