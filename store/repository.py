"""The repository: canonical tables, metadata, API keys and the audit log in one database."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Integer,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tenantmatch.registry import NotFoundError, contract
from tenantmatch.store import audit_chain, records
from tenantmatch.store.changes import DataDelta, Touched, read_changes, record_change, related_rows
from tenantmatch.store.engine import make_engine, normalise_url, write_transaction
from tenantmatch.store.errors import StorageError
from tenantmatch.store.revisions import check_current, create_at_head, current_revision
from tenantmatch.store.schema import (
    DATA_TABLES,
    DATA_VERSION_KEY,
    DATA_WRITTEN_AT_KEY,
    SCHEMA_VERSION_KEY,
    api_keys,
    meta,
)
from tenantmatch.store.transaction import WriteTransaction, key_frame, table_spec
from tenantmatch.store.upsert import UpsertCount, key_filter, read_frame

logger = logging.getLogger(__name__)

ID_TABLES = {"buildings": "building_id", "enterprises": "enterprise_id"}
_RESERVED_META = (SCHEMA_VERSION_KEY, DATA_VERSION_KEY, DATA_WRITTEN_AT_KEY, audit_chain.ANCHOR_KEY)
KEY_TOUCH_SECONDS = 60  # a key's last_used_at is written at most once a minute


def redacted_url(url: str) -> str:
    """``url`` as SQLAlchemy reads it, with any password masked (for logs and ``info``)."""
    return normalise_url(url).render_as_string(hide_password=True)


class Repository:
    """Storage of tenantmatch's data in SQLite or PostgreSQL; creates the schema of an empty
    database, and refuses an older one with SchemaOutdatedError (``tenantmatch db upgrade``).

    ``url``: ``sqlite:///path/to.db``, a bare file path, or ``postgresql[+psycopg]://...``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        # This process's writers queue here rather than polling the database's lock (SQLite's
        # busy handler sleeps and retries, so 20 waiting threads starve one another).
        self._write_lock = threading.RLock()
        self.dialect: str = normalise_url(url).get_backend_name()
        try:
            self._open_schema()
        except BaseException:
            self._engine.dispose()
            raise

    def _open_schema(self) -> None:
        with self._reading() as conn:
            revision = current_revision(conn)
        if revision is None:
            # Only creating the schema takes the writer lock, so opening never waits for an
            # import; inside the lock look again, another process may have created it.
            with self._writing("create the schema") as conn:
                revision = current_revision(conn)
                if revision is None:
                    create_at_head(conn)
                    return
        where = normalise_url(self.url).render_as_string(hide_password=True)
        check_current(revision, database=where)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Repository({redacted_url(self.url)!r})"

    # -- canonical tables ------------------------------------------------------------------

    def upsert(
        self, tables: Mapping[str, pd.DataFrame], *, progress: bool = False
    ) -> dict[str, UpsertCount]:
        """Write canonical frames in one transaction, parents first; all or nothing.

        Rows equal to the stored row are not touched; a tqdm bar goes to stderr if ``progress``.
        """
        with self.transaction("upsert") as tx:
            return tx.upsert(tables, progress=progress)

    @contextmanager
    def transaction(self, what: str) -> Iterator[WriteTransaction]:
        """One write transaction holding the writer lock from its start: reads inside it see
        every committed write and nothing changes them before commit. Commits when the block
        ends (raising ``data_version`` if a canonical table changed); any error rolls it all
        back, a database error as StorageError naming ``what``."""
        with self._writing(what) as conn:
            tx = WriteTransaction(conn, now=datetime.now(UTC))
            yield tx
            if tx.changed:
                _bump_data_version(conn, tx.touched)

    def versioned_tables(self) -> tuple[int, dict[str, pd.DataFrame]]:
        """The data_version and all five canonical frames, read on one connection: the frames
        hold at least every write up to that version (maybe a later one too, whose change a
        :meth:`changes_since` of the version returns again)."""
        with self._reading() as conn:
            return _data_version(conn), _read_tables(conn)

    def changes_since(self, since: int) -> tuple[DataDelta, dict[str, pd.DataFrame]]:
        """What changed after data_version ``since`` (``store.changes``) and, unless the delta
        is ``full``, the rows naming its ids as they stand now (frames of every table)."""
        with self._reading() as conn:
            delta = read_changes(conn, since, _data_version(conn))
            if delta.full or delta.empty:
                return delta, {}
            return delta, related_rows(conn, delta.buildings, delta.enterprises)

    def load_table(self, name: str) -> pd.DataFrame:
        """The canonical frame of table ``name``: contract columns plus ``updated_at`` (UTC)."""
        spec = table_spec(name)
        with self._reading() as conn:
            return read_frame(conn, DATA_TABLES[name], spec)

    def load_tables(self) -> dict[str, pd.DataFrame]:
        """All five canonical frames, read from one consistent snapshot."""
        with self._reading() as conn:
            return _read_tables(conn)

    def ids(self, table: str) -> set[str]:
        """The ids stored in ``buildings`` or ``enterprises``."""
        if table not in ID_TABLES:
            raise StorageError(f"ids() of table {table!r}; allowed: {list(ID_TABLES)}")
        column = DATA_TABLES[table].c[ID_TABLES[table]]
        with self._reading() as conn:
            return set(conn.execute(select(column)).scalars())

    def counts(self) -> dict[str, int]:
        """Row count of each of the five canonical tables."""
        with self._reading() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in DATA_TABLES.items()
            }

    def get_row(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored row with natural ``key``, or None: Python values (str, float, int,
        ``datetime.date``, None for missing) and ``updated_at`` as an aware UTC datetime."""
        spec = table_spec(table)
        keys = key_frame([dict(key)], spec, exact=True)
        with self._reading() as conn:
            row = conn.execute(
                select(DATA_TABLES[table]).where(key_filter(DATA_TABLES[table], spec, keys))
            ).first()
        return None if row is None else records.data_row(row._asdict())

    def delete_rows(self, table: str, keys: pd.DataFrame | list[dict[str, Any]]) -> int:
        """Delete rows by natural key (extra columns ignored); returns how many rows of ``table``
        went. Links, tenancies and events of a deleted building or enterprise go with it."""
        with self.transaction(f"delete from {table}") as tx:
            deleted = tx.delete(table, keys)
        logger.info("deleted %d row(s) from %s", deleted, table)
        return deleted

    def clear_registry(self) -> dict[str, int]:
        """Delete every row of the five contract tables (children first), in one transaction;
        returns rows deleted per table. Keys, audit and metadata stay."""
        deleted: dict[str, int] = {}
        with self._writing("clear registry") as conn:
            for spec in reversed(contract.TABLES):
                deleted[spec.name] = conn.execute(delete(DATA_TABLES[spec.name])).rowcount
            if any(deleted.values()):
                _bump_data_version(conn, Touched(full=True))
        logger.info("cleared the registry: %s", deleted)
        return deleted

    # -- metadata --------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """The stored value of metadata ``key``, None when absent."""
        with self._reading() as conn:
            return conn.execute(_META_VALUE, {"key": key}).scalar()

    def set_meta(self, key: str, value: str) -> None:
        """Store metadata ``key``; ``schema_version`` and ``data_version`` are storage's own."""
        if key in _RESERVED_META:
            raise StorageError(f"meta key {key!r} is maintained by storage; use another key")
        with self._writing(f"set meta {key}") as conn:
            records.put_meta(conn, key, str(value))

    def data_version(self) -> int:
        """A counter raised by every write that changes a canonical table (caches key on it)."""
        with self._reading() as conn:
            return _data_version(conn)

    def data_written_at(self) -> datetime | None:
        """When the newest write that raised ``data_version`` committed (UTC); None before any
        write since this was first recorded."""
        value = self.get_meta(DATA_WRITTEN_AT_KEY)
        return datetime.fromisoformat(value) if value else None

    # -- API keys and audit ----------------------------------------------------------------

    def add_api_key(
        self,
        key_id: str,
        *,
        key_hash: str,
        role: str,
        operator_id: str | None = None,
        created_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        """Store a new API key; the caller hashes the secret. A repeated ``key_id`` is refused;
        no ``expires_at``: the key never expires."""
        row = records.api_key_row(key_id, key_hash, role, operator_id, created_at, expires_at)
        try:
            with self._writing("add API key") as conn:
                conn.execute(insert(api_keys), [row])
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise StorageError(f"API key id {key_id!r} already exists; ids are unique") from exc
            raise

    def find_api_key(self, key_id: str) -> dict[str, Any] | None:
        """The API key row (key_id, key_hash, role, operator_id, created_at, revoked_at,
        expires_at) or None."""
        with self._reading() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return None if row is None else records.timestamped(row._asdict())

    def list_api_keys(self) -> list[dict[str, Any]]:
        """Every API key row, oldest first, revoked ones included."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        with self._reading() as conn:
            return [records.timestamped(r._asdict()) for r in conn.execute(query)]

    def revoke_api_key(self, key_id: str, *, revoked_at: datetime | None = None) -> bool:
        """Mark a key revoked; False if it already was. Unknown ``key_id``: NotFoundError."""
        with self._writing("revoke API key") as conn:
            current = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
            if current is None:
                raise NotFoundError(f"API key id {key_id!r} does not exist")
            if current.revoked_at is not None:
                return False
            when = records.utc(revoked_at)
            conn.execute(
                update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=when)
            )
        return True

    def append_audit(
        self,
        action: str,
        *,
        target: str | None = None,
        key_id: str | None = None,
        detail: str | None = None,
        ts: datetime | None = None,
    ) -> int:
        """Append one audit entry (``ts`` defaults to now, UTC) to the chain; returns its id."""
        entry = {"ts": ts, "key_id": key_id, "action": action, "target": target, "detail": detail}
        with self._writing("append audit") as conn:
            return audit_chain.append_chained(conn, [entry])[0]

    def append_audit_many(
        self, entries: Sequence[Mapping[str, Any]], *, touched: Mapping[str, datetime] | None = None
    ) -> int:
        """Append audit entries (mappings with ``action`` and optional ``target``, ``key_id``,
        ``detail``, ``ts``) in one transaction, in the given order; returns how many. ``touched``
        (key_id -> when) records keys' last use in the same transaction."""
        if entries or touched:
            with self._writing(f"append {len(entries)} audit entries") as conn:
                audit_chain.append_chained(conn, entries)
                for key_id, when in (touched or {}).items():
                    _touch_key(conn, key_id, when)
        return len(entries)

    def read_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit entries, newest first."""
        if limit < 1:
            raise StorageError(f"read_audit limit {limit} must be a positive integer")
        return self.find_audit(audit_chain.AuditFilter(limit=limit))[0]

    def find_audit(self, flt: audit_chain.AuditFilter) -> tuple[list[dict[str, Any]], int]:
        """(audit rows matching ``flt``, newest first, total matching)."""
        with self._reading() as conn:
            return audit_chain.read_filtered(conn, flt)

    def iter_audit(self) -> Iterator[dict[str, Any]]:
        """Every audit row, oldest first (read in chunks from one connection)."""
        with self._reading() as conn:
            yield from audit_chain.iter_rows(conn)

    def verify_audit(self) -> audit_chain.ChainCheck:
        """Recompute the audit log's hash chain (see ``store.audit_chain``)."""
        with self._reading() as conn:
            return audit_chain.verify(conn)

    def prune_audit(self, cutoff: datetime, *, entry: Mapping[str, Any]) -> int:
        """Delete the audit rows older than ``cutoff`` (the chain's anchor moves to the newest
        deleted one) and, when any went, append ``entry`` recording it, in one transaction."""
        with self._writing("prune the audit log") as conn:
            deleted = audit_chain.prune_before(conn, cutoff)
            if deleted:
                detail = {"deleted": deleted, "cutoff": records.utc(cutoff).isoformat()}
                audit_chain.append_chained(conn, [{**entry, "detail": json.dumps(detail)}])
        return deleted

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _writing(self, what: str) -> Iterator[Connection]:
        try:
            with self._write_lock, write_transaction(self._engine) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"{what} failed and was rolled back: {exc}") from exc

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"reading {self!r} failed: {exc}") from exc


