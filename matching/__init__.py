"""The domain: contract, storage, import, candidate pools, rules, shortlists with reasons."""

from matching.access import (
    Principal,
    Role,
    audit,
    authenticate,
    can_edit_building,
    can_see_credit,
    create_key,
    has_role,
    list_keys,
    parse_key,
    revoke_key,
)
from matching.candidates import (
    CandidatePool,
    PoolRules,
    candidates_for_buildings,
    candidates_for_enterprises,
)
from matching.chain import chain_leads
from matching.distill import DistillConfig, attach_prescorer, fit_prescorer
from matching.engine import Engine, ModelNotReadyError
from matching.errors import (
    InputError,
    NotFoundError,
    RowError,
    StorageError,
    TenantmatchError,
    ValidationFailed,
)
from matching.importer import ImportReport, TableReport, import_dataset, validate_dataset
from matching.listing import (
    BuildingFilter,
    EnterpriseFilter,
    RegistryLists,
    days_since_update,
    is_stale,
    plain_record,
)
from matching.planning import fill_plan, theme_fit
from matching.prescore import PRESCORER_FILE, PrescoreIndex, Prescorer, unfitted_prescorer
from matching.reasons import reason_text, top_reasons
from matching.rules import LOW_CREDIT_SCORE, MIN_UNIT_OVERSIZE_FACTOR, risk_warnings, space_fits
from matching.shortlist import (
    MAX_K,
    ScoringState,
    check_k,
    shortlist_for_buildings,
    shortlist_for_enterprises,
)
from matching.storage import Repository, UpsertCount
from matching.updates import (
    bulk_upload,
    delete_building,
    delete_enterprise,
    move_in,
    move_out,
    record_event,
    require_record,
    stale_buildings,
    upsert_building,
    upsert_enterprise,
)
from matching.validation import ValidationResult, validate_table

__all__ = [
    "LOW_CREDIT_SCORE",
    "MAX_K",
    "MIN_UNIT_OVERSIZE_FACTOR",
    "PRESCORER_FILE",
    "BuildingFilter",
    "CandidatePool",
    "DistillConfig",
    "Engine",
    "EnterpriseFilter",
    "ImportReport",
    "InputError",
    "ModelNotReadyError",
    "NotFoundError",
    "PoolRules",
    "PrescoreIndex",
    "Prescorer",
    "Principal",
    "RegistryLists",
    "Repository",
    "Role",
    "RowError",
    "ScoringState",
    "StorageError",
    "TableReport",
    "TenantmatchError",
    "UpsertCount",
    "ValidationFailed",
    "ValidationResult",
    "attach_prescorer",
    "audit",
    "authenticate",
    "bulk_upload",
    "can_edit_building",
    "can_see_credit",
    "candidates_for_buildings",
    "candidates_for_enterprises",
    "chain_leads",
    "check_k",
    "create_key",
    "days_since_update",
    "delete_building",
    "delete_enterprise",
    "fill_plan",
    "fit_prescorer",
    "has_role",
    "import_dataset",
    "is_stale",
    "list_keys",
    "move_in",
    "move_out",
    "parse_key",
    "plain_record",
    "reason_text",
    "record_event",
    "require_record",
    "revoke_key",
    "risk_warnings",
    "shortlist_for_buildings",
    "shortlist_for_enterprises",
    "space_fits",
    "stale_buildings",
    "theme_fit",
    "top_reasons",
    "unfitted_prescorer",
    "upsert_building",
    "upsert_enterprise",
    "validate_dataset",
    "validate_table",
]
