"""Alembic's entry: migrate the connection that ``store.revisions`` opened (inside its
write transaction), with batch mode on SQLite so later revisions can alter tables there."""

from __future__ import annotations

from alembic import context

from tenantmatch.store.errors import StorageError
from tenantmatch.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise StorageError(
        "tenantmatch's migrations run on an open connection only: use 'tenantmatch db upgrade'"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
