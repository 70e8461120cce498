"""The database schema at the newest revision, derived from ``registry.contract``.

Changing it needs a new revision in ``migrations/versions`` (copy the newest: its
``down_revision`` is the previous id; batch operations keep SQLite working) and a higher
``SCHEMA_VERSION`` that the revision records in meta; ``revisions.py`` moves databases between
them, and tests/store/test_migrations.py checks the migrations build exactly this schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
    select,
)
from sqlalchemy.types import TypeEngine

from tenantmatch.registry import contract

SCHEMA_VERSION = 4  # recorded in meta by each revision; old code refuses a newer database
DATA_VERSION_KEY = "data_version"
DATA_WRITTEN_AT_KEY = "data_written_at"  # when the newest write raising data_version committed
SCHEMA_VERSION_KEY = "schema_version"

_SQL_TYPES: dict[contract.ColumnType, type[TypeEngine]] = {
    "str": Text,
    "enum": Text,
    "list": Text,  # canonical ";"-joined codes
    "float": Double,
    "int": BigInteger,
    "date": Date,
}
_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "buildings": (("city", "district"), ("operator_id",)),
    "enterprises": (("city",), ("industry_code",)),
    "links": (("target_id",),),
    "tenancies": (("building_id", "end_date"), ("enterprise_id",)),
    "events": (("building_id", "date"), ("enterprise_id",)),
}

metadata = MetaData()


def _contract_column(col: contract.Column) -> Column:
    args: list[ForeignKey] = []
    if col.references is not None:
        args.append(ForeignKey(col.references, ondelete="CASCADE"))
    return Column(col.name, _SQL_TYPES[col.type](), *args, nullable=not col.required)


def _data_table(spec: contract.Table) -> Table:
    indexes = [
        Index(f"ix_{spec.name}_{'_'.join(cols)}", *cols) for cols in _INDEXES.get(spec.name, ())
    ]
    return Table(
        spec.name,
        metadata,
        *(_contract_column(c) for c in spec.columns),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint(*spec.key, name=f"pk_{spec.name}"),
        *indexes,
    )


DATA_TABLES: dict[str, Table] = {spec.name: _data_table(spec) for spec in contract.TABLES}

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("key_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("operator_id", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # NULL: never expires
    Column("last_used_at", DateTime(timezone=True), nullable=True),  # at most a minute old
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("key_id", Text, nullable=True),  # no foreign key: the log outlives its keys
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=True),
    Column("detail", Text, nullable=True),
    Column("hash", Text, nullable=True),  # the chain: store/audit_chain.py
    Index("ix_audit_log_ts", "ts"),
)

# One row per committed write that raised data_version: which buildings and enterprises it
# touched (JSON lists of ids), so a serving process re-reads only their rows
# (``store.changes``); ``full`` when it touched too many to list (a bulk import, clearing).
data_changes = Table(
    "data_changes",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    Column("full", Integer, nullable=False),
    Column("building_ids", Text, nullable=False),
    Column("enterprise_ids", Text, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)


def stored_schema_version(conn: Connection) -> str | None:
    """The schema_version recorded in the database's meta table; None when it has none."""
    if not inspect(conn).has_table(meta.name):
        return None
    return conn.execute(select(meta.c.value).where(meta.c.key == SCHEMA_VERSION_KEY)).scalar()
