"""Data contract v1 as data: every table, its columns, their types and rules.

This module is the one place the contract's columns live. The importer validates against it,
the storage layer derives its tables from it, the demo world writes files that follow it.
Canonical in-memory form of a table (what validation returns and storage reads and writes):

- ``str``: Python ``str`` or missing (``None``);
- ``float``: float64, missing is NaN;
- ``int``: pandas nullable ``Int64``;
- ``date``: ``datetime64[ns]`` at midnight, missing is NaT;
- ``enum``: ``str`` from ``allowed``;
- ``list``: the items from ``allowed``, sorted and de-duplicated, joined by ``;``
  (``None`` when the cell was empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tenantmatch.registry.enums import (
    LABELS_ZH,
    Amenity,
    Grade,
    HqType,
    Relation,
    RiskFlag,
    Stage,
    Tag,
    Theme,
)

ColumnType = Literal["str", "float", "int", "date", "enum", "list"]

LIST_SEPARATOR = ";"

# The years a date may have: the range of datetime64[ns], in which every table is held.
FIRST_YEAR, LAST_YEAR = 1678, 2261

# Ids and short texts, the same bounds for the API's bodies and paths and for every imported
# file (one definition: api.schemas.common and store.validation both read these). Ids are
# opaque: anything without ASCII space, control characters (C0, DEL, C1) or a slash (the path
# separator: such an id could not be read or deleted by URL). Spelled as ranges: ``\s`` means
# different sets in Rust (pydantic) and ECMA-262 (OpenAPI clients) regexes.
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 200
# Bidirectional controls (LRM, RLM, embeddings, overrides, isolates) are refused too: they make
# a name read differently from what it holds ("Trojan source" spoofing).
_BIDI = "\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069"
ID_PATTERN = rf"^[^\x00-\x20\x7f-\x9f/{_BIDI}]+$"
TEXT_PATTERN = rf"^[^\x00-\x1f\x7f-\x9f{_BIDI}]+$"
# An id Excel turned into a number and wrote back in scientific notation (110000000001 -> 1.1E+11):
# the digits are lost, so such an id is refused rather than stored as a new one.
EXCEL_MANGLED_ID = re.compile(r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+")
EXCEL_MANGLED_REASON = (
    "looks like a number Excel wrote in scientific notation (such as 1.23E+11): its digits are "
    "lost; format the id column as text and export again"
)


def excel_mangled(value: str) -> bool:
    """True for an id such as ``1.23E+11`` (see EXCEL_MANGLED_ID)."""
    return EXCEL_MANGLED_ID.fullmatch(value.strip()) is not None


def is_id_column(name: str) -> bool:
    """An id column (``building_id``, ``operator_id``, ``source_id``...): bound by ID_PATTERN."""
    return name.endswith("_id")


# China's bounding box (WGS84), generous enough for the islands in the south.
CHINA_LAT = (3.8, 53.6)
CHINA_LON = (73.5, 135.1)


# Unit suffixes a number cell of a column may carry, as (suffix, divisor to the column's unit):
# "12365.92㎡" in an m² column is 12365.92, "35%" in a 0-1 share is 0.35. Cells and suffixes are
# compared after Unicode NFKC normalisation and lower-casing ("㎡" and "m²" both become "m2",
# full-width "１５，１８０" becomes "15,180"); at most one suffix, the longest that matches.
Unit = tuple[str, float]
AREA: tuple[Unit, ...] = (("㎡", 1.0), ("m²", 1.0), ("m2", 1.0), ("平方米", 1.0), ("平米", 1.0))
RENT: tuple[Unit, ...] = (
    ("元/㎡/天", 1.0), ("元/㎡·天", 1.0), ("元/m²/天", 1.0), ("元/m²·天", 1.0),
    ("元/平方米/天", 1.0), ("元/平方米·天", 1.0),
)  # fmt: skip
WAN_YUAN: tuple[Unit, ...] = (("万元", 1.0),)
PEOPLE: tuple[Unit, ...] = (("人", 1.0),)
FLOORS: tuple[Unit, ...] = (("层", 1.0),)
YEAR: tuple[Unit, ...] = (("年", 1.0),)
POINTS: tuple[Unit, ...] = (("分", 1.0),)
PERCENT: tuple[Unit, ...] = (("%", 100.0),)  # a share 0-1 written as a percentage


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    allowed: tuple[str, ...] = ()
    min: float | None = None  # inclusive unless min_exclusive
    max: float | None = None  # inclusive
    min_exclusive: bool = False
    unique: bool = False
    references: str | None = None  # "table.column" this id must exist in
    label_zh: str = ""  # the Chinese header accepted in place of ``name``
    units: tuple[Unit, ...] = ()  # unit suffixes a number cell may carry

    @property
    def value_aliases(self) -> dict[str, str]:
        """Chinese label -> code of an enum or list column (the labels of ``registry.enums``),
        accepted in place of the code; empty for other columns."""
        return {LABELS_ZH[code]: code for code in self.allowed if code in LABELS_ZH}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: tuple[str, ...] = ()  # natural key used for idempotent upserts
    label_zh: str = ""

    @property
    def header_aliases(self) -> dict[str, str]:
        """Chinese header -> column name: each column's ``label_zh``."""
        return {c.label_zh: c.name for c in self.columns if c.label_zh}

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _codes(enum: type) -> tuple[str, ...]:
    return tuple(m.value for m in enum)  # type: ignore[attr-defined]


