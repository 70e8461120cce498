"""The domain: contract, storage, import, candidate pools, rules, shortlists with reasons."""

from matching.candidates import (
    CandidatePool,
    PoolRules,
    candidates_for_buildings,
    candidates_for_enterprises,
)
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
from matching.validation import ValidationResult, validate_table

__all__ = [
    "LOW_CREDIT_SCORE",
    "MAX_K",
    "MIN_UNIT_OVERSIZE_FACTOR",
    "CandidatePool",
    "Engine",
    "ImportReport",
    "InputError",
    "ModelNotReadyError",
    "NotFoundError",
    "PoolRules",
    "Repository",
    "RowError",
    "ScoringState",
    "StorageError",
    "TableReport",
    "TenantmatchError",
    "UpsertCount",
    "ValidationFailed",
    "ValidationResult",
    "candidates_for_buildings",
    "candidates_for_enterprises",
    "check_k",
    "import_dataset",
    "reason_text",
    "risk_warnings",
    "shortlist_for_buildings",
    "shortlist_for_enterprises",
    "space_fits",
    "top_reasons",
    "validate_dataset",
    "validate_table",
]
