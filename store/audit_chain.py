"""The audit log as a hash chain: append, verify, read with filters, prune.

Each row's ``hash`` is the SHA-256 hex of the previous row's hash followed by the row's own
canonical content (id, UTC time to the microsecond, key_id, action, target, detail as compact
JSON). Rows are appended only inside a write transaction, which holds the database's single
writer lock (``engine.write_transaction``), so the chain stays linear across threads and
processes. Pruning keeps it verifiable: the hash and id of the newest pruned row become the
chain's anchor (meta ``audit_chain_anchor``). Changing, inserting or deleting a row (other than
the newest ones) breaks the chain at the first row after the change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, select, true

from tenantmatch.registry import csv_bytes
from tenantmatch.store import records
from tenantmatch.store.schema import audit_log, meta

ANCHOR_KEY = "audit_chain_anchor"  # meta: {"id": newest pruned id, "hash": its hash}
CSV_HEADERS = ("id", "ts", "actor", "action", "target", "detail", "hash")
_VERIFY_CHUNK = 5_000


def row_hash(previous: str, row: Mapping[str, Any]) -> str:
    """The chain hash of ``row`` (id, ts, key_id, action, target, detail) after ``previous``."""
    ts = records.utc(row["ts"]).isoformat(timespec="microseconds")
    content = [int(row["id"]), ts, row["key_id"], row["action"], row["target"], row["detail"]]
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + text).encode("utf-8")).hexdigest()


def anchor(conn: Connection) -> tuple[int, str]:
    """(id, hash) the chain starts after: the newest pruned row, (0, "") before any pruning."""
    value = conn.execute(select(meta.c.value).where(meta.c.key == ANCHOR_KEY)).scalar()
    if not value:
        return 0, ""
    stored = json.loads(value)
    return int(stored["id"]), str(stored["hash"])


def _head(conn: Connection) -> tuple[int, str]:
    last = conn.execute(
        select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).first()
    start_id, start_hash = anchor(conn)
    if last is None or int(last.id) <= start_id:
        return start_id, start_hash
    return int(last.id), str(last.hash or "")


def append_chained(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert audit entries (``action``, optional ``target``, ``key_id``, ``detail``, ``ts``) in
    order, each chained to the one before; returns their ids. ``conn`` must be inside a write
    transaction (the writer lock keeps the chain linear)."""
    if not entries:
        return []
    last_id, previous = _head(conn)
    rows = []
    for offset, entry in enumerate(entries, start=1):
        row = {"id": last_id + offset, **records.audit_row(entry)}
        previous = row["hash"] = row_hash(previous, row)
        rows.append(row)
    conn.execute(insert(audit_log), rows)
    return [int(r["id"]) for r in rows]


@dataclass(frozen=True)
class ChainCheck:
    """What ``verify`` found: rows checked, and the id of the first row whose hash does not
    follow (None when the chain is whole)."""

    checked: int
    broken_id: int | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(conn: Connection) -> ChainCheck:
    """Recompute the chain from its anchor, oldest row first, in chunks."""
    last_id, previous = anchor(conn)
    checked = 0
    for row in _rows_after(conn, last_id):
        if int(row["id"]) <= last_id:
            return ChainCheck(checked, int(row["id"]), "id not after the previous row")
        expected = row_hash(previous, row)
        if row["hash"] != expected:
            return ChainCheck(checked, int(row["id"]), "hash does not match the row's content")
        previous, last_id, checked = expected, int(row["id"]), checked + 1
    return ChainCheck(checked, None)


def _rows_after(conn: Connection, start_id: int) -> Iterator[dict[str, Any]]:
    # every row below the anchor too: a row inserted under it is a break, not invisible
    floor = conn.execute(select(func.min(audit_log.c.id))).scalar()
    cursor = min(start_id, int(floor) - 1) if floor is not None else start_id
    while True:
        query = (select(audit_log).where(audit_log.c.id > cursor)
                 .order_by(audit_log.c.id).limit(_VERIFY_CHUNK))  # fmt: skip
        chunk = [dict(r._mapping) for r in conn.execute(query)]
        if not chunk:
            return
        yield from chunk
        cursor = int(chunk[-1]["id"])


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows to read: each given field must match (``since`` inclusive, ``until``
    exclusive, UTC); rows come newest first, ``offset`` rows skipped, at most ``limit``."""

    key_id: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0

    def where(self) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        for name in ("key_id", "target", "action"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(audit_log.c[name] == value)
        if self.since is not None:
            conditions.append(audit_log.c.ts >= records.utc(self.since))
        if self.until is not None:
            conditions.append(audit_log.c.ts < records.utc(self.until))
        return and_(true(), *conditions)


def iter_rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every audit row, oldest first, read in chunks (for export)."""
    for row in _rows_after(conn, 0):
        yield records.timestamped(row)


def audit_csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Audit rows as a UTF-8 CSV (with BOM, for Excel), formula-like cells neutralised."""
    cells = ([r["id"], records.utc(r["ts"]).isoformat(), r["key_id"], r["action"], r["target"],
              r["detail"], r["hash"]] for r in rows)  # fmt: skip
    return csv_bytes(CSV_HEADERS, cells)


def read_filtered(conn: Connection, flt: AuditFilter) -> tuple[list[dict[str, Any]], int]:
    """(rows newest first, total matching) of the audit log under ``flt``."""
    where = flt.where()
    total = int(conn.execute(select(func.count()).select_from(audit_log).where(where)).scalar_one())
    query = (select(audit_log).where(where).order_by(audit_log.c.id.desc())
             .offset(flt.offset).limit(flt.limit))  # fmt: skip
    return [records.timestamped(dict(r._mapping)) for r in conn.execute(query)], total


def prune_before(conn: Connection, cutoff: datetime) -> int:
    """Delete the oldest rows up to the last one older than ``cutoff`` (a prefix of the chain:
    rows are deleted in id order, stopping at the first row at or after ``cutoff``); the newest
    deleted row's id and hash become the anchor. Returns how many went."""
    first_kept = conn.execute(
        select(func.min(audit_log.c.id)).where(audit_log.c.ts >= records.utc(cutoff))
    ).scalar()
    bound = audit_log.c.id < first_kept if first_kept is not None else audit_log.c.id.is_not(None)
    newest = conn.execute(
        select(audit_log.c.id, audit_log.c.hash)
        .where(bound)
        .order_by(audit_log.c.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return 0
    deleted = conn.execute(delete(audit_log).where(audit_log.c.id <= newest.id)).rowcount
    value = json.dumps({"id": int(newest.id), "hash": str(newest.hash or "")})
    records.put_meta(conn, ANCHOR_KEY, value)
    return int(deleted)
