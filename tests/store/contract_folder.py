"""A tiny valid data-contract folder written in code, in any supported format and encoding.

``tiny_dataset()`` returns the rows as Python values (``None`` = empty cell); tests edit a copy
and hand it to ``write_contract_folder``. Row ``i`` of a table is file row ``i + 2``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

from tenantmatch.registry.contract import TABLES_BY_NAME

Rows = list[dict[str, Any]]


def tiny_dataset() -> dict[str, Rows]:
    """Two buildings, three enterprises, one link, two tenancies, two events; all valid."""
    return {
        "buildings": [
            _building(
                "B1",
                "太原金融中心",
                "小店区",
                37.8,
                112.55,
                "finance",
                "a",
                50000.0,
                8000.0,
                120.0,
                3.5,
                40,
                2018,
                5,
                "parking;catering",
                "OP1",
            ),
            _building(
                "B2",
                "晋阳科技大厦",
                "万柏林区",
                None,
                None,
                "tech_rnd",
                None,
                20000.0,
                0.0,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ),
        ],
        "enterprises": [
            _enterprise(
                "E1",
                "山西银信金融服务有限公司",
                "J66",
                120,
                5000.0,
                10000.0,
                dt.date(2010, 5, 1),
                "listed;high_tech",
                88.5,
                None,
            ),
            _enterprise(
                "E2",
                "太原数据科技有限公司",
                "6513",
                35,
                None,
                500.0,
                None,
                None,
                None,
                "abnormal_operations",
            ),
            _enterprise(
                "E3", "晋中物流有限公司", "54", 0, 0.0, None, dt.date(2021, 1, 1), None, None, None
            ),
        ],
        "links": [
            {"source_id": "E2", "target_id": "E1", "relation": "supplies", "weight": 0.4},
        ],
        "tenancies": [
            {
                "enterprise_id": "E1",
                "building_id": "B1",
                "area_m2": 1200.0,
                "start_date": dt.date(2019, 3, 1),
                "end_date": None,
            },
            {
                "enterprise_id": "E3",
                "building_id": "B2",
                "area_m2": None,
                "start_date": dt.date(2021, 6, 1),
                "end_date": dt.date(2023, 5, 31),
            },
        ],
        "events": [
            {
                "enterprise_id": "E2",
                "building_id": "B1",
                "date": dt.date(2024, 4, 2),
                "stage": "visited",
            },
            {
                "enterprise_id": "E2",
                "building_id": "B2",
                "date": dt.date(2024, 4, 9),
                "stage": "declined",
            },
        ],
    }


def _building(*values: Any) -> dict[str, Any]:
    names = (
        "building_id",
        "name",
        "district",
        "lat",
        "lon",
        "theme",
        "grade",
        "total_area_m2",
        "vacant_area_m2",
        "min_unit_m2",
        "rent_cny_m2_day",
        "floors",
        "completed_year",
        "smart_5a",
        "amenities",
        "operator_id",
    )
    return {"city": "太原市", **dict(zip(names, values, strict=True))}


def _enterprise(*values: Any) -> dict[str, Any]:
    names = (
        "enterprise_id",
        "name",
        "industry_code",
        "employees",
        "revenue_10k_cny",
        "registered_capital_10k_cny",
        "founded",
        "tags",
        "credit_score",
        "risk_flags",
    )
    return {**dict(zip(names, values, strict=True)), "city": "太原市", "hq_type": "none"}


def write_contract_folder(
    folder: Path,
    data: dict[str, Rows] | None = None,
    *,
    fmt: str = "csv",
    encoding: str = "utf-8",
) -> Path:
    """Write ``data`` (default ``tiny_dataset()``) as ``<table>.<fmt>`` files; returns ``folder``.

    ``fmt``: ``csv`` (in ``encoding``, e.g. ``utf-8-sig``, ``gbk``), ``parquet`` or ``xlsx``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (tiny_dataset() if data is None else data).items():
        header = _header(rows)
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            path.write_bytes(csv_text(header, rows).encode(encoding))
        elif fmt == "parquet":
            _typed_frame(name, header, rows).to_parquet(path, index=False)
        elif fmt == "xlsx":
            _write_xlsx(path, header, rows)
        else:
            raise ValueError(f"unknown format {fmt!r}; allowed: csv, parquet, xlsx")
    return folder


def _header(rows: Rows) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def csv_text(header: list[str], rows: Rows) -> str:
    """CSV text of ``rows`` under ``header``: ``None`` -> empty, dates ISO, floats shortest."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(row.get(h)) for h in header] for row in rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, "g") if value.is_integer() else repr(value)
    return str(value)


def _typed_frame(name: str, header: list[str], rows: Rows) -> pd.DataFrame:
    """Rows as a typed frame (numbers, nullable ints, timestamps), as a Parquet writer would."""
    table = TABLES_BY_NAME[name]
    frame = pd.DataFrame([[row.get(h) for h in header] for row in rows], columns=header)
    for column in header:
        kind = table.column(column).type if column in table.column_names else "str"
        if kind == "float":
            frame[column] = frame[column].astype("float64")
        elif kind == "int":
            frame[column] = frame[column].astype("Int64")
        elif kind == "date":
            frame[column] = pd.to_datetime(frame[column])
        else:
            frame[column] = frame[column].astype(object)
    return frame


def _write_xlsx(path: Path, header: list[str], rows: Rows) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(h) for h in header])
    book.save(path)
