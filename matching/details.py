"""What staff decide on, beside the rank: per shortlist item the enterprise's industry (code and
Chinese label) and size, its space need against the building's vacancy, and the probability of
signing when the model is calibrated.

The probability is the Platt calibration stored in the model's manifest (``training.calibration``:
P(the enterprise moves into the building within the horizon)); a model without one gives no
probability rather than a number that only looks like one.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.matching.candidates import CandidatePool, Pairs
from tenantmatch.registry import Snapshot, industry_divisions, label_zh

PERCENT_DECIMALS = 1
AREA_DECIMALS = 2


def calibrated(scores: np.ndarray, *, manifest: Mapping[str, Any]) -> np.ndarray | None:
    """P(signing) of raw ``scores`` (float64 (n,)) from the manifest's ``calibration``
    ``{"a", "b"}`` (a Platt fit: ``1 / (1 + exp(-(a * score + b)))``); None without one."""
    calibration = manifest.get("calibration")
    if not (isinstance(calibration, Mapping) and {"a", "b"} <= set(calibration)):
        return None
    a, b = float(calibration["a"]), float(calibration["b"])
    return 1.0 / (1.0 + np.exp(-(a * np.asarray(scores, dtype=np.float64) + b)))


@cache
def _division_names() -> dict[str, str]:
    table = industry_divisions()
    return {str(d): str(n) for d, n in zip(table["division"], table["name_zh"], strict=True)}


def item_details(
    snapshot: Snapshot,
    pool: CandidatePool,
    pairs: Pairs,
    scores: np.ndarray,
    *,
    manifest: Mapping[str, Any],
    building_query: bool,
) -> list[dict[str, Any]]:
    """Per pair (in ``pairs`` order): ``need_m2`` (the enterprise's estimated space need, m²,
    None unknown), ``vacant_m2`` (the building's), ``probability_pct`` (0-100, only with a
    calibration), and for a building query the enterprise's ``industry_code``,
    ``industry_division``, ``industry_zh`` and ``employees``; for an enterprise query the
    building's ``city``, ``district``, ``theme``, ``theme_zh`` and ``rent_cny_m2_day``."""
    need = _rounded(pool.need_m2[pairs.enterprise])
    vacant = _rounded(pool.vacant_m2[pairs.building])
    out: list[dict[str, Any]] = [
        {"need_m2": n, "vacant_m2": v} for n, v in zip(need, vacant, strict=True)
    ]
    probability = calibrated(scores, manifest=manifest)
    if probability is not None:
        for item, p in zip(out, np.round(probability * 100, PERCENT_DECIMALS).tolist(),
                           strict=True):  # fmt: skip
            item["probability_pct"] = p
    side = _enterprise_fields if building_query else _building_fields
    for item, fields in zip(out, side(snapshot, pairs), strict=True):
        item.update(fields)
    return out


def _enterprise_fields(snapshot: Snapshot, pairs: Pairs) -> list[dict[str, Any]]:
    e, at = snapshot.enterprises, pairs.enterprise  # column by column: no whole-row copies
    names = _division_names()
    codes = [None if pd.isna(c) else str(c) for c in e["industry_code"].iloc[at].tolist()]
    employees = [None if pd.isna(n) else int(n) for n in e["employees"].iloc[at].tolist()]
    out = []
    for code, size in zip(codes, employees, strict=True):
        division = None if code is None else code[:2]
        label = None if division is None else names.get(division, division)
        out.append({"industry_code": code, "industry_division": division,
                    "industry_zh": label, "employees": size})  # fmt: skip
    return out


def _building_fields(snapshot: Snapshot, pairs: Pairs) -> list[dict[str, Any]]:
    b, at = snapshot.buildings, pairs.building
    rent = b["rent_cny_m2_day"].iloc[at].to_numpy(dtype=np.float64, na_value=np.nan)
    columns = (b[c].iloc[at].tolist() for c in ("city", "district", "theme"))
    return [
        {"city": city, "district": district, "theme": theme, "theme_zh": label_zh(theme),
         "rent_cny_m2_day": r}
        for city, district, theme, r in zip(*columns, _rounded(rent, 2), strict=True)
    ]  # fmt: skip


def _rounded(values: np.ndarray, decimals: int = AREA_DECIMALS) -> list[float | None]:
    """float values rounded, NaN as None."""
    return [None if np.isnan(v) else v for v in np.round(values, decimals).tolist()]
