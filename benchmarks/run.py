"""Scale benchmarks: ``python -m benchmarks.run [--sizes 20000,200000,1000000] [--quick]``.

Per size: a demo world generated, imported into SQLite under ``benchmarks/work/n<N>/`` and
trained (each stage in its own process: wall time and peak RSS; kept and reused unless
``--fresh``), the pre-scorer attached, then shortlist latency and quality (two-stage vs full
scan, same run) and the Engine's RSS. On the smallest size, one ``tenantmatch shortlist`` call
with 500 buildings; at 200k (or the size nearest it), HTTP load on 2 uvicorn workers. Prints a
table and writes ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantmatch.matching.engine import DEFAULT_MAX_SCORED, DEFAULT_MAX_SCORED_BUILDINGS

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
DEFAULT_SIZES = (20_000, 200_000, 1_000_000)
M_ENTERPRISES = DEFAULT_MAX_SCORED  # M for building queries: the Engine's own default
M_BUILDINGS = DEFAULT_MAX_SCORED_BUILDINGS  # M for enterprise queries
K = 50


@dataclass(frozen=True)
class Counts:
    """How many queries each measurement runs at one size."""

    queries: int
    full_queries: int
    e_queries: int
    ndcg_queries: int


def counts_for(n: int, *, quick: bool) -> Counts:
    """Query counts: fewer full scans where each costs seconds."""
    if quick:
        return Counts(queries=40, full_queries=5, e_queries=20, ndcg_queries=10)
    if n <= 50_000:
        return Counts(queries=300, full_queries=60, e_queries=100, ndcg_queries=100)
    if n <= 300_000:
        return Counts(queries=300, full_queries=20, e_queries=100, ndcg_queries=40)
    # 30 full scans (about 3 s each): the top-50 overlap is a mean over enough queries to hold
    # a few hundredths of margin
    return Counts(queries=300, full_queries=30, e_queries=60, ndcg_queries=30)


def log(message: str) -> None:
    """Progress on stderr (stdout carries the table)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stage(name: str, args: dict[str, Any], *, folder: Path, cached: bool) -> dict[str, Any]:
    """Run ``benchmarks.stage NAME`` in a child process (result kept in ``folder/NAME.out``);
    with ``cached``, reuse a kept result."""
    out, err = folder / f"{name}.out", folder / f"{name}.err"
    if cached and out.is_file() and out.stat().st_size:
        result = json.loads(out.read_text().strip().splitlines()[-1])
        return {**result, "cached": True}
    log(f"{folder.name}: {name} ...")
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.run(
            [PYTHON, "-m", "benchmarks.stage", name, json.dumps(args)],
            cwd=ROOT,
            stdout=fo,
            stderr=fe,
            check=False,
        )
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        raise RuntimeError(f"stage {name} failed (exit {proc.returncode}); see {err}")
    return json.loads(out.read_text().strip().splitlines()[-1])


def borrow_model(n: int, *, source: int) -> dict[str, Any]:
    """Serve world ``n`` with the CURRENT model of world ``source`` (same generator, so the same
    features and vocabulary): its version folder copied and promoted, hash checked."""
    import shutil

    from tenantmatch.models import current_version, promote

    src, dst = WORK / f"n{source}" / "models", WORK / f"n{n}" / "models"
    version = current_version(src)
    if version is None:
        raise RuntimeError(f"world n{source} has no trained model to borrow")
    target = dst / "versions" / version
    if not target.exists():
        shutil.copytree(src / "versions" / version, target)
    promote(dst, version)
    return {"borrowed_from": f"n{source}", "version": version}


def world(n: int, *, fresh: bool, borrow: int | None = None) -> dict[str, Any]:
    """Generate, import, train (or borrow a model) and attach the pre-scorer for a world of
    ``n`` enterprises."""
    folder = WORK / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "folder": str(folder / "world"),
        "db": str(folder / "db.sqlite"),
        "store": str(folder / "models"),
        "truth_dir": str(folder / "world" / "_truth"),
    }
    cached = not fresh
    gen = stage("generate", {"n": n, **paths}, folder=folder, cached=cached)
    cached = cached and gen.get("cached", False)
    imp = stage("import", paths, folder=folder, cached=cached)
    cached = cached and imp.get("cached", False)
    if borrow is None:
        train = stage("train", paths, folder=folder, cached=cached)
        cached = cached and train.get("cached", False)
    else:
        train, cached = borrow_model(n, source=borrow), False
    pre = stage("prescore", paths, folder=folder, cached=cached)
    return {
        "paths": paths,
        "as_of": gen.get("as_of", "2026-10-31"),
        "generate": gen,
        "import": imp,
        "train": train,
        "prescore": pre,
    }


