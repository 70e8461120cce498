"""Tower planning for operators: how much demand each specialty theme would bring a building,
and a fill plan of enterprises for its vacant space.

Probabilities. When the model manifest holds ``calibration`` ``{"a", "b"}`` (a Platt fit), a
score ``s`` becomes ``p = 1 / (1 + exp(-(a * s + b)))``, an absolute chance of signing. Without
it, scores become *rank-based softmax* probabilities: ``p_i = exp(s_i) / sum_j exp(s_j)`` over a
reference set (Plackett-Luce top-one probabilities: the chance that candidate i is the one who
signs if exactly one of the set does; lambdarank scores are log-odds of pairwise preference, so
this is their natural scale). These are shares, not counts: ``probability_kind`` says which.

Theme fit (counterfactual). For each of the 10 contract themes the building's theme is replaced
in the snapshot, the feature context rebuilt through the features package, and the regional pool
(feasible candidates in the building's city) re-scored. ``expected_signings`` is the sum of the
probabilities of the top ``pool_size`` candidates; without calibration the reference set is every
(theme, candidate) pair at once, so the themes' values are shares of one signing that compare.

Fill plan (0-1 knapsack, solved exactly as a MILP by HiGHS through ``scipy.optimize.milp``).
Over the top ``candidates`` by fit, with ``x_i`` in {0, 1}, area ``a_i = max(need_i, min_unit)``,
probability ``p_i`` and vacant area ``A``::

    maximise   sum_i x_i * (p_i / mean(p) + chain_bonus * c_i + AREA_WEIGHT * a_i / A)
    subject to sum_i x_i * a_i <= A

``p_i / mean(p)`` is the fit relative to an average candidate (so the other terms keep their
meaning whether or not the model is calibrated). ``c_i`` is chain synergy, linearised per
candidate: the link weights (missing = 1) to current tenants plus half the link weights to other
candidates (a pair's synergy is shared by its two ends, and counted as if the partner is chosen).
The small area term prefers plans that use the space when fits are close. Candidates with an
unknown need are left out: their area cannot be planned.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from tenantmatch.features import FeatureContext, context_for
from tenantmatch.matching.candidates import Pairs, PoolRules
from tenantmatch.matching.chain import MISSING_WEIGHT, score_pairs
from tenantmatch.matching.details import calibrated
from tenantmatch.matching.engine import Engine
from tenantmatch.matching.shortlist import SCORE_DECIMALS, ScoringState
from tenantmatch.registry import InputError, Theme, area_taken_m2, label_zh

logger = logging.getLogger(__name__)

THEMES: tuple[str, ...] = tuple(t.value for t in Theme)
TOP_MEAN = 20  # candidates whose mean score theme_fit reports
AREA_WEIGHT = 0.25  # objective weight of a candidate that fills the whole vacancy
MILP_TIME_LIMIT_S = 20.0
MAX_CANDIDATES = 2000
DECIMALS = 4


# -- probabilities ------------------------------------------------------------------------------


def probabilities(scores: np.ndarray, *, manifest: Mapping[str, Any]) -> tuple[np.ndarray, str]:
    """Probabilities of ``scores`` (float64 (n,)) and their kind: ``"platt"`` from the manifest's
    ``calibration``, else ``"rank_softmax"`` over all of ``scores`` (they sum to 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    platt = calibrated(scores, manifest=manifest)
    if platt is not None:
        return platt, "platt"
    if len(scores) == 0:
        return scores, "rank_softmax"
    weights = np.exp(scores - scores.max())
    return weights / weights.sum(), "rank_softmax"


# -- counterfactual theme -----------------------------------------------------------------------


def theme_context(state: ScoringState, building_id: str, theme: str) -> FeatureContext:
    """The feature context of the state's snapshot with ``building_id``'s theme set to
    ``theme`` (the state's own context when that is already its theme)."""
    snapshot = state.snapshot
    if snapshot.buildings.at[building_id, "theme"] == theme:
        return state.ctx
    buildings = snapshot.buildings.copy()
    buildings.loc[building_id, "theme"] = theme
    changed = dataclasses.replace(snapshot, buildings=buildings, _contexts={})
    return context_for(changed, vocab=state.vocab)


def _check_theme(theme: str) -> str:
    if theme not in THEMES:
        raise InputError(f"theme {theme!r} is unknown; allowed: {', '.join(THEMES)}")
    return theme


def _building(state: ScoringState, building_id: str) -> int:
    return int(state.pool.buildings.positions([building_id], kind="building")[0])


# -- theme fit ----------------------------------------------------------------------------------


def theme_fit(engine: Engine, building_id: str, *, pool_size: int = 2000) -> dict[str, Any]:
    """Expected demand of ``building_id`` under each of the 10 themes, best first: regional pool
    re-scored with the theme replaced (see the module docstring). NotFoundError for an unknown
    building; ``pool_size`` in 1..MAX_CANDIDATES*10."""
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise InputError(f"pool_size={pool_size!r} invalid; allowed: an integer >= 1")
    state = engine.state()
    b_pos = _building(state, building_id)
    city = state.snapshot.buildings.at[building_id, "city"]
    rules = PoolRules(cities=frozenset({city}) if isinstance(city, str) else frozenset())
    pairs = state.pool.pairs_for_buildings(np.array([b_pos]), rules=rules)
    scores = np.stack([_theme_scores(state, building_id, pairs, t) for t in THEMES])
    probs, kind = probabilities(scores.ravel(), manifest=state.model.manifest)
    probs = probs.reshape(scores.shape)
    current = str(state.snapshot.buildings.at[building_id, "theme"])
    rows = [_theme_row(t, scores[i], probs[i], pool_size=pool_size, current=current)
            for i, t in enumerate(THEMES)]  # fmt: skip
    rows.sort(key=lambda r: (-r["expected_signings"], THEMES.index(r["theme"])))
    return {
        "query": {"building_id": str(building_id)},
        "model_version": state.model.version,
        "current_theme": current,
        "pool": {"city": city, "candidates": len(pairs), "pool_size": pool_size},
        "probability_kind": kind,
        "themes": rows,
    }


def _theme_scores(state: ScoringState, building_id: str, pairs: Pairs, theme: str) -> np.ndarray:
    ctx = theme_context(state, building_id, theme)
    scores, _ = score_pairs(state, pairs, ctx=ctx, explain=False)
    return scores


def _theme_row(
    theme: str, scores: np.ndarray, probs: np.ndarray, *, pool_size: int, current: str
) -> dict[str, Any]:
    order = np.argsort(-scores, kind="stable")
    top = order[:pool_size]
    mean_top = float(scores[order[:TOP_MEAN]].mean()) if len(order) else None
    return {
        "theme": theme,
        "label_zh": label_zh(theme),
        "current": theme == current,
        "expected_signings": round(float(probs[top].sum()), DECIMALS),
        "mean_top20_score": None if mean_top is None else round(mean_top, SCORE_DECIMALS),
    }


# -- fill plan ----------------------------------------------------------------------------------


def fill_plan(
    engine: Engine,
    building_id: str,
    *,
    candidates: int = 300,
    theme: str | None = None,
    chain_bonus: float = 0.2,
    rules: PoolRules | None = None,
) -> dict[str, Any]:
    """Enterprises whose areas together fit the building's vacancy, maximising expected fit,
    chain synergy and space used (0-1 knapsack MILP, see the module docstring). ``theme`` plans
    under a counterfactual theme. An empty pool gives an empty plan."""
    _check_plan_args(candidates, chain_bonus)
    state = engine.state()
    b_pos = _building(state, building_id)
    if theme is None:
        theme = str(state.snapshot.buildings.at[building_id, "theme"])
    ctx = theme_context(state, building_id, _check_theme(theme))
    vacant, unit = _space(state, b_pos)
    pool = _plan_pool(state, b_pos, ctx=ctx, rules=rules or PoolRules(), top=candidates)
    pool["area_m2"] = area_taken_m2(pool["need_m2"].to_numpy(), min_unit_m2=unit)
    probs, kind = probabilities(pool["score"].to_numpy(), manifest=state.model.manifest)
    pool["probability"] = probs
    pool["chain"] = _chain_synergy(state, b_pos, pool["enterprise"].to_numpy())
    chosen, terms = _solve(pool, vacant=vacant, chain_bonus=chain_bonus)
    plan = pool.iloc[chosen].sort_values("score", ascending=False, kind="stable")
    return _plan_result(
        state, building_id, plan, b_pos=b_pos, ctx=ctx, vacant=vacant, unit=unit,
        theme=theme, kind=kind, terms=terms, considered=len(pool),
    )  # fmt: skip


def _check_plan_args(candidates: int, chain_bonus: float) -> None:
    if isinstance(candidates, bool) or not isinstance(candidates, int):
        raise InputError(f"candidates={candidates!r} invalid; allowed: 1..{MAX_CANDIDATES}")
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise InputError(f"candidates={candidates} invalid; allowed: 1..{MAX_CANDIDATES}")
    if not (math.isfinite(chain_bonus) and chain_bonus >= 0):
        raise InputError(f"chain_bonus={chain_bonus!r} invalid; allowed: a finite number >= 0")


def _space(state: ScoringState, b_pos: int) -> tuple[float, float]:
    """Vacant area and min unit (0 when any size lets) of the building, m²."""
    vacant = float(np.nan_to_num(state.pool.vacant_m2[b_pos], nan=0.0))
    unit = float(np.nan_to_num(state.pool.min_unit_m2[b_pos], nan=0.0))
    return max(vacant, 0.0), unit


def _plan_pool(
    state: ScoringState, b_pos: int, *, ctx: FeatureContext, rules: PoolRules, top: int
) -> pd.DataFrame:
    """The ``top`` candidates by score with a known need: enterprise position, need, score."""
    pairs = state.pool.pairs_for_buildings(np.array([b_pos]), rules=rules)
    need = state.pool.need_m2[pairs.enterprise]
    known = np.isfinite(need) & (need > 0)
    pairs = Pairs(pairs.query[known], pairs.building[known], pairs.enterprise[known])
    scores, _ = score_pairs(state, pairs, ctx=ctx, explain=False)
    order = np.lexsort((pairs.enterprise, -scores))[:top]
    return pd.DataFrame({"enterprise": pairs.enterprise[order], "need_m2": need[known][order],
                         "score": scores[order]})  # fmt: skip


def _chain_synergy(state: ScoringState, b_pos: int, chosen: np.ndarray) -> np.ndarray:
    """Per candidate: link weight to current tenants + half the link weight to other candidates
    (missing weight = 1); float64 aligned to ``chosen``."""
    if len(chosen) == 0:
        return np.empty(0)
    ids = state.pool.enterprises.ids
    links = state.snapshot.links
    a = ids.get_indexer(pd.Index(links["source_id"].astype("str")))
    b = ids.get_indexer(pd.Index(links["target_id"].astype("str")))
    w = links["weight"].fillna(MISSING_WEIGHT).to_numpy(dtype=np.float64)
    tenants = state.pool.tenants_of.get(b_pos, np.empty(0, dtype=np.int64))
    out = pd.Series(0.0, index=pd.Index(chosen))
    for own, other in ((a, b), (b, a)):
        mine = np.isin(own, chosen)
        to_tenant = mine & np.isin(other, tenants)
        to_candidate = mine & np.isin(other, chosen) & (own != other)
        out = out.add(pd.Series(w[to_tenant], index=own[to_tenant]).groupby(level=0).sum(),
                      fill_value=0.0)  # fmt: skip
        half = pd.Series(0.5 * w[to_candidate], index=own[to_candidate]).groupby(level=0).sum()
        out = out.add(half, fill_value=0.0)
    return out.reindex(chosen).to_numpy(dtype=np.float64)


def _solve(
    pool: pd.DataFrame, *, vacant: float, chain_bonus: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Rows of ``pool`` the knapsack MILP chooses and the objective's terms at that choice."""
    terms = {"fit": 0.0, "chain": 0.0, "area": 0.0, "total": 0.0}
    area = pool["area_m2"].to_numpy(dtype=np.float64)
    if len(pool) == 0 or vacant <= 0:
        return np.empty(0, dtype=np.int64), terms
    p = pool["probability"].to_numpy()
    parts = {
        "fit": p / p.mean() if p.mean() > 0 else np.zeros_like(p),
        "chain": chain_bonus * pool["chain"].to_numpy(),
        "area": AREA_WEIGHT * area / vacant,
    }
    value = parts["fit"] + parts["chain"] + parts["area"]
    result = milp(
        c=-value,
        integrality=np.ones(len(pool)),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(area[np.newaxis, :], -np.inf, vacant),
        options={"time_limit": MILP_TIME_LIMIT_S},
    )
    if result.x is None:
        raise InputError(f"the fill plan could not be solved: {result.message}")
    chosen = np.flatnonzero(result.x > 0.5)
    terms = {name: round(float(v[chosen].sum()), DECIMALS) for name, v in parts.items()}
    terms["total"] = round(float(value[chosen].sum()), DECIMALS)
    logger.info("fill plan: %s, %d of %d chosen", result.message, len(chosen), len(pool))
    return chosen, terms


def _plan_result(
    state: ScoringState,
    building_id: str,
    plan: pd.DataFrame,
    *,
    b_pos: int,
    ctx: FeatureContext,
    vacant: float,
    unit: float,
    theme: str,
    kind: str,
    terms: Mapping[str, float],
    considered: int,
) -> dict[str, Any]:
    total = float(plan["area_m2"].sum())
    return {
        "query": {"building_id": str(building_id)},
        "model_version": state.model.version,
        "theme": theme,
        "probability_kind": kind,
        "vacant_area_m2": round(vacant, 2),
        "min_unit_m2": round(unit, 2) if unit > 0 else None,
        "total_area_m2": round(total, 2),
        "fill_ratio": round(total / vacant, DECIMALS) if vacant > 0 else None,
        "expected_signings": round(float(plan["probability"].sum()), DECIMALS),
        "candidates_considered": considered,
        "objective": dict(terms),
        "items": _plan_items(state, plan, b_pos=b_pos, ctx=ctx),
    }


def _plan_items(
    state: ScoringState, plan: pd.DataFrame, *, b_pos: int, ctx: FeatureContext
) -> list[dict[str, Any]]:
    """Plan rows as items, best fit first, with the reasons of each pair under ``ctx``."""
    side = state.pool.enterprises
    enterprises = plan["enterprise"].to_numpy(dtype=np.int64)
    pairs = Pairs.of([enterprises], fixed=np.array([b_pos]), fixed_is_building=True)
    _, reasons = score_pairs(state, pairs, ctx=ctx)
    return [
        {
            "rank": rank,
            "enterprise_id": str(side.ids[e]),
            "name": side.names[e],
            "area_m2": round(float(row["area_m2"]), 2),
            "need_m2": round(float(row["need_m2"]), 2),
            "probability": round(float(row["probability"]), 6),
            "score": round(float(row["score"]), SCORE_DECIMALS),
            "chain_synergy": round(float(row["chain"]), DECIMALS),
            "reasons": reasons[rank - 1],
        }
        for rank, (e, row) in enumerate(zip(enterprises, plan.to_dict("records"), strict=True), 1)
    ]
