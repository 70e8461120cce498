"""Registry writes under concurrency, with real threads on one shared Repository (as a server's
request threads share it), on SQLite and PostgreSQL: vacancy exact or refused, no lost update,
one winner per new id, If-Match, and audit entries stored with (and only with) the change."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tenantmatch.registry.errors import ConflictError, NotFoundError, PreconditionFailed
from tenantmatch.store import Repository
from tenantmatch.store.access import AuditNote
from tenantmatch.store.errors import StorageError
from tenantmatch.store.moves import move_in
from tenantmatch.store.updates import row_etag, upsert_building, upsert_enterprise
from tests.store.test_updates import _building, _enterprise

THREADS = 20


def _all_at_once(n: int, job: Callable[[int], Any]) -> list[Any]:
    """``job(i)`` for i in 0..n-1 on n threads released together; each result or the domain
    error it raised."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return job(i)
        except (ConflictError, PreconditionFailed, NotFoundError) as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _vacancy(repo: Repository, building_id: str) -> float:
    return float(repo.get_row("buildings", {"building_id": building_id})["vacant_area_m2"])


def _firms(repo: Repository, n: int) -> list[str]:
    ids = [f"E{i:03d}" for i in range(n)]
    for enterprise_id in ids:
        upsert_enterprise(repo, _enterprise(enterprise_id))
    return ids


