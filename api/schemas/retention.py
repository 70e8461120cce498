"""Retention watch (稳商) shapes: tenants at risk of leaving and the 12-month outlook."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantmatch.api.schemas.common import ShortText
from tenantmatch.matching import MAX_AT_RISK


class AtRiskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(10, ge=1, le=MAX_AT_RISK, description="Tenants to return, most at risk first.")


class LeaveReasonOut(BaseModel):
    feature: str = Field(description="The hazard input behind the reason, e.g. e__lease_end_12m.")
    text: str = Field(description="The reason in staff words (Chinese).")
    weight: float = Field(description="How much it raises the probability (log-odds).")


class AtRiskTenantOut(BaseModel):
    enterprise_id: str
    name: str
    industry_code: str
    employees: int | None = None
    area_m2: float | None = Field(None, description="Area of its tenancy here (m²), if known.")
    start_date: date = Field(description="Start of its current tenancy in this building.")
    tenure_years: float = Field(description="Years in this building as of as_of.")
    lease_end_estimate: date | None = Field(
        None,
        description="When its lease likely ends: the next full term of its last ended "
        "tenancy's length (none when it has no past tenancy to infer the term from).",
    )
    probability: float = Field(
        ge=0, le=1,
        description="Probability that it starts a new tenancy (moves out) within 12 months: "
        "the served model's move hazard.",
    )  # fmt: skip
    reasons: list[LeaveReasonOut] = Field(
        [], description="Up to 3 features that raise its probability most, in Chinese."
    )


class AtRiskOut(BaseModel):
    query: dict[str, str | int]
    model_version: str
    as_of: date
    horizon_months: int = Field(description="12: the window the probability covers.")
    tenants: int = Field(description="Current tenants of the building.")
    expected_move_outs: float = Field(
        description="Sum of every current tenant's probability: move-outs expected in 12 months."
    )
    items: list[AtRiskTenantOut]


class OutlookQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Literal["building", "district", "theme"] = Field(
        "building", description="Group the outlook by building, district or theme."
    )
    limit: int = Field(100, ge=1, le=5000, description="Rows to return (largest first).")
    city: ShortText | None = Field(None, description="Only buildings in this city (e.g. 太原市).")
    district: ShortText | None = Field(None, description="Only buildings in this district.")


class OutlookFiguresOut(BaseModel):
    buildings: int
    tenants: int = Field(description="Current tenancies in these buildings.")
    expected_move_outs: float = Field(description="Sum of the tenants' probabilities.")
    expected_vacated_m2: float = Field(
        description="Sum of probability x tenancy area (the firm's estimated need if unknown)."
    )
    total_area_m2: float
    vacant_area_m2: float = Field(description="Vacant now.")
    vacancy_rate: float | None = None
    expected_vacant_m2_12m: float = Field(
        description="Vacant now + expected vacated (capped at the total); move-ins not forecast."
    )
    expected_vacancy_rate_12m: float | None = None


class OutlookRowOut(OutlookFiguresOut):
    building_id: str | None = Field(None, description="by=building")
    name: str | None = Field(None, description="by=building")
    city: str | None = Field(None, description="by=building or district")
    district: str | None = Field(None, description="by=building or district")
    theme: str | None = Field(None, description="by=building or theme")
    theme_zh: str | None = None


class OutlookOut(BaseModel):
    query: dict[str, str | int | None]
    model_version: str
    as_of: date
    horizon_months: int
    totals: OutlookFiguresOut = Field(description="Every matching building together.")
    groups: int = Field(description="Rows before the limit.")
    items: list[OutlookRowOut] = Field(description="Largest expected vacated area first.")
