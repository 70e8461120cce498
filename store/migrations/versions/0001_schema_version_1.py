"""Schema version 1: the five contract tables, API keys, the audit log and metadata, exactly as
tenantmatch created them before it had migrations (a database made then is stamped here).

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"], unique=False)
    op.create_table(
        "buildings",
        sa.Column("building_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("district", sa.Text(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("theme", sa.Text(), nullable=False),
        sa.Column("grade", sa.Text(), nullable=True),
        sa.Column("total_area_m2", sa.Double(), nullable=False),
        sa.Column("vacant_area_m2", sa.Double(), nullable=False),
        sa.Column("min_unit_m2", sa.Double(), nullable=True),
        sa.Column("rent_cny_m2_day", sa.Double(), nullable=True),
        sa.Column("floors", sa.BigInteger(), nullable=True),
        sa.Column("completed_year", sa.BigInteger(), nullable=True),
        sa.Column("smart_5a", sa.BigInteger(), nullable=True),
        sa.Column("amenities", sa.Text(), nullable=True),
        sa.Column("operator_id", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("building_id", name="pk_buildings"),
    )
    op.create_index("ix_buildings_city_district", "buildings", ["city", "district"], unique=False)
    op.create_index("ix_buildings_operator_id", "buildings", ["operator_id"], unique=False)
    op.create_table(
        "enterprises",
        sa.Column("enterprise_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("industry_code", sa.Text(), nullable=False),
        sa.Column("employees", sa.BigInteger(), nullable=False),
        sa.Column("revenue_10k_cny", sa.Double(), nullable=True),
        sa.Column("registered_capital_10k_cny", sa.Double(), nullable=True),
        sa.Column("founded", sa.Date(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("district", sa.Text(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("hq_type", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("credit_score", sa.Double(), nullable=True),
        sa.Column("risk_flags", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", name="pk_enterprises"),
    )
    op.create_index("ix_enterprises_city", "enterprises", ["city"], unique=False)
    op.create_index("ix_enterprises_industry_code", "enterprises", ["industry_code"], unique=False)
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "events",
        sa.Column("enterprise_id", sa.Text(), nullable=False),
        sa.Column("building_id", sa.Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.enterprise_id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.building_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("enterprise_id", "building_id", "date", "stage", name="pk_events"),
    )
    op.create_index("ix_events_building_id_date", "events", ["building_id", "date"], unique=False)
    op.create_index("ix_events_enterprise_id", "events", ["enterprise_id"], unique=False)
    op.create_table(
        "links",
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("relation", sa.Text(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["enterprises.enterprise_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["enterprises.enterprise_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "target_id", "relation", name="pk_links"),
    )
    op.create_index("ix_links_target_id", "links", ["target_id"], unique=False)
    op.create_table(
        "tenancies",
        sa.Column("enterprise_id", sa.Text(), nullable=False),
        sa.Column("building_id", sa.Text(), nullable=False),
        sa.Column("area_m2", sa.Double(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.enterprise_id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.building_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("enterprise_id", "building_id", "start_date", name="pk_tenancies"),
    )
    op.create_index(
        "ix_tenancies_building_id_end_date", "tenancies", ["building_id", "end_date"], unique=False
    )
    op.create_index("ix_tenancies_enterprise_id", "tenancies", ["enterprise_id"], unique=False)
    meta = sa.table("meta", sa.column("key", sa.Text()), sa.column("value", sa.Text()))
    op.bulk_insert(
        meta, [{"key": "schema_version", "value": "1"}, {"key": "data_version", "value": "0"}]
    )


def downgrade() -> None:
    op.drop_index("ix_tenancies_enterprise_id", table_name="tenancies")
    op.drop_index("ix_tenancies_building_id_end_date", table_name="tenancies")
    op.drop_table("tenancies")
    op.drop_index("ix_links_target_id", table_name="links")
    op.drop_table("links")
    op.drop_index("ix_events_enterprise_id", table_name="events")
    op.drop_index("ix_events_building_id_date", table_name="events")
    op.drop_table("events")
    op.drop_table("meta")
    op.drop_index("ix_enterprises_industry_code", table_name="enterprises")
    op.drop_index("ix_enterprises_city", table_name="enterprises")
    op.drop_table("enterprises")
    op.drop_index("ix_buildings_operator_id", table_name="buildings")
    op.drop_index("ix_buildings_city_district", table_name="buildings")
    op.drop_table("buildings")
    op.drop_index("ix_audit_log_ts", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
