"""The change log (``store.changes``): each committed write names what it touched under its own
data version, in the same transaction; a reader gets the ids since its version and the rows
naming them, or "full" when the log cannot say. On SQLite and PostgreSQL, with concurrent
writers."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from sqlalchemy import select

from tenantmatch.registry.errors import ConflictError
from tenantmatch.store import Repository, changes
from tenantmatch.store.moves import move_in
from tenantmatch.store.schema import data_changes
from tenantmatch.store.updates import (
    delete_building,
    record_event,
    upsert_building,
    upsert_enterprise,
)
from tests.store.test_updates import _building, _enterprise


def _log(repo: Repository) -> list[tuple[int, int, list[str], list[str]]]:
    with repo._reading() as conn:
        rows = conn.execute(select(data_changes).order_by(data_changes.c.version)).all()
    return [(r.version, r.full, json.loads(r.building_ids), json.loads(r.enterprise_ids))
            for r in rows]  # fmt: skip


@pytest.fixture
def world(repo: Repository) -> Repository:
    upsert_building(repo, _building("B1"))
    upsert_building(repo, _building("B2", vacant_area_m2=500.0))
    upsert_enterprise(repo, _enterprise("E1"))
    upsert_enterprise(repo, _enterprise("E2"))
    return repo


def test_every_write_logs_the_ids_it_touched_under_its_version(world: Repository) -> None:
    repo = world
    assert [v for v, *_ in _log(repo)] == [1, 2, 3, 4] and repo.data_version() == 4
    move_in(repo, enterprise_id="E1", building_id="B1", start_date="2026-01-01", area_m2=100.0)
    # moving on to B2 ends the tenancy in B1 and gives B1 its area back
    move_in(repo, enterprise_id="E1", building_id="B2", start_date="2026-06-01", area_m2=100.0)
    record_event(repo, {"enterprise_id": "E2", "building_id": "B2", "date": "2026-06-02",
                        "stage": "visited"})  # fmt: skip
    delete_building(repo, "B1")
    assert _log(repo)[4:] == [
        (5, 0, ["B1"], ["E1"]),
        (6, 0, ["B1", "B2"], ["E1"]),
        (7, 0, ["B2"], ["E2"]),
        (8, 0, ["B1"], []),
    ]
    upsert_building(repo, _building("B2", vacant_area_m2=500.0 - 100.0))  # equal: no write
    assert repo.data_version() == 8


def test_changes_since_returns_the_ids_and_their_rows_as_they_stand(world: Repository) -> None:
    repo = world
    since = repo.data_version()
    move_in(repo, enterprise_id="E1", building_id="B1", start_date="2026-01-01", area_m2=100.0)
    upsert_enterprise(repo, _enterprise("E2", employees=99))
    delta, rows = repo.changes_since(since)
    assert (delta.since, delta.until, delta.full) == (since, since + 2, False)
    assert (delta.buildings, delta.enterprises) == ({"B1"}, {"E1", "E2"})
    assert list(rows["buildings"]["building_id"]) == ["B1"]
    assert rows["buildings"]["vacant_area_m2"].tolist() == [2900.0]
    assert sorted(rows["enterprises"]["enterprise_id"]) == ["E1", "E2"]
    assert rows["enterprises"].set_index("enterprise_id").at["E2", "employees"] == 99
    assert rows["tenancies"][["enterprise_id", "building_id"]].values.tolist() == [["E1", "B1"]]
    assert rows["links"].empty and rows["events"].empty
    nothing, none = repo.changes_since(repo.data_version())
    assert nothing.empty and none == {}


def test_a_gap_a_bulk_write_or_clearing_means_reload_everything(
    world: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = world
    assert repo.changes_since(0)[0].full is False  # the log holds every version from 1
    with repo._writing("drop the oldest change") as conn:
        conn.execute(data_changes.delete().where(data_changes.c.version == 1))
    assert repo.changes_since(0)[0].full and not repo.changes_since(1)[0].full
    since = repo.data_version()
    monkeypatch.setattr(changes, "MAX_LISTED_IDS", 2)
    repo.upsert({"enterprises": pd.DataFrame([_enterprise(f"N{i}") for i in range(3)])})
    assert _log(repo)[-1][1:] == (1, [], [])
    delta, rows = repo.changes_since(since)
    assert delta.full and rows == {}
    monkeypatch.setattr(changes, "MAX_LISTED_IDS", 2_000)
    since = repo.data_version()
    for i in range(3):  # listed one by one, too many together
        upsert_enterprise(repo, _enterprise(f"M{i}"))
    assert not repo.changes_since(since)[0].full
    monkeypatch.setattr(changes, "MAX_DELTA_IDS", 2)
    assert repo.changes_since(since)[0].full
    monkeypatch.undo()
    since = repo.data_version()
    repo.clear_registry()
    assert repo.changes_since(since)[0].full


def test_a_failed_write_logs_nothing(world: Repository) -> None:
    repo = world
    before = _log(repo)
    with pytest.raises(ConflictError):
        move_in(repo, enterprise_id="E1", building_id="B2", start_date="2026-01-01",
                area_m2=9999.0)  # fmt: skip
    assert _log(repo) == before and repo.data_version() == before[-1][0]


def test_concurrent_writers_log_one_change_per_version(world: Repository) -> None:
    repo = world
    since = repo.data_version()
    n = 16
    barrier = threading.Barrier(n)

    def write(i: int) -> None:
        barrier.wait()
        upsert_enterprise(repo, _enterprise(f"C{i:02d}", employees=10 + i))

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(write, range(n)))
    log = _log(repo)
    assert [v for v, *_ in log] == list(range(1, since + n + 1))
    assert sorted(e for *_, ids in log[since:] for e in ids) == [f"C{i:02d}" for i in range(n)]
    delta, rows = repo.changes_since(since)
    assert delta.until == since + n and len(delta.enterprises) == n and not delta.full
    assert sorted(rows["enterprises"]["enterprise_id"]) == sorted(delta.enterprises)
