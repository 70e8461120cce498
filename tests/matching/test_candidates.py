"""Candidate pools: who may be shortlisted for whom, and the PoolRules filters.

World (as of 2024-06-30): B1 太原/小店 vacant 1,000 m² (min unit 100), B2 太原/迎泽 vacant 300 m²
(min unit 200), B3 大同/平城 vacant 5,000 m². E1 rents 200 m² in B1; E2 needs 500 m²; E3 is
deregistered; E4 has a risk flag; E5 needs 2,000 m²; E6 needs 50 m²; E7 is in 大同; E8 is founded
after the snapshot date.
"""

from __future__ import annotations

import dataclasses
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from tenantmatch.matching.candidates import (
    MASK_CACHE_SIZE,
    CandidatePool,
    PoolRules,
    _in_sorted,
    candidates_for_buildings,
    candidates_for_enterprises,
)
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.registry.errors import InputError, NotFoundError

AS_OF = pd.Timestamp("2024-06-30")


def world_tables() -> dict[str, pd.DataFrame]:
    """Canonical tables of the world above."""
    buildings = pd.DataFrame(
        {
            "building_id": ["B1", "B2", "B3"],
            "name": ["科创大厦", "迎泽中心", "平城广场"],
            "city": ["太原市", "太原市", "大同市"],
            "district": ["小店区", "迎泽区", "平城区"],
            "theme": ["tech_rnd", "finance", "general"],
            "total_area_m2": [5000.0, 2000.0, 8000.0],
            "vacant_area_m2": [1000.0, 300.0, 5000.0],
            "min_unit_m2": [100.0, 200.0, np.nan],
        }
    )
    enterprises = pd.DataFrame(
        {
            "enterprise_id": [f"E{i}" for i in range(1, 9)],
            "name": [
                "甲科技",
                "乙金融",
                "丙贸易",
                "丁咨询",
                "戊集团",
                "己工作室",
                "庚物流",
                "辛新创",
            ],
            "industry_code": ["6510", "6620", "5110", "7240", "6510", "6520", "5810", "6510"],
            "employees": pd.array([20, 50, 10, 10, 200, 5, 30, 15], dtype="Int64"),
            "founded": pd.to_datetime(["2015-01-01"] * 7 + ["2025-01-01"]),
            "city": [
                "太原市",
                "太原市",
                "太原市",
                "太原市",
                "太原市",
                "太原市",
                "大同市",
                "太原市",
            ],
            "district": [
                "小店区",
                "迎泽区",
                "小店区",
                "小店区",
                "迎泽区",
                "小店区",
                "平城区",
                None,
            ],
            "hq_type": ["none", "regional_hq", None, None, "regional_hq", None, None, None],
            "tags": ["high_tech", "listed", None, None, "listed;china_500", None, None, None],
            "credit_score": [80.0, 90.0, 70.0, 52.0, 85.0, np.nan, 75.0, 60.0],
            "risk_flags": [None, None, "deregistered", "tax_violation", None, None, None, None],
        }
    )
    tenancies = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E7"],
            "building_id": ["B1", "B3"],
            "area_m2": [200.0, 300.0],
            "start_date": pd.to_datetime(["2020-01-01", "2019-05-01"]),
            "end_date": pd.to_datetime([None, "2023-05-01"]),
        }
    )
    return {"buildings": buildings, "enterprises": enterprises, "tenancies": tenancies}


@pytest.fixture(scope="module")
def pool() -> CandidatePool:
    return CandidatePool.from_snapshot(Snapshot.at(Registry.from_tables(world_tables()), AS_OF))


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["building_id"], frame["enterprise_id"], strict=True))


def test_building_candidates_apply_every_exclusion(pool: CandidatePool) -> None:
    got = candidates_for_buildings(pool, ["B1", "B2", "B3"])
    assert list(got.columns) == ["building_id", "enterprise_id"]
    # B1: E1 is its tenant, E3 deregistered, E4 risky, E5 too big, E8 not founded yet
    assert _pairs(got[got["building_id"] == "B1"]) == {("B1", "E2"), ("B1", "E6"), ("B1", "E7")}
    # B2 (300 m² vacant, units of 200 m²): E1 and E7 fit; E6's 50 m² need is < half a unit
    assert _pairs(got[got["building_id"] == "B2"]) == {("B2", "E1"), ("B2", "E7")}
    # B3: E7's tenancy there ended, so it is a candidate again
    assert {e for _, e in _pairs(got[got["building_id"] == "B3"])} == {"E1", "E2", "E5", "E6", "E7"}
    assert got["building_id"].tolist() == sorted(got["building_id"])  # grouped in query order


