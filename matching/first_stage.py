"""How many candidates per building query the first stage hands the model (M), decided when a
model is trained and recorded in its manifest (``first_stage``): on a small registry every
feasible pair is scored; on a larger one M is raised until the first stage keeps at least
``TARGET_OVERLAP`` of the full scan's top 50 on a sample of buildings."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tenantmatch.features import Vocabulary, context_for
from tenantmatch.matching.candidates import CandidatePool
from tenantmatch.matching.shortlist import ScoringState, shortlist_for_buildings
from tenantmatch.models import LoadedModel, Prescorer, Scorer
from tenantmatch.registry import Snapshot

logger = logging.getLogger(__name__)

FIRST_STAGE_KEY = "first_stage"  # manifest key
FULL_SCAN_BELOW = 50_000  # enterprises: below this, scoring every feasible pair is cheap
TARGET_OVERLAP = 0.95
TOP = 50
M_STEPS = (1000, 1500, 2000, 3000, 5000, 8000, 12_000, 20_000, 50_000)
SAMPLE_BUILDINGS = 20


def served_building_m(manifest: Mapping[str, Any], *, default: int | None) -> int | None:
    """M for building queries as the model's manifest records it (None: every feasible pair),
    ``default`` for a model stored without a first-stage plan."""
    plan = manifest.get(FIRST_STAGE_KEY)
    if not isinstance(plan, Mapping) or "building_m" not in plan:
        return default
    m = plan["building_m"]
    return None if m is None else int(m)


def _state(
    snapshot: Snapshot, scorer: Scorer, *, vocab: Vocabulary, manifest: dict[str, Any],
    prescorer: Prescorer,
) -> ScoringState:  # fmt: skip
    ctx = context_for(snapshot, vocab=vocab)
    pool = CandidatePool.from_snapshot(snapshot, need_m2=ctx.enterprises["space_need_m2"])
    model = LoadedModel(version="candidate", scorer=scorer, manifest=manifest)
    return ScoringState(snapshot=snapshot, ctx=ctx, vocab=vocab, model=model, pool=pool,
                        prescorer=prescorer, prescore=prescorer.build_index(ctx))  # fmt: skip


def _top_ids(state: ScoringState, ids: Sequence[str], *, m: int | None) -> list[set[str]]:
    answers = shortlist_for_buildings(state, ids, k=TOP, max_scored=m)
    return [{item["enterprise_id"] for item in a["items"]} for a in answers]


def top_overlap(full: list[set[str]], staged: list[set[str]]) -> float:
    """Mean share of each full-scan top list kept by the staged one (queries with an empty
    full list are skipped; 1.0 when all are empty)."""
    shares = [len(f & s) / len(f) for f, s in zip(full, staged, strict=True) if f]
    return float(np.mean(shares)) if shares else 1.0


def plan_first_stage(
    snapshot: Snapshot,
    scorer: Scorer,
    *,
    vocab: Vocabulary,
    manifest: dict[str, Any],
    prescorer: Prescorer,
    full_scan_below: int = FULL_SCAN_BELOW,
    sample: int = SAMPLE_BUILDINGS,
    seed: int = 0,
) -> dict[str, Any]:
    """The first-stage plan of a model (``manifest``: its feature names and set): every
    feasible pair below ``full_scan_below`` enterprises, else the smallest M of
    :data:`M_STEPS` whose top-50 overlap with the full scan on ``sample`` random buildings is
    at least :data:`TARGET_OVERLAP` (the largest tried if none is)."""
    n = len(snapshot.enterprises)
    if n < full_scan_below:
        why = f"{n} enterprises < {full_scan_below}: every feasible pair is scored"
        return {"building_m": None, "full_scan": True, "enterprises": n, "why": why}
    state = _state(snapshot, scorer, vocab=vocab, manifest=manifest, prescorer=prescorer)
    ids = state.pool.buildings.ids
    rng = np.random.default_rng(seed)
    picked = [str(ids[i]) for i in np.sort(rng.choice(len(ids), min(sample, len(ids)), False))]
    full = _top_ids(state, picked, m=None)
    tried: dict[str, float] = {}
    m = M_STEPS[-1]
    for m in M_STEPS:
        tried[str(m)] = top_overlap(full, _top_ids(state, picked, m=m))
        if tried[str(m)] >= TARGET_OVERLAP:
            break
    logger.info("first stage: M = %d keeps %.3f of the full scan's top %d", m, tried[str(m)], TOP)
    return {"building_m": int(m), "full_scan": False, "enterprises": n,
            f"overlap@{TOP}": tried[str(m)], "tried": tried, "sampled_buildings": len(picked),
            "target": TARGET_OVERLAP}  # fmt: skip
