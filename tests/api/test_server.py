"""``tenantmatch serve``: with several workers a listening socket per worker (the kernel spreads
the connections), a failed worker replaced, SIGHUP / SIGTTIN / SIGTTOU as with uvicorn; with any
number, a taken port refused as bad input (exit 2) and an app that cannot start ending the server
with exit 1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tenantmatch.api.server import PortInUseError, check_port_free, worker_socket
from tests.api.conftest import World, free_port, serve_command, tenantmatch_serve, wait_ready

CONNECTIONS = 32
LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="SO_REUSEPORT balances on Linux")  # fmt: skip


def _workers(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The server's worker processes: its children that listen on a TCP socket."""
    found = []
    for child in psutil.Process(server.pid).children():
        try:
            if any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _n_workers(server: subprocess.Popen[bytes], n: int) -> list[psutil.Process]:
    """The server's workers, once there are ``n`` of them listening."""
    return list(_until(lambda: (w := _workers(server)) and len(w) == n and w))


def _listening_inodes(worker: psutil.Process, port: int) -> set[str]:
    """The sockets (``socket:[inode]``) ``worker`` listens on at ``port``."""
    fds = [c.fd for c in worker.net_connections("tcp")
           if c.status == psutil.CONN_LISTEN and c.laddr.port == port]  # fmt: skip
    return {os.readlink(f"/proc/{worker.pid}/fd/{fd}") for fd in fds}


def _held(worker: psutil.Process, port: int) -> int:
    return sum(1 for c in worker.net_connections("tcp")
               if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)  # fmt: skip


def _until(condition, timeout_s: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@LINUX_ONLY
def test_each_worker_listens_on_its_own_socket_and_a_burst_of_connections_is_spread(
    world: World, tmp_path: Path
) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        workers = _n_workers(served.process, 2)
        sockets = [_listening_inodes(w, served.port) for w in workers]
        assert all(len(s) == 1 for s in sockets) and sockets[0] != sockets[1]
        # 32 connections opened at once, as a load generator does: each is accepted by the
        # worker its hash picks (uvicorn's shared socket once gave one worker 29 of them)
        clients = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(CONNECTIONS)]
        try:
            held = _until(lambda: (h := [_held(w, served.port) for w in workers])
                          and sum(h) == CONNECTIONS and h)  # fmt: skip
            # Binomial(32, 1/2): a worker with fewer than 4 has a chance of about 1e-5
            assert min(held) >= 4, held
        finally:
            for client in clients:
                client.close()
    assert served.process.returncode == 0


@LINUX_ONLY
def test_a_worker_that_dies_is_replaced_and_the_other_keeps_answering(
    world: World, tmp_path: Path
) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        workers = _n_workers(served.process, 2)
        victim, survivor = workers
        victim.kill()
        victim.wait(timeout=30)
        # its socket went with it: every new connection reaches the survivor meanwhile
        for _ in range(8):
            assert httpx.get(f"{served.base}/healthz", timeout=30).status_code == 200
        replaced = _n_workers(served.process, 2)
        pids = {w.pid for w in replaced}
        assert survivor.pid in pids and victim.pid not in pids
        wait_ready(served.base, served.process)
    assert served.process.returncode == 0


@LINUX_ONLY
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
        # a connection queued on a closing socket can be reset (SO_REUSEPORT hands it no
        # other worker): rare, but possible
        assert len(answers) > 20 and answers.count(200) >= 0.9 * len(answers), answers
        assert all(a == 200 for a in answers if isinstance(a, int))
    assert served.process.returncode == 0


@LINUX_ONLY
def test_sigttin_adds_a_worker_and_sigttou_removes_one(world: World, tmp_path: Path) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        _n_workers(served.process, 2)
        os.kill(served.process.pid, signal.SIGTTIN)
        three = _n_workers(served.process, 3)
        assert len({next(iter(_listening_inodes(w, served.port))) for w in three}) == 3
        os.kill(served.process.pid, signal.SIGTTOU)
        _n_workers(served.process, 2)
        wait_ready(served.base, served.process)
    assert served.process.returncode == 0


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
    assert f"cannot serve on 127.0.0.1:{port}" in run.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_an_app_that_cannot_start_stops_the_server_with_exit_code_1(
    tmp_path: Path, workers: int
) -> None:
    # nothing listens on port 1: every worker's app fails at startup; none is restarted
    db = "postgresql+psycopg://nobody@127.0.0.1:1/tenantmatch"
    run = _serve(free_port(), workers=workers, db=db, models=tmp_path / "models")
    assert run.returncode == 1  # the interface's "anything else", not uvicorn's own 3
    assert "error: the service could not start" in run.stderr
    assert 1 <= run.stderr.count("Started server process") <= workers


def _serve(port: int, *, workers: int, db: str, models: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(serve_command(port, workers=workers, db=db, models=models),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_worker_sockets_share_a_port_and_keep_everyone_else_out() -> None:
    port = free_port()
    first, second = worker_socket("127.0.0.1", port), worker_socket("127.0.0.1", port)
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
        first.listen()  # as a serving worker's socket
        second.listen()
        with pytest.raises(PortInUseError, match=f"cannot serve on 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)
    finally:
        first.close()
        second.close()
    check_port_free("127.0.0.1", port)  # free again: no error


def test_sigterm_to_the_supervisor_alone_stops_its_workers(world: World, tmp_path: Path) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        workers = _n_workers(served.process, 2)
        os.kill(served.process.pid, signal.SIGTERM)  # not to the session: the workers must
        served.process.wait(timeout=60)  # hear it from the supervisor
        assert served.process.returncode == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
