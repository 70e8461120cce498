"""The audit log's hash chain: linear under concurrent writers, tamper-evident, prunable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tenantmatch.store import AuditFilter, AuditWriter, Principal, Repository, audit
from tenantmatch.store.audit_chain import row_hash


def _entries(repo: Repository) -> list[dict]:
    return list(repo.iter_audit())


def test_each_row_carries_the_hash_of_the_previous_and_its_content(repo: Repository) -> None:
    first = audit(repo, None, action="key.create", target="k1", detail={"role": "admin"})
    second = audit(repo, None, action="key.revoke", target="k1", actor="cli:alice")

    rows = _entries(repo)
    assert [r["id"] for r in rows] == [first, second]
    assert rows[0]["hash"] == row_hash("", rows[0])
    assert rows[1]["hash"] == row_hash(rows[0]["hash"], rows[1])
    assert rows[1]["key_id"] == "cli:alice"
    check = repo.verify_audit()
    assert (check.ok, check.checked, check.broken_id) == (True, 2, None)


def test_concurrent_writers_keep_the_chain_linear(db_url: str) -> None:
    repos = [Repository(db_url) for _ in range(3)]  # three "processes" with their own engines
    writers = [AuditWriter(r, interval_s=0.01) for r in repos]
    barrier = threading.Barrier(9)

    def work(n: int) -> None:
        barrier.wait()
        writer, repo = writers[n % 3], repos[n % 3]
        for i in range(15):
            if i % 3 == 0:
                audit(repo, Principal(f"k{n}", "admin"), action="direct", target=f"{n}-{i}")
            else:
                writer.add(Principal(f"k{n}", "viewer"), action="queued", target=f"{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()
    try:
        rows = _entries(repos[0])
        assert len(rows) == 9 * 15
        assert [r["id"] for r in rows] == list(range(1, 9 * 15 + 1))
        check = repos[0].verify_audit()
        assert (check.ok, check.checked) == (True, 135)
    finally:
        for r in repos:
            r.close()


def test_tampering_one_rows_detail_breaks_the_chain_at_that_row(repo: Repository) -> None:
    ids = [audit(repo, None, action="import", target=f"t{i}", detail={"rows": i}) for i in range(5)]
    with repo._engine.begin() as conn:  # an attacker with SQL access
        conn.execute(text("UPDATE audit_log SET detail = '{\"rows\": 0}' WHERE id = :id"),
                     {"id": ids[2]})  # fmt: skip

    check = repo.verify_audit()
    assert (check.ok, check.broken_id, check.checked) == (False, ids[2], 2)


def test_deleting_a_row_in_the_middle_breaks_the_chain_at_the_next(repo: Repository) -> None:
    ids = [audit(repo, None, action="a", target=str(i)) for i in range(4)]
    with repo._engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    assert repo.verify_audit().broken_id == ids[2]


def test_pruning_keeps_the_chain_verifiable_from_its_anchor(repo: Repository) -> None:
    old = datetime.now(UTC) - timedelta(days=400)
    for i in range(3):
        audit(repo, None, action="old", target=str(i), ts=old + timedelta(minutes=i))
    kept = audit(repo, None, action="new", target="x")

    deleted = repo.prune_audit(datetime.now(UTC) - timedelta(days=365),
                               entry={"action": "audit.prune", "key_id": "cli:bob"})  # fmt: skip

    assert deleted == 3
    rows = _entries(repo)
    assert [(r["id"], r["action"]) for r in rows] == [(kept, "new"), (kept + 1, "audit.prune")]
    assert repo.verify_audit().ok
    audit(repo, None, action="after", target="y")
    assert repo.verify_audit().ok and repo.verify_audit().checked == 3
    with repo._engine.begin() as conn:  # a row smuggled in under the anchor is a break
        conn.execute(text("INSERT INTO audit_log (id, ts, action) VALUES (1, :ts, 'forged')"),
                     {"ts": datetime.now(UTC)})  # fmt: skip
    assert repo.verify_audit().broken_id == 1


def test_filters_and_paging(repo: Repository) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(6):
        audit(repo, Principal("k1" if i % 2 else "k2", "admin"), action="a" if i < 3 else "b",
              target=f"T{i % 3}", ts=t0 + timedelta(days=i))  # fmt: skip
    rows, total = repo.find_audit(AuditFilter(key_id="k1"))
    assert total == 3 and [r["target"] for r in rows] == ["T2", "T0", "T1"]
    rows, total = repo.find_audit(AuditFilter(action="b", since=t0 + timedelta(days=4)))
    assert total == 2 and [r["target"] for r in rows] == ["T2", "T1"]
    rows, total = repo.find_audit(AuditFilter(until=t0 + timedelta(days=2), target="T0"))
    assert total == 1 and rows[0]["ts"] == t0
    rows, total = repo.find_audit(AuditFilter(limit=2, offset=1))
    assert total == 6 and [r["id"] for r in rows] == [5, 4]


def test_key_last_use_is_stored_at_most_once_a_minute(repo: Repository) -> None:
    from tenantmatch.store import create_key, list_keys

    key = create_key(repo, role="viewer", created=datetime.now(UTC))
    key_id = key.split("_")[1]
    writer = AuditWriter(repo, interval_s=60)
    try:
        assert list_keys(repo)[0]["last_used_at"] is None
        writer.touch(key_id, now=100.0)
        writer.flush()
        first = list_keys(repo)[0]["last_used_at"]
        assert first is not None and abs((datetime.now(UTC) - first).total_seconds()) < 5
        writer.touch(key_id, now=130.0)  # within the minute: not queued
        assert writer._touched == {}
        writer.touch(key_id, now=161.0)
        assert key_id in writer._touched
    finally:
        writer.close()

