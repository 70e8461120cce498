"""The ``pair__`` feature functions: how a building and an enterprise fit each other.

Each reads the joined pairs frame (``b_*`` / ``e_*`` attributes, ``b_pos`` / ``e_pos`` rows of
the context tables) and the context's lookups; float32 Series aligned to the pairs, NaN where an
input is missing. Whether the enterprise is already a tenant is deliberately not a feature; the
tenant mix and size similarity leave the enterprise itself out.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import sparse

from tenantmatch.features.enterprise import OPEN_COURTSHIP, PIPELINE_WINDOW
from tenantmatch.features.lookups import ContextData
from tenantmatch.registry import MIN_UNIT_OVERSIZE_FACTOR, space_fits

logger = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088
DAYS_PER_YEAR = 365.0
CNY_PER_10K = 10_000.0
# The enterprise attributes (``e_*`` columns of the join) the pair features below read: X joins
# only these (the ``e__`` features come from the context's precomputed block).
ENTERPRISE_ATTRIBUTES: tuple[str, ...] = (
    "space_need_m2", "division_num", "section_num", "revenue_10k_cny", "city_code",
    "place_code", "employees", "loc_lat", "loc_lon", "open_courtships",
    "office_grade_rank", "office_age_years", "office_centre_km",
)  # fmt: skip


def _series(values: object, pairs: pd.DataFrame) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float32), index=pairs.index)


def _col(pairs: pd.DataFrame, name: str) -> np.ndarray:
    return pairs[name].to_numpy(dtype=np.float64)


def _lookup(matrix: sparse.csr_array, pairs: pd.DataFrame) -> np.ndarray:
    """matrix[e_pos, b_pos] per pair as float64 (n,)."""
    rows, cols = pairs["e_pos"].to_numpy(), pairs["b_pos"].to_numpy()
    if len(rows) == 0:  # scipy answers empty index arrays with a sparse array, not values
        return np.empty(0, dtype=np.float64)
    return np.asarray(matrix[rows, cols], dtype=np.float64).reshape(-1)


def _cell(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """matrix[rows, cols] where both are known (not NaN), else NaN."""
    ok = ~np.isnan(rows) & ~np.isnan(cols)
    out = np.full(len(rows), np.nan)
    out[ok] = matrix[rows[ok].astype(np.int64), cols[ok].astype(np.int64)]
    return out


def _space_need(pairs: pd.DataFrame) -> np.ndarray:
    return _col(pairs, "e_space_need_m2")


def theme_fit_learned(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Lift of the enterprise's division in buildings of this theme, learned from tenancies up
    to the snapshot and smoothed towards the prior; 1.0 = average, NaN if theme/division unknown."""
    fit = _cell(ctx.theme_fit, _col(pairs, "b_theme_idx"), _col(pairs, "e_division_num"))
    return _series(fit, pairs)


