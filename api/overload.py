"""Overload protection of one worker: it sheds (429, 503 with ``Retry-After``) instead of stalling.

``OverloadMiddleware`` (pure ASGI, outside the routes) does, in order:

1. a token bucket per API key id (read from the ``X-API-Key`` header's shape, no database hit):
   over ``rate_limit_per_s`` sustained / ``rate_limit_burst`` at once, 429 + ``Retry-After``;
2. for the upload route, the admin key check *before* the multipart body is read (the same
   :class:`store.KeyCache` and rule as the routes' dependency): 401/403 without reading 50 MiB;
3. admission of expensive requests (shortlists, chain leads, outlooks) and heavy ones (fill
   plans, imports, retraining) through a :class:`Gate` each: a few run, a few wait up to
   ``overload_wait_s``, the rest get 503 + ``Retry-After`` at once;
4. a ``Retry-After`` on every other 503 (database or model unavailable), so clients back off.

Cheap reads are never gated. Heavy routes run their work on a thread pool of their own
(:func:`in_heavy_pool`, ``heavy_concurrency`` threads), so a slow fill plan never takes the
threads FastAPI runs the cheap sync routes on (anyio's default limiter, 40 threads).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from cachetools import LRUCache
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantmatch.api.errors import ApiError, error_body, forbidden, unauthorized
from tenantmatch.api.settings import Settings
from tenantmatch.store import KeyCache, Repository, Role, has_role, parse_key

T = TypeVar("T")
IMPORT_PATH = "/v1/admin/import"
_ID = r"[^/]+"


class Cost(Enum):
    """How much a request costs a worker: cheap ones are never queued."""

    CHEAP = "cheap"
    EXPENSIVE = "expensive"
    HEAVY = "heavy"


# (method, path pattern) -> cost; anything else is cheap
ROUTE_COSTS: tuple[tuple[str, re.Pattern[str], Cost], ...] = tuple(
    (method, re.compile(pattern), cost)
    for method, pattern, cost in (
        ("GET", rf"/v1/buildings/{_ID}/shortlist", Cost.EXPENSIVE),
        ("GET", rf"/v1/enterprises/{_ID}/shortlist", Cost.EXPENSIVE),
        ("GET", rf"/v1/buildings/{_ID}/chain-leads", Cost.EXPENSIVE),
        ("GET", rf"/v1/buildings/{_ID}/at-risk-tenants", Cost.EXPENSIVE),
        ("GET", r"/v1/stats/outlook", Cost.EXPENSIVE),
        ("POST", rf"/v1/buildings/{_ID}/plan", Cost.HEAVY),
        ("POST", IMPORT_PATH, Cost.HEAVY),
        ("POST", r"/v1/admin/retrain", Cost.HEAVY),
    )
)


def route_cost(method: str, path: str) -> Cost:
    """The cost class of a request by its method and raw path."""
    for route_method, pattern, cost in ROUTE_COSTS:
        if method == route_method and pattern.fullmatch(path):
            return cost
    return Cost.CHEAP


class Gate:
    """At most ``slots`` requests inside, at most ``queue`` waiting (each up to ``wait_s``).

    Lives on one event loop (a worker's); a slot freed is handed to the oldest waiter."""

    def __init__(self, *, slots: int, queue: int, wait_s: float) -> None:
        self.slots, self.queue, self.wait_s = slots, queue, wait_s
        self.busy = 0
        self._waiters: deque[anyio.Event] = deque()

    async def enter(self) -> bool:
        """True once a slot is held (call :meth:`leave` after), False when the request is shed."""
        if self.busy < self.slots and not self._waiters:
            self.busy += 1
            return True
        if len(self._waiters) >= self.queue:
            return False
        handed = anyio.Event()
        self._waiters.append(handed)
        try:
            with anyio.move_on_after(self.wait_s):
                await handed.wait()
        except BaseException:  # cancelled (client gone): give back a slot handed meanwhile
            self._drop(handed)
            raise
        if handed.is_set():
            return True
        self._waiters.remove(handed)
        return False

    def _drop(self, handed: anyio.Event) -> None:
        if handed.is_set():
            self.leave()
        else:
            self._waiters.remove(handed)

    def leave(self) -> None:
        """Free a slot: to the oldest waiter if any (``busy`` unchanged), else back."""
        if self._waiters:
            self._waiters.popleft().set()
        else:
            self.busy -= 1


class TokenBuckets:
    """A token bucket per key id: ``rate`` tokens a second up to ``burst``; ``rate=0`` is off."""

    def __init__(
        self, *, rate: float, burst: int, maxsize: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize)

    def take(self, key_id: str) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, then = self._buckets.get(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[key_id] = (tokens - 1, now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (1 - tokens) / self.rate


class OverloadMiddleware:
    """Rate limits, upload authentication before the body, admission gates, Retry-After."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.retry_after_s = settings.retry_after_s
        self.buckets = TokenBuckets(rate=settings.rate_limit_per_s, burst=settings.rate_limit_burst)
        wait = settings.overload_wait_s
        self.gates = {
            Cost.EXPENSIVE: Gate(slots=settings.expensive_concurrency,
                                 queue=settings.overload_queue, wait_s=wait),
            Cost.HEAVY: Gate(slots=settings.heavy_concurrency,
                             queue=settings.overload_queue, wait_s=wait),
        }  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        parsed = parse_key(headers.get("x-api-key"))
        if parsed is not None:
            wait_s = self.buckets.take(parsed[0])
            if wait_s > 0:
                await _refuse(send, 429, "rate_limited",
                              "too many requests with this API key; retry later",
                              retry_after=math.ceil(wait_s))  # fmt: skip
                return
        cost = route_cost(scope["method"], scope["path"])
        if cost is Cost.HEAVY and scope["path"] == IMPORT_PATH:
            refusal = await _upload_refusal(scope, headers.get("x-api-key"))
            if refusal is not None:
                await _refuse(send, refusal.status_code, refusal.code, str(refusal.detail),
                              headers=refusal.headers)  # fmt: skip
                return
        send = self._with_retry_after(send)
        gate = self.gates.get(cost)
        if gate is None:
            await self.app(scope, receive, send)
            return
        if not await gate.enter():
            await _refuse(send, 503, "overloaded",
                          "the service is busy with requests like this one; retry later",
                          retry_after=self.retry_after_s)  # fmt: skip
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()

    def _with_retry_after(self, send: Send) -> Send:
        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = MutableHeaders(scope=message)
                headers.setdefault("retry-after", str(self.retry_after_s))
            await send(message)

        return send_with_retry_after


async def _upload_refusal(scope: Scope, presented: str | None) -> ApiError | None:
    """The 401/403 of the upload route, decided before its body is read; None to go on."""
    state = scope["app"].state
    keys: KeyCache | None = getattr(state, "keys", None)
    repo: Repository | None = getattr(state, "repository", None)
    if keys is None or repo is None:  # app not started: the route's own check answers
        return None
    principal = keys.cached(presented)
    if principal is None:
        principal = await run_in_threadpool(keys.authenticate, repo, presented)
    if principal is None:
        return unauthorized()
    if not has_role(principal, Role.ADMIN):
        return forbidden(principal.role, Role.ADMIN)
    return None


async def _refuse(
    send: Send, status: int, code: str, message: str, *,
    retry_after: int | None = None, headers: Mapping[str, str] | None = None,
) -> None:  # fmt: skip
    body = json.dumps(error_body(code, message), ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        raw.append((b"retry-after", str(max(1, retry_after)).encode()))
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def heavy_limiter(settings: Settings) -> anyio.CapacityLimiter:
    """The thread pool of the heavy routes (create it on the worker's event loop)."""
    return anyio.CapacityLimiter(settings.heavy_concurrency)


async def in_heavy_pool(request: Request, fn: Callable[..., T], /, *args: Any) -> T:
    """``fn(*args)`` on the heavy routes' own threads (``app.state.heavy_threads``), never on
    the threads of the cheap sync routes."""
    limiter: anyio.CapacityLimiter = request.app.state.heavy_threads
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
