"""Chain leads (以商招商): enterprises linked to a building's current tenants, ranked by fit.

A lead is an upstream supplier, downstream customer, investor, investee or partner of a current
tenant (links as of the engine's snapshot) who is not a tenant of the building itself and passes
the same business rules as a shortlist (risk, space fit, filters; ``matching.candidates``).
Each lead is scored by the serving model for (building, lead) and carries its top reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.features import FeatureContext, build_matrix
from tenantmatch.matching.candidates import Pairs, PoolRules
from tenantmatch.matching.engine import Engine
from tenantmatch.matching.reasons import top_reasons
from tenantmatch.matching.rules import risk_warnings
from tenantmatch.matching.shortlist import SCORE_DECIMALS, ScoringState, check_k, declined_on
from tenantmatch.registry import PARTNER_DIRECTIONS

logger = logging.getLogger(__name__)

MISSING_WEIGHT = 1.0  # a link without weight counts fully, as in the features package
LINK_COLUMNS = ("enterprise", "tenant", "relation", "direction", "weight")


def chain_leads(
    engine: Engine, building_id: str, *, k: int = 20, rules: PoolRules | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The k best chain leads of ``building_id`` as ``{"query", "model_version", "tenants",
    "items"}``; each item names the tenant it comes through (its strongest link) and lists every
    link in ``links``. NotFoundError for an unknown building. ``as_of``: the registry as it
    stood that day (default: the engine's date)."""
    k, rules = check_k(k), rules or PoolRules()
    state = engine.state(as_of=as_of)
    b_pos = int(state.pool.buildings.positions([building_id], kind="building")[0])
    tenants = state.pool.tenants_of.get(b_pos, np.empty(0, dtype=np.int64))
    links = tenant_links(state, tenants)
    eligible = state.pool.pairs_for_buildings(np.array([b_pos]), rules=rules).enterprise
    links = links[links["enterprise"].isin(eligible)]
    items = _items(state, b_pos, links, k=k, rules=rules)
    logger.info("chain leads of %s: %d linked candidates, %d kept", building_id,
                links["enterprise"].nunique(), len(items))  # fmt: skip
    return {
        "query": {"building_id": str(building_id)},
        "model_version": state.model.version,
        "tenants": len(tenants),
        "items": items,
    }


def tenant_links(state: ScoringState, tenants: np.ndarray) -> pd.DataFrame:
    """Links of ``tenants`` (enterprise positions) to enterprises outside that set, one row per
    (partner, tenant, relation): pool positions, the partner's direction, weight (NaN = none)."""
    ids = state.pool.enterprises.ids
    links = state.snapshot.links
    src = ids.get_indexer(pd.Index(links["source_id"].astype("str")))
    tgt = ids.get_indexer(pd.Index(links["target_id"].astype("str")))
    weight = links["weight"].to_numpy(dtype=np.float64, na_value=np.nan)
    relation = links["relation"].to_numpy(dtype=object)
    parts = []
    for side, (tenant, other) in enumerate(((src, tgt), (tgt, src))):
        keep = np.isin(tenant, tenants) & ~np.isin(other, tenants) & (other >= 0)
        direction = [PARTNER_DIRECTIONS.get(r, ("partner", "partner"))[side]
                     for r in relation[keep]]  # fmt: skip
        parts.append(pd.DataFrame({"enterprise": other[keep], "tenant": tenant[keep],
                                   "relation": relation[keep], "direction": direction,
                                   "weight": weight[keep]}))  # fmt: skip
    out = pd.concat(parts, ignore_index=True)
    return out.drop_duplicates(["enterprise", "tenant", "relation", "direction"])


