"""Retention watch quality (issue 22 item 7): does the at-risk list name next year's move-outs?

``python -m benchmarks.retention`` takes named worlds of the demo suite (each simulated 12 months
past its end date), shrunk to ``--enterprises``; per world it imports the registry as of the end
date, trains and publishes with the project's pipeline (which fits the move hazard), serves it
with an ``Engine`` on the end date and scores every current tenancy with
``matching.current_tenancies`` (the probabilities ``GET /v1/buildings/{id}/at-risk-tenants``
ranks by). The truth is the registry one year on (``with_hidden_months``: the tenancies the
world recorded after its end, as a later import would bring them); no feature reads it, nor the
generator's hidden state. A tenancy *moved out* when its (enterprise, building) tenancy open at
the end date has an end date within the 12 months after.

Per world: AUC (``sklearn.metrics.roc_auc_score``), the share of the year's move-outs named by
the top 10 % / 20 % of the ranked list (recall) and its lift over a random list (recall / share
listed), the same within each building (each building's top 20 % of tenants), expected vs
actual move-outs (the outlook's sum of probabilities), and two simple references ranked the
same way: tenure (longest first) and the lease-end feature ``e__lease_end_12m``.
Results: ``benchmarks/results/retention_<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tenantmatch.features import enterprise_features
from tenantmatch.matching import HORIZON_MONTHS, Engine, current_tenancies
from tenantmatch.store import Repository, import_dataset
from tenantmatch.training import TrainConfig, train_and_publish
from tenantmatch.training.demo import SuiteWorld, generate_world, suite_world, with_hidden_months

log = logging.getLogger("benchmarks.retention")

WORK = Path("benchmarks/work/retention")
RESULTS = Path("benchmarks/results")
DEFAULT_WORLDS = ("lease_uniform", "growth_no_lease", "price_driven")
SHARES = (0.1, 0.2)
# The served system does not matter here (the hazard is fitted the same way for every
# candidate): one LightGBM ranker, no refit or distillation, to keep a world to minutes.
CONFIG = TrainConfig(candidates=("lightgbm",), refit=False, distill=False)


def _imported(folder: Path, db: Path) -> tuple[Repository, dict[str, pd.DataFrame]]:
    db.unlink(missing_ok=True)
    repo = Repository(f"sqlite:///{db.resolve()}")
    import_dataset(folder, repo)
    return repo, repo.load_tables()


def moved_out(scored: pd.DataFrame, later: pd.DataFrame, *, end: pd.Timestamp) -> np.ndarray:
    """bool per row of ``scored`` (open tenancies at ``end``): the registry a year on records an
    end of that (enterprise, building) tenancy in (end, end + 12 months]."""
    horizon = end + pd.DateOffset(months=HORIZON_MONTHS)
    ended = later[(later["start_date"] <= end) & (later["end_date"] > end)
                  & (later["end_date"] <= horizon)]  # fmt: skip
    keys = set(zip(ended["enterprise_id"].astype(str), ended["building_id"].astype(str),
                   strict=True))  # fmt: skip
    pairs = zip(scored["enterprise_id"], scored["building_id"], strict=True)
    return np.fromiter((pair in keys for pair in pairs), dtype=bool, count=len(scored))


def ranking_metrics(score: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """AUC, and recall and lift of the top ``SHARES`` of the list ranked by ``score`` (ties in
    list order; missing scores last)."""
    score = np.where(np.isfinite(score), score, -np.inf)
    order = np.argsort(-score, kind="stable")
    out = {"auc": float(roc_auc_score(truth, np.nan_to_num(score, neginf=-1e9)))}
    for share in SHARES:
        top = order[: max(1, round(share * len(score)))]
        recall = float(truth[top].sum() / max(1, truth.sum()))
        out[f"recall@top{share:.0%}"] = recall
        out[f"lift@top{share:.0%}"] = recall / (len(top) / len(score))
    return out


def per_building_recall(scored: pd.DataFrame, score: np.ndarray, truth: np.ndarray) -> float:
    """Share of move-outs named by each building's own top 20 % of tenants (at least one)."""
    frame = scored[["building_id"]].assign(score=score, truth=truth)
    frame["rank"] = frame.groupby("building_id")["score"].rank(ascending=False, method="first")
    size = frame.groupby("building_id")["score"].transform("size")
    named = frame["rank"] <= np.maximum(1, np.round(0.2 * size))
    return float(frame.loc[named, "truth"].sum() / max(1, frame["truth"].sum()))


