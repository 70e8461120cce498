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

from dataclasses import dataclass
from typing import Literal

from tenantmatch.registry.enums import Amenity, Grade, HqType, Relation, RiskFlag, Stage, Tag, Theme

ColumnType = Literal["str", "float", "int", "date", "enum", "list"]

LIST_SEPARATOR = ";"

# The years a date may have: the range of datetime64[ns], in which every table is held.
FIRST_YEAR, LAST_YEAR = 1678, 2261

# China's bounding box (WGS84), generous enough for the islands in the south.
CHINA_LAT = (3.8, 53.6)
CHINA_LON = (73.5, 135.1)


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


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: tuple[str, ...] = ()  # natural key used for idempotent upserts

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
        Column("building_id", "str", required=True, unique=True),
        Column("name", "str", required=True),
        Column("city", "str", required=True),
        Column("district", "str", required=True),
        Column("lat", "float", min=CHINA_LAT[0], max=CHINA_LAT[1]),
        Column("lon", "float", min=CHINA_LON[0], max=CHINA_LON[1]),
        Column("theme", "enum", required=True, allowed=_codes(Theme)),
        Column("grade", "enum", allowed=_codes(Grade)),
        Column("total_area_m2", "float", required=True, min=0, min_exclusive=True),
        Column("vacant_area_m2", "float", required=True, min=0),  # and <= total_area_m2
        Column("min_unit_m2", "float", min=0, min_exclusive=True),
        Column("rent_cny_m2_day", "float", min=0, min_exclusive=True),
        Column("floors", "int", min=0, min_exclusive=True),
        Column("completed_year", "int", min=1800, max=2100),
        Column("smart_5a", "int", min=0, max=5),
        Column("amenities", "list", allowed=_codes(Amenity)),
        Column("operator_id", "str"),
    ),
    required=True,
    key=("building_id",),
)

ENTERPRISES = Table(
    "enterprises",
    (
        Column("enterprise_id", "str", required=True, unique=True),
        Column("name", "str", required=True),
        Column("industry_code", "str", required=True),  # GB/T 4754-2017, normalised to digits
        Column("employees", "int", required=True, min=0),
        Column("revenue_10k_cny", "float", min=0),
        Column("registered_capital_10k_cny", "float", min=0),
        Column("founded", "date"),  # a bare year means 1 January of that year
        Column("city", "str"),
        Column("district", "str"),
        Column("lat", "float", min=CHINA_LAT[0], max=CHINA_LAT[1]),
        Column("lon", "float", min=CHINA_LON[0], max=CHINA_LON[1]),
        Column("hq_type", "enum", allowed=_codes(HqType)),
        Column("tags", "list", allowed=_codes(Tag)),
        Column("credit_score", "float", min=0, max=100),
        Column("risk_flags", "list", allowed=_codes(RiskFlag)),
    ),
    required=True,
    key=("enterprise_id",),
)

LINKS = Table(
    "links",
    (
        Column("source_id", "str", required=True, references="enterprises.enterprise_id"),
        Column("target_id", "str", required=True, references="enterprises.enterprise_id"),
        Column("relation", "enum", required=True, allowed=_codes(Relation)),
        Column("weight", "float", min=0, max=1),
    ),
    key=("source_id", "target_id", "relation"),
)

TENANCIES = Table(
    "tenancies",
    (
        Column("enterprise_id", "str", required=True, references="enterprises.enterprise_id"),
        Column("building_id", "str", required=True, references="buildings.building_id"),
        Column("area_m2", "float", min=0, min_exclusive=True),
        Column("start_date", "date", required=True),
        Column("end_date", "date"),  # empty: still a tenant; never before start_date
    ),
    key=("enterprise_id", "building_id", "start_date"),
)

EVENTS = Table(
    "events",
    (
        Column("enterprise_id", "str", required=True, references="enterprises.enterprise_id"),
        Column("building_id", "str", required=True, references="buildings.building_id"),
        Column("date", "date", required=True),
        Column("stage", "enum", required=True, allowed=_codes(Stage)),
    ),
    key=("enterprise_id", "building_id", "date", "stage"),
)

TABLES: tuple[Table, ...] = (BUILDINGS, ENTERPRISES, LINKS, TENANCIES, EVENTS)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
