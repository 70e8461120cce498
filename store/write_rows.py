"""What every registry write shares: records as validated text cells, required rows (read
under the write's lock), the stored row after a write, and the write's audit entries."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry import (
    LIST_SEPARATOR,
    TABLES_BY_NAME,
    InputError,
    NotFoundError,
    ValidationFailed,
)
from tenantmatch.store.access import AuditNote
from tenantmatch.store.repository import Repository
from tenantmatch.store.transaction import WriteTransaction
from tenantmatch.store.validation import validate_table

ID_COLUMNS: dict[str, str] = {"buildings": "building_id", "enterprises": "enterprise_id"}
UPDATED_AT = "updated_at"

# Whether the caller may change a stored building row; a refused one answers NotFoundError,
# exactly like a missing building.
EditCheck = Callable[[Mapping[str, Any]], bool]


def require_record(repo: Repository, table: str, entity_id: object) -> dict[str, Any]:
    """The stored row of a building or enterprise; NotFoundError naming the id."""
    row = repo.get_row(table, {ID_COLUMNS[table]: _entity_id(table, entity_id)})
    if row is None:
        raise not_found(table, entity_id)
    return row


def require_locked(
    tx: WriteTransaction, table: str, entity_id: object, *, may_edit: EditCheck | None = None
) -> dict[str, Any]:
    """:func:`require_record` inside a write transaction (the row stays locked until commit);
    a row ``may_edit`` refuses answers NotFoundError, like a missing one."""
    row = tx.get_row(table, {ID_COLUMNS[table]: _entity_id(table, entity_id)})
    if row is None or (may_edit is not None and not may_edit(row)):
        raise not_found(table, entity_id)
    return row


def _entity_id(table: str, entity_id: object) -> str:
    if entity_id is None or str(entity_id).strip() == "":
        raise InputError(f"{ID_COLUMNS[table]} is required: a non-empty id")
    return str(entity_id)


def not_found(table: str, entity_id: object) -> NotFoundError:
    return NotFoundError(f"{ID_COLUMNS[table]} {entity_id!r} does not exist in {table}")


def audit_entries(audit: AuditNote | None, target: str, **extra: Any) -> list[dict[str, Any]]:
    """The write's audit entry about ``target`` (none without a note)."""
    return [] if audit is None else [audit.entry(target, **extra)]


def ids_of(record: Mapping[str, Any], *, buildings: Collection[str] = ()) -> dict[str, set[str]]:
    """Known ids for the reference check: the record's own (already checked to exist)."""
    return {
        "buildings": {str(record.get("building_id")), *buildings},
        "enterprises": {str(record.get("enterprise_id"))},
    }


def text_record(table: str, record: Mapping[Any, Any]) -> dict[str, str]:
    """A record as text cells the validator reads; unknown columns raise InputError."""
    spec = TABLES_BY_NAME[table]
    unknown = sorted({str(k) for k in record} - set(spec.column_names) - {UPDATED_AT})
    if unknown:
        raise InputError(
            f"{table} has no column(s) {unknown}; allowed: {', '.join(spec.column_names)}"
        )
    return {str(k): cell(v) for k, v in record.items() if k != UPDATED_AT}


def cell(value: Any) -> str:
    """One value as the text cell a contract file would hold (lists ``;``-joined, dates ISO)."""
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


def validated(
    table: str, rows: list[dict[str, str]], *, known: Mapping[str, Collection[str]] | None = None
) -> pd.DataFrame:
    """Canonical frame of ``rows`` (RangeIndex); ``ValidationFailed`` naming each bad field."""
    columns = list(dict.fromkeys(c for r in rows for c in r))
    raw = pd.DataFrame([[r.get(c, "") for c in columns] for r in rows], columns=columns, dtype=str)
    checked = validate_table(table, raw, file=table, known_ids=known)
    if checked.errors:
        raise ValidationFailed(checked.errors)
    return checked.frame.reset_index(drop=True)


def stored_row(tx: WriteTransaction, table: str, frame: pd.DataFrame) -> dict[str, Any]:
    """The stored row with the key of ``frame``'s first row, as written by ``tx``."""
    spec = TABLES_BY_NAME[table]
    row = frame.iloc[0]
    key = {k: (row[k].date() if isinstance(row[k], pd.Timestamp) else row[k]) for k in spec.key}
    stored = tx.get_row(table, key)
    if stored is None:  # cannot happen: written by this transaction, which holds the lock
        raise NotFoundError(f"{table} row {key} vanished right after it was written")
    return stored
