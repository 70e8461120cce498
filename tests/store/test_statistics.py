"""Statistics aggregated in SQL (store.statistics) on a tiny registry, every figure by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from tenantmatch.store import RegistryStats, Repository, StatsFilter, registry_stats

AS_OF = date(2026, 6, 15)


def _s(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def _d(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[ns]")


def tiny_registry() -> dict[str, pd.DataFrame]:
    """Three buildings in two cities, four firms, one finished and three open tenancies, a
    courtship that signed, one that declined, one still negotiating and one after AS_OF."""
    buildings = pd.DataFrame({
        "building_id": _s("B1", "B2", "B3"), "name": _s("龙城金融中心", "迎泽大厦", "平城科创园"),
        "city": _s("太原市", "太原市", "大同市"), "district": _s("小店区", "迎泽区", "平城区"),
        "theme": _s("finance", "general", "finance"), "total_area_m2": [1000.0, 2000.0, 500.0],
        "vacant_area_m2": [400.0, 2000.0, 100.0], "operator_id": _s("OP1", "OP2", None),
    })  # fmt: skip
    enterprises = pd.DataFrame({
        "enterprise_id": _s("E1", "E2", "E3", "E4"),
        "name": _s("晋商证券", "晋云数据", "汾河保险", "太行商贸"),
        "industry_code": _s("6621", "6511", "6820", "5100"),
        "employees": pd.array([30, 12, 40, 8], dtype="Int64"),
    })  # fmt: skip
    tenancies = pd.DataFrame({
        "enterprise_id": _s("E1", "E2", "E3", "E4"), "building_id": _s("B1", "B1", "B3", "B2"),
        "area_m2": [300.0, 300.0, 400.0, 500.0],
        "start_date": _d("2025-01-10", "2026-03-01", "2024-05-01", "2024-01-01"),
        "end_date": _d(None, None, None, "2026-02-10"),
    })  # fmt: skip
    events = pd.DataFrame({
        "enterprise_id": _s("E4", "E4", "E4", "E2", "E2", "E1", "E3"),
        "building_id": _s("B1", "B1", "B1", "B2", "B2", "B3", "B1"),
        "date": _d("2026-01-05", "2026-02-01", "2026-03-01", "2026-01-01", "2026-02-01",
                   "2026-05-01", "2026-07-01"),
        "stage": _s("contacted", "visited", "signed", "contacted", "declined", "negotiating",
                    "contacted"),
    })  # fmt: skip
    return {"buildings": buildings, "enterprises": enterprises, "tenancies": tenancies,
            "events": events}  # fmt: skip


@pytest.fixture
def filled(repo: Repository) -> Repository:
    repo.upsert(tiny_registry())
    return repo


def _stats(repo: Repository, **filters: frozenset[str]) -> dict:
    return registry_stats(repo, StatsFilter(**filters), as_of=AS_OF, stale_days=90)


def test_occupancy_totals_and_groups(filled: Repository) -> None:
    stats = _stats(filled)
    assert stats["totals"] == {
        "buildings": 3, "total_m2": 3500.0, "vacant_m2": 2500.0, "occupied_m2": 1000.0,
        "occupancy_rate": 0.2857, "tenants": 3,
    }  # fmt: skip
    by_city = {r["city"]: (r["buildings"], r["vacant_m2"], r["tenants"]) for r in stats["by_city"]}
    assert by_city == {"大同市": (1, 100.0, 1), "太原市": (2, 2400.0, 2)}
    by_district = [(r["city"], r["district"], r["tenants"]) for r in stats["by_district"]]
    assert by_district == [
        ("大同市", "平城区", 1),
        ("太原市", "小店区", 2),
        ("太原市", "迎泽区", 0),
    ]
    by_theme = {r["theme"]: (r["theme_zh"], r["total_m2"], r["tenants"]) for r in stats["by_theme"]}
    assert by_theme == {"finance": ("金融服务型", 1500.0, 3), "general": ("综合型", 2000.0, 0)}
    assert stats["tax"]["available"] is False and "亿元楼" in stats["tax"]["note_zh"]


def test_industry_mix_of_current_tenants(filled: Repository) -> None:
    mix = _stats(filled)["industry_mix"]
    # the most tenants first, then by code
    assert [(r["division"], r["tenants"], r["area_m2"]) for r in mix] == [
        ("65", 1, 300.0), ("66", 1, 300.0), ("68", 1, 400.0),
    ]  # fmt: skip
    labels = {r["division"]: (r["label_zh"], r["section"]) for r in mix}
    assert labels["66"] == ("货币金融服务", "J") and labels["68"] == ("保险业", "J")


def test_moves_per_month_over_24_months(filled: Repository) -> None:
    moves = _stats(filled)["moves"]
    assert len(moves) == 24 and moves[0]["month"] == "2024-07" and moves[-1]["month"] == "2026-06"
    busy = {m["month"]: (m["moved_in"], m["in_m2"], m["moved_out"], m["out_m2"])
            for m in moves if m["moved_in"] or m["moved_out"]}  # fmt: skip
    # E3 moved in 2024-05 and E4 in 2024-01: before the window
    assert busy == {"2025-01": (1, 300.0, 0, 0.0), "2026-02": (0, 0.0, 1, 500.0),
                    "2026-03": (1, 300.0, 0, 0.0)}  # fmt: skip


def test_funnel_counts_each_firm_at_its_furthest_stage(filled: Repository) -> None:
    funnel = _stats(filled)["funnel"]
    counts = ("contacted", "visited", "negotiating", "signed", "declined")
    assert [funnel["total"][c] for c in counts] == [3, 2, 2, 1, 1]  # E3's event is after AS_OF
    assert funnel["total"]["signed_rate"] == pytest.approx(1 / 3, abs=1e-4)
    by_city = {r["city"]: [r[c] for c in counts] for r in funnel["by_city"]}
    assert by_city == {"大同市": [1, 1, 1, 0, 0], "太原市": [2, 1, 1, 1, 1]}
    by_operator = {r["operator_id"]: [r[c] for c in counts] for r in funnel["by_operator"]}
    assert by_operator == {None: [1, 1, 1, 0, 0], "OP1": [1, 1, 1, 1, 0], "OP2": [1, 0, 0, 0, 1]}
    assert [s["label_zh"] for s in funnel["stages"]] == [
        "已接洽",
        "已考察",
        "洽谈中",
        "已签约",
        "已婉拒",
    ]


def test_filters_narrow_every_figure(filled: Repository) -> None:
    taiyuan = _stats(filled, city=frozenset({"太原市"}))
    assert taiyuan["totals"]["buildings"] == 2 and taiyuan["totals"]["tenants"] == 2
    assert {r["division"] for r in taiyuan["industry_mix"]} == {"65", "66"}
    assert taiyuan["funnel"]["total"]["contacted"] == 2
    assert [r["city"] for r in taiyuan["by_city"]] == ["太原市"]
    assert sum(m["moved_out"] for m in taiyuan["moves"]) == 1
    finance = _stats(filled, theme=frozenset({"finance"}))
    assert finance["funnel"]["total"]["contacted"] == 2  # E4 at B1, E1 at B3; not E2 at B2
    assert sum(m["moved_out"] for m in finance["moves"]) == 0
    nothing = _stats(filled, district=frozenset({"无此区"}))
    assert nothing["totals"]["buildings"] == 0 and nothing["totals"]["occupancy_rate"] is None
    assert nothing["by_city"] == [] and nothing["funnel"]["total"]["contacted"] == 0
    assert nothing["funnel"]["total"]["signed_rate"] is None


def test_stale_counts_follow_the_listing_rule(filled: Repository) -> None:
    later = date.today() + timedelta(days=91)
    stale = registry_stats(filled, StatsFilter(), as_of=later, stale_days=90)["stale"]
    assert stale == {"stale_days": 90, "buildings": 3, "enterprises": 4}
    fresh = registry_stats(filled, StatsFilter(), as_of=later, stale_days=91)["stale"]
    assert fresh["buildings"] == 0 and fresh["enterprises"] == 0
    city = registry_stats(filled, StatsFilter(city=frozenset({"大同市"})), as_of=later,
                          stale_days=90)["stale"]  # fmt: skip
    assert city["buildings"] == 1 and city["enterprises"] == 1  # E3, B3's tenant then


def test_cached_until_the_registry_changes(filled: Repository) -> None:
    cache = RegistryStats(filled)
    first = cache.get(StatsFilter(), as_of=AS_OF, stale_days=90)
    assert cache.get(StatsFilter(), as_of=AS_OF, stale_days=90) is first
    filled.upsert({"buildings": tiny_registry()["buildings"].assign(vacant_area_m2=0.0)})
    again = cache.get(StatsFilter(), as_of=AS_OF, stale_days=90)
    assert again is not first and again["totals"]["vacant_m2"] == 0.0
