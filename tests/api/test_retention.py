"""Retention watch through the real app: at-risk tenants of a building and the 12-month outlook."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from tests.api.conftest import Service

CJK = re.compile(r"[\u4e00-\u9fff]")


def _open_tenancies(svc: Service) -> pd.DataFrame:
    ten = svc.repo.load_table("tenancies")
    return ten[ten["end_date"].isna()]


def _busiest_building(svc: Service) -> str:
    return str(_open_tenancies(svc)["building_id"].value_counts().index[0])


def _at_risk(svc: Service, building_id: str, who: str = "viewer", **params: Any) -> dict[str, Any]:
    response = svc.get(f"/v1/buildings/{building_id}/at-risk-tenants", who, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_at_risk_tenants_are_the_buildings_tenants_most_likely_first(service: Service) -> None:
    building = _busiest_building(service)
    tenants = _open_tenancies(service)
    tenants = tenants[tenants["building_id"] == building]
    body = _at_risk(service, building, k=5)
    assert body["query"] == {"building_id": building, "k": 5}
    assert body["horizon_months"] == 12
    assert body["tenants"] == tenants["enterprise_id"].nunique() > 5
    items = body["items"]
    assert len(items) == 5
    probabilities = [i["probability"] for i in items]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 < p < 1 for p in probabilities)
    starts = tenants.groupby("enterprise_id")["start_date"].min()
    for item in items:
        assert item["start_date"] == starts[item["enterprise_id"]].date().isoformat()
        assert item["tenure_years"] > 0
    # the reasons are the hazard's drivers in staff words
    assert any(item["reasons"] for item in items)
    for item in items:
        for reason in item["reasons"]:
            assert CJK.search(reason["text"]) and reason["weight"] > 0
            assert reason["feature"].startswith("e__")


def test_expected_move_outs_sum_every_tenants_probability(service: Service) -> None:
    building = _busiest_building(service)
    every = _at_risk(service, building, k=service.settings.max_k)
    assert len(every["items"]) == every["tenants"]
    total = sum(i["probability"] for i in every["items"])
    assert every["expected_move_outs"] == pytest.approx(total, abs=0.01)
    top = _at_risk(service, building, k=3)["items"]
    assert top == every["items"][:3]


def test_at_risk_bad_input(service: Service) -> None:
    building = _busiest_building(service)
    path = f"/v1/buildings/{building}/at-risk-tenants"
    assert service.get("/v1/buildings/NO_SUCH/at-risk-tenants").status_code == 404
    for k in (0, service.settings.max_k + 1, 501, "x"):
        response = service.get(path, params={"k": k})
        assert response.status_code == 422 and "k" in response.text, k
    assert service.get(path, params={"kk": 1}).status_code == 422
    assert service.get(path, "none").status_code == 401


def _outlook(svc: Service, **params: Any) -> dict[str, Any]:
    response = svc.get("/v1/stats/outlook", "viewer", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("by", ["building", "district", "theme"])
def test_outlook_rows_add_up_to_the_totals(service: Service, by: str) -> None:
    body = _outlook(service, by=by, limit=service.settings.max_page_size)
    totals, items = body["totals"], body["items"]
    assert body["groups"] == len(items)
    buildings = service.tables["buildings"]
    assert totals["buildings"] == len(buildings)
    assert totals["tenants"] == len(
        _open_tenancies(service).drop_duplicates(["enterprise_id", "building_id"])
    )
    for key in ("buildings", "tenants", "expected_move_outs", "expected_vacated_m2"):
        assert sum(row[key] for row in items) == pytest.approx(totals[key], rel=1e-3, abs=0.1)
    assert totals["vacant_area_m2"] == pytest.approx(buildings["vacant_area_m2"].sum(), rel=1e-6)
    assert 0 < totals["expected_move_outs"] < totals["tenants"]
    assert totals["expected_vacant_m2_12m"] >= totals["vacant_area_m2"]
    vacated = [row["expected_vacated_m2"] for row in items]
    assert vacated == sorted(vacated, reverse=True)
    expected_keys = {"building": "building_id", "district": "district", "theme": "theme_zh"}
    assert all(row[expected_keys[by]] for row in items)


def test_outlook_filters_by_city_and_district(service: Service) -> None:
    buildings = service.tables["buildings"]
    city, district = buildings[["city", "district"]].iloc[0]
    in_city = _outlook(service, by="district", city=city)
    assert in_city["totals"]["buildings"] == int((buildings["city"] == city).sum())
    assert {row["city"] for row in in_city["items"]} == {city}
    one = _outlook(service, by="building", city=city, district=district)
    assert {row["district"] for row in one["items"]} == {district}
    top = _outlook(service, by="building", limit=3)
    assert len(top["items"]) == 3 and top["groups"] == len(buildings)


def test_outlook_bad_input(service: Service) -> None:
    for params in ({"by": "city"}, {"limit": 0}, {"limit": 5001}, {"bogus": 1}):
        response = service.get("/v1/stats/outlook", params=params)
        assert response.status_code == 422, params
    over = service.settings.max_page_size + 1
    response = service.get("/v1/stats/outlook", params={"limit": over})
    assert response.status_code == 422 and "limit" in response.text
    assert service.get("/v1/stats/outlook", "none").status_code == 401
