"""Schema version 3: the audit log is a hash chain (``audit_log.hash``: the SHA-256 hex of the
previous row's hash and the row's own canonical content) and API keys record when they were last
used (``api_keys.last_used_at``, NULL for a key never used since).

Existing audit rows are chained here, oldest first, from an empty anchor.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_META = sa.table("meta", sa.column("key", sa.Text()), sa.column("value", sa.Text()))
_AUDIT = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("ts", sa.DateTime(timezone=True)),
    sa.column("key_id", sa.Text()),
    sa.column("action", sa.Text()),
    sa.column("target", sa.Text()),
    sa.column("detail", sa.Text()),
    sa.column("hash", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("hash", sa.Text(), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    _chain_existing_rows()
    _record_version("3")


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
    op.execute(_META.delete().where(_META.c.key == "audit_chain_anchor"))
    _record_version("2")


def _chain_existing_rows() -> None:
    # A frozen copy of store.audit_chain.row_hash at this revision: a migration must not change
    # when the code does.
    conn = op.get_bind()
    previous = ""
    rows = conn.execute(sa.select(_AUDIT).order_by(_AUDIT.c.id)).mappings().all()
    for row in rows:
        previous = _row_hash(previous, row)
        conn.execute(sa.update(_AUDIT).where(_AUDIT.c.id == row["id"]).values(hash=previous))


def _row_hash(previous: str, row: sa.RowMapping) -> str:
    ts = row["ts"]
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    content = [int(row["id"]), ts.isoformat(timespec="microseconds"), row["key_id"],
               row["action"], row["target"], row["detail"]]  # fmt: skip
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + text).encode("utf-8")).hexdigest()


def _record_version(version: str) -> None:
    # meta.schema_version lets a tenantmatch older than this revision refuse the database
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value=version))