@pytest.mark.parametrize("vacant", [2000.0, 1450.0])
def test_concurrent_move_ins_keep_vacancy_exact_or_refuse(repo, vacant):
    upsert_building(repo, _building("B1", total_area_m2=5000.0, vacant_area_m2=vacant))
    firms = _firms(repo, THREADS)
    results = _all_at_once(THREADS, lambda i: move_in(
        repo, enterprise_id=firms[i], building_id="B1", start_date="2026-03-01", area_m2=100.0,
    ))  # fmt: skip
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ConflictError)]
    fits = int(vacant // 100)  # 20 of 20, or 14 of 20
    assert (len(accepted), len(refused)) == (min(fits, THREADS), THREADS - min(fits, THREADS))
    assert _vacancy(repo, "B1") == vacant - 100.0 * len(accepted)
    tenancies = repo.load_table("tenancies")
    assert len(tenancies) == len(accepted) and tenancies["area_m2"].sum() == 100.0 * len(accepted)
    for exc in refused:
        assert "100" in str(exc) and "50 m²" in str(exc) and "空置面积" in str(exc)


def test_concurrent_partial_updates_of_different_fields_both_survive(repo):
    pairs = 10
    for i in range(pairs):
        upsert_building(repo, _building(f"B{i}", floors=10))

    def write(i: int) -> dict[str, Any]:
        change = {"name": f"新名{i // 2}"} if i % 2 == 0 else {"floors": 30 + i // 2}
        return upsert_building(repo, {"building_id": f"B{i // 2}", **change})

    results = _all_at_once(2 * pairs, write)
    assert all(isinstance(r, dict) for r in results)
    for i in range(pairs):
        row = repo.get_row("buildings", {"building_id": f"B{i}"})
        assert (row["name"], row["floors"]) == (f"新名{i}", 30 + i)


def test_concurrent_creates_of_one_id_have_one_winner(repo):
    n = 8

    def create(i: int) -> dict[str, Any]:
        return upsert_building(repo, _building("NEW", name=f"抢注{i}", operator_id=f"OP{i}"),
                               create_only=True)  # fmt: skip

    results = _all_at_once(n, create)
    [winner] = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(losers) == n - 1 and all("already exists" in str(e) for e in losers)
    stored = repo.get_row("buildings", {"building_id": "NEW"})
    assert (stored["name"], stored["operator_id"]) == (winner["name"], winner["operator_id"])


def test_concurrent_puts_by_two_operators_leave_the_first_owner(repo):
    """Two operators PUT the same new id: the one that wrote first owns it, the other is refused
    like for any building of another operator (the check runs inside the write)."""

    def put(i: int) -> dict[str, Any]:
        owner = f"OP{i}"
        return upsert_building(repo, _building("NEW", operator_id=owner),
                               may_edit=lambda row: row["operator_id"] == owner)  # fmt: skip

    for _ in range(5):
        results = _all_at_once(2, put)
        [winner] = [r for r in results if isinstance(r, dict)]
        assert sum(isinstance(r, NotFoundError) for r in results) == 1
        assert (
            repo.get_row("buildings", {"building_id": "NEW"})["operator_id"]
            == (winner["operator_id"])
        )
        repo.delete_rows("buildings", [{"building_id": "NEW"}])


def test_if_match_lets_one_of_many_stale_copies_win(repo):
    first = upsert_building(repo, _building("B1"))
    tag = row_etag(first)
    results = _all_at_once(6, lambda i: upsert_building(
        repo, {"building_id": "B1", "floors": 10 + i}, if_match={tag},
    ))  # fmt: skip
    [winner] = [r for r in results if isinstance(r, dict)]
    assert sum(isinstance(r, PreconditionFailed) for r in results) == 5
    assert repo.get_row("buildings", {"building_id": "B1"})["floors"] == winner["floors"]
    assert row_etag(winner) != tag


def test_if_match_star_and_missing_rows(repo):
    with pytest.raises(PreconditionFailed, match="not found"):
        upsert_building(repo, _building("B1"), if_match={"*"})
    assert repo.get_row("buildings", {"building_id": "B1"}) is None
    row = upsert_building(repo, _building("B1"))
    assert upsert_building(repo, {"building_id": "B1", "floors": 7}, if_match={"*"})["floors"] == 7
    with pytest.raises(PreconditionFailed, match="ETag"):
        upsert_building(repo, {"building_id": "B1", "floors": 8}, if_match={row_etag(row)})
    assert repo.get_row("buildings", {"building_id": "B1"})["floors"] == 7


def _audit(repo: Repository) -> list[tuple[str, str, dict[str, Any]]]:
    entries = reversed(repo.read_audit(limit=100))
    return [(e["action"], e["target"], json.loads(e["detail"] or "{}")) for e in entries]


def test_move_in_audit_names_every_building_it_touched(repo):
    upsert_building(repo, _building("B1"))
    upsert_building(repo, _building("B2", operator_id="OP2"))
    upsert_enterprise(repo, _enterprise("E1"))
    move_in(repo, enterprise_id="E1", building_id="B2", start_date="2025-01-01", area_m2=200)
    note = AuditNote(key_id="k1", action="tenancy.move_in", detail={"area_m2": 300.0})
    move_in(repo, enterprise_id="E1", building_id="B1", start_date="2026-01-01", area_m2=300,
            audit=note)  # fmt: skip
    [main, elsewhere] = _audit(repo)
    assert main == ("tenancy.move_in", "B1", {
        "area_m2": 300.0, "buildings": ["B1", "B2"],
        "vacancy_change_m2": {"B1": -300.0, "B2": 200.0},
    })  # fmt: skip
    assert elsewhere[:2] == ("tenancy.ended_by_move_in", "B2")
    assert elsewhere[2]["moved_into"] == "B1" and elsewhere[2]["end_date"] == "2025-12-31"
    assert (_vacancy(repo, "B1"), _vacancy(repo, "B2")) == (2700.0, 3000.0)


def _switch_audit_table(repo: Repository, *, off: bool) -> None:
    """Make every audit insert fail (or work again) by renaming the audit table."""
    old, new = ("audit_log", "audit_log_off") if off else ("audit_log_off", "audit_log")
    engine = create_engine(repo.url)
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    engine.dispose()


def test_a_failed_audit_insert_commits_nothing(repo):
    upsert_building(repo, _building("B1"))
    upsert_enterprise(repo, _enterprise("E1"))
    before, version = repo.get_row("buildings", {"building_id": "B1"}), repo.data_version()
    note = AuditNote(key_id="k1", action="write")
    _switch_audit_table(repo, off=True)
    try:
        with pytest.raises(StorageError, match="rolled back"):
            upsert_building(repo, {"building_id": "B1", "name": "改名"}, audit=note)
        with pytest.raises(StorageError, match="rolled back"):
            move_in(repo, enterprise_id="E1", building_id="B1", start_date="2026-01-01",
                    area_m2=100, audit=note)  # fmt: skip
    finally:
        _switch_audit_table(repo, off=False)
    assert repo.get_row("buildings", {"building_id": "B1"}) == before
    assert repo.counts()["tenancies"] == 0 and repo.data_version() == version
    upsert_building(repo, {"building_id": "B1", "name": "改名"}, audit=note)
    assert _audit(repo) == [("write", "B1", {})]
