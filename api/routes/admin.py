"""Administration: bulk import, retraining jobs, model versions, API keys, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile

from tenantmatch.api.deps import (
    AdminDep,
    AuditDep,
    JobsDep,
    KeysDep,
    RepositoryDep,
    SettingsDep,
    ViewerDep,
    check_page,
)
from tenantmatch.api.errors import ApiError
from tenantmatch.api.overload import in_heavy_pool
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    AuditListOut,
    ImportOut,
    IsoDateTime,
    JobOut,
    KeyCreatedOut,
    KeyCreateIn,
    KeyListOut,
    ModelListOut,
    RevokedOut,
    error_responses,
)
from tenantmatch.api.settings import Settings
from tenantmatch.models import current_version, list_versions
from tenantmatch.registry import CSV_MEDIA_TYPE, MAX_ID_CHARS, TABLES_BY_NAME
from tenantmatch.store import (
    AuditFilter,
    AuditWriter,
    Principal,
    Repository,
    audit_csv,
    bulk_upload,
    create_key,
    list_keys,
    parse_key,
    revoke_key,
)

router = APIRouter(prefix="/v1", tags=["administration"])
STATUSES = (400, 404, 503, *AUTH_ERRORS)
ERRORS = error_responses(*STATUSES)
TableName = StrEnum("TableName", {name: name for name in TABLES_BY_NAME})  # type: ignore[misc]
KeyIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="A key_id (16 hex).")]
AUDIT_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV_MEDIA_TYPE.split(";")[0]: {}},
          "description": "JSON, or with format=csv the rows as a CSV file."}
}  # fmt: skip
JobIdPath = Annotated[str, Path(pattern=r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")]


@router.post("/admin/import", response_model=ImportOut, responses=ERRORS)
async def import_file(
    table: Annotated[TableName, Form(description="The contract table the file holds.")],
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK), xlsx or Parquet.")],
    principal: AdminDep,
    repo: RepositoryDep,
    audit: AuditDep,
    settings: SettingsDep,
    request: Request,
    skip_invalid: Annotated[bool, Form(description="Import valid rows, report the rest.")] = False,
) -> dict[str, Any]:
    """Load one data-contract file with the CLI import's validator (all-or-nothing by default).
    The key was checked before the body was read (api.overload)."""
    # on the heavy routes' own threads, never those of the cheap reads
    return await in_heavy_pool(request, _import, table, file, principal, repo, audit, settings,
                               skip_invalid)  # fmt: skip


def _import(
    table: TableName, file: UploadFile, principal: Principal, repo: Repository,
    audit: AuditWriter, settings: Settings, skip_invalid: bool,
) -> dict[str, Any]:  # fmt: skip
    content = file.file.read(settings.max_upload_bytes + 1)
    detail = {"file": file.filename, "skip_invalid": skip_invalid}
    note = audit.for_write(principal, action="import", detail=detail)
    return bulk_upload(repo, table=table.value, filename=file.filename or "", content=content,
                       skip_invalid=skip_invalid, audit=note)  # fmt: skip


@router.post("/admin/retrain", response_model=JobOut, status_code=202,
             responses=error_responses(409, *STATUSES))  # fmt: skip
def start_retrain(principal: AdminDep, jobs: JobsDep, audit: AuditDep) -> JobOut:
    """Start ``tenantmatch train`` as a separate process; poll the returned job."""
    state = jobs.start()
    audit.add(principal, action="retrain.start", target=state.job_id, wait=True)
    return JobOut.model_validate(state, from_attributes=True)


@router.get("/admin/retrain/{job_id}", response_model=JobOut, responses=ERRORS)
def retrain_job(job_id: JobIdPath, _: AdminDep, jobs: JobsDep) -> JobOut:
    """State of a retraining job: running, succeeded, failed (or lost with its server)."""
    return JobOut.model_validate(jobs.get(job_id), from_attributes=True)


@router.get("/models", response_model=ModelListOut, responses=ERRORS)
def models(_: ViewerDep, settings: SettingsDep) -> dict[str, Any]:
    """Every stored model version with its metrics, oldest first, and which one is current."""
    items = list_versions(settings.models)
    current = current_version(settings.models)
    return {"current": current, "items": [v | {"current": v["version"] == current} for v in items]}


@router.post("/admin/keys", response_model=KeyCreatedOut, status_code=201, responses=ERRORS)
def add_key(
    body: KeyCreateIn, principal: AdminDep, repo: RepositoryDep, audit: AuditDep
) -> dict[str, Any]:
    """Create an API key; the answer holds the key itself, shown only this once."""
    created = datetime.now(UTC)
    expires_at = None
    if body.expires_in_days is not None:
        expires_at = created + timedelta(days=body.expires_in_days)
    key = create_key(repo, role=body.role, operator_id=body.operator_id, created=created,
                     expires_at=expires_at)  # fmt: skip
    key_id = parse_key(key)[0]  # type: ignore[index]
    audit.add(principal, action="key.create", target=key_id,
              detail={"role": body.role, "operator_id": body.operator_id}, wait=True)  # fmt: skip
    return {"key_id": key_id, "role": body.role, "operator_id": body.operator_id,
            "created_at": created, "revoked_at": None, "expires_at": expires_at,
            "key": key}  # fmt: skip


@router.get("/admin/keys", response_model=KeyListOut, responses=ERRORS)
def keys(_: AdminDep, repo: RepositoryDep) -> dict[str, Any]:
    """Every API key's id, role, operator and dates (never the key or its hash)."""
    return {"items": list_keys(repo)}


