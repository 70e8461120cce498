"""Map data: offline outlines of Shanxi's districts made from the reference district points, and
the registry's buildings as compact map points.

The outlines are Voronoi cells of the district points (in a locally equal-scaled plane), clipped
to the points' convex hull pushed outwards by ``HULL_MARGIN_DEG``: an approximation that puts
every district where it is and borders it with its neighbours, not a surveyed boundary.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, Voronoi

from tenantmatch.registry.enums import Grade, Theme
from tenantmatch.registry.reference import shanxi_districts

HULL_MARGIN_DEG = 0.35  # how far the province outline lies outside the outermost district point
COORD_DECIMALS = 5  # about 1 m
Point = tuple[float, float]


@functools.cache
def district_outlines() -> dict[str, Any]:
    """A GeoJSON FeatureCollection with one Polygon per district (properties ``name`` "城市 区县",
    ``city``, ``district``, ``adcode``, ``center`` [lon, lat]); foreign members ``province``
    (the outline ring) and ``city_borders`` (segments [[lon, lat], [lon, lat]] between cities)."""
    d = shanxi_districts()
    scale = math.cos(math.radians(float(d["lat"].mean())))  # lon degrees -> equal-length units
    xy = np.column_stack([d["lon"].to_numpy(float) * scale, d["lat"].to_numpy(float)])
    hull = _outer_ring(xy, margin=HULL_MARGIN_DEG)
    cells = _clipped_cells(xy, hull)

    def lonlat(ring: list[Point]) -> list[list[float]]:
        return [[round(x / scale, COORD_DECIMALS), round(y, COORD_DECIMALS)] for x, y in ring]

    features = []
    for i, row in enumerate(d.to_dict("records")):
        ring = lonlat(cells[i])
        features.append({
            "type": "Feature",
            "properties": {"name": f"{row['city']} {row['district']}", "city": row["city"],
                           "district": row["district"], "adcode": str(row["district_adcode"]),
                           "center": [float(row["lon"]), float(row["lat"])]},
            "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        })  # fmt: skip
    borders = [lonlat(seg) for seg in _city_borders(xy, d["city"].tolist(), hull)]
    province = lonlat(hull)
    return {"type": "FeatureCollection", "features": features,
            "province": [*province, province[0]], "city_borders": borders}  # fmt: skip


def map_points(buildings: pd.DataFrame) -> dict[str, Any]:
    """Buildings as columns of equal length (``id``, ``name``, ``lon``, ``lat``, ``city``,
    ``district``, ``theme`` and ``grade`` as indexes into the code lists, -1 when missing,
    ``vacant_m2``, ``total_m2``); a building without coordinates gets its district's point,
    else null. Rows in ``building_id`` order."""
    b = buildings.sort_values("building_id")
    lon, lat = _coordinates(b)
    theme_codes = [t.value for t in Theme]
    grade_codes = [g.value for g in Grade]
    return {
        "total": len(b),
        "themes": theme_codes,
        "grades": grade_codes,
        "buildings": {
            "id": b["building_id"].astype(str).tolist(),
            "name": b["name"].astype(str).tolist(),
            "lon": lon,
            "lat": lat,
            "city": b["city"].astype(str).tolist(),
            "district": b["district"].astype(str).tolist(),
            "theme": _codes(b["theme"], theme_codes),
            "grade": _codes(b["grade"], grade_codes),
            "vacant_m2": b["vacant_area_m2"].fillna(0).round(0).astype(int).tolist(),
            "total_m2": b["total_area_m2"].fillna(0).round(0).astype(int).tolist(),
        },
    }


def _coordinates(b: pd.DataFrame) -> tuple[list[float | None], list[float | None]]:
    """Each building's (lon, lat), its district's point where missing, None where unknown."""
    d = shanxi_districts().set_index(["city", "district"])
    key = pd.MultiIndex.from_arrays([b["city"], b["district"]])
    lon = pd.Series(b["lon"].to_numpy(float)).fillna(
        pd.Series(d["lon"].reindex(key).to_numpy(float))
    )
    lat = pd.Series(b["lat"].to_numpy(float)).fillna(
        pd.Series(d["lat"].reindex(key).to_numpy(float))
    )

    def plain(s: pd.Series) -> list[float | None]:
        return [None if math.isnan(v) else v for v in s.round(COORD_DECIMALS).tolist()]

    return plain(lon), plain(lat)


def _codes(values: pd.Series, codes: list[str]) -> list[int]:
    index = {c: i for i, c in enumerate(codes)}
    return [index.get(v, -1) if isinstance(v, str) else -1 for v in values.tolist()]


def _outer_ring(xy: np.ndarray, *, margin: float) -> list[Point]:
    """The convex hull of ``xy`` (counter-clockwise), each vertex moved ``margin`` outwards
    along the bisector of its two edges' normals (a mitred offset, so edges stay parallel)."""
    ring = xy[ConvexHull(xy).vertices]
    out = []
    for i in range(len(ring)):
        prev, cur, nxt = ring[i - 1], ring[i], ring[(i + 1) % len(ring)]
        n1, n2 = _outward_normal(prev, cur), _outward_normal(cur, nxt)
        bisector = n1 + n2
        bisector /= np.linalg.norm(bisector)
        stretch = margin / max(float(np.dot(bisector, n1)), 0.3)
        x, y = cur + bisector * stretch
        out.append((float(x), float(y)))
    return out


