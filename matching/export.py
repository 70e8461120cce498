"""Shortlists, chain leads and fill plans as tables staff open in Excel: one row per item, Chinese
column headers, codes shown by their labels. The one place results are flattened; writing the
file (and neutralising formulas) is ``registry.spreadsheet``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tenantmatch.registry import InputError, csv_bytes, label_zh, xlsx_bytes
from tenantmatch.registry.spreadsheet import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Cell

FileFormat = Literal["csv", "xlsx"]
REASON_SEPARATOR = "；"
DIRECTIONS_ZH = {
    "upstream": "上游", "downstream": "下游", "investor": "投资方", "investee": "被投资方",
    "partner": "合作伙伴",
}  # fmt: skip

Getter = Callable[[Mapping[str, Any]], Cell]


@dataclass(frozen=True)
class ExportTable:
    """A sheet: its title, Chinese headers and rows of plain cells."""

    title: str
    headers: tuple[str, ...]
    rows: list[list[Cell]]


def _reasons(item: Mapping[str, Any]) -> str:
    return REASON_SEPARATOR.join(str(r.get("text", "")) for r in item.get("reasons") or [])


def _warnings(item: Mapping[str, Any]) -> str | None:
    warnings = item.get("risk_warnings")
    return None if warnings is None else REASON_SEPARATOR.join(map(str, warnings))


def _field(name: str) -> Getter:
    return lambda item: item.get(name)


_ENTERPRISE_ITEM: tuple[tuple[str, Getter], ...] = (
    ("排名", _field("rank")),
    ("企业编号", _field("enterprise_id")),
    ("企业名称", _field("name")),
    ("行业代码", _field("industry_code")),
    ("行业", _field("industry_zh")),
    ("员工人数", _field("employees")),
    ("需求面积(㎡)", _field("need_m2")),
    ("楼宇空置面积(㎡)", _field("vacant_m2")),
    ("签约概率(%)", _field("probability_pct")),
    ("模型得分", _field("score")),
    ("推荐理由", _reasons),
    ("风险预警", _warnings),
    ("已婉拒日期", _field("declined_on")),
)
_BUILDING_ITEM: tuple[tuple[str, Getter], ...] = (
    ("排名", _field("rank")),
    ("楼宇编号", _field("building_id")),
    ("楼宇名称", _field("name")),
    ("城市", _field("city")),
    ("区县", _field("district")),
    ("主题", _field("theme_zh")),
    ("租金(元/㎡·天)", _field("rent_cny_m2_day")),
    ("空置面积(㎡)", _field("vacant_m2")),
    ("企业需求面积(㎡)", _field("need_m2")),
    ("签约概率(%)", _field("probability_pct")),
    ("模型得分", _field("score")),
    ("推荐理由", _reasons),
    ("已婉拒日期", _field("declined_on")),
)
_CHAIN_LEAD: tuple[tuple[str, Getter], ...] = (
    ("排名", _field("rank")),
    ("企业编号", _field("enterprise_id")),
    ("企业名称", _field("name")),
    ("关联在驻企业编号", _field("via_tenant_id")),
    ("关联在驻企业", _field("via_tenant_name")),
    ("关系", lambda i: label_zh(str(i.get("relation", "")))),
    ("方向", lambda i: DIRECTIONS_ZH.get(str(i.get("direction")), i.get("direction"))),
    ("关联强度", _field("weight")),
    ("模型得分", _field("score")),
    ("推荐理由", _reasons),
    ("风险预警", _warnings),
    ("已婉拒日期", _field("declined_on")),
)
_PLAN_ITEM: tuple[tuple[str, Getter], ...] = (
    ("排名", _field("rank")),
    ("企业编号", _field("enterprise_id")),
    ("企业名称", _field("name")),
    ("分配面积(㎡)", _field("area_m2")),
    ("需求面积(㎡)", _field("need_m2")),
    ("签约概率(%)", lambda i: _percent(i.get("probability"))),
    ("模型得分", _field("score")),
    ("产业链协同", _field("chain_synergy")),
    ("推荐理由", _reasons),
)


def _percent(p: object) -> float | None:
    return None if not isinstance(p, int | float) else round(100.0 * float(p), 1)


def _table(
    title: str, columns: Sequence[tuple[str, Getter]], items: Sequence[Mapping[str, Any]]
) -> ExportTable:
    rows = [[get(item) for _, get in columns] for item in items]
    return ExportTable(title, tuple(h for h, _ in columns), rows)


def shortlist_table(result: Mapping[str, Any]) -> ExportTable:
    """A shortlist (the jsonl object) as a table: enterprises for a building query, buildings
    for an enterprise query."""
    query = result.get("query", {})
    if "building_id" in query:
        return _table(f"推荐企业 {query['building_id']}", _ENTERPRISE_ITEM, result["items"])
    return _table(f"推荐楼宇 {query.get('enterprise_id', '')}", _BUILDING_ITEM, result["items"])


def chain_leads_table(result: Mapping[str, Any]) -> ExportTable:
    """Chain leads (以商招商) of a building as a table, one row per lead (its strongest link)."""
    building = result.get("query", {}).get("building_id", "")
    return _table(f"以商招商 {building}", _CHAIN_LEAD, result["items"])


def fill_plan_table(result: Mapping[str, Any]) -> ExportTable:
    """The fill plan of a tower plan (the ``POST .../plan`` answer) as a table."""
    building = result.get("query", {}).get("building_id", "")
    return _table(f"招商计划 {building}", _PLAN_ITEM, result["fill_plan"]["items"])


def render_table(table: ExportTable, fmt: str) -> tuple[bytes, str]:
    """(file bytes, media type) of ``table`` as ``fmt`` (csv or xlsx)."""
    if fmt == "csv":
        return csv_bytes(table.headers, table.rows), CSV_MEDIA_TYPE
    if fmt == "xlsx":
        return xlsx_bytes(table.headers, table.rows, sheet=table.title), XLSX_MEDIA_TYPE
    raise InputError(f"format {fmt!r} cannot be written as a file; allowed: csv, xlsx")


def tables_rows(tables: Sequence[ExportTable]) -> tuple[tuple[str, ...], list[list[Cell]]]:
    """Several tables of the same kind as one (the CLI's several queries in one CSV): the
    headers of the first, every row; each row starts with its table's title column."""
    if not tables:
        return (), []
    headers = ("查询", *tables[0].headers)
    return headers, [[t.title, *row] for t in tables for row in t.rows]
