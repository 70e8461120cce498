"""Live registry updates (楼宇台账动态更新): single-record writes, moves, events, bulk uploads.

Every write goes through the contract validator (``matching.validation.validate_table``, the same
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
import math
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import Registry, Snapshot
from matching.access import AuditNote
from matching.candidates import space_need_of
from matching.contract import LIST_SEPARATOR, TABLES_BY_NAME
from matching.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PreconditionFailed,
    RowError,
    ValidationFailed,
)
from matching.importer import ImportReport, TableReport
from matching.listing import days_since_update, plain_record
from matching.readers import FORMAT_PRECEDENCE, RawTable, read_table_file
from matching.storage import Repository, UpsertCount, WriteTransaction
from matching.validation import empty_frame, validate_table

logger = logging.getLogger(__name__)

ID_COLUMNS: dict[str, str] = {"buildings": "building_id", "enterprises": "enterprise_id"}
UPDATED_AT = "updated_at"
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

EditCheck = Callable[[Mapping[str, Any]], bool]


def upsert_building(
    repo: Repository,
    record: Mapping[str, Any],
    *,
    may_edit: EditCheck | None = None,
    if_match: Collection[str] | None = None,
    create_only: bool = False,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """Create or update one building; returns the stored row (with ``updated_at``)."""
    check = _WriteCheck(may_edit, if_match, create_only)
    return _upsert_entity(repo, "buildings", record, check=check, audit=audit)


def upsert_enterprise(
    repo: Repository,
    record: Mapping[str, Any],
    *,
    if_match: Collection[str] | None = None,
    create_only: bool = False,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """Create or update one enterprise; returns the stored row (with ``updated_at``)."""
    check = _WriteCheck(None, if_match, create_only)
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
        _require(tx, "buildings", building_id, may_edit=may_edit)
        tx.delete("buildings", [{"building_id": str(building_id)}])
        tx.append_audit(_entries(audit, str(building_id)))
    logger.info("deleted buildings %s", building_id)


def delete_enterprise(
    repo: Repository, enterprise_id: str, *, audit: AuditNote | None = None
) -> None:
    """Delete an enterprise with its links, tenancies and events; NotFoundError if absent."""
    with repo.transaction(f"delete enterprise {enterprise_id!r}") as tx:
        _require(tx, "enterprises", enterprise_id)
        tx.delete("enterprises", [{"enterprise_id": str(enterprise_id)}])
        tx.append_audit(_entries(audit, str(enterprise_id)))
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
        _require(tx, "enterprises", record.get("enterprise_id"))
        _require(tx, "buildings", record.get("building_id"), may_edit=may_edit)
        frame = _validated("events", [_text_record("events", record)], known=_ids_of(record))
        tx.upsert({"events": frame})
        tx.append_audit(_entries(audit, str(record["building_id"])))
        return _stored(tx, "events", frame)


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

    def check(self, table: str, entity_id: str, stored: Mapping[str, Any] | None) -> None:
        """Raise unless the caller may write ``stored`` (None: the id is new)."""
        if stored is not None and self.may_edit is not None and not self.may_edit(stored):
            raise _not_found(table, entity_id)
        if stored is not None and self.create_only:
            raise ConflictError(
                f"{ID_COLUMNS[table]} {entity_id!r} already exists in {table}; update it with "
                f"PUT instead (编号 {entity_id} 已存在，不能重复创建)"
            )
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
    text = _text_record(table, record)
    entity_id = text.get(id_column)
    if not entity_id:
        raise InputError(f"{table} record needs {id_column!r}: a non-empty id")
    with repo.transaction(f"write {table} {entity_id!r}") as tx:
        stored = tx.get_row(table, {id_column: entity_id})
        check.check(table, entity_id, stored)
        if stored is not None:  # the merge happens under the writer lock: no update is lost
            text = {**_text_record(table, stored), **text}
        frame = _validated(table, [text])
        tx.upsert({table: frame})
        tx.append_audit(_entries(audit, entity_id))
        row = _stored(tx, table, frame)
    logger.info("%s %s %s", "updated" if stored else "created", table, entity_id)
    return row


# -- tenancies ----------------------------------------------------------------------------------


def move_in(
    repo: Repository,
    *,
    enterprise_id: str,
    building_id: str,
    start_date: date | str,
    area_m2: float | None = None,
    may_edit: EditCheck | None = None,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """Record that an enterprise moves into a building on ``start_date``; returns the tenancy.

    Its open tenancies elsewhere end the day before (their buildings regain their area); the
    building's vacancy drops by ``area_m2`` (default: the features package's space-need
    estimate) in SQL, refused with ConflictError when the vacancy does not cover it. All in one
    transaction, with audit entries naming every building touched.
    """
    new: dict[str, Any] = {"enterprise_id": enterprise_id, "building_id": building_id,
                           "start_date": start_date}  # fmt: skip
    first = _validated("tenancies", [_text_record("tenancies", new)], known=_ids_of(new))
    start = pd.Timestamp(first["start_date"].iloc[0])
    with repo.transaction(f"move-in of {enterprise_id!r} into {building_id!r}") as tx:
        enterprise = _require(tx, "enterprises", enterprise_id)
        building = _require(tx, "buildings", building_id, may_edit=may_edit)
        open_ = _open_tenancies(tx, enterprise_id=enterprise_id)
        if (open_["building_id"] == building_id).any():
            raise ConflictError(
                f"enterprise {enterprise_id!r} is already a tenant of building {building_id!r}; "
                f"record a move-out first (该企业已入驻该楼宇)"
            )
        ended = _ended(open_, start=start, enterprise_id=enterprise_id)
        area = _move_in_area(area_m2, enterprise=enterprise, open_=open_, at=start)
        _take_vacancy(tx, building, area)
        returned = _return_vacancy(tx, ended)
        new |= {"area_m2": area, "start_date": start, "end_date": None}
        rows = [_text_record("tenancies", r) for r in [*ended.to_dict("records"), new]]  # type: ignore[arg-type]
        tenancies = _validated(
            "tenancies", rows, known=_ids_of(new, buildings=ended["building_id"])
        )
        tx.upsert({"tenancies": tenancies})
        tx.append_audit(_move_in_entries(audit, building_id, area, ended, returned))
        row = _stored(tx, "tenancies", tenancies.iloc[[-1]])
    logger.info("move-in: %s into %s, %.0f m2", enterprise_id, building_id, area)
    return row


def move_out(
    repo: Repository,
    *,
    enterprise_id: str,
    building_id: str,
    end_date: date | str,
    may_edit: EditCheck | None = None,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """End the enterprise's open tenancy in the building on ``end_date``; the building's vacancy
    rises by the tenancy's area (if known). NotFoundError when no such open tenancy exists."""
    with repo.transaction(f"move-out of {enterprise_id!r} from {building_id!r}") as tx:
        _require(tx, "enterprises", enterprise_id)
        _require(tx, "buildings", building_id, may_edit=may_edit)
        open_ = _open_tenancies(tx, enterprise_id=enterprise_id)
        here = open_[open_["building_id"] == building_id]
        if here.empty:
            raise NotFoundError(
                f"enterprise {enterprise_id!r} has no open tenancy in building {building_id!r}"
            )
        rows = [_text_record("tenancies", r) | {"end_date": _cell(end_date)}
                for r in here.to_dict("records")]  # fmt: skip
        tenancies = _validated("tenancies", rows, known=_ids_of(rows[0]))
        returned = _return_vacancy(tx, tenancies)
        tx.upsert({"tenancies": tenancies})
        tx.append_audit(_entries(audit, building_id, vacancy_change_m2=returned))
        row = _stored(tx, "tenancies", tenancies.iloc[[-1]])
    logger.info("move-out: %s from %s on %s", enterprise_id, building_id, end_date)
    return row