def test_include_risky_and_space_fit_switches(pool: CandidatePool) -> None:
    risky = candidates_for_buildings(pool, ["B1"], rules=PoolRules(include_risky=True))
    assert "E4" in set(risky["enterprise_id"]) and "E3" not in set(risky["enterprise_id"])
    loose = candidates_for_buildings(pool, ["B1"], rules=PoolRules(require_space_fit=False))
    assert set(loose["enterprise_id"]) == {"E2", "E5", "E6", "E7"}  # never the tenant E1


def test_enterprise_candidates_exclude_own_building(pool: CandidatePool) -> None:
    got = candidates_for_enterprises(pool, ["E1", "E5", "E3"])
    assert _pairs(got) == {("B2", "E1"), ("B3", "E1"), ("B3", "E5")}  # E3 deregistered: none
    risky = candidates_for_enterprises(pool, ["E4"])
    assert risky.empty
    assert set(
        candidates_for_enterprises(pool, ["E4"], rules=PoolRules(include_risky=True))["building_id"]
    ) == {"B1", "B2", "B3"}


def test_pool_rules_filters(pool: CandidatePool) -> None:
    def ents(rules: PoolRules) -> set[str]:
        return set(candidates_for_buildings(pool, ["B3"], rules=rules)["enterprise_id"])

    assert ents(PoolRules(cities={"大同市"})) == {"E7"}
    assert ents(PoolRules(districts={"迎泽区"})) == {"E2", "E5"}
    assert ents(PoolRules(industry_sections={"K"})) == set()  # none in real estate
    assert ents(PoolRules(industry_divisions={"65"})) == {"E1", "E5", "E6"}
    assert ents(PoolRules(industry_sections={"I"})) == {"E1", "E5", "E6"}
    assert ents(PoolRules(min_need_m2=250, max_need_m2=600)) == {"E2", "E7"}
    assert ents(PoolRules(hq_types={"regional_hq"})) == {"E2", "E5"}
    assert ents(PoolRules(tags={"china_500", "high_tech"})) == {"E1", "E5"}
    assert ents(PoolRules(exclude_ids={"E1", "E2"})) == {"E5", "E6", "E7"}
    buildings = candidates_for_enterprises(pool, ["E6"], rules=PoolRules(cities=["太原市"]))
    assert set(buildings["building_id"]) == {"B1"}


def test_unknown_ids_and_bad_rules(pool: CandidatePool) -> None:
    with pytest.raises(NotFoundError, match="'B9'"):
        candidates_for_buildings(pool, ["B1", "B9"])
    with pytest.raises(NotFoundError, match="'E8'"):  # founded after the snapshot date
        candidates_for_enterprises(pool, ["E8"])
    with pytest.raises(InputError, match="hq_types"):
        PoolRules(hq_types={"castle"})
    with pytest.raises(InputError, match="min_need_m2"):
        PoolRules(min_need_m2=500, max_need_m2=100)
    with pytest.raises(InputError, match="one string"):
        PoolRules(cities="太原市")  # type: ignore[arg-type]


def test_snapshot_source_and_empty_pool() -> None:
    snapshot = Snapshot.at(Registry.from_tables(world_tables()), AS_OF)
    assert _pairs(candidates_for_buildings(snapshot, ["B2"])) == {("B2", "E1"), ("B2", "E7")}
    none = candidates_for_buildings(snapshot, ["B2"], rules=PoolRules(cities={"长治市"}))
    assert none.empty and list(none.columns) == ["building_id", "enterprise_id"]
    assert candidates_for_buildings(snapshot, []).empty


def test_building_query_over_many_enterprises_is_vectorised() -> None:
    n = 300_000
    rng = np.random.default_rng(0)
    tables = world_tables()
    tables["enterprises"] = pd.DataFrame(
        {
            "enterprise_id": [f"X{i}" for i in range(n)],
            "name": "企业",
            "industry_code": rng.choice(["6510", "7240", "5110"], n),
            "employees": pd.array(rng.integers(1, 400, n), dtype="Int64"),
            "city": "太原市",
            "risk_flags": np.where(rng.random(n) < 0.1, "tax_violation", None),
        }
    )
    tables["tenancies"] = tables["tenancies"].iloc[:0]
    snapshot = Snapshot.at(Registry.from_tables(tables), AS_OF)
    need = pd.Series(snapshot.enterprises["employees"].astype("float64") * 10.0)
    pool = CandidatePool.from_snapshot(snapshot, need_m2=need)
    pairs = pool.pairs_for_buildings(np.arange(3).repeat(20), rules=PoolRules())
    per_b1 = int(np.sum(pairs.query == 0))
    expected = (snapshot.enterprises["risk_flags"].isna() & (need <= 1000) & (need >= 50)).sum()
    assert per_b1 == expected


