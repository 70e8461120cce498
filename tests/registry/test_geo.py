"""Map data: district outlines from the reference points, buildings as compact columns."""

from __future__ import annotations

import itertools
import math

import pandas as pd

from tenantmatch.registry import district_outlines, map_points, shanxi_districts


def _inside(point: list[float], ring: list[list[float]]) -> bool:
    """Ray casting: is ``point`` inside the closed ``ring``?"""
    x, y = point
    hit = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def test_every_district_has_a_closed_outline_around_its_own_point() -> None:
    outlines = district_outlines()
    districts = shanxi_districts()
    assert outlines["type"] == "FeatureCollection"
    assert len(outlines["features"]) == len(districts) == 117
    for feature in outlines["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4
        assert _inside(feature["properties"]["center"], ring), feature["properties"]["name"]
    assert {f["properties"]["city"] for f in outlines["features"]} == set(districts["city"])
    assert len(outlines["city_borders"]) > 10


def test_the_cells_tile_the_province_without_overlap() -> None:
    """The district cells' areas add up to the province outline's area (shoelace, degrees²)."""

    def area(ring: list[list[float]]) -> float:
        return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))) / 2

    outlines = district_outlines()
    cells = sum(area(f["geometry"]["coordinates"][0]) for f in outlines["features"])
    assert math.isclose(cells, area(outlines["province"]), rel_tol=1e-6)


def test_map_points_are_columns_with_codes_and_district_fallback() -> None:
    buildings = pd.DataFrame({
        "building_id": ["B2", "B1"], "name": ["乙大厦", "甲大厦"], "city": ["太原市", "太原市"],
        "district": ["小店区", "迎泽区"], "lat": [float("nan"), 37.86],
        "lon": [float("nan"), 112.56],
        "theme": ["finance", "general"], "grade": [None, "a"],
        "vacant_area_m2": [1200.4, 0.0], "total_area_m2": [5000.0, 8000.0],
    })  # fmt: skip
    points = map_points(buildings)
    b = points["buildings"]
    assert points["total"] == 2
    assert b["id"] == ["B1", "B2"]  # building_id order
    assert b["theme"] == [points["themes"].index("general"), points["themes"].index("finance")]
    assert b["grade"] == [points["grades"].index("a"), -1]
    assert b["vacant_m2"] == [0, 1200]
    xiaodian = shanxi_districts().set_index("district").loc["小店区"]
    assert b["lon"][1] == round(float(xiaodian["lon"]), 5)  # no coordinates: the district's point
    assert b["lat"][0] == 37.86
