"""The map's data: every building as a compact point, and the offline district outlines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tenantmatch.api.deps import ListsDep, RepositoryDep, ViewerDep
from tenantmatch.api.schemas import AUTH_ERRORS, error_responses
from tenantmatch.api.schemas.geo import MapBuildingsOut, MapOutlinesOut
from tenantmatch.registry import district_outlines, map_points

router = APIRouter(prefix="/v1/map", tags=["map"])
ERRORS = error_responses(503, *AUTH_ERRORS)


@router.get("/buildings", response_model=MapBuildingsOut, responses=ERRORS)
def map_buildings(_: ViewerDep, lists: ListsDep, repo: RepositoryDep, request: Request) -> Response:
    """Every building as columns (coordinates, theme, grade, vacant area) for the map, which
    filters them in the browser. The ``ETag`` names the registry's data version: a browser
    that sends it back in ``If-None-Match`` gets 304 until a write changes the registry."""
    # read before the frame: a write in between gives newer data under an older tag (refetched
    # next time), never older data under a newer one
    tag = f'"map-{repo.data_version()}"'
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return JSONResponse(map_points(lists.frame("buildings")), headers=headers)


@router.get("/outlines", response_model=MapOutlinesOut)
def map_outlines() -> dict[str, Any]:
    """Shanxi's districts as polygons (public, computed once per process)."""
    return district_outlines()
