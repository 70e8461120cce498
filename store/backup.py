"""``tenantmatch backup`` / ``restore``: a consistent copy of the database, taken while it serves.

SQLite: the online backup API (``sqlite3.Connection.backup``), page by page under SQLite's own
locking, so a copy taken during writes is one committed state; the copy goes to a temporary
file beside the target and is renamed into place (a crash leaves no half-written backup).
Restoring copies the backup into the live file the same way: readers see the old or the new
database, never a mix. PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean``
(both must be on PATH).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from tenantmatch.registry import InputError
from tenantmatch.store.engine import normalise_url
from tenantmatch.store.errors import StorageError

log = logging.getLogger(__name__)
PAGES_PER_STEP = 1024  # pages copied per step: writers get the lock between steps


def backup_database(url: str, target: Path) -> Path:
    """Write a consistent copy of the database at ``url`` to ``target`` (a file; replaced
    whole). Returns ``target``. StorageError when the database or the tool fails."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_file(parsed), target, must_exist=True)
    else:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", *_pg_schema(parsed),
              "--file", str(target), _pg_url(parsed)])  # fmt: skip
    log.info("backed up %s to %s", parsed.render_as_string(hide_password=True), target)
    return target


def restore_database(url: str, source: Path) -> None:
    """Replace the database at ``url`` by the backup ``source``. InputError when the file is
    missing or not a backup; StorageError when the database or the tool fails."""
    if not source.is_file():
        raise InputError(f"backup file {str(source)!r} does not exist")
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_backup(source)
        _sqlite_copy(source, _sqlite_file(parsed), must_exist=False)
    else:
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", _pg_url(parsed), str(source)])  # fmt: skip
    log.info("restored %s from %s", parsed.render_as_string(hide_password=True), source)


def _sqlite_file(parsed: URL) -> Path:
    return Path(str(parsed.database))


def _check_sqlite_backup(source: Path) -> None:
    try:
        with _closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{str(source)!r} is not an SQLite backup: {exc}") from None
    if ok != "ok":
        raise InputError(f"backup {str(source)!r} is damaged: {ok}")


def _sqlite_copy(source: Path, target: Path, *, must_exist: bool) -> None:
    """Copy ``source`` into ``target`` with the online backup API. A new file is written beside
    and renamed into place; an existing live database is overwritten in place (its readers and
    writers keep their handles) in one step of SQLite's locking."""
    if must_exist and not source.is_file():
        raise StorageError(f"database file {str(source)!r} does not exist")
    try:
        with _closing(sqlite3.connect(source)) as src:
            if target.exists() and not must_exist:  # restoring into the live database
                with _closing(sqlite3.connect(target, timeout=30)) as dst:
                    src.backup(dst)  # one step: no reader sees a mix
                return
            partial = target.with_name(f".{target.name}.partial")
            partial.unlink(missing_ok=True)
            with _closing(sqlite3.connect(partial)) as dst:
                src.backup(dst, pages=PAGES_PER_STEP)
            os.chmod(partial, 0o600)  # credit data: the owner's only
            os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StorageError(f"copying the database failed: {exc}") from None


class _closing:
    """sqlite3 connections as context managers that close (theirs only commit)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StorageError(f"{name} is not on PATH: install the PostgreSQL client tools")
    return path


def _pg_url(parsed: URL) -> str:
    """A libpq URL (no SQLAlchemy driver suffix)."""
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_schema(parsed: URL) -> list[str]:
    """``--schema NAME`` when the URL selects a schema (``options=-csearch_path=NAME``)."""
    options = str(parsed.query.get("options", ""))
    match = re.search(r"search_path=([A-Za-z0-9_]+)", options)
    return ["--schema", match.group(1)] if match else []


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tool = Path(command[0]).name
        raise StorageError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