def run_world(world: SuiteWorld, *, work: Path) -> dict[str, Any]:
    """Generate, import, train, serve on the end date and grade on the year after."""
    root = work / world.name
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    info = generate_world(root / "world", world.params)
    repo, tables = _imported(info.out_dir, root / "registry.sqlite")
    trained = train_and_publish(
        tables, store=root / "models", truth_dir=info.truth_dir, created=datetime.now(UTC),
        progress=False, config=CONFIG,
    )  # fmt: skip
    fitted = time.perf_counter()
    end = pd.Timestamp(world.params.end)
    state = Engine(repo, root / "models", as_of=end.date()).state()
    scored = current_tenancies(state)
    lease_end = enterprise_features(state.ctx, ["e__lease_end_12m"])["e__lease_end_12m"]
    later_repo, later = _imported(with_hidden_months(root / "world", root / "later"),
                                  root / "later.sqlite")  # fmt: skip
    truth = moved_out(scored, later["tenancies"], end=end)
    repo.close()
    later_repo.close()
    probability = scored["probability"].to_numpy(np.float64)
    tenure = (end - pd.to_datetime(scored["start_date"])).dt.days.to_numpy(np.float64)
    references = {
        "tenure_longest_first": tenure,
        "lease_end_12m": lease_end.reindex(scored["enterprise_id"]).to_numpy(np.float64),
        "random": np.random.default_rng(0).random(len(scored)),
    }
    return {
        "world": {"name": world.name, "description": world.description, "seed": world.seed,
                  "enterprises": world.enterprises, "end": str(end.date())},
        "model_version": trained.version,
        "tenancies_open_at_end": len(scored),
        "moved_out_within_12m": int(truth.sum()),
        "base_rate": float(truth.mean()),
        "expected_move_outs": float(probability.sum()),
        "hazard": {**ranking_metrics(probability, truth),
                   "per_building_recall@top20%": per_building_recall(scored, probability, truth)},
        "references": {name: ranking_metrics(values, truth) for name, values in references.items()},
        "seconds": {"generate_import_train": fitted - start,
                    "serve_and_grade": time.perf_counter() - fitted},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=list(DEFAULT_WORLDS))
    parser.add_argument("--enterprises", type=int, default=1500,
                        help="shrink every world to this many enterprises")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = []
    for name in args.worlds:
        world = suite_world(name)
        world = replace(world, params=replace(world.params, enterprises=args.enterprises))
        result = run_world(world, work=WORK)
        log.info("%s: %s", name, json.dumps(result["hazard"]))
        results.append(result)
    report = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {"enterprises": args.enterprises, "horizon_months": HORIZON_MONTHS,
                   "train": "TrainConfig(candidates=('lightgbm',), refit=False, distill=False)"},
        "load_average_1m_at_end": os.getloadavg()[0],
        "worlds": results,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"retention_{date.today().isoformat()}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for r in results:
        h = r["hazard"]
        print(f"{r['world']['name']:>16}: {r['moved_out_within_12m']:>4} of "
              f"{r['tenancies_open_at_end']:>5} moved out; AUC {h['auc']:.3f}, top 10% names "
              f"{h['recall@top10%']:.0%} (lift {h['lift@top10%']:.1f}), top 20% "
              f"{h['recall@top20%']:.0%}; expected {r['expected_move_outs']:.0f}")  # fmt: skip
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
