"""Registry records (楼宇台账): buildings, enterprises, tenancies and events, in and out.

Bodies carry the contract's bounds so bad input is refused before it reaches the validator;
cross-field rules (vacancy <= total area, known ids) stay with the contract validator.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tenantmatch.api.schemas.common import EntityId, IsoDate, ShortText, StrictIn
from tenantmatch.registry import Amenity, Grade, HqType, RiskFlag, Stage, Tag, Theme
from tenantmatch.registry.contract import CHINA_LAT, CHINA_LON

Lat = Annotated[float, Field(ge=CHINA_LAT[0], le=CHINA_LAT[1])]
Lon = Annotated[float, Field(ge=CHINA_LON[0], le=CHINA_LON[1])]
PositiveArea = Annotated[float, Field(gt=0, le=1e7, description="m²")]
IndustryCode = Annotated[str, StringConstraints(pattern=r"^[A-Ta-t]?[0-9]{2,4}$")]
Money = Annotated[float, Field(ge=0, le=1e12, description="10,000 CNY (万元)")]


class BuildingIn(StrictIn):
    """A building's fields (the id is in the path). On update, omitted fields keep their stored
    values and ``null`` clears an optional one; a new building needs every required field."""

    name: ShortText | None = None
    city: ShortText | None = None
    district: ShortText | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    theme: Theme | None = None
    grade: Grade | None = None
    total_area_m2: PositiveArea | None = None
    vacant_area_m2: Annotated[float, Field(ge=0, le=1e7)] | None = None
    min_unit_m2: PositiveArea | None = None
    rent_cny_m2_day: Annotated[float, Field(gt=0, le=1e4)] | None = None
    floors: Annotated[int, Field(gt=0, le=300)] | None = None
    completed_year: Annotated[int, Field(ge=1800, le=2100)] | None = None
    smart_5a: Annotated[int, Field(ge=0, le=5)] | None = None
    amenities: list[Amenity] | None = Field(None, max_length=len(Amenity))
    operator_id: EntityId | None = None


class BuildingCreateIn(BuildingIn):
    """A new building: its id and every required field (``POST``; an existing id is 409)."""

    building_id: EntityId


class BuildingOut(BaseModel):
    building_id: str
    name: str
    city: str
    district: str
    lat: float | None = None
    lon: float | None = None
    theme: str
    theme_zh: str
    grade: str | None = None
    total_area_m2: float
    vacant_area_m2: float
    min_unit_m2: float | None = None
    rent_cny_m2_day: float | None = None
    floors: int | None = None
    completed_year: int | None = None
    smart_5a: int | None = None
    amenities: list[str] = []
    operator_id: str | None = None
    updated_at: datetime
    stale: bool = Field(description="No update in more than the server's stale_days.")


class EnterpriseIn(StrictIn):
    """An enterprise's fields (the id is in the path); update semantics as for buildings."""

    name: ShortText | None = None
    industry_code: IndustryCode | None = None
    employees: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    revenue_10k_cny: Money | None = None
    registered_capital_10k_cny: Money | None = None
    founded: IsoDate | None = None
    city: ShortText | None = None
    district: ShortText | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    hq_type: HqType | None = None
    tags: list[Tag] | None = Field(None, max_length=len(Tag))
    credit_score: Annotated[float, Field(ge=0, le=100)] | None = None
    risk_flags: list[RiskFlag] | None = Field(None, max_length=len(RiskFlag))


class EnterpriseCreateIn(EnterpriseIn):
    """A new enterprise: its id and every required field (``POST``; an existing id is 409)."""

    enterprise_id: EntityId


class EnterpriseOut(BaseModel):
    """An enterprise; ``credit_score`` and ``risk_flags`` appear only for operators and admins."""

    enterprise_id: str
    name: str
    industry_code: str
    employees: int
    revenue_10k_cny: float | None = None
    registered_capital_10k_cny: float | None = None
    founded: date | None = None
    city: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    hq_type: str | None = None
    tags: list[str] = []
    credit_score: float | None = None
    risk_flags: list[str] | None = None
    updated_at: datetime


class Page(BaseModel):
    total: int = Field(description="Rows matching the filters, over all pages.")
    offset: int
    limit: int


class BuildingListOut(Page):
    items: list[BuildingOut]


class EnterpriseListOut(Page):
    items: list[EnterpriseOut]


class MoveInIn(StrictIn):
    enterprise_id: EntityId
    building_id: EntityId
    start_date: IsoDate
    area_m2: PositiveArea | None = Field(
        None, description="Area taken (m²); default: the enterprise's estimated space need."
    )


class MoveOutIn(StrictIn):
    enterprise_id: EntityId
    building_id: EntityId
    end_date: IsoDate


class TenancyOut(BaseModel):
    enterprise_id: str
    building_id: str
    area_m2: float | None = None
    start_date: date
    end_date: date | None = None
    updated_at: datetime


class EventIn(StrictIn):
    enterprise_id: EntityId
    building_id: EntityId
    date: IsoDate
    stage: Stage


class EventOut(BaseModel):
    enterprise_id: str
    building_id: str
    date: date
    stage: str
    updated_at: datetime


class DeletedOut(BaseModel):
    deleted: str = Field(description="The id that was deleted.")


class BuildingListQuery(BaseModel):
    """Filters and paging of ``GET /v1/buildings``; list filters repeat (``?city=A&city=B``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    q: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="Substring of the id or name (case-insensitive)."
    )
    city: list[ShortText] = Field([], max_length=50)
    district: list[ShortText] = Field([], max_length=50)
    theme: list[Theme] = Field([], max_length=len(Theme))
    grade: list[Grade] = Field([], max_length=len(Grade))
    operator_id: EntityId | None = None
    min_vacant_m2: Annotated[float, Field(ge=0, le=1e7)] | None = None
    stale: bool | None = Field(None, description="Only stale (true) or only fresh (false) ones.")
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=5000, description="Page size (capped by max_page_size).")


class EnterpriseListQuery(BaseModel):
    """Filters and paging of ``GET /v1/enterprises``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    q: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="Substring of the id or name (case-insensitive)."
    )
    city: list[ShortText] = Field([], max_length=50)
    district: list[ShortText] = Field([], max_length=50)
    industry_division: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")]] = Field(
        [], max_length=100
    )
    hq_type: list[HqType] = Field([], max_length=len(HqType))
    tag: list[Tag] = Field([], max_length=len(Tag))
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=5000, description="Page size (capped by max_page_size).")