BUILDINGS = Table(
    "buildings",
    (
        Column("building_id", "str", required=True, unique=True, label_zh="楼宇编号"),
        Column("name", "str", required=True, label_zh="楼宇名称"),
        Column("city", "str", required=True, label_zh="城市"),
        Column("district", "str", required=True, label_zh="区县"),
        Column("lat", "float", min=CHINA_LAT[0], max=CHINA_LAT[1], label_zh="纬度"),
        Column("lon", "float", min=CHINA_LON[0], max=CHINA_LON[1], label_zh="经度"),
        Column("theme", "enum", required=True, allowed=_codes(Theme), label_zh="楼宇主题"),
        Column("grade", "enum", allowed=_codes(Grade), label_zh="楼宇等级"),
        Column(
            "total_area_m2",
            "float",
            required=True,
            min=0,
            min_exclusive=True,
            label_zh="总面积",
            units=AREA,
        ),
        Column(
            "vacant_area_m2", "float", required=True, min=0, label_zh="空置面积", units=AREA
        ),  # and <= total_area_m2
        Column(
            "min_unit_m2",
            "float",
            min=0,
            min_exclusive=True,
            label_zh="最小可租单元面积",
            units=AREA,
        ),
        Column("rent_cny_m2_day", "float", min=0, min_exclusive=True, label_zh="租金", units=RENT),
        Column("floors", "int", min=0, min_exclusive=True, label_zh="楼层数", units=FLOORS),
        Column("completed_year", "int", min=1800, max=2100, label_zh="竣工年份", units=YEAR),
        Column("smart_5a", "int", min=0, max=5, label_zh="5A智能化系统数"),
        Column("amenities", "list", allowed=_codes(Amenity), label_zh="配套设施"),
        Column("operator_id", "str", label_zh="运营方编号"),
    ),
    required=True,
    key=("building_id",),
    label_zh="楼宇",
)

ENTERPRISES = Table(
    "enterprises",
    (
        Column("enterprise_id", "str", required=True, unique=True, label_zh="企业编号"),
        Column("name", "str", required=True, label_zh="企业名称"),
        Column(
            "industry_code", "str", required=True, label_zh="行业代码"
        ),  # GB/T 4754-2017, normalised to digits
        Column("employees", "int", required=True, min=0, label_zh="从业人数", units=PEOPLE),
        Column("revenue_10k_cny", "float", min=0, label_zh="营业收入", units=WAN_YUAN),
        Column("registered_capital_10k_cny", "float", min=0, label_zh="注册资本", units=WAN_YUAN),
        Column("founded", "date", label_zh="成立日期"),  # a bare year means 1 January of that year
        Column("city", "str", label_zh="城市"),
        Column("district", "str", label_zh="区县"),
        Column("lat", "float", min=CHINA_LAT[0], max=CHINA_LAT[1], label_zh="纬度"),
        Column("lon", "float", min=CHINA_LON[0], max=CHINA_LON[1], label_zh="经度"),
        Column("hq_type", "enum", allowed=_codes(HqType), label_zh="总部类型"),
        Column("tags", "list", allowed=_codes(Tag), label_zh="企业标签"),
        Column("credit_score", "float", min=0, max=100, label_zh="信用评分", units=POINTS),
        Column("risk_flags", "list", allowed=_codes(RiskFlag), label_zh="风险标记"),
    ),
    required=True,
    key=("enterprise_id",),
    label_zh="企业",
)

LINKS = Table(
    "links",
    (
        Column(
            "source_id",
            "str",
            required=True,
            references="enterprises.enterprise_id",
            label_zh="源企业编号",
        ),
        Column(
            "target_id",
            "str",
            required=True,
            references="enterprises.enterprise_id",
            label_zh="目标企业编号",
        ),
        Column("relation", "enum", required=True, allowed=_codes(Relation), label_zh="关联类型"),
        Column("weight", "float", min=0, max=1, label_zh="关联强度", units=PERCENT),
    ),
    key=("source_id", "target_id", "relation"),
    label_zh="企业关联",
)

TENANCIES = Table(
    "tenancies",
    (
        Column(
            "enterprise_id",
            "str",
            required=True,
            references="enterprises.enterprise_id",
            label_zh="企业编号",
        ),
        Column(
            "building_id",
            "str",
            required=True,
            references="buildings.building_id",
            label_zh="楼宇编号",
        ),
        Column("area_m2", "float", min=0, min_exclusive=True, label_zh="租用面积", units=AREA),
        Column("start_date", "date", required=True, label_zh="入驻日期"),
        Column(
            "end_date", "date", label_zh="迁出日期"
        ),  # empty: still a tenant; never before start_date
    ),
    key=("enterprise_id", "building_id", "start_date"),
    label_zh="入驻记录",
)

EVENTS = Table(
    "events",
    (
        Column(
            "enterprise_id",
            "str",
            required=True,
            references="enterprises.enterprise_id",
            label_zh="企业编号",
        ),
        Column(
            "building_id",
            "str",
            required=True,
            references="buildings.building_id",
            label_zh="楼宇编号",
        ),
        Column("date", "date", required=True, label_zh="日期"),
        Column("stage", "enum", required=True, allowed=_codes(Stage), label_zh="招商阶段"),
    ),
    key=("enterprise_id", "building_id", "date", "stage"),
    label_zh="招商事件",
)

TABLES: tuple[Table, ...] = (BUILDINGS, ENTERPRISES, LINKS, TENANCIES, EVENTS)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
