"""Shortlists in both directions: the same JSON object as one line of the CLI's jsonl, or with
``format=csv|xlsx`` its items as a file (``matching.export``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from tenantmatch.api.answers import Answer
from tenantmatch.api.deps import AnswersDep, AuditDep, ShortlistQueryDep, ViewerDep
from tenantmatch.api.exports import FILE_RESPONSES, file_response
from tenantmatch.api.middleware import DATA_VERSION_HEADER, MIN_DATA_VERSION_HEADER
from tenantmatch.api.schemas import (
    AUTH_ERRORS,
    EntityId,
    ShortlistOut,
    ShortlistQuery,
    error_responses,
)
from tenantmatch.matching import shortlist_table
from tenantmatch.store import can_see_credit

router = APIRouter(prefix="/v1", tags=["shortlists"])

BuildingIdPath = Annotated[EntityId, Path(description="A building_id.")]
EnterpriseIdPath = Annotated[EntityId, Path(description="An enterprise_id.")]
MinVersion = Annotated[int, Header(
    alias=MIN_DATA_VERSION_HEADER, ge=0, le=2**53,
    description="Answer on this data version or a later one (the X-Data-Version a write "
    "answered), waiting for it a few seconds; 503 state_behind if it is not reached. "
    "0: any version (the default).",
)]  # fmt: skip
ERRORS = error_responses(400, 404, 503, *AUTH_ERRORS) | FILE_RESPONSES
JSON = "application/json"


def _as_json(query: ShortlistQuery) -> ShortlistQuery:
    """The query the answers are cached under: a file is made from the JSON answer."""
    return query.model_copy(update={"format": "json"})


def _answer(answer: Answer, query: ShortlistQuery, *, stem: str) -> Response:
    """The JSON answer, or its items as a file; either way with the data version it stands on."""
    if query.format == "json":
        response = Response(answer.body, media_type=JSON)
    else:
        response = file_response(shortlist_table(json.loads(answer.body)), query.format, stem=stem)
    if answer.data_version is not None:
        response.headers[DATA_VERSION_HEADER] = str(answer.data_version)
    return response


@router.get("/buildings/{building_id}/shortlist", response_model=ShortlistOut,
            response_model_exclude_none=True, responses=ERRORS)  # fmt: skip
def building_shortlist(
    building_id: BuildingIdPath, query: ShortlistQueryDep, principal: ViewerDep,
    answers: AnswersDep, audit: AuditDep, min_version: MinVersion = 0,
) -> Response:  # fmt: skip
    """Enterprises to court for this building's vacant space, best first, with reasons."""
    answer = answers.for_building(building_id, _as_json(query), credit=can_see_credit(principal),
                                  min_version=min_version or None)  # fmt: skip
    audit.add(principal, action="shortlist.building", target=building_id,
              detail=query.model_dump(mode="json", exclude_defaults=True))  # fmt: skip
    return _answer(answer, query, stem=f"shortlist-{building_id}")


@router.get("/enterprises/{enterprise_id}/shortlist", response_model=ShortlistOut,
            response_model_exclude_none=True, responses=ERRORS)  # fmt: skip
def enterprise_shortlist(
    enterprise_id: EnterpriseIdPath, query: ShortlistQueryDep, principal: ViewerDep,
    answers: AnswersDep, audit: AuditDep, min_version: MinVersion = 0,
) -> Response:  # fmt: skip
    """Buildings that fit this enterprise, best first, with reasons."""
    answer = answers.for_enterprise(enterprise_id, _as_json(query),
                                    credit=can_see_credit(principal),
                                    min_version=min_version or None)  # fmt: skip
    audit.add(principal, action="shortlist.enterprise", target=enterprise_id,
              detail=query.model_dump(mode="json", exclude_defaults=True))  # fmt: skip
    return _answer(answer, query, stem=f"shortlist-{enterprise_id}")