@router.delete("/admin/keys/{key_id}", response_model=RevokedOut,
               responses=error_responses(409, *STATUSES))  # fmt: skip
def remove_key(
    key_id: KeyIdPath, principal: AdminDep, repo: RepositoryDep, audit: AuditDep, keys: KeysDep
) -> RevokedOut:
    """Revoke a key; it stops working at once on this server process and within
    ``key_cache_seconds`` (2 s by default) on its other workers. The key making the request cannot
    revoke itself (409): that would lock its holder out; use another admin key or the CLI."""
    if key_id == principal.key_id:
        raise ApiError(409, f"key {key_id} is the one making this request; it cannot revoke itself")
    changed = revoke_key(repo, key_id)
    keys.forget(key_id)  # other workers drop it within key_cache_seconds
    audit.add(principal, action="key.revoke", target=key_id, wait=True)
    return RevokedOut(key_id=key_id, changed=changed)


class AuditFormat(StrEnum):
    json = "json"
    csv = "csv"


MAX_AUDIT_CSV_ROWS = 100_000
AuditText = Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS)]


@router.get("/admin/audit", response_model=AuditListOut, responses={**ERRORS, **AUDIT_CSV})
def audit_log(
    principal: AdminDep, repo: RepositoryDep, audit: AuditDep, settings: SettingsDep,
    actor: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS,
                                       description="A key id, cli:<user> or 'service'.")] = None,
    key_id: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_CHARS,
                                        description="Same as actor.")] = None,
    target: AuditText = None,
    action: AuditText = None,
    since: Annotated[IsoDateTime | None, Query(description="From this time on (ISO 8601).")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Before this time (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_CSV_ROWS)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    format: AuditFormat = AuditFormat.json,
) -> Any:  # fmt: skip
    """The audit log, newest first, filtered (each given filter must match); ``format=csv``
    answers a CSV file (limit up to 100,000) with formula-like cells neutralised."""
    if format is AuditFormat.json:
        check_page(limit, settings)
    flt = AuditFilter(key_id=actor or key_id, target=target, action=action, since=since,
                      until=until, limit=limit, offset=offset)  # fmt: skip
    # actor and key_id name the same column: two different values match no row
    differ = actor is not None and key_id is not None and actor != key_id
    rows, total = ([], 0) if differ else repo.find_audit(flt)
    audit.add(principal, action="audit.read", detail={"format": format.value, "total": total})
    if format is AuditFormat.csv:
        return Response(audit_csv(rows), media_type=CSV_MEDIA_TYPE,
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
    items = [{**r, "actor": r["key_id"]} for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}
