"""API keys and roles: round trip, refusals, role checks, constant-time compare, audit rows."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tenantmatch.registry.errors import InputError, NotFoundError
from tenantmatch.store import Repository, access
from tenantmatch.store.access import (
    Principal,
    audit,
    authenticate,
    can_edit_building,
    can_see_credit,
    create_key,
    has_role,
    list_keys,
    parse_key,
    revoke_key,
)
from tenantmatch.store.errors import StorageError

CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path):  # SQLite only: the policy does not depend on the backend
    with Repository(f"sqlite:///{tmp_path / 'keys.db'}") as repository:
        yield repository


def test_round_trip_returns_principal_and_stores_only_a_hash(repo):
    key = create_key(repo, role="operator", operator_id="OP1", created=CREATED)
    key_id, secret = parse_key(key)
    principal = authenticate(repo, key)
    assert principal == Principal(key_id=key_id, role="operator", operator_id="OP1")
    stored = repo.find_api_key(key_id)
    assert stored["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(stored, default=str)
    assert stored["created_at"] == CREATED


def test_key_shape_and_fresh_randomness(repo):
    first = create_key(repo, role="viewer", created=CREATED)
    second = create_key(repo, role="viewer", created=CREATED)
    assert first.startswith("tm_") and first != second
    key_id, secret = parse_key(first)
    assert len(key_id) == 16 and len(secret) >= 43  # token_urlsafe(32): 43 characters


def test_wrong_secret_is_refused(repo):
    key = create_key(repo, role="admin", created=CREATED)
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert authenticate(repo, tampered) is None


def test_revoked_key_is_refused(repo):
    key = create_key(repo, role="viewer", created=CREATED)
    key_id, _ = parse_key(key)
    assert revoke_key(repo, key_id) is True
    assert authenticate(repo, key) is None
    assert revoke_key(repo, key_id) is False
    with pytest.raises(NotFoundError, match="0000000000000000"):
        revoke_key(repo, "0000000000000000")


@pytest.mark.parametrize(
    "presented",
    [None, "", "tm_", "Bearer tm_0123456789abcdef_xxxxxxxxxxxxxxxxxxxxxxxxx",
     "tm_0123456789ABCDEF_" + "x" * 43, "tm_0123_" + "x" * 43, "xx_0123456789abcdef_" + "x" * 43,
     "tm_0123456789abcdef_short", "tm_0123456789abcdef_" + "x" * 500,
     "tm_0123456789abcdef_" + "密" * 43],
)  # fmt: skip
def test_malformed_or_unknown_keys_are_refused(repo, presented):
    assert authenticate(repo, presented) is None


def test_unknown_key_id_still_compares_in_constant_time(repo, monkeypatch):
    calls = []
    real = access.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    key = create_key(repo, role="viewer", created=CREATED)
    assert authenticate(repo, key) is not None
    assert authenticate(repo, "tm_0123456789abcdef_" + "x" * 43) is None
    assert len(calls) == 2


def test_keys_and_hashes_are_never_logged(repo, caplog):
    caplog.set_level(logging.DEBUG)
    key = create_key(repo, role="viewer", created=CREATED)
    authenticate(repo, key)
    authenticate(repo, key[:-2] + "zz")
    key_id, secret = parse_key(key)
    digest = repo.find_api_key(key_id)["key_hash"]
    assert secret not in caplog.text and digest not in caplog.text
    assert key_id in caplog.text  # the id is not a secret and helps operations


@pytest.mark.parametrize(
    ("role", "operator_id", "message"),
    [("owner", None, "allowed: viewer, operator, admin"), ("operator", None, "needs operator_id"),
     ("operator", "  ", "needs operator_id"), ("viewer", "OP1", "only allowed for role")],
)  # fmt: skip
def test_create_key_refuses_bad_roles(repo, role, operator_id, message):
    with pytest.raises(InputError, match=message):
        create_key(repo, role=role, operator_id=operator_id, created=CREATED)
    assert list_keys(repo) == []


def test_list_keys_hides_hashes(repo):
    create_key(repo, role="admin", created=CREATED)
    (row,) = list_keys(repo)
    assert set(row) == {"key_id", "role", "operator_id", "created_at", "revoked_at", "expires_at",
                        "last_used_at"}  # fmt: skip
    assert (row["role"], row["expires_at"]) == ("admin", None)


def test_a_key_is_refused_from_its_expiry_on(repo):
    expires = CREATED + timedelta(days=30)
    key = create_key(repo, role="viewer", created=CREATED, expires_at=expires)
    assert authenticate(repo, key, now=expires - timedelta(seconds=1)) is not None
    assert authenticate(repo, key, now=expires) is None
    assert list_keys(repo)[0]["expires_at"] == expires


def test_a_key_cannot_expire_before_it_exists(repo):
    with pytest.raises(InputError, match="must be after the key's creation"):
        create_key(repo, role="viewer", created=CREATED, expires_at=CREATED)
    assert list_keys(repo) == []


VIEWER = Principal("k1", "viewer")
OPERATOR = Principal("k2", "operator", "OP1")
OTHER_OPERATOR = Principal("k3", "operator", "OP2")
ADMIN = Principal("k4", "admin")


@pytest.mark.parametrize(
    ("principal", "owner", "allowed"),
    [(None, "OP1", False), (VIEWER, "OP1", False), (OPERATOR, "OP1", True),
     (OTHER_OPERATOR, "OP1", False), (OPERATOR, None, False), (ADMIN, "OP1", True),
     (ADMIN, None, True)],
)  # fmt: skip
def test_can_edit_building(principal, owner, allowed):
    assert can_edit_building(principal, {"building_id": "B1", "operator_id": owner}) is allowed


def test_role_order():
    assert [has_role(p, "operator") for p in (None, VIEWER, OPERATOR, ADMIN)] == [
        False, False, True, True,
    ]  # fmt: skip
    assert has_role(VIEWER, "viewer") and not has_role(OPERATOR, "admin")
    assert [can_see_credit(p) for p in (VIEWER, OPERATOR, ADMIN)] == [False, True, True]
    with pytest.raises(InputError, match="superuser"):
        has_role(ADMIN, "superuser")


def test_audit_records_who_what_when(repo):
    ts = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    audit(repo, OPERATOR, action="building.update", target="B1", detail={"vacant": 10}, ts=ts)
    audit(repo, None, action="shortlist.read", target="B2")
    newest, oldest = repo.read_audit(limit=10)
    assert (oldest["key_id"], oldest["action"], oldest["target"]) == ("k2", "building.update", "B1")
    assert json.loads(oldest["detail"]) == {"vacant": 10} and oldest["ts"] == ts
    assert newest["key_id"] is None and newest["action"] == "shortlist.read"
    with pytest.raises(InputError, match="action"):
        audit(repo, ADMIN, action="")


class Clock:
    """A timer the test moves by hand (no sleeping, no timed assertions)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _counting_lookups(repo, monkeypatch):
    looked_up: list[str] = []
    real = repo.find_api_key

    def counted(key_id):
        looked_up.append(key_id)
        return real(key_id)

    monkeypatch.setattr(repo, "find_api_key", counted)
    return looked_up


