"""The building registry (楼宇台账): list, read, create or update, delete.

Reads and writes of one building answer its ``ETag``; ``PUT`` honours ``If-Match``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from tenantmatch.api.access import building_write, may_edit
from tenantmatch.api.deps import (
    AuditDep,
    ListsDep,
    OperatorDep,
    RepositoryDep,
    SettingsDep,
    ViewerDep,
    check_page,
)
from tenantmatch.api.etags import IfMatchDep, set_etag
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    BuildingCreateIn,
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
STATUSES = (400, 404, 503, *AUTH_ERRORS)
ERRORS = error_responses(*STATUSES)


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
        theme=frozenset(t.value for t in query.theme),
        grade=frozenset(g.value for g in query.grade), operator_id=query.operator_id,
        min_vacant_m2=query.min_vacant_m2, stale=query.stale,
    )  # fmt: skip
    total, items = lists.buildings(filters, offset=query.offset, limit=query.limit,
                                   stale_days=settings.stale_days, today=date.today())  # fmt: skip
    return {"total": total, "offset": query.offset, "limit": query.limit, "items": items}


@router.post("", response_model=BuildingOut, status_code=201,
             responses=error_responses(409, *STATUSES))  # fmt: skip
def create_building(
    body: BuildingCreateIn, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep,
    settings: SettingsDep, response: Response,
) -> dict[str, Any]:  # fmt: skip
    """Create a building; an id that exists already answers 409 (operators: theirs only)."""
    fields = body.model_dump(mode="json", exclude_unset=True, exclude={"building_id"})
    record = building_write(principal, body.building_id, fields)
    note = audit.for_write(principal, action="building.create", detail=fields)
    row = upsert_building(repo, record, may_edit=may_edit(principal), create_only=True,
                          audit=note, writer=principal)  # fmt: skip
    set_etag(response, row)
    response.headers["Location"] = f"{router.prefix}/{body.building_id}"
    return _out(row, settings)


@router.get("/{building_id}", response_model=BuildingOut, responses=ERRORS)
def get_building(
    building_id: BuildingIdPath, _: ViewerDep, repo: RepositoryDep, settings: SettingsDep,
    response: Response,
) -> dict[str, Any]:  # fmt: skip
    """One building as stored, with its last update and stale flag (and its ETag)."""
    row = require_record(repo, "buildings", building_id)
    set_etag(response, row)
    return _out(row, settings)


@router.put("/{building_id}", response_model=BuildingOut,
            responses=error_responses(412, *STATUSES))  # fmt: skip
def put_building(
    building_id: BuildingIdPath, body: BuildingIn, principal: OperatorDep, repo: RepositoryDep,
    audit: AuditDep, settings: SettingsDep, if_match: IfMatchDep, response: Response,
) -> dict[str, Any]:  # fmt: skip
    """Create a building or update the fields given (operators: only their own buildings);
    with ``If-Match`` only while the stored building still has that ETag (else 412)."""
    fields = body.model_dump(mode="json", exclude_unset=True)
    record = building_write(principal, building_id, fields)
    note = audit.for_write(principal, action="building.upsert", detail=fields)
    row = upsert_building(repo, record, may_edit=may_edit(principal), if_match=if_match,
                          audit=note, writer=principal)  # fmt: skip
    set_etag(response, row)
    return _out(row, settings)


@router.delete("/{building_id}", response_model=DeletedOut, responses=ERRORS)
def remove_building(
    building_id: BuildingIdPath, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep
) -> DeletedOut:
    """Delete a building with its tenancies and events (operators: only their own)."""
    note = audit.for_write(principal, action="building.delete")
    delete_building(repo, building_id, may_edit=may_edit(principal), audit=note)
    return DeletedOut(deleted=building_id)
