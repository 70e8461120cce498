"""A live registry under write traffic (issue 20): a real ``tenantmatch serve`` answering scored
shortlists while a stream of writes arrives.

Two phases of ``--seconds`` each over one server: reads alone, then the same reads with
``--writes-per-s`` writes (a third each: a building ``PUT`` of its vacancy, a move-in of 50 m²,
an attraction event). Readers ask uncached building shortlists (a new ``k`` each time). Each
answer's ``X-Data-Version`` and each write's tell how far behind the writes a read is:

- ``lag`` of a read: how long before it started the oldest acknowledged write it does not
  show was acknowledged (0 when it shows them all): p50/p99/max over the reads of the write
  phase, on whichever worker answered;
- ``visible_after`` of a write: from its acknowledgement to the end of the first read that
  shows it;
- read p50/p99 of each phase and their ratio, errors (a move-in refused with 409 for lack of
  vacancy is an answer, not an error), the workers' peak RSS.

``python -m benchmarks.live [--enterprises 2000 | --db URL --store DIR] [--seconds 60]
[--writes-per-s 5] [--readers 2] [--workers 2]`` writes
``benchmarks/results/live_<date>_n<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import tempfile
import threading
import time
from bisect import bisect_right
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.overload import RssSampler, _percentile, prepare, start_server
from tenantmatch.store import Repository, create_key

RESULTS = Path(__file__).parent / "results"
VERSION = "X-Data-Version"


class Reads:
    """Reader threads asking uncached building shortlists: (start, end, version, status)."""

    def __init__(self, base: str, key: str, buildings: list[str]) -> None:
        self.base, self.key, self.buildings = base, key, buildings
        self.rows: list[tuple[float, float, int, str]] = []
        self.lock = threading.Lock()
        self.k = iter(range(10**9))

    def run(self, threads: int, stop: threading.Event) -> list[threading.Thread]:
        def worker(i: int) -> None:
            rng = random.Random(i)
            with httpx.Client(base_url=self.base, headers={"X-API-Key": self.key},
                              timeout=120) as client:  # fmt: skip
                while not stop.is_set():
                    with self.lock:
                        k = 5 + next(self.k) % 190
                    building = rng.choice(self.buildings)
                    started = time.monotonic()
                    try:
                        answer = client.get(f"/v1/buildings/{building}/shortlist",
                                            params={"k": k})  # fmt: skip
                        status, version = (
                            str(answer.status_code),
                            int(answer.headers.get(VERSION, -1)),
                        )
                    except httpx.HTTPError as exc:
                        status, version = type(exc).__name__, -1
                    with self.lock:
                        self.rows.append((started, time.monotonic(), version, status))

        pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
        for thread in pool:
            thread.start()
        return pool

    def take(self) -> list[tuple[float, float, int, str]]:
        with self.lock:
            rows, self.rows = self.rows, []
        return rows


class Writes(threading.Thread):
    """Writes at a steady rate: (acknowledged at, version, kind, status)."""

    def __init__(self, base: str, key: str, per_s: float, world: dict[str, list[str]]) -> None:
        super().__init__(daemon=True)
        self.base, self.key, self.per_s, self.world = base, key, per_s, world
        self.stop = threading.Event()
        self.rows: list[tuple[float, int, str, str]] = []

    def run(self) -> None:
        rng = random.Random(7)
        kinds = ("put", "move_in", "event")
        today = date.today().isoformat()
        firms = iter(rng.sample(self.world["enterprises"], len(self.world["enterprises"])))
        with httpx.Client(base_url=self.base, headers={"X-API-Key": self.key}, timeout=60) as c:
            due = time.monotonic()
            i = 0
            while not self.stop.is_set():
                due += 1 / self.per_s
                kind = kinds[i % 3]
                i += 1
                building = rng.choice(self.world["buildings"])
                try:
                    method, path, body = _write_request(
                        kind, building, firm=next(firms), today=today,
                        other=rng.choice(self.world["enterprises"]),
                        vacant=float(rng.randint(500, 3000)))  # fmt: skip
                    answer = c.request(method, path, json=body)
                    status, version = _status_version(answer)
                except httpx.HTTPError as exc:
                    status, version = type(exc).__name__, -1
                self.rows.append((time.monotonic(), version, kind, status))
                self.stop.wait(max(0.0, due - time.monotonic()))


def _write_request(kind: str, building: str, *, firm: str, other: str, today: str,
                   vacant: float) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    """(method, path, body) of a write of ``kind``."""
    if kind == "put":
        return "PUT", f"/v1/buildings/{building}", {"vacant_area_m2": vacant}
    if kind == "move_in":
        return "POST", "/v1/tenancies/move-in", {"enterprise_id": firm, "building_id": building,
                                                 "start_date": today, "area_m2": 50.0}  # fmt: skip
    return "POST", "/v1/events", {"enterprise_id": other, "building_id": building, "date": today,
                                  "stage": "contacted"}  # fmt: skip


def _status_version(answer: httpx.Response) -> tuple[str, int]:
    return str(answer.status_code), int(answer.headers.get(VERSION, -1))


def _ms(seconds: list[float], q: float) -> float | None:
    """The ``q``-th percentile of ``seconds`` in ms (``benchmarks.overload._percentile``)."""
    return _percentile(np.asarray(seconds) * 1000, q)


def read_summary(rows: list[tuple[float, float, int, str]]) -> dict[str, Any]:
    ok = [end - start for start, end, _, status in rows if status.startswith("2")]
    statuses = Counter(status for *_, status in rows)
    return {"reads": len(rows), "statuses": dict(statuses), "p50_ms": _ms(ok, 50),
            "p99_ms": _ms(ok, 99), "errors": len(rows) - len(ok)}  # fmt: skip


def lag_summary(
    reads: list[tuple[float, float, int, str]], writes: list[tuple[float, int, str, str]]
) -> dict[str, Any]:
    """How far behind the acknowledged writes each read was, and how soon each write showed."""
    done = sorted((at, version) for at, version, _, status in writes
                  if status.startswith("2") and version >= 0)  # fmt: skip
    acked = [at for at, _ in done]
    lags = []
    for start, _, version, status in reads:
        if not status.startswith("2"):
            continue
        missing = [at for at, v in done[: bisect_right(acked, start)] if v > version]
        lags.append(start - min(missing) if missing else 0.0)
    shown = sorted((end, version) for _, end, version, status in reads if status.startswith("2"))
    visible = []
    for at, version in done:
        first = next((end for end, v in shown if end >= at and v >= version), None)
        if first is not None:
            visible.append(first - at)
    return {"reads": len(lags), "lag_p50_ms": _ms(lags, 50), "lag_p99_ms": _ms(lags, 99),
            "lag_max_ms": _ms(lags, 100), "writes_seen": len(visible), "writes": len(done),
            "visible_after_p50_ms": _ms(visible, 50), "visible_after_p99_ms": _ms(visible, 99),
            "visible_after_max_ms": _ms(visible, 100),
            "visible_within_1s": round(float(np.mean(np.array(visible) <= 1.0)), 4)
            if visible else None}  # fmt: skip


def world_of(db: str) -> dict[str, list[str]]:
    """Building ids with room for a 50 m² move-in, and enterprise ids."""
    with Repository(db) as repo:
        buildings = repo.load_table("buildings")
        enterprises = repo.load_table("enterprises")
    roomy = buildings[buildings["vacant_area_m2"] >= 1_000]["building_id"]
    return {"buildings": [str(b) for b in roomy],
            "enterprises": [str(e) for e in enterprises["enterprise_id"]]}  # fmt: skip


def measure(db: str, store: Path, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    with Repository(db) as repo:
        key = create_key(repo, role="admin", created=datetime.now(UTC))
    world = world_of(db)
    started = time.monotonic()
    # The readers are one key: lift its rate limit (50/s), which fast reads would hit and which
    # is not what this measures.
    server = start_server(db, store, 8765, root / "server.log", workers=args.workers,
                          settings={"TENANTMATCH_RATE_LIMIT_PER_S": "100000"})  # fmt: skip
    ready_s = round(time.monotonic() - started, 1)
    base = "http://127.0.0.1:8765"
    rss = RssSampler(server.pid)
    rss.start()
    try:
        reads = Reads(base, key, world["buildings"])
        stop = threading.Event()
        pool = reads.run(args.readers, stop)
        time.sleep(5)  # warm-up: every worker has answered a few
        reads.take()
        time.sleep(args.seconds)
        quiet = reads.take()
        writes = Writes(base, key, args.writes_per_s, world)
        writes.start()
        time.sleep(args.seconds)
        writes.stop.set()
        writes.join()
        time.sleep(3)  # the last writes' reads
        busy = reads.take()
        stop.set()
        for thread in pool:
            thread.join()
    finally:
        rss.stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    no_writes, with_writes = read_summary(quiet), read_summary(busy)
    statuses = Counter(f"{kind} {status}" for _, _, kind, status in writes.rows)
    failed = sum(n for s, n in statuses.items() if not s.split()[1].startswith("2")
                 and s != "move_in 409")  # fmt: skip
    ratio = None
    if no_writes["p99_ms"] and with_writes["p99_ms"]:
        ratio = round(with_writes["p99_ms"] / no_writes["p99_ms"], 2)
    return {"ready_s": ready_s, "reads_alone": no_writes, "reads_with_writes": with_writes,
            "read_p99_ratio": ratio,
            "writes": {"count": len(writes.rows), "per_s": args.writes_per_s,
                       "statuses": dict(statuses), "errors": failed},
            "freshness": lag_summary(busy, writes.rows),
            "peak_rss_mib": round(rss.peak_mib)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--db", help="serve this database instead of a new demo")
    parser.add_argument("--store", type=Path, help="its model store (with --db)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--writes-per-s", type=float, default=5)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tm-live-"))
    try:
        if args.db:
            db, store = args.db, args.store
        else:
            db, store, _, _ = prepare(root, args.enterprises)
        with Repository(db) as repo:
            enterprises = repo.counts()["enterprises"]
        result = {"benchmark": "live", "date": date.today().isoformat(),
                  "enterprises": enterprises, "readers": args.readers, "workers": args.workers,
                  "seconds": args.seconds, **measure(db, store, args, root)}  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    tag = f"_{args.tag}" if args.tag else ""
    out = RESULTS / f"live_{result['date']}_n{enterprises}{tag}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
