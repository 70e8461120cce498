"""HTTP load on loopback: ``tenantmatch serve`` with 2 uvicorn workers, wrk (``apt-get install
wrk``; one thread, driven by ``wrk_shortlists.lua``, ``DURATION_S`` per workload) on
``GET /v1/buildings/{id}/shortlist?k=50``.

The server runs on a scratch copy of the database (the benchmark adds a key and audit rows).
Warm-up: ``WARM_REQUESTS`` random buildings, 8 at a time, then until the server is quiet (both
workers have loaded the data and compiled the model; in runs up to 9f59670 the server was still
loading during the distinct workload: 27-32 ms of server CPU per request, 17 since); those
buildings are left out of every workload below. Then, in order:

- "distinct": every request another building, so every answer is scored (the cold path);
- "repeated": requests over a working set of ``HOT_SET`` buildings none of which was asked
  before, as staff query the towers they work on: the first answers are scored in the run, the
  repeats come from the result cache (until the data or the model changes);
- "cached": the same working set again, now answered from the cache: the fixed cost per request
  (authentication, audit, freshness check, serving the stored answer).

Each sends the ids of its list in order for ``DURATION_S`` (distinct: never one twice unless
the list runs out, reported as ``repeats``), then pauses ``SETTLE_S`` so the server finishes
the answers still in flight before the next workload. Each reports req/s, latency
p50/p95/p99, error counts by kind (connect, read, write, timeout, and ``status``: an answer
other than 2xx/3xx), the server's and wrk's CPU ms per request; the server's RSS is summed
over its process tree at the end. ``python -m benchmarks.http_load`` appends one labelled run
to a JSON file under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from benchmarks.run import machine

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 900.0
WARM_REQUESTS = 40
WARM_CONCURRENCY = 8
QUIET_CORES = 0.1  # CPU seconds per second of the server when the warm-up is over
# Each workload runs this long; "distinct" must not run out of ids in it (at 4,000 ids, not
# below 4,000 / 15 = 266 req/s: a faster server is reported with its repeats).
DURATION_S = 15.0
HOT_SET = 300  # buildings a city's promotion staff work on in the "repeated" workload
STDERR_TAIL_CHARS = 4000  # of the server's log kept in the result
SETTLE_S = 3.0  # between workloads: answers abandoned in flight finish meanwhile
CONNECTIONS_AFTER_S = 3.0  # into a workload, when the connections per worker are counted
WRK_SCRIPT = Path(__file__).with_name("wrk_shortlists.lua")


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


def _wait_ready(port: int, *, server: subprocess.Popen) -> float:
    """Seconds until ``/healthz`` answers 200; RuntimeError if the server exits or times out."""
    start = time.perf_counter()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
        while time.perf_counter() - start < READY_TIMEOUT_S:
            if server.poll() is not None:
                raise RuntimeError(f"server exited with code {server.returncode}")
            try:
                if client.get("/healthz").status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    raise RuntimeError(f"server not alive after {READY_TIMEOUT_S} s")


def _warm_up(port: int, ids: list[str], *, key: str) -> dict[str, int]:
    """GET each of ``ids`` once, ``WARM_CONCURRENCY`` at a time; error counts by kind."""
    errors: dict[str, int] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=READY_TIMEOUT_S) as client:

        def get(building: str) -> str | None:
            try:
                r = client.get(f"/v1/buildings/{building}/shortlist", params={"k": 50},
                               headers={"X-API-Key": key})  # fmt: skip
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return None if r.status_code == 200 else f"http_{r.status_code}"

        with ThreadPoolExecutor(WARM_CONCURRENCY) as pool:
            for kind in pool.map(get, ids):
                if kind is not None:
                    errors[kind] = errors.get(kind, 0) + 1
    return errors


def _wait_quiet(server: psutil.Process) -> None:
    """Until the server's process tree uses under ``QUIET_CORES`` of the CPU over a second:
    every worker has loaded the data and compiled the model (it does so before it takes
    requests), not only those the warm-up reached, and has kept stage 1 of every building
    (``TENANTMATCH_PRECOMPUTE_CANDIDATES``, in the background): the steady state measured."""
    start = time.perf_counter()
    while time.perf_counter() - start < READY_TIMEOUT_S:
        before = _tree_cpu_s(server)
        time.sleep(1.0)
        if _tree_cpu_s(server) - before < QUIET_CORES:
            return
    raise RuntimeError(f"server still busy {READY_TIMEOUT_S} s after the warm-up")


def _wrk(
    port: int, ids: list[str], *, concurrency: int, duration_s: float, key: str,
    server: psutil.Process,
) -> dict[str, Any]:  # fmt: skip
    """GET the shortlists of ``ids`` in their order for ``duration_s`` (should they run out,
    from the start again: ``repeats`` counts those), ``concurrency`` in flight, with wrk: a C
    load generator (the asyncio httpx one cost 2-4 ms of the two cores per request, more than
    a cached answer). CPU ms per request of the server and of the load generator are reported
    too: on a shared machine they depend far less on the other load than req/s does. Then
    pauses ``SETTLE_S``, so the answers still in flight do not count in the next run."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found: install it (Debian: apt-get install -y wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as listing:
        listing.write("\n".join(ids) + "\n")
        listing.flush()
        env = {**os.environ, "TM_IDS": listing.name, "TM_KEY": key}
        cmd = [wrk, "-t1", f"-c{concurrency}", f"-d{int(duration_s)}s", "--timeout", "120s",
               "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}"]  # fmt: skip
        server_cpu = _tree_cpu_s(server)
        client_cpu = _children_cpu_s()
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) as running:  # fmt: skip
            time.sleep(min(CONNECTIONS_AFTER_S, duration_s / 2))
            split = _connections_per_worker(server, port=port)
            stdout, stderr = running.communicate()
        proc = subprocess.CompletedProcess(cmd, running.returncode, stdout, stderr)
        client_cpu = _children_cpu_s() - client_cpu
    server_cpu = _tree_cpu_s(server) - server_cpu
    time.sleep(SETTLE_S)
    summary = _wrk_summary(proc)
    served = max(summary["requests"], 1)
    wall = summary["duration_us"] / 1e6
    errors = {kind: n for kind, n in summary["errors"].items() if n}
    ms = {name: us / 1000 for name, us in summary["latency_us"].items()}
    return {
        "requests": summary["requests"],
        "ids": summary["ids"],
        "repeats": summary["repeats"],
        "wall_s": wall,
        "req_per_s": summary["requests"] / wall if wall > 0 else float("nan"),
        "errors": errors,
        "error_count": sum(errors.values()),
        "latency": {"n": summary["requests"], **{f"{name}_ms": v for name, v in ms.items()}},
        "server_cpu_ms_per_request": 1000 * server_cpu / served,
        "client_cpu_ms_per_request": 1000 * client_cpu / served,
        "connections_per_worker": split,
    }


