"""Recommendation only: candidate pools, the rules (each once), shortlists with reasons, chain
leads (以商招商), tower planning, and the engine that holds the serving state."""

from tenantmatch.matching.candidates import (
    CandidatePool,
    PoolRules,
    candidates_for_buildings,
    candidates_for_enterprises,
)
from tenantmatch.matching.chain import chain_leads
from tenantmatch.matching.details import calibrated, item_details
from tenantmatch.matching.engine import Engine, ModelNotReadyError, StateBehindError
from tenantmatch.matching.export import (
    ExportTable,
    chain_leads_table,
    fill_plan_table,
    render_table,
    shortlist_table,
    tables_rows,
)
from tenantmatch.matching.first_stage import FIRST_STAGE_KEY, plan_first_stage, served_building_m
from tenantmatch.matching.freshness import STALE_AFTER_DAYS, Freshness, registry_freshness
from tenantmatch.matching.planning import fill_plan, theme_fit
from tenantmatch.matching.reasons import reason_text, top_reasons, without_credit
from tenantmatch.matching.retention import (
    HORIZON_MONTHS,
    MAX_AT_RISK,
    OUTLOOK_BY,
    NoMoveHazardError,
    at_risk_tenants,
    current_tenancies,
    leave_probability,
    outlook,
)
from tenantmatch.matching.rules import (
    LOW_CREDIT_SCORE,
    MIN_UNIT_OVERSIZE_FACTOR,
    risk_warnings,
    space_fits,
)
from tenantmatch.matching.shortlist import (
    MAX_K,
    ScoringState,
    check_k,
    shortlist_for_buildings,
    shortlist_for_enterprises,
)

__all__ = [
    "FIRST_STAGE_KEY",
    "HORIZON_MONTHS",
    "LOW_CREDIT_SCORE",
    "MAX_AT_RISK",
    "MAX_K",
    "MIN_UNIT_OVERSIZE_FACTOR",
    "OUTLOOK_BY",
    "STALE_AFTER_DAYS",
    "CandidatePool",
    "Engine",
    "ExportTable",
    "Freshness",
    "ModelNotReadyError",
    "NoMoveHazardError",
    "PoolRules",
    "ScoringState",
    "StateBehindError",
    "at_risk_tenants",
    "calibrated",
    "candidates_for_buildings",
    "candidates_for_enterprises",
    "chain_leads",
    "chain_leads_table",
    "check_k",
    "current_tenancies",
    "fill_plan",
    "fill_plan_table",
    "item_details",
    "leave_probability",
    "outlook",
    "plan_first_stage",
    "reason_text",
    "registry_freshness",
    "render_table",
    "risk_warnings",
    "served_building_m",
    "shortlist_for_buildings",
    "shortlist_for_enterprises",
    "shortlist_table",
    "space_fits",
    "tables_rows",
    "theme_fit",
    "top_reasons",
    "without_credit",
]
