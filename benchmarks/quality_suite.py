"""Quality on the suite of named demo worlds (issue 19): per world, generate it (the registry
as of its end date plus a hidden year), import it into a fresh SQLite file, train with the
project's normal pipeline (``train_and_publish``), then grade the served model and every
baseline the evaluation fits on the hidden year after the registry ends, against the ceiling
(the world's own move probabilities).

Printed per world and summarised (mean, worst) for every system of the evaluation table:
the share of the ceiling's building->enterprise NDCG@10 and of its enterprise->building Hit@5.
Reserved worlds run only with ``--reserved``: they are measured at the end of a change, never
used to choose a feature, a parameter or a label rule.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tenantmatch.models import read_manifest
from tenantmatch.store import Repository, import_dataset
from tenantmatch.training import (
    TrainConfig,
    evaluate_current,
    format_table,
    metric_value,
    train_and_publish,
)
from tenantmatch.training.demo import TRUTH_DIR, SuiteWorld, generate_world, with_hidden_months

log = logging.getLogger("benchmarks.quality_suite")

CEILING = "ceiling"
SERVED = "current"  # the evaluation's name for the model the store serves
B2E, E2B = "building_to_enterprise", "enterprise_to_building"
SHARES = (("ndcg@10", B2E), ("hit@5", E2B))


def _import(folder: Path, db: Path) -> dict[str, pd.DataFrame]:
    """The canonical tables of ``folder`` imported into a fresh SQLite file ``db``."""
    db.unlink(missing_ok=True)
    repo = Repository(f"sqlite:///{db.resolve()}")
    import_dataset(folder, repo)
    tables = repo.load_tables()
    repo.close()
    return tables


def shares(metrics: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per system of ``metrics`` (the ceiling left out; the served model named "served"): its
    b->e NDCG@10 and e->b Hit@5 and their shares of the ceiling's."""
    out: dict[str, dict[str, float]] = {}
    for system in dict.fromkeys(metrics["system"]):
        if system == CEILING:
            continue
        row: dict[str, float] = {}
        for metric, direction in SHARES:
            value = metric_value(metrics, system=system, direction=direction, metric=metric)
            best = metric_value(metrics, system=CEILING, direction=direction, metric=metric)
            row[f"{direction}:{metric}"] = value
            row[f"{direction}:{metric}:share"] = value / best if best > 0 else float("nan")
        out["served" if system == SERVED else str(system)] = row
    return out


def ceiling_values(metrics: pd.DataFrame) -> dict[str, float]:
    """The ceiling's own b->e NDCG@10 and e->b Hit@5."""
    return {
        f"{d}:{m}": metric_value(metrics, system=CEILING, direction=d, metric=m) for m, d in SHARES
    }


def _train(world: SuiteWorld, root: Path, *, config: TrainConfig) -> dict[str, Any]:
    """Generate, import and train one world under ``root``; what the grading needs, also
    saved as ``root/trained.json`` so that a rerun with ``reuse`` grades without retraining."""
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    info = generate_world(root / "world", world.params)
    tables = _import(info.out_dir, root / "registry.sqlite")
    built = time.perf_counter()
    trained = train_and_publish(
        tables, store=root / "models", truth_dir=info.truth_dir, created=datetime.now(UTC),
        progress=False, config=config,
    )  # fmt: skip
    manifest = read_manifest(root / "models", trained.version)
    out = {
        "rows": info.rows,
        "served": {
            "version": trained.version, "system": trained.system, "gate": trained.reason,
            "split": manifest.get("summary", {}).get("split"), "holdout_table": trained.table,
        },
        "seconds": {"generate_import": built - start, "train": time.perf_counter() - built},
    }  # fmt: skip
    (root / "trained.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return out


def run_world(
    world: SuiteWorld, *, work: Path, config: TrainConfig, reuse: bool = False
) -> dict[str, Any]:
    """Generate, import, train and grade one world on its hidden year; the JSON-ready result
    (also saved as graded.json). With ``reuse`` a world already graded under ``work`` is read
    back, one already trained (its trained.json) is only graded."""
    root = work / world.name
    done, graded_file = root / "trained.json", root / "graded.json"
    if reuse and graded_file.is_file():
        return dict(json.loads(graded_file.read_text(encoding="utf-8")))
    if reuse and done.is_file():
        trained = json.loads(done.read_text(encoding="utf-8"))
    else:
        trained = _train(world, root, config=config)
    start = time.perf_counter()
    world_dir, truth_dir = root / "world", root / "world" / TRUTH_DIR
    full = _import(with_hidden_months(world_dir, root / "full"), root / "full.sqlite")
    graded = evaluate_current(
        full, store=root / "models", truth_dir=truth_dir,
        config=replace(config, cut=pd.Timestamp(world.params.end)),
    )  # fmt: skip
    trained["seconds"]["grade_hidden_year"] = time.perf_counter() - start
    result = {
        "world": {
            "name": world.name, "reserved": world.reserved, "description": world.description,
            "seed": world.seed, "enterprises": world.enterprises,
            "buildings": world.params.n_buildings, "end": str(world.params.end),
        },
        "ceiling": ceiling_values(graded),
        "systems": shares(graded),
        "table": format_table(graded),
        "metrics": graded.to_dict(orient="records"),
        **trained,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_1m_at_end": os.getloadavg()[0],
    }  # fmt: skip
    graded_file.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    return result


def summary(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per system and share column: mean and worst (minimum) over the worlds that have it."""
    rows = [
        {"world": r["world"]["name"], "system": s, **values}
        for r in results
        for s, values in r["systems"].items()
    ]
    frame = pd.DataFrame(rows)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for system, part in frame.groupby("system", sort=False):
        out[str(system)] = {
            col: {"mean": float(part[col].mean()), "worst": float(part[col].min()),
                  "worlds": int(part[col].notna().sum())}
            for col in part.columns if col.endswith(":share")
        }  # fmt: skip
    return out


def share_table(results: list[dict[str, Any]], *, column: str) -> str:
    """Worlds x systems of one share column, with the ceiling's own value and mean/worst rows."""
    frame = pd.DataFrame(
        {r["world"]["name"]: {s: v[column] for s, v in r["systems"].items()} for r in results}
    ).T
    ceiling_col = column.removesuffix(":share")
    frame.insert(0, "(ceiling)", [r["ceiling"][ceiling_col] for r in results])
    systems = frame.columns[1:]
    frame.loc["mean"] = [float("nan"), *frame[systems].mean()]
    frame.loc["worst"] = [float("nan"), *frame[systems].min()]
    return frame.to_string(float_format=lambda v: f"{v:.3f}", na_rep="")


def commit_hash() -> dict[str, Any]:
    """The checkout's commit and whether its tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout

    dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(dirty)}


def suite_report(results: list[dict[str, Any]], *, config: TrainConfig) -> dict[str, Any]:
    """The JSON document saved under benchmarks/results/."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **commit_hash(),
        "config": {k: v for k, v in asdict(config).items() if k != "sampling"},
        "summary": summary(results),
        "worlds": results,
    }