def _open_tenancies(tx: WriteTransaction, *, enterprise_id: str) -> pd.DataFrame:
    found = tx.read("tenancies", {"enterprise_id": enterprise_id}, missing=["end_date"])
    return found.drop(columns=UPDATED_AT)


def _ended(open_: pd.DataFrame, *, start: pd.Timestamp, enterprise_id: str) -> pd.DataFrame:
    """The open tenancies elsewhere, ended the day before ``start``."""
    end = start - pd.Timedelta(days=1)
    late = open_[open_["start_date"] > end]
    if not late.empty:
        first = late.iloc[0]
        raise InputError(
            f"start_date {start.date()} must be after the start ({first['start_date'].date()}) of "
            f"{enterprise_id!r}'s open tenancy in {first['building_id']!r}"
        )
    return open_.assign(end_date=end)


def _move_in_area(
    area_m2: float | None,
    *,
    enterprise: Mapping[str, Any],
    open_: pd.DataFrame,
    at: pd.Timestamp,
) -> float:
    area = _need_estimate(enterprise, open_, at=at) if area_m2 is None else float(area_m2)
    if not (math.isfinite(area) and area > 0):
        raise InputError(f"area_m2={area_m2!r} invalid; allowed: a finite number > 0 (m²)")
    return area


def _take_vacancy(tx: WriteTransaction, building: Mapping[str, Any], area: float) -> None:
    """Lower the building's vacancy by ``area`` m² in SQL; ConflictError naming both numbers
    when the vacancy does not cover it."""
    building_id = str(building["building_id"])
    if not tx.move_vacancy(building_id, -area):
        vacant = float(building["vacant_area_m2"])
        raise ConflictError(
            f"requested area_m2 {area:g} exceeds building {building_id!r}'s vacant area "
            f"{vacant:g} m²; allowed: at most the vacant area "
            f"(申请面积 {area:g} m² 超过楼宇 {building_id} 的空置面积 {vacant:g} m²)"
        )


