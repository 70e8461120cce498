"""How the Engine moves to new data: a write's state is patched from the rows the change log
names (the same shortlists as a full reload, without reading every table), and in background
mode the old state answers while the next is built, a caller's ``wait_for`` waits for its own
write, and a failed refresh leaves the old state serving."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tenantmatch.matching.engine import Engine, StateBehindError
from tenantmatch.registry import Registry
from tenantmatch.registry.errors import InputError
from tenantmatch.store import Repository
from tenantmatch.store.moves import move_in
from tenantmatch.store.updates import delete_enterprise, record_event, upsert_building
from tests.matching import test_shortlist
from tests.matching.test_shortlist import new_enterprise_e9

engine, models = test_shortlist.engine, test_shortlist.models  # the fixtures, shared

AS_OF = date(2024, 6, 30)
QUERIES = (["B1", "B2", "B3"], ["E1", "E2", "E6", "E9"])


def _sorted(registry: Registry) -> dict[str, pd.DataFrame]:
    """The registry's tables in a fixed row order (a reload reads rows in database order)."""
    out = {}
    for name in ("buildings", "enterprises", "links", "tenancies", "events"):
        frame = getattr(registry, name)
        if name in ("buildings", "enterprises"):
            out[name] = frame.sort_index()
        else:
            out[name] = frame.sort_values(list(frame.columns[:4])).reset_index(drop=True)
    return out


def _answers(engine: Engine) -> tuple[list[dict], list[dict]]:
    buildings, enterprises = QUERIES
    known = [e for e in enterprises if e in engine.state().snapshot.enterprises.index]
    return (engine.shortlist_for_buildings(buildings, k=50),
            engine.shortlist_for_enterprises(known, k=5))  # fmt: skip


def _writes(repo: Repository) -> None:
    """One of each kind of write: a new firm, a move-in that ends a tenancy elsewhere, an
    event, a building's vacancy, a deleted firm."""
    repo.upsert({"enterprises": new_enterprise_e9()})
    move_in(repo, enterprise_id="E1", building_id="B2", start_date="2024-06-20", area_m2=100.0)
    record_event(repo, {"enterprise_id": "E6", "building_id": "B3", "date": "2024-06-25",
                        "stage": "visited"})  # fmt: skip
    row = repo.get_row("buildings", {"building_id": "B3"})
    upsert_building(repo, {**row, "vacant_area_m2": 6500.0})  # type: ignore[dict-item]
    delete_enterprise(repo, "E7")