def test_key_cache_looks_a_key_up_once_per_ttl(repo, monkeypatch):
    key = create_key(repo, role="operator", operator_id="OP1", created=CREATED)
    looked_up, clock = _counting_lookups(repo, monkeypatch), Clock()
    keys = access.KeyCache(ttl_s=2.0, timer=clock)
    assert keys.cached(key) is None
    first = keys.authenticate(repo, key)
    assert first == Principal(parse_key(key)[0], "operator", "OP1")
    clock.now = 1.9
    assert keys.authenticate(repo, key) == first and keys.cached(key) == first
    assert len(looked_up) == 1
    clock.now = 2.1  # expired: looked up again
    assert keys.authenticate(repo, key) == first
    assert len(looked_up) == 2


def test_key_revoked_elsewhere_stops_working_when_its_acceptance_expires(repo):
    key = create_key(repo, role="viewer", created=CREATED)
    key_id = parse_key(key)[0]
    clock = Clock()
    keys = access.KeyCache(ttl_s=2.0, timer=clock)
    assert keys.authenticate(repo, key) is not None
    revoke_key(repo, key_id)  # as another worker or the CLI would: this cache is not told
    clock.now = 2.5
    assert keys.authenticate(repo, key) is None
    clock.now = 100.0
    assert keys.authenticate(repo, key) is None  # refusals are not cached either way


