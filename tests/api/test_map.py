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


def test_map_buildings_revalidate_until_a_write(fresh_service: Service) -> None:
    def get(tag: str | None = None):  # type: ignore[no-untyped-def]
        headers = fresh_service.headers("viewer") | ({"If-None-Match": tag} if tag else {})
        return fresh_service.client.get("/v1/map/buildings", headers=headers)

    tag = get().headers["ETag"]
    same = get(tag)
    assert same.status_code == 304 and same.content == b""
    building = fresh_service.fresh_building(fresh_service.own_operator, vacant=1234.0)
    changed = get(tag)
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    b = changed.json()["buildings"]
    assert b["vacant_m2"][b["id"].index(building)] == 1234


def test_large_answers_are_gzipped_for_clients_that_accept_it(service: Service) -> None:
    """The map's points (2.4 MB at 25,000 buildings) travel compressed; a client that does not
    ask for gzip gets the plain body, and both decode to the same JSON."""
    path, key = "/v1/map/buildings", service.headers("viewer")
    zipped = service.client.get(path, headers={**key, "Accept-Encoding": "gzip"})
    plain = service.client.get(path, headers={**key, "Accept-Encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.json() == plain.json()