def test_a_write_is_patched_in_from_its_rows_and_answers_as_a_reload_would(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = engine.state()
    _writes(engine.repo)

    def no_reload() -> None:
        raise AssertionError("a listed change must not reload every table")

    monkeypatch.setattr(engine.repo, "versioned_tables", no_reload)
    patched = engine.state()
    assert patched is not first and patched.data_version == engine.repo.data_version()
    assert patched.model is first.model  # the model's parts are kept
    monkeypatch.undo()
    reloaded = Engine(engine.repo, engine.store, as_of=AS_OF)
    assert _answers(engine) == _answers(reloaded)
    for name, frame in _sorted(reloaded.state().registry).items():  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(_sorted(patched.registry)[name], frame)  # type: ignore[arg-type]
    assert "E7" not in patched.snapshot.enterprises.index
    assert patched.snapshot.buildings.at["B3", "vacant_area_m2"] == 6500.0
    # E1 moved from B1 to B2: it is courted for neither now, and B1 is offered to it
    [b1, b2] = engine.shortlist_for_buildings(["B1", "B2"], k=500)
    assert "E1" in {i["enterprise_id"] for i in b1["items"]}
    assert "E1" not in {i["enterprise_id"] for i in b2["items"]}


def test_a_new_date_recuts_the_snapshot_without_reading_the_database(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = [AS_OF]
    dated = Engine(engine.repo, engine.store, as_of=lambda: days[-1])
    first = dated.state()
    monkeypatch.setattr(engine.repo, "versioned_tables", lambda: pytest.fail("reloaded"))
    days.append(date(2024, 7, 1))
    second = dated.state()
    assert second.snapshot.as_of == pd.Timestamp("2024-07-01")
    assert second.registry is first.registry


@pytest.fixture
def background(engine: Engine) -> Engine:
    return Engine(engine.repo, engine.store, as_of=AS_OF, refresh="background")


class _Gate:
    """Holds every ``changes_since`` of a repository until opened: the refresh in flight."""

    def __init__(self, repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.open = threading.Event(), threading.Event()
        read = repo.changes_since

        def held(since: int):  # type: ignore[no-untyped-def]
            self.entered.set()
            assert self.open.wait(30)
            return read(since)

        monkeypatch.setattr(repo, "changes_since", held)


def test_background_refresh_answers_from_the_old_state_until_the_new_is_ready(
    background: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = background.state()
    gate = _Gate(background.repo, monkeypatch)
    background.repo.upsert({"enterprises": new_enterprise_e9()})
    written = background.repo.data_version()
    assert background.state() is old  # at once: the refresh runs beside it
    assert gate.entered.wait(10)
    [b1] = background.shortlist_for_buildings(["B1"], k=500)
    assert "E9" not in {i["enterprise_id"] for i in b1["items"]}
    with pytest.raises(StateBehindError, match=f"not yet on {written}"):
        background.wait_for(written, timeout_s=0.2)
    gate.open.set()
    new = background.wait_for(written, timeout_s=30)
    assert new.data_version == written and background.state() is new
    [b1] = background.shortlist_for_buildings(["B1"], k=500, state=new)
    assert "E9" in {i["enterprise_id"] for i in b1["items"]}
    assert background.wait_for(written + 5, timeout_s=1) is new  # not written: the newest
    assert background.wait_for(timeout_s=1) is new


def test_a_failed_background_refresh_keeps_the_old_state_serving(
    background: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = background.state()
    calls: list[int] = []

    def broken(since: int):  # type: ignore[no-untyped-def]
        calls.append(since)
        raise OSError("disk gone")

    monkeypatch.setattr(background.repo, "changes_since", broken)
    background.repo.upsert({"enterprises": new_enterprise_e9()})
    written = background.repo.data_version()
    with pytest.raises(StateBehindError):
        background.wait_for(written, timeout_s=2)
    assert background.state() is old and calls == [old.data_version]  # not retried at once
    assert background.shortlist_for_buildings(["B1"], k=3)[0]["items"]
    monkeypatch.undo()
    monkeypatch.setattr("tenantmatch.matching.engine.REFRESH_RETRY_S", 0.0)
    assert background.wait_for(written, timeout_s=30).data_version == written


def test_concurrent_readers_and_writers_converge_on_the_newest_data(
    background: Engine,
) -> None:
    """Readers never fail or wait for a build; after the last write the state catches up."""
    background.state()
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                background.shortlist_for_buildings(["B1", "B3"], k=5)
            except BaseException as exc:
                errors.append(exc)

    def write(i: int) -> None:
        row = background.repo.get_row("buildings", {"building_id": "B3"})
        upsert_building(background.repo, {**row, "vacant_area_m2": 5000.0 + i})  # type: ignore[dict-item]

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    writers = [threading.Thread(target=write, args=(i,)) for i in range(1, 9)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    written = background.repo.data_version()
    final = background.wait_for(written, timeout_s=30)
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    stored = background.repo.get_row("buildings", {"building_id": "B3"})["vacant_area_m2"]  # type: ignore[index]
    assert final.snapshot.buildings.at["B3", "vacant_area_m2"] == stored


def test_refresh_must_be_known(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="allowed: 'sync', 'background'"):
        Engine(engine.repo, tmp_path, as_of=AS_OF, refresh="lazy")  # type: ignore[arg-type]
