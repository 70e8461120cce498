"""Connection limits of ``tenantmatch serve`` (api.protocol): a huge request head gets 431, too
many headers 400, an idle connection and a slowloris drip are closed after the read deadline,
ordinary and keep-alive requests pass; a worker whose event loop stalls exits (api.liveness)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tenantmatch.api.liveness import LoopWatchdog
from tenantmatch.api.protocol import GuardedConfig
from tenantmatch.api.server import PROTOCOL
from tests.api.conftest import free_port


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    config = GuardedConfig(_app, host="127.0.0.1", port=port, http=PROTOCOL, lifespan="off",
                           h11_max_incomplete_event_size=8 * 1024, read_timeout_s=1.0,
                           log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        return False


def test_an_ordinary_request_and_a_keep_alive_one_pass(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_request_head_over_the_limit_gets_431(port: int) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2_000_000 + b"\r\n\r\n"
    try:
        answer = _exchange(port, head)
    except (ConnectionResetError, BrokenPipeError):
        return  # closed while we still sent: refused all the same
    assert answer.startswith(b"HTTP/1.1 431")


def test_more_headers_than_allowed_get_400(port: int) -> None:
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 400")


def test_an_idle_connection_is_closed_after_the_read_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert _closed_within(sock, 3.0)


def test_a_slowloris_drip_is_closed_after_the_read_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed_within(sock, 0.2):
                closed = True
                break
        assert closed and time.monotonic() - started < 3.0


def test_a_stalled_event_loop_trips_the_watchdog() -> None:
    tripped = threading.Event()

    async def stall() -> None:
        watchdog = LoopWatchdog(timeout_s=2.5, on_hung=tripped.set)
        watchdog.start()
        await asyncio.sleep(3.5)  # a running loop: no trip
        assert not tripped.is_set()
        time.sleep(5.0)  # the loop is blocked
        watchdog.stop()

    asyncio.run(stall())
    assert tripped.is_set()