def test_key_cache_forgets_a_revoked_key_at_once(repo):
    key, other = (create_key(repo, role="viewer", created=CREATED) for _ in range(2))
    keys = access.KeyCache(ttl_s=60.0, timer=Clock())
    assert keys.authenticate(repo, key) and keys.authenticate(repo, other)
    revoke_key(repo, parse_key(key)[0])
    keys.forget(parse_key(key)[0])
    assert keys.cached(key) is None and keys.authenticate(repo, key) is None
    assert keys.cached(other) is not None  # only the revoked key went


def test_key_cache_never_caches_refusals_and_can_be_off(repo, monkeypatch):
    key = create_key(repo, role="viewer", created=CREATED)
    looked_up = _counting_lookups(repo, monkeypatch)
    keys = access.KeyCache(ttl_s=60.0, timer=Clock())
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert keys.authenticate(repo, wrong) is None and keys.authenticate(repo, wrong) is None
    assert keys.authenticate(repo, None) is None and keys.cached(None) is None
    assert len(looked_up) == 2  # each wrong secret reached the database
    off = access.KeyCache(ttl_s=0)
    assert off.authenticate(repo, key) and off.authenticate(repo, key)
    assert off.cached(key) is None and len(looked_up) == 4
    with pytest.raises(InputError, match="ttl_s"):
        access.KeyCache(ttl_s=-1)


@pytest.fixture
def writer(repo):
    # An interval no test waits for: entries reach the database only through flush/wait/close.
    audit_writer = access.AuditWriter(repo, interval_s=3600)
    yield audit_writer
    audit_writer.close()


def test_audit_writer_stores_queued_entries_in_order_on_flush(repo, writer):
    writer.add(VIEWER, action="shortlist.building", target="B1", detail={"k": 5})
    writer.add(None, action="shortlist.enterprise", target="E1")
    assert writer.flush() == 2
    newest, oldest = repo.read_audit(limit=10)
    assert (oldest["key_id"], oldest["action"], oldest["target"]) == ("k1", "shortlist.building",
                                                                      "B1")  # fmt: skip
    assert json.loads(oldest["detail"]) == {"k": 5} and oldest["ts"] is not None
    assert (newest["key_id"], newest["action"]) == (None, "shortlist.enterprise")
    assert newest["id"] > oldest["id"] and writer.flush() == 0
    with pytest.raises(InputError, match="action"):
        writer.add(ADMIN, action="")


def test_audit_writer_wait_stores_everything_added_before(repo, writer):
    writer.add(VIEWER, action="shortlist.building", target="B1")
    writer.add(OPERATOR, action="building.upsert", target="B1", wait=True)
    assert [e["action"] for e in repo.read_audit(limit=10)] == [
        "building.upsert", "shortlist.building",
    ]  # fmt: skip


def test_audit_writer_close_stores_what_is_pending(repo):
    writer = access.AuditWriter(repo, interval_s=3600)
    writer.add(VIEWER, action="shortlist.building", target="B9")
    writer.close()
    assert [e["target"] for e in repo.read_audit(limit=10)] == ["B9"]
    writer.add(VIEWER, action="shortlist.building", target="B10")  # after close: stored at once
    assert [e["target"] for e in repo.read_audit(limit=10)] == ["B10", "B9"]


def test_audit_writer_keeps_entries_a_failed_write_refused(repo, writer, monkeypatch):
    real = repo.append_audit_many
    monkeypatch.setattr(repo, "append_audit_many", _refuse)
    writer.add(VIEWER, action="shortlist.building", target="B1")
    with pytest.raises(StorageError, match="locked"):
        writer.flush()
    writer.add(VIEWER, action="shortlist.building", target="B2")
    monkeypatch.setattr(repo, "append_audit_many", real)
    assert writer.flush() == 2
    assert [e["target"] for e in repo.read_audit(limit=10)] == ["B2", "B1"]


def test_audit_writer_writes_itself_when_the_backlog_is_full(repo):
    writer = access.AuditWriter(repo, interval_s=3600, max_pending=3)
    for target in ("B1", "B2"):
        writer.add(VIEWER, action="shortlist.building", target=target)
    assert repo.read_audit(limit=10) == []
    writer.add(VIEWER, action="shortlist.building", target="B3")
    assert [e["target"] for e in repo.read_audit(limit=10)] == ["B3", "B2", "B1"]
    writer.close()


def _refuse(entries):
    raise StorageError("append audit failed and was rolled back: database is locked")
