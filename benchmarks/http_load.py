"""HTTP load on loopback: ``tenantmatch serve`` with 2 uvicorn workers, an asyncio httpx load
generator (bounded in requests and time) on ``GET /v1/buildings/{id}/shortlist``.

Two workloads after a warm-up: "distinct" (every request another building, so every answer is
scored: the engine's cold path) and "repeated" (requests over a working set of buildings, as
staff query the towers they work on; the engine's result cache answers repeats until the data
or the model changes). Reports req/s, latency p50/p95/p99, error counts by kind, and the
server's peak RSS (sum over its process tree, sampled).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
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
HOT_SET = 300  # buildings a city's promotion staff work on in the "repeated" workload


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
    client: httpx.AsyncClient, ids: list[str], *, concurrency: int, time_limit_s: float, key: str
) -> dict[str, Any]:
    """Send GETs for ``ids`` with ``concurrency`` in flight until done or out of time."""
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

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {
        "requests": len(times),
        "wall_s": wall,
        "req_per_s": len(times) / wall,
        "errors": errors,
        "error_count": sum(errors.values()),
        "latency": percentiles(times),
    }


async def _run(args: dict[str, Any], *, port: int, key: str, server: subprocess.Popen) -> dict:
    ids = (
        pd.read_csv(Path(args["db"]).parent / "world" / "buildings.csv", usecols=["building_id"])[
            "building_id"
        ]
        .astype(str)
        .tolist()
    )
    rng = np.random.default_rng(0)
    limits = httpx.Limits(max_connections=int(args["concurrency"]) + 4)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=120.0, limits=limits
    ) as client:
        alive_s = await _wait_ready(client, server=server)
        warm_start = time.perf_counter()
        warm = await _load(
            client,
            list(rng.choice(ids, WARM_REQUESTS)),
            concurrency=8,
            time_limit_s=READY_TIMEOUT_S,
            key=key,
        )
        warm_s = time.perf_counter() - warm_start
        n = int(args["requests"])
        distinct = [str(x) for x in rng.permutation(ids)[: min(n, len(ids))]]
        concurrency, limit_s = int(args["concurrency"]), float(args["time_limit_s"])
        cold = await _load(client, distinct, concurrency=concurrency, time_limit_s=limit_s, key=key)
        hot_ids = rng.choice(ids, min(HOT_SET, len(ids)), replace=False)
        repeated = [str(x) for x in rng.choice(hot_ids, n)]
        hot = await _load(client, repeated, concurrency=concurrency, time_limit_s=limit_s, key=key)
    return {
        "alive_s": alive_s,
        "warmup_s": warm_s,
        "warmup_errors": warm["errors"],
        "distinct": {"workload": "every request another building (nothing cached)", **cold},
        "repeated": {
            "workload": f"{n} requests over {len(hot_ids)} buildings, first answers computed "
            "in the run (each worker caches its own)",
            **hot,
        },
    }


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Start the server, load it, stop it; args db (file), store, requests, concurrency,
    time_limit_s."""
    db = f"sqlite:///{Path(args['db']).resolve()}"
    key = _viewer_key(db, args["store"])
    port = _free_port()
    cmd = [
        _tool(),
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        "--db",
        db,
        "--models",
        args["store"],
    ]
    env = {**os.environ, "TENANTMATCH_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    try:
        result = asyncio.run(_run(args, port=port, key=key, server=server))
        result["server_rss_mb_after"] = _tree_rss_mb(psutil.Process(server.pid))
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the session this stage started
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            _, err = server.communicate()
    result["server_stderr_tail"] = err.decode(errors="replace")[-400:] if err else ""
    return {"workers": 2, "concurrency": int(args["concurrency"]), **result}
