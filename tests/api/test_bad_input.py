"""Bad input answers a 4xx JSON error naming the problem, never a 500."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.api.conftest import Service

B = "{b}"  # replaced by a real building id
LONG = "长" * 300
SL = f"/v1/buildings/{B}/shortlist"
JSON = {"content-type": "application/json"}


def raw(body: bytes) -> dict[str, Any]:
    """Send ``body`` as-is, declared as JSON."""
    return {"content": body, "headers": JSON}


def upload(name: str, content: bytes, table: str = "buildings") -> dict[str, Any]:
    return {"data": {"table": table}, "files": {"file": (name, content, "text/plain")}}


def move(**fields: Any) -> dict[str, Any]:
    return {"json": {"enterprise_id": "NOPE", "building_id": B, **fields}}


def firm(**fields: Any) -> dict[str, Any]:
    return {"json": {"name": "x", "employees": 1, **fields}}


BAD: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", SL, {"params": {"k": 0}}, 422),
    ("GET", SL, {"params": {"k": "ten"}}, 422),
    ("GET", SL, {"params": {"k": 10**30}}, 422),
    ("GET", SL, {"params": {"hq_type": "castle"}}, 422),
    ("GET", SL, {"params": {"tag": "famous"}}, 422),
    ("GET", SL, {"params": {"industry_section": "Z"}}, 422),
    ("GET", SL, {"params": {"industry_division": "6"}}, 422),
    ("GET", SL, {"params": {"min_need_m2": 500, "max_need_m2": 100}}, 400),
    ("GET", SL, {"params": {"min_need_m2": "nan"}}, 422),
    ("GET", SL, {"params": {"min_need_m2": -1}}, 422),
    ("GET", SL, {"params": {"city": LONG}}, 422),
    ("GET", SL, {"params": {"unknown": "x"}}, 422),
    ("GET", "/v1/buildings/%20/shortlist", {}, 422),
    ("GET", "/v1/buildings/" + "x" * 129, {}, 422),
    ("GET", "/v1/buildings", {"params": {"limit": 0}}, 422),
    ("GET", "/v1/buildings", {"params": {"limit": 100_000}}, 422),
    ("GET", "/v1/buildings", {"params": {"theme": "castle"}}, 422),
    ("GET", "/v1/enterprises", {"params": {"offset": -1}}, 422),
    ("PUT", f"/v1/buildings/{B}", raw(b"{not json"), 422),
    ("PUT", f"/v1/buildings/{B}", raw(b'{"total_area_m2": NaN}'), 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"colour": "red"}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"total_area_m2": -5}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"lat": 80.0}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"vacant_area_m2": 9_000_000}}, 400),
    ("PUT", f"/v1/buildings/{B}", {"json": {"theme": "castle"}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"rent_cny_m2_day": True}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"floors": False}}, 422),
    ("PUT", "/v1/enterprises/NEW1", firm(employees=True), 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"name": LONG}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": {"amenities": ["moat"]}}, 422),
    ("PUT", f"/v1/buildings/{B}", {"json": ["a list"]}, 422),
    ("PUT", "/v1/enterprises/E-BAD", {"json": {"name": "缺字段公司"}}, 400),
    ("PUT", "/v1/enterprises/E-BAD", firm(industry_code="99999"), 422),
    ("PUT", "/v1/enterprises/E-BAD", firm(industry_code="Z99"), 422),
    ("PUT", "/v1/enterprises/E-BAD", firm(industry_code="00"), 400),
    ("POST", "/v1/tenancies/move-in", move(start_date="2026-01-01"), 404),
    ("POST", "/v1/tenancies/move-in", move(start_date="soon"), 422),
    ("POST", "/v1/tenancies/move-in", move(start_date="0001-01-01"), 404),
    ("POST", "/v1/tenancies/move-out", move(end_date="2026-01-01"), 404),
    ("POST", "/v1/events", move(date="2026-01-01", stage="won"), 422),
    ("POST", f"/v1/buildings/{B}/plan", {"json": {"candidates": 0}}, 422),
    ("POST", f"/v1/buildings/{B}/plan", {"json": {"theme": "castle"}}, 422),
    ("POST", "/v1/admin/keys", {"json": {"role": "emperor"}}, 422),
    ("POST", "/v1/admin/keys", {"json": {"role": "viewer", "operator_id": "OP01"}}, 400),
    ("DELETE", "/v1/admin/keys/not-hex", {}, 422),
    ("GET", "/v1/admin/retrain/../../etc", {}, 404),
    ("GET", "/v1/admin/retrain/20260101T000000Z-zzzzzz", {}, 422),
    ("POST", "/v1/admin/import", {"data": {"table": "buildings"}}, 422),
    ("POST", "/v1/admin/import", upload("a.csv", b"x", table="secrets"), 422),
    ("POST", "/v1/admin/import", upload("a.exe", b"MZ"), 400),
    ("POST", "/v1/admin/import", upload("a.csv", b"\xff\xfe\x00garbage"), 400),
    ("POST", "/v1/admin/import", upload("a.parquet", b"not parquet"), 400),
    ("POST", "/v1/admin/import", upload("a.xlsx", b"not a zip"), 400),
]


IDS = [f"{m} {p[:40]} {i}" for i, (m, p, _, _) in enumerate(BAD)]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), BAD, ids=IDS)
def test_bad_input_is_4xx_json(
    service: Service, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    kwargs = dict(kwargs)
    if "json" in kwargs and isinstance(kwargs["json"], dict):
        kwargs["json"] = {
            k: (service.own_building if v == B else v) for k, v in kwargs["json"].items()
        }
    if "files" in kwargs:
        kwargs["files"] = {k: (n, io.BytesIO(c), t) for k, (n, c, t) in kwargs["files"].items()}
    headers = {**kwargs.pop("headers", {}), **service.headers("admin")}
    response = service.client.request(
        method, path.replace(B, service.own_building), headers=headers, **kwargs
    )
    assert response.status_code == status, response.text[:400]
    error = response.json()["error"]
    assert error["code"] and error["message"]
