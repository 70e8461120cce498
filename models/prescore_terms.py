"""The cheap terms of the pre-score (``matching.prescore``): integer keys of every enterprise,
the pair terms that see an enterprise only through such a key, and sparse pair terms. Pure
functions of a feature context.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import sparse

from tenantmatch.features import FeatureContext

CHUNK_ROWS = 200_000
Arrays = dict[str, np.ndarray]
KM_PER_DEGREE = 111.195
DIST_STEPS_PER_SQRT_KM = 2.0  # distance key: floor(2 * sqrt(km)), 0..60, 61 = unknown
DIST_MAX_KEY = 60
FAR_KM = 1e6  # where an unknown location is put for the fast path: always the last key


def _quantised(values: np.ndarray, *, scale: float, offset: float, top: int) -> np.ndarray:
    """int32 keys round((v + offset) * scale) clipped to 0..top; NaN -> top + 1."""
    scaled = np.nan_to_num((values + offset) * scale, nan=-1.0)
    keys = np.clip(np.rint(scaled), 0, top).astype(np.int32)
    keys[np.isnan(values)] = top + 1
    return keys


def _category(values: np.ndarray, *, size: int) -> np.ndarray:
    """int32 keys of float codes 0..size-1; NaN (or out of range) -> size."""
    keys = np.nan_to_num(values, nan=size).astype(np.int64)
    return np.where((keys >= 0) & (keys < size), keys, size).astype(np.int32)


def _dequantised(keys: np.ndarray, *, scale: float, offset: float, top: int) -> np.ndarray:
    out = keys / scale - offset
    return np.where(keys > top, np.nan, out)


# Quantised enterprise keys: (context column, transform, scale, offset, top).
_LOG1P = np.log1p
_QUANTISED: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray], float, float, int]] = {
    "need": ("space_need_m2", _LOG1P, 10.0, 0.0, 150),
    "size": ("employees", _LOG1P, 10.0, 0.0, 120),
}


def enterprise_keys(ctx: FeatureContext) -> Arrays:
    """Integer key per enterprise (n,) for every keyed pair term; the last code is "unknown"."""
    e, b = ctx.enterprises, ctx.buildings
    keys = {
        "division": _category(e["division_num"].to_numpy(), size=100),
        "section": _category(e["section_num"].to_numpy(), size=ctx.section_mix.shape[1]),
        "city": _category(e["city_code"].to_numpy(), size=_n_codes(e, b, "city_code")),
        "place": _category(e["place_code"].to_numpy(), size=_n_codes(e, b, "place_code")),
    }
    for name, (column, fn, scale, offset, top) in _QUANTISED.items():
        keys[name] = _quantised(fn(e[column].to_numpy()), scale=scale, offset=offset, top=top)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_revenue = np.log(
            e["space_need_m2"].to_numpy() / (e["revenue_10k_cny"].to_numpy() * 1e4)
        )
    keys["burden"] = _quantised(np.where(np.isfinite(per_revenue), per_revenue, np.nan),
                                scale=5.0, offset=20.0, top=150)  # fmt: skip
    return keys


def _n_codes(e: pd.DataFrame, b: pd.DataFrame, column: str) -> int:
    top = np.nanmax(np.r_[e[column].to_numpy(), b[column].to_numpy(), -1.0])
    return int(top) + 1


def _key_values(name: str, keys: np.ndarray) -> np.ndarray:
    """The representative enterprise value of quantised keys (NaN for unknown)."""
    if name == "burden":
        return np.exp(_dequantised(keys, scale=5.0, offset=20.0, top=150))
    _, _, scale, offset, top = _QUANTISED[name]
    return _dequantised(keys, scale=scale, offset=offset, top=top)  # log1p of the value


def planar_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(n, 2) float32 planar coordinates in km (equirectangular at 37.5°N, Shanxi's middle);
    NaN rows stay NaN."""
    x = lon * KM_PER_DEGREE * np.cos(np.radians(37.5))
    return np.stack([x, lat * KM_PER_DEGREE], axis=1).astype(np.float32)


