"""``tenantmatch serve``: several workers under uvicorn's manager (a dead or hung worker replaced,
SIGHUP / SIGTTIN / SIGTTOU / SIGTERM) with one ``/metrics`` scrape counting every worker's
requests; with any number, a taken port refused as bad input (exit 2) and an app that cannot
start ending the server with exit 1."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import pytest

from tenantmatch.api.observability import MULTIPROC_DIR_ENV
from tenantmatch.store import Repository, upsert_building
from tests.api.conftest import World, free_port, serve_command, tenantmatch_serve, wait_ready

HEALTHZ_COUNT = re.compile(
    r'^tenantmatch_http_request_duration_seconds_count\{(?=[^}]*route="/healthz")'
    r'(?=[^}]*status="200")[^}]*\} (\S+)$',
    re.MULTILINE,
)


def _workers(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The server's worker processes: its children that hold a listening TCP socket."""
    found = []
    for child in psutil.Process(server.pid).children():
        try:
            if any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _n_workers(
    server: subprocess.Popen[bytes], n: int, *, timeout_s: float = 120
) -> list[psutil.Process]:
    """The server's workers, once there are ``n`` of them."""
    return list(_until(lambda: (w := _workers(server)) and len(w) == n and w, timeout_s))


def _until(condition, timeout_s: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _started(tmp: Path) -> int:
    """How many workers of the server ``tenantmatch_serve`` started in ``tmp`` have finished
    loading, as its log says."""
    return (tmp / "server.log").read_text(errors="replace").count("Application startup complete")


def _holder(workers: list[psutil.Process], *, port: int, client_port: int) -> int | None:
    """The pid of the worker that accepted the connection from ``client_port``, if any yet."""
    for worker in workers:
        for c in worker.net_connections("tcp"):
            if c.laddr.port == port and c.raddr and c.raddr.port == client_port:
                return worker.pid
    return None


def test_one_metrics_scrape_counts_the_requests_of_every_worker(
    world: World, tmp_path: Path
) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        workers = _n_workers(served.process, 2)
        folder = Path(workers[0].environ()[MULTIPROC_DIR_ENV])
        assert folder.is_dir() and (folder.stat().st_mode & 0o077) == 0  # private to the user
        # keep-alive connections, each served by the worker that accepted it, until both
        # workers hold one (the kernel's choice: usually within a few)
        per_worker: Counter[int] = Counter()
        connections: list[http.client.HTTPConnection] = []
        while len(per_worker) < 2:
            assert len(connections) < 40, "every connection went to the same worker"
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
            conn.connect()
            assert conn.sock is not None
            client_port = conn.sock.getsockname()[1]
            connections.append(conn)
            pid = _until(lambda p=client_port: _holder(workers, port=served.port, client_port=p))
            for _ in range(3):
                conn.request("GET", "/healthz")
                assert conn.getresponse().read() == b'{"status":"ok"}'
            per_worker[pid] += 3
            conn.request("GET", f"/v1/buildings/{served.building}/shortlist?k=2",
                         headers={"X-API-Key": served.key})  # fmt: skip
            answer = conn.getresponse()
            assert answer.status == 200 and answer.read()
        for conn in connections:
            conn.close()
        text = httpx.get(f"{served.base}/metrics", timeout=30).text
        (count,) = HEALTHZ_COUNT.findall(text)
        assert float(count) == sum(per_worker.values()) > max(per_worker.values())
        # each worker's state lag (issue 20): none now, one write behind after a write that no
        # request has picked up yet
        for pid in per_worker:
            assert f'tenantmatch_state_lag_versions{{pid="{pid}"}} 0.0' in text
        with Repository(f"sqlite:///{tmp_path / 'service.db'}") as repo:
            upsert_building(repo, {"building_id": served.building, "floors": 77})
        text = httpx.get(f"{served.base}/metrics", timeout=30).text
        for pid in per_worker:
            assert f'tenantmatch_state_lag_versions{{pid="{pid}"}} 1.0' in text
        assert {f"histogram_{w.pid}.db" for w in workers} <= {p.name for p in folder.iterdir()}
    assert served.process.returncode == 0
    assert not folder.exists()  # removed with the server


def test_a_worker_that_dies_is_replaced_and_the_other_keeps_answering(
    world: World, tmp_path: Path
) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        victim, survivor = _n_workers(served.process, 2)
        _until(lambda: _started(tmp_path) == 2)  # the survivor takes connections at once
        victim.kill()  # a zombie until the manager reaps it: not waited for here
        _until(lambda: not victim.is_running() or victim.status() == psutil.STATUS_ZOMBIE)
        for _ in range(8):
            assert httpx.get(f"{served.base}/healthz", timeout=30).status_code == 200
        # at once, or WORKER_TIMEOUT_S (60 s) later if it died while the manager pinged it
        pids = {w.pid for w in _n_workers(served.process, 2, timeout_s=240)}
        assert survivor.pid in pids and victim.pid not in pids
        wait_ready(served.base, served.process)
    assert served.process.returncode == 0


def test_a_worker_that_hangs_is_replaced_after_the_worker_timeout(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANTMATCH_WORKER_TIMEOUT_S", "20")  # > a busy start-up
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        hung, other = _n_workers(served.process, 2)
        hung.suspend()  # alive but silent: it answers no ping of the manager
        _until(lambda: not hung.is_running() or hung.status() == psutil.STATUS_ZOMBIE)
        pids = {w.pid for w in _n_workers(served.process, 2)}
        assert other.pid in pids and hung.pid not in pids
        wait_ready(served.base, served.process)
    assert served.process.returncode == 0


def test_sighup_replaces_the_workers_one_by_one_while_the_server_answers(
    world: World, tmp_path: Path
) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        before = {w.pid for w in _n_workers(served.process, 2)}
        answers: list[int | str] = []
        done = threading.Event()

        def ask() -> None:  # a new connection each time, as a browser's first request
            while not done.is_set():
                try:
                    answers.append(httpx.get(f"{served.base}/healthz", timeout=30).status_code)
                except httpx.TransportError as exc:
                    answers.append(type(exc).__name__)
                time.sleep(0.05)

        asker = threading.Thread(target=ask)
        asker.start()
        try:
            os.kill(served.process.pid, signal.SIGHUP)
            _until(lambda: (w := _workers(served.process)) and len(w) == 2
                   and not {x.pid for x in w} & before, timeout_s=240)  # fmt: skip
        finally:
            done.set()
            asker.join()
        # the listening socket stays open in the server process throughout; a connection an
        # old worker accepted just as it stopped can still be closed before its request
        assert len(answers) > 20 and answers.count(200) >= 0.9 * len(answers), answers
        assert all(a == 200 for a in answers if isinstance(a, int))
    assert served.process.returncode == 0


def test_sigttin_adds_a_worker_and_sigttou_removes_one(world: World, tmp_path: Path) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        two = {w.pid for w in _n_workers(served.process, 2)}
        os.kill(served.process.pid, signal.SIGTTIN)
        three = {w.pid for w in _n_workers(served.process, 3)}
        assert two < three
        os.kill(served.process.pid, signal.SIGTTOU)  # uvicorn stops the newest worker
        assert {w.pid for w in _n_workers(served.process, 2)} == two
        wait_ready(served.base, served.process)
    assert served.process.returncode == 0


def test_sigterm_to_the_server_alone_stops_its_workers(world: World, tmp_path: Path) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        workers = _n_workers(served.process, 2)
        os.kill(served.process.pid, signal.SIGTERM)  # not to the session: the workers must
        served.process.wait(timeout=60)  # hear it from the manager
        assert served.process.returncode == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


@pytest.mark.parametrize("workers", [1, 2])
def test_serving_on_a_taken_port_fails_as_bad_input(
    world: World, tmp_path: Path, workers: int
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _serve(port, workers=workers, db=f"sqlite:///{world.db_file}", models=world.models)
    assert run.returncode == 2  # the interface's "bad input"
    assert f"error: cannot serve on 127.0.0.1:{port}" in run.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_an_app_that_cannot_start_stops_the_server_with_exit_code_1(
    tmp_path: Path, workers: int
) -> None:
    # nothing listens on port 1: every worker's app fails at startup; none is restarted
    db = "postgresql+psycopg://nobody@127.0.0.1:1/tenantmatch"
    run = _serve(free_port(), workers=workers, db=db, models=tmp_path / "models")
    assert run.returncode == 1  # the interface's "anything else", not uvicorn's own 3 (or 0)
    assert "error: the service could not start" in run.stderr
    assert 1 <= run.stderr.count("Started server process") <= workers


def _serve(port: int, *, workers: int, db: str, models: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(serve_command(port, workers=workers, db=db, models=models),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
