"""The space rules, once: how much room an enterprise needs and whether a building can give it.

Features (``pair__space_need_fits``), candidate filters, fill plans and live move-ins all use
these; areas in m².
"""

from __future__ import annotations

import numpy as np
import pandas as pd

M2_PER_EMPLOYEE = 10.0  # office area per employee when a firm's current area is unknown
MIN_UNIT_OVERSIZE_FACTOR = 2.0  # largest min_unit / need ratio a firm is assumed to accept


def estimated_space_need_m2(current_area_m2: pd.Series, employees: pd.Series) -> pd.Series:
    """Space need per enterprise (float64, aligned to the inputs): the area of its current
    tenancy, else employees x ``M2_PER_EMPLOYEE``; NaN when both are missing."""
    by_staff = employees.astype("float64") * M2_PER_EMPLOYEE
    return current_area_m2.astype("float64").fillna(by_staff)


def area_taken_m2(need_m2: np.ndarray | float, *, min_unit_m2: np.ndarray | float) -> np.ndarray:
    """The area a firm takes in a building: its need, or the building's minimum unit when that is
    larger (float64, arrays broadcast); a missing min unit takes the need."""
    unit = np.nan_to_num(np.asarray(min_unit_m2, dtype=np.float64), nan=0.0)
    return np.maximum(np.asarray(need_m2, dtype=np.float64), unit)


def space_fits(
    need_m2: np.ndarray | float, *, vacant_m2: np.ndarray | float, min_unit_m2: np.ndarray | float
) -> np.ndarray:
    """The one space-fit rule (feature and candidate filter alike); boolean, arrays broadcast,
    areas in m². The area taken, max(need, min unit), must not exceed the vacancy, and a firm
    takes a whole min unit only if it is at most ``MIN_UNIT_OVERSIZE_FACTOR`` x its need.
    A missing need or vacancy cannot fail the rule (True); a missing min unit lets any size."""
    need = np.asarray(need_m2, dtype=np.float64)
    unit = np.nan_to_num(np.asarray(min_unit_m2, dtype=np.float64), nan=0.0)
    with np.errstate(invalid="ignore"):
        taken = area_taken_m2(need, min_unit_m2=unit)
        fits_vacancy = ~(taken > np.asarray(vacant_m2, dtype=np.float64))
        unit_ok = ~(unit > MIN_UNIT_OVERSIZE_FACTOR * need)
    return fits_vacancy & unit_ok
