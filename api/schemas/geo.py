"""Map shapes: buildings as compact columns, and the offline district outlines (GeoJSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MapColumnsOut(BaseModel):
    """One entry per building in every list, in ``building_id`` order."""

    id: list[str]
    name: list[str]
    lon: list[float | None] = Field(description="Degrees; the district's point when missing.")
    lat: list[float | None]
    city: list[str]
    district: list[str]
    theme: list[int] = Field(description="Index into ``themes``.")
    grade: list[int] = Field(description="Index into ``grades``; -1 when not graded.")
    vacant_m2: list[int]
    total_m2: list[int]


class MapBuildingsOut(BaseModel):
    total: int
    themes: list[str] = Field(description="Theme codes (Chinese names at /v1/labels).")
    grades: list[str] = Field(description="Grade codes.")
    buildings: MapColumnsOut


class MapOutlinesOut(BaseModel):
    """A GeoJSON FeatureCollection of district polygons (Voronoi cells of the reference
    district points clipped to the province outline: an approximation, not surveyed borders)."""

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    province: list[list[float]] = Field(description="The outline ring, [lon, lat] points.")
    city_borders: list[list[list[float]]] = Field(description="Segments between cities.")
