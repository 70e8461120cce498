"""A building's and an enterprise's history (store.history) on the tiny registry of
test_statistics: events, current tenants, tenancies and occupancy by month."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tenantmatch.registry import NotFoundError
from tenantmatch.store import (
    Repository,
    building_events,
    building_occupancy,
    current_tenants,
    enterprise_events,
    enterprise_links,
    tenancy_history,
)
from tests.store.test_statistics import AS_OF, tiny_registry


@pytest.fixture
def filled(repo: Repository) -> Repository:
    repo.upsert(tiny_registry())
    return repo


def test_building_events_newest_first_filtered_and_paged(filled: Repository) -> None:
    total, rows = building_events(filled, "B1", offset=0, limit=10)
    assert total == 4
    assert [(r["date"], r["stage"], r["enterprise_id"]) for r in rows] == [
        (date(2026, 7, 1), "contacted", "E3"), (date(2026, 3, 1), "signed", "E4"),
        (date(2026, 2, 1), "visited", "E4"), (date(2026, 1, 5), "contacted", "E4"),
    ]  # fmt: skip
    assert rows[1]["enterprise_name"] == "太行商贸" and rows[1]["building_name"] == "龙城金融中心"
    assert rows[1]["operator_id"] == "OP1"
    total, rows = building_events(filled, "B1", stages={"contacted"}, offset=1, limit=1)
    assert total == 2 and [r["enterprise_id"] for r in rows] == ["E4"]
    total, rows = enterprise_events(filled, "E2", offset=0, limit=10)
    assert total == 2 and [r["stage"] for r in rows] == ["declined", "contacted"]


def test_current_tenants_largest_area_first(filled: Repository) -> None:
    total, area, rows = current_tenants(filled, "B1", as_of=AS_OF, offset=0, limit=10)
    assert (total, area) == (2, 600.0)
    assert [(r["enterprise_id"], r["since"], r["employees"]) for r in rows] == [
        ("E1", date(2025, 1, 10), 30), ("E2", date(2026, 3, 1), 12),
    ]  # fmt: skip
    assert rows[0]["tags"] == [] and rows[0]["risk_flags"] == []
    before = current_tenants(filled, "B1", as_of=date(2026, 2, 28), offset=0, limit=10)
    assert before[0] == 1 and before[1] == 300.0
    assert current_tenants(filled, "B2", as_of=AS_OF, offset=0, limit=10)[:2] == (0, 0.0)


def test_tenancy_history_marks_the_current_one(filled: Repository) -> None:
    total, rows = tenancy_history(filled, "E4", as_of=AS_OF, offset=0, limit=10)
    assert total == 1
    assert rows == [{
        "building_id": "B2", "building_name": "迎泽大厦", "city": "太原市", "district": "迎泽区",
        "area_m2": 500.0, "start_date": date(2024, 1, 1), "end_date": date(2026, 2, 10),
        "current": False,
    }]  # fmt: skip
    assert tenancy_history(filled, "E1", as_of=AS_OF, offset=0, limit=10)[1][0]["current"]


def test_occupancy_by_month_rebuilds_the_past_vacancy(filled: Repository) -> None:
    row, months = building_occupancy(filled, "B1", as_of=AS_OF, months=4)
    assert row["total_area_m2"] == 1000.0
    assert [(m["month"], m["vacant_m2"], m["occupied_m2"], m["tenants"]) for m in months] == [
        ("2026-03", 400.0, 600.0, 2), ("2026-04", 400.0, 600.0, 2), ("2026-05", 400.0, 600.0, 2),
        ("2026-06", 400.0, 600.0, 2),
    ]  # fmt: skip
    _, earlier = building_occupancy(filled, "B1", as_of=date(2026, 2, 20), months=2)
    # E2 moved in on 2026-03-01: the vacancy then was 300 m² larger
    assert [(m["month"], m["vacant_m2"], m["occupancy_rate"]) for m in earlier] == [
        ("2026-01", 700.0, 0.3), ("2026-02", 700.0, 0.3),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        lambda r: building_events(r, "NOPE", offset=0, limit=1),
        lambda r: enterprise_events(r, "NOPE", offset=0, limit=1),
        lambda r: current_tenants(r, "NOPE", as_of=AS_OF, offset=0, limit=1),
        lambda r: tenancy_history(r, "NOPE", as_of=AS_OF, offset=0, limit=1),
        lambda r: building_occupancy(r, "NOPE", as_of=AS_OF, months=1),
    ],
)
def test_unknown_ids_raise_not_found(filled: Repository, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError, match="NOPE"):
        call(filled)


def test_enterprise_links_name_each_partner_from_the_firms_side(filled: Repository) -> None:
    """E1 supplies E2 (E2 is its downstream customer, E1 is E2's upstream supplier), E3 invests
    in E1 (E3 is E1's investor), E1 partners E4 (weight absent: counts as 1, first)."""
    filled.upsert({"links": pd.DataFrame({
        "source_id": pd.array(["E1", "E3", "E1"], dtype="string"),
        "target_id": pd.array(["E2", "E1", "E4"], dtype="string"),
        "relation": pd.array(["supplies", "invests", "partners"], dtype="string"),
        "weight": [0.4, 0.9, None],
    })})  # fmt: skip
    rows = enterprise_links(filled, "E1", as_of=AS_OF)
    assert [(r["partner_id"], r["direction"], r["direction_zh"], r["weight"]) for r in rows] == [
        ("E4", "partner", "合作伙伴", None), ("E3", "investor", "投资方", 0.9),
        ("E2", "downstream", "下游客户", 0.4),
    ]  # fmt: skip
    assert rows[2]["relation_zh"] == "供应" and rows[2]["building_id"] == "B1"  # E2 is in B1
    assert rows[0]["building_id"] is None  # E4 moved out of B2 before AS_OF
    [upstream] = enterprise_links(filled, "E2", as_of=AS_OF)
    assert (upstream["partner_id"], upstream["direction"]) == ("E1", "upstream")
    assert enterprise_links(filled, "E3", as_of=AS_OF)[0]["direction"] == "investee"
    with pytest.raises(NotFoundError):
        enterprise_links(filled, "E404", as_of=AS_OF)
