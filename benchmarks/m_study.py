"""How M, the candidates a building query hands the ranker, trades quality at one world size:
``python -m benchmarks.m_study --size 1000000 [--queries 40] [--ndcg-queries 30]``.

For each M: the top-50 overlap with the full scan (the engine as of the world's date) and
NDCG@10 on the evaluation year (an engine as of the training cut), on the same queries for every
M. Writes ``benchmarks/results/m-study-<size>.json``. Quality only: latency per M is in the
latency stage's ``m_sweep``.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.latency import _sample, engine_at_cut, ndcg_by_m, overlap
from tenantmatch.matching import Engine
from tenantmatch.matching.shortlist import shortlist_for_buildings
from tenantmatch.store import Repository

WORK = Path("benchmarks/work")
RESULTS = Path("benchmarks/results")
MS = (750, 1000, 1500, 2000, 3000)


def study(size: int, *, queries: int, ndcg_queries: int, as_of: date) -> dict[str, Any]:
    """Overlap and NDCG@10 per M for world ``n<size>`` (its database and model store)."""
    folder = WORK / f"n{size}"
    repo = Repository(f"sqlite:///{(folder / 'db.sqlite').resolve()}")
    engine = Engine(repo, folder / "models", as_of=as_of, compile_trees=False)
    state = engine.state()
    ids = _sample(state.pool.buildings.ids, queries, seed=1)
    full = [shortlist_for_buildings(state, [b], k=50, max_scored=None)[0] for b in ids]
    overlaps = {}
    for m in MS:
        two = [shortlist_for_buildings(state, [b], k=50, max_scored=m)[0] for b in ids]
        overlaps[str(m)] = overlap(two, full, key="enterprise_id")
    del engine, state
    gc.collect()
    engine, labels, _ = engine_at_cut(repo, folder / "models", compile_trees=False)
    ndcg = ndcg_by_m(engine.state(), labels, n_queries=ndcg_queries, k=50, ms=(*MS, None), seed=0)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return {
        "size": size,
        "model": engine.state().model.version,
        "code": head.stdout.strip(),
        "overlap_queries": len(ids),
        "top50_overlap": overlaps,
        "ndcg_queries": ndcg["queries"],
        "ndcg@10": {("full_scan" if m is None else str(m)): v for m, v in ndcg["ndcg@10"].items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the study and write its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--ndcg-queries", type=int, default=30)
    parser.add_argument("--as-of", default="2026-10-31")
    args = parser.parse_args(argv)
    result = study(args.size, queries=args.queries, ndcg_queries=args.ndcg_queries,
                   as_of=date.fromisoformat(args.as_of))  # fmt: skip
    path = RESULTS / f"m-study-{args.size}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
