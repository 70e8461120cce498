"""The staff workbench's data: statistics, a building's attraction pipeline, tenants and
occupancy, an enterprise's events and tenancy history.

Read-only, for viewers and above; credit details of tenants only for roles that may see credit
(``api.access.enterprise_view``). Every code carries its Chinese label.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tenantmatch.api.access import enterprise_view
from tenantmatch.api.deps import RepositoryDep, SettingsDep, ViewerDep, check_page
from tenantmatch.api.labels import industry_labels
from tenantmatch.api.schemas import AUTH_ERRORS, EntityId, error_responses
from tenantmatch.api.schemas.workbench import (
    EventListQuery,
    EventPageOut,
    LinkListOut,
    OccupancyOut,
    OccupancyQuery,
    PageQuery,
    StatsOut,
    StatsQuery,
    TenancyHistoryOut,
    TenantListOut,
)
from tenantmatch.registry import label_zh
from tenantmatch.store import (
    RegistryStats,
    StatsFilter,
    building_events,
    building_occupancy,
    current_tenants,
    enterprise_events,
    enterprise_links,
    tenancy_history,
)

router = APIRouter(prefix="/v1", tags=["workbench"])

BuildingIdPath = Annotated[EntityId, Path(description="A building_id.")]
EnterpriseIdPath = Annotated[EntityId, Path(description="An enterprise_id.")]
ERRORS = error_responses(400, 404, 503, *AUTH_ERRORS)


async def registry_statistics(request: Request) -> RegistryStats:
    """The app's statistics cache over its repository, made on first use."""
    state = request.app.state
    cached = getattr(state, "registry_stats", None)
    if cached is None or cached.repo is not state.repository:
        cached = state.registry_stats = RegistryStats(state.repository)
    return cached


StatsDep = Annotated[RegistryStats, Depends(registry_statistics)]


@router.get("/stats", response_model=StatsOut, responses=ERRORS)
def stats(
    query: Annotated[StatsQuery, Query()], _: ViewerDep, statistics: StatsDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Occupancy by city, district and theme, the industry mix, moves per month, stale records
    and the attraction funnel of the buildings matching the filters, as of today (computed in
    SQL, then kept until the registry changes)."""
    filters = StatsFilter(city=frozenset(query.city), district=frozenset(query.district),
                          theme=frozenset(t.value for t in query.theme))  # fmt: skip
    return statistics.get(filters, as_of=date.today(), stale_days=settings.stale_days)


@router.get("/buildings/{building_id}/events", response_model=EventPageOut, responses=ERRORS)
def list_building_events(
    building_id: BuildingIdPath, query: Annotated[EventListQuery, Query()], _: ViewerDep,
    repo: RepositoryDep, settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """The building's attraction pipeline (招商记录), newest first, optionally by stage."""
    check_page(query.limit, settings)
    total, rows = building_events(repo, building_id, stages={s.value for s in query.stage},
                                  offset=query.offset, limit=query.limit)  # fmt: skip
    return _page(query.offset, query.limit, total, [_event(r) for r in rows])


@router.get("/enterprises/{enterprise_id}/events", response_model=EventPageOut, responses=ERRORS)
def list_enterprise_events(
    enterprise_id: EnterpriseIdPath, query: Annotated[EventListQuery, Query()], _: ViewerDep,
    repo: RepositoryDep, settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """The attraction events of the enterprise at every building, newest first."""
    check_page(query.limit, settings)
    total, rows = enterprise_events(repo, enterprise_id, stages={s.value for s in query.stage},
                                    offset=query.offset, limit=query.limit)  # fmt: skip
    return _page(query.offset, query.limit, total, [_event(r) for r in rows])


@router.get("/buildings/{building_id}/tenants", response_model=TenantListOut,
            response_model_exclude_unset=True, responses=ERRORS)  # fmt: skip
def list_tenants(
    building_id: BuildingIdPath, query: Annotated[PageQuery, Query()], principal: ViewerDep,
    repo: RepositoryDep, settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Current tenants, largest area first, with industry and size (credit: operators, admins)."""
    check_page(query.limit, settings)
    today = date.today()
    total, area, rows = current_tenants(repo, building_id, as_of=today, offset=query.offset,
                                        limit=query.limit)  # fmt: skip
    items = [enterprise_view(_tenant(r), principal) for r in rows]
    return {"building_id": building_id, "as_of": today, "occupied_m2": round(area, 2),
            **_page(query.offset, query.limit, total, items)}  # fmt: skip


@router.get("/buildings/{building_id}/occupancy", response_model=OccupancyOut, responses=ERRORS)
def occupancy(
    building_id: BuildingIdPath, query: Annotated[OccupancyQuery, Query()], _: ViewerDep,
    repo: RepositoryDep,
) -> dict[str, Any]:  # fmt: skip
    """Occupied and vacant area at each of the last ``months`` month-ends (default 36)."""
    today = date.today()
    row, months = building_occupancy(repo, building_id, as_of=today, months=query.months)
    return {"building_id": building_id, "as_of": today,
            "total_area_m2": row["total_area_m2"], "months": months}  # fmt: skip


@router.get("/enterprises/{enterprise_id}/tenancies", response_model=TenancyHistoryOut,
            responses=ERRORS)  # fmt: skip
def list_tenancies(
    enterprise_id: EnterpriseIdPath, query: Annotated[PageQuery, Query()], _: ViewerDep,
    repo: RepositoryDep, settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Where the enterprise has been a tenant, newest first; ``current`` marks open tenancies."""
    check_page(query.limit, settings)
    total, rows = tenancy_history(repo, enterprise_id, as_of=date.today(),
                                  offset=query.offset, limit=query.limit)  # fmt: skip
    return {"enterprise_id": enterprise_id, **_page(query.offset, query.limit, total, rows)}


@router.get("/enterprises/{enterprise_id}/links", response_model=LinkListOut, responses=ERRORS)
def list_links(
    enterprise_id: EnterpriseIdPath, _: ViewerDep, repo: RepositoryDep
) -> dict[str, Any]:
    """The enterprise's upstream and downstream partners, investors, investees and partners,
    with the building each is a tenant of today (chain attraction, 以商招商)."""
    today = date.today()
    items = enterprise_links(repo, enterprise_id, as_of=today)
    return {"enterprise_id": enterprise_id, "as_of": today, "total": len(items), "items": items}


def _page(offset: int, limit: int, total: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"stage_zh": label_zh(row["stage"])}


def _tenant(row: dict[str, Any]) -> dict[str, Any]:
    division = str(row["industry_code"])[:2]
    hq = row.get("hq_type")
    return row | {
        "industry_division": division,
        "industry_zh": industry_labels().get(division, division),
        "hq_type_zh": None if hq is None else label_zh(hq),
        "tags_zh": [label_zh(t) for t in row.get("tags") or []],
        "lease_end": None,
    }
