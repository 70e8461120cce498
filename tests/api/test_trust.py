"""Issue 21: errors say what, not how (items 3); refused attempts, sensitive reads and the audit
route (item 2); security headers and key last use (item 6)."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from tenantmatch.api import Settings, create_app
from tests.api.conftest import Service, World

LEAKS = ("SELECT", "INSERT", "UPDATE ", "audit_log", "sqlite", "[parameters", "Traceback", "/tmp",
         "/work", "/root", ".db")  # fmt: skip


def _no_internals(body: str, *extra: str) -> None:
    for leak in (*LEAKS, *extra):
        assert leak not in body, f"{leak!r} leaked: {body}"


def test_a_locked_database_answers_the_catalogue_without_sql_or_other_callers(
    fresh_service: Service,
) -> None:
    s = fresh_service
    viewer_key_id = s.keys["viewer"].split("_")[1]
    # a viewer's request queues an audit row holding its key id (the leak of issue 21)
    assert s.get(f"/v1/buildings/{s.own_building}/shortlist?k=3", "viewer").status_code == 200
    db = s.settings.db.removeprefix("sqlite:///")
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        answer = s.client.put(f"/v1/buildings/{s.own_building}", headers=s.headers("admin"),
                              json={"name": "锁住的大厦"})  # fmt: skip
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "storage_unavailable"
    assert error["message"] == "the database is unavailable; retry later"
    assert error["message_zh"] == "数据库暂时不可用，请稍后重试"
    assert error["request_id"] == answer.headers["X-Request-ID"]
    _no_internals(answer.text, viewer_key_id, s.own_building, "locked")


def test_a_broken_database_answers_without_sql(world: World, tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    shutil.copy(world.db_file, db)
    settings = Settings(db=f"sqlite:///{db}", models=world.models, jobs_dir=tmp_path / "jobs",
                        json_logs=False)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE events")
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "storage_unavailable"
    _no_internals(answer.text, "events", str(tmp_path))


def test_a_missing_model_store_names_no_path_on_readyz(tmp_path: Path) -> None:
    store = tmp_path / "secret-place" / "store"
    settings = Settings(db=f"sqlite:///{tmp_path / 'empty.db'}", models=store,
                        jobs_dir=tmp_path / "jobs", json_logs=False)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "model_unavailable"
    _no_internals(answer.text, "secret-place", str(tmp_path))


def test_security_headers_on_every_answer(service: Service) -> None:
    for path, who in (("/", "none"), ("/static/app.js", "none"), ("/healthz", "none"),
                      ("/v1/buildings", "none"), ("/v1/buildings", "viewer"),
                      (f"/v1/buildings/{service.own_building}/shortlist?k=2", "op_own"),
                      ("/v1/nowhere", "admin")):  # fmt: skip
        answer = service.get(path, who)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["Referrer-Policy"] == "no-referrer", path
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1]
        assert "frame-ancestors 'none'" in csp
        if path.startswith("/v1/"):
            assert answer.headers["Cache-Control"] == "no-store", path
    docs = service.get("/docs", "none")
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["Content-Security-Policy"]
    mapped = service.get("/v1/map/buildings", "viewer")  # revalidated: keeps its own caching
    assert mapped.headers["Cache-Control"] == "private, no-cache"


def _audit(s: Service, **params: object) -> list[dict]:
    answer = s.get("/v1/admin/audit", "admin", params={"limit": 500, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_refused_attempts_are_audited_and_aggregated(fresh_service: Service) -> None:
    s = fresh_service
    for _ in range(25):
        assert s.get("/v1/buildings", "bad").status_code == 401
    assert s.get("/v1/admin/keys", "viewer").status_code == 403
    assert s.client.put(f"/v1/buildings/{s.other_building}", headers=s.headers("op_own"),
                        json={"name": "别人的大厦"}).status_code == 404  # fmt: skip
    s.client.app.state.audit.flush()  # type: ignore[attr-defined]

    unauthorised = _audit(s, action="refused.401")
    assert len(unauthorised) == 1  # 25 attempts in one minute: one row, the rest counted
    assert unauthorised[0]["actor"] is None and unauthorised[0]["target"] == "/v1/buildings"
    assert '"presented_key_id": "0123456789abcdef"' in unauthorised[0]["detail"]
    viewer = s.keys["viewer"].split("_")[1]
    (forbidden,) = _audit(s, action="refused.403")
    assert (forbidden["actor"], forbidden["target"]) == (viewer, "/v1/admin/keys")
    (hidden,) = _audit(s, action="refused.404")
    assert hidden["actor"] == s.keys["op_own"].split("_")[1]
    assert hidden["target"] == "/v1/buildings/{building_id}"
    s.client.app.state.refusals.close()  # type: ignore[attr-defined]
    s.client.app.state.audit.flush()  # type: ignore[attr-defined]
    (counted,) = _audit(s, action="refused.overflow")
    assert '"refusals_not_itemised": 24' in counted["detail"]


def test_credit_reads_are_audited_and_the_audit_route_filters(fresh_service: Service) -> None:
    s = fresh_service
    enterprise = str(s.tables["enterprises"]["enterprise_id"].iloc[0])
    assert s.get(f"/v1/enterprises/{enterprise}", "op_own").status_code == 200
    assert s.get(f"/v1/enterprises/{enterprise}", "viewer").status_code == 200  # no credit
    s.client.app.state.audit.flush()  # type: ignore[attr-defined]
    reads = _audit(s, action="enterprise.read_credit", target=enterprise)
    assert [r["actor"] for r in reads] == [s.keys["op_own"].split("_")[1]]
    assert len(reads[0]["hash"]) == 64

    page = s.get("/v1/admin/audit", "admin", params={"limit": 1, "offset": 0}).json()
    assert page["total"] >= 1 and len(page["items"]) == 1
    since = reads[0]["ts"]
    op_key = s.keys["op_own"].split("_")[1]
    later = _audit(s, since=since, actor=op_key)
    assert [r["action"] for r in later] == ["enterprise.read_credit"]
    assert _audit(s, since=since, actor=op_key, key_id=op_key) == later  # the same column
    assert _audit(s, actor=op_key, key_id=s.keys["viewer"].split("_")[1]) == []  # matches none
    assert _audit(s, until=since, action="enterprise.read_credit") == []
    exported = s.get("/v1/admin/audit", "admin", params={"format": "csv", "action":
                                                         "enterprise.read_credit"})  # fmt: skip
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["target"] for r in rows] == [enterprise]
    assert s.get("/v1/admin/audit", "op_own").status_code == 403
    assert s.get("/v1/admin/audit", "admin", params={"since": "yesterday"}).status_code == 422


def test_keys_show_when_they_were_last_used(fresh_service: Service) -> None:
    s = fresh_service
    assert s.get("/v1/buildings", "viewer").status_code == 200
    s.client.app.state.audit.flush()  # type: ignore[attr-defined]
    items = {k["key_id"]: k for k in s.get("/v1/admin/keys").json()["items"]}
    assert items[s.keys["viewer"].split("_")[1]]["last_used_at"] is not None
    assert items[s.keys["op_other"].split("_")[1]]["last_used_at"] is None


def test_concurrent_audited_requests_keep_the_chain_whole(fresh_service: Service) -> None:
    s = fresh_service
    enterprise = str(s.tables["enterprises"]["enterprise_id"].iloc[0])

    def hammer() -> None:
        for _ in range(10):
            s.get(f"/v1/enterprises/{enterprise}", "admin")
            s.get("/v1/buildings", "bad")

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.client.app.state.audit.flush()  # type: ignore[attr-defined]
    check = s.repo.verify_audit()
    assert check.ok and check.checked >= 40


def test_audit_retention_prunes_old_rows_when_a_worker_starts(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tenantmatch.store import Repository, audit

    db = f"sqlite:///{tmp_path / 'retention.db'}"
    with Repository(db) as repo:
        audit(repo, None, action="old", ts=datetime.now(UTC) - timedelta(days=40))
        kept = audit(repo, None, action="recent")
    settings = Settings(db=db, models=tmp_path / "no_store", jobs_dir=tmp_path / "jobs",
                        json_logs=False, audit_retention_days=30)  # fmt: skip
    with TestClient(create_app(settings)):
        pass
    with Repository(db) as repo:
        rows = list(repo.iter_audit())
        assert [(r["id"], r["action"]) for r in rows][:1] == [(kept, "recent")]
        assert rows[1]["action"] == "audit.prune" and rows[1]["key_id"] == "service"
        assert repo.verify_audit().ok
