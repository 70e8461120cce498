"""Training time and memory per registry size: ``python -m benchmarks.train_scale
--world LABEL=DB_PATH[,TRUTH_DIR] ...``.

Each world is trained by ``benchmarks.stage train`` (``training.train_and_publish``, the
pipeline ``tenantmatch train`` runs) in a child process into a fresh model store under
``benchmarks/work/train_scale/``; its peak RSS is sampled every 0.5 s over the whole process
tree (the joblib workers that build the training windows included, which ``ru_maxrss`` of the
stage alone misses). The RSS timeline is kept, and the run's INFO log (``train.err`` beside the
store) says which stage each time is. Prints a table (seconds, peak RSS, the held-out
building->enterprise NDCG@10 of the ranker, of the served system and of the ceiling) and writes
``benchmarks/results/train_scale_<date>_<name>.json``. The worlds come from ``benchmarks.run``
(``benchmarks/work/n<N>/db.sqlite``) or any imported demo world.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import psutil

from benchmarks.http_load import _tree_rss_mb
from benchmarks.run import PYTHON, RESULTS, ROOT, WORK, log, machine

B2E = "building_to_enterprise"


class TreeRss(threading.Thread):
    """Peak RSS (MiB) of a process and all its descendants, sampled every 0.5 s; ``timeline``
    holds (seconds since start, MiB) every 5 s and at each new peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak_mib, self.stop = psutil.Process(pid), 0.0, threading.Event()
        self.timeline: list[tuple[float, int]] = []

    def run(self) -> None:
        start, last = time.perf_counter(), -5.0
        while not self.stop.wait(0.5):
            rss = _tree_rss_mb(self.proc)
            if rss != rss:  # NaN: the process just ended
                continue
            now = time.perf_counter() - start
            if rss > self.peak_mib or now - last >= 5:
                self.timeline.append((round(now, 1), round(rss)))
                last = now
            self.peak_mib = max(self.peak_mib, rss)


def _stop_tree(pid: int) -> None:
    """Kill a process and its descendants (a run past its time limit)."""
    try:
        root = psutil.Process(pid)
        for p in [*root.children(recursive=True), root]:
            p.kill()
    except psutil.Error:
        pass


def _last_log_line(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if " INFO " in ln]
    return lines[-1][:300] if lines else ""


def train_world(
    label: str, db: Path, truth_dir: Path | None, *, config: dict[str, Any],
    timeout_s: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One training run of the world in ``db`` into a fresh store; seconds and peak RSS. A run
    past ``timeout_s`` is stopped and reported as such, with its RSS so far and the stage it
    was in (its last log line)."""
    folder = WORK / "train_scale" / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    args = {"db": str(db), "store": str(folder / "models"), "config": config,
            "truth_dir": str(truth_dir) if truth_dir else None, "log_level": "INFO"}  # fmt: skip
    log(f"{label}: training {db} ...")
    start = time.perf_counter()
    with (folder / "train.err").open("w") as err:
        command = [PYTHON, "-m", "benchmarks.stage", "train", json.dumps(args)]
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
        sampler = TreeRss(proc.pid)
        sampler.start()
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop_tree(proc.pid)
            proc.communicate()
            sampler.stop.set()
            return {"timed_out_after_s": timeout_s, "peak_tree_rss_mib": round(sampler.peak_mib),
                    "rss_timeline": sampler.timeline,
                    "last_log_line": _last_log_line(folder / "train.err")}  # fmt: skip
        sampler.stop.set()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"training {label} failed (exit {proc.returncode}); see {err.name}")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "wall_s": round(wall, 1), "peak_tree_rss_mib": round(sampler.peak_mib),
            "rss_timeline": sampler.timeline}  # fmt: skip


def table(runs: dict[str, dict[str, Any]]) -> str:
    lines = ["| world | training s | peak RSS MiB (process tree) | served | b->e NDCG@10 ranker "
             "| served | ceiling |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for label, r in runs.items():
        if "timed_out_after_s" in r:
            lines.append(f"| {label} | stopped after {r['timed_out_after_s']:.0f} | "
                         f"{r['peak_tree_rss_mib']:,} so far | | | | |")  # fmt: skip
            continue
        by = r.get("ndcg@10_by_system", {})
        served = by.get(r.get("system", ""), {}).get(B2E, float("nan"))
        ceiling = by.get("ceiling", {}).get(B2E, float("nan"))
        lines.append(f"| {label} | {r['wall_s']:.0f} | {r['peak_tree_rss_mib']:,} | "
                     f"{r.get('system')} | {r['ndcg@10'][B2E]:.4f} | {served:.4f} | "
                     f"{ceiling:.4f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", action="append", required=True,
                        help="LABEL=DB_PATH[,TRUTH_DIR] (repeatable)")  # fmt: skip
    parser.add_argument("--config", default="{}", help="TrainConfig fields as JSON")
    parser.add_argument("--name", default="run")
    parser.add_argument("--timeout", type=float, default=None,
                        help="stop a world's training after this many seconds")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    runs = {}
    for spec in args.world:
        label, _, rest = spec.partition("=")
        db, _, truth = rest.partition(",")
        truth_dir = Path(truth) if truth else None
        runs[label] = train_world(label, Path(db), truth_dir, config=json.loads(args.config),
                                  timeout_s=args.timeout)  # fmt: skip
        log(
            f"{label}: {runs[label].get('wall_s', 'stopped')} s, "
            f"peak {runs[label]['peak_tree_rss_mib']} MiB"
        )
    print(table(runs))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"train_scale_{date.today()}_{args.name}.json"
    out.write_text(json.dumps({"started": started, "machine": machine(), "runs": runs},
                              indent=2, default=str) + "\n")  # fmt: skip
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
