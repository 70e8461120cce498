"""Paged, filtered lists in SQL (store.listing.RegistryLists) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from tenantmatch.store import BuildingFilter, EnterpriseFilter, RegistryLists, Repository
from tests.store.test_statistics import tiny_registry

TODAY = date.today()


@pytest.fixture
def lists(repo: Repository) -> RegistryLists:
    tables = tiny_registry()
    tables["buildings"]["grade"] = pd.Series(["a", "super_a", None], dtype="str")
    tables["enterprises"]["tags"] = pd.Series(
        ["high_tech;listed", None, "listed", "platform"], dtype="str"
    )
    tables["enterprises"]["city"] = pd.Series(["太原市", "太原市", "大同市", None], dtype="str")
    repo.upsert(tables)
    return RegistryLists(repo)


def _ids(result: tuple[int, list[dict]], key: str = "building_id") -> tuple[int, list[str]]:
    return result[0], [r[key] for r in result[1]]


def _buildings(lists: RegistryLists, offset: int = 0, limit: int = 50, **filters: object):  # type: ignore[no-untyped-def]
    return lists.buildings(BuildingFilter(**filters), offset=offset, limit=limit,  # type: ignore[arg-type]
                           stale_days=90, today=TODAY)  # fmt: skip


def test_building_search_filters_and_pages(lists: RegistryLists) -> None:
    assert _ids(_buildings(lists)) == (3, ["B1", "B2", "B3"])
    assert _ids(_buildings(lists, q="b2")) == (1, ["B2"])  # the id, case-insensitive
    assert _ids(_buildings(lists, q="大厦")) == (1, ["B2"])  # the name
    assert _ids(_buildings(lists, q="%")) == (0, [])  # a LIKE wildcard is plain text
    assert _ids(_buildings(lists, city=frozenset({"太原市"}))) == (2, ["B1", "B2"])
    assert _ids(_buildings(lists, grade=frozenset({"super_a", "c"}))) == (1, ["B2"])
    assert _ids(_buildings(lists, theme=frozenset({"finance"}), min_vacant_m2=200.0)) == (
        1, ["B1"],
    )  # fmt: skip
    assert _ids(_buildings(lists, operator_id="OP2")) == (1, ["B2"])
    assert _ids(_buildings(lists, offset=1, limit=1)) == (3, ["B2"])


def test_building_records_carry_labels_and_staleness(lists: RegistryLists) -> None:
    record = _buildings(lists, q="B1")[1][0]
    assert record["theme_zh"] == "金融服务型" and record["stale"] is False
    assert record["amenities"] == [] and record["lat"] is None and record["grade"] == "a"
    assert record["updated_at"].tzinfo is not None
    assert _ids(_buildings(lists, stale=True)) == (0, [])
    later = lists.buildings(BuildingFilter(stale=True), offset=0, limit=50, stale_days=90,
                            today=TODAY + timedelta(days=91))  # fmt: skip
    assert _ids(later) == (3, ["B1", "B2", "B3"]) and later[1][0]["stale"] is True


def test_enterprise_search_by_name_code_tag_and_division(lists: RegistryLists) -> None:
    def ids(**filters: object) -> tuple[int, list[str]]:
        result = lists.enterprises(EnterpriseFilter(**filters), offset=0, limit=50)  # type: ignore[arg-type]
        return _ids(result, "enterprise_id")

    assert ids() == (4, ["E1", "E2", "E3", "E4"])
    assert ids(q="晋") == (2, ["E1", "E2"])
    assert ids(q="e3") == (1, ["E3"])
    assert ids(tag=frozenset({"listed"})) == (2, ["E1", "E3"])
    assert ids(tag=frozenset({"platform", "high_tech"})) == (2, ["E1", "E4"])
    assert ids(tag=frozenset({"list"})) == (0, [])  # whole codes only
    assert ids(industry_division=frozenset({"65", "51"})) == (2, ["E2", "E4"])
    assert ids(city=frozenset({"太原市"}), q="数据") == (1, ["E2"])
    record = lists.enterprises(EnterpriseFilter(q="E1"), offset=0, limit=1)[1][0]
    assert record["tags"] == ["high_tech", "listed"] and record["employees"] == 30
