"""Registry writes against a real ``tenantmatch serve --workers 2``, sent by real threads at
once: vacancy exact or refused with 409, no lost update, one winner per new id, ETag and
If-Match, and audit entries stored with the change or nothing stored at all."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tenantmatch.store import Repository, create_key
from tests.api.conftest import Served, World, tenantmatch_serve

THREADS = 20
BUILDING = {"name": "并发大厦", "city": "太原市", "district": "小店区", "theme": "finance",
            "total_area_m2": 5000.0, "vacant_area_m2": 1450.0}  # fmt: skip


@pytest.fixture(scope="module")
def served(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with tenantmatch_serve(world, tmp_path_factory.mktemp("concurrent"), role="admin") as s:
        yield s


def _db(served: Served) -> str:
    """The served copy of the database (``tenantmatch_serve`` puts it beside its log)."""
    return f"sqlite:///{Path(served.shared).parent / 'service.db'}"


def _call(served: Served, method: str, path: str, key: str | None = None,
          **kwargs: Any) -> httpx.Response:  # fmt: skip
    headers = {"X-API-Key": key or served.key, **kwargs.pop("headers", {})}
    return httpx.request(method, served.base + path, headers=headers, timeout=120, **kwargs)


def _all_at_once(n: int, job: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(n)

    def run(i: int) -> httpx.Response:
        barrier.wait()
        return job(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _new_building(served: Served, **fields: Any) -> str:
    building_id = f"C{uuid.uuid4().hex[:10]}"
    created = _call(served, "POST", "/v1/buildings",
                    json={"building_id": building_id, **BUILDING, **fields})  # fmt: skip
    assert created.status_code == 201, created.text
    return building_id


def _audit(served: Served, action: str, target: str) -> list[dict[str, Any]]:
    with Repository(_db(served)) as repo:
        return [e for e in repo.read_audit(limit=1000)
                if e["action"] == action and e["target"] == target]  # fmt: skip


def test_concurrent_move_ins_keep_vacancy_exact_or_answer_409(served: Served) -> None:
    building_id = _new_building(served)  # 1450 m² vacant: 14 moves of 100 m² fit
    firms = [f"X{uuid.uuid4().hex[:12]}" for _ in range(THREADS)]
    for enterprise_id in firms:
        body = {"enterprise_id": enterprise_id, "name": "并发科技有限公司", "industry_code": "65",
                "employees": 10}  # fmt: skip
        assert _call(served, "POST", "/v1/enterprises", json=body).status_code == 201
    answers = _all_at_once(THREADS, lambda i: _call(served, "POST", "/v1/tenancies/move-in", json={
        "enterprise_id": firms[i], "building_id": building_id, "start_date": "2026-12-01",
        "area_m2": 100.0,
    }))  # fmt: skip
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 14 + [409] * 6, [a.text for a in answers if a.status_code != 200]
    refusal = next(a.json()["error"] for a in answers if a.status_code == 409)
    assert refusal["code"] == "conflict" and "100 m²" in refusal["message"]
    assert "50 m²" in refusal["message"] and "空置面积" in refusal["message"]
    building = _call(served, "GET", f"/v1/buildings/{building_id}").json()
    assert building["vacant_area_m2"] == 50.0
    assert len(_audit(served, "tenancy.move_in", building_id)) == 14


def test_concurrent_puts_of_different_fields_both_survive(served: Served) -> None:
    for pair in range(15):
        building_id = _new_building(served, floors=10)
        path = f"/v1/buildings/{building_id}"
        bodies = [{"name": f"新名大厦{pair}"}, {"floors": 40 + pair}]
        answers = _all_at_once(2, lambda i, p=path, b=bodies: _call(served, "PUT", p, json=b[i]))
        assert [a.status_code for a in answers] == [200, 200]
        stored = _call(served, "GET", f"/v1/buildings/{building_id}").json()
        assert (stored["name"], stored["floors"]) == (f"新名大厦{pair}", 40 + pair)


def test_concurrent_creates_of_one_id_have_one_winner(served: Served) -> None:
    building_id = f"C{uuid.uuid4().hex[:10]}"
    answers = _all_at_once(8, lambda i: _call(served, "POST", "/v1/buildings", json={
        "building_id": building_id, **BUILDING, "name": f"抢注大厦{i}",
    }))  # fmt: skip
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    [winner] = [a.json() for a in answers if a.status_code == 201]
    stored = _call(served, "GET", f"/v1/buildings/{building_id}").json()
    assert stored["name"] == winner["name"]
    assert len(_audit(served, "building.create", building_id)) == 1


def test_two_operators_putting_one_new_id_leave_one_owner(served: Served) -> None:
    with Repository(_db(served)) as repo:
        keys = [create_key(repo, role="operator", operator_id=f"OPC{i}",
                           created=datetime.now(UTC)) for i in range(2)]  # fmt: skip
    for _ in range(5):
        building_id = f"C{uuid.uuid4().hex[:10]}"
        path = f"/v1/buildings/{building_id}"
        answers = _all_at_once(2, lambda i, p=path: _call(served, "PUT", p, keys[i], json=BUILDING))
        assert sorted(a.status_code for a in answers) == [200, 404]
        [winner] = [a.json() for a in answers if a.status_code == 200]
        stored = _call(served, "GET", f"/v1/buildings/{building_id}").json()
        assert stored["operator_id"] == winner["operator_id"]


def test_etag_and_if_match(served: Served) -> None:
    building_id = _new_building(served)
    read = _call(served, "GET", f"/v1/buildings/{building_id}")
    tag = read.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    changed = _call(served, "PUT", f"/v1/buildings/{building_id}", headers={"If-Match": tag},
                    json={"floors": 12})  # fmt: skip
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    stale = _call(served, "PUT", f"/v1/buildings/{building_id}", headers={"If-Match": tag},
                  json={"floors": 13})  # fmt: skip
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    assert changed.headers["ETag"] in stale.json()["error"]["message"]
    fresh = _call(served, "GET", f"/v1/buildings/{building_id}")
    assert fresh.json()["floors"] == 12 and fresh.headers["ETag"] == changed.headers["ETag"]
    missing = _call(served, "PUT", f"/v1/buildings/C{uuid.uuid4().hex[:10]}",
                    headers={"If-Match": "*"}, json=BUILDING)  # fmt: skip
    assert missing.status_code == 412
    enterprise = _call(served, "GET", "/v1/enterprises?limit=1").json()["items"][0]
    path = f"/v1/enterprises/{enterprise['enterprise_id']}"
    tag = _call(served, "GET", path).headers["ETag"]
    assert _call(served, "PUT", path, headers={"If-Match": f'W/{tag}'},
                 json={"employees": 5}).status_code == 412  # a weak tag never matches  # fmt: skip
    assert _call(served, "PUT", path, headers={"If-Match": f'"x", {tag}'},
                 json={"employees": 5}).status_code == 200  # fmt: skip


def _switch_audit_table(served: Served, *, off: bool) -> None:
    old, new = ("audit_log", "audit_log_off") if off else ("audit_log_off", "audit_log")
    engine = create_engine(_db(served))
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    engine.dispose()


def test_a_write_whose_audit_entry_fails_is_503_and_not_stored(served: Served) -> None:
    building_id = _new_building(served)
    before = _call(served, "GET", f"/v1/buildings/{building_id}").json()
    _switch_audit_table(served, off=True)
    try:
        renamed = _call(served, "PUT", f"/v1/buildings/{building_id}", json={"name": "不该改名"})
        moved = _call(served, "POST", "/v1/tenancies/move-in", json={
            "enterprise_id": _call(served, "GET", "/v1/enterprises?limit=1").json()["items"][0][
                "enterprise_id"], "building_id": building_id, "start_date": "2026-12-01",
            "area_m2": 100.0,
        })  # fmt: skip
    finally:
        _switch_audit_table(served, off=False)
    assert (renamed.status_code, moved.status_code) == (503, 503)
    assert _call(served, "GET", f"/v1/buildings/{building_id}").json() == before
