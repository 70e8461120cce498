"""Live registry updates (楼宇台账动态更新): single-record writes, moves, events, bulk uploads.

Every write goes through the contract validator (``matching.validation.validate_table``, the same
one the CLI import uses) and then through one ``Repository.upsert`` transaction, which raises the
repository's ``data_version`` so a cached Engine rebuilds its snapshot on the next query.
A record is a mapping of contract columns to Python values (``None`` = empty cell, lists of codes
or ``;``-joined text, dates as ``datetime.date`` or text); updating an existing id keeps the stored
values of columns the record leaves out. Each stored row keeps ``updated_at`` (UTC).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Collection, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import Registry, Snapshot
from matching.candidates import space_need_of
from matching.contract import LIST_SEPARATOR, TABLES_BY_NAME
from matching.errors import InputError, NotFoundError, RowError, ValidationFailed
from matching.importer import ImportReport, TableReport
from matching.listing import days_since_update, plain_record
from matching.readers import FORMAT_PRECEDENCE, RawTable, read_table_file
from matching.storage import Repository, UpsertCount
from matching.validation import empty_frame, validate_table

logger = logging.getLogger(__name__)

ID_COLUMNS: dict[str, str] = {"buildings": "building_id", "enterprises": "enterprise_id"}
UPDATED_AT = "updated_at"
MAX_REPORTED_ERRORS = 200


# -- single records ---------------------------------------------------------------------------


def upsert_building(repo: Repository, record: Mapping[str, Any]) -> dict[str, Any]:
    """Create or update one building; returns the stored row (with ``updated_at``)."""
    return _upsert_entity(repo, "buildings", record)


def upsert_enterprise(repo: Repository, record: Mapping[str, Any]) -> dict[str, Any]:
    """Create or update one enterprise; returns the stored row (with ``updated_at``)."""
    return _upsert_entity(repo, "enterprises", record)


def delete_building(repo: Repository, building_id: str) -> None:
    """Delete a building with its tenancies and events; NotFoundError if it does not exist."""
    _delete_entity(repo, "buildings", building_id)


def delete_enterprise(repo: Repository, enterprise_id: str) -> None:
    """Delete an enterprise with its links, tenancies and events; NotFoundError if absent."""
    _delete_entity(repo, "enterprises", enterprise_id)


def record_event(repo: Repository, record: Mapping[str, Any]) -> dict[str, Any]:
    """Store one attraction event (enterprise_id, building_id, date, stage); returns its row."""
    require_record(repo, "enterprises", record.get("enterprise_id"))
    require_record(repo, "buildings", record.get("building_id"))
    frame = _validated("events", [_text_record("events", record)], known=_ids_of(record))
    repo.upsert({"events": frame})
    return _stored(repo, "events", frame)


def _upsert_entity(repo: Repository, table: str, record: Mapping[str, Any]) -> dict[str, Any]:
    id_column = ID_COLUMNS[table]
    text = _text_record(table, record)
    if not text.get(id_column):
        raise InputError(f"{table} record needs {id_column!r}: a non-empty id")
    stored = repo.get_row(table, {id_column: text[id_column]})
    if stored is not None:
        text = {**_text_record(table, stored), **text}
    frame = _validated(table, [text])
    repo.upsert({table: frame})
    logger.info("%s %s %s", "updated" if stored else "created", table, text[id_column])
    return _stored(repo, table, frame)


def _delete_entity(repo: Repository, table: str, entity_id: str) -> None:
    id_column = ID_COLUMNS[table]
    if repo.delete_rows(table, [{id_column: str(entity_id)}]) == 0:
        raise NotFoundError(f"{id_column} {entity_id!r} does not exist in {table}")
    logger.info("deleted %s %s", table, entity_id)


# -- tenancies ----------------------------------------------------------------------------------


def move_in(
    repo: Repository,
    *,
    enterprise_id: str,
    building_id: str,
    start_date: date | str,
    area_m2: float | None = None,
) -> dict[str, Any]:
    """Record that an enterprise moves into a building on ``start_date``; returns the tenancy.

    Its open tenancies elsewhere end the day before (their buildings regain their area); the
    building's vacancy drops by ``area_m2`` (default: the features package's space-need estimate),
    which may not exceed the vacancy. All in one transaction.
    """
    enterprise = require_record(repo, "enterprises", enterprise_id)
    building = require_record(repo, "buildings", building_id)
    new: dict[str, Any] = {"enterprise_id": enterprise_id, "building_id": building_id,
                           "start_date": start_date}  # fmt: skip
    first = _validated("tenancies", [_text_record("tenancies", new)], known=_ids_of(new))
    start = pd.Timestamp(first["start_date"].iloc[0])
    open_ = _open_tenancies(repo, enterprise_id=enterprise_id)
    if (open_["building_id"] == building_id).any():
        raise InputError(
            f"enterprise {enterprise_id!r} is already a tenant of building {building_id!r}; "
            "record a move-out first"
        )
    ended = _ended(open_, start=start, enterprise_id=enterprise_id)
    area = _move_in_area(area_m2, enterprise=enterprise, open_=open_, building=building, at=start)
    new |= {"area_m2": area, "start_date": start, "end_date": None}
    rows = [_text_record("tenancies", r) for r in [*ended.to_dict("records"), new]]  # type: ignore[arg-type]
    tenancies = _validated("tenancies", rows, known=_ids_of(new, buildings=ended["building_id"]))
    changes = {building_id: -area} | _area_returned(ended)
    repo.upsert({"buildings": _vacancy_frame(repo, changes), "tenancies": tenancies})
    logger.info("move-in: %s into %s, %.0f m2", enterprise_id, building_id, area)
    return _stored(repo, "tenancies", tenancies.iloc[[-1]])


def move_out(
    repo: Repository, *, enterprise_id: str, building_id: str, end_date: date | str
) -> dict[str, Any]:
    """End the enterprise's open tenancy in the building on ``end_date``; the building's vacancy
    rises by the tenancy's area (if known). NotFoundError when no such open tenancy exists."""
    require_record(repo, "enterprises", enterprise_id)
    require_record(repo, "buildings", building_id)
    open_ = _open_tenancies(repo, enterprise_id=enterprise_id)
    here = open_[open_["building_id"] == building_id]
    if here.empty:
        raise NotFoundError(
            f"enterprise {enterprise_id!r} has no open tenancy in building {building_id!r}"
        )
    rows = [_text_record("tenancies", r) | {"end_date": _cell(end_date)}
            for r in here.to_dict("records")]  # fmt: skip
    tenancies = _validated("tenancies", rows, known=_ids_of(rows[0]))
    buildings = _vacancy_frame(repo, _area_returned(tenancies))
    repo.upsert({"buildings": buildings, "tenancies": tenancies})
    logger.info("move-out: %s from %s on %s", enterprise_id, building_id, end_date)
    return _stored(repo, "tenancies", tenancies.iloc[[-1]])


