"""Live registry updates (楼宇台账动态更新): single-record writes, events, bulk uploads (tenancy
moves: ``matching.moves``).

Every write goes through the contract validator (``store.validation.validate_table``, the same
one the CLI import uses) inside one ``Repository.transaction`` that reads, checks and writes (and
stores the audit entries), and raises the repository's ``data_version`` so a cached Engine
rebuilds its snapshot on the next query.
A record is a mapping of contract columns to Python values (``None`` = empty cell, lists of codes
or ``;``-joined text, dates as ``datetime.date`` or text); updating an existing id keeps the stored
values of columns the record leaves out. Each stored row keeps ``updated_at`` (UTC).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from tenantmatch.registry import (
    TABLES_BY_NAME,
    ConflictError,
    InputError,
    PreconditionFailed,
    RowError,
    ValidationFailed,
)
from tenantmatch.store.access import AuditNote, Principal, WriteAction, check_field_writes
from tenantmatch.store.importer import ImportReport, TableReport
from tenantmatch.store.listing import days_since_update, plain_record
from tenantmatch.store.messages import error_record
from tenantmatch.store.readers import FORMAT_PRECEDENCE, RawTable, read_table_file
from tenantmatch.store.repository import Repository
from tenantmatch.store.upsert import UpsertCount
from tenantmatch.store.validation import empty_frame, validate_table
from tenantmatch.store.write_rows import (
    ID_COLUMNS,
    UPDATED_AT,
    EditCheck,
    audit_entries,
    ids_of,
    not_found,
    require_locked,
    stored_row,
    text_record,
    validated,
)

logger = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 200


# -- single records ---------------------------------------------------------------------------
#
# Every write reads, checks and writes inside one ``Repository.transaction`` (which holds the
# writer lock from its start), and stores its audit entries there too: concurrent writes never
# lose one another, and a change is never committed without its audit entry.
#
# ``may_edit(building_row)`` says whether the caller may change a stored building (False
# answers NotFoundError, exactly like a missing building); ``if_match`` holds the ETags of the
# caller's copy (``"*"``: any stored row), PreconditionFailed when the stored row has none of
# them; ``create_only`` refuses an existing id with ConflictError.


def upsert_building(
    repo: Repository,
    record: Mapping[str, Any],
    *,
    may_edit: EditCheck | None = None,
    if_match: Collection[str] | None = None,
    create_only: bool = False,
    audit: AuditNote | None = None,
    writer: Principal | None = None,
) -> dict[str, Any]:
    """Create or update one building; returns the stored row (with ``updated_at``).
    ``writer``: the caller whose role the write matrix checks (None: a trusted local job)."""
    check = _WriteCheck(may_edit, if_match, create_only, writer)
    return _upsert_entity(repo, "buildings", record, check=check, audit=audit)


def upsert_enterprise(
    repo: Repository,
    record: Mapping[str, Any],
    *,
    if_match: Collection[str] | None = None,
    create_only: bool = False,
    audit: AuditNote | None = None,
    writer: Principal | None = None,
) -> dict[str, Any]:
    """Create or update one enterprise; returns the stored row (with ``updated_at``). With a
    ``writer``, ForbiddenError for what its role may not write (``store.access.WRITE_MATRIX``:
    credit and standing fields are for admins; updates of a stored enterprise too)."""
    check = _WriteCheck(None, if_match, create_only, writer)
    return _upsert_entity(repo, "enterprises", record, check=check, audit=audit)


def delete_building(
    repo: Repository,
    building_id: str,
    *,
    may_edit: EditCheck | None = None,
    audit: AuditNote | None = None,
) -> None:
    """Delete a building with its tenancies and events; NotFoundError if it does not exist."""
    with repo.transaction(f"delete building {building_id!r}") as tx:
        require_locked(tx, "buildings", building_id, may_edit=may_edit)
        tx.delete("buildings", [{"building_id": str(building_id)}])
        tx.append_audit(audit_entries(audit, str(building_id)))
    logger.info("deleted buildings %s", building_id)


def delete_enterprise(
    repo: Repository, enterprise_id: str, *, audit: AuditNote | None = None
) -> None:
    """Delete an enterprise with its links, past tenancies and events; NotFoundError if absent,
    ConflictError while it is a current tenant (its move-out returns the space first, so the
    building's vacancy stays total minus its open tenancies)."""
    with repo.transaction(f"delete enterprise {enterprise_id!r}") as tx:
        require_locked(tx, "enterprises", enterprise_id)
        current = tx.read("tenancies", {"enterprise_id": str(enterprise_id)}, missing=["end_date"])
        if not current.empty:
            buildings = ", ".join(sorted(map(repr, current["building_id"].astype(str).unique())))
            raise ConflictError(
                f"enterprise {enterprise_id!r} is a current tenant of building {buildings}; "
                "record its move-out first"
            )
        tx.delete("enterprises", [{"enterprise_id": str(enterprise_id)}])
        tx.append_audit(audit_entries(audit, str(enterprise_id)))
    logger.info("deleted enterprises %s", enterprise_id)


def record_event(
    repo: Repository,
    record: Mapping[str, Any],
    *,
    may_edit: EditCheck | None = None,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """Store one attraction event (enterprise_id, building_id, date, stage); returns its row."""
    with repo.transaction("record an event") as tx:
        require_locked(tx, "enterprises", record.get("enterprise_id"))
        require_locked(tx, "buildings", record.get("building_id"), may_edit=may_edit)
        frame = validated("events", [text_record("events", record)], known=ids_of(record))
        tx.upsert({"events": frame})
        tx.append_audit(audit_entries(audit, str(record["building_id"])))
        return stored_row(tx, "events", frame)


def row_etag(row: Mapping[str, Any]) -> str:
    """The strong HTTP entity tag (quoted) of a stored row: a hash of every column, including
    ``updated_at``, so any stored change gives a new tag."""
    text = json.dumps({str(k): row[k] for k in row}, sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class _WriteCheck:
    may_edit: EditCheck | None
    if_match: Collection[str] | None
    create_only: bool
    writer: Principal | None = None

    def check(
        self, table: str, entity_id: str, stored: Mapping[str, Any] | None,
        fields: Collection[str],
    ) -> None:  # fmt: skip
        """Raise unless the caller may write ``fields`` of ``stored`` (None: the id is new)."""
        if stored is not None and self.may_edit is not None and not self.may_edit(stored):
            raise not_found(table, entity_id)
        if stored is not None and self.create_only:
            raise ConflictError(
                f"{ID_COLUMNS[table]} {entity_id!r} already exists in {table}; update it with "
                f"PUT instead (编号 {entity_id} 已存在，不能重复创建)"
            )
        if self.writer is not None:
            action = WriteAction.CREATE if stored is None else WriteAction.UPDATE
            check_field_writes(self.writer, table, action, fields)
        if self.if_match is None or (stored is not None and "*" in self.if_match):
            return
        current = None if stored is None else row_etag(stored)
        if current not in self.if_match:
            raise PreconditionFailed(
                f"{table} {entity_id!r} is no longer the copy you read (If-Match "
                f"{', '.join(sorted(self.if_match))}; stored ETag {current or 'none: not found'}); "
                f"read it again and reapply your change (记录已被他人修改，请刷新后重试)"
            )


def _upsert_entity(
    repo: Repository,
    table: str,
    record: Mapping[str, Any],
    *,
    check: _WriteCheck,
    audit: AuditNote | None,
) -> dict[str, Any]:
    id_column = ID_COLUMNS[table]
    text = text_record(table, record)
    entity_id = text.get(id_column)
    if not entity_id:
        raise InputError(f"{table} record needs {id_column!r}: a non-empty id")
    with repo.transaction(f"write {table} {entity_id!r}") as tx:
        stored = tx.get_row(table, {id_column: entity_id})
        check.check(table, entity_id, stored, fields=set(record) - {id_column})
        if stored is not None:  # the merge happens under the writer lock: no update is lost
            text = {**text_record(table, stored), **text}
        frame = validated(table, [text])
        tx.upsert({table: frame})
        tx.append_audit(audit_entries(audit, entity_id))
        row = stored_row(tx, table, frame)
    logger.info("%s %s %s", "updated" if stored else "created", table, entity_id)
    return row


# -- bulk upload and staleness ------------------------------------------------------------------


def bulk_upload(
    repo: Repository,
    *,
    table: str,
    filename: str,
    content: bytes,
    skip_invalid: bool,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """Import one data-contract file (CSV, xlsx or Parquet bytes) of ``table``.

    Same reader and validator as ``tenantmatch import``: all-or-nothing (``ValidationFailed``)
    unless ``skip_invalid``; the audit entry (target: the table) is stored with the rows.
    Returns ``ImportReport.to_dict()`` plus the first rejected cells.
    """
    if table not in TABLES_BY_NAME:
        raise InputError(f"table {table!r} is unknown; allowed: {', '.join(TABLES_BY_NAME)}")
    raw = _read_upload(filename, content, table=table)
    frame, errors, merged = _check_upload(repo, raw)
    if errors and not skip_invalid:
        raise ValidationFailed(errors, table=table)
    with repo.transaction(f"upload of {table}") as tx:
        counts = tx.upsert({table: frame})[table] if len(frame) else None
        tx.append_audit(audit_entries(audit, table))
    rows_read = len(raw.frame) + len({e.row for e in raw.errors if e.row > 1})
    report = _upload_report(table, raw.file, rows_read, counts, errors, kept=len(frame),
                            merged=merged)  # fmt: skip
    logger.info("bulk upload %s (%s): %s", table, raw.file, report.tables[table])
    out = report.to_dict()
    out["errors"] = [error_record(e, table=table) for e in errors[:MAX_REPORTED_ERRORS]]
    return out


def _read_upload(filename: str, content: bytes, *, table: str) -> RawTable:
    """The uploaded bytes as text cells, read by the CLI import's reader (via a temp file)."""
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in FORMAT_PRECEDENCE:
        allowed = ", ".join(f".{ext}" for ext in FORMAT_PRECEDENCE)
        raise InputError(f"file {filename!r} has unsupported format; allowed: {allowed}")
    with tempfile.TemporaryDirectory(prefix="tenantmatch_upload_") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        return read_table_file(path, name=table)


def _check_upload(repo: Repository, raw: RawTable) -> tuple[pd.DataFrame, list[RowError], int]:
    """Canonical valid rows (RangeIndex), every rejected cell, and how many exact duplicate
    rows were merged; ids may refer to the database."""
    if any(e.row == 1 for e in raw.errors):  # no usable header: nothing to validate
        return empty_frame(raw.name), list(raw.errors), 0
    known = {t: repo.ids(t) for t in ID_COLUMNS}
    checked = validate_table(raw.name, raw.frame, file=raw.file, rows=raw.rows, known_ids=known)
    errors = sorted(raw.errors + checked.errors, key=lambda e: e.row)
    return checked.frame.reset_index(drop=True), errors, checked.merged


def _upload_report(
    table: str,
    file: str,
    rows_read: int,
    counts: UpsertCount | None,
    errors: list[RowError],
    *,
    kept: int,
    merged: int = 0,
) -> ImportReport:
    counted = TableReport(
        file=file,
        rows_read=rows_read,
        inserted=getattr(counts, "inserted", 0),
        updated=getattr(counts, "updated", 0),
        unchanged=getattr(counts, "unchanged", 0),
        rejected=rows_read - kept - merged,
        duplicates_merged=merged,
    )
    return ImportReport({table: counted}, list(errors))


def stale_buildings(
    repo: Repository, *, as_of: date, days: int, operator_id: str | None = None
) -> list[dict[str, Any]]:
    """Buildings whose last update (``updated_at``, UTC date) is more than ``days`` days before
    ``as_of``, most stale first; optionally only those of ``operator_id``."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise InputError(f"days={days!r} invalid; allowed: a whole number >= 0")
    b = repo.load_table("buildings")
    if operator_id is not None:
        b = b[b["operator_id"] == operator_id]
    age = days_since_update(b[UPDATED_AT], today=as_of)
    stale = b.assign(days_since_update=age)[age > days]
    stale = stale.sort_values(["days_since_update", "building_id"], ascending=[False, True])
    columns = ["building_id", "name", "city", "district", "operator_id", UPDATED_AT,
               "days_since_update"]  # fmt: skip
    return [plain_record(r) for r in stale[columns].to_dict("records")]
