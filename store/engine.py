"""Database engines: an SQLite file (WAL, enforced foreign keys) or PostgreSQL via psycopg 3.

Engines hide statement parameters from their errors and logs (``hide_parameters``): a failed
statement's values (credit data, other callers' key ids in queued audit rows) never reach an
error message, even the server log's."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tenantmatch.registry import MissingExtraError
from tenantmatch.store.errors import StorageError

logger = logging.getLogger(__name__)

SQLITE_PRAGMAS: dict[str, str] = {
    "journal_mode": "WAL",
    "foreign_keys": "ON",
    "synchronous": "FULL",
    "busy_timeout": "5000",  # milliseconds
    # page cache up to 64 MiB per connection (default 2 MiB), grown as pages are read: a bulk
    # insert into a table with several indexes ran 1.6x the rows per second
    "cache_size": "-65536",
}
# Any constant works: every writer of a tenantmatch database takes this lock first.
_PG_WRITE_LOCK = 0x7E7A_4D47
_WRITE_OPTION = "tenantmatch_write"
_ALLOWED = "sqlite:///PATH, a file path, postgresql://... or postgresql+psycopg://..."


def normalise_url(url: str) -> URL:
    """The SQLAlchemy URL of ``url``: a bare path is an SQLite file; PostgreSQL via psycopg 3."""
    if "://" not in url:
        return URL.create("sqlite", database=url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database URL {url!r} cannot be parsed; expected {_ALLOWED}") from exc
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if parsed.database in (None, "", ":memory:"):
            raise StorageError(f"database URL {url!r} is in-memory; give an SQLite file path")
        return parsed
    raise StorageError(f"database driver {parsed.drivername!r} is not supported; use {_ALLOWED}")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (see :func:`normalise_url`); creates the SQLite file's folder."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    except ImportError as exc:
        raise MissingExtraError(
            "a PostgreSQL database", module="psycopg", extra="postgres"
        ) from exc
    event.listen(engine, "begin", _pg_begin)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's single writer lock from its first statement.

    Writers are serialised so that a read-compare-write upsert sees no concurrent change.
    """
    with engine.execution_options(**{_WRITE_OPTION: True}).begin() as conn:
        yield conn


def _sqlite_engine(parsed: URL) -> Engine:
    database = Path(str(parsed.database)).expanduser()
    database.parent.mkdir(parents=True, exist_ok=True)
    _create_private(database)
    engine = create_engine(parsed.set(database=str(database)), hide_parameters=True)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _create_private(database: Path) -> None:
    """Create the database file readable by its owner only (0600: it holds credit data); SQLite
    gives its -wal and -shm files the main file's mode. An existing file is left as it is."""
    try:
        fd = os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:  # e.g. a read-only folder: SQLite reports it on first use
        logger.debug("could not pre-create %s: %s", database, exc)
        return
    os.close(fd)
    os.chmod(database, 0o600)  # whatever the umask


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin); pysqlite's implicit one is turned off.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name} = {value}")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so a writer never fails half-way on a busy database.
    writing = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _pg_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(_WRITE_OPTION, False):
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _PG_WRITE_LOCK})