def _outward_normal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unit normal pointing out of a counter-clockwise ring, for its edge a -> b."""
    dx, dy = b - a
    return np.array([dy, -dx]) / math.hypot(dx, dy)


def _clipped_cells(xy: np.ndarray, ring: list[Point]) -> list[list[Point]]:
    """The Voronoi cell of every point, clipped to the convex ``ring``. Four far points make
    every real cell finite."""
    span = float(np.ptp(xy, axis=0).max()) * 10
    mid = xy.mean(axis=0)
    far = mid + np.array([[-span, -span], [span, -span], [span, span], [-span, span]])
    vor = Voronoi(np.vstack([xy, far]))
    cells = []
    for i in range(len(xy)):
        region = vor.regions[vor.point_region[i]]
        cell = [(float(vor.vertices[v][0]), float(vor.vertices[v][1])) for v in region]
        cells.append(_clip(_counter_clockwise(cell), ring))
    return cells


def _city_borders(xy: np.ndarray, cities: list[str], ring: list[Point]) -> list[list[Point]]:
    """The Voronoi edges between districts of different cities, clipped to ``ring``."""
    vor = Voronoi(xy)
    segments = []
    for (p, q), verts in zip(vor.ridge_points, vor.ridge_vertices, strict=True):
        if cities[p] == cities[q] or -1 in verts:
            continue  # infinite ridges lie outside the province outline
        a, b = vor.vertices[verts[0]], vor.vertices[verts[1]]
        seg = _clip_segment((float(a[0]), float(a[1])), (float(b[0]), float(b[1])), ring)
        if seg is not None:
            segments.append(seg)
    return segments


def _counter_clockwise(poly: list[Point]) -> list[Point]:
    cx = sum(p[0] for p in poly) / len(poly)
    cy = sum(p[1] for p in poly) / len(poly)
    return sorted(poly, key=lambda p: math.atan2(p[1] - cy, p[0] - cx))


def _inside(p: Point, a: Point, b: Point) -> bool:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0


def _crossing(p: Point, q: Point, a: Point, b: Point) -> Point:
    """Where line p-q crosses line a-b."""
    d1 = (q[0] - p[0], q[1] - p[1])
    d2 = (b[0] - a[0], b[1] - a[1])
    t = ((a[0] - p[0]) * d2[1] - (a[1] - p[1]) * d2[0]) / (d1[0] * d2[1] - d1[1] * d2[0])
    return (p[0] + t * d1[0], p[1] + t * d1[1])


def _clip(poly: list[Point], ring: list[Point]) -> list[Point]:
    """Sutherland-Hodgman: the part of convex ``poly`` inside the counter-clockwise ``ring``."""
    out = poly
    for i in range(len(ring)):
        a, b = ring[i - 1], ring[i]
        inp, out = out, []
        for j in range(len(inp)):
            p, q = inp[j - 1], inp[j]
            if _inside(q, a, b):
                if not _inside(p, a, b):
                    out.append(_crossing(p, q, a, b))
                out.append(q)
            elif _inside(p, a, b):
                out.append(_crossing(p, q, a, b))
    return out


def _clip_segment(p: Point, q: Point, ring: list[Point]) -> list[Point] | None:
    """The part of segment p-q inside the counter-clockwise convex ``ring``, None if none."""
    for i in range(len(ring)):
        a, b = ring[i - 1], ring[i]
        pin, qin = _inside(p, a, b), _inside(q, a, b)
        if not pin and not qin:
            return None
        if not pin:
            p = _crossing(p, q, a, b)
        elif not qin:
            q = _crossing(p, q, a, b)
    return [p, q]