# built once: the service reads data_version on every scored request
_META_VALUE = select(meta.c.value).where(meta.c.key == bindparam("key"))


def _touch_key(conn: Connection, key_id: str, when: datetime) -> None:
    # conditional: several workers touching the same key within a minute write it once
    when = records.utc(when)
    fresh = api_keys.c.last_used_at >= when - timedelta(seconds=KEY_TOUCH_SECONDS)
    query = update(api_keys).where(api_keys.c.key_id == key_id)
    conn.execute(
        query.where(or_(api_keys.c.last_used_at.is_(None), ~fresh)).values(last_used_at=when)
    )


def _bump_data_version(conn: Connection, touched: Touched) -> None:
    """Raise data_version and log what the write touched under the new version (one
    transaction: readers see both or neither)."""
    bumped = cast(cast(meta.c.value, Integer) + 1, Text)
    conn.execute(update(meta).where(meta.c.key == DATA_VERSION_KEY).values(value=bumped))
    now = datetime.now(UTC)
    records.put_meta(conn, DATA_WRITTEN_AT_KEY, now.isoformat())
    version = int(conn.execute(_META_VALUE, {"key": DATA_VERSION_KEY}).scalar_one())
    record_change(conn, version, touched, now=now)


def _data_version(conn: Connection) -> int:
    """The data_version as ``conn`` sees it (0 before any write)."""
    return int(conn.execute(_META_VALUE, {"key": DATA_VERSION_KEY}).scalar() or 0)


def _read_tables(conn: Connection) -> dict[str, pd.DataFrame]:
    """All five canonical frames, read on ``conn``."""
    return {s.name: read_frame(conn, DATA_TABLES[s.name], s) for s in contract.TABLES}
