"""Schema version 2: API keys may expire (``api_keys.expires_at``, NULL for a key that never
does); a key past it is refused like a revoked one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_META = sa.table("meta", sa.column("key", sa.Text()), sa.column("value", sa.Text()))


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    _record_version("2")


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
    _record_version("1")


def _record_version(version: str) -> None:
    # meta.schema_version lets a tenantmatch older than this revision refuse the database
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value=version))