def _open_tenancies(repo: Repository, *, enterprise_id: str) -> pd.DataFrame:
    ten = repo.load_table("tenancies").drop(columns=UPDATED_AT)
    return ten[(ten["enterprise_id"] == enterprise_id) & ten["end_date"].isna()]


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
    building: Mapping[str, Any],
    at: pd.Timestamp,
) -> float:
    area = _need_estimate(enterprise, open_, at=at) if area_m2 is None else float(area_m2)
    if not (math.isfinite(area) and area > 0):
        raise InputError(f"area_m2={area_m2!r} invalid; allowed: a finite number > 0 (m²)")
    vacant = float(building["vacant_area_m2"])
    if area > vacant:
        raise InputError(
            f"area_m2 {area:.0f} exceeds building {building['building_id']!r}'s vacant area "
            f"{vacant:.0f} m²; allowed: at most the vacant area"
        )
    return area


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


def _vacancy_frame(repo: Repository, changes: Mapping[str, float]) -> pd.DataFrame:
    """Validated rows of the changed buildings with vacancy moved by ``changes`` (m²), kept
    within ``[0, total_area_m2]``."""
    rows = []
    for building_id, delta in changes.items():
        row = require_record(repo, "buildings", building_id)
        vacant = float(row["vacant_area_m2"]) + float(delta)
        row["vacant_area_m2"] = min(max(vacant, 0.0), float(row["total_area_m2"]))
        rows.append(_text_record("buildings", row))
    return _validated("buildings", rows)


# -- bulk upload and staleness ------------------------------------------------------------------


def bulk_upload(
    repo: Repository, *, table: str, filename: str, content: bytes, skip_invalid: bool
) -> dict[str, Any]:
    """Import one data-contract file (CSV, xlsx or Parquet bytes) of ``table``.

    Same reader and validator as ``tenantmatch import``: all-or-nothing (``ValidationFailed``)
    unless ``skip_invalid``. Returns ``ImportReport.to_dict()`` plus the first rejected cells.
    """
    if table not in TABLES_BY_NAME:
        raise InputError(f"table {table!r} is unknown; allowed: {', '.join(TABLES_BY_NAME)}")
    raw = _read_upload(filename, content, table=table)
    frame, errors, merged = _check_upload(repo, raw)
    if errors and not skip_invalid:
        raise ValidationFailed(errors)
    counts = repo.upsert({table: frame})[table] if len(frame) else None
    rows_read = len(raw.frame) + len({e.row for e in raw.errors if e.row > 1})
    report = _upload_report(table, raw.file, rows_read, counts, errors, kept=len(frame),
                            merged=merged)  # fmt: skip
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
    id_column = ID_COLUMNS[table]
    if entity_id is None or str(entity_id).strip() == "":
        raise InputError(f"{id_column} is required: a non-empty id")
    row = repo.get_row(table, {id_column: str(entity_id)})
    if row is None:
        raise NotFoundError(f"{id_column} {entity_id!r} does not exist in {table}")
    return row


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


def _stored(repo: Repository, table: str, frame: pd.DataFrame) -> dict[str, Any]:
    """The stored row with the key of ``frame``'s first row."""
    spec = TABLES_BY_NAME[table]
    row = frame.iloc[0]
    key = {k: (row[k].date() if isinstance(row[k], pd.Timestamp) else row[k]) for k in spec.key}
    stored = repo.get_row(table, key)
    if stored is None:  # written in the same call; absent only if another writer deleted it
        raise NotFoundError(f"{table} row {key} vanished right after it was written")
    return stored
