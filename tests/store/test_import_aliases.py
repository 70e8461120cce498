"""Import of files written as Chinese offices write them: Chinese headers and labels, thousands
separators and unit suffixes; every rejected cell explained in Chinese as well as English."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tenantmatch.registry import TABLES_BY_NAME, ValidationFailed, label_zh
from tenantmatch.store import (
    Repository,
    bulk_upload,
    error_record,
    import_dataset,
    reason_zh,
    validate_dataset,
)
from tenantmatch.store.messages import UNKNOWN_PREFIX
from tenantmatch.store.validation import validate_table
from tests.store.contract_folder import csv_text, tiny_dataset, write_contract_folder
from tests.store.test_import import BAD_CELLS, _contents, _edited

CJK = re.compile(r"[\u4e00-\u9fff]")
Rows = list[dict[str, Any]]
# (table, column) -> how a person writes the tiny dataset's number there
WRITTEN = {
    ("buildings", "total_area_m2"): lambda v: f"{float(v):,.0f}㎡",
    ("buildings", "vacant_area_m2"): lambda v: f"{float(v):,.2f} 平方米",
    ("buildings", "min_unit_m2"): lambda v: f"{float(v):g}m²",
    ("buildings", "rent_cny_m2_day"): lambda v: f"{float(v):g}元/平方米·天",
    ("buildings", "floors"): lambda v: f"{int(v)}层",
    ("enterprises", "employees"): lambda v: f"{int(v):,}人",
    ("enterprises", "registered_capital_10k_cny"): lambda v: f"{float(v):,.1f}万元",
    ("links", "weight"): lambda v: f"{float(v) * 100:g}%",
    ("tenancies", "area_m2"): lambda v: f"{float(v):,.0f}",
}


def _in_chinese(data: dict[str, Rows]) -> dict[str, Rows]:
    """The same rows with Chinese headers, Chinese labels for codes, written numbers."""
    out: dict[str, Rows] = {}
    for name, rows in data.items():
        table = TABLES_BY_NAME[name]
        out[name] = []
        for row in rows:
            written: dict[str, Any] = {}
            for key, value in row.items():
                column = table.column(key)
                if value is not None and column.type in ("enum", "list"):
                    value = "、".join(label_zh(v) for v in str(value).split(";"))
                elif isinstance(value, int | float) and (name, key) in WRITTEN:
                    value = WRITTEN[name, key](value)
                written[column.label_zh] = value
            out[name].append(written)
    return out


def _repo(tmp_path: Path, name: str) -> Repository:
    return Repository(f"sqlite:///{tmp_path / name}")


@pytest.mark.parametrize(("fmt", "encoding"), [("csv", "utf-8"), ("csv", "gb18030"), ("xlsx", "")])
def test_a_chinese_folder_imports_the_same_content(tmp_path: Path, fmt: str, encoding: str) -> None:
    english = _repo(tmp_path, "en.db")
    import_dataset(write_contract_folder(tmp_path / "en"), english)
    chinese = _repo(tmp_path, "zh.db")
    folder = write_contract_folder(
        tmp_path / "zh", _in_chinese(tiny_dataset()), fmt=fmt, encoding=encoding
    )
    header = (folder / f"buildings.{fmt}").read_bytes()
    assert fmt == "xlsx" or "楼宇编号".encode(encoding) in header
    report = import_dataset(folder, chinese)
    assert report.errors == []
    got, want = _contents(chinese), _contents(english)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_like=True)


@pytest.mark.parametrize(("table", "column", "text", "value"), [
    ("buildings", "total_area_m2", "15,180", 15180.0),
    ("buildings", "total_area_m2", "12365.92㎡", 12365.92),
    ("buildings", "total_area_m2", "1,234,567.5 m2", 1234567.5),
    ("buildings", "total_area_m2", "１５，１８０平米", 15180.0),
    ("buildings", "rent_cny_m2_day", "3.5 元/㎡/天", 3.5),
    ("buildings", "completed_year", "2,018年", 2018),
    ("enterprises", "revenue_10k_cny", "8,600万元", 8600.0),
    ("enterprises", "employees", "1,200 人", 1200),
    ("enterprises", "credit_score", "88.5分", 88.5),
    ("links", "weight", "35%", 0.35),
    ("links", "weight", "0.35", 0.35),
])  # fmt: skip
def test_written_numbers_are_read(table: str, column: str, text: str, value: float) -> None:
    data = tiny_dataset()
    raw = pd.DataFrame(data[table]).astype(object).where(lambda f: f.notna(), "")
    raw = raw.map(_plain).head(1)
    raw[column] = text
    result = validate_table(table, raw, file=f"{table}.csv")
    assert [e for e in result.errors if e.column == column] == []
    assert result.frame[column].iloc[0] == pytest.approx(value)


def _plain(value: object) -> str:
    return value if isinstance(value, str) else str(value)


@pytest.mark.parametrize(("column", "text"), [
    ("total_area_m2", "1,2"),  # not groups of three
    ("total_area_m2", "15,18,0"),
    ("total_area_m2", "15%"),  # a unit of another column
    ("total_area_m2", "800万元"),
    ("total_area_m2", "12㎡㎡"),  # one suffix only
    ("total_area_m2", "㎡"),
    ("total_area_m2", "约1200㎡"),
    ("smart_5a", "5项"),  # no units at all here
])  # fmt: skip
def test_other_writings_are_rejected_naming_the_units(column: str, text: str) -> None:
    raw = pd.DataFrame(tiny_dataset()["buildings"]).astype(object).where(lambda f: f.notna(), "")
    raw = raw.map(_plain)
    raw.loc[0, column] = text
    result = validate_table("buildings", raw, file="buildings.csv")
    (error,) = [e for e in result.errors if e.column == column]
    assert error.row == 2 and error.value == text
    assert error.reason.startswith("not a number: expected a decimal such as 1200.5")
    assert ("units allowed: ㎡, m², m2, 平方米, 平米" in error.reason) == (column != "smart_5a")
    assert error.reason_zh.startswith("不是数字")
    assert result.rejected_rows.tolist() == [2]


def test_chinese_labels_are_stored_as_codes_and_bad_labels_named() -> None:
    raw = pd.DataFrame(tiny_dataset()["buildings"]).astype(object).where(lambda f: f.notna(), "")
    raw = raw.map(_plain)
    raw.loc[0, ["theme", "grade", "amenities"]] = ["金融服务型", "超甲级", "地铁；停车、餐饮;gym"]
    raw.loc[1, "theme"] = "金融型"
    result = validate_table("buildings", raw, file="buildings.csv")
    row = result.frame.loc[2]
    assert (row["theme"], row["grade"]) == ("finance", "super_a")
    assert row["amenities"] == "catering;gym;metro;parking"
    (error,) = result.errors
    assert (error.row, error.column, error.value) == (3, "theme", "金融型")
    assert error.reason.startswith("must be one of: finance, professional_services")
    assert error.reason_zh.startswith("须为以下之一：金融服务型（finance）、中介服务型")


def test_a_column_named_in_english_and_chinese_is_a_duplicate() -> None:
    raw = pd.DataFrame({"building_id": ["B1"], "楼宇编号": ["B1"], "name": ["a"], "city": ["c"],
                        "district": ["d"], "theme": ["general"], "total_area_m2": ["10"],
                        "vacant_area_m2": ["0"]})  # fmt: skip
    result = validate_table("buildings", raw, file="b.csv")
    (error,) = result.errors
    assert (error.row, error.column) == (1, "building_id")
    assert "appears more than once" in error.reason and "出现了不止一次" in error.reason_zh
    assert len(result.frame) == 0


def _every_reason(tmp_path: Path) -> list[Any]:
    """Rejected cells of every kind the checks know (the import tests' BAD_CELLS and more)."""
    errors = []
    for i, (table, index, cells, *_rest) in enumerate(BAD_CELLS):
        folder = write_contract_folder(tmp_path / f"f{i}", _edited(table, index, **cells))
        errors += validate_dataset(folder).errors
    data = tiny_dataset()
    data["enterprises"].append(dict(data["enterprises"][0]))  # duplicate id
    data["events"].append({**data["events"][0], "date": "2024-13-01"})  # not a date
    data["links"].append({**data["links"][0], "weight": 0.9})  # same key, other values
    folder = write_contract_folder(tmp_path / "more", data)
    (folder / "tenancies.csv").write_text("enterprise_id,building_id,start_date\nE1,B1\n")
    errors += validate_dataset(folder).errors
    (folder / "events.csv").write_bytes(b"")
    (folder / "links.csv").write_text("source_id,source_id,relation\n")
    (folder / "buildings.csv").write_text(csv_text(["building_id", "name"], []))
    errors += validate_dataset(folder).errors
    return errors


def test_every_reason_has_its_own_chinese_wording(tmp_path: Path) -> None:
    errors = _every_reason(tmp_path)
    reasons = {e.reason: e.reason_zh for e in errors}
    assert len(reasons) >= 25
    for english, chinese in reasons.items():
        assert chinese and not chinese.startswith(UNKNOWN_PREFIX), english
        assert CJK.search(chinese), english
        assert reason_zh(english) == chinese
    assert reason_zh("something new") == UNKNOWN_PREFIX + "something new"


def test_rejects_csv_carries_both_languages(tmp_path: Path) -> None:
    data = _in_chinese(_edited("enterprises", 2, employees="many"))
    folder = write_contract_folder(tmp_path / "f", data)
    repo = _repo(tmp_path, "t.db")
    report = import_dataset(folder, repo, skip_invalid=True)
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["file"], r["row"], r["column"]) for r in rows] == [
        ("enterprises.csv", "4", "employees"),
        ("tenancies.csv", "3", "enterprise_id"),
    ]
    assert rows[0]["reason"].startswith("not a number")
    assert rows[0]["reason_zh"].startswith("不是数字")
    assert rows[1]["reason"] == "refers to a row of enterprises that was rejected"
    assert rows[1]["reason_zh"] == "引用的企业记录本身未通过校验"


def test_an_upload_reports_rows_in_chinese(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "t.db")
    import_dataset(write_contract_folder(tmp_path / "base"), repo)
    rows = _in_chinese(tiny_dataset())["buildings"]
    rows[1]["楼宇主题"] = "赌场"
    content = csv_text(list(rows[0]), rows).encode("gb18030")
    with pytest.raises(ValidationFailed) as failed:
        bulk_upload(repo, table="buildings", filename="楼宇.csv", content=content,
                    skip_invalid=False)  # fmt: skip
    assert failed.value.table == "buildings"
    (record,) = [error_record(e, table="buildings") for e in failed.value.errors]
    assert record == {
        "file": "楼宇.csv", "row": 3, "column": "theme", "column_zh": "楼宇主题", "value": "赌场",
        "reason": record["reason"], "reason_zh": record["reason_zh"],
    }  # fmt: skip
    assert record["reason"].startswith("must be one of:")
    assert "综合型（general）" in record["reason_zh"]
    out = bulk_upload(repo, table="buildings", filename="楼宇.csv", content=content,
                      skip_invalid=True)  # fmt: skip
    assert out["tables"]["buildings"]["rejected"] == 1
    assert out["errors"] == [record]
