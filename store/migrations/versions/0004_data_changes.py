"""Schema version 4: the change log ``data_changes``, one row per committed write that raised
``data_version``, naming the buildings and enterprises it touched (``full`` = 1 when it touched
too many to list). Serving processes read it to refresh only the rows a write changed.

The log starts empty: a process whose state predates it reloads everything once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_META = sa.table("meta", sa.column("key", sa.Text()), sa.column("value", sa.Text()))


def upgrade() -> None:
    op.create_table(
        "data_changes",
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full", sa.Integer(), nullable=False),
        sa.Column("building_ids", sa.Text(), nullable=False),
        sa.Column("enterprise_ids", sa.Text(), nullable=False),
    )
    _record_version("4")


def downgrade() -> None:
    op.drop_table("data_changes")
    _record_version("3")


def _record_version(version: str) -> None:
    # meta.schema_version lets a tenantmatch older than this revision refuse the database
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value=version))
