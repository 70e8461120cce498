"""Shapes of the staff workbench's data routes: statistics, a building's and an enterprise's
history (attraction events, tenancies, occupancy) and current tenants.

Every code travels with its Chinese label (``*_zh``); areas are m², rates are 0..1.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantmatch.api.schemas.common import ShortText
from tenantmatch.registry import Stage, Theme

MAX_FILTER_VALUES = 50
ExportFormat = Literal["json", "csv", "xlsx"]


# -- requests ---------------------------------------------------------------------------------


class StatsQuery(BaseModel):
    """Filters of ``GET /v1/stats``; each repeats (``?city=A&city=B``), empty means all."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    city: list[ShortText] = Field([], max_length=MAX_FILTER_VALUES)
    district: list[ShortText] = Field([], max_length=MAX_FILTER_VALUES)
    theme: list[Theme] = Field([], max_length=len(Theme))


class EventListQuery(BaseModel):
    """Filters and paging of a building's or an enterprise's attraction events."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    stage: list[Stage] = Field([], max_length=len(Stage), description="Only these stages.")
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=5000, description="Page size (capped by max_page_size).")


class PageQuery(BaseModel):
    """Paging only."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=5000, description="Page size (capped by max_page_size).")


class OccupancyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    months: int = Field(36, ge=1, le=120, description="Month-ends to report, the newest last.")


# -- statistics -------------------------------------------------------------------------------


class OccupancyTotals(BaseModel):
    """Occupancy of a set of buildings as the registry holds it now."""

    buildings: int
    total_m2: float
    vacant_m2: float
    occupied_m2: float
    occupancy_rate: float | None = Field(
        description="occupied_m2 / total_m2, 0..1; null without any area."
    )
    tenants: int = Field(description="Distinct enterprises with an open tenancy on as_of.")


class CityStats(OccupancyTotals):
    city: str


class DistrictStats(OccupancyTotals):
    city: str
    district: str


class ThemeStats(OccupancyTotals):
    theme: str
    theme_zh: str


class IndustryMixRow(BaseModel):
    """Current tenants of one GB/T 4754 division."""

    division: str = Field(description="2-digit GB/T 4754-2017 division, e.g. 66.")
    label_zh: str
    section: str | None = Field(None, description="Section letter A-T.")
    section_zh: str | None = None
    tenants: int
    area_m2: float = Field(description="Area of their open tenancies (unknown areas count 0).")


class MonthMoves(BaseModel):
    month: str = Field(description="YYYY-MM.")
    moved_in: int = Field(description="Tenancies that started that month.")
    moved_out: int = Field(description="Tenancies that ended that month.")
    in_m2: float
    out_m2: float


class StaleCounts(BaseModel):
    stale_days: int = Field(description="A record is stale after this many days without update.")
    buildings: int
    enterprises: int = Field(
        description="Enterprises with an open tenancy in the buildings "
        "counted (all enterprises when no filter is given)."
    )


class FunnelCounts(BaseModel):
    """Distinct enterprises that reached each stage (a firm that signed also counts as
    contacted, visited and negotiating); ``declined``: firms with any decline."""

    contacted: int
    visited: int
    negotiating: int
    signed: int
    declined: int
    signed_rate: float | None = Field(None, description="signed / contacted, 0..1.")


class CityFunnel(FunnelCounts):
    city: str


class OperatorFunnel(FunnelCounts):
    operator_id: str | None = Field(description="null: buildings without an operator.")


class StageLabel(BaseModel):
    stage: str
    label_zh: str


class FunnelOut(BaseModel):
    stages: list[StageLabel] = Field(description="The stages in funnel order, with labels.")
    total: FunnelCounts
    by_city: list[CityFunnel]
    by_operator: list[OperatorFunnel]


class TaxOut(BaseModel):
    available: bool
    note_zh: str


class StatsOut(BaseModel):
    """``GET /v1/stats``: the registry's statistics as of ``as_of`` (today)."""

    as_of: date
    filters: dict[str, list[str]]
    totals: OccupancyTotals
    by_city: list[CityStats]
    by_district: list[DistrictStats]
    by_theme: list[ThemeStats]
    industry_mix: list[IndustryMixRow] = Field(description="Largest tenant count first.")
    moves: list[MonthMoves] = Field(description="The last 24 months, oldest first.")
    stale: StaleCounts
    funnel: FunnelOut
    tax: TaxOut


# -- a building's and an enterprise's history -------------------------------------------------


class EventRowOut(BaseModel):
    """One attraction event (招商记录)."""

    enterprise_id: str
    enterprise_name: str | None = None
    building_id: str
    building_name: str | None = None
    operator_id: str | None = Field(None, description="The building's operator.")
    date: date
    stage: str
    stage_zh: str


class EventPageOut(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[EventRowOut] = Field(description="Newest first.")


class TenantOut(BaseModel):
    """A current tenant of a building; credit fields only for roles that may see credit."""

    model_config = ConfigDict(extra="forbid")

    enterprise_id: str
    name: str
    industry_code: str
    industry_division: str
    industry_zh: str
    employees: int
    hq_type: str | None = None
    hq_type_zh: str | None = None
    tags: list[str] = []
    tags_zh: list[str] = []
    area_m2: float | None = None
    since: date = Field(description="Start of the open tenancy.")
    lease_end: date | None = Field(
        None, description="Always null: contract v1 records no lease end for an open tenancy."
    )
    credit_score: float | None = None
    risk_flags: list[str] | None = None


class TenantListOut(BaseModel):
    building_id: str
    as_of: date
    total: int
    offset: int
    limit: int
    occupied_m2: float = Field(description="Area of all current tenancies (unknown counts 0).")
    items: list[TenantOut] = Field(description="Largest area first.")


class OccupancyMonth(BaseModel):
    month: str = Field(description="YYYY-MM; figures as of that month's last day (or as_of).")
    occupied_m2: float
    vacant_m2: float
    occupancy_rate: float | None
    tenants: int


class OccupancyOut(BaseModel):
    """Occupied and vacant area at each month-end, rebuilt from tenancies the way the engine
    rebuilds a past vacancy (``registry.vacancy_as_of``); tenancies without area are ignored."""

    building_id: str
    as_of: date
    total_area_m2: float
    months: list[OccupancyMonth] = Field(description="Oldest first, the current month last.")


class TenancyRowOut(BaseModel):
    building_id: str
    building_name: str | None = None
    city: str | None = None
    district: str | None = None
    area_m2: float | None = None
    start_date: date
    end_date: date | None = None
    current: bool


class TenancyHistoryOut(BaseModel):
    enterprise_id: str
    total: int
    offset: int
    limit: int
    items: list[TenancyRowOut] = Field(description="Newest start first.")


class LinkOut(BaseModel):
    partner_id: str
    partner_name: str | None = None
    industry_code: str | None = None
    relation: str = Field(description="supplies, invests or partners.")
    relation_zh: str
    direction: str = Field(
        description="What the partner is to the enterprise: upstream (it supplies the "
        "enterprise), downstream, investor, investee or partner."
    )
    direction_zh: str
    weight: float | None = None
    building_id: str | None = Field(None, description="The partner's building today, if any.")
    building_name: str | None = None


class LinkListOut(BaseModel):
    enterprise_id: str
    as_of: date
    total: int
    items: list[LinkOut] = Field(description="Strongest link first (no weight counts as 1).")
