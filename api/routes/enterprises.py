"""The enterprise registry: list, read, create or update, delete.

Credit details (``credit_score``, ``risk_flags``) are shown to operators and admins only.
Reads and writes of one enterprise answer its ``ETag``; ``PUT`` honours ``If-Match``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

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
from tenantmatch.api.etags import IfMatchDep, set_etag
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    DeletedOut,
    EnterpriseCreateIn,
    EnterpriseIn,
    EnterpriseListOut,
    EnterpriseListQuery,
    EnterpriseOut,
    EntityId,
    error_responses,
)
from tenantmatch.store import (
    EnterpriseFilter,
    can_see_credit,
    delete_enterprise,
    plain_record,
    require_record,
    upsert_enterprise,
)

router = APIRouter(prefix="/v1/enterprises", tags=["registry"])

EnterpriseIdPath = Annotated[EntityId, Path(description="An enterprise_id.")]
STATUSES = (400, 404, 503, *AUTH_ERRORS)
ERRORS = error_responses(*STATUSES)


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


@router.post("", response_model=EnterpriseOut, status_code=201,
             responses=error_responses(409, *STATUSES))  # fmt: skip
def create_enterprise(
    body: EnterpriseCreateIn, principal: OperatorDep, repo: RepositoryDep, audit: AuditDep,
    response: Response,
) -> dict[str, Any]:  # fmt: skip
    """Create an enterprise (operators and admins); an id that exists already answers 409.
    Credit fields (credit_score, risk_flags) and standing fields (tags, hq_type) are admins'
    (403 for an operator: ``store.access.WRITE_MATRIX``)."""
    fields = body.model_dump(mode="json", exclude_unset=True, exclude={"enterprise_id"})
    note = audit.for_write(principal, action="enterprise.create", detail=fields)
    row = upsert_enterprise(repo, {**fields, "enterprise_id": body.enterprise_id},
                            create_only=True, audit=note, writer=principal)  # fmt: skip
    set_etag(response, row)
    response.headers["Location"] = f"{router.prefix}/{body.enterprise_id}"
    return plain_record(row)


@router.get("/{enterprise_id}", response_model=EnterpriseOut, response_model_exclude_unset=True,
            responses=ERRORS)  # fmt: skip
def get_enterprise(
    enterprise_id: EnterpriseIdPath, principal: ViewerDep, repo: RepositoryDep,
    response: Response, audit: AuditDep,
) -> dict[str, Any]:  # fmt: skip
    """One enterprise as stored (credit details for operators and admins only, and such a read
    is audited; its ETag)."""
    row = require_record(repo, "enterprises", enterprise_id)
    set_etag(response, row)
    if can_see_credit(principal):
        audit.add(principal, action="enterprise.read_credit", target=enterprise_id)
    return enterprise_view(plain_record(row), principal)


@router.put("/{enterprise_id}", response_model=EnterpriseOut,
            responses=error_responses(412, *STATUSES))  # fmt: skip
def put_enterprise(
    enterprise_id: EnterpriseIdPath, body: EnterpriseIn, principal: OperatorDep,
    repo: RepositoryDep, audit: AuditDep, if_match: IfMatchDep, response: Response,
) -> dict[str, Any]:  # fmt: skip
    """Create an enterprise or update the fields given; with ``If-Match`` only while the stored
    enterprise still has that ETag (else 412). Updating a stored enterprise is for admins; an
    operator may create one without credit or standing fields (else 403)."""
    fields = body.model_dump(mode="json", exclude_unset=True)
    note = audit.for_write(principal, action="enterprise.upsert", detail=fields)
    row = upsert_enterprise(repo, {**fields, "enterprise_id": enterprise_id},
                            if_match=if_match, audit=note, writer=principal)  # fmt: skip
    set_etag(response, row)
    return plain_record(row)


@router.delete("/{enterprise_id}", response_model=DeletedOut,
               responses=error_responses(409, *STATUSES))  # fmt: skip
def remove_enterprise(
    enterprise_id: EnterpriseIdPath, principal: AdminDep, repo: RepositoryDep, audit: AuditDep
) -> DeletedOut:
    """Delete an enterprise with its links, past tenancies and events (admins); 409 while it is
    a current tenant somewhere (record its move-out first)."""
    note = audit.for_write(principal, action="enterprise.delete")
    delete_enterprise(repo, enterprise_id, audit=note)
    return DeletedOut(deleted=enterprise_id)
