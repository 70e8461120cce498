"""Faults the service survives: the database unreachable (PostgreSQL behind a proxy that is
stopped: 503 + Retry-After, no internals, and answers again once it is back, without a
restart); a stopped (SIGSTOP) worker replaced by the manager while every new request is
answered by the others."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tenantmatch.api import Settings, create_app
from tenantmatch.store import Repository, create_key, import_dataset
from tests.api.conftest import World, free_port, tenantmatch_serve
from tests.api.test_server import _n_workers, _started, _until


class Proxy:
    """A TCP forwarder from a loopback port to ``upstream``: ``stop()`` closes the port and
    every connection (the database is unreachable), ``start()`` opens the same port again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with suppress(OSError):
                assert sock is not None
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                assert sock is not None
                sock.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_unreachable_database_answers_503_with_retry_after_and_recovers(
    db_url: str, world: World, tmp_path: Path
) -> None:
    repo = Repository(db_url)
    import_dataset(world.folder, repo)
    key = create_key(repo, role="viewer", created=datetime.now(UTC))
    building = str(repo.load_table("buildings")["building_id"].iloc[0])
    repo.close()
    parsed = make_url(db_url)
    proxy = Proxy((str(parsed.host), int(parsed.port or 5432)))
    proxy.start()
    proxied = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(db=proxied, models=world.models, jobs_dir=tmp_path / "jobs",
                        json_logs=False, preload=False)  # fmt: skip
    headers = {"X-API-Key": key}
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/v1/buildings/{building}", headers=headers).status_code == 200
        proxy.stop()
        time.sleep(settings.key_cache_seconds + 0.1)  # the key is looked up again too
        answers = [client.get(f"/v1/buildings/{building}", headers=headers),
                   client.get("/readyz")]  # fmt: skip
        proxy.start()
        recovered = client.get(f"/v1/buildings/{building}", headers=headers)
    proxy.stop()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["retry-after"]) >= 1
        assert "SELECT" not in answer.text and str(proxy.port) not in answer.text
    assert recovered.status_code == 200  # back without a restart


def test_a_stopped_worker_is_replaced_and_requests_keep_being_answered(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANTMATCH_WORKER_TIMEOUT_S", "10")
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        hung, other = _n_workers(served.process, 2)
        _until(lambda: _started(tmp_path) == 2)
        hung.suspend()
        # new connections go to the worker that still accepts
        statuses = [httpx.get(f"{served.base}/healthz", timeout=10).status_code
                    for _ in range(20)]  # fmt: skip
        assert statuses == [200] * 20
        _until(lambda: not hung.is_running() or hung.status() == psutil.STATUS_ZOMBIE, 60)
        pids = {w.pid for w in _n_workers(served.process, 2)}
        assert other.pid in pids and hung.pid not in pids
        headers = {"X-API-Key": served.key}
        for _ in range(10):
            answer = httpx.get(f"{served.base}/v1/buildings/{served.building}", headers=headers,
                               timeout=30)  # fmt: skip
            assert answer.status_code == 200
    assert served.process.returncode == 0
