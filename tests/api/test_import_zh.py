"""The admin import answers its row report in Chinese as well as English: for a refused file (the
400 answer lists the rows) and for --skip-invalid (the 200 answer does); Chinese headers, labels
and written numbers import."""

from __future__ import annotations

import io

from tests.api.conftest import Service

HEADER_ZH = "楼宇编号,楼宇名称,城市,区县,楼宇主题,总面积,空置面积,配套设施\n"


def _upload(svc: Service, text: str, *, skip: bool = False, encoding: str = "gb18030"):  # type: ignore[no-untyped-def]
    files = {"file": ("楼宇台账.csv", io.BytesIO(text.encode(encoding)), "text/csv")}
    data = {"table": "buildings", "skip_invalid": str(skip).lower()}
    return svc.client.post("/v1/admin/import", data=data, files=files,
                           headers=svc.headers("admin"))  # fmt: skip


def test_a_chinese_sheet_imports(fresh_service: Service) -> None:
    svc = fresh_service
    row = "Z1,中文大厦,太原市,小店区,金融服务型,\"15,180㎡\",2000平方米,地铁、停车\n"
    ok = _upload(svc, HEADER_ZH + row)
    assert ok.status_code == 200, ok.text
    assert ok.json()["tables"]["buildings"]["inserted"] == 1 and ok.json()["errors"] == []
    stored = svc.get("/v1/buildings/Z1").json()
    assert (stored["theme"], stored["total_area_m2"], stored["vacant_area_m2"]) == (
        "finance", 15180.0, 2000.0)  # fmt: skip
    assert stored["amenities"] == ["metro", "parking"]


def test_a_refused_sheet_lists_its_rows_in_both_languages(fresh_service: Service) -> None:
    svc = fresh_service
    good = "Z2,好楼,太原市,小店区,综合型,1000,10,\n"
    bad = HEADER_ZH + good + "Z3,坏楼,太原市,小店区,赌场,\"1,2\",10,\n"
    refused = _upload(svc, bad)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid_data" and "theme" in error["message"]
    rows = {(e["row"], e["column"]): e for e in error["errors"]}
    assert set(rows) == {(3, "theme"), (3, "total_area_m2")}
    theme = rows[3, "theme"]
    assert theme["file"] == "楼宇台账.csv" and theme["value"] == "赌场"
    assert theme["column_zh"] == "楼宇主题" and theme["reason"].startswith("must be one of:")
    assert theme["reason_zh"].startswith("须为以下之一：金融服务型（finance）")
    assert rows[3, "total_area_m2"]["reason_zh"].startswith("不是数字")
    assert svc.get("/v1/buildings/Z2").status_code == 404  # all or nothing
    partial = _upload(svc, bad, skip=True)
    assert partial.status_code == 200
    assert [(e["row"], e["column_zh"]) for e in partial.json()["errors"]] == [
        (3, "楼宇主题"), (3, "总面积")]  # fmt: skip
    assert svc.get("/v1/buildings/Z2").status_code == 200