def score_pairs(
    state: ScoringState, pairs: Pairs, *, ctx: FeatureContext | None = None, explain: bool = True,
    declined: list[str | None] | None = None,
) -> tuple[np.ndarray, list[list[dict[str, object]]]]:  # fmt: skip
    """Model scores (float64, one per pair) and, if ``explain``, the top reasons of each pair
    (all pairs one list; ``declined``: their decline dates, see ``top_reasons``); ``ctx``
    defaults to the state's feature context (pass another for a counterfactual)."""
    if len(pairs) == 0:
        return np.empty(0), []
    ctx = state.ctx if ctx is None else ctx
    X = build_matrix(state.pool.pair_frame(pairs), ctx, vocab=state.vocab, features=state.features)
    scores = np.asarray(state.model.scorer.score(X), dtype=np.float64)
    contributions = getattr(state.model.scorer, "contributions", None)
    if not explain or contributions is None:
        return scores, [[] for _ in range(len(pairs))]
    aligned = X[state.model.manifest["feature_names"]]
    reasons = top_reasons(contributions(aligned), aligned, vocab=state.vocab, declined_on=declined)
    return scores, reasons


def _items(
    state: ScoringState, b_pos: int, links: pd.DataFrame, *, k: int, rules: PoolRules
) -> list[dict[str, Any]]:
    """One item per linked enterprise, best fit first (ties: stronger link, then registry
    order), reasons computed for the kept k only."""
    strength = links.assign(strength=links["weight"].fillna(MISSING_WEIGHT))
    strongest = strength.sort_values(["enterprise", "strength"], ascending=[True, False],
                                     kind="stable").drop_duplicates("enterprise")  # fmt: skip
    leads = strongest["enterprise"].to_numpy(dtype=np.int64)
    pairs = Pairs.of([leads], fixed=np.array([b_pos]), fixed_is_building=True)
    scores, _ = score_pairs(state, pairs, explain=False)
    order = np.lexsort((leads, -strongest["strength"].to_numpy(), -scores))[:k]
    kept = Pairs.of([leads[order]], fixed=np.array([b_pos]), fixed_is_building=True)
    declined = declined_on(state, kept)
    _, reasons = score_pairs(state, kept, declined=declined)
    # a recent decline goes after the other leads (``matching.rules``), flagged
    last = np.argsort(np.array([d is not None for d in declined], dtype=bool), kind="stable")
    rows = strongest.iloc[order].to_dict("records")
    items = []
    for rank, j in enumerate(last.tolist(), start=1):
        i, row = order[j], rows[j]
        item = _item(state, rank, row, float(scores[i]), reasons[j], strength, rules=rules)
        if declined[j] is not None:
            item["declined_on"] = declined[j]
        items.append(item)
    return items


def _item(
    state: ScoringState,
    rank: int,
    row: Mapping[Hashable, Any],
    score: float,
    reasons: list[dict[str, object]],
    links: pd.DataFrame,
    *,
    rules: PoolRules,
) -> dict[str, Any]:
    side = state.pool.enterprises
    e = int(row["enterprise"])
    mine = links[links["enterprise"] == e].sort_values("strength", ascending=False, kind="stable")
    item: dict[str, Any] = {
        "rank": rank,
        "enterprise_id": str(side.ids[e]),
        "name": side.names[e],
        **_link_fields(state, row),
        "score": round(score, SCORE_DECIMALS),
        "reasons": reasons,
        "links": [_link_fields(state, r) for r in mine.to_dict("records")],
    }
    if rules.include_risky:
        flags, credit = state.pool.risk_flags[e], float(state.pool.credit_score[e])
        item["risk_warnings"] = risk_warnings(flags, credit_score=credit)
    return item


def _link_fields(state: ScoringState, row: Mapping[Hashable, Any]) -> dict[str, Any]:
    side = state.pool.enterprises
    tenant = int(row["tenant"])
    weight = row["weight"]
    return {
        "via_tenant_id": str(side.ids[tenant]),
        "via_tenant_name": side.names[tenant],
        "relation": str(row["relation"]),
        "direction": str(row["direction"]),
        "weight": None if pd.isna(weight) else float(weight),
    }
