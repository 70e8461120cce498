"""The workbench's data routes through the real app: statistics, a building's events, tenants and
occupancy, an enterprise's events and tenancies; values checked against the stored tables."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tenantmatch.registry import label_zh
from tests.api.conftest import Service


def _tables(svc: Service) -> dict[str, pd.DataFrame]:
    return svc.repo.load_tables()


def _open(tenancies: pd.DataFrame, day: date) -> pd.DataFrame:
    then = pd.Timestamp(day)
    return tenancies[(tenancies["start_date"] <= then) & ~(tenancies["end_date"] <= then)]


def _busiest_building(svc: Service) -> str:
    events = _tables(svc)["events"]
    return str(events["building_id"].value_counts().index[0])


# -- statistics -------------------------------------------------------------------------------


def test_stats_totals_and_groups_match_the_tables(service: Service) -> None:
    body = service.get("/v1/stats", "viewer").json()
    t = _tables(service)
    b = t["buildings"]
    assert body["as_of"] == date.today().isoformat()
    totals = body["totals"]
    assert totals["buildings"] == len(b)
    assert totals["total_m2"] == pytest.approx(b["total_area_m2"].sum(), abs=0.01)
    assert totals["vacant_m2"] == pytest.approx(b["vacant_area_m2"].sum(), abs=0.01)
    rate = 1 - b["vacant_area_m2"].sum() / b["total_area_m2"].sum()
    assert totals["occupancy_rate"] == pytest.approx(rate, abs=1e-4)
    current = _open(t["tenancies"], date.today())
    assert totals["tenants"] == current["enterprise_id"].nunique()
    by_city = {r["city"]: r for r in body["by_city"]}
    assert set(by_city) == set(b["city"])
    for city, group in b.groupby("city"):
        assert by_city[city]["buildings"] == len(group)
        assert by_city[city]["vacant_m2"] == pytest.approx(group["vacant_area_m2"].sum(), abs=0.01)
    assert sum(r["buildings"] for r in body["by_district"]) == len(b)
    assert {(r["city"], r["district"]) for r in body["by_district"]} == set(
        zip(b["city"], b["district"], strict=True)
    )
    assert all(r["theme_zh"] == label_zh(r["theme"]) for r in body["by_theme"])
    assert body["tax"] == {"available": False, "note_zh": "台账尚无企业纳税数据，无法统计亿元楼"}


def test_stats_industry_mix_moves_and_stale(service: Service) -> None:
    body = service.get("/v1/stats").json()
    t = _tables(service)
    current = _open(t["tenancies"], date.today()).merge(t["enterprises"], on="enterprise_id")
    expected = current.groupby(current["industry_code"].str[:2])["enterprise_id"].nunique()
    mix = {r["division"]: r for r in body["industry_mix"]}
    assert {d: r["tenants"] for d, r in mix.items()} == expected.to_dict()
    assert all(r["label_zh"] and r["label_zh"] != r["division"] for r in mix.values())
    tenants = [r["tenants"] for r in body["industry_mix"]]
    assert tenants == sorted(tenants, reverse=True)
    moves = body["moves"]
    assert len(moves) == 24 and moves[-1]["month"] == date.today().strftime("%Y-%m")
    starts = t["tenancies"]["start_date"]
    month = pd.Period(moves[-2]["month"], freq="M")
    assert moves[-2]["moved_in"] == int((starts.dt.to_period("M") == month).sum())
    assert body["stale"]["stale_days"] == service.settings.stale_days
    assert body["stale"]["buildings"] == 0  # imported today: nothing is stale yet


def test_stats_funnel_counts_distinct_firms_by_furthest_stage(service: Service) -> None:
    body = service.get("/v1/stats").json()
    events = _tables(service)["events"]
    events = events[events["date"] <= pd.Timestamp(date.today())]
    order = {"contacted": 1, "visited": 2, "negotiating": 3, "signed": 4, "declined": 1}
    furthest = events.assign(r=events["stage"].map(order)).groupby("enterprise_id")["r"].max()
    total = body["funnel"]["total"]
    assert total["contacted"] == len(furthest)
    assert total["signed"] == int((furthest >= 4).sum())
    assert total["negotiating"] == int((furthest >= 3).sum())
    assert total["declined"] == events.loc[events["stage"] == "declined", "enterprise_id"].nunique()
    assert total["contacted"] >= total["visited"] >= total["negotiating"] >= total["signed"]
    assert [s["label_zh"] for s in body["funnel"]["stages"]] == [
        "已接洽", "已考察", "洽谈中", "已签约", "已婉拒",
    ]  # fmt: skip
    assert {r["city"] for r in body["funnel"]["by_city"]} <= set(
        service.tables["buildings"]["city"]
    )
    assert body["funnel"]["by_operator"]


def test_stats_filters_narrow_every_figure(service: Service) -> None:
    b = service.tables["buildings"]
    city = str(b["city"].value_counts().index[0])
    body = service.get("/v1/stats", params={"city": city}).json()
    assert body["filters"]["city"] == [city]
    assert body["totals"]["buildings"] == int((b["city"] == city).sum())
    assert [r["city"] for r in body["by_city"]] == [city]
    theme = str(b["theme"].iloc[0])
    themed = service.get("/v1/stats", params={"theme": theme}).json()
    assert [r["theme"] for r in themed["by_theme"]] == [theme]
    none = service.get("/v1/stats", params={"city": "不存在市"}).json()
    assert none["totals"]["buildings"] == 0 and none["by_city"] == []
    assert none["funnel"]["total"]["contacted"] == 0


@pytest.mark.parametrize("params", [{"theme": "castle"}, {"city": ""}, {"unknown": "1"}])
def test_stats_bad_params_are_422(service: Service, params: dict[str, str]) -> None:
    response = service.get("/v1/stats", params=params)
    assert response.status_code == 422, response.text


def test_stats_needs_a_key(service: Service) -> None:
    assert service.get("/v1/stats", "none").status_code == 401
    assert service.get("/v1/stats", "bad").status_code == 401


# -- a building's events, tenants and occupancy -------------------------------------------------


def test_building_events_newest_first_with_labels(service: Service) -> None:
    building = _busiest_building(service)
    t = _tables(service)
    mine = t["events"][t["events"]["building_id"] == building]
    body = service.get(f"/v1/buildings/{building}/events", "viewer", params={"limit": 500}).json()
    assert body["total"] == len(mine) == len(body["items"])
    dates = [i["date"] for i in body["items"]]
    assert dates == sorted(dates, reverse=True)
    first = body["items"][0]
    names = t["enterprises"].set_index("enterprise_id")["name"]
    assert first["enterprise_name"] == names[first["enterprise_id"]]
    assert first["stage_zh"] == label_zh(first["stage"])
    operator = t["buildings"].set_index("building_id").at[building, "operator_id"]
    assert first["operator_id"] == operator


def test_building_events_filter_by_stage_and_page(service: Service) -> None:
    building = _busiest_building(service)
    events = _tables(service)["events"]
    mine = events[events["building_id"] == building]
    stage = str(mine["stage"].value_counts().index[0])
    path = f"/v1/buildings/{building}/events"
    body = service.get(path, params={"stage": stage}).json()
    assert body["total"] == int((mine["stage"] == stage).sum())
    assert {i["stage"] for i in body["items"]} == {stage}
    whole = service.get(path, params={"limit": 500}).json()["items"]
    page = service.get(path, params={"offset": 2, "limit": 3}).json()
    assert page["items"] == whole[2:5] and page["offset"] == 2 and page["limit"] == 3


def test_building_tenants_hide_credit_from_viewers(service: Service) -> None:
    building = service.own_building
    t = _tables(service)
    current = _open(t["tenancies"], date.today())
    mine = current[current["building_id"] == building]
    viewer = service.get(f"/v1/buildings/{building}/tenants", "viewer").json()
    assert viewer["total"] == len(mine)
    assert viewer["occupied_m2"] == pytest.approx(mine["area_m2"].fillna(0).sum(), abs=0.01)
    assert {i["enterprise_id"] for i in viewer["items"]} == set(mine["enterprise_id"])
    item = viewer["items"][0]
    assert "credit_score" not in item and "risk_flags" not in item
    tagged = [i for i in viewer["items"] if i["tags"]]
    assert all(i["tags_zh"] == [label_zh(t) for t in i["tags"]] for i in tagged)
    assert item["industry_division"] == item["industry_code"][:2] and item["industry_zh"]
    areas = [i["area_m2"] or 0 for i in viewer["items"]]
    assert areas == sorted(areas, reverse=True)
    operator = service.get(f"/v1/buildings/{building}/tenants", "op_other").json()
    assert "credit_score" in operator["items"][0] and "risk_flags" in operator["items"][0]


def test_building_occupancy_ends_at_the_stored_vacancy(service: Service) -> None:
    building = service.own_building
    b = service.tables["buildings"].set_index("building_id").loc[building]
    body = service.get(f"/v1/buildings/{building}/occupancy", "viewer").json()
    months = body["months"]
    assert len(months) == 36 and months[-1]["month"] == date.today().strftime("%Y-%m")
    assert months[-1]["vacant_m2"] == pytest.approx(b["vacant_area_m2"], abs=0.01)
    assert months[-1]["occupied_m2"] == pytest.approx(
        b["total_area_m2"] - b["vacant_area_m2"], abs=0.01
    )
    assert all(
        m["vacant_m2"] + m["occupied_m2"] == pytest.approx(b["total_area_m2"]) for m in months
    )
    short = service.get(f"/v1/buildings/{building}/occupancy", params={"months": 3}).json()
    assert [m["month"] for m in short["months"]] == [m["month"] for m in months[-3:]]


# -- an enterprise's events and tenancies -----------------------------------------------------


def test_enterprise_events_and_tenancies(service: Service) -> None:
    t = _tables(service)
    moved = t["tenancies"]["enterprise_id"].value_counts()
    enterprise = str(moved.index[0])
    body = service.get(f"/v1/enterprises/{enterprise}/tenancies", "viewer").json()
    assert body["total"] == int(moved.iloc[0]) == len(body["items"])
    starts = [i["start_date"] for i in body["items"]]
    assert starts == sorted(starts, reverse=True)
    assert sum(i["current"] for i in body["items"]) <= 1
    assert all(i["building_name"] for i in body["items"])
    courted = str(t["events"]["enterprise_id"].value_counts().index[0])
    events = service.get(f"/v1/enterprises/{courted}/events").json()
    assert events["total"] == int((t["events"]["enterprise_id"] == courted).sum())
    assert {i["enterprise_id"] for i in events["items"]} == {courted}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/buildings/NOPE/events", "/v1/buildings/NOPE/tenants", "/v1/buildings/NOPE/occupancy",
        "/v1/enterprises/NOPE/events", "/v1/enterprises/NOPE/tenancies",
    ],
)  # fmt: skip
def test_unknown_ids_are_404(service: Service, path: str) -> None:
    response = service.get(path, "viewer")
    assert response.status_code == 404, response.text
    assert "NOPE" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("suffix", "params"),
    [
        ("events", {"stage": "married"}), ("events", {"limit": 0}), ("events", {"offset": -1}),
        ("tenants", {"limit": 100000}), ("occupancy", {"months": 0}),
        ("occupancy", {"months": 121}),
    ],
)  # fmt: skip
def test_bad_params_are_422(service: Service, suffix: str, params: dict[str, object]) -> None:
    response = service.get(f"/v1/buildings/{service.own_building}/{suffix}", params=params)
    assert response.status_code == 422, response.text


def test_page_above_the_servers_limit_is_422(service: Service) -> None:
    too_big = service.settings.max_page_size + 1
    response = service.get("/v1/enterprises/X/tenancies", params={"limit": too_big})
    assert response.status_code == 422 and "limit" in response.json()["error"]["message"]


@pytest.mark.parametrize("who", ["none", "bad"])
def test_history_routes_need_a_key(service: Service, who: str) -> None:
    assert service.get(f"/v1/buildings/{service.own_building}/events", who).status_code == 401


# -- server-side search -----------------------------------------------------------------------


def test_building_search_by_grade_text_and_vacancy_pages_in_the_database(service: Service) -> None:
    b = service.tables["buildings"]
    grade = str(b["grade"].dropna().iloc[0])
    body = service.get("/v1/buildings", "viewer", params={"grade": grade, "limit": 5}).json()
    assert body["total"] == int((b["grade"] == grade).sum())
    assert {i["grade"] for i in body["items"]} == {grade} and len(body["items"]) <= 5
    name = str(b["name"].iloc[5])
    found = service.get("/v1/buildings", params={"q": name[1:4], "min_vacant_m2": 0}).json()
    assert str(b["building_id"].iloc[5]) in [i["building_id"] for i in found["items"]]
    page = service.get("/v1/buildings", params={"limit": 10, "offset": 10}).json()
    assert page["total"] == len(b)
    assert [i["building_id"] for i in page["items"]] == sorted(b["building_id"])[10:20]
    assert service.get("/v1/buildings", params={"grade": "gold"}).status_code == 422


def test_enterprise_search_by_code_or_name(service: Service) -> None:
    e = service.tables["enterprises"]
    code = str(e["enterprise_id"].iloc[7])
    by_code = service.get("/v1/enterprises", "viewer", params={"q": code[-6:]}).json()
    assert code in [i["enterprise_id"] for i in by_code["items"]]
    name = str(e["name"].iloc[7])
    by_name = service.get("/v1/enterprises", params={"q": name}).json()
    assert by_name["total"] >= 1 and by_name["items"][0]["name"].find(name) >= 0
