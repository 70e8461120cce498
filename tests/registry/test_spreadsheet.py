"""The spreadsheet writers: formula cells neutralised in CSV and XLSX alike, values kept."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest

from tenantmatch.registry import csv_bytes, neutralise, xlsx_bytes

HYPERLINK = '=HYPERLINK("http://evil.example","点我")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("晋商科技", "晋商科技"),
        ("a=b", "a=b"),
        ("", ""),
        (-1.5, -1.5),
        (3, 3),
        (None, None),
        (date(2026, 1, 2), date(2026, 1, 2)),
    ],
)
def test_neutralise_prefixes_only_text_that_starts_a_formula(
    value: object, expected: object
) -> None:
    assert neutralise(value) == expected  # type: ignore[arg-type]


def test_csv_has_bom_chinese_headers_and_neutralised_cells() -> None:
    body = csv_bytes(["企业名称", "得分"], [[HYPERLINK, -1.09], ["晋商科技", 2.5]])
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [["企业名称", "得分"], ["'" + HYPERLINK, "-1.09"], ["晋商科技", "2.5"]]


def test_xlsx_reads_back_with_values_and_neutralised_formula() -> None:
    body = xlsx_bytes(
        ["企业名称", "得分", "日期"], [[HYPERLINK, -1.09, date(2026, 3, 1)], ["=1+1", 2, None]],
        sheet="推荐企业 B1/B2",
    )  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(body))
    ws = book.active
    assert ws is not None and ws.title == "推荐企业 B1 B2"
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0] == ["企业名称", "得分", "日期"]
    assert values[1][0] == "'" + HYPERLINK and values[1][1] == -1.09
    assert values[1][2].date() == date(2026, 3, 1)
    assert values[2] == ["'=1+1", 2, None]
    # nothing in the file is a formula cell
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_xlsx_drops_characters_xml_cannot_hold() -> None:
    body = xlsx_bytes(["名称"], [["A\x00B\x07C"]], sheet="x")
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    assert ws is not None and ws["A2"].value == "ABC"
