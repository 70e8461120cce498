"""Storage of the registry (SQLAlchemy over SQLite or PostgreSQL, Alembic migrations), where
runtime state lives, file readers, validation and import, live updates, API keys, access policy
and the audit log. SQLAlchemy and Alembic are imported only below this package."""

from tenantmatch.store.access import (
    CREDIT_FIELDS,
    STANDING_FIELDS,
    WRITE_MATRIX,
    AuditNote,
    AuditWriter,
    KeyCache,
    Principal,
    Role,
    WriteAction,
    audit,
    authenticate,
    can_edit_building,
    can_see_credit,
    check_field_writes,
    cli_actor,
    create_key,
    has_role,
    list_keys,
    parse_key,
    revoke_key,
)
from tenantmatch.store.audit_chain import AuditFilter, ChainCheck, audit_csv
from tenantmatch.store.backup import backup_database, restore_database
from tenantmatch.store.engine import make_engine
from tenantmatch.store.errors import SchemaOutdatedError, StorageError
from tenantmatch.store.history import (
    building_events,
    building_occupancy,
    current_tenants,
    enterprise_events,
    enterprise_links,
    tenancy_history,
)
from tenantmatch.store.home import (
    HOME_ENV,
    default_db_url,
    default_models_dir,
    demo_dir,
    home,
    runtime_dir,
)
from tenantmatch.store.importer import ImportReport, TableReport, import_dataset, validate_dataset
from tenantmatch.store.listing import (
    BuildingFilter,
    EnterpriseFilter,
    RegistryLists,
    days_since_update,
    is_stale,
    plain_record,
)
from tenantmatch.store.messages import column_zh, error_record, reason_zh
from tenantmatch.store.moves import move_in, move_out
from tenantmatch.store.repository import Repository, redacted_url
from tenantmatch.store.revisions import Upgrade, head_revision, upgrade_database
from tenantmatch.store.schema import SCHEMA_VERSION
from tenantmatch.store.statistics import RegistryStats, StatsFilter, registry_stats
from tenantmatch.store.transaction import WriteTransaction
from tenantmatch.store.updates import (
    bulk_upload,
    delete_building,
    delete_enterprise,
    record_event,
    row_etag,
    stale_buildings,
    upsert_building,
    upsert_enterprise,
)
from tenantmatch.store.upsert import UpsertCount
from tenantmatch.store.validation import ValidationResult, validate_table
from tenantmatch.store.write_rows import require_record

__all__ = [
    "CREDIT_FIELDS",
    "HOME_ENV",
    "SCHEMA_VERSION",
    "STANDING_FIELDS",
    "WRITE_MATRIX",
    "AuditFilter",
    "AuditNote",
    "AuditWriter",
    "BuildingFilter",
    "ChainCheck",
    "EnterpriseFilter",
    "ImportReport",
    "KeyCache",
    "Principal",
    "RegistryLists",
    "RegistryStats",
    "Repository",
    "Role",
    "SchemaOutdatedError",
    "StatsFilter",
    "StorageError",
    "TableReport",
    "Upgrade",
    "UpsertCount",
    "ValidationResult",
    "WriteAction",
    "WriteTransaction",
    "audit",
    "audit_csv",
    "authenticate",
    "backup_database",
    "building_events",
    "building_occupancy",
    "bulk_upload",
    "can_edit_building",
    "can_see_credit",
    "check_field_writes",
    "cli_actor",
    "column_zh",
    "create_key",
    "current_tenants",
    "days_since_update",
    "default_db_url",
    "default_models_dir",
    "delete_building",
    "delete_enterprise",
    "demo_dir",
    "enterprise_events",
    "enterprise_links",
    "error_record",
    "has_role",
    "head_revision",
    "home",
    "import_dataset",
    "is_stale",
    "list_keys",
    "make_engine",
    "move_in",
    "move_out",
    "parse_key",
    "plain_record",
    "reason_zh",
    "record_event",
    "redacted_url",
    "registry_stats",
    "require_record",
    "restore_database",
    "revoke_key",
    "row_etag",
    "runtime_dir",
    "stale_buildings",
    "tenancy_history",
    "upgrade_database",
    "upsert_building",
    "upsert_enterprise",
    "validate_dataset",
    "validate_table",
]
