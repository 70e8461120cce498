"""The live registry through the API: CRUD, lists, staleness, credit visibility, tenancies,
events, bulk import, API keys and the audit log."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import Service

NEW_BUILDING = {
    "name": "龙城金融中心", "city": "太原市", "district": "小店区", "theme": "finance",
    "grade": "a", "total_area_m2": 20000.0, "vacant_area_m2": 6000.0, "min_unit_m2": 150.0,
    "amenities": ["metro", "catering"],
}  # fmt: skip


def _send(svc: Service, method: str, path: str, who: str = "admin", **kwargs: object):  # type: ignore[no-untyped-def]
    return svc.client.request(method, path, headers=svc.headers(who), **kwargs)


def test_building_create_read_update_delete(fresh_service: Service) -> None:
    svc = fresh_service
    created = _send(svc, "PUT", "/v1/buildings/NEW1", "op_own", json=NEW_BUILDING)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["operator_id"] == svc.own_operator  # an operator's new building is its own
    assert body["theme_zh"] == "金融服务型" and body["amenities"] == ["catering", "metro"]
    assert body["stale"] is False
    updated = _send(svc, "PUT", "/v1/buildings/NEW1", "op_own", json={"vacant_area_m2": 5000.0})
    assert updated.json()["vacant_area_m2"] == 5000.0 and updated.json()["name"] == "龙城金融中心"
    cleared = _send(svc, "PUT", "/v1/buildings/NEW1", "op_own", json={"min_unit_m2": None})
    assert cleared.json()["min_unit_m2"] is None
    assert svc.get("/v1/buildings/NEW1", "viewer").json()["vacant_area_m2"] == 5000.0
    assert _send(svc, "DELETE", "/v1/buildings/NEW1", "op_own").json() == {"deleted": "NEW1"}
    assert svc.get("/v1/buildings/NEW1").status_code == 404


def test_operator_cannot_give_building_away(fresh_service: Service) -> None:
    svc = fresh_service
    body = {**NEW_BUILDING, "operator_id": svc.other_operator}
    response = _send(svc, "PUT", "/v1/buildings/NEW2", "op_own", json=body)
    assert response.status_code == 403
    response = _send(svc, "PUT", f"/v1/buildings/{svc.own_building}", "op_own",
                     json={"operator_id": svc.other_operator})  # fmt: skip
    assert response.status_code == 403
    assert svc.get(f"/v1/buildings/{svc.own_building}").json()["operator_id"] == svc.own_operator


def test_new_building_missing_fields_is_400(fresh_service: Service) -> None:
    response = _send(fresh_service, "PUT", "/v1/buildings/NEW3", json={"name": "半截大厦"})
    assert response.status_code == 400
    assert "city" in response.json()["error"]["message"]


def test_building_list_filters_paging_and_stale(fresh_service: Service) -> None:
    svc = fresh_service
    everything = svc.get("/v1/buildings", "viewer", params={"limit": 500}).json()
    assert everything["total"] == len(svc.tables["buildings"]) == len(everything["items"])
    page = svc.get("/v1/buildings", params={"limit": 7, "offset": 7}).json()
    assert [b["building_id"] for b in page["items"]] == [
        b["building_id"] for b in everything["items"][7:14]
    ]
    city = everything["items"][0]["city"]
    in_city = svc.get("/v1/buildings", params={"city": city, "limit": 500}).json()
    assert in_city["total"] == sum(b["city"] == city for b in everything["items"])
    mine = svc.get("/v1/buildings", params={"operator_id": svc.own_operator, "limit": 500}).json()
    assert {b["operator_id"] for b in mine["items"]} == {svc.own_operator}
    old = datetime.now(UTC) - timedelta(days=svc.settings.stale_days + 5)
    engine = create_engine(svc.settings.db)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE buildings SET updated_at = :t WHERE building_id = :b"),
            {"t": old.strftime("%Y-%m-%d %H:%M:%S.%f"), "b": svc.other_building},
        )
    engine.dispose()
    svc.fresh_building(svc.own_operator)  # a write raises data_version; raw SQL did not
    stale = svc.get("/v1/buildings", params={"stale": "true"}).json()
    assert [b["building_id"] for b in stale["items"]] == [svc.other_building]
    assert stale["items"][0]["stale"] is True


def test_enterprise_crud_and_credit_visibility(fresh_service: Service) -> None:
    svc = fresh_service
    body = {
        "name": "晋商数据科技有限公司", "industry_code": "I65", "employees": 40,
        "tags": ["high_tech"], "credit_score": 55.0, "risk_flags": ["tax_violation"],
    }  # fmt: skip
    refused = _send(svc, "PUT", "/v1/enterprises/E-NEW", "op_own", json=body)
    assert refused.status_code == 403, refused.text  # credit and tags are admins' (issue 21)
    assert svc.get("/v1/enterprises/E-NEW").status_code == 404
    created = _send(svc, "PUT", "/v1/enterprises/E-NEW", "admin", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["industry_code"] == "65" and created.json()["credit_score"] == 55.0
    as_viewer = svc.get("/v1/enterprises/E-NEW", "viewer").json()
    assert "credit_score" not in as_viewer and "risk_flags" not in as_viewer
    as_operator = svc.get("/v1/enterprises/E-NEW", "op_other").json()
    assert as_operator["risk_flags"] == ["tax_violation"]
    listed = svc.get("/v1/enterprises", "viewer", params={"q": "晋商数据"}).json()
    assert listed["total"] == 1 and "credit_score" not in listed["items"][0]
    tagged = svc.get("/v1/enterprises", params={"tag": "high_tech", "limit": 500}).json()
    assert all("high_tech" in e["tags"] for e in tagged["items"])
    assert _send(svc, "DELETE", "/v1/enterprises/E-NEW", "op_own").status_code == 403
    assert _send(svc, "DELETE", "/v1/enterprises/E-NEW").status_code == 200


def test_move_in_leaves_shortlist_and_lowers_vacancy(fresh_service: Service) -> None:
    svc = fresh_service
    path = f"/v1/buildings/{svc.own_building}/shortlist"
    first = svc.get(path, "op_own", params={"k": 5}).json()["items"][0]["enterprise_id"]
    vacant = svc.get(f"/v1/buildings/{svc.own_building}").json()["vacant_area_m2"]
    moved = _send(svc, "POST", "/v1/tenancies/move-in", "op_own", json={
        "enterprise_id": first, "building_id": svc.own_building,
        "start_date": date.today().isoformat(), "area_m2": 120.0,
    })  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["end_date"] is None and moved.json()["area_m2"] == 120.0
    after = svc.get(path, "op_own", params={"k": 50}, after=moved).json()["items"]
    assert first not in {i["enterprise_id"] for i in after}
    assert svc.get(f"/v1/buildings/{svc.own_building}").json()["vacant_area_m2"] == pytest.approx(
        vacant - 120.0
    )
    out = _send(svc, "POST", "/v1/tenancies/move-out", "op_own", json={
        "enterprise_id": first, "building_id": svc.own_building,
        "end_date": (date.today() + timedelta(days=30)).isoformat(),
    })  # fmt: skip
    assert out.status_code == 200 and out.json()["end_date"]
    restored = svc.get(f"/v1/buildings/{svc.own_building}").json()["vacant_area_m2"]
    assert restored == pytest.approx(vacant)


def test_move_in_larger_than_vacancy_is_refused(fresh_service: Service) -> None:
    svc = fresh_service
    building_id = svc.fresh_building(svc.own_operator, vacant=200.0)
    response = _send(svc, "POST", "/v1/tenancies/move-in", "op_own", json={
        "enterprise_id": svc.fresh_enterprise(), "building_id": building_id,
        "start_date": "2026-11-01", "area_m2": 500.0,
    })  # fmt: skip
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    message = response.json()["error"]["message"]
    assert "500" in message and "200" in message and "空置面积" in message and "vacant" in message
    assert svc.get(f"/v1/buildings/{building_id}").json()["vacant_area_m2"] == 200.0


def test_event_is_recorded(fresh_service: Service) -> None:
    svc = fresh_service
    enterprise_id = svc.fresh_enterprise()
    event = {"enterprise_id": enterprise_id, "building_id": svc.own_building,
             "date": "2026-11-02", "stage": "visited"}  # fmt: skip
    response = _send(svc, "POST", "/v1/events", "op_own", json=event)
    assert response.status_code == 200, response.text
    events = svc.repo.load_table("events")
    mine = events[events["enterprise_id"] == enterprise_id]
    assert mine["stage"].tolist() == ["visited"]


def _upload(svc: Service, csv: str, *, table: str = "buildings", skip: bool = False):  # type: ignore[no-untyped-def]
    files = {"file": ("buildings.csv", io.BytesIO(csv.encode("utf-8")), "text/csv")}
    data = {"table": table, "skip_invalid": str(skip).lower()}
    return _send(svc, "POST", "/v1/admin/import", data=data, files=files)


HEADER = "building_id,name,city,district,theme,total_area_m2,vacant_area_m2\n"


def test_import_upload_all_or_nothing(fresh_service: Service) -> None:
    svc = fresh_service
    good = HEADER + "U1,上传大厦一,太原市,小店区,finance,1000,400\n"
    ok = _upload(svc, good)
    assert ok.status_code == 200, ok.text
    assert ok.json()["tables"]["buildings"]["inserted"] == 1
    bad = (
        HEADER
        + "U2,上传大厦二,太原市,小店区,finance,1000,400\nU3,坏行,太原市,小店区,nope,1000,2000\n"
    )
    refused = _upload(svc, bad)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_data"
    assert "theme" in refused.json()["error"]["message"]
    assert svc.get("/v1/buildings/U2").status_code == 404
    partial = _upload(svc, bad, skip=True)
    assert partial.status_code == 200 and partial.json()["tables"]["buildings"]["rejected"] == 1
    assert {e["column"] for e in partial.json()["errors"]} >= {"theme"}
    assert svc.get("/v1/buildings/U2").status_code == 200


def test_import_upload_too_large_is_413(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import start_service

    for svc in start_service(world, tmp_path, max_upload_mb=1):
        big = HEADER + "U9,大,太原市,小店区,finance,1000,400\n" * 60_000
        response = _upload(svc, big)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


def test_keys_lifecycle_and_audit(fresh_service: Service) -> None:
    svc = fresh_service
    body = {"role": "operator", "operator_id": "OPX", "expires_in_days": 30}
    created = _send(svc, "POST", "/v1/admin/keys", json=body)
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["key_id"]
    made, expires = (
        datetime.fromisoformat(created.json()[f]) for f in ("created_at", "expires_at")
    )
    assert expires - made == timedelta(days=30)
    listed = _send(svc, "GET", "/v1/admin/keys").json()["items"]
    assert {k["key_id"]: k["expires_at"] for k in listed}[key_id] is not None
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert svc.client.get("/v1/buildings", headers={"X-API-Key": key}).status_code == 200
    assert _send(svc, "DELETE", f"/v1/admin/keys/{key_id}").json() == {
        "key_id": key_id,
        "changed": True,
    }
    assert svc.client.get("/v1/buildings", headers={"X-API-Key": key}).status_code == 401
    bad_role = _send(svc, "POST", "/v1/admin/keys", json={"role": "operator"})
    assert bad_role.status_code == 400  # an operator key needs operator_id
    actions = [(a["action"], a["target"]) for a in svc.repo.read_audit(limit=10)]
    assert ("key.create", key_id) in actions and ("key.revoke", key_id) in actions
    assert all(key not in str(a) for a in svc.repo.read_audit(limit=50))


def test_writes_and_shortlists_are_audited(fresh_service: Service) -> None:
    svc = fresh_service
    svc.get(
        f"/v1/buildings/{svc.own_building}/shortlist", "viewer", params={"k": 3, "city": "太原市"}
    )
    _send(svc, "PUT", "/v1/buildings/AUD1", "op_own", json=NEW_BUILDING)
    svc.get("/v1/buildings/AUD1/shortlist", "viewer", params={"k": 200000})  # refused: not logged
    entries = svc.repo.read_audit(limit=5)
    assert [e["action"] for e in entries[:2]] == ["building.upsert", "shortlist.building"]
    viewer_id = svc.keys["viewer"].split("_")[1]
    shortlist = entries[1]
    assert shortlist["key_id"] == viewer_id and shortlist["target"] == svc.own_building
    assert "太原市" in shortlist["detail"] and shortlist["ts"] is not None
