"""The building registry (楼宇台账): list, read, create or update, delete."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tenantmatch.api.access import building_write, editable_building
from tenantmatch.api.deps import (
    AuditDep,
    ListsDep,
    OperatorDep,
    RepositoryDep,
    SettingsDep,
    ViewerDep,
    check_page,
)
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    BuildingIn,
    BuildingListOut,
    BuildingListQuery,
    BuildingOut,
    DeletedOut,
    EntityId,
    error_responses,
)
from tenantmatch.api.settings import Settings
from tenantmatch.registry import label_zh
from tenantmatch.store import (
    BuildingFilter,
    delete_building,
    is_stale,
    plain_record,
    require_record,
    upsert_building,
)

router = APIRouter(prefix="/v1/buildings", tags=["registry"])

BuildingIdPath = Annotated[EntityId, Path(description="A building_id.")]
ERRORS = error_responses(400, 404, 503, *AUTH_ERRORS)


def _out(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    record = plain_record(row)
    stale = is_stale(record["updated_at"], today=date.today(), stale_days=settings.stale_days)
    return record | {"theme_zh": label_zh(record["theme"]), "stale": stale}


@router.get("", response_model=BuildingListOut, responses=ERRORS)
def list_buildings(
    query: Annotated[BuildingListQuery, Query()], _: ViewerDep, lists: ListsDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Buildings by id, filtered, one page at a time; ``stale`` flags old records."""
    check_page(query.limit, settings)
    filters = BuildingFilter(
        q=query.q, city=frozenset(query.city), district=frozenset(query.district),
        theme=frozenset(t.value for t in query.theme), operator_id=query.operator_id,
        min_vacant_m2=query.min_vacant_m2, stale=query.stale,
    )  # fmt: skip
    total, items = lists.buildings(filters, offset=query.offset, limit=query.limit,
                                   stale_days=settings.stale_days, today=date.today())  # fmt: skip
    return {"total": total, "offset": query.offset, "limit": query.limit, "items": items}


@router.get("/{building_id}", response_model=BuildingOut, responses=ERRORS)
def get_building(
    building_id: BuildingIdPath, _: ViewerDep, repo: RepositoryDep, settings: SettingsDep
) -> dict[str, Any]:
    """One building as stored, with its last update and stale flag."""
    return _out(require_record(repo, "buildings", building_id), settings)


@router.put("/{building_id}", response_model=BuildingOut, responses=ERRORS)
def put_building(
    building_id: BuildingIdPath, body: BuildingIn, principal: OperatorDep, repo: RepositoryDep,
    audit: AuditDep, settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Create a building or update the fields given (operators: only their own buildings)."""
    fields = body.model_dump(mode="json", exclude_unset=True)
    record = building_write(repo, principal, building_id, fields)
    row = upsert_building(repo, record)
    audit.add(principal, action="building.upsert", target=building_id, detail=fields, wait=True)
    return _out(row, settings)


@router.delete("/{building_id}", response_model=DeletedOut, responses=ERRORS)
def remove_building(
    building_id: BuildingIdPath, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep
) -> DeletedOut:
    """Delete a building with its tenancies and events (operators: only their own)."""
    editable_building(repo, principal, building_id)
    delete_building(repo, building_id)
    audit.add(principal, action="building.delete", target=building_id, wait=True)
    return DeletedOut(deleted=building_id)
