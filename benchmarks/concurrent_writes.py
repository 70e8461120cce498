"""Registry writes under concurrency against a running server (issue 20's cases), with an admin key:

- ``move_ins``: 20 fresh firms move into one new building at once, 100 m² each, once with
  2,000 m² vacant (all fit) and once with 1,450 m² (14 fit): statuses, vacancy after;
- ``put_pairs``: ``PUT {name}`` and ``PUT {floors}`` on one building at once, 30 times: how many
  pairs lost an acknowledged change;
- ``creates``: two ``POST /v1/buildings`` of one new id at once, 25 times (one 201 and one 409
  each time?); and two operators' ``PUT`` of one new id (one 200 and one 404, owner = winner?);
- ``audit`` (with ``--db``): a move-in that ends the firm's tenancy in another operator's
  building: the audit entries of both buildings.

``python -m benchmarks.concurrent_writes --base http://127.0.0.1:8000 --key tm_... [--db URL]``
prints one JSON object and appends it to ``benchmarks/results/concurrent-writes.json``.
"""

from __future__ import annotations

import argparse
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tenantmatch.store import Repository

RESULTS = Path(__file__).parent / "results" / "concurrent-writes.json"
BUILDING = {"name": "并发测试大厦", "city": "太原市", "district": "小店区", "theme": "finance",
            "total_area_m2": 5000.0}  # fmt: skip


class Client:
    """Requests to one server with one key."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def send(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"X-API-Key": key or self.key}
        return httpx.request(method, self.base + path, headers=headers, timeout=120, **kw)

    def building(self, **fields: Any) -> str:
        building_id = f"CW{uuid.uuid4().hex[:10]}"
        body = {"building_id": building_id, **BUILDING, "vacant_area_m2": 3000.0, **fields}
        self.send("POST", "/v1/buildings", json=body).raise_for_status()
        return building_id

    def firm(self) -> str:
        enterprise_id = f"CW{uuid.uuid4().hex[:12]}"
        body = {"enterprise_id": enterprise_id, "name": "并发测试科技有限公司",
                "industry_code": "65", "employees": 10}  # fmt: skip
        self.send("POST", "/v1/enterprises", json=body).raise_for_status()
        return enterprise_id

    def move_in(self, firm: str, building_id: str, day: str = "2026-12-01") -> httpx.Response:
        body = {"enterprise_id": firm, "building_id": building_id, "start_date": day,
                "area_m2": 100.0}  # fmt: skip
        return self.send("POST", "/v1/tenancies/move-in", json=body)


def at_once(n: int, job: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """``job(i)`` on n threads released together."""
    barrier = threading.Barrier(n)

    def run(i: int) -> httpx.Response:
        barrier.wait()
        return job(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


ADMIN: list[str | None] = [None, None]  # both requests with the admin key


def _each(
    c: Client, method: str, path: str, bodies: list[dict[str, Any]], keys: list[str | None],
    i: int,
) -> httpx.Response:  # fmt: skip
    """Request ``i`` of a concurrent batch: body ``i`` sent with key ``i``."""
    return c.send(method, path, keys[i], json=bodies[i])


def move_ins(c: Client, vacant: float, n: int = 20) -> dict[str, Any]:
    building_id = c.building(vacant_area_m2=vacant)
    firms = [c.firm() for _ in range(n)]
    answers = at_once(n, lambda i: c.move_in(firms[i], building_id))
    after = c.send("GET", f"/v1/buildings/{building_id}").json()["vacant_area_m2"]
    refusal = next((a.json()["error"]["message"] for a in answers if a.status_code == 409), None)
    return {"vacant_before_m2": vacant, "statuses": dict(Counter(a.status_code for a in answers)),
            "vacant_after_m2": after, "first_refusal": refusal}  # fmt: skip


def put_pairs(c: Client, pairs: int = 30) -> dict[str, Any]:
    lost = 0
    for pair in range(pairs):
        building_id = c.building(floors=10)
        bodies: list[dict[str, Any]] = [{"name": f"改名大厦{pair}"}, {"floors": 40 + pair}]
        path = f"/v1/buildings/{building_id}"
        answers = at_once(2, partial(_each, c, "PUT", path, bodies, ADMIN))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        stored = c.send("GET", path).json()
        lost += (stored["name"], stored["floors"]) != (f"改名大厦{pair}", 40 + pair)
    return {"pairs": pairs, "pairs_with_a_lost_change": lost}


def creates(c: Client, tries: int = 25) -> dict[str, Any]:
    posts: Counter[str] = Counter()
    for _ in range(tries):
        body = {"building_id": f"CW{uuid.uuid4().hex[:10]}", **BUILDING, "vacant_area_m2": 10.0}
        answers = at_once(2, partial(_each, c, "POST", "/v1/buildings", [body, body], ADMIN))
        posts[str(sorted(a.status_code for a in answers))] += 1
    keys: list[str | None] = [
        c.send("POST", "/v1/admin/keys", json={"role": "operator", "operator_id": f"CWOP{i}"})
        .json()["key"] for i in range(2)
    ]  # fmt: skip
    puts: Counter[str] = Counter()
    owners_ok = 0
    for _ in range(tries):
        path = f"/v1/buildings/CW{uuid.uuid4().hex[:10]}"
        body = {**BUILDING, "vacant_area_m2": 10.0}
        answers = at_once(2, partial(_each, c, "PUT", path, [body, body], keys))
        puts[str(sorted(a.status_code for a in answers))] += 1
        winners = [a.json()["operator_id"] for a in answers if a.status_code == 200]
        owners_ok += winners == [c.send("GET", path).json()["operator_id"]]
    return {"tries": tries, "post_same_id": dict(posts), "operators_put_same_id": dict(puts),
            "owner_is_the_single_winner": owners_ok}  # fmt: skip


def audit(c: Client, db: str) -> dict[str, Any]:
    first, second = c.building(), c.building()
    firm = c.firm()
    c.move_in(firm, first, "2026-01-01").raise_for_status()
    c.move_in(firm, second, "2026-12-01").raise_for_status()
    with Repository(db) as repo:
        entries = [e for e in repo.read_audit(limit=200) if e["target"] in (first, second)]
    return {"buildings": [first, second],
            "entries": [(e["action"], e["target"], json.loads(e["detail"] or "{}"))
                        for e in reversed(entries)]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="an admin API key")
    parser.add_argument("--db", help="the server's database URL, to read its audit entries")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    c = Client(args.base, args.key)
    result: dict[str, Any] = {
        "label": args.label, "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "move_ins": [move_ins(c, 2000.0), move_ins(c, 1450.0)], "put_pairs": put_pairs(c),
        "creates": creates(c),
    }  # fmt: skip
    if args.db:
        result["audit"] = audit(c, args.db)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*runs, result], ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