def measure_size(
    n: int, *, counts: Counts, fresh: bool, borrow: int | None = None
) -> dict[str, Any]:
    """Everything measured at one world size."""
    info = world(n, fresh=fresh, borrow=borrow)
    folder = WORK / f"n{n}"
    args = {
        **info["paths"],
        "as_of": info["as_of"],
        "k": K,
        "m": M_ENTERPRISES,
        "m_buildings": M_BUILDINGS,
        **counts.__dict__,
    }
    info["latency"] = stage("latency", args, folder=folder, cached=False)
    info["engine"] = stage("engine", args, folder=folder, cached=False)
    return info


def cli_shortlist(n: int, *, queries: int = 500) -> dict[str, Any]:
    """Wall time of one ``tenantmatch shortlist`` call with ``queries`` --building ids."""
    import pandas as pd

    folder = WORK / f"n{n}"
    ids = pd.read_csv(folder / "world" / "buildings.csv", usecols=["building_id"])["building_id"]
    chosen = [str(b) for b in ids.sample(n=queries, replace=len(ids) < queries, random_state=0)]
    cmd = [
        str(Path(PYTHON).parent / "tenantmatch"),
        "shortlist",
        "--db",
        f"sqlite:///{folder / 'db.sqlite'}",
        "--models",
        str(folder / "models"),
        "--format",
        "jsonl",
        "--k",
        "20",
    ]
    for b in chosen:
        cmd += ["--building", b]
    log(f"n{n}: tenantmatch shortlist with {queries} buildings ...")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return {
        "queries": queries,
        "wall_s": wall,
        "exit_code": proc.returncode,
        "jsonl_lines": len(lines),
        "stderr_tail": proc.stderr[-300:],
    }


def http_load(n: int, *, quick: bool) -> dict[str, Any]:
    """HTTP load at ``n`` (skipped with a reason when the API is not ready)."""
    folder = WORK / f"n{n}"
    args = {
        "db": str(folder / "db.sqlite"),
        "store": str(folder / "models"),
        "requests": 600 if quick else 4000,
        "concurrency": 32,
        "duration_s": 5 if quick else 15,
    }
    try:
        return stage("http", args, folder=folder, cached=False)
    except RuntimeError as exc:
        return {"skipped": str(exc), "stderr_tail": (folder / "http.err").read_text()[-600:]}


def machine() -> dict[str, Any]:
    """The machine and the load on it (the machine is shared: load matters)."""
    import lightgbm
    import numpy

    return {
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "lightgbm": lightgbm.__version__,
        # compiled trees (lleaves, the `fast` extra) or LightGBM's own predict: ~1.6x per request
        "lleaves": _installed("lleaves"),
        "platform": platform.platform(),
    }


