"""以商招商 chain leads for a building, and tower planning (theme fit and a fill plan)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from tenantmatch.api.access import editable_building
from tenantmatch.api.deps import (
    AuditDep,
    EngineDep,
    OperatorDep,
    RepositoryDep,
    ShortlistQueryDep,
    ViewerDep,
)
from tenantmatch.api.exports import FILE_RESPONSES, file_response
from tenantmatch.api.overload import in_heavy_pool
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    ChainLeadsOut,
    EntityId,
    PlanIn,
    PlanOut,
    error_responses,
)
from tenantmatch.matching import (
    Engine,
    chain_leads,
    chain_leads_table,
    fill_plan,
    fill_plan_table,
    theme_fit,
    without_credit,
)
from tenantmatch.store import AuditWriter, Principal, Repository, can_see_credit

router = APIRouter(prefix="/v1/buildings", tags=["planning"])

BuildingIdPath = Annotated[EntityId, Path(description="A building_id.")]
ERRORS = error_responses(400, 404, 503, *AUTH_ERRORS)
PlanFormat = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(description="json (default), or the fill plan's items as a csv / xlsx file."),
]


@router.get("/{building_id}/chain-leads", response_model=ChainLeadsOut,
            response_model_exclude_none=True, responses=ERRORS | FILE_RESPONSES)  # fmt: skip
def building_chain_leads(
    building_id: BuildingIdPath, query: ShortlistQueryDep, principal: ViewerDep,
    engine: EngineDep, audit: AuditDep,
) -> dict[str, Any] | Response:  # fmt: skip
    """Upstream, downstream and invested partners of the building's tenants who are not tenants
    yet, each with the tenant that links them, ranked by the model's fit."""
    result = chain_leads(engine, building_id, k=query.k, rules=query.rules(), as_of=query.as_of)
    if not can_see_credit(principal):
        result = without_credit(result)
    audit.add(principal, action="chain_leads", target=building_id,
              detail=query.model_dump(mode="json", exclude_defaults=True))  # fmt: skip
    if query.format != "json":
        return file_response(chain_leads_table(result), query.format,
                             stem=f"chain-leads-{building_id}")  # fmt: skip
    return result


@router.post("/{building_id}/plan", response_model=PlanOut,
             responses=ERRORS | FILE_RESPONSES)  # fmt: skip
async def building_plan(
    building_id: BuildingIdPath, body: PlanIn, principal: OperatorDep, engine: EngineDep,
    repo: RepositoryDep, audit: AuditDep, request: Request, format: PlanFormat = "json",
) -> dict[str, Any] | Response:  # fmt: skip
    """Theme fit (expected demand under each specialty theme) and a fill plan for the vacant
    area (operators: only their own buildings)."""
    # on the heavy routes' own threads: a 30 s plan never holds a thread of the cheap reads
    return await in_heavy_pool(request, _plan, building_id, body, principal, engine, repo,
                               audit, format)  # fmt: skip


def _plan(
    building_id: str, body: PlanIn, principal: Principal, engine: Engine, repo: Repository,
    audit: AuditWriter, format: PlanFormat,
) -> dict[str, Any] | Response:  # fmt: skip
    editable_building(repo, principal, building_id)
    fit = theme_fit(engine, building_id, pool_size=body.pool_size)
    theme = body.theme.value if body.theme else None
    plan = fill_plan(engine, building_id, candidates=body.candidates, theme=theme,
                     chain_bonus=body.chain_bonus)  # fmt: skip
    audit.add(principal, action="plan", target=building_id, detail=body.model_dump(mode="json"))
    answer = {"query": {"building_id": building_id}, "model_version": plan["model_version"],
              "theme_fit": fit, "fill_plan": plan}  # fmt: skip
    if format != "json":
        return file_response(fill_plan_table(answer), format, stem=f"fill-plan-{building_id}")
    return answer
