"""One benchmark stage in its own process, so its wall time and peak RSS are its own.

``python -m benchmarks.stage NAME '{"json": "arguments"}'`` prints one JSON object on the last
line of stdout: the stage's results plus ``wall_s`` and ``peak_rss_mb`` (ru_maxrss of this
process). Logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger("benchmarks.stage")


def _sqlite(db: str) -> str:
    return f"sqlite:///{Path(db).resolve()}"


def generate(args: dict[str, Any]) -> dict[str, Any]:
    """Write a demo world of ``n`` enterprises into ``folder``."""
    from tenantmatch.training.demo import WorldParams, generate_world

    info = generate_world(Path(args["folder"]), WorldParams(enterprises=int(args["n"]), seed=0))
    return {"rows": info.rows, "as_of": str(info.as_of.date()), "truth_dir": str(info.truth_dir)}


def import_(args: dict[str, Any]) -> dict[str, Any]:
    """Import the world folder into a fresh SQLite file; rows/s over all tables."""
    from tenantmatch.store import Repository, import_dataset

    db = Path(args["db"])
    db.unlink(missing_ok=True)
    start = time.perf_counter()
    report = import_dataset(Path(args["folder"]), Repository(_sqlite(args["db"])))
    seconds = time.perf_counter() - start
    rows = sum(t.rows_read for t in report.tables.values())
    return {
        "rows": rows,
        "tables": {k: t.rows_read for k, t in report.tables.items()},
        "seconds": seconds,
        "rows_per_s": rows / seconds,
    }


def train(args: dict[str, Any]) -> dict[str, Any]:
    """``training.train_and_publish`` on the imported data; NDCG@10 of the shared ranker."""
    from tenantmatch.store import Repository
    from tenantmatch.training import TrainConfig, metric_value, train_and_publish

    tables = Repository(_sqlite(args["db"])).load_tables()
    config = TrainConfig(**args.get("config", {}))
    start = time.perf_counter()
    result = train_and_publish(
        tables,
        store=Path(args["store"]),
        truth_dir=Path(args["truth_dir"]) if args.get("truth_dir") else None,
        created=datetime.now(UTC),
        progress=False,
        config=config,
    )
    seconds = time.perf_counter() - start
    directions = ("building_to_enterprise", "enterprise_to_building")
    systems = sorted(set(result.metrics["system"]))

    def ndcg(system: str) -> dict[str, float]:
        return {d: metric_value(result.metrics, system=system, direction=d, metric="ndcg@10")
                for d in directions}  # fmt: skip

    return {
        "config": args.get("config", {}),
        "seconds": seconds,
        "version": result.version,
        "promoted": result.promoted,
        "system": result.system,
        "ndcg@10": ndcg("lightgbm"),
        "ndcg@10_by_system": {s: ndcg(s) for s in systems},
    }


def prescore(args: dict[str, Any]) -> dict[str, Any]:
    """Fit the pre-scorer for the CURRENT model and publish it as a new version."""
    from tenantmatch.models import current_version
    from tenantmatch.registry import Registry, Snapshot
    from tenantmatch.store import Repository
    from tenantmatch.training import attach_prescorer, make_split

    tables = Repository(_sqlite(args["db"])).load_tables()
    cut = make_split(tables).cut
    snapshot = Snapshot.at(Registry.from_tables(tables), cut)
    store = Path(args["store"])
    start = time.perf_counter()
    version = attach_prescorer(store, current_version(store), snapshot, created=datetime.now(UTC))
    return {"seconds": time.perf_counter() - start, "version": version}


def engine(args: dict[str, Any]) -> dict[str, Any]:
    """Build the serving Engine (snapshot, features, pool, pre-score arrays) as the API server
    does, answer one query, then rebuild it as a server does after a registry edit.

    ``first_peak_rss_mb``: the peak up to the first answer, with stage 1 of every building
    kept (``candidates_fill_s``: computing them on every core, as a server does in the
    background); ``peak_rss_mb`` (added by ``main``) includes the rebuild (a server that held
    the old state meanwhile peaked far higher there).
    """
    from tenantmatch.matching import Engine
    from tenantmatch.matching.shortlist import precompute_candidates
    from tenantmatch.store import Repository

    class EditedRepository(Repository):
        """The database as a server sees it after ``edits`` registry edits: the same rows under
        a higher data version (the benchmark database itself is never written)."""

        edits = 0

        def data_version(self) -> int:
            return super().data_version() + self.edits

    repo = EditedRepository(_sqlite(args["db"]))
    start = time.perf_counter()
    eng = Engine(repo, Path(args["store"]), as_of=date.fromisoformat(args["as_of"]),
                 compile_trees=True)  # fmt: skip
    state = eng.state()
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    precompute_candidates(state, threads=eng.threads)
    fill_s = time.perf_counter() - start
    kept_mb = state.candidates.nbytes / 2**20 if state.candidates is not None else 0.0
    first = str(state.pool.buildings.ids[0])
    del state
    eng.shortlist_for_buildings([first], k=50)
    first_peak = _peak_rss_mb()
    repo.edits += 1
    start = time.perf_counter()
    eng.shortlist_for_buildings([first], k=50)
    return {"build_s": build_s, "candidates_fill_s": fill_s, "candidates_mb": kept_mb,
            "first_peak_rss_mb": first_peak, "rebuild_s": time.perf_counter() - start}  # fmt: skip


def _peak_rss_mb() -> float:
    """ru_maxrss of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(args: dict[str, Any]) -> dict[str, Any]:
    """Shortlist latency and quality of two-stage vs full scan (see ``benchmarks.latency``)."""
    from benchmarks.latency import measure

    return measure(args)


def http(args: dict[str, Any]) -> dict[str, Any]:
    """HTTP load at 2 workers (see ``benchmarks.http_load``)."""
    from benchmarks.http_load import measure

    return measure(args)


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "generate": generate,
    "import": import_,
    "train": train,
    "prescore": prescore,
    "engine": engine,
    "latency": latency,
    "http": http,
}


def main(argv: list[str]) -> None:
    """Run ``argv[0]`` with the JSON arguments ``argv[1]``; print the result as JSON."""
    name, args = argv[0], json.loads(argv[1])
    logging.basicConfig(level=args.get("log_level", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    start = time.perf_counter()
    result = STAGES[name](args)
    result["wall_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
