"""Single-row helpers: UTC timestamps, row dicts, metadata and API key rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from tenantmatch.store.schema import meta

_TIMESTAMPS = ("updated_at", "created_at", "revoked_at", "expires_at", "last_used_at", "ts")


def utc(value: datetime | None) -> datetime:
    """``value`` as an aware UTC datetime; None means now and a naive value is taken as UTC."""
    if value is None:
        return datetime.now(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def timestamped(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its timestamp columns as aware UTC datetimes (SQLite returns naive UTC)."""
    return {k: utc(v) if k in _TIMESTAMPS and v is not None else v for k, v in row.items()}


def data_row(row: dict[str, Any]) -> dict[str, Any]:
    """A canonical table's row as Python values; ``updated_at`` aware UTC."""
    return timestamped(row)


def put_meta(conn: Connection, key: str, value: str) -> None:
    """Insert or replace one metadata entry inside the open transaction."""
    exists = conn.execute(select(meta.c.key).where(meta.c.key == key)).first() is not None
    if exists:
        conn.execute(update(meta).where(meta.c.key == key).values(value=value))
    else:
        conn.execute(meta.insert().values(key=key, value=value))


def audit_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The audit_log row of an entry with ``action`` and optional ``target``, ``key_id``,
    ``detail``, ``ts`` (default now, UTC)."""
    return {
        "ts": utc(entry.get("ts")),
        "key_id": entry.get("key_id"),
        "action": entry["action"],
        "target": entry.get("target"),
        "detail": entry.get("detail"),
    }


def api_key_row(
    key_id: str,
    key_hash: str,
    role: str,
    operator_id: str | None,
    created_at: datetime | None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """The api_keys row to insert; ``created_at`` defaults to now (UTC), no ``expires_at``
    means the key never expires."""
    return {
        "key_id": key_id,
        "key_hash": key_hash,
        "role": role,
        "operator_id": operator_id,
        "created_at": utc(created_at),
        "revoked_at": None,
        "expires_at": None if expires_at is None else utc(expires_at),
    }
