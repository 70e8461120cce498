"""Per-building attributes as of a snapshot, and the ``b__`` feature functions that read them.

Feature functions take the pairs frame ``build_matrix`` joined (building attributes as ``b_*``
columns, enterprise attributes as ``e_*``) and return a float32 Series aligned to it, NaN where
an input is missing.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from tenantmatch.features.lookups import ContextData
from tenantmatch.features.vocab import Vocabulary
from tenantmatch.registry import Snapshot

logger = logging.getLogger(__name__)

GRADE_RANK: dict[str, float] = {"c": 1.0, "b": 2.0, "a": 3.0, "super_a": 4.0}
RECENT = pd.DateOffset(months=12)


def list_has(cells: pd.Series, code: str) -> np.ndarray:
    """1.0 where the ``;``-joined list cell holds ``code``, 0.0 where not, NaN where missing."""
    text = cells.astype("str")
    hit = (";" + text + ";").str.contains(f";{code};", regex=False).to_numpy(dtype=np.float64)
    return np.where(text.isna().to_numpy(), np.nan, hit)


def list_count(cells: pd.Series) -> np.ndarray:
    """Number of items in ``;``-joined list cells; NaN where the cell is missing."""
    counts = cells.astype("str").str.count(";") + 1
    return counts.to_numpy(dtype=np.float64, na_value=np.nan)


def division_entropy(division_mix: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of a (n, 100) count matrix; NaN for an all-zero row."""
    totals = division_mix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = division_mix / totals
        terms = np.where(share > 0, -share * np.log(share), 0.0)
    return np.where(totals[:, 0] > 0, terms.sum(axis=1), np.nan)


def building_table(
    snapshot: Snapshot,
    *,
    vocab: Vocabulary,
    open_pairs: pd.DataFrame,
    division_mix: np.ndarray,
) -> pd.DataFrame:
    """float64 attributes per building (index = ``snapshot.buildings.index``).

    ``open_pairs``: distinct (enterprise_id, building_id) of open tenancies; ``division_mix``:
    (n_buildings, 100) tenant counts per division, rows in building order.
    """
    b = snapshot.buildings
    as_of = snapshot.as_of
    out = pd.DataFrame(index=b.index)
    out["theme_code"] = vocab.encode(b["theme"], field="theme")
    out["grade_rank"] = b["grade"].map(GRADE_RANK).astype("float64")
    for column in ("total_area_m2", "vacant_area_m2", "min_unit_m2", "rent_cny_m2_day"):
        out[column] = b[column].astype("float64")
    out["smart_5a"] = b["smart_5a"].astype("float64")
    out["amenity_count"] = list_count(b["amenities"])
    out["has_metro"] = list_has(b["amenities"], "metro")
    out["has_parking"] = list_has(b["amenities"], "parking")
    out["lat"], out["lon"] = b["lat"].astype("float64"), b["lon"].astype("float64")
    out["age_years"] = float(as_of.year) - b["completed_year"].astype("float64")
    tenants = open_pairs.groupby("building_id").size()
    out["tenant_count"] = tenants.reindex(b.index, fill_value=0).astype("float64")
    out["tenant_entropy"] = division_entropy(division_mix)
    ten = snapshot.tenancies
    window_start = as_of - RECENT
    moved_in = ten[ten["start_date"] > window_start].groupby("building_id").size()
    moved_out = ten[ten["end_date"] > window_start].groupby("building_id").size()
    out["moveins_12m"] = moved_in.reindex(b.index, fill_value=0).astype("float64")
    out["moveouts_12m"] = moved_out.reindex(b.index, fill_value=0).astype("float64")
    return out


def _series(values: object, pairs: pd.DataFrame) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float32), index=pairs.index)


def _log_m2(values: pd.Series) -> np.ndarray:
    return np.log1p(values.to_numpy(dtype=np.float64))


def theme_code(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Building theme as its vocabulary code; NaN if unseen at training."""
    return _series(pairs["b_theme_code"], pairs)


def grade_rank(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Grade as an ordinal: c 1, b 2, a 3, super_a 4; NaN if missing."""
    return _series(pairs["b_grade_rank"], pairs)


def total_area_log_m2(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + total area in m²)."""
    return _series(_log_m2(pairs["b_total_area_m2"]), pairs)


def vacant_area_log_m2(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + vacant area in m² as of the snapshot)."""
    return _series(_log_m2(pairs["b_vacant_area_m2"]), pairs)


def vacancy_rate(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Vacant / total area as of the snapshot, 0..1."""
    return _series(pairs["b_vacant_area_m2"] / pairs["b_total_area_m2"], pairs)


def min_unit_log_m2(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + smallest lettable unit in m²); NaN if unknown."""
    return _series(_log_m2(pairs["b_min_unit_m2"]), pairs)


def rent_cny_m2_day(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Rent in CNY per m² per day; NaN if unknown."""
    return _series(pairs["b_rent_cny_m2_day"], pairs)


def smart_5a_level(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Number of 5A systems, 0..5; NaN if unknown."""
    return _series(pairs["b_smart_5a"], pairs)


def amenity_count(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Number of listed amenities; NaN if the amenities cell is missing."""
    return _series(pairs["b_amenity_count"], pairs)


def has_metro(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """1.0 if metro is among the amenities, 0.0 if not, NaN if amenities are missing."""
    return _series(pairs["b_has_metro"], pairs)


def has_parking(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """1.0 if parking is among the amenities, 0.0 if not, NaN if amenities are missing."""
    return _series(pairs["b_has_parking"], pairs)


def building_lat(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Building latitude (WGS84 degrees); NaN if missing."""
    return _series(pairs["b_lat"], pairs)


def building_lon(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Building longitude (WGS84 degrees); NaN if missing."""
    return _series(pairs["b_lon"], pairs)


def building_age_years(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Snapshot year minus completion year; NaN if unknown."""
    return _series(pairs["b_age_years"], pairs)


def centre_km(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Great-circle km to the centre of the building's city (reference coordinates)."""
    return _series(pairs["b_centre_km"], pairs)


def tenant_count(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Enterprises with an open tenancy in the building as of the snapshot."""
    return _series(pairs["b_tenant_count"], pairs)


def tenant_mix_entropy(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Shannon entropy (nats) of current tenants' industry divisions; NaN with no known tenant."""
    return _series(pairs["b_tenant_entropy"], pairs)


def moveins_12m(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Tenancies started in the 12 months up to the snapshot date."""
    return _series(pairs["b_moveins_12m"], pairs)


def occupancy_trend_12m(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Move-ins minus move-outs in the 12 months up to the snapshot date."""
    return _series(pairs["b_moveins_12m"] - pairs["b_moveouts_12m"], pairs)
