"""How far the ranker's seed alone moves its quality: ``python -m benchmarks.seed_study``.

Builds a demo world of ``benchmarks.quality`` (same seeds and preference weights), fits the
served ranker once per seed on one training set (``training.seed_study``) and writes
``benchmarks/results/seeds_<world>.json``: per seed the building->enterprise NDCG@10 and its
share of the ceiling on the chosen pools, and their mean, min and max. A change to features or
parameters counts only when it moves the mean by more than that spread, on both worlds.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from typing import Any

from benchmarks.quality import METRIC, RESULTS, WORK, WORLDS, build_world
from tenantmatch.training import DIRECTIONS, metric_value, seed_study

log = logging.getLogger("benchmarks.seed_study")


def run(
    world_name: str, *, seeds: list[int], limit: int | None, enterprises: int
) -> dict[str, Any]:
    """The JSON-ready study of one world."""
    world = next(w for w in WORLDS if w.name == world_name)
    start = time.perf_counter()
    tables, truth = build_world(world, root=WORK / world.name, enterprises=enterprises)
    metrics = seed_study(tables, truth_dir=truth, seeds=seeds, building_limit=limit)
    direction = DIRECTIONS[0].name
    ceiling = metric_value(metrics, system="ceiling", direction=direction, metric=METRIC)
    per_seed = {}
    for seed in seeds:
        value = metric_value(metrics, system=f"seed{seed}", direction=direction, metric=METRIC)
        per_seed[str(seed)] = {"ndcg@10": value, "vs_ceiling": value / ceiling}
    shares = [v["vs_ceiling"] for v in per_seed.values()]
    return {
        "world": world.name,
        "enterprises": enterprises,
        "pools": "every feasible pair" if limit is None else f"M = {limit}",
        "ceiling": ceiling,
        "seeds": per_seed,
        "vs_ceiling": {"mean": statistics.fmean(shares), "min": min(shares), "max": max(shares)},
        "seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=[w.name for w in WORLDS])
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated ranker seeds")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="enterprises per building query (default: every feasible pair)",
    )
    parser.add_argument("--enterprises", type=int, default=20_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    seeds = [int(s) for s in args.seeds.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.worlds:
        result = run(name, seeds=seeds, limit=args.limit, enterprises=args.enterprises)
        out = RESULTS / f"seeds_{name}.json"
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        spread = result["vs_ceiling"]
        log.info("%s: share of the ceiling %.3f (%.3f-%.3f) -> %s", name, spread["mean"],
                 spread["min"], spread["max"], out)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
