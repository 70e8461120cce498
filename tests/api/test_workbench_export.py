"""Exports: shortlists, chain leads and fill plans as CSV and XLSX files with Chinese headers,
read back and compared with the JSON answer; formula text neutralised."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import openpyxl
import pytest

from tenantmatch.models import read_manifest
from tenantmatch.store import upsert_enterprise
from tests.api.conftest import Service, World

HYPERLINK = '=HYPERLINK("http://evil.example/","点击领取补贴")'


def _sheet(body: bytes) -> list[list[Any]]:
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    assert ws is not None
    return [list(row) for row in ws.iter_rows(values_only=True)]


def _by_header(rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_building_shortlist_json_is_unchanged_by_default(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/shortlist"
    plain = service.get(path, params={"k": 5})
    explicit = service.get(path, params={"k": 5, "format": "json"})
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == explicit.json()
    item = plain.json()["items"][0]
    # what staff decide on travels with every item
    vacant = service.tables["buildings"].set_index("building_id")["vacant_area_m2"]
    assert item["vacant_m2"] == pytest.approx(vacant[service.own_building], abs=0.01)
    assert {"industry_code", "industry_zh", "employees", "need_m2"} <= set(item)


def test_probability_pct_follows_the_served_calibration(service: Service, world: World) -> None:
    items = service.get(f"/v1/buildings/{service.own_building}/shortlist", params={"k": 5}).json()
    calibration = read_manifest(world.models, world.version).get("calibration")
    if not calibration:  # no Platt fit stored: no number that only looks like a probability
        assert all("probability_pct" not in i for i in items["items"])
        return
    a, b = calibration["a"], calibration["b"]
    for item in items["items"]:
        expected = 100 / (1 + math.exp(-(a * item["score"] + b)))
        assert item["probability_pct"] == pytest.approx(expected, abs=0.06)


def test_building_shortlist_as_xlsx_matches_the_json(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/shortlist"
    items = service.get(path, "viewer", params={"k": 8}).json()["items"]
    response = service.get(path, "viewer", params={"k": 8, "format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"shortlist-{service.own_building}.xlsx" in (
        disposition
    )
    rows = _by_header(_sheet(response.content))
    assert [r["排名"] for r in rows] == [i["rank"] for i in items]
    assert [r["企业编号"] for r in rows] == [i["enterprise_id"] for i in items]
    assert [r["企业名称"] for r in rows] == [i["name"] for i in items]
    assert [r["模型得分"] for r in rows] == pytest.approx([i["score"] for i in items])
    assert rows[0]["推荐理由"] == "；".join(r["text"] for r in items[0]["reasons"])
    assert rows[0]["行业"] == items[0]["industry_zh"]


def test_enterprise_shortlist_as_csv(service: Service) -> None:
    enterprise_id = str(service.tables["enterprises"]["enterprise_id"].iloc[3])
    path = f"/v1/enterprises/{enterprise_id}/shortlist"
    items = service.get(path, params={"k": 5}).json()["items"]
    response = service.get(path, params={"k": 5, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["排名", "楼宇编号", "楼宇名称"]
    assert [r[1] for r in rows[1:]] == [i["building_id"] for i in items]


def test_chain_leads_as_csv(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/chain-leads"
    items = service.get(path, params={"k": 10}).json()["items"]
    response = service.get(path, params={"k": 10, "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["排名", "企业编号", "企业名称", "关联在驻企业编号", "关联在驻企业"]
    assert [r[1] for r in rows[1:]] == [i["enterprise_id"] for i in items]


def test_fill_plan_as_xlsx(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/plan"
    body = {"candidates": 40, "pool_size": 200}
    plan = service.client.post(path, json=body, headers=service.headers("op_own")).json()
    response = service.client.post(path, json=body, params={"format": "xlsx"},
                                   headers=service.headers("op_own"))  # fmt: skip
    assert response.status_code == 200, response.text
    rows = _by_header(_sheet(response.content))
    items = plan["fill_plan"]["items"]
    assert [r["企业编号"] for r in rows] == [i["enterprise_id"] for i in items]
    assert [r["分配面积(㎡)"] for r in rows] == pytest.approx([i["area_m2"] for i in items])
    assert [r["签约概率(%)"] for r in rows] == pytest.approx(
        [round(100 * i["probability"], 1) for i in items]
    )


def test_a_formula_name_comes_out_neutralised(fresh_service: Service) -> None:
    svc = fresh_service
    path = f"/v1/buildings/{svc.own_building}/shortlist"
    first = svc.get(path, params={"k": 5}).json()["items"][0]["enterprise_id"]
    upsert_enterprise(svc.repo, {"enterprise_id": first, "name": HYPERLINK})
    items = svc.get(path, params={"k": 5}, after=svc.repo.data_version()).json()["items"]
    assert HYPERLINK in [i["name"] for i in items]  # the JSON keeps the name as it is
    rows = _by_header(_sheet(svc.get(path, params={"k": 5, "format": "xlsx"}).content))
    named = [r for r in rows if r["企业编号"] == first]
    assert named and named[0]["企业名称"] == "'" + HYPERLINK
    text = svc.get(path, params={"k": 5, "format": "csv"}).content.decode("utf-8-sig")
    assert f"'{HYPERLINK}" in list(csv.reader(io.StringIO(text)))[1 + items.index(
        next(i for i in items if i["enterprise_id"] == first))]  # fmt: skip


@pytest.mark.parametrize("fmt", ["pdf", "XLSX", ""])
def test_unknown_format_is_422(service: Service, fmt: str) -> None:
    path = f"/v1/buildings/{service.own_building}/shortlist"
    response = service.get(path, params={"format": fmt})
    assert response.status_code == 422 and "format" in response.text
    plan_path = f"/v1/buildings/{service.own_building}/plan"
    plan = service.client.post(plan_path, json={}, params={"format": fmt},
                               headers=service.headers("admin"))  # fmt: skip
    assert plan.status_code == 422


def test_export_keeps_the_routes_role_rules(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/plan"
    viewer = service.client.post(path, json={}, params={"format": "csv"},
                                 headers=service.headers("viewer"))  # fmt: skip
    assert viewer.status_code == 403
    other = service.client.post(path, json={}, params={"format": "csv"},
                                headers=service.headers("op_other"))  # fmt: skip
    assert other.status_code == 404
    anonymous = service.get(f"/v1/buildings/{service.own_building}/shortlist", "none",
                            params={"format": "csv"})  # fmt: skip
    assert anonymous.status_code == 401
