"""The map's data: every building as a compact point, and the offline district outlines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tenantmatch.api.deps import ListsDep, ViewerDep
from tenantmatch.api.schemas import AUTH_ERRORS, error_responses
from tenantmatch.api.schemas.geo import MapBuildingsOut, MapOutlinesOut
from tenantmatch.registry import district_outlines, map_points

router = APIRouter(prefix="/v1/map", tags=["map"])


ERRORS = error_responses(503, *AUTH_ERRORS)


@router.get("/buildings", response_model=MapBuildingsOut, responses=ERRORS)
def map_buildings(_: ViewerDep, lists: ListsDep) -> dict[str, Any]:
    """Every building as columns (coordinates, theme, grade, vacant area) for the map, which
    filters them in the browser."""
    return map_points(lists.frame("buildings"))


@router.get("/outlines", response_model=MapOutlinesOut)
def map_outlines() -> dict[str, Any]:
    """Shanxi's districts as polygons (public, computed once per process)."""
    return district_outlines()