def distance_keys(xy: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """int32 distance bucket floor(2 sqrt(km)) (0..60) from ``origin`` ((2,) or one row per
    row of ``xy``) to the rows of ``xy`` (n, 2); 61 where either location is unknown."""
    d2 = (xy[:, 0] - origin[..., 0]) ** 2 + (xy[:, 1] - origin[..., 1]) ** 2
    scaled = np.sqrt(np.sqrt(d2, dtype=np.float32)) * np.float32(DIST_STEPS_PER_SQRT_KM)
    keys = np.minimum(np.nan_to_num(scaled, nan=DIST_MAX_KEY + 1.0), DIST_MAX_KEY + 1)
    return keys.astype(np.int32)


# Keyed pair terms: name -> (key, fn(ctx, building positions, enterprise keys) -> values).
def _theme_cell(
    matrix: np.ndarray, ctx: FeatureContext, b: np.ndarray, d: np.ndarray
) -> np.ndarray:
    theme = ctx.buildings["theme_idx"].to_numpy()[b]
    ok = ~np.isnan(theme) & (d < matrix.shape[1])
    out = np.full(len(b), np.nan)
    out[ok] = matrix[theme[ok].astype(np.int64), d[ok]]
    return out


def _share(mix: np.ndarray, b: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Share of the building's current tenants in the key's class (candidates are never
    tenants of the building, so nobody needs leaving out); NaN if unknown or no tenant."""
    total = mix.sum(axis=1)[b]
    ok = (key < mix.shape[1]) & (total > 0)
    out = np.full(len(b), np.nan)
    out[ok] = mix[b[ok], key[ok]] / total[ok]
    return out


def _same(ctx: FeatureContext, column: str, b: np.ndarray, key: np.ndarray) -> np.ndarray:
    """1.0 where the enterprise's key is the building's code; an unknown enterprise place counts
    as not the same (0.0), an unknown building place is NaN."""
    code = ctx.buildings[column].to_numpy()[b]
    return np.where(np.isnan(code), np.nan, (code == key).astype(np.float64))


def _building(ctx: FeatureContext, column: str, b: np.ndarray) -> np.ndarray:
    return ctx.buildings[column].to_numpy(dtype=np.float64)[b]


def _size_similarity(ctx: FeatureContext, b: np.ndarray, key: np.ndarray) -> np.ndarray:
    size = np.exp(_key_values("size", key))  # 1 + employees
    return ctx.sizes.mean_similarity(b, size=size, is_tenant=np.zeros(len(b)))


PairFn = Callable[[FeatureContext, np.ndarray, np.ndarray], np.ndarray]
KEYED_TERMS: dict[str, tuple[str, PairFn]] = {
    "theme_fit_learned": ("division", lambda c, b, k: _theme_cell(c.theme_fit, c, b, k)),
    "theme_prior_fit": ("division", lambda c, b, k: _theme_cell(c.theme_prior, c, b, k)),
    "division_share": ("division", lambda c, b, k: _share(c.division_mix, b, k)),
    "section_share": ("section", lambda c, b, k: _share(c.section_mix, b, k)),
    "same_city": ("city", lambda c, b, k: _same(c, "city_code", b, k)),
    "same_district": ("place", lambda c, b, k: _same(c, "place_code", b, k)),
    "space_log_ratio": (
        "need",
        lambda c, b, k: _key_values("need", k) - np.log1p(_building(c, "vacant_area_m2", b)),
    ),
    "rent_burden": (
        "burden",
        lambda c, b, k: _key_values("burden", k) * _building(c, "rent_cny_m2_day", b) * 365.0,
    ),
    "grade_x_size": (
        "size",
        lambda c, b, k: _building(c, "grade_rank", b) * _key_values("size", k),
    ),
    "amenities_x_size": (
        "size",
        lambda c, b, k: _building(c, "amenity_count", b) * _key_values("size", k),
    ),
    "size_similarity": ("size", _size_similarity),
    "distance_sqrt_km": ("distance", lambda c, b, k: np.where(k > DIST_MAX_KEY, np.nan, k / 2.0)),
}
SPARSE_TERMS: dict[str, Callable[[FeatureContext], sparse.csr_array]] = {
    "chain_partners": lambda c: c.partners["any"],
    "prior_events": lambda c: c.prior_events,
}
SPARSE_EDGES = {
    "chain_partners": np.array([0.5, 1.5, 2.5, 3.5]),
    "prior_events": np.array([-0.5, 0.5, 1.5, 2.5, 3.5]),
}


def history_pairs(ctx: FeatureContext) -> sparse.csr_array:
    """bool (n_e, n_b): pairs with an attraction event by the snapshot date (any stage, a
    decline too) or a chain partner of the enterprise among the building's current tenants.
    The ranker's strongest signals; few per building, so stage 1 passes them all on."""
    pattern = sparse.csr_array((abs(ctx.prior_events) + abs(ctx.partners["any"])) != 0)
    pattern.sum_duplicates()
    return compact(pattern)


def compact(matrix: sparse.csr_array | sparse.csc_array) -> sparse.csr_array | sparse.csc_array:
    """``matrix`` as bool with int32 index arrays (where they fit): half the memory of
    scipy's default int64 ones for a few million entries."""
    small = max(matrix.nnz, *matrix.shape) < np.iinfo(np.int32).max
    kind = np.int32 if small else np.int64
    arrays = (matrix.data.astype(bool), matrix.indices.astype(kind), matrix.indptr.astype(kind))
    return type(matrix)(arrays, shape=matrix.shape)


def unknown_code(ctx: FeatureContext, key: str) -> int:
    if key == "division":
        return 100
    if key == "section":
        return int(ctx.section_mix.shape[1])
    return _n_codes(ctx.enterprises, ctx.buildings, f"{key}_code")
