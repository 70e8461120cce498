"""Shortlists in both directions: the same JSON object as one line of the CLI's jsonl."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import EngineDep
from api.schemas import ErrorOut, ShortlistOut
from matching import PoolRules

router = APIRouter(prefix="/v1", tags=["shortlists"])

IdPath = Annotated[str, Path(min_length=1, max_length=128)]
K = Annotated[int, Query(ge=1, le=500, description="Items to return.")]
IncludeRisky = Annotated[
    bool, Query(description="Keep risk-flagged enterprises, each with its risk warning (风险预警).")
]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut},
}


@router.get("/buildings/{building_id}/shortlist", response_model=ShortlistOut,
            response_model_exclude_none=True, responses=ERRORS)
def building_shortlist(
    building_id: IdPath, engine: EngineDep, k: K = 10, include_risky: IncludeRisky = False
) -> dict[str, object]:
    """Enterprises to court for this building's vacant space."""
    rules = PoolRules(include_risky=include_risky)
    return engine.shortlist_for_buildings([building_id], k=k, rules=rules)[0]


@router.get("/enterprises/{enterprise_id}/shortlist", response_model=ShortlistOut,
            response_model_exclude_none=True, responses=ERRORS)
def enterprise_shortlist(
    enterprise_id: IdPath, engine: EngineDep, k: K = 10, include_risky: IncludeRisky = False
) -> dict[str, object]:
    """Buildings that fit this enterprise."""
    rules = PoolRules(include_risky=include_risky)
    return engine.shortlist_for_enterprises([enterprise_id], k=k, rules=rules)[0]
