"""Retention watch (稳商): the current tenants most likely to leave, and the move-outs and vacancy
to expect in the next 12 months.

The probability is the served model's move hazard (``models.hazard``, the ``e__move_hazard``
feature the ranker reads): the probability that the enterprise starts a new tenancy within
:data:`HORIZON_MONTHS`, learned from earlier years' firms. For a current tenant a new tenancy
is nearly always a move out of its building (a second office elsewhere is rare in the registry),
so it is read as "leaves within 12 months". Nothing is fitted here: the values are those the
serving feature context already holds. The reasons are the hazard's own path contributions
(``models.PathExplainer``): the features that raise this firm's probability most, in staff words.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Literal

import numpy as np
import pandas as pd

from tenantmatch.features import enterprise_features
from tenantmatch.matching.engine import ModelNotReadyError
from tenantmatch.matching.reasons import reason_text
from tenantmatch.matching.shortlist import ScoringState
from tenantmatch.models import MoveHazard, PathExplainer
from tenantmatch.registry import InputError, label_zh

logger = logging.getLogger(__name__)

HORIZON_MONTHS = 12
MAX_AT_RISK = 500
TOP_REASONS = 3
CYCLE_FEATURE = "e__months_to_cycle_end"  # months until the lease likely ends (its last term)
PROBABILITY_DECIMALS = 4
AREA_DECIMALS = 1
OutlookBy = Literal["building", "district", "theme"]
OUTLOOK_BY: tuple[str, ...] = ("building", "district", "theme")
# The hazard inputs that may be a reason to leave, in staff words: lease and tenure, space,
# growth, moves, courting by other buildings. Others (credit, capital, industry codes, tags)
# can drive the model but tell staff nothing to act on. Phrases of ``matching.reasons`` serve
# where they exist; these are the ones it has none for (no reason to move *in*).
LEAVE_REASON_FEATURES: tuple[str, ...] = (
    "e__lease_end_12m", "e__months_to_cycle_end", "e__tenure_years", "e__months_since_move",
    "e__area_per_employee_log", "e__area_growth_log", "e__moves_3y", "e__log_employees",
    "e__events_12m", "e__recent_declines", "e__best_open_stage", "e__fitting_buildings_in_city",
)  # fmt: skip
_EXTRA_PHRASES: dict[str, str] = {
    "e__recent_declines": "近60天婉拒了 {value:.0f} 栋楼宇（正在看房）",
    "e__best_open_stage": "其他楼宇正在与其接洽",
    "e__fitting_buildings_in_city": "同城有 {value:.0f} 栋楼宇可满足其面积需求",
}
TIGHT_M2_PER_EMPLOYEE, ROOMY_M2_PER_EMPLOYEE = 8.0, 40.0
_explainers: weakref.WeakKeyDictionary[MoveHazard, PathExplainer] = weakref.WeakKeyDictionary()


class NoMoveHazardError(ModelNotReadyError):
    """The served model version holds no move hazard (too few movers when it was trained)."""


def _hazard(state: ScoringState) -> MoveHazard:
    hazard = state.vocab.hazard
    if not isinstance(hazard, MoveHazard):
        raise NoMoveHazardError(
            f"model {state.model.version} holds no move hazard (hazard.txt): retention watch "
            "needs one; retrain with hazard_months > 0 on data with enough moves"
        )
    return hazard


def leave_probability(state: ScoringState) -> pd.Series:
    """float64 probability of starting a new tenancy within 12 months per enterprise of the
    state (index enterprise_id), as the serving context computed it; NoMoveHazardError when
    the model has no hazard."""
    _hazard(state)
    ents = state.ctx.enterprises
    return pd.Series(ents["move_hazard"].to_numpy(np.float64), index=ents.index.astype("str"))


def current_tenancies(state: ScoringState) -> pd.DataFrame:
    """Open tenancies as of the state's date, one row per (enterprise, building): the earliest
    start, the summed area (NaN if none given), with ``probability`` of leaving and the area
    used for expected vacancy (``area_m2``, else the firm's estimated space need)."""
    ten = state.snapshot.tenancies
    ten = ten.loc[ten["end_date"].isna(), ["enterprise_id", "building_id", "start_date", "area_m2"]]
    ten = ten.astype({"enterprise_id": "str", "building_id": "str"})
    grouped = ten.groupby(["enterprise_id", "building_id"], as_index=False, sort=False)
    out = grouped.agg(
        start_date=("start_date", "min"), area_m2=("area_m2", lambda s: s.sum(min_count=1))
    )
    ents = state.ctx.enterprises
    need = pd.Series(ents["space_need_m2"].to_numpy(np.float64), index=ents.index.astype("str"))
    prob = leave_probability(state)
    out["probability"] = prob.reindex(out["enterprise_id"]).to_numpy()
    out["expected_area_m2"] = out["area_m2"].fillna(
        pd.Series(need.reindex(out["enterprise_id"]).to_numpy(), index=out.index)
    )
    return out


def at_risk_tenants(state: ScoringState, building_id: str, *, k: int = 10) -> dict[str, Any]:
    """The ``k`` current tenants of ``building_id`` most likely to leave within 12 months, as
    ``{"query", "model_version", "as_of", "horizon_months", "tenants",
    "expected_move_outs", "items"}``; items by probability, highest first. NotFoundError for an
    unknown building, InputError for k outside 1..500."""
    if not 1 <= k <= MAX_AT_RISK:
        raise InputError(f"k={k!r} invalid; allowed: 1 to {MAX_AT_RISK}")
    state.pool.buildings.positions([building_id], kind="building")
    ten = current_tenancies(state)
    ten = ten[ten["building_id"] == str(building_id)]
    ranked = ten.sort_values(["probability", "enterprise_id"], ascending=[False, True]).head(k)
    items = _items(state, ranked)
    return {
        "query": {"building_id": str(building_id), "k": k},
        "model_version": state.model.version,
        "as_of": state.snapshot.as_of.date().isoformat(),
        "horizon_months": HORIZON_MONTHS,
        "tenants": len(ten),
        "expected_move_outs": round(float(ten["probability"].sum()), 2),
        "items": items,
    }


def _items(state: ScoringState, ranked: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row of ``ranked`` (current tenancies) with the firm, lease and reasons."""
    ids = ranked["enterprise_id"].tolist()
    ents = state.snapshot.enterprises
    X = enterprise_features(state.ctx, _hazard(state).inputs).loc[ids]
    reasons = leave_reasons(state, X)
    cycle = enterprise_features(state.ctx, [CYCLE_FEATURE]).loc[ids, CYCLE_FEATURE]
    as_of = state.snapshot.as_of
    starts = [pd.Timestamp(t) for t in ranked["start_date"]]
    areas = ranked["area_m2"].to_numpy(np.float64)
    probabilities = ranked["probability"].to_numpy(np.float64)
    out = []
    for i, enterprise_id in enumerate(ids):
        months = float(cycle.iloc[i])
        lease_end = (as_of + pd.DateOffset(months=int(np.ceil(months)))) if months > 0 else None
        firm = ents.loc[enterprise_id]
        out.append({
            "enterprise_id": enterprise_id,
            "name": str(firm["name"]),
            "industry_code": str(firm["industry_code"]),
            "employees": _int_or_none(firm["employees"]),
            "area_m2": None if np.isnan(areas[i]) else round(float(areas[i]), AREA_DECIMALS),
            "start_date": starts[i].date().isoformat(),
            "tenure_years": round((as_of - starts[i]).days / 365.25, 1),
            "lease_end_estimate": None if lease_end is None else lease_end.date().isoformat(),
            "probability": round(float(probabilities[i]), PROBABILITY_DECIMALS),
            "reasons": reasons[i],
        })  # fmt: skip
    return out


def leave_reasons(state: ScoringState, X: pd.DataFrame) -> list[list[dict[str, Any]]]:
    """Per row of X (the hazard's inputs), up to :data:`TOP_REASONS` features of
    :data:`LEAVE_REASON_FEATURES` that raise the probability most (positive path contribution,
    log-odds), in staff words: ``{"feature", "text", "weight"}``."""
    hazard = _hazard(state)
    explainer = _explainers.get(hazard)
    if explainer is None:
        explainer = _explainers[hazard] = PathExplainer(hazard.boosters[0], num_iteration=None)
    contrib = explainer.contributions(X)[:, :-1]
    names = list(hazard.inputs)
    out: list[list[dict[str, Any]]] = []
    for i in range(len(X)):
        row = {str(name): float(v) for name, v in X.iloc[i].items()}
        found: list[dict[str, Any]] = []
        for j in np.argsort(-contrib[i], kind="stable"):
            if contrib[i, j] <= 0 or len(found) == TOP_REASONS:
                break
            text = _phrase(names[j], row, state=state)
            if text:
                found.append({"feature": names[j], "text": text,
                              "weight": round(float(contrib[i, j]), 4)})  # fmt: skip
        out.append(found)
    return out


def _phrase(name: str, row: dict[str, float], *, state: ScoringState) -> str:
    if name not in LEAVE_REASON_FEATURES:
        return ""
    value = row.get(name, np.nan)
    if name == "e__area_per_employee_log":
        return _space_per_employee(float(np.exp(value))) if np.isfinite(value) else ""
    template = _EXTRA_PHRASES.get(name)
    if template is None:
        return reason_text(name, row, vocab=state.vocab)
    if not np.isfinite(value) or value == 0:
        return ""
    return template.format(value=value)


def _space_per_employee(m2: float) -> str:
    if m2 < TIGHT_M2_PER_EMPLOYEE:
        return f"人均办公面积仅约 {m2:.1f}㎡，空间偏紧"
    if m2 > ROOMY_M2_PER_EMPLOYEE:
        return f"人均办公面积约 {m2:.0f}㎡，空间富余（或在收缩）"
    return f"人均办公面积约 {m2:.0f}㎡"


def outlook(
    state: ScoringState, *, by: str = "building", city: str | None = None,
    district: str | None = None, limit: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Expected move-outs (sum of tenants' probabilities of leaving within 12 months) and the
    vacancy they leave (sum of probability x tenancy area, the firm's space need when the area
    is unknown) per building, district or theme, optionally within one city / district; move-ins
    are not forecast. Rows by expected vacated m², largest first, the first ``limit`` (None:
    all); ``totals`` cover every row."""
    if by not in OUTLOOK_BY:
        raise InputError(f"by={by!r} invalid; allowed: {', '.join(OUTLOOK_BY)}")
    blds = state.snapshot.buildings
    keep = np.ones(len(blds), dtype=bool)
    if city is not None:
        keep &= (blds["city"] == city).to_numpy()
    if district is not None:
        keep &= (blds["district"] == district).to_numpy()
    blds = blds[keep]
    ten = current_tenancies(state)
    ten = ten[ten["building_id"].isin(blds.index.astype("str"))]
    per_building = _per_building(blds, ten)
    rows = _grouped(per_building, by=by)
    return {
        "query": {"by": by, "city": city, "district": district, "limit": limit},
        "model_version": state.model.version,
        "as_of": state.snapshot.as_of.date().isoformat(),
        "horizon_months": HORIZON_MONTHS,
        "totals": _totals(per_building),
        "groups": len(rows),
        "items": rows[:limit],
    }


def _per_building(blds: pd.DataFrame, ten: pd.DataFrame) -> pd.DataFrame:
    """One row per building: place, theme, areas, tenants and the expected outflow."""
    ten = ten.assign(vacated=ten["probability"] * ten["expected_area_m2"])
    flow = ten.groupby("building_id").agg(
        tenants=("enterprise_id", "size"),
        expected_move_outs=("probability", "sum"),
        expected_vacated_m2=("vacated", "sum"),
    )
    out = pd.DataFrame({
        "building_id": blds.index.astype("str"), "name": blds["name"].to_numpy(),
        "city": blds["city"].to_numpy(), "district": blds["district"].to_numpy(),
        "theme": blds["theme"].to_numpy(),
        "total_area_m2": blds["total_area_m2"].to_numpy(np.float64),
        "vacant_area_m2": blds["vacant_area_m2"].to_numpy(np.float64),
    })  # fmt: skip
    flow = flow.reindex(out["building_id"]).fillna(0.0)
    for column in flow.columns:
        out[column] = flow[column].to_numpy()
    return out


_SUMS = ("buildings", "tenants", "expected_move_outs", "expected_vacated_m2", "total_area_m2",
         "vacant_area_m2")  # fmt: skip


def _grouped(per_building: pd.DataFrame, *, by: str) -> list[dict[str, Any]]:
    frame = per_building.assign(buildings=1)
    keys = {"building": ["building_id", "name", "city", "district", "theme"],
            "district": ["city", "district"], "theme": ["theme"]}[by]  # fmt: skip
    grouped = frame.groupby(keys, as_index=False, sort=False)[list(_SUMS)].sum()
    grouped = grouped.sort_values(["expected_vacated_m2", keys[0]], ascending=[False, True])
    out = []
    for record in grouped.to_dict("records"):
        row = {str(key): value for key, value in record.items()}
        item = {key: row[key] for key in keys}
        if "theme" in item:
            item["theme_zh"] = label_zh(str(item["theme"]))
        out.append(item | _figures(row))
    return out


def _totals(per_building: pd.DataFrame) -> dict[str, Any]:
    sums = per_building.assign(buildings=1)[list(_SUMS)].sum()
    return _figures({str(key): value for key, value in sums.items()})


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one outlook row: now and 12 months ahead (no move-ins assumed)."""
    total, vacant = float(row["total_area_m2"]), float(row["vacant_area_m2"])
    vacated = float(row["expected_vacated_m2"])
    ahead = min(total, vacant + vacated)
    return {
        "buildings": int(row["buildings"]),
        "tenants": int(row["tenants"]),
        "expected_move_outs": round(float(row["expected_move_outs"]), 2),
        "expected_vacated_m2": round(vacated, AREA_DECIMALS),
        "total_area_m2": round(total, AREA_DECIMALS),
        "vacant_area_m2": round(vacant, AREA_DECIMALS),
        "vacancy_rate": round(vacant / total, 4) if total > 0 else None,
        "expected_vacant_m2_12m": round(ahead, AREA_DECIMALS),
        "expected_vacancy_rate_12m": round(ahead / total, 4) if total > 0 else None,
    }


def _int_or_none(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)
