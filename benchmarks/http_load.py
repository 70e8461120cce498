"""HTTP load on loopback: ``tenantmatch serve`` with 2 uvicorn workers, an asyncio httpx load
generator (bounded in requests and time) on ``GET /v1/buildings/{id}/shortlist?k=50``.

The server runs on a scratch copy of the database (the benchmark adds a key and audit rows).
Warm-up: ``WARM_REQUESTS`` random buildings, 8 at a time, until both workers have loaded the data
and compiled the model; those buildings are left out of every workload below. Then, in order:

- "distinct": every request another building, so every answer is scored (the cold path);
- "repeated": requests over a working set of ``HOT_SET`` buildings none of which was asked
  before, as staff query the towers they work on: the first answers are scored in the run, the
  repeats come from the result cache (until the data or the model changes);
- "cached": the same working set again, now answered from the cache: the fixed cost per request
  (authentication, audit, freshness check, serving the stored answer).

Each reports req/s, latency p50/p95/p99, error counts by kind; the server's RSS is summed over
its process tree at the end. ``python -m benchmarks.http_load`` appends one labelled run to a
JSON file under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil

from benchmarks.latency import percentiles

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 900.0
WARM_REQUESTS = 40
TIME_LIMIT_S = 300.0  # per workload
HOT_SET = 300  # buildings a city's promotion staff work on in the "repeated" workload
STDERR_TAIL_CHARS = 4000  # of the server's log kept in the result


def _tool() -> str:
    return str(Path(sys.executable).parent / "tenantmatch")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _viewer_key(db: str, store: str) -> str:
    proc = subprocess.run(
        [_tool(), "keys", "create", "--role", "viewer", "--db", db, "--models", store],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def _tree_cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process and its children (the server's workers)."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _tree_rss_mb(proc: psutil.Process) -> float:
    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return float("nan")


async def _wait_ready(client: httpx.AsyncClient, *, server: subprocess.Popen) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < READY_TIMEOUT_S:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with code {server.returncode}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"server not alive after {READY_TIMEOUT_S} s")


async def _load(
    client: httpx.AsyncClient, ids: list[str], *, concurrency: int, time_limit_s: float, key: str,
    server: psutil.Process | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Send GETs for ``ids`` with ``concurrency`` in flight until done or out of time. CPU ms per
    request of the server and of this load generator are reported too: on a shared machine they
    depend far less on the other load than req/s does."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for b in ids:
        queue.put_nowait(b)
    times: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + time_limit_s

    async def worker() -> None:
        while not queue.empty() and time.perf_counter() < deadline:
            b = queue.get_nowait()
            start = time.perf_counter()
            try:
                r = await client.get(
                    f"/v1/buildings/{b}/shortlist", params={"k": 50}, headers={"X-API-Key": key}
                )
                kind = None if r.status_code == 200 else f"http_{r.status_code}"
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            times.append(time.perf_counter() - start)
            if kind:
                errors[kind] = errors.get(kind, 0) + 1

    server_cpu = _tree_cpu_s(server) if server is not None else float("nan")
    client_cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    served = max(len(times), 1)
    if server is not None:
        server_cpu = _tree_cpu_s(server) - server_cpu
    return {
        "requests": len(times),
        "wall_s": wall,
        "req_per_s": len(times) / wall,
        "errors": errors,
        "error_count": sum(errors.values()),
        "latency": percentiles(times),
        "server_cpu_ms_per_request": 1000 * server_cpu / served,
        "client_cpu_ms_per_request": 1000 * (time.process_time() - client_cpu) / served,
    }


def _building_ids(folder: Path) -> list[str]:
    frame = pd.read_csv(folder / "world" / "buildings.csv", usecols=["building_id"])
    return frame["building_id"].astype(str).tolist()


async def _run(args: dict[str, Any], *, port: int, key: str, server: subprocess.Popen) -> dict:
    ids = _building_ids(Path(args["db"]).parent)
    rng = np.random.default_rng(0)
    order = [str(x) for x in rng.permutation(ids)]
    warm_ids, rest = order[:WARM_REQUESTS], order[WARM_REQUESTS:]
    n, hot_n = int(args["requests"]), min(HOT_SET, len(rest) // 2)
    hot_ids, distinct = rest[:hot_n], rest[hot_n : hot_n + n]
    repeated = [str(x) for x in rng.choice(hot_ids, n)]
    again = [str(x) for x in rng.choice(hot_ids, n)]
    limits = httpx.Limits(max_connections=int(args["concurrency"]) + 4)
    load = {
        "concurrency": int(args["concurrency"]),
        "time_limit_s": float(args["time_limit_s"]),
        "key": key,
        "server": psutil.Process(server.pid),
    }
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=120.0, limits=limits
    ) as client:
        alive_s = await _wait_ready(client, server=server)
        warm_start = time.perf_counter()
        warm = await _load(client, warm_ids, concurrency=8, time_limit_s=READY_TIMEOUT_S, key=key)
        warm_s = time.perf_counter() - warm_start
        cold = await _load(client, distinct, **load)
        hot = await _load(client, repeated, **load)
        cached = await _load(client, again, **load)
    return {
        "alive_s": alive_s,
        "warmup": f"{len(warm_ids)} random buildings, 8 at a time (loads the data and the model "
        "in both workers); left out of the workloads",
        "warmup_s": warm_s,
        "warmup_errors": warm["errors"],
        "distinct": {
            "workload": f"{len(distinct)} requests, each another building (every answer scored)",
            **cold,
        },
        "repeated": {
            "workload": f"{n} requests over {hot_n} buildings not asked before: first answers "
            "scored in the run, repeats from the result cache",
            **hot,
        },
        "cached": {
            "workload": f"{n} requests over the same {hot_n} buildings again (answers cached)",
            **cached,
        },
    }


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Start the server on a scratch copy of the database, load it, stop it; args db (file, next
    to a ``world/`` folder), store, requests, concurrency, time_limit_s."""
    with tempfile.TemporaryDirectory(prefix="tenantmatch-http-") as scratch:
        db_file = Path(scratch) / "db.sqlite"
        shutil.copyfile(args["db"], db_file)
        result = _serve_and_load(args, db=f"sqlite:///{db_file}", log=Path(scratch) / "server.log")
    return {"workers": 2, "concurrency": int(args["concurrency"]), **result}


