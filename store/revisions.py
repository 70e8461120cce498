"""Schema revisions (Alembic): which one a database is at, a new database made at the newest,
an old one upgraded.

A new database is built from ``schema.metadata`` and stamped with the head revision (Alembic's
recipe; a test checks the migrations build the same schema). A version-1 database made before
migrations existed has no ``alembic_version`` table: its ``meta.schema_version`` of 1 stands for
revision ``0001``. Code that reads or writes a database needs it at the head revision.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Text, column, inspect, select, table

from tenantmatch.store.engine import make_engine, normalise_url, write_transaction
from tenantmatch.store.errors import SchemaOutdatedError, StorageError
from tenantmatch.store.schema import (
    DATA_VERSION_KEY,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    meta,
    metadata,
    stored_schema_version,
)

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
PRE_MIGRATIONS_REVISION = "0001"  # schema version 1, as created before migrations existed
VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "tenantmatch db upgrade"
_VERSION_NUM = table(VERSION_TABLE, column("version_num", Text)).c.version_num


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade_database`` did: the revision before (None: the database was empty) and
    after (always the head)."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    """The newest revision: the schema this code reads and writes."""
    head = _scripts().get_current_head()
    if head is None:
        raise StorageError(f"no schema revisions found under {MIGRATIONS}")
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; None for an empty database."""
    if inspect(conn).has_table(VERSION_TABLE):
        # read directly: MigrationContext logs two INFO lines whenever it is made
        revisions = conn.execute(select(_VERSION_NUM)).scalars().all()
        if len(revisions) != 1:
            raise StorageError(
                f"the database's {VERSION_TABLE} table holds {revisions}; tenantmatch expects "
                "exactly one schema revision"
            )
        return str(revisions[0])
    stored = stored_schema_version(conn)
    if stored is None:
        return None
    if stored.strip() == "1":
        return PRE_MIGRATIONS_REVISION
    raise StorageError(
        f"database schema_version {stored!r} has no migration revision recorded; this "
        f"tenantmatch knows version 1 without one, and versions up to {SCHEMA_VERSION} with one"
    )


def check_current(revision: str, *, database: str) -> None:
    """Nothing when ``revision`` is the head; SchemaOutdatedError (naming the upgrade command)
    when it is older; StorageError when this code does not know it (a newer tenantmatch's)."""
    head = head_revision()
    if revision == head:
        return
    if not _known(revision):
        raise StorageError(
            f"database {database} is at schema revision {revision!r}, which this tenantmatch "
            f"does not know (it reads and writes revision {head!r}); upgrade tenantmatch"
        )
    raise SchemaOutdatedError(
        f"database {database} is at schema revision {revision!r}, this tenantmatch needs "
        f"{head!r} (schema version {SCHEMA_VERSION}); back it up, then run: {UPGRADE_COMMAND}"
        f" --db URL"
    )


def create_at_head(conn: Connection) -> None:
    """Build the newest schema in an empty database and stamp it with the head revision."""
    metadata.create_all(conn)
    conn.execute(
        meta.insert(),
        [
            {"key": SCHEMA_VERSION_KEY, "value": str(SCHEMA_VERSION)},
            {"key": DATA_VERSION_KEY, "value": "0"},
        ],
    )
    MigrationContext.configure(conn).stamp(_scripts(), "head")
    logger.info("created tenantmatch schema version %d (revision %s)",
                SCHEMA_VERSION, head_revision())  # fmt: skip


def upgrade_database(url: str) -> Upgrade:
    """Bring the database at ``url`` to the head revision in one write transaction (all or
    nothing): an empty one is created, an older one migrated, a current one left as it is."""
    engine = make_engine(url)
    database = normalise_url(url).render_as_string(hide_password=True)
    try:
        with write_transaction(engine) as conn:
            before = current_revision(conn)
            if before is None:
                create_at_head(conn)
            elif before != head_revision():
                _migrate(conn, before, database=database)
    finally:
        engine.dispose()
    return Upgrade(before=before, after=head_revision())


def _migrate(conn: Connection, before: str, *, database: str) -> None:
    if not _known(before):
        check_current(before, database=database)  # raises: a newer tenantmatch's revision
    if not inspect(conn).has_table(VERSION_TABLE):
        MigrationContext.configure(conn).stamp(_scripts(), PRE_MIGRATIONS_REVISION)
    try:
        command.upgrade(_config(conn), "head")
    except CommandError as exc:
        raise StorageError(f"upgrading {database} from revision {before!r} failed: {exc}") from exc
    logger.info("upgraded %s from schema revision %s to %s", database, before, head_revision())


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _config(conn: Connection) -> Config:
    config = Config()
    # Config interpolates '%': a path holding one must carry it doubled
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = conn
    return config
