"""Draw the static population of a demo world: buildings, enterprises (with hidden latent
variables) and the links between enterprises. Vectorised; one numpy Generator drives it all."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tenantmatch.training.demo import catalog as cat
from tenantmatch.training.demo.params import WorldParams

KM_PER_DEG_LAT = 111.0


@dataclass(frozen=True)
class Population:
    """Static draws: output-ready ``buildings``/``enterprises``/``links`` frames (enterprise
    location columns are filled after the history) and ``latent``, hidden per-enterprise truth."""

    buildings: pd.DataFrame
    enterprises: pd.DataFrame
    links: pd.DataFrame
    latent: pd.DataFrame


def pick_districts(
    rng: np.random.Generator, districts: pd.DataFrame, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into ``districts`` for n places: city by CITY_SHARES, urban districts (区)
    three times as likely as counties; also returns the city index into CITY_SHARES."""
    cities = list(cat.CITY_SHARES)
    shares = np.array(list(cat.CITY_SHARES.values()))
    city_idx = rng.choice(len(cities), size=n, p=shares / shares.sum())
    out = np.empty(n, dtype=np.int64)
    for c, city in enumerate(cities):
        rows = np.flatnonzero(districts["city"].to_numpy() == city)
        w = np.array(
            [3.0 if str(d).endswith("区") else 1.0 for d in districts["district"].iloc[rows]]
        )
        mask = city_idx == c
        out[mask] = rng.choice(rows, size=int(mask.sum()), p=w / w.sum())
    return out, city_idx


def jitter(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, sd_km: float) -> tuple:
    """Coordinates moved by a normal jitter of ``sd_km`` kilometres, rounded to 6 decimals."""
    dlat = rng.normal(0.0, sd_km / KM_PER_DEG_LAT, lat.size)
    dlon = rng.normal(0.0, sd_km / (KM_PER_DEG_LAT * np.cos(np.radians(lat))), lat.size)
    return np.round(lat + dlat, 6), np.round(lon + dlon, 6)


def draw_buildings(
    rng: np.random.Generator, params: WorldParams, districts: pd.DataFrame
) -> pd.DataFrame:
    """The buildings table (contract columns) of ``params.n_buildings`` rows."""
    n = params.n_buildings
    rows, _ = pick_districts(rng, districts, n)
    place = districts.iloc[rows].reset_index(drop=True)
    taiyuan = place["city"].to_numpy() == "太原市"
    u = rng.random(n)
    grade = np.where(
        taiyuan,
        np.searchsorted(np.cumsum(cat.GRADE_PROBS_TAIYUAN), u, side="right"),
        np.searchsorted(np.cumsum(cat.GRADE_PROBS_OTHER), u, side="right"),
    ).clip(0, 3)
    total = np.clip(cat.GRADE_MEDIAN_AREA_M2[grade] * rng.lognormal(0.0, 0.4, n), 8_000, 150_000)
    floor_plate = rng.uniform(1_200, 2_600, n)
    floors = np.clip(np.round(total / floor_plate), 5, 80).astype(np.int64)
    rent_factor = np.where(taiyuan, 1.0, cat.OTHER_CITY_RENT_FACTOR)
    rent = np.clip(
        cat.GRADE_RENT_CNY_M2_DAY[grade] * rent_factor * rng.lognormal(0, 0.15, n), 1.2, 6.0
    )
    year = np.clip(np.round(cat.GRADE_NEWEST_YEAR_MEAN[grade] + rng.normal(0, 6, n)), 1990, 2024)
    smart = np.clip(np.round(cat.GRADE_MEAN_SMART_5A[grade] + rng.normal(0, 0.8, n)), 0, 5)
    min_unit = rng.choice(cat.MIN_UNITS_M2, size=n, p=cat.MIN_UNIT_PROBS)
    min_unit = np.where(rng.random(n) < 0.05, np.round(floor_plate, -1), min_unit)  # whole floor
    lat, lon = jitter(rng, place["lat"].to_numpy(float), place["lon"].to_numpy(float), 1.5)
    themes = list(cat.THEMES)
    theme_p = np.array(list(cat.THEMES.values()))
    return pd.DataFrame(
        {
            "building_id": [f"B{i + 1:06d}" for i in range(n)],
            "name": _building_names(rng, place["district"].to_numpy(), n),
            "city": place["city"].to_numpy(),
            "district": place["district"].to_numpy(),
            "lat": lat,
            "lon": lon,
            "theme": np.array(themes)[rng.choice(len(themes), size=n, p=theme_p / theme_p.sum())],
            "grade": np.array(cat.GRADES)[grade],
            "total_area_m2": np.round(total, -1),
            "vacant_area_m2": np.round(total, -1),  # replaced by the end-of-history vacancy
            "min_unit_m2": min_unit,
            "rent_cny_m2_day": np.round(rent, 2),
            "floors": floors,
            "completed_year": year.astype(np.int64),
            "smart_5a": smart.astype(np.int64),
            "amenities": _amenities(rng, grade),
            "operator_id": [f"OP{k + 1:02d}" for k in rng.integers(0, cat.N_OPERATORS, n)],
        }
    )


def _building_names(rng: np.random.Generator, district: np.ndarray, n: int) -> list[str]:
    """'{district without suffix}{brand}{suffix}', made unique with '二期', '三期' ..."""
    brand = rng.choice(np.array(cat.BRANDS), size=n)
    suffix = rng.choice(np.array(cat.BUILDING_SUFFIXES), size=n)
    names = [
        f"{str(d)[:-1] if len(str(d)) > 2 else d}{b}{s}"
        for d, b, s in zip(district, brand, suffix, strict=True)
    ]
    seen: dict[str, int] = {}
    phases = "一二三四五六七八九十"
    out = []
    for name in names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(
            name if k == 0 else f"{name}{phases[k % 10]}期" + ("" if k < 10 else str(k // 10))
        )
    return out


def _amenities(rng: np.random.Generator, grade: np.ndarray) -> list[str | None]:
    """';'-joined amenity codes (sorted), None when a building has none."""
    has = rng.random((grade.size, len(cat.AMENITIES))) < cat.AMENITY_PROBS[grade]
    codes = np.array(cat.AMENITIES)
    order = np.argsort(codes)
    joined = [";".join(codes[order][row[order]]) for row in has]
    return [j or None for j in joined]