def _installed(package: str) -> str | None:
    """The installed version of ``package``, None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _f(value: Any, fmt: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, fmt)


def table(sizes: dict[str, dict[str, Any]]) -> str:
    """The results as a plain-text table (one row per measure, one column per size)."""
    rows: list[tuple[str, ...]] = [("measure", *sizes)]

    def add(label: str, fn: Any) -> None:
        cells = []
        for info in sizes.values():
            try:
                cells.append(fn(info))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        rows.append((label, *cells))

    def lat(d: str, path: str) -> Any:
        return lambda i: "/".join(
            _f(i["latency"][d].get(path, {}).get(p)) for p in ("p50_ms", "p95_ms", "p99_ms")
        )

    add(
        "demo generation s (peak RSS MB)",
        lambda i: f"{_f(i['generate']['wall_s'])} ({_f(i['generate']['peak_rss_mb'], '.0f')})",
    )
    add(
        "import rows/s (peak RSS MB)",
        lambda i: (
            f"{_f(i['import']['rows_per_s'], '.0f')} ({_f(i['import']['peak_rss_mb'], '.0f')})"
        ),
    )
    add(
        "training s (peak RSS MB)",
        lambda i: f"{_f(i['train']['seconds'])} ({_f(i['train']['peak_rss_mb'], '.0f')})",
    )
    add("model trained on", lambda i: i["train"].get("borrowed_from") or "this world")
    add("pre-scorer distillation s", lambda i: _f(i["prescore"]["seconds"]))
    add("b->e two-stage p50/p95/p99 ms", lat("building_to_enterprise", "two_stage"))
    add(
        "b->e two-stage, stage 1 per query p50/p95/p99 ms",
        lat("building_to_enterprise", "two_stage_stage1_live"),
    )
    add("b->e full scan p50/p95/p99 ms", lat("building_to_enterprise", "full_scan"))
    add(
        "b->e speed-up wall mean / p50 / CPU",
        lambda i: "{}x / {}x / {}x".format(
            _f(i["latency"]["building_to_enterprise"]["speedup_mean"], ".0f"),
            _f(i["latency"]["building_to_enterprise"]["speedup_p50"], ".0f"),
            _f(i["latency"]["building_to_enterprise"]["speedup_cpu"], ".0f"),
        ),
    )
    add(
        "b->e threads per query two-stage / full scan",
        lambda i: "{} / {}".format(
            i["latency"]["building_to_enterprise"].get("two_stage_threads", "?"),
            i["latency"]["building_to_enterprise"].get("full_scan_threads", "?"),
        ),
    )
    add(
        "b->e two-stage CPU ms/query",
        lambda i: _f(i["latency"]["building_to_enterprise"]["two_stage"]["cpu_mean_ms"]),
    )
    add(
        "b->e ms: stage1 kept (per query)/X/predict/reasons",
        lambda i: "{} ({})/{}".format(
            *(
                _f(i["latency"]["building_breakdown"].get(f"{n}_mean_ms"))
                for n in ("stage1", "stage1_live")
            ),
            "/".join(
                _f(i["latency"]["building_breakdown"][f"{n}_mean_ms"])
                for n in ("features", "predict", "reasons")
            ),
        ),
    )
    add(
        f"b->e top-{K} overlap",
        lambda i: _f(i["latency"]["building_to_enterprise"][f"top{K}_overlap"], ".3f"),
    )
    add(
        "NDCG@10 two-stage / full scan",
        lambda i: "{} / {}".format(
            _f(i["latency"]["evaluation"]["ndcg@10_two_stage"], ".4f"),
            _f(i["latency"]["evaluation"]["ndcg@10_full_scan"], ".4f"),
        ),
    )
    add("e->b two-stage p50/p95/p99 ms", lat("enterprise_to_building", "two_stage"))
    add("e->b full scan p50/p95/p99 ms", lat("enterprise_to_building", "full_scan"))
    add(
        f"e->b top-{K} overlap",
        lambda i: _f(i["latency"]["enterprise_to_building"][f"top{K}_overlap"], ".3f"),
    )
    add(
        "stage 1 of every building: fill s (MB)",
        lambda i: "{} ({})".format(
            _f(i["engine"].get("candidates_fill_s")), _f(i["engine"].get("candidates_mb"), ".0f")
        ),
    )
    add(
        "Engine build / rebuild s (server peak RSS MB)",
        lambda i: "{} / {} ({})".format(
            _f(i["engine"]["build_s"]),
            _f(i["engine"].get("rebuild_s")),
            _f(i["engine"]["peak_rss_mb"], ".0f"),
        ),
    )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry: measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated enterprise counts")
    parser.add_argument("--quick", action="store_true", help="fewer queries (default size 20k)")
    parser.add_argument("--fresh", action="store_true", help="regenerate, reimport and retrain")
    parser.add_argument("--name", default=None, help="results file name (default: by sizes)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP load test")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI shortlist timing")
    parser.add_argument(
        "--borrow-model",
        type=int,
        default=None,
        metavar="N",
        help="serve the sizes with world N's model instead of training "
        "(for sizes whose training does not fit the machine)",
    )
    ns = parser.parse_args(argv)
    default = "20000" if ns.quick else ",".join(map(str, DEFAULT_SIZES))
    sizes = [int(s) for s in (ns.sizes or default).split(",")]
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "k": K,
        "m_enterprises": M_ENTERPRISES,
        "m_buildings": M_BUILDINGS,
        "sizes": {},
    }
    for n in sizes:
        report["sizes"][str(n)] = measure_size(
            n, counts=counts_for(n, quick=ns.quick), fresh=ns.fresh, borrow=ns.borrow_model
        )
    if not ns.no_cli:
        report["cli_shortlist_500_buildings"] = cli_shortlist(min(sizes))
    if not ns.no_http:
        http_n = min(sizes, key=lambda n: abs(n - 200_000))
        report["http"] = {"enterprises": http_n, **http_load(http_n, quick=ns.quick)}
    report["machine"]["load_avg_end"] = os.getloadavg()
    text = table(report["sizes"])
    print(text)
    extra = {k: report[k] for k in ("cli_shortlist_500_buildings", "http") if k in report}
    for key, value in extra.items():
        print(f"{key}: {json.dumps(value, default=str)[:400]}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = ns.name or ("quick" if ns.quick else "scale-" + "-".join(str(n) for n in sizes))
    path = RESULTS / f"{name}.json"
    report["table"] = text.splitlines()
    path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False) + "\n")
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