def theme_prior_fit(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Reference prior of how well the division suits the theme, 0..1; NaN if unknown."""
    fit = _cell(ctx.theme_prior, _col(pairs, "b_theme_idx"), _col(pairs, "e_division_num"))
    return _series(fit, pairs)


def space_need_log_ratio(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + space need m²) - log(1 + vacant m²): > 0 when the need exceeds the vacancy."""
    ratio = np.log1p(_space_need(pairs)) - np.log1p(_col(pairs, "b_vacant_area_m2"))
    return _series(ratio, pairs)


FAR_VACANCY_M2 = 1e8  # stands in for an unknown vacancy, which never fails :func:`space_fits`
_CITY_SPAN = 1e9  # > FAR_VACANCY_M2 and twice any need: sorted keys group by city


def fitting_building_counts(
    need_m2: np.ndarray,
    city: np.ndarray,
    *,
    b_city: np.ndarray,
    vacant_m2: np.ndarray,
    min_unit_m2: np.ndarray,
) -> np.ndarray:
    """Per enterprise, how many buildings of its ``city`` (int codes, -1 unknown) its space
    ``need_m2`` fits by :func:`space_fits`; float64, NaN for an unknown need or city.

    Two binary searches, not an enterprise x building test: a building fits a need n when
    u <= v (a min unit u is free at all, v the vacancy), n <= v and u <= 2n; of those usable
    buildings every one with v < n has u < 2n, so the count is #{u <= 2n} - #{v < n}."""
    need = np.asarray(need_m2, dtype=np.float64)
    city = np.asarray(city, dtype=np.float64)
    vacant = np.nan_to_num(np.asarray(vacant_m2, dtype=np.float64), nan=FAR_VACANCY_M2)
    unit = np.nan_to_num(np.asarray(min_unit_m2, dtype=np.float64), nan=0.0)
    b_city = np.asarray(b_city, dtype=np.float64)
    usable = (unit <= vacant) & (b_city >= 0)
    base = b_city[usable] * _CITY_SPAN
    unit_keys = np.sort(base + unit[usable])
    vacant_keys = np.sort(base + np.minimum(vacant[usable], FAR_VACANCY_M2))
    known = ~np.isnan(need) & (city >= 0)
    own = np.where(known, city, 0.0) * _CITY_SPAN
    n = np.clip(np.where(known, need, 0.0), 0.0, FAR_VACANCY_M2)
    units_in_reach = np.searchsorted(unit_keys, own + MIN_UNIT_OVERSIZE_FACTOR * n, side="right")
    too_small = np.searchsorted(vacant_keys, own + n, side="left")
    return np.where(known, (units_in_reach - too_small).astype(np.float64), np.nan)


def space_need_fits(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """1.0 if the space fits by :func:`space_fits`, else 0.0; NaN if the need or the vacancy
    is unknown."""
    need, vacant = _space_need(pairs), _col(pairs, "b_vacant_area_m2")
    fits = space_fits(need, vacant_m2=vacant, min_unit_m2=_col(pairs, "b_min_unit_m2"))
    return _series(np.where(np.isnan(need) | np.isnan(vacant), np.nan, fits), pairs)


def rent_burden(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Yearly rent of the space need (need x rent x 365 CNY) over revenue; NaN if any is
    unknown or revenue is 0."""
    rent = _space_need(pairs) * _col(pairs, "b_rent_cny_m2_day") * DAYS_PER_YEAR
    revenue = _col(pairs, "e_revenue_10k_cny") * CNY_PER_10K
    with np.errstate(invalid="ignore", divide="ignore"):
        burden = np.where(revenue > 0, rent / revenue, np.nan)
    return _series(burden, pairs)


def chain_partners_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Distinct linked enterprises (supplier, customer, investment, partner) in the building."""
    return _series(_lookup(ctx.partners["any"], pairs), pairs)


def upstream_partners_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Suppliers of the enterprise that are tenants of the building."""
    return _series(_lookup(ctx.partners["upstream"], pairs), pairs)


def downstream_partners_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Customers (enterprises it supplies) that are tenants of the building."""
    return _series(_lookup(ctx.partners["downstream"], pairs), pairs)


def invest_partners_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Investors in, or investees of, the enterprise that are tenants of the building."""
    return _series(_lookup(ctx.partners["invest"], pairs), pairs)


def chain_weight_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Sum over linked tenants of the strongest link weight (0..1 each; missing weight = 1)."""
    return _series(_lookup(ctx.partners["weight"], pairs), pairs)


def _mix_share(
    pairs: pd.DataFrame, mix: np.ndarray, *, total: np.ndarray, column: str, ctx: ContextData
) -> np.ndarray:
    """Share of the enterprise's class among the building's other tenants with a known class
    (``total``: the mix summed per building, kept on the context)."""
    b_pos = pairs["b_pos"].to_numpy()
    own = _cell(mix, b_pos.astype(np.float64), _col(pairs, column))
    self_ = _lookup(ctx.tenants, pairs)
    others = total[b_pos] - self_
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(others > 0, (own - self_) / others, np.nan)


def division_share_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Share of the building's other current tenants in the enterprise's division, 0..1;
    NaN if the division is unknown or the building has no other tenant."""
    share = _mix_share(pairs, ctx.division_mix, total=ctx.division_total,
                       column="e_division_num", ctx=ctx)  # fmt: skip
    return _series(share, pairs)


def section_share_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Share of the building's other current tenants in the enterprise's section, 0..1."""
    share = _mix_share(pairs, ctx.section_mix, total=ctx.section_total,
                       column="e_section_num", ctx=ctx)  # fmt: skip
    return _series(share, pairs)


def size_similarity_to_tenants(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Mean over the building's other tenants of min/max of (1 + employees), 0..1."""
    similarity = ctx.sizes.mean_similarity(
        pairs["b_pos"].to_numpy(),
        size=1.0 + _col(pairs, "e_employees"),
        is_tenant=_lookup(ctx.tenants, pairs),
    )
    return _series(similarity, pairs)


def great_circle_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Haversine km between WGS84 degrees (broadcastable float arrays); NaN where one is NaN."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=np.float64))
                              for v in (lat1, lon1, lat2, lon2))  # fmt: skip
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def distance_km(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Great-circle km from the enterprise (its lat/lon, else its district's or city's
    centroid) to the building; NaN if either location is unknown."""
    km = great_circle_km(_col(pairs, "e_loc_lat"), _col(pairs, "e_loc_lon"),
                         _col(pairs, "b_lat"), _col(pairs, "b_lon"))  # fmt: skip
    return _series(km, pairs)


def _same(pairs: pd.DataFrame, column: str) -> np.ndarray:
    b, e = _col(pairs, f"b_{column}"), _col(pairs, f"e_{column}")
    return np.where(np.isnan(b) | np.isnan(e), np.nan, (b == e).astype(np.float64))


def same_city(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """1.0 if the enterprise is in the building's city, 0.0 if not, NaN if its city is unknown."""
    return _series(_same(pairs, "city_code"), pairs)


def same_district(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """1.0 if in the building's city and district, 0.0 if not, NaN if either is unknown."""
    return _series(_same(pairs, "place_code"), pairs)


def grade_x_log_employees(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Grade rank (c 1 .. super_a 4) x log(1 + employees): big firms in top buildings."""
    return _series(_col(pairs, "b_grade_rank") * np.log1p(_col(pairs, "e_employees")), pairs)


def amenities_x_log_employees(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Amenity count x log(1 + employees)."""
    product = _col(pairs, "b_amenity_count") * np.log1p(_col(pairs, "e_employees"))
    return _series(product, pairs)


def _vs_office(pairs: pd.DataFrame, attribute: str) -> pd.Series:
    """The building's ``attribute`` minus that of the enterprise's latest office building
    (``e_office_*``, see ``features.context``); NaN for a firm that never had one."""
    return _series(_col(pairs, f"b_{attribute}") - _col(pairs, f"e_office_{attribute}"), pairs)


def grade_vs_office(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Grade rank above (+) or below (-) the enterprise's latest office building: the grade a
    firm chose once reveals the quality it looks for."""
    return _vs_office(pairs, "grade_rank")


def age_vs_office(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Building age in years minus that of the enterprise's latest office building."""
    return _vs_office(pairs, "age_years")


def centre_km_vs_office(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """km to the city centre minus that of the enterprise's latest office building: how much
    more central (-) or peripheral (+) than the place the firm chose before."""
    return _vs_office(pairs, "centre_km")


def days_since_last_event(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Days from this pair's latest attraction event to the snapshot date; NaN if none."""
    days = _lookup(ctx.last_event_days, pairs)
    return _series(np.where(days == 0, np.nan, days - 1.0), pairs)


def last_event_stage(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Stage of this pair's latest attraction event: contacted 1, visited 2, negotiating 3,
    signed 4, declined -1; NaN if none. A courtship still open differs from one declined."""
    stage = _lookup(ctx.last_event_stage, pairs)
    return _series(np.where(stage == 0, np.nan, stage - 2.0), pairs)


def rival_courtships(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Other buildings courting the enterprise now (open pipelines in the last 120 days, not
    declined), this pair's own excluded: one move is shared among them."""
    days, stage = _lookup(ctx.last_event_days, pairs), _lookup(ctx.last_event_stage, pairs)
    own_open = (days > 0) & (days - 1.0 < OPEN_COURTSHIP.days) & (stage - 2.0 > 0)
    total = pairs["e_open_courtships"].to_numpy(dtype=np.float64)
    return _series(np.maximum(total - own_open, 0.0), pairs)


def prior_events(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Highest stage of this pair's attraction events by the snapshot date: contacted 1,
    visited 2, negotiating 3, signed 4, declined -1 (only if nothing else); NaN if none."""
    stage = _lookup(ctx.prior_events, pairs)
    return _series(np.where(stage == 0, np.nan, stage), pairs)


def division_tenants_in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """The building's other current tenants in the enterprise's division (a count); NaN if
    the division is unknown."""
    b_pos = pairs["b_pos"].to_numpy()
    own = _cell(ctx.division_mix, b_pos.astype(np.float64), _col(pairs, "e_division_num"))
    return _series(own - _lookup(ctx.tenants, pairs), pairs)


def _recent_event(pairs: pd.DataFrame, ctx: ContextData) -> tuple[np.ndarray, np.ndarray]:
    """(days since, stage rank) of the pair's latest event when it lies within
    ``PIPELINE_WINDOW`` of the snapshot date; both NaN otherwise."""
    days = _lookup(ctx.last_event_days, pairs) - 1.0
    stage = _lookup(ctx.last_event_stage, pairs) - 2.0
    recent = (days >= 0) & (days <= PIPELINE_WINDOW.days)
    return np.where(recent, days, np.nan), np.where(recent, stage, np.nan)


def days_since_event_180d(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Days since this pair's latest attraction event if within 180 days, else NaN."""
    return _series(_recent_event(pairs, ctx)[0], pairs)


def last_stage_180d(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Stage of this pair's latest attraction event (contacted 1 .. signed 4, declined -1) if
    within 180 days, else NaN."""
    return _series(_recent_event(pairs, ctx)[1], pairs)