def _serve_and_load(args: dict[str, Any], *, db: str, log: Path) -> dict[str, Any]:
    """The load run against a server whose stderr goes to the file ``log`` (a pipe read only at
    the end would stall the server once its buffer filled); its tail is kept in the result."""
    key = _viewer_key(db, args["store"])
    port = _free_port()
    cmd = [_tool(), "serve", "--port", str(port), "--workers", "2", "--db", db,
           "--models", args["store"]]  # fmt: skip
    env = {**os.environ, "TENANTMATCH_LOG_LEVEL": "WARNING"}
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=env, start_new_session=True
        )
        try:
            result = asyncio.run(_run(args, port=port, key=key, server=server))
            result["server_rss_mb_after"] = _tree_rss_mb(psutil.Process(server.pid))
        finally:
            os.killpg(server.pid, signal.SIGTERM)  # the session this stage started
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    text = log.read_text(errors="replace")
    result["server_stderr_bytes"] = len(text.encode())
    result["server_stderr_tail"] = text[-STDERR_TAIL_CHARS:]
    return result


def _commit(code: Path) -> str:
    """The commit the server ran, marked when tracked files differ from it."""
    git = ["git", "-C", str(code)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return head.stdout.strip() + ("+uncommitted" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    """CLI: one labelled run appended to ``--out`` (a JSON object with a ``runs`` list)."""
    parser = argparse.ArgumentParser(description="HTTP load on 2 uvicorn workers (loopback).")
    parser.add_argument("--size", type=int, default=200_000, help="world: benchmarks/work/n<N>")
    parser.add_argument("--label", required=True, help="what this run measures, e.g. 'before'")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None, help="default results/http-<N>.json")
    parser.add_argument(
        "--code", type=Path, default=None,
        help="serve the code of this checkout (e.g. a clean `git worktree` of a commit) instead "
        "of this working tree, which others may be editing",
    )  # fmt: skip
    ns = parser.parse_args(argv)
    root = Path(__file__).resolve().parent
    code = (ns.code or root.parent).resolve()
    if ns.code is not None:  # the server and the key command import from there first
        paths = [str(code), os.environ.get("PYTHONPATH", "")]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    folder = root / "work" / f"n{ns.size}"
    args = {
        "db": str(folder / "db.sqlite"),
        "store": str(folder / "models"),
        "requests": ns.requests,
        "concurrency": ns.concurrency,
        "time_limit_s": TIME_LIMIT_S,
    }
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result = measure(args)
    run = {"label": ns.label, "commit": _commit(code), "code": str(code), "started": started,
           "load_avg_end": os.getloadavg(), **result}  # fmt: skip
    out = ns.out or root / "results" / f"http-{ns.size}.json"
    report = json.loads(out.read_text()) if out.exists() else {"enterprises": ns.size, "runs": []}
    report["runs"].append(run)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    for name in ("distinct", "repeated", "cached"):
        w = result[name]
        print(f"{ns.label} {name}: {w['req_per_s']:.1f} req/s, p50 {w['latency']['p50_ms']:.0f} "
              f"p95 {w['latency']['p95_ms']:.0f} p99 {w['latency']['p99_ms']:.0f} ms, "
              f"errors {w['error_count']}, server CPU {w['server_cpu_ms_per_request']:.2f} ms/req, "
              f"load generator {w['client_cpu_ms_per_request']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
