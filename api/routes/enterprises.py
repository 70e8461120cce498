"""The enterprise registry: list, read, create or update, delete.

Credit details (``credit_score``, ``risk_flags``) are shown to operators and admins only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tenantmatch.api.access import enterprise_view
from tenantmatch.api.deps import (
    AdminDep,
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
    DeletedOut,
    EnterpriseIn,
    EnterpriseListOut,
    EnterpriseListQuery,
    EnterpriseOut,
    EntityId,
    error_responses,
)
from tenantmatch.store import (
    EnterpriseFilter,
    delete_enterprise,
    plain_record,
    require_record,
    upsert_enterprise,
)

router = APIRouter(prefix="/v1/enterprises", tags=["registry"])

EnterpriseIdPath = Annotated[EntityId, Path(description="An enterprise_id.")]
ERRORS = error_responses(400, 404, 503, *AUTH_ERRORS)


@router.get("", response_model=EnterpriseListOut, response_model_exclude_unset=True,
            responses=ERRORS)  # fmt: skip
def list_enterprises(
    query: Annotated[EnterpriseListQuery, Query()], principal: ViewerDep, lists: ListsDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Enterprises by id, filtered, one page at a time."""
    check_page(query.limit, settings)
    filters = EnterpriseFilter(
        q=query.q, city=frozenset(query.city), district=frozenset(query.district),
        industry_division=frozenset(query.industry_division),
        hq_type=frozenset(h.value for h in query.hq_type),
        tag=frozenset(t.value for t in query.tag),
    )  # fmt: skip
    total, items = lists.enterprises(filters, offset=query.offset, limit=query.limit)
    visible = [enterprise_view(item, principal) for item in items]
    return {"total": total, "offset": query.offset, "limit": query.limit, "items": visible}


@router.get("/{enterprise_id}", response_model=EnterpriseOut, response_model_exclude_unset=True,
            responses=ERRORS)  # fmt: skip
def get_enterprise(
    enterprise_id: EnterpriseIdPath, principal: ViewerDep, repo: RepositoryDep
) -> dict[str, Any]:
    """One enterprise as stored (credit details for operators and admins only)."""
    row = require_record(repo, "enterprises", enterprise_id)
    return enterprise_view(plain_record(row), principal)


@router.put("/{enterprise_id}", response_model=EnterpriseOut, responses=ERRORS)
def put_enterprise(
    enterprise_id: EnterpriseIdPath, body: EnterpriseIn, principal: OperatorDep,
    repo: RepositoryDep, audit: AuditDep,
) -> dict[str, Any]:  # fmt: skip
    """Create an enterprise or update the fields given (operators and admins)."""
    fields = body.model_dump(mode="json", exclude_unset=True)
    row = upsert_enterprise(repo, {**fields, "enterprise_id": enterprise_id})
    audit.add(principal, action="enterprise.upsert", target=enterprise_id, detail=fields, wait=True)
    return plain_record(row)


@router.delete("/{enterprise_id}", response_model=DeletedOut, responses=ERRORS)
def remove_enterprise(
    enterprise_id: EnterpriseIdPath, principal: AdminDep, repo: RepositoryDep, audit: AuditDep
) -> DeletedOut:
    """Delete an enterprise with its links, tenancies and events (admins)."""
    delete_enterprise(repo, enterprise_id)
    audit.add(principal, action="enterprise.delete", target=enterprise_id, wait=True)
    return DeletedOut(deleted=enterprise_id)
