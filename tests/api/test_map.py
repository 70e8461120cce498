"""The map routes: every building as compact columns (key needed), public district outlines."""

from __future__ import annotations

from tests.api.conftest import Service


def test_map_buildings_match_the_registry(service: Service) -> None:
    answer = service.get("/v1/map/buildings", "viewer")
    assert answer.status_code == 200
    body = answer.json()
    stored = service.tables["buildings"].sort_values("building_id")
    b = body["buildings"]
    assert body["total"] == len(stored) == len(b["id"]) == len(b["lon"]) == len(b["vacant_m2"])
    assert b["id"] == stored["building_id"].tolist()
    themes = [body["themes"][i] for i in b["theme"]]
    assert themes == stored["theme"].tolist()
    assert b["vacant_m2"] == stored["vacant_area_m2"].round().astype(int).tolist()


def test_map_buildings_need_a_key(service: Service) -> None:
    assert service.get("/v1/map/buildings", "none").status_code == 401


def test_map_outlines_are_public_geojson(service: Service) -> None:
    answer = service.get("/v1/map/outlines", "none")
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 117
    assert body["features"][0]["geometry"]["type"] == "Polygon"
