"""Tenancies and attraction events: move-in, move-out, recorded outcomes of attraction work.

Operators may record them only for buildings they operate (another's building answers 404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tenantmatch.api.access import may_edit
from tenantmatch.api.deps import AuditDep, OperatorDep, RepositoryDep
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    EventIn,
    EventOut,
    MoveInIn,
    MoveOutIn,
    TenancyOut,
    error_responses,
)
from tenantmatch.store import move_in, move_out, plain_record, record_event

router = APIRouter(prefix="/v1", tags=["registry"])
ERRORS = error_responses(400, 404, 409, 503, *AUTH_ERRORS)


@router.post("/tenancies/move-in", response_model=TenancyOut, responses=ERRORS)
def post_move_in(
    body: MoveInIn, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep
) -> dict[str, Any]:
    """An enterprise moves into a building: its open tenancy elsewhere ends the day before, the
    building's vacancy drops by the area (409 when it does not fit), and it leaves that
    building's shortlist at once."""
    note = audit.for_write(principal, action="tenancy.move_in", detail=body.model_dump(mode="json"))
    row = move_in(repo, enterprise_id=body.enterprise_id, building_id=body.building_id,
                  start_date=body.start_date, area_m2=body.area_m2,
                  may_edit=may_edit(principal), audit=note)  # fmt: skip
    return plain_record(row)


@router.post("/tenancies/move-out", response_model=TenancyOut, responses=ERRORS)
def post_move_out(
    body: MoveOutIn, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep
) -> dict[str, Any]:
    """An enterprise leaves a building on ``end_date``; the vacancy rises by its area."""
    note = audit.for_write(principal, action="tenancy.move_out",
                           detail=body.model_dump(mode="json"))  # fmt: skip
    row = move_out(repo, enterprise_id=body.enterprise_id, building_id=body.building_id,
                   end_date=body.end_date, may_edit=may_edit(principal), audit=note)  # fmt: skip
    return plain_record(row)


@router.post("/events", response_model=EventOut, responses=ERRORS)
def post_event(
    body: EventIn, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep
) -> dict[str, Any]:
    """Record an outcome of attraction work (contacted, visited, negotiating, signed, declined)."""
    fields = body.model_dump(mode="json")
    note = audit.for_write(principal, action="event.record", detail=fields)
    row = record_event(repo, fields, may_edit=may_edit(principal), audit=note)
    return plain_record(row)
