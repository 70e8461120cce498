"""Retention watch (稳商): a building's tenants most at risk of leaving within 12 months, and the
expected move-outs and vacancy 12 months ahead per building, district or theme."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from tenantmatch.api.deps import EngineDep, SettingsDep, ViewerDep, check_page
from tenantmatch.api.errors import ApiError
from tenantmatch.api.schemas import AUTH_ERRORS, EntityId, error_responses
from tenantmatch.api.schemas.retention import AtRiskOut, AtRiskQuery, OutlookOut, OutlookQuery
from tenantmatch.matching import at_risk_tenants, outlook

router = APIRouter(tags=["retention"])

BuildingIdPath = Annotated[EntityId, Path(description="A building_id.")]
ERRORS = error_responses(400, 404, 503, *AUTH_ERRORS)


async def at_risk_query(
    query: Annotated[AtRiskQuery, Query()], settings: SettingsDep
) -> AtRiskQuery:
    """``k`` capped by the server's ``max_k``, as for shortlists (the OpenAPI maximum says so)."""
    if query.k > settings.max_k:
        raise ApiError(
            422, f"k={query.k} is above this server's limit; allowed: 1 to {settings.max_k}"
        )
    return query


@router.get("/v1/buildings/{building_id}/at-risk-tenants", response_model=AtRiskOut,
            responses=ERRORS)  # fmt: skip
def building_at_risk_tenants(
    building_id: BuildingIdPath, query: Annotated[AtRiskQuery, Depends(at_risk_query)],
    principal: ViewerDep, engine: EngineDep,
) -> dict[str, Any]:  # fmt: skip
    """The building's current tenants most likely to leave within 12 months (the served model's
    move hazard), with their lease dates and the reasons in Chinese."""
    return at_risk_tenants(engine.state(), building_id, k=query.k)


@router.get("/v1/stats/outlook", response_model=OutlookOut, responses=ERRORS)
def stats_outlook(
    query: Annotated[OutlookQuery, Query()], principal: ViewerDep, engine: EngineDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Expected move-outs and vacant area 12 months ahead per building, district or theme:
    sums of the tenants' probabilities of leaving and of probability x area."""
    check_page(query.limit, settings)
    return outlook(engine.state(), by=query.by, city=query.city, district=query.district,
                   limit=query.limit)  # fmt: skip
