"""ASGI middleware: request id, access log and latency metrics; request body size limits (413)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantmatch.api.observability import (
    REQUEST_ID_HEADER,
    Metrics,
    accept_request_id,
    request_id_var,
)

log = logging.getLogger("tenantmatch.api.access")
UNMATCHED_ROUTE = "<unmatched>"
DATA_VERSION_HEADER = "X-Data-Version"  # the repository data_version an answer stands on
MIN_DATA_VERSION_HEADER = "X-Min-Data-Version"  # a read waits for this data version
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """The request body passed its limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes; send at most {limit}")


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/buildings/{building_id}``), never the raw path,
    so metric labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Give every request an id (X-Request-ID in and out), log it as one JSON line, time it."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        self.metrics.observe(method=scope["method"], route=route, status=status, seconds=seconds)
        log.info(
            "%s %s %d", scope["method"], route, status,
            extra={"method": scope["method"], "path": scope["path"], "route": route,
                   "status": status, "duration_ms": round(seconds * 1000, 2)},
        )  # fmt: skip


class DataVersionMiddleware:
    """A successful write's answer carries ``X-Data-Version``: the newest committed data
    version after it (its own or a later one), which a read may send back as
    ``X-Min-Data-Version`` to see the write in its shortlist."""

    def __init__(self, app: ASGIApp, *, version: Callable[[], int]) -> None:
        self.app = app
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                version = await anyio.to_thread.run_sync(self.version)
                MutableHeaders(scope=message)[DATA_VERSION_HEADER] = str(version)
            await send(message)

        await self.app(scope, receive, send_with_version)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit_for(path)`` bytes with a JSON 413, whether the size is
    declared (Content-Length) or only discovered while reading a streamed body."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, BodyTooLarge(limit))
            return
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, receive_limited, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def _send_413(send: Send, exc: BodyTooLarge) -> None:
    body = json.dumps({"error": {"code": "payload_too_large", "message": exc.detail}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
