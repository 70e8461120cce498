"""Overload (api.overload): expensive and heavy requests admitted through gates that shed with
503 + Retry-After, per-key rate limits (429 + Retry-After), cheap reads never gated, the upload
route's key checked before its body is read, and a Retry-After on every 503."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tenantmatch.api import Settings
from tenantmatch.api.overload import (
    Cost,
    Gate,
    OverloadMiddleware,
    TokenBuckets,
    route_cost,
)
from tenantmatch.store import parse_key
from tests.api.conftest import Service, World, start_service

KEY = "tm_0123456789abcdef_" + "y" * 40
OTHER_KEY = "tm_fedcba9876543210_" + "z" * 40


@pytest.mark.parametrize(
    ("method", "path", "cost"),
    [
        ("GET", "/v1/buildings/B1/shortlist", Cost.EXPENSIVE),
        ("GET", "/v1/enterprises/E1/shortlist", Cost.EXPENSIVE),
        ("GET", "/v1/buildings/B1/chain-leads", Cost.EXPENSIVE),
        ("GET", "/v1/stats/outlook", Cost.EXPENSIVE),
        ("POST", "/v1/buildings/B1/plan", Cost.HEAVY),
        ("POST", "/v1/admin/import", Cost.HEAVY),
        ("POST", "/v1/admin/retrain", Cost.HEAVY),
        ("GET", "/v1/buildings/B1", Cost.CHEAP),
        ("GET", "/v1/buildings/B1/shortlist/extra", Cost.CHEAP),
        ("POST", "/v1/buildings/B1/shortlist", Cost.CHEAP),
        ("GET", "/healthz", Cost.CHEAP),
    ],
)
def test_each_route_has_its_cost(method: str, path: str, cost: Cost) -> None:
    assert route_cost(method, path) is cost


def test_a_gate_admits_its_slots_queues_a_few_and_sheds_the_rest() -> None:
    async def scenario() -> list[str]:
        gate = Gate(slots=2, queue=1, wait_s=0.5)
        outcome: list[str] = []
        release = anyio.Event()

        async def hold(name: str) -> None:
            if await gate.enter():
                outcome.append(f"{name} in")
                await release.wait()
                gate.leave()
            else:
                outcome.append(f"{name} shed")

        async with anyio.create_task_group() as tg:
            for name in "abcd":
                tg.start_soon(hold, name)
                await anyio.sleep(0.01)
            await anyio.sleep(0.1)
            assert gate.busy == 2
            release.set()  # a and b leave: c (queued) gets a slot
        return outcome

    assert anyio.run(scenario) == ["a in", "b in", "d shed", "c in"]


def test_a_queued_request_is_shed_after_the_wait() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        gate = Gate(slots=1, queue=4, wait_s=0.2)
        assert await gate.enter()
        started = anyio.current_time()
        admitted = await gate.enter()
        waited = anyio.current_time() - started
        gate.leave()
        return admitted, waited >= 0.19, gate.busy

    assert anyio.run(scenario) == (False, True, 0)


def test_a_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)  # 1 token at 2/s
    assert buckets.take("other") == 0.0  # buckets are per key
    now[0] += 0.5
    assert buckets.take("k") == 0.0
    assert TokenBuckets(rate=0, burst=1).take("k") == 0.0  # 0: no limit


def _settings(**values: Any) -> Settings:
    return Settings(db="sqlite:///unused.db", models=Path("unused"), **values)


async def _slow_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose expensive answers take 0.3 s (no database)."""
    if scope["path"].endswith("/shortlist"):
        await anyio.sleep(0.3)
    status = 503 if scope["path"] == "/down" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _client(**settings: Any) -> httpx.AsyncClient:
    app = OverloadMiddleware(_slow_app, settings=_settings(**settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_expensive_requests_over_the_gate_get_503_with_retry_after_and_cheap_reads_pass() -> None:
    async def scenario() -> tuple[list[int], list[float], httpx.Response]:
        async with _client(expensive_concurrency=2, overload_queue=1, overload_wait_s=5,
                           retry_after_s=7, rate_limit_per_s=0) as client:  # fmt: skip
            shortlist = [client.get("/v1/buildings/B1/shortlist") for _ in range(5)]
            tasks = [asyncio.ensure_future(s) for s in shortlist]
            await asyncio.sleep(0.05)  # 2 running, 1 queued, 2 shed
            cheap_times = []
            for _ in range(5):
                started = anyio.current_time()
                assert (await client.get("/v1/buildings/B1")).status_code == 200
                cheap_times.append(anyio.current_time() - started)
            answers = await asyncio.gather(*tasks)
        shed = next(a for a in answers if a.status_code == 503)
        return sorted(a.status_code for a in answers), cheap_times, shed

    statuses, cheap_times, shed = anyio.run(scenario)
    assert statuses == [200, 200, 200, 503, 503]
    assert max(cheap_times) < 0.1  # never queued behind the shortlists
    assert shed.headers["retry-after"] == "7"
    assert shed.json()["error"]["code"] == "overloaded"


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not() -> None:
    async def scenario() -> list[httpx.Response]:
        async with _client(rate_limit_per_s=0.5, rate_limit_burst=3) as client:
            mine = [await client.get("/v1/buildings/B1", headers={"X-API-Key": KEY})
                    for _ in range(4)]  # fmt: skip
            other = await client.get("/v1/buildings/B1", headers={"X-API-Key": OTHER_KEY})
            anonymous = await client.get("/healthz")
        return [*mine, other, anonymous]

    answers = anyio.run(scenario)
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 200, 200]
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "2"  # one token at 0.5/s
    assert parse_key(KEY) is not None  # the test key has the shape the limiter reads


def test_every_other_503_gets_a_retry_after() -> None:
    async def scenario() -> httpx.Response:
        async with _client(retry_after_s=9) as client:
            return await client.get("/down")

    answer = anyio.run(scenario)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "9"


@pytest.fixture(scope="module")
def overload_service(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from start_service(world, tmp_path_factory.mktemp("overload"), rate_limit_burst=1000)


def _upload_without_reading(service: Service, headers: dict[str, str]) -> tuple[int, int, bytes]:
    """POST /v1/admin/import straight into the app with a body whose reading is counted:
    (status, body chunks read, answer)."""
    raw = [(b"content-type", b"multipart/form-data; boundary=x"),
           (b"content-length", str(49 * 2**20).encode())]  # fmt: skip
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "method": "POST", "path": "/v1/admin/import", "raw_path": b"",
             "query_string": b"", "headers": raw, "http_version": "1.1", "scheme": "http",
             "server": ("t", 80), "client": ("127.0.0.1", 1), "root_path": "",
             "app": service.client.app}  # fmt: skip
    reads, sent = [0], []

    async def receive() -> dict[str, Any]:
        reads[0] += 1
        return {"type": "http.request", "body": b"x" * 2**20, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(service.client.app, scope, receive, send)
    return int(sent[0]["status"]), reads[0], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(("who", "status"), [("none", 401), ("bad", 401), ("viewer", 403),
                                             ("op_own", 403)])  # fmt: skip
def test_an_upload_without_an_admin_key_is_refused_before_its_body_is_read(
    overload_service: Service, who: str, status: int
) -> None:
    answered, reads, body = _upload_without_reading(overload_service,
                                                    overload_service.headers(who))  # fmt: skip
    assert (answered, reads) == (status, 0)
    assert b'"error"' in body


def test_the_served_app_sheds_a_key_over_its_rate(world: World, tmp_path: Path) -> None:
    for service in start_service(world, tmp_path, rate_limit_per_s=0.1, rate_limit_burst=2):
        path = f"/v1/buildings/{service.own_building}"
        codes = [service.get(path, "viewer").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert service.get(path, "admin").status_code == 200
        assert service.get(path, "viewer").headers["retry-after"] == "10"


def test_a_fill_plan_runs_on_the_heavy_pool(overload_service: Service) -> None:
    service = overload_service
    limiter = service.client.app.state.heavy_threads
    assert limiter.total_tokens == service.settings.heavy_concurrency
    path = f"/v1/buildings/{service.own_building}/plan"
    answer = service.client.post(path, json={"candidates": 20}, headers=service.headers("op_own"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["fill_plan"]["model_version"]
