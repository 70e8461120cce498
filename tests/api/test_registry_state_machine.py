"""The registry as a state machine (issue 20, item 4): Hypothesis drives random sequences of
writes through the HTTP API (create, PUT, move-in, move-out, events, deletes, bulk upload) and
keeps an in-memory model of what each building must hold. After every step the stored
registry must agree with the model:

- vacancy = total area - the areas of the open tenancies, never negative;
- no acknowledged change lost (a PUT's name is what a GET reads back);
- every acknowledged change audited under each building it touched;
- a building's shortlist never names one of its current tenants.

It runs on SQLite and on PostgreSQL (the ``db_url`` fixture), through the real app.
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tenantmatch.api import Settings, create_app
from tenantmatch.store import Repository, create_key, import_dataset
from tests.api.conftest import World

CITY, DISTRICT = "太原市", "小店区"
START = date(2026, 1, 5)
AREAS = st.sampled_from([80.0, 150.0, 400.0, 900.0])
STAGES = st.sampled_from(["contacted", "visited", "negotiating", "signed", "declined"])


@dataclass
class _Building:
    total: float
    name: str
    tenants: dict[str, float] = field(default_factory=dict)  # enterprise -> open area

    @property
    def vacancy(self) -> float:
        return self.total - sum(self.tenants.values())


@dataclass
class _Client:
    """The app over one database, an admin key, and what the audit log held at the start."""

    http: TestClient
    repo: Repository
    key: str
    seen: int = 0  # the newest X-Data-Version answered: reads ask for it, as the staff page does

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-API-Key": self.key, "X-Min-Data-Version": str(self.seen),
                   **kwargs.pop("headers", {})}  # fmt: skip
        answer = self.http.request(method, path, headers=headers, **kwargs)
        self.seen = max(self.seen, int(answer.headers.get("X-Data-Version", 0)))
        return answer


@pytest.fixture
def client(world: World, db_url: str, tmp_path: Path) -> Iterator[_Client]:
    """The real app over a copy of the API test world in ``db_url`` (SQLite or PostgreSQL)."""
    if db_url.startswith("sqlite"):
        db_file = Path(db_url.removeprefix("sqlite:///"))
        db_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(world.db_file, db_file)
        repo = Repository(db_url)
    else:
        repo = Repository(db_url)
        import_dataset(world.folder, repo)
    config = Settings(db=db_url, models=world.models, jobs_dir=tmp_path / "jobs",
                      json_logs=False)  # fmt: skip
    key = create_key(repo, role="admin", created=datetime.now(UTC))
    with TestClient(create_app(config)) as http:
        yield _Client(http, repo, key)
    repo.close()


class RegistryMachine(RuleBasedStateMachine):
    """Writes through the API against a model of the buildings this machine created."""

    api: _Client  # set by the test before the machine runs

    buildings = Bundle("buildings")
    firms = Bundle("firms")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, _Building] = {}
        self.firm_at: dict[str, str] = {}  # enterprise -> building of its open tenancy
        self.audited: Counter[str] = Counter()  # audit entries each target must have
        self.audit_floor = self._audit_counts()
        self.day = START

    # -- helpers ---------------------------------------------------------------------------
    def _audit_counts(self) -> Counter[str]:
        return Counter(e["target"] for e in self.api.repo.read_audit(limit=100_000))

    def _next_day(self) -> str:
        self.day += timedelta(days=1)
        return self.day.isoformat()

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    def _add_building(self, building_id: str, total: float, name: str) -> None:
        self.model[building_id] = _Building(total=total, name=name)

    # -- rules -------------------------------------------------------------------------------
    @initialize(target=buildings)
    def first_building(self) -> str:
        return self.create_building(3000.0)

    @rule(target=buildings, total=st.sampled_from([500.0, 1200.0, 3000.0]))
    def create_building(self, total: float) -> str:
        building_id = self._new_id("S")
        body = {"building_id": building_id, "name": f"状态机大厦{building_id[-4:]}",
                "city": CITY, "district": DISTRICT, "theme": "finance",
                "total_area_m2": total, "vacant_area_m2": total}  # fmt: skip
        answer = self.api.call("POST", "/v1/buildings", json=body)
        assert answer.status_code == 201, answer.text
        again = self.api.call("POST", "/v1/buildings", json=body)
        assert again.status_code == 409, again.text  # an id that exists is never overwritten
        self._add_building(building_id, total, body["name"])
        self.audited[building_id] += 1
        return building_id

    @rule(target=firms)
    def create_firm(self) -> str:
        enterprise_id = self._new_id("F")
        body = {"enterprise_id": enterprise_id, "name": f"状态机科技有限公司{enterprise_id[-4:]}",
                "industry_code": "65", "employees": 12, "city": CITY}  # fmt: skip
        answer = self.api.call("POST", "/v1/enterprises", json=body)
        assert answer.status_code == 201, answer.text
        self.audited[enterprise_id] += 1
        return enterprise_id

    @rule(building=buildings, suffix=st.text("甲乙丙丁ABC123", min_size=1, max_size=6))
    def rename(self, building: str, suffix: str) -> None:
        if building not in self.model:
            return  # deleted meanwhile (it stays in the bundle)
        name = f"更名大厦{suffix}"
        answer = self.api.call("PUT", f"/v1/buildings/{building}", json={"name": name})
        assert answer.status_code == 200, answer.text
        self.model[building].name = name
        self.audited[building] += 1

    @rule(building=buildings, suffix=st.text("甲乙丙", min_size=1, max_size=3))
    def stale_put_is_refused(self, building: str, suffix: str) -> None:
        """A PUT against an ETag that a later change made stale answers 412 and changes nothing."""
        if building not in self.model:
            return  # deleted meanwhile (it stays in the bundle)
        first = self.api.call("GET", f"/v1/buildings/{building}")
        etag = first.headers["ETag"]
        self.rename(building, f"{suffix}{uuid.uuid4().hex[:6]}")  # a real change: a new ETag
        stale = self.api.call("PUT", f"/v1/buildings/{building}", json={"name": "丢失的更新"},
                              headers={"If-Match": etag})  # fmt: skip
        assert stale.status_code == 412, stale.text

    @rule(firm=firms, building=buildings, area=AREAS)
    def move_in(self, firm: str, building: str, area: float) -> None:
        if building not in self.model:
            return  # deleted meanwhile (it stays in the bundle)
        if self.firm_at.get(firm) == building:
            return  # moving into the building it is in is not a move
        body = {"enterprise_id": firm, "building_id": building,
                "start_date": self._next_day(), "area_m2": area}  # fmt: skip
        answer = self.api.call("POST", "/v1/tenancies/move-in", json=body)
        target = self.model[building]
        if area > target.vacancy:
            assert answer.status_code == 409, answer.text
            return
        assert answer.status_code == 200, answer.text
        previous = self.firm_at.get(firm)
        if previous is not None:
            del self.model[previous].tenants[firm]
            self.audited[previous] += 1
        target.tenants[firm] = area
        self.firm_at[firm] = building
        self.audited[building] += 1

    @precondition(lambda self: bool(self.firm_at))
    @rule(data=st.data())
    def move_out(self, data: st.DataObject) -> None:
        firm = data.draw(st.sampled_from(sorted(self.firm_at)))
        building = self.firm_at.pop(firm)
        body = {"enterprise_id": firm, "building_id": building, "end_date": self._next_day()}
        answer = self.api.call("POST", "/v1/tenancies/move-out", json=body)
        assert answer.status_code == 200, answer.text
        del self.model[building].tenants[firm]
        self.audited[building] += 1

    @rule(firm=firms, building=buildings, stage=STAGES)
    def record_event(self, firm: str, building: str, stage: str) -> None:
        if building not in self.model:
            return  # deleted meanwhile (it stays in the bundle)
        body = {"enterprise_id": firm, "building_id": building, "date": self._next_day(),
                "stage": stage}  # fmt: skip
        answer = self.api.call("POST", "/v1/events", json=body)
        assert answer.status_code == 200, answer.text
        self.audited[building] += 1

    @rule(firm=consumes(firms))
    def delete_firm(self, firm: str) -> None:
        answer = self.api.call("DELETE", f"/v1/enterprises/{firm}")
        building = self.firm_at.get(firm)
        if building is not None:  # a current tenant: move it out first
            assert answer.status_code == 409, answer.text
            self.move_out_of(firm)
            answer = self.api.call("DELETE", f"/v1/enterprises/{firm}")
        assert answer.status_code == 200, answer.text
        self.audited[firm] += 1

    def move_out_of(self, firm: str) -> None:
        building = self.firm_at.pop(firm)
        body = {"enterprise_id": firm, "building_id": building, "end_date": self._next_day()}
        assert self.api.call("POST", "/v1/tenancies/move-out", json=body).status_code == 200
        del self.model[building].tenants[firm]
        self.audited[building] += 1

    @precondition(lambda self: any(not b.tenants for b in self.model.values()))
    @rule(data=st.data())
    def delete_empty_building(self, data: st.DataObject) -> None:
        building = data.draw(st.sampled_from(sorted(b for b, v in self.model.items()
                                                    if not v.tenants)))  # fmt: skip
        answer = self.api.call("DELETE", f"/v1/buildings/{building}")
        assert answer.status_code == 200, answer.text
        del self.model[building]
        self.audited[building] += 1
        gone = self.api.call("GET", f"/v1/buildings/{building}")
        assert gone.status_code == 404, gone.text

    @rule(count=st.integers(1, 3), total=st.sampled_from([700.0, 2000.0]))
    def bulk_upload(self, count: int, total: float) -> None:
        """Admin upload of new buildings (one CSV, all-or-nothing), then one bad row refused."""
        ids = [self._new_id("U") for _ in range(count)]
        rows = pd.DataFrame({"building_id": ids, "name": [f"上传大厦{i[-4:]}" for i in ids],
                             "city": CITY, "district": DISTRICT, "theme": "finance",
                             "total_area_m2": total, "vacant_area_m2": total})  # fmt: skip
        answer = self._upload(rows)
        assert answer.status_code == 200, answer.text
        for building_id, name in zip(rows["building_id"], rows["name"], strict=True):
            self._add_building(building_id, total, name)
        self.audited["buildings"] += 1  # a bulk upload is audited under its table
        bad = rows.assign(building_id=[self._new_id("U") for _ in ids], vacant_area_m2=-1.0)
        refused = self._upload(bad)
        assert refused.status_code in (400, 422), refused.text
        for building_id in bad["building_id"]:
            assert self.api.call("GET", f"/v1/buildings/{building_id}").status_code == 404

    def _upload(self, rows: pd.DataFrame) -> Any:
        data = io.BytesIO(rows.to_csv(index=False).encode())
        return self.api.call("POST", "/v1/admin/import", data={"table": "buildings"},
                             files={"file": ("buildings.csv", data, "text/csv")})  # fmt: skip

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def shortlist_names_no_current_tenant(self, data: st.DataObject) -> None:
        building = data.draw(st.sampled_from(sorted(self.model)))
        answer = self.api.call("GET", f"/v1/buildings/{building}/shortlist",
                               params={"k": 200, "include_risky": True})  # fmt: skip
        assert answer.status_code == 200, answer.text
        named = {row["enterprise_id"] for row in answer.json()["items"]}
        assert not named & set(self.model[building].tenants), "a current tenant was recommended"

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def registry_agrees_with_the_model(self) -> None:
        for building_id, expected in self.model.items():
            row = self.api.call("GET", f"/v1/buildings/{building_id}").json()
            assert row["vacant_area_m2"] == pytest.approx(expected.vacancy), building_id
            assert row["vacant_area_m2"] >= 0
            assert row["name"] == expected.name  # no acknowledged update lost

    @invariant()
    def every_change_is_audited(self) -> None:
        counts = self._audit_counts()
        for target, expected in self.audited.items():
            assert counts[target] - self.audit_floor[target] >= expected, target


def test_random_write_sequences_keep_the_registry_consistent(client: _Client) -> None:
    RegistryMachine.api = client
    run_state_machine_as_test(
        RegistryMachine,
        settings=settings(
            max_examples=6, stateful_step_count=14, deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )  # fmt: skip