def _connections_per_worker(server: psutil.Process, *, port: int) -> list[int]:
    """Established connections on ``port`` held by each worker process, most first. A worker
    keeps a connection for the whole run and scores in batches the misses its connections
    queue, so the split matters: one run on uvicorn's shared socket split 29/3; see
    ``results/http-supervisor-5000.json`` for uvicorn's manager against a socket per worker."""
    counts = []
    for worker in server.children(recursive=True):
        try:
            held = worker.net_connections(kind="tcp")
        except psutil.Error:
            continue
        counts.append(sum(1 for c in held if c.status == psutil.CONN_ESTABLISHED
                          and c.laddr and c.laddr.port == port))  # fmt: skip
    return sorted((c for c in counts if c), reverse=True)


def _children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk_summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON line the script's ``done`` prints; RuntimeError with wrk's output if none."""
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    output = proc.stdout[-600:] + proc.stderr[-600:]
    raise RuntimeError(f"wrk exited with {proc.returncode}: {output}")


def _building_ids(db_file: Path) -> list[str]:
    """Every building id of the world's database, in a fixed order (the workloads shuffle)."""
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT building_id FROM buildings ORDER BY building_id").fetchall()
    return [str(row[0]) for row in rows]


def _run(args: dict[str, Any], *, port: int, key: str, server: subprocess.Popen) -> dict:
    ids = _building_ids(Path(args["db"]))
    rng = np.random.default_rng(0)
    order = [str(x) for x in rng.permutation(ids)]
    warm_ids, rest = order[:WARM_REQUESTS], order[WARM_REQUESTS:]
    n, hot_n = int(args["requests"]), min(HOT_SET, len(rest) // 2)
    hot_ids, distinct = rest[:hot_n], rest[hot_n : hot_n + n]
    repeated = [str(x) for x in rng.choice(hot_ids, n)]
    again = [str(x) for x in rng.choice(hot_ids, n)]
    load = {
        "concurrency": int(args["concurrency"]),
        "duration_s": float(args["duration_s"]),
        "key": key,
        "server": psutil.Process(server.pid),
    }
    alive_s = _wait_ready(port, server=server)
    warm_start = time.perf_counter()
    warm_errors = _warm_up(port, warm_ids, key=key)
    _wait_quiet(load["server"])
    warm_s = time.perf_counter() - warm_start
    cold, hot, cached = (_wrk(port, w, **load) for w in (distinct, repeated, again))
    return {
        "load_generator": "wrk, 1 thread, one request per id in the workload's order",
        "alive_s": alive_s,
        "warmup": f"{len(warm_ids)} random buildings, {WARM_CONCURRENCY} at a time, then until "
        "the server is quiet (every worker loaded); left out of the workloads",
        "warmup_s": warm_s,
        "warmup_errors": warm_errors,
        "distinct": {
            "workload": f"{len(distinct)} buildings in turn, each asked once (every answer "
            "scored) unless the list runs out (see repeats)",
            **cold,
        },
        "repeated": {
            "workload": f"a list of {n} draws from {hot_n} buildings not asked before, in "
            "turn: first answers scored in the run, repeats from the result cache",
            **hot,
        },
        "cached": {
            "workload": f"{n} other draws from the same {hot_n} buildings (answers cached)",
            **cached,
        },
    }


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Start the server on a scratch copy of the database, load it, stop it; args db (an SQLite
    file), store, requests, concurrency, duration_s."""
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
            result = _run(args, port=port, key=key, server=server)
            result["server_rss_mb_after"] = _tree_rss_mb(psutil.Process(server.pid))
        except RuntimeError as exc:  # the log goes with the scratch folder: keep its tail
            tail = log.read_text(errors="replace")[-STDERR_TAIL_CHARS:]
            raise RuntimeError(f"{exc}; the server's log ends:\n{tail}") from exc
        finally:
            with contextlib.suppress(ProcessLookupError):  # the server may have exited
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
        "duration_s": DURATION_S,
    }
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result = measure(args)
    run = {"label": ns.label, "commit": _commit(code), "code": str(code), "started": started,
           "machine": machine(), "load_avg_end": os.getloadavg(), **result}  # fmt: skip
    out = ns.out or root / "results" / f"http-{ns.size}.json"
    report = json.loads(out.read_text()) if out.exists() else {"enterprises": ns.size, "runs": []}
    report["runs"].append(run)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    for name in ("distinct", "repeated", "cached"):
        w = result[name]
        print(f"{ns.label} {name}: {w['req_per_s']:.1f} req/s, p50 {w['latency']['p50_ms']:.0f} "
              f"p95 {w['latency']['p95_ms']:.0f} p99 {w['latency']['p99_ms']:.0f} ms, "
              f"errors {w['error_count']}, server CPU {w['server_cpu_ms_per_request']:.2f} ms/req, "
              f"load generator {w['client_cpu_ms_per_request']:.2f}, connections per worker "
              f"{w['connections_per_worker']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
