"""Why does the plain classifier beat the ranker (issue 19)? An ablation on one demo world.

``python -m benchmarks.plain_ablation default 3000 [history_months]`` builds the world
(``benchmarks.quality.WORLDS``: default or alternative; never a reserved world), fits on the
same windows up to the cut: the ranker, the ranker with the plain set's extra columns (all of
them, or only tenure modulo lease terms), the plain classifier and the plain classifier
without its pipeline or tenure-modulo columns, and prints building->enterprise and
enterprise->building NDCG@10 of each, the hand rule and the ceiling on the same held-out
pools (every feasible pair, as served below 50k enterprises), and each as a share of the
ceiling.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from benchmarks.quality import WORLDS, build_world
from tenantmatch.features import EXTRA_FEATURES, FEATURE_SETS, PLAIN_SET, categorical_features
from tenantmatch.features import FEATURES as RANKER_FEATURES
from tenantmatch.models import Scorer, make_scorer
from tenantmatch.training.config import TrainConfig
from tenantmatch.training.dataset import RankingSet
from tenantmatch.training.evaluate import System
from tenantmatch.training.holdout import ceiling_system, evaluate_holdout
from tenantmatch.training.pipeline import plan_training
from tenantmatch.training.refit import plain_fit_sets, ranker_sets
from tenantmatch.training.splits import earliest_date

log = logging.getLogger("benchmarks.plain_ablation")
B2E, E2B = "building_to_enterprise", "enterprise_to_building"
PLUS = "ranker_plus"  # the ranker's columns and the plain set's extra ones, for one X
PIPELINE = ("pair__days_since_event_180d", "pair__last_stage_180d", "e__courting_buildings")


def _system(name: str, scorer: Scorer, features: str) -> System:
    return System(name, lambda X, pairs, d: scorer.score(X), features=features)


def _fit(
    kind: str, train: RankingSet, valid: RankingSet, cols: list[str], cats: list[str]
) -> Scorer:
    scorer = make_scorer(kind, categorical_features=tuple(c for c in cats if c in cols))
    return scorer.fit(train.X[cols], train.y, group=train.group, X_valid=valid.X[cols],
                      y_valid=valid.y, group_valid=valid.group)  # fmt: skip


def run(world_name: str, *, enterprises: int, history_months: int) -> dict[str, Any]:
    """The ablation's NDCG@10 per system and direction on one world."""
    world = next(w for w in WORLDS if w.name == world_name)
    tables, truth = build_world(world, root=Path("benchmarks/work/plain_ablation") / world_name,
                                enterprises=enterprises)  # fmt: skip
    ranker = [f.name for f in RANKER_FEATURES]
    extra = [f.name for f in EXTRA_FEATURES]
    FEATURE_SETS[PLUS] = (*ranker, *extra)
    config = TrainConfig(ranker_features=PLUS, history_months=history_months, max_queries=150)
    registry, split, vocab = plan_training(tables, config=config)
    served, sets = ranker_sets(registry, split, vocab=vocab, config=config, progress=False)
    train, valid = RankingSet.concat(sets[:-1]).only(B2E), sets[-1].only(B2E)
    cats = categorical_features(PLUS)
    tenure = [c for c in extra if "tenure" in c]
    systems = [
        _system("ranker", _fit("lightgbm", train, valid, ranker, cats), PLUS),
        _system("ranker+extra", _fit("lightgbm", train, valid, ranker + extra, cats), PLUS),
        _system("ranker+tenure", _fit("lightgbm", train, valid, ranker + tenure, cats), PLUS),
        _system(
            "hand_rule", make_scorer("hand_rule").fit(train.X, train.y, group=train.group), PLUS
        ),
    ]
    psets, _ = plain_fit_sets(registry, split.cut, earliest=earliest_date(tables), vocab=served,
                              config=config)  # fmt: skip
    ptrain, pvalid = RankingSet.concat(psets[:-1]), psets[-1]
    plain, pcats = list(FEATURE_SETS[PLAIN_SET]), categorical_features(PLAIN_SET)
    variants = {
        "plain": plain,
        "plain-pipeline": [c for c in plain if c not in PIPELINE],
        "plain-tenure_mod": [c for c in plain if "tenure_mod" not in c],
    }
    for name, cols in variants.items():
        scorer = _fit("lightgbm_binary", ptrain, pvalid, cols, pcats)
        systems.append(_system(name, scorer, PLAIN_SET))
    systems.append(ceiling_system(tables, split, truth))
    metrics = evaluate_holdout(registry, split, systems=systems, vocab=served, max_queries=150,
                               seed=0, limits=None, progress=False).metrics  # fmt: skip
    ndcg = metrics[metrics["metric"].eq("ndcg@10")]
    out: dict[str, Any] = {"world": world_name, "enterprises": enterprises}
    for d in (B2E, E2B):
        values = ndcg[ndcg["direction"].eq(d)].set_index("system")["value"]
        out[d] = {k: round(float(v), 4) for k, v in values.items()}
        out[f"{d}_share"] = {k: round(float(v / values["ceiling"]), 3) for k, v in values.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", choices=[w.name for w in WORLDS])
    parser.add_argument("enterprises", type=int)
    parser.add_argument("history_months", type=int, nargs="?", default=24)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()
    result = run(args.world, enterprises=args.enterprises, history_months=args.history_months)
    result["seconds"] = round(time.perf_counter() - start)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
