"""Shortlist, chain-lead and planning shapes: the jsonl objects of docs/interface.md, bounded."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tenantmatch.api.schemas.common import EntityId, IsoDate, ReasonOut, ShortText, StrictIn
from tenantmatch.matching import MAX_K, PoolRules
from tenantmatch.registry import HqType, Tag, Theme

MAX_FILTER_VALUES = 50
Section = Annotated[str, StringConstraints(pattern=r"^[A-T]$")]
Division = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")]
Area = Annotated[float, Field(ge=0, le=1e7)]


class ShortlistQuery(BaseModel):
    """Query parameters of shortlists and chain leads; list filters repeat (``?city=A&city=B``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    k: int = Field(
        10, ge=1, le=MAX_K, description="Items to return (capped by the server's max_k)."
    )
    city: list[ShortText] = Field([], max_length=MAX_FILTER_VALUES)
    district: list[ShortText] = Field([], max_length=MAX_FILTER_VALUES)
    industry_section: list[Section] = Field(
        [], max_length=MAX_FILTER_VALUES, description="GB/T 4754 section letters A-T."
    )
    industry_division: list[Division] = Field(
        [], max_length=MAX_FILTER_VALUES, description="GB/T 4754 2-digit divisions."
    )
    min_need_m2: Area | None = Field(None, description="Smallest space need (m²) to keep.")
    max_need_m2: Area | None = Field(None, description="Largest space need (m²) to keep.")
    hq_type: list[HqType] = Field([], max_length=MAX_FILTER_VALUES)
    tag: list[Tag] = Field(
        [], max_length=MAX_FILTER_VALUES, description="Keep enterprises with any of these tags."
    )
    include_risky: bool = Field(
        False, description="Keep risk-flagged enterprises with their warnings (operators, admins)."
    )
    exclude: list[EntityId] = Field([], max_length=500, description="Ids never to return.")
    as_of: IsoDate | None = Field(
        None,
        description="Rank the registry as it stood that day, YYYY-MM-DD (admins only; default: "
        "today). Tenancies and events after it are ignored; not cached.",
    )
    format: Literal["json", "csv", "xlsx"] = Field(
        "json", description="json (default), or a csv / xlsx file of the items with Chinese "
        "column headers (formula characters neutralised).",
    )

    def rules(self) -> PoolRules:
        """The matching layer's filter object for this query."""
        return PoolRules(
            include_risky=self.include_risky,
            cities=frozenset(self.city),
            districts=frozenset(self.district),
            industry_sections=frozenset(self.industry_section),
            industry_divisions=frozenset(self.industry_division),
            min_need_m2=self.min_need_m2,
            max_need_m2=self.max_need_m2,
            hq_types=frozenset(h.value for h in self.hq_type),
            tags=frozenset(t.value for t in self.tag),
            exclude_ids=frozenset(self.exclude),
        )


class ShortlistItemOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    rank: int = Field(ge=1)
    enterprise_id: str | None = None
    building_id: str | None = None
    name: str | None = None
    score: float
    reasons: list[ReasonOut] = []
    risk_warnings: list[str] | None = Field(
        None, description="风险预警: present only when include_risky was asked."
    )
    declined_on: date | None = Field(
        None,
        description="已婉拒: the day this enterprise declined this building, when that was its "
        "latest attraction event and within 12 months of as_of; such items come last.",
    )
    need_m2: float | None = Field(None, description="The enterprise's estimated space need, m².")
    vacant_m2: float | None = Field(None, description="The building's vacant area, m².")
    probability_pct: float | None = Field(
        None, description="Probability of signing, 0-100, from the model's Platt calibration; "
        "absent when the model has none.",
    )
    industry_code: str | None = Field(None, description="Building queries: GB/T 4754 code.")
    industry_division: str | None = None
    industry_zh: str | None = None
    employees: int | None = None
    city: str | None = Field(None, description="Enterprise queries: the building's city.")
    district: str | None = None
    theme: str | None = None
    theme_zh: str | None = None
    rent_cny_m2_day: float | None = None


class ShortlistOut(BaseModel):
    query: dict[str, str]
    model_version: str
    data_version: int | None = Field(
        None, description="The registry's data_version the answer was computed on (also in the "
        "X-Data-Version header): a write is in the answer once this reaches its version.",
    )
    as_of: date | None = Field(None, description="The day the registry was ranked as of.")
    items: list[ShortlistItemOut]


class ChainLinkOut(BaseModel):
    via_tenant_id: str
    via_tenant_name: str | None = None
    relation: str = Field(description="supplies, invests or partners.")
    direction: str = Field(description="upstream, downstream, investor, investee or partner.")
    weight: float | None = None


class ChainLeadOut(ChainLinkOut):
    """A lead, shown through its strongest link; ``links`` lists every link to a tenant."""

    rank: int = Field(ge=1)
    enterprise_id: str
    name: str | None = None
    score: float
    reasons: list[ReasonOut] = []
    links: list[ChainLinkOut] = []
    risk_warnings: list[str] | None = None
    declined_on: date | None = Field(
        None, description="已婉拒: as on shortlists; such leads come last."
    )


class ChainLeadsOut(BaseModel):
    query: dict[str, str]
    model_version: str
    tenants: int = Field(description="Current tenants of the building.")
    items: list[ChainLeadOut]


class PlanIn(StrictIn):
    """Options of a tower plan; every field has a default, so ``{}`` is a valid body."""

    theme: Theme | None = Field(None, description="Plan for this theme (default: the current).")
    candidates: int = Field(300, ge=1, le=2000, description="Top candidates the plan picks from.")
    chain_bonus: float = Field(0.2, ge=0, le=5, description="Weight of chain synergy.")
    pool_size: int = Field(2000, ge=1, le=20000, description="Regional pool per theme (fit).")


class ThemeFitRowOut(BaseModel):
    theme: str
    label_zh: str
    current: bool
    expected_signings: float
    mean_top20_score: float | None = None


class ThemeFitOut(BaseModel):
    """Expected demand under each specialty theme, best first (see ``probability_kind``)."""

    model_config = ConfigDict(extra="allow")

    current_theme: str
    pool: dict[str, Any]
    probability_kind: str = Field(description="platt (calibrated) or rank_softmax (shares).")
    themes: list[ThemeFitRowOut]


class PlanItemOut(BaseModel):
    rank: int = Field(ge=1)
    enterprise_id: str
    name: str | None = None
    area_m2: float = Field(description="Area the plan gives it: max(need, min unit), m².")
    need_m2: float
    probability: float
    score: float
    chain_synergy: float
    reasons: list[ReasonOut] = []


class FillPlanOut(BaseModel):
    """Enterprises whose areas together fit the vacancy (0-1 knapsack, exact MILP)."""

    model_config = ConfigDict(extra="allow")

    theme: str
    probability_kind: str
    vacant_area_m2: float
    min_unit_m2: float | None = None
    total_area_m2: float
    fill_ratio: float | None = None
    expected_signings: float
    candidates_considered: int
    objective: dict[str, float]
    items: list[PlanItemOut]


class PlanOut(BaseModel):
    """Theme fit (expected demand per theme) and a fill plan for the vacant area."""

    query: dict[str, str]
    model_version: str
    theme_fit: ThemeFitOut
    fill_plan: FillPlanOut
