"""Business rules of a shortlist in one place: who is never shortlisted, who only on request, and
the risk warnings (风险预警) staff see next to a risky enterprise.

Rules:
- a current tenant of a building is never shortlisted for that building;
- a deregistered enterprise (risk flag ``deregistered``) is never shortlisted;
- an enterprise with any other risk flag is shortlisted only when the caller asks
  (``include_risky``), and then carries its warnings;
- a firm whose latest attraction event with a building is a decline within
  ``DECLINE_MEMORY_DAYS`` of the shortlist's date comes after every other candidate on that
  building's shortlist (and on its own shortlist of buildings), flagged "已婉拒 (YYYY-MM-DD)";
- space must fit: the one rule is ``registry.space_fits`` (re-exported here), which the feature
  ``pair__space_need_fits`` uses too: the area taken, ``max(need, min_unit)``, must not exceed
  the building's vacant area, and a firm takes a whole minimum unit only when that unit is at most
  ``MIN_UNIT_OVERSIZE_FACTOR`` times its need (a 300 m² firm may take a 600 m² unit, not a 700 m²).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tenantmatch.registry import (
    LIST_SEPARATOR,
    MIN_UNIT_OVERSIZE_FACTOR,
    RiskFlag,
    label_zh,
    space_fits,
)

__all__ = [
    "ALWAYS_EXCLUDED_FLAGS",
    "DECLINE_MEMORY_DAYS",
    "LOW_CREDIT_SCORE",
    "MIN_UNIT_OVERSIZE_FACTOR",
    "RISK_FLAGS",
    "declined_text",
    "eligible_by_risk",
    "flags_bits",
    "list_bitmask",
    "recent_declines",
    "risk_warnings",
    "space_fits",
]

RISK_FLAGS: tuple[str, ...] = tuple(f.value for f in RiskFlag)
ALWAYS_EXCLUDED_FLAGS: frozenset[str] = frozenset({RiskFlag.DEREGISTERED.value})
LOW_CREDIT_SCORE = 60.0  # credit_score strictly below this earns a warning
DECLINE_MEMORY_DAYS = 365  # a decline this recent (days before the shortlist's date) demotes
DECLINED_RANK = -1.0  # the stage rank of ``declined`` in the features (``STAGE_RANK``)


def list_bitmask(cells: pd.Series, *, codes: tuple[str, ...]) -> np.ndarray:
    """Bit i set where the ``;``-joined list cell holds ``codes[i]`` (at most 32 codes);
    uint32 array (n,), a missing cell -> 0."""
    text = cells.astype("str").fillna("")
    padded = LIST_SEPARATOR + text + LIST_SEPARATOR
    mask = np.zeros(len(cells), dtype=np.uint32)
    for bit, code in enumerate(codes):
        hit = padded.str.contains(f"{LIST_SEPARATOR}{code}{LIST_SEPARATOR}", regex=False)
        mask |= hit.to_numpy(dtype=bool, na_value=False).astype(np.uint32) << np.uint32(bit)
    return mask


def flags_bits(flags: frozenset[str] | set[str], *, codes: tuple[str, ...] = RISK_FLAGS) -> int:
    """The bitmask (as in :func:`list_bitmask`) of a set of codes; unknown codes are ignored."""
    return sum(1 << i for i, code in enumerate(codes) if code in flags)


ALWAYS_EXCLUDED_BITS = flags_bits(ALWAYS_EXCLUDED_FLAGS)


def eligible_by_risk(risk_bits: np.ndarray, *, include_risky: bool) -> np.ndarray:
    """Boolean mask (n,) of enterprises allowed on a shortlist given their risk bitmask."""
    if include_risky:
        return (risk_bits & np.uint32(ALWAYS_EXCLUDED_BITS)) == 0
    return risk_bits == 0


def risk_warnings(risk_flags: str | None, *, credit_score: float | None) -> list[str]:
    """Chinese warnings (风险预警) of one enterprise: one per risk flag, one for a credit score
    below ``LOW_CREDIT_SCORE``; [] when neither applies."""
    warnings = []
    if isinstance(risk_flags, str) and risk_flags:
        for flag in risk_flags.split(LIST_SEPARATOR):
            warnings.append(f"风险预警：{label_zh(flag)}")
    if (
        credit_score is not None
        and not math.isnan(credit_score)
        and credit_score < LOW_CREDIT_SCORE
    ):
        warnings.append(f"信用评分 {credit_score:.0f} 分，低于 {LOW_CREDIT_SCORE:.0f} 分")
    return warnings


def recent_declines(last_stage: np.ndarray, days_since: np.ndarray) -> np.ndarray:
    """Boolean mask (n,) of pairs whose latest attraction event (stage rank ``last_stage``,
    NaN = none; ``days_since`` days before the shortlist's date) is a decline within
    ``DECLINE_MEMORY_DAYS``."""
    with np.errstate(invalid="ignore"):
        return (last_stage == DECLINED_RANK) & (days_since <= DECLINE_MEMORY_DAYS)


def declined_text(day: str) -> str:
    """The flag of a recent decline, ``day`` an ISO date: "已婉拒 (2024-03-01)"."""
    return f"已婉拒 ({day})"
