"""Overload: a real ``tenantmatch serve --workers 2`` over a generated demo, driven on loopback at
its capacity and at ten times it (issue 21).

Each phase runs client threads for a fixed time, each thread on its own keep-alive connection,
mixing uncached shortlists (expensive), fill plans (heavy) and building reads (cheap), while a
probe reads a building 5 times a second on a connection of its own. Recorded: answers by status
(served 2xx, shed 429/503, failed: other statuses and transport errors), the p50/p99 of cheap
reads idle and under each load, and the workers' peak RSS (psutil).

``python -m benchmarks.overload [--enterprises 2000] [--seconds 20] [--threads 8]`` writes
``benchmarks/results/overload_<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from tenantmatch.store import Repository, create_key, import_dataset
from tenantmatch.training import TrainConfig, train_and_publish
from tenantmatch.training.demo import WorldParams, generate_world
from tests.api.conftest import serve_command, wait_ready

RESULTS = Path(__file__).parent / "results"
QUICK_MODEL = TrainConfig(
    max_queries=80, ranker_params={"num_boost_round": 20, "num_leaves": 15},
    candidates=("lightgbm",), refit=False, distill=False,
)  # fmt: skip
MIX = (("expensive", 0.6), ("heavy", 0.05), ("cheap", 0.35))


def prepare(root: Path, enterprises: int) -> tuple[str, Path, list[str], list[str]]:
    """The demo's database URL, model store, keys (operator-free admins) and building ids."""
    folder = root / "dataset"
    info = generate_world(folder, WorldParams(enterprises=enterprises, seed=21))
    db = f"sqlite:///{root / 'bench.db'}"
    repo = Repository(db)
    import_dataset(folder, repo)
    result = train_and_publish(repo.load_tables(), store=root / "store",
                               truth_dir=info.truth_dir, progress=False, config=QUICK_MODEL,
                               created=datetime.now(UTC).replace(microsecond=0))  # fmt: skip
    assert result.promoted, result.reason
    keys = [create_key(repo, role="admin", created=datetime.now(UTC)) for _ in range(16)]
    buildings = [str(b) for b in repo.load_table("buildings")["building_id"]]
    repo.close()
    return db, root / "store", keys, buildings


def start_server(
    db: str, store: Path, port: int, log: Path, *, workers: int = 2,
    settings: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """``tenantmatch serve`` on ``port``, ready; ``settings``: more environment variables."""
    env = {**os.environ, "TENANTMATCH_SHARED_CACHE_DIR": "", "TENANTMATCH_COMPILE_TREES": "false",
           **(settings or {})}  # fmt: skip
    with log.open("wb") as out:
        command = serve_command(port, workers=workers, db=db, models=store)
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    wait_ready(f"http://127.0.0.1:{port}", server, timeout_s=180)
    return server


class Load:
    """Client threads for ``seconds``: statuses and latencies by request kind."""

    def __init__(self, base: str, keys: list[str], buildings: list[str], *, seed: int) -> None:
        self.base, self.keys, self.buildings = base, keys, buildings
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter[str]] = {kind: Counter() for kind, _ in MIX}
        self.latency: dict[str, list[float]] = {kind: [] for kind, _ in MIX}
        self.k = iter(range(10**9))  # a new k for each shortlist: never a cached answer

    def request(self, client: httpx.Client, kind: str) -> None:
        building = self.rng.choice(self.buildings)
        with self.lock:
            k = 5 + next(self.k) % 190
        started = time.perf_counter()
        try:
            if kind == "cheap":
                answer = client.get(f"/v1/buildings/{building}")
            elif kind == "expensive":
                answer = client.get(f"/v1/buildings/{building}/shortlist", params={"k": k})
            else:
                answer = client.post(f"/v1/buildings/{building}/plan", json={"candidates": 200})
            status = str(answer.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        seconds = time.perf_counter() - started
        with self.lock:
            self.statuses[kind][status] += 1
            self.latency[kind].append(seconds)

    def run(self, threads: int, seconds: float) -> None:
        stop = time.monotonic() + seconds

        def worker(i: int) -> None:
            rng = random.Random(i)
            headers = {"X-API-Key": self.keys[i % len(self.keys)]}
            with httpx.Client(base_url=self.base, headers=headers, timeout=120) as client:
                while time.monotonic() < stop:
                    kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
                    self.request(client, kind)

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, counts in self.statuses.items():
            ok = sum(v for s, v in counts.items() if s.startswith("2"))
            shed = counts.get("429", 0) + counts.get("503", 0)
            lat = np.array(self.latency[kind]) * 1000
            out[kind] = {"requests": sum(counts.values()), "served": ok, "shed": shed,
                         "failed": sum(counts.values()) - ok - shed, "statuses": dict(counts),
                         "p50_ms": _percentile(lat, 50),
                         "p99_ms": _percentile(lat, 99)}  # fmt: skip
        return out


def _percentile(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def idle_reads(base: str, key: str, buildings: list[str], n: int = 200) -> dict[str, float]:
    lat = []
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        for i in range(n):
            started = time.perf_counter()
            client.get(f"/v1/buildings/{buildings[i % len(buildings)]}").raise_for_status()
            lat.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2)}  # fmt: skip