def test_space_fit_is_one_rule_for_filter_and_feature() -> None:
    """The pool's per-building range filter, ``features.space_fits`` and the feature agree,
    including where the old feature disagreed (a 300 m² firm may take a 500 m² unit)."""
    from tenantmatch.features.pair import space_need_fits
    from tenantmatch.matching import space_fits as rules_space_fits
    from tenantmatch.registry import space_fits

    assert rules_space_fits is space_fits
    rng = np.random.default_rng(1)
    need = np.r_[300.0, np.nan, rng.uniform(5, 3000, 2000)]
    tables = world_tables()
    snapshot = Snapshot.at(Registry.from_tables(tables), AS_OF)
    pool = CandidatePool.from_snapshot(
        snapshot, need_m2=pd.Series(need[: len(snapshot.enterprises)], snapshot.enterprises.index)
    )
    pool = dataclasses.replace(pool, need32=need.astype(np.float32), need_m2=need, tenants_of={})
    base = np.ones(len(need), dtype=bool)
    for vacant, unit in ((1000.0, 500.0), (1000.0, np.nan), (300.0, 400.0), (np.nan, 100.0)):
        object.__setattr__(pool, "vacant_m2", np.array([vacant]))
        object.__setattr__(pool, "min_unit_m2", np.array([unit]))
        fast = pool.enterprises_for_building(0, base=base, rules=PoolRules())
        rule = space_fits(need, vacant_m2=vacant, min_unit_m2=unit)
        assert fast.tolist() == rule.tolist()
    pairs = pd.DataFrame({"e_space_need_m2": [300.0, 200.0, np.nan],
                          "b_vacant_area_m2": [1000.0, 1000.0, 1000.0],
                          "b_min_unit_m2": [500.0, 500.0, 500.0]})  # fmt: skip
    assert space_need_fits(pairs, None).tolist()[:2] == [1.0, 0.0]  # type: ignore[arg-type]
    assert np.isnan(space_need_fits(pairs, None).iloc[2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rules",
    [PoolRules(), PoolRules(include_risky=True, require_space_fit=False),
     PoolRules(cities=frozenset({"太原市"}), max_need_m2=500.0)],
)  # fmt: skip
def test_fit_at_positions_is_the_whole_mask_at_those_positions(
    pool: CandidatePool, rules: PoolRules
) -> None:
    base = pool.enterprise_mask(rules, location=True)
    positions = np.array([6, 0, 3, 3, 5, 1], dtype=np.int64)
    for b in range(len(pool.buildings.ids)):
        whole = pool.enterprises_for_building(b, base=base, rules=rules)
        at = pool.enterprises_fit_building(b, positions, base=base, rules=rules)
        np.testing.assert_array_equal(at, whole[positions])
    assert pool.enterprises_fit_building(0, positions[:0], base=base, rules=rules).shape == (0,)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_in_sorted_is_isin_for_sorted_members(seed: int) -> None:
    rng = np.random.default_rng(seed)
    members = np.unique(rng.integers(0, 300, int(rng.integers(1, 80))))
    values = rng.integers(-5, 310, 2000)
    np.testing.assert_array_equal(_in_sorted(values, members), np.isin(values, members))
    assert _in_sorted(values[:0], members).shape == (0,)


def test_mask_cache_keeps_the_latest_rule_sets_and_survives_threads() -> None:
    pool = CandidatePool.from_snapshot(Snapshot.at(Registry.from_tables(world_tables()), AS_OF))
    rule_sets = [PoolRules(min_need_m2=float(n)) for n in range(3 * MASK_CACHE_SIZE)]
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(300):
                rules = rule_sets[(i * 7 + offset) % len(rule_sets)]
                mask = pool.cached_enterprise_mask(rules, location=True)
                assert np.array_equal(mask, pool.enterprise_mask(rules, location=True))
        except BaseException as exc:  # reported below, with its thread's
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
    assert len(pool._masks) <= MASK_CACHE_SIZE
    for rules in rule_sets[:MASK_CACHE_SIZE]:  # one thread: the latest MASK_CACHE_SIZE stay
        pool.cached_enterprise_mask(rules, location=False)
    assert [r for r, _ in pool._masks] == rule_sets[:MASK_CACHE_SIZE]
    assert not pool.cached_enterprise_mask(rule_sets[0], location=False).flags.writeable
