"""The per-request shortcuts of the shortlist routes: rendered answers cached per scoring state
and shared between workers, API keys accepted for ``key_cache_seconds``, audit entries written in
batches."""

from __future__ import annotations

import gc
import json
import threading
import time
import weakref
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantmatch.api.answer_cache import SharedAnswers
from tenantmatch.api.answers import (
    ShortlistAnswers,
    remove_shared_answers,
    shared_answers_for,
    shared_answers_path,
)
from tenantmatch.api.schemas import ShortlistQuery
from tenantmatch.api.settings import Settings
from tenantmatch.matching import Engine
from tenantmatch.registry import NotFoundError
from tenantmatch.store import Repository, parse_key, revoke_key
from tenantmatch.store.moves import move_in
from tests.api.conftest import Service, World, start_service, tenantmatch_serve


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def test_a_repeated_query_is_answered_with_the_same_bytes(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/shortlist"
    cache = service.client.app.state.answers.cache  # type: ignore[attr-defined]
    first = service.get(path, params={"k": 7, "include_risky": "true"})
    hits = cache.hits
    again = service.get(path, params={"k": 7, "include_risky": "true"})
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"] == again.headers["content-type"] == "application/json"
    assert again.content == first.content and cache.hits == hits + 1
    plain = service.get(path, params={"k": 7})  # other rules: another entry, not the risky one
    assert cache.hits == hits + 1
    assert all("risk_warnings" not in i for i in plain.json()["items"])
    top = plain.json()["items"][0]["enterprise_id"]
    enterprise = service.get(f"/v1/enterprises/{top}/shortlist", params={"k": 3})
    assert enterprise.status_code == 200
    assert enterprise.json()["query"] == {"enterprise_id": top}


def test_answer_equals_the_jsonl_object_without_nulls(service: Service) -> None:
    engine = service.client.app.state.engine  # type: ignore[attr-defined]
    body = service.get(f"/v1/buildings/{service.other_building}/shortlist", params={"k": 4})
    (expected,) = engine.shortlist_for_buildings([service.other_building], k=4)
    assert body.json() == _without_none(expected)


def test_a_data_change_replaces_cached_answers(fresh_service: Service) -> None:
    svc = fresh_service
    path = f"/v1/buildings/{svc.own_building}/shortlist"
    before = svc.get(path, "op_own", params={"k": 5}).json()["items"]
    assert svc.get(path, "op_own", params={"k": 5}).json()["items"] == before  # now cached
    first = before[0]["enterprise_id"]
    moved = svc.client.post("/v1/tenancies/move-in", headers=svc.headers("op_own"), json={
        "enterprise_id": first, "building_id": svc.own_building,
        "start_date": date.today().isoformat(), "area_m2": 80.0,
    })  # fmt: skip
    assert moved.status_code == 200, moved.text
    written = int(moved.headers["X-Data-Version"])
    answer = svc.client.get(path, params={"k": 5},
                            headers=svc.headers("op_own") | {"X-Min-Data-Version": str(written)})
    assert int(answer.headers["X-Data-Version"]) >= written
    assert first not in {i["enterprise_id"] for i in answer.json()["items"]}


def test_a_key_revoked_by_another_process_is_refused_when_not_cached(
    world: World, tmp_path: Path
) -> None:
    for svc in start_service(world, tmp_path, key_cache_seconds=0):
        path = f"/v1/buildings/{svc.own_building}/shortlist"
        assert svc.get(path, "viewer").status_code == 200
        revoke_key(svc.repo, parse_key(svc.keys["viewer"])[0])  # type: ignore[index]
        assert svc.get(path, "viewer").status_code == 401


def test_a_revoked_key_is_refused_at_once_by_the_worker_that_revoked_it(
    fresh_service: Service,
) -> None:
    svc = fresh_service
    path = f"/v1/buildings/{svc.own_building}/shortlist"
    assert svc.client.app.state.keys.ttl_s == 2.0  # type: ignore[attr-defined]
    assert svc.get(path, "viewer").status_code == 200  # the viewer's key is now cached
    key_id = parse_key(svc.keys["viewer"])[0]  # type: ignore[index]
    assert (
        svc.client.delete(f"/v1/admin/keys/{key_id}", headers=svc.headers("admin")).status_code
        == 200
    )
    assert svc.get(path, "viewer").status_code == 401


def test_shortlist_audit_entries_are_stored_by_shutdown(world: World, tmp_path: Path) -> None:
    for svc in start_service(world, tmp_path):
        for _ in range(3):
            assert (
                svc.get(f"/v1/buildings/{svc.own_building}/shortlist", "viewer").status_code == 200
            )
        db = svc.settings.db
    with Repository(db) as repo:
        entries = repo.read_audit(limit=10)
    assert [e["action"] for e in entries] == ["shortlist.building"] * 3
    assert all(e["target"] for e in entries)


def _engine(svc: Service) -> Engine:
    """An engine of its own on the service's database and model store, as a worker holds."""
    return Engine(Repository(svc.settings.db), svc.settings.models, as_of=date.today)


def _building_ids(engine: Engine, n: int) -> list[str]:
    return [str(i) for i in engine.state().pool.buildings.ids[:n]]


def _worker(svc: Service, shared: SharedAnswers) -> ShortlistAnswers:
    """A second process's view: its own engine and answers, the same database and shared file."""
    return ShortlistAnswers(_engine(svc), maxsize=10, shared=shared, scope=svc.settings.db)


def test_a_scored_answer_checks_freshness_once_and_scores_on_that_state(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(service)
    answers = ShortlistAnswers(engine, maxsize=10)
    states: list[object] = []
    state = engine.state
    monkeypatch.setattr(engine, "state", lambda: states.append(state()) or states[-1])
    body = answers.for_building(service.own_building, ShortlistQuery(k=5)).body
    assert len(states) == 1 and answers.scored == 1  # one check (it was one here, one inside)
    assert json.loads(body)["model_version"] == states[0].model.version  # type: ignore[attr-defined]
    # the engine scores on the state it is given, without looking for a newer one
    given = engine.shortlist_for_buildings([service.own_building], k=5, state=states[0])
    assert len(states) == 1 and json.loads(body) == _without_none(given[0])


def test_workers_share_answers_until_the_data_changes(
    fresh_service: Service, tmp_path: Path
) -> None:
    svc = fresh_service
    shared_file = tmp_path / "answers.sqlite"
    one = _worker(svc, SharedAnswers(shared_file, maxsize=10))
    two = _worker(svc, SharedAnswers(shared_file, maxsize=10))
    query = ShortlistQuery(k=5)
    first = one.for_building(svc.own_building, query)
    assert two.for_building(svc.own_building, query) == first
    assert (one.scored, two.scored) == (1, 0)  # the second worker read the first one's answer
    assert two.for_enterprise(json.loads(first.body)["items"][0]["enterprise_id"], query)
    assert two.scored == 1  # another query: scored
    top = json.loads(first.body)["items"][0]["enterprise_id"]
    moved = svc.client.post("/v1/tenancies/move-in", headers=svc.headers("op_own"), json={
        "enterprise_id": top, "building_id": svc.own_building,
        "start_date": date.today().isoformat(), "area_m2": 80.0,
    })  # fmt: skip
    assert moved.status_code == 200, moved.text
    after = two.for_building(svc.own_building, query)
    assert two.scored == 2  # new data: scored again, not read from the old state's entries
    assert top not in {i["enterprise_id"] for i in json.loads(after.body)["items"]}
    assert one.for_building(svc.own_building, query) == after and one.scored == 1


def test_an_answer_of_a_state_behind_the_data_is_never_shared(
    fresh_service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker refreshing in the background answers from its old state meanwhile: what it
    scores then must not reach a sibling that stands on the new data."""
    svc = fresh_service
    shared = SharedAnswers(tmp_path / "answers.sqlite", maxsize=10)
    behind = _worker(svc, shared)
    behind.engine.refresh = "background"
    monkeypatch.setattr(behind.engine, "_start_refresh", lambda target: None)  # stays behind
    current = _worker(svc, shared)
    [first] = behind.engine.shortlist_for_buildings([svc.own_building], k=5)  # no answer yet
    top = first["items"][0]["enterprise_id"]
    move_in(svc.repo, enterprise_id=top, building_id=svc.own_building,
            start_date=date.today().isoformat(), area_m2=80.0)  # fmt: skip
    stale = behind.for_building(svc.own_building, ShortlistQuery(k=7))
    assert top in {i["enterprise_id"] for i in json.loads(stale.body)["items"]}
    assert stale.data_version == svc.repo.data_version() - 1
    fresh = current.for_building(svc.own_building, ShortlistQuery(k=7))
    assert current.scored == 1 and fresh.data_version == svc.repo.data_version()
    assert top not in {i["enterprise_id"] for i in json.loads(fresh.body)["items"]}


def test_answers_keep_no_replaced_state_alive(service: Service, tmp_path: Path) -> None:
    """The engine lets the old data go before it loads new data (a 1M-enterprise state is
    ~3 GB); the answers' cache and shared-cache key must not hold that state either."""
    shared = SharedAnswers(tmp_path / "answers.sqlite", maxsize=10)
    answers = _worker(service, shared)
    first = answers.for_building(service.own_building, ShortlistQuery(k=3))
    gone = weakref.ref(answers.engine.state())
    answers.engine = _worker(service, shared).engine
    gc.collect()
    assert gone() is None
    assert answers.for_building(service.own_building, ShortlistQuery(k=3)) == first


def test_other_databases_never_share_answers(service: Service, tmp_path: Path) -> None:
    shared = SharedAnswers(tmp_path / "answers.sqlite", maxsize=10)
    one = _worker(service, shared)
    other = _worker(service, shared)
    other.scope = "another database"
    one.for_building(service.own_building, ShortlistQuery(k=3))
    other.for_building(service.own_building, ShortlistQuery(k=3))
    assert (one.scored, other.scored) == (1, 1)


def test_a_single_process_server_shares_nothing(service: Service) -> None:
    assert shared_answers_for(service.settings) is None  # the test process has no parent server
    assert service.client.app.state.answers.shared is None  # type: ignore[attr-defined]


def test_an_empty_shared_cache_dir_turns_sharing_off(tmp_path: Path) -> None:
    assert Settings(shared_cache_dir="").shared_cache_dir is None  # type: ignore[arg-type]
    assert Settings(shared_cache_dir=tmp_path).shared_cache_dir == tmp_path


def test_a_request_queued_behind_the_same_query_takes_its_answer(service: Service) -> None:
    # As if two requests for one building missed together: the second, let in after the first
    # scored, finds the answer instead of scoring it again.
    engine = _engine(service)
    answers = ShortlistAnswers(engine, maxsize=10)
    query = ShortlistQuery(k=4)
    first = answers.for_building(service.own_building, query).body
    state = engine.state()
    again = answers._shared_or_scored(  # the queued request's path
        state, engine.shortlist_for_buildings, "building", [service.own_building], query
    )
    assert again == [first] and answers.scored == 1


def test_a_two_worker_server_shares_answers_and_removes_them_when_it_stops(
    world: World, tmp_path: Path
) -> None:
    with tenantmatch_serve(world, tmp_path, workers=2) as served:
        answer = httpx.get(f"{served.base}/v1/buildings/{served.building}/shortlist",
                           headers={"X-API-Key": served.key}, timeout=60)  # fmt: skip
        assert answer.status_code == 200 and answer.json()["items"]
        files = sorted(f.name for f in served.shared.glob("answers-*.sqlite"))
        assert len(files) == 1  # the workers of this run share one file
    assert served.process.returncode == 0
    assert sorted(f.name for f in served.shared.iterdir()) == []  # removed with its side files


def test_removing_shared_answers_keeps_other_runs_files(tmp_path: Path) -> None:
    settings = Settings(shared_cache_dir=tmp_path)
    mine = shared_answers_path(settings)
    assert mine is not None and mine.parent == tmp_path
    SharedAnswers(mine, maxsize=10).put("state", {"query": b"{}"})  # the file and its WAL
    other = tmp_path / "answers-0123456789abcdef.sqlite"
    other.write_bytes(b"")
    remove_shared_answers(settings)
    assert sorted(f.name for f in tmp_path.iterdir()) == [other.name]
    assert shared_answers_path(Settings(shared_cache_dir="")) is None  # type: ignore[arg-type]
    assert shared_answers_path(Settings(shared_cache_dir=tmp_path, shortlist_cache=0)) is None


def _queued(answers: ShortlistAnswers, ids: list[str], query: ShortlistQuery) -> dict[str, Any]:
    """Ask for ``ids`` from one thread each while the engine is held, so that all of them wait
    in the queue; then let the engine go. Each id's answer (bytes) or error."""
    outcome: dict[str, Any] = {}

    def ask(i: str) -> None:
        try:
            outcome[i] = answers.for_building(i, query).body
        except Exception as exc:  # the test compares the error itself
            outcome[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in ids]
    with answers._scoring:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sum(len(q) for q in answers._queue.values()) < len(ids):
            assert time.monotonic() < deadline, "the requests never queued"
            time.sleep(0.01)
    for t in threads:
        t.join(timeout=60)
    return outcome


def _one_by_one(engine: Engine, ids: list[str], query: ShortlistQuery) -> dict[str, bytes]:
    """Each id's answer asked alone, outside any batch (what a batch must reproduce)."""
    alone = ShortlistAnswers(engine, maxsize=10)
    return {i: alone.for_building(i, query).body for i in ids}


def _engine_calls(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real = engine.shortlist_for_buildings

    def counted(ids: list[str], **kwargs: Any) -> list[dict[str, Any]]:
        calls.append(list(ids))
        return real(ids, **kwargs)

    monkeypatch.setattr(engine, "shortlist_for_buildings", counted)
    return calls


def test_queued_requests_are_scored_in_one_engine_call_with_the_same_answers(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(service)
    ids = _building_ids(engine, 5)
    query = ShortlistQuery(k=6)
    one_by_one = _one_by_one(engine, ids, query)
    answers = ShortlistAnswers(engine, maxsize=10)
    calls = _engine_calls(engine, monkeypatch)
    outcome = _queued(answers, ids, query)
    assert outcome == one_by_one  # the same bytes, whichever request scored them
    assert len(calls) == 1 and sorted(calls[0]) == sorted(ids) and answers.scored == 5
    assert answers._queue == {}  # nothing left waiting (the queue holds no state alive)


def test_an_unknown_id_in_a_batch_fails_only_its_own_request(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(service)
    ids = _building_ids(engine, 2)
    query = ShortlistQuery(k=3)
    expected = _one_by_one(engine, ids, query)
    answers = ShortlistAnswers(engine, maxsize=10)
    calls = _engine_calls(engine, monkeypatch)
    outcome = _queued(answers, [*ids, "NO-SUCH-BUILDING"], query)
    assert isinstance(outcome.pop("NO-SUCH-BUILDING"), NotFoundError)
    assert outcome == expected
    assert len(calls) == 4 and len(calls[0]) == 3  # the batch, then each id on its own
    # the next request for a good id is a cache hit, and the queue is empty
    assert answers.for_building(ids[0], query).body == expected[ids[0]] and answers._queue == {}


def test_an_idle_scorer_thread_ends_and_the_next_miss_starts_another(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tenantmatch.api.answers.IDLE_SCORER_S", 1.0)
    engine = _engine(service)
    answers = ShortlistAnswers(engine, maxsize=10)
    ids = _building_ids(engine, 2)
    first = answers.for_building(ids[0], ShortlistQuery(k=3))
    scorer = answers._scorer
    assert scorer is not None
    scorer.join(timeout=30)
    assert not scorer.is_alive() and answers._scorer is None
    second = answers.for_building(ids[1], ShortlistQuery(k=3))
    assert json.loads(first.body)["query"] != json.loads(second.body)["query"]
    assert answers.scored == 2