class Probe(threading.Thread):
    """Cheap reads at a steady 5 a second on a connection of their own, beside the load: their
    latency is what a viewer opening a building page sees."""

    def __init__(self, base: str, key: str, buildings: list[str]) -> None:
        super().__init__(daemon=True)
        self.base, self.key, self.buildings = base, key, buildings
        self.stop, self.ms, self.statuses = threading.Event(), [], Counter[str]()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers={"X-API-Key": self.key}, timeout=60) as c:
            i = 0
            while not self.stop.wait(0.2):
                i += 1
                started = time.perf_counter()
                try:
                    status = str(c.get(f"/v1/buildings/{self.buildings[i % 50]}").status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.ms.append((time.perf_counter() - started) * 1000)
                self.statuses[status] += 1

    def summary(self) -> dict[str, Any]:
        lat = np.array(self.ms)
        return {"requests": len(lat), "statuses": dict(self.statuses),
                "p50_ms": _percentile(lat, 50), "p99_ms": _percentile(lat, 99),
                "max_ms": _percentile(lat, 100)}  # fmt: skip


class RssSampler(threading.Thread):
    """Peak RSS (MiB) of the server's worker processes (or of the server itself when it runs
    one worker in its own process), sampled every 0.25 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mib, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            try:
                server = psutil.Process(self.pid)
                # the workers; a one-worker server runs the app in its own process
                processes = server.children() or [server]
                rss = sum(p.memory_info().rss for p in processes if p.is_running())
            except psutil.Error:
                continue
            self.peak_mib = max(self.peak_mib, rss / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8, help="clients at capacity")
    parser.add_argument("--port", type=int, default=18731)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="overload-"))
    db, store, keys, buildings = prepare(root, args.enterprises)
    server = start_server(db, store, args.port, root / "server.log")
    base = f"http://127.0.0.1:{args.port}"
    try:
        sampler = RssSampler(server.pid)
        sampler.start()
        phases: dict[str, Any] = {"idle_cheap_reads": idle_reads(base, keys[0], buildings)}
        warm = Load(base, keys[1:], buildings, seed=0)
        with httpx.Client(base_url=base, headers={"X-API-Key": keys[1]}, timeout=120) as client:
            for _ in range(2):  # fill plans and shortlists once: the phases time no first call
                warm.request(client, "heavy")
        for name, threads in (("capacity", args.threads), ("overload_10x", 10 * args.threads)):
            load = Load(base, keys[1:], buildings, seed=threads)
            probe = Probe(base, keys[0], buildings)
            probe.start()
            started = time.monotonic()
            load.run(threads, args.seconds)
            probe.stop.set()
            probe.join()
            phases[name] = {"threads": threads,
                            "seconds": round(time.monotonic() - started, 1),
                            **load.summary(), "cheap_probe": probe.summary()}  # fmt: skip
        sampler.stop.set()
        statuses = Counter[str]()
        for name in ("capacity", "overload_10x"):
            for kind, _ in MIX:
                statuses.update(phases[name][kind]["statuses"])
        other_5xx = {s: n for s, n in statuses.items() if s.startswith("5") and s != "503"}
        result = {
            "benchmark": "overload", "date": date.today().isoformat(),
            "enterprises": args.enterprises, "buildings": len(buildings), "workers": 2,
            "cores": os.cpu_count(), "phases": phases,
            "workers_peak_rss_mib": round(sampler.peak_mib, 1),
            "other_5xx": other_5xx, "transport_errors": {
                s: n for s, n in statuses.items() if not s.isdigit()},
        }  # fmt: skip
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=120)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"overload_{date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
