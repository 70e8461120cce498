"""Live registry updates: validation through the contract validator, moves and vacancy,
bulk upload, staleness, and data_version bumps (SQLite and, when configured, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from tenantmatch.registry.errors import ConflictError, InputError, NotFoundError, ValidationFailed
from tenantmatch.store.moves import move_in, move_out
from tenantmatch.store.updates import (
    bulk_upload,
    delete_building,
    delete_enterprise,
    record_event,
    stale_buildings,
    upsert_building,
    upsert_enterprise,
)
from tests.matching.test_chain import fit_model, make_engine


def _building(building_id: str, **extra: object) -> dict[str, object]:
    row = {"building_id": building_id, "name": f"楼宇{building_id}", "city": "太原市",
           "district": "小店区", "theme": "finance", "total_area_m2": 10000.0,
           "vacant_area_m2": 3000.0, "min_unit_m2": 100.0, "operator_id": "OP1"}  # fmt: skip
    return row | extra


def _enterprise(enterprise_id: str, **extra: object) -> dict[str, object]:
    row = {"enterprise_id": enterprise_id, "name": f"企业{enterprise_id}", "industry_code": "J66",
           "employees": 40, "city": "太原市", "district": "小店区"}  # fmt: skip
    return row | extra


@pytest.fixture
def world(repo):
    """Buildings B1 (3000 m² vacant), B2 (500 m² vacant); enterprises E1 (40 staff), E2."""
    upsert_building(repo, _building("B1"))
    upsert_building(repo, _building("B2", vacant_area_m2=500.0, operator_id="OP2"))
    upsert_enterprise(repo, _enterprise("E1"))
    upsert_enterprise(repo, _enterprise("E2", employees=5, tags=["listed", "high_tech"]))
    return repo


def _vacancy(repo, building_id: str) -> float:
    return repo.get_row("buildings", {"building_id": building_id})["vacant_area_m2"]


def test_upsert_building_returns_canonical_row_and_bumps_version(repo):
    before = repo.data_version()
    row = upsert_building(repo, _building("B1", amenities=["parking", "metro"], floors="30"))
    assert row["amenities"] == "metro;parking" and row["floors"] == 30
    assert row["updated_at"].tzinfo is not None
    assert repo.data_version() == before + 1


def test_update_keeps_columns_the_record_leaves_out(world):
    row = upsert_building(world, {"building_id": "B1", "vacant_area_m2": 2500})
    assert row["vacant_area_m2"] == 2500.0 and row["operator_id"] == "OP1"
    assert row["name"] == "楼宇B1"
    cleared = upsert_building(world, {"building_id": "B1", "min_unit_m2": None})
    assert cleared["min_unit_m2"] is None


@pytest.mark.parametrize(
    ("record", "column"),
    [(_building("B9", theme="casino"), "theme"),
     (_building("B9", vacant_area_m2=20000.0), "vacant_area_m2"),
     (_building("B9", lat=80.0), "lat"), (_building("B9", name=""), "name")],
)  # fmt: skip
def test_bad_building_names_the_field_and_writes_nothing(repo, record, column):
    with pytest.raises(ValidationFailed) as caught:
        upsert_building(repo, record)
    assert [e.column for e in caught.value.errors] == [column]
    assert repo.get_row("buildings", {"building_id": "B9"}) is None


def test_unknown_field_and_missing_id_are_input_errors(repo):
    with pytest.raises(InputError, match="colour"):
        upsert_building(repo, _building("B1", colour="red"))
    with pytest.raises(InputError, match="enterprise_id"):
        upsert_enterprise(repo, {"name": "无名"})


def test_enterprise_industry_code_is_normalised_and_checked(repo):
    assert upsert_enterprise(repo, _enterprise("E1", industry_code="J6621"))["industry_code"] == (
        "6621"
    )
    with pytest.raises(ValidationFailed, match="industry_code"):
        upsert_enterprise(repo, _enterprise("E2", industry_code="Z99"))


def test_delete_unknown_ids_raise_not_found(world):
    with pytest.raises(NotFoundError, match="B404"):
        delete_building(world, "B404")
    with pytest.raises(NotFoundError, match="E404"):
        delete_enterprise(world, "E404")
    delete_enterprise(world, "E2")
    assert world.get_row("enterprises", {"enterprise_id": "E2"}) is None


def test_move_in_lowers_vacancy_by_the_given_area(world):
    row = move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-01-05",
                  area_m2=800)  # fmt: skip
    assert row["area_m2"] == 800.0 and row["start_date"] == dt.date(2026, 1, 5)
    assert row["end_date"] is None
    assert _vacancy(world, "B1") == 2200.0


def test_move_in_defaults_area_to_the_space_need_estimate(world):
    move_in(world, enterprise_id="E1", building_id="B1", start_date=dt.date(2026, 1, 5))
    assert _vacancy(world, "B1") == 3000.0 - 40 * 10.0  # 40 staff x 10 m² each


def test_move_elsewhere_ends_old_tenancy_and_returns_its_area(world):
    move_in(world, enterprise_id="E2", building_id="B1", start_date="2025-01-01", area_m2=300)
    row = move_in(world, enterprise_id="E2", building_id="B2", start_date="2026年2月1日")
    assert row["area_m2"] == 300.0  # the estimate is the current tenancy's area
    old = world.get_row("tenancies", {"enterprise_id": "E2", "building_id": "B1",
                                      "start_date": dt.date(2025, 1, 1)})  # fmt: skip
    assert old["end_date"] == dt.date(2026, 1, 31)
    assert (_vacancy(world, "B1"), _vacancy(world, "B2")) == (3000.0, 200.0)


def test_move_in_refusals(world):
    with pytest.raises(InputError, match=r"exceeds building 'B2'.s vacant area 500"):
        move_in(world, enterprise_id="E1", building_id="B2", start_date="2026-01-05",
                area_m2=600)  # fmt: skip
    with pytest.raises(NotFoundError, match="E404"):
        move_in(world, enterprise_id="E404", building_id="B1", start_date="2026-01-05")
    with pytest.raises(ValidationFailed, match="start_date"):
        move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-02-30")
    with pytest.raises(InputError, match="area_m2"):
        move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-01-05", area_m2=0)
    move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-01-05", area_m2=100)
    with pytest.raises(InputError, match="already a tenant"):
        move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-03-05")
    with pytest.raises(InputError, match="must be after the start"):
        move_in(world, enterprise_id="E1", building_id="B2", start_date="2026-01-05")
    assert _vacancy(world, "B1") == 2900.0 and _vacancy(world, "B2") == 500.0


def test_move_out_raises_vacancy_and_checks_dates(world):
    move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-01-05", area_m2=700)
    with pytest.raises(ValidationFailed, match="end_date"):
        move_out(world, enterprise_id="E1", building_id="B1", end_date="2025-12-31")
    row = move_out(world, enterprise_id="E1", building_id="B1", end_date="2026-06-30")
    assert row["end_date"] == dt.date(2026, 6, 30)
    assert _vacancy(world, "B1") == 3000.0
    with pytest.raises(NotFoundError, match="no open tenancy"):
        move_out(world, enterprise_id="E1", building_id="B1", end_date="2026-07-01")


def test_record_event(world):
    row = record_event(world, {"enterprise_id": "E1", "building_id": "B2",
                               "date": "2026/03/04", "stage": "visited"})  # fmt: skip
    assert row["date"] == dt.date(2026, 3, 4) and row["stage"] == "visited"
    with pytest.raises(ValidationFailed, match="stage"):
        record_event(world, {"enterprise_id": "E1", "building_id": "B2",
                             "date": "2026-03-04", "stage": "won"})  # fmt: skip
    with pytest.raises(NotFoundError, match="B404"):
        record_event(world, {"enterprise_id": "E1", "building_id": "B404",
                             "date": "2026-03-04", "stage": "visited"})  # fmt: skip


def _csv(rows: list[dict[str, object]], *, encoding: str = "utf-8") -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode(encoding)


def test_bulk_upload_csv_is_all_or_nothing(world):
    good = {"source_id": "E1", "target_id": "E2", "relation": "supplies", "weight": 0.5}
    bad = {"source_id": "E1", "target_id": "E404", "relation": "supplies", "weight": 0.5}
    with pytest.raises(ValidationFailed, match="target_id") as caught:
        bulk_upload(world, table="links", filename="links.csv", content=_csv([good, bad]),
                    skip_invalid=False)  # fmt: skip
    assert caught.value.errors[0].row == 3
    assert world.counts()["links"] == 0
    report = bulk_upload(world, table="links", filename="links.csv",
                         content=_csv([good, bad]), skip_invalid=True)  # fmt: skip
    assert report["tables"]["links"]["inserted"] == 1
    assert report["tables"]["links"]["rejected"] == 1
    assert report["errors"][0]["column"] == "target_id"
    assert world.counts()["links"] == 1


def test_bulk_upload_gbk_csv_and_xlsx(world):
    gbk = _csv([_building("B3", name="晋商大厦")], encoding="gb18030")
    report = bulk_upload(world, table="buildings", filename="楼宇.csv", content=gbk,
                         skip_invalid=False)  # fmt: skip
    assert report["tables"]["buildings"]["inserted"] == 1
    assert world.get_row("buildings", {"building_id": "B3"})["name"] == "晋商大厦"
    buffer = io.BytesIO()
    pd.DataFrame([_enterprise("E7")]).to_excel(buffer, index=False)
    report = bulk_upload(world, table="enterprises", filename="firms.xlsx",
                         content=buffer.getvalue(), skip_invalid=False)  # fmt: skip
    assert report["tables"]["enterprises"]["inserted"] == 1


def test_bulk_upload_refuses_unknown_table_and_format(world):
    with pytest.raises(InputError, match="allowed: buildings"):
        bulk_upload(world, table="people", filename="x.csv", content=b"a\n1\n", skip_invalid=True)
    with pytest.raises(InputError, match=r"\.csv"):
        bulk_upload(world, table="links", filename="x.json", content=b"{}", skip_invalid=True)


def test_stale_buildings_uses_updated_at(world):
    today = dt.datetime.now(dt.UTC).date()
    assert stale_buildings(world, as_of=today, days=0) == []
    later = today + dt.timedelta(days=31)
    stale = stale_buildings(world, as_of=later, days=30)
    assert [s["building_id"] for s in stale] == ["B1", "B2"]
    assert stale[0]["days_since_update"] == 31
    upsert_building(world, {"building_id": "B2", "vacant_area_m2": 400})
    assert stale_buildings(world, as_of=later, days=31) == []
    assert [s["building_id"] for s in stale_buildings(world, as_of=later, days=30,
                                                       operator_id="OP2")] == ["B2"]  # fmt: skip
    with pytest.raises(InputError, match="days"):
        stale_buildings(world, as_of=later, days=-1)


def test_move_in_shows_in_the_next_shortlist_at_once(tmp_path, model_for_engine):
    engine = make_engine(tmp_path, model_for_engine)
    [before] = engine.shortlist_for_buildings(["B1"], k=500)
    moved = before["items"][0]["enterprise_id"]
    vacant = engine.state().snapshot.buildings.at["B1", "vacant_area_m2"]
    move_in(engine.repo, enterprise_id=moved, building_id="B1", start_date="2024-06-01",
            area_m2=250)  # fmt: skip
    [after] = engine.shortlist_for_buildings(["B1"], k=500)
    assert moved not in {i["enterprise_id"] for i in after["items"]}
    assert engine.state().snapshot.buildings.at["B1", "vacant_area_m2"] == vacant - 250


@pytest.fixture(scope="module")
def model_for_engine():
    return fit_model()


def test_a_current_tenant_is_not_deleted_until_it_moves_out(world):
    move_in(world, enterprise_id="E1", building_id="B1", start_date="2026-01-05", area_m2=800)
    vacancy = world.get_row("buildings", {"building_id": "B1"})["vacant_area_m2"]
    with pytest.raises(ConflictError, match=r"current tenant of building 'B1'.*move-out first"):
        delete_enterprise(world, "E1")
    assert world.get_row("enterprises", {"enterprise_id": "E1"}) is not None
    assert world.get_row("buildings", {"building_id": "B1"})["vacant_area_m2"] == vacancy
    move_out(world, enterprise_id="E1", building_id="B1", end_date="2026-03-01")
    delete_enterprise(world, "E1")
    assert world.get_row("enterprises", {"enterprise_id": "E1"}) is None
    assert world.get_row("buildings", {"building_id": "B1"})["vacant_area_m2"] == vacancy + 800