def _return_vacancy(tx: WriteTransaction, ended: pd.DataFrame) -> dict[str, float]:
    """Give each building the area (m²) of its ended tenancies back (capped at its total area);
    returns the area per building. Tenancies without area give none."""
    returned = _area_returned(ended)
    for building_id, area in returned.items():
        tx.move_vacancy(building_id, area)
    return returned


def _move_in_entries(
    audit: AuditNote | None,
    building_id: str,
    area: float,
    ended: pd.DataFrame,
    returned: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The move-in's entry naming every building it touched, and one entry per building whose
    tenancy it ended (so each operator finds the change under its own building)."""
    if audit is None:
        return []
    others = [str(b) for b in dict.fromkeys(ended["building_id"])]
    changes = {building_id: -area} | {b: returned.get(b, 0.0) for b in others}
    main = audit.entry(building_id, buildings=[building_id, *others], vacancy_change_m2=changes)
    elsewhere = [
        audit.entry(b, action="tenancy.ended_by_move_in", moved_into=building_id,
                    vacancy_change_m2=returned.get(b, 0.0),
                    end_date=str(ended["end_date"].iloc[0].date()))
        for b in others
    ]  # fmt: skip
    return [main, *elsewhere]


def _need_estimate(
    enterprise: Mapping[str, Any], open_: pd.DataFrame, *, at: pd.Timestamp
) -> float:
    """The features package's space-need estimate (m²) of one enterprise on day ``at``, from its
    own row and open tenancies."""
    tables = {"enterprises": pd.DataFrame([dict(enterprise)]), "tenancies": open_}
    no_buildings = pd.DataFrame(columns=["building_id", "theme", "total_area_m2", "vacant_area_m2"])
    registry = Registry.from_tables({"buildings": no_buildings, **tables})
    need = space_need_of(Snapshot.at(registry, at))
    return float(need.get(enterprise["enterprise_id"], np.nan))


def _area_returned(ended: pd.DataFrame) -> dict[str, float]:
    """Area (m²) each building regains from ended tenancies; tenancies without area give none."""
    known = ended[ended["area_m2"].notna()]
    sums = known.groupby("building_id")["area_m2"].sum()
    return {str(k): float(v) for k, v in sums.items()}


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
    frame, errors = _check_upload(repo, raw)
    if errors and not skip_invalid:
        raise ValidationFailed(errors)
    with repo.transaction(f"upload of {table}") as tx:
        counts = tx.upsert({table: frame})[table] if len(frame) else None
        tx.append_audit(_entries(audit, table))
    rows_read = len(raw.frame) + len({e.row for e in raw.errors if e.row > 1})
    report = _upload_report(table, raw.file, rows_read, counts, errors, kept=len(frame))
    logger.info("bulk upload %s (%s): %s", table, raw.file, report.tables[table])
    out = report.to_dict()
    out["errors"] = [_error_dict(e) for e in errors[:MAX_REPORTED_ERRORS]]
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


def _check_upload(repo: Repository, raw: RawTable) -> tuple[pd.DataFrame, list[RowError]]:
    """Canonical valid rows (RangeIndex) and every rejected cell; ids may refer to the database."""
    if any(e.row == 1 for e in raw.errors):  # no usable header: nothing to validate
        return empty_frame(raw.name), list(raw.errors)
    known = {t: repo.ids(t) for t in ID_COLUMNS}
    checked = validate_table(raw.name, raw.frame, file=raw.file, rows=raw.rows, known_ids=known)
    errors = sorted(raw.errors + checked.errors, key=lambda e: e.row)
    return checked.frame.reset_index(drop=True), errors


def _upload_report(
    table: str,
    file: str,
    rows_read: int,
    counts: UpsertCount | None,
    errors: list[RowError],
    *,
    kept: int,
) -> ImportReport:
    counted = TableReport(
        file=file,
        rows_read=rows_read,
        inserted=getattr(counts, "inserted", 0),
        updated=getattr(counts, "updated", 0),
        unchanged=getattr(counts, "unchanged", 0),
        rejected=rows_read - kept,
    )
    return ImportReport({table: counted}, list(errors))


def _error_dict(error: RowError) -> dict[str, Any]:
    return {"file": error.file, "row": error.row, "column": error.column,
            "value": error.value, "reason": error.reason}  # fmt: skip


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


# -- helpers ------------------------------------------------------------------------------------


def require_record(repo: Repository, table: str, entity_id: object) -> dict[str, Any]:
    """The stored row of a building or enterprise; NotFoundError naming the id."""
    row = repo.get_row(table, {ID_COLUMNS[table]: _entity_id(table, entity_id)})
    if row is None:
        raise _not_found(table, entity_id)
    return row


def _require(
    tx: WriteTransaction, table: str, entity_id: object, *, may_edit: EditCheck | None = None
) -> dict[str, Any]:
    """:func:`require_record` inside a write transaction (the row stays locked until commit);
    a row ``may_edit`` refuses answers NotFoundError, like a missing one."""
    row = tx.get_row(table, {ID_COLUMNS[table]: _entity_id(table, entity_id)})
    if row is None or (may_edit is not None and not may_edit(row)):
        raise _not_found(table, entity_id)
    return row


def _entity_id(table: str, entity_id: object) -> str:
    if entity_id is None or str(entity_id).strip() == "":
        raise InputError(f"{ID_COLUMNS[table]} is required: a non-empty id")
    return str(entity_id)


def _not_found(table: str, entity_id: object) -> NotFoundError:
    return NotFoundError(f"{ID_COLUMNS[table]} {entity_id!r} does not exist in {table}")


def _entries(audit: AuditNote | None, target: str, **extra: Any) -> list[dict[str, Any]]:
    """The write's audit entry about ``target`` (none without a note)."""
    return [] if audit is None else [audit.entry(target, **extra)]


def _ids_of(record: Mapping[str, Any], *, buildings: Collection[str] = ()) -> dict[str, set[str]]:
    """Known ids for the reference check: the record's own (already checked to exist)."""
    return {
        "buildings": {str(record.get("building_id")), *buildings},
        "enterprises": {str(record.get("enterprise_id"))},
    }


def _text_record(table: str, record: Mapping[Any, Any]) -> dict[str, str]:
    """A record as text cells the validator reads; unknown columns raise InputError."""
    spec = TABLES_BY_NAME[table]
    unknown = sorted({str(k) for k in record} - set(spec.column_names) - {UPDATED_AT})
    if unknown:
        raise InputError(
            f"{table} has no column(s) {unknown}; allowed: {', '.join(spec.column_names)}"
        )
    return {str(k): _cell(v) for k, v in record.items() if k != UPDATED_AT}


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return LIST_SEPARATOR.join(str(v).strip() for v in value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def _validated(
    table: str, rows: list[dict[str, str]], *, known: Mapping[str, Collection[str]] | None = None
) -> pd.DataFrame:
    """Canonical frame of ``rows`` (RangeIndex); ``ValidationFailed`` naming each bad field."""
    columns = list(dict.fromkeys(c for r in rows for c in r))
    raw = pd.DataFrame([[r.get(c, "") for c in columns] for r in rows], columns=columns, dtype=str)
    checked = validate_table(table, raw, file=table, known_ids=known)
    if checked.errors:
        raise ValidationFailed(checked.errors)
    return checked.frame.reset_index(drop=True)


def _stored(tx: WriteTransaction, table: str, frame: pd.DataFrame) -> dict[str, Any]:
    """The stored row with the key of ``frame``'s first row, as written by ``tx``."""
    spec = TABLES_BY_NAME[table]
    row = frame.iloc[0]
    key = {k: (row[k].date() if isinstance(row[k], pd.Timestamp) else row[k]) for k in spec.key}
    stored = tx.get_row(table, key)
    if stored is None:  # cannot happen: written by this transaction, which holds the lock
        raise NotFoundError(f"{table} row {key} vanished right after it was written")
    return stored
