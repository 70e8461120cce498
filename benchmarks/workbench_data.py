"""The workbench's data routes at province scale: statistics, paged search and a building's
history over about 25,000 buildings, a million enterprises and a million attraction events.

A small demo world (800 enterprises, 60 buildings) is imported into SQLite and its rows copied
under new ids (``--copies``) with plain SQL, so the registry has the shape of the demo at the
size of a province without generating one; no model is trained (none of these need one). Each
operation runs ``--repeat`` times through ``tenantmatch.store`` (the functions the routes call);
the JSON holds every wall time in ms, medians of wall and CPU time, and ratios to the median
baseline: reading the whole
buildings table into a frame, what the building list did after every write before issue 22.
``python -m benchmarks.workbench_data`` writes ``benchmarks/results/workbench_data_<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.run import machine
from tenantmatch.store import (
    BuildingFilter,
    EnterpriseFilter,
    RegistryLists,
    RegistryStats,
    Repository,
    StatsFilter,
    building_events,
    building_occupancy,
    current_tenants,
    import_dataset,
    registry_stats,
)
from tenantmatch.training.demo import WorldParams, generate_world

RESULTS = Path(__file__).resolve().parent / "results"
COPIES = {"buildings": 420, "enterprises": 1250, "tenancies": 420, "events": 200}
# Each copy renames the ids; a copied tenancy or event points at the copied firm and building.
COPY_SQL = {
    "buildings": "building_id || '-' || i, name || i, city, district, lat, lon, theme, grade, "
    "total_area_m2, vacant_area_m2, min_unit_m2, rent_cny_m2_day, floors, completed_year, "
    "smart_5a, amenities, operator_id, updated_at",
    "enterprises": "enterprise_id || '-' || i, name || i, industry_code, employees, "
    "revenue_10k_cny, registered_capital_10k_cny, founded, city, district, lat, lon, hq_type, "
    "tags, credit_score, risk_flags, updated_at",
    "tenancies": "enterprise_id || '-' || i, building_id || '-' || i, area_m2, start_date, "
    "end_date, updated_at",
    "events": "enterprise_id || '-' || i, building_id || '-' || i, date, stage, updated_at",
}


def build_registry(folder: Path, scale: float) -> Path:
    """A demo world imported into ``folder/registry.db``, then copied up to province size."""
    generate_world(folder / "dataset", WorldParams(enterprises=800, seed=11))
    db = folder / "registry.db"
    with Repository(f"sqlite:///{db}") as repo:
        import_dataset(folder / "dataset", repo)
    with sqlite3.connect(db) as conn:
        for table, copies in COPIES.items():
            n = max(1, int(copies * scale))
            conn.execute(
                f"WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) "
                f"INSERT INTO {table} SELECT {COPY_SQL[table]} FROM {table}, k"
            )
        conn.execute("ANALYZE")
    return db


def _times(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms of this process) per run: SQLite works in-process, so the CPU time is
    the work itself, whatever else the shared machine runs meanwhile."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(round((time.perf_counter() - start) * 1000, 1))
        cpu.append(round((time.process_time() - start_cpu) * 1000, 1))
    return wall, cpu


def operations(repo: Repository) -> dict[str, Callable[[], object]]:
    """What the page asks for, by name; ``baseline`` first."""
    today = date.today()
    lists, cache = RegistryLists(repo), RegistryStats(repo)
    taiyuan = StatsFilter(city=frozenset({"太原市"}))
    building = "B000001-7"
    cache.get(StatsFilter(), as_of=today, stale_days=90)
    return {
        "baseline": lambda: repo.load_table("buildings"),
        "stats": lambda: registry_stats(repo, StatsFilter(), as_of=today, stale_days=90),
        "stats_city": lambda: registry_stats(repo, taiyuan, as_of=today, stale_days=90),
        "stats_cached": lambda: cache.get(StatsFilter(), as_of=today, stale_days=90),
        "buildings_page_deep": lambda: lists.buildings(
            BuildingFilter(), offset=20_000, limit=50, stale_days=90, today=today
        ),
        "buildings_search": lambda: lists.buildings(
            BuildingFilter(q="大厦1", theme=frozenset({"finance"})),
            offset=0,
            limit=50,
            stale_days=90,
            today=today,
        ),
        "enterprises_page": lambda: lists.enterprises(EnterpriseFilter(), offset=0, limit=50),
        "enterprises_search": lambda: lists.enterprises(
            EnterpriseFilter(q="科技有限公司77"), offset=0, limit=50
        ),
        "building_events": lambda: building_events(repo, building, offset=0, limit=50),
        "building_tenants": lambda: current_tenants(
            repo, building, as_of=today, offset=0, limit=50
        ),
        "building_occupancy": lambda: building_occupancy(repo, building, as_of=today, months=36),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the copies")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / f"workbench_data_{date.today()}.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = build_registry(Path(tmp), args.scale)
        with Repository(f"sqlite:///{db}") as repo:
            counts = repo.counts()
            runs = {name: _times(fn, args.repeat) for name, fn in operations(repo).items()}
    medians = {name: statistics.median(wall) for name, (wall, _) in runs.items()}
    cpu = {name: statistics.median(ms) for name, (_, ms) in runs.items()}
    out: dict[str, Any] = {
        "date": str(date.today()), "machine": machine(), "database": "sqlite", "rows": counts,
        "repeat": args.repeat, "runs_ms": {n: wall for n, (wall, _) in runs.items()},
        "median_ms": medians, "median_cpu_ms": cpu,
        "ratio_to_baseline": {n: round(m / medians["baseline"], 2) for n, m in medians.items()},
        "cpu_ratio_to_baseline": {n: round(m / cpu["baseline"], 2) for n, m in cpu.items()},
    }  # fmt: skip
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    shown = ("rows", "median_ms", "median_cpu_ms", "cpu_ratio_to_baseline")
    print(json.dumps({k: out[k] for k in shown}, indent=1))


if __name__ == "__main__":
    main()
