"""API keys, roles and the audit log: the service's access policy in one place.

A key reads ``tm_<key_id>_<secret>``: ``key_id`` (16 hex digits) names the stored row, ``secret``
comes from ``secrets.token_urlsafe(32)`` (256 random bits) and is stored only as its SHA-256 hex
digest. Roles are ordered viewer < operator < admin; an operator carries the ``operator_id`` whose
buildings it may edit and plan. Neither a key nor its hash is ever logged.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cachetools import TTLCache

from tenantmatch.registry import ForbiddenError, InputError
from tenantmatch.store.errors import StorageError
from tenantmatch.store.repository import Repository

logger = logging.getLogger(__name__)

KEY_PREFIX = "tm"
KEY_ID_HEX_DIGITS = 16
SECRET_BYTES = 32
MAX_PRESENTED_CHARS = 200  # a real key has about 63; longer input is refused unparsed
_KEY_SHAPE = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{{KEY_ID_HEX_DIGITS}}})_([A-Za-z0-9_-]{{20,}})")
# Compared against when the key id is unknown, so that path costs the same as a wrong secret.
CLI_ACTOR_PREFIX = "cli:"
KEY_TOUCH_SECONDS = 60.0  # a key's last_used_at is written at most once a minute per process
_DUMMY_HASH = hashlib.sha256(b"tenantmatch-no-such-key").hexdigest()


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


ROLE_RANK: dict[str, int] = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's id, its role and (operators only) its operator_id."""

    key_id: str
    role: str
    operator_id: str | None = None


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a key's secret.

    A plain fast hash is adequate here: the secret carries 256 bits from a CSPRNG, so neither a
    dictionary nor brute force can invert it; slow salted hashes (bcrypt, argon2) exist to protect
    low-entropy human passwords and would only add latency to every request.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    repo: Repository,
    *,
    role: str,
    operator_id: str | None = None,
    created: datetime,
    expires_at: datetime | None = None,
) -> str:
    """Store a new key and return its plaintext ``tm_<key_id>_<secret>`` (shown only this once).

    Operators need ``operator_id``; viewers and admins must not have one. A key with
    ``expires_at`` (after ``created``) is refused from that moment on; without, it never expires.
    """
    role = _check_role(role)
    operator_id = _check_operator(role, operator_id)
    if expires_at is not None and expires_at <= created:
        raise InputError(f"expires_at {expires_at.isoformat()} must be after the key's creation "
                         f"({created.isoformat()})")  # fmt: skip
    key_id = secrets.token_hex(KEY_ID_HEX_DIGITS // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    repo.add_api_key(key_id, key_hash=hash_secret(secret), role=role, operator_id=operator_id,
                     created_at=created, expires_at=expires_at)  # fmt: skip
    logger.info("created API key %s (role %s)", key_id, role)
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def _check_role(role: str) -> str:
    if role not in ROLE_RANK:
        raise InputError(f"role {role!r} is unknown; allowed: {', '.join(ROLE_RANK)}")
    return str(role)


def _check_operator(role: str, operator_id: str | None) -> str | None:
    if operator_id is not None:
        operator_id = operator_id.strip()
    if role == Role.OPERATOR and not operator_id:
        raise InputError("an operator key needs operator_id (the operating company it acts for)")
    if role != Role.OPERATOR and operator_id:
        raise InputError(f"operator_id {operator_id!r} is only allowed for role 'operator'")
    return operator_id or None


def parse_key(presented: str | None) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, None for anything else."""
    if not isinstance(presented, str) or len(presented) > MAX_PRESENTED_CHARS:
        return None
    match = _KEY_SHAPE.fullmatch(presented.strip())
    return None if match is None else (match.group(1), match.group(2))


def authenticate(
    repo: Repository, presented: str | None, *, now: datetime | None = None
) -> Principal | None:
    """The principal of a valid, unrevoked, unexpired key (at ``now``, default the current UTC
    time); None for a missing, malformed, unknown, wrong, revoked or expired key (the caller
    answers 401 without saying which)."""
    parsed = parse_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = repo.find_api_key(key_id)
    stored = _DUMMY_HASH if row is None else str(row["key_hash"])
    matches = hmac.compare_digest(stored.encode("ascii"), hash_secret(secret).encode("ascii"))
    if row is None or not matches or row["revoked_at"] is not None or _expired(row, now):
        logger.info("API key %s refused", key_id)
        return None
    return Principal(key_id=key_id, role=str(row["role"]), operator_id=row["operator_id"])


def _expired(row: Mapping[str, Any], now: datetime | None) -> bool:
    expires_at = row.get("expires_at")
    return expires_at is not None and expires_at <= (now or datetime.now(UTC))


class KeyCache:
    """Principals of keys accepted in the last ``ttl_s`` seconds, so a busy caller costs one key
    lookup per ``ttl_s`` instead of one per request.

    A key revoked elsewhere (another worker, the CLI), or past its expiry, still works here
    for at most ``ttl_s`` seconds; ``forget`` drops it at once in this process. Refusals are
    never cached, so a new key works at once and a wrong secret always reaches the database.
    ``ttl_s=0`` disables it.
    """

    def __init__(
        self, *, ttl_s: float, maxsize: int = 10_000, timer: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_s < 0:
            raise InputError(f"key cache ttl_s={ttl_s}: must be >= 0 seconds (0 disables it)")
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: TTLCache[str, Principal] = TTLCache(maxsize, max(ttl_s, 1e-9), timer)

    def cached(self, presented: str | None) -> Principal | None:
        """The principal of ``presented`` if it was accepted less than ``ttl_s`` ago; no I/O."""
        if not self.ttl_s or not isinstance(presented, str):
            return None
        with self._lock:
            return self._entries.get(_digest(presented))

    def authenticate(self, repo: Repository, presented: str | None) -> Principal | None:
        """:func:`authenticate`, answered from the cache while the acceptance is fresh."""
        principal = self.cached(presented)
        if principal is not None:
            return principal
        principal = authenticate(repo, presented)
        if principal is not None and self.ttl_s and isinstance(presented, str):
            with self._lock:
                self._entries[_digest(presented)] = principal
        return principal

    def forget(self, key_id: str) -> None:
        """Drop every cached acceptance of ``key_id`` (call after revoking it)."""
        with self._lock:
            for digest in [d for d, p in self._entries.items() if p.key_id == key_id]:
                self._entries.pop(digest, None)


def _digest(presented: str) -> str:
    # The cache holds digests, not keys: a memory dump shows no usable secret.
    return hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest()


def revoke_key(repo: Repository, key_id: str, *, revoked_at: datetime | None = None) -> bool:
    """Revoke a key; False if it already was. Unknown ``key_id`` raises NotFoundError."""
    changed = repo.revoke_api_key(key_id, revoked_at=revoked_at)
    logger.info("revoked API key %s", key_id)
    return changed


def list_keys(repo: Repository) -> list[dict[str, Any]]:
    """Every key's key_id, role, operator_id, created_at, revoked_at, expires_at and
    last_used_at (never the hash)."""
    fields = ("key_id", "role", "operator_id", "created_at", "revoked_at", "expires_at",
              "last_used_at")  # fmt: skip
    return [{f: row[f] for f in fields} for row in repo.list_api_keys()]


def has_role(principal: Principal | None, minimum: str) -> bool:
    """True when ``principal`` holds ``minimum`` or a higher role; False for no principal."""
    wanted = ROLE_RANK[_check_role(minimum)]
    return principal is not None and ROLE_RANK.get(principal.role, -1) >= wanted


def can_edit_building(principal: Principal | None, building_row: Mapping[str, Any]) -> bool:
    """Admins always; an operator only when the building's operator_id equals its own."""
    if principal is None:
        return False
    if principal.role == Role.ADMIN:
        return True
    owner = building_row.get("operator_id")
    return (
        principal.role == Role.OPERATOR
        and principal.operator_id is not None
        and owner is not None
        and str(owner) == principal.operator_id
    )


class WriteAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"


# Enterprise fields only admins (or a bulk import) write: the credit details, and the standing
# tags (500强, HQ type) that lift a firm in every operator's shortlists.
CREDIT_FIELDS = frozenset({"credit_score", "risk_flags"})
STANDING_FIELDS = frozenset({"tags", "hq_type"})
# The write matrix, written once (issue 21): for each (table, action) the roles that may do it
# and the fields each may not write. A role absent from an entry may not do that action at all.
# Which building an operator may write (its own) is ``can_edit_building``; tenancies and events
# follow their building. An enterprise record is not an operator's to rewrite: it may register a
# new firm (to record its move-in), without credit or standing fields.
WRITE_MATRIX: Mapping[tuple[str, WriteAction], Mapping[Role, frozenset[str]]] = {
    ("buildings", WriteAction.CREATE): {Role.OPERATOR: frozenset(), Role.ADMIN: frozenset()},
    ("buildings", WriteAction.UPDATE): {Role.OPERATOR: frozenset(), Role.ADMIN: frozenset()},
    ("enterprises", WriteAction.CREATE): {
        Role.OPERATOR: CREDIT_FIELDS | STANDING_FIELDS, Role.ADMIN: frozenset(),
    },
    ("enterprises", WriteAction.UPDATE): {Role.ADMIN: frozenset()},
}


def check_field_writes(
    principal: Principal, table: str, action: WriteAction, fields: Collection[str]
) -> None:
    """ForbiddenError unless ``principal`` may ``action`` a ``table`` record with ``fields``
    (WRITE_MATRIX); the message names the refused fields in English and Chinese."""
    allowed = WRITE_MATRIX.get((table, action), {})
    if principal.role not in allowed:
        verb = "新建" if action == WriteAction.CREATE else "修改"
        raise ForbiddenError(
            f"role {principal.role!r} may not {action.value} {table} records; ask an admin "
            f"(当前角色无权{verb}该记录，请联系管理员)"
        )
    refused = sorted(allowed[Role(principal.role)] & set(fields))
    if refused:
        raise ForbiddenError(
            f"role {principal.role!r} may not write {', '.join(refused)} of {table}; only admins "
            f"or a bulk import may (当前角色无权填写字段：{', '.join(refused)})"
        )


def can_see_credit(principal: Principal | None) -> bool:
    """Enterprise credit details (credit_score, risk flags) are for operators and admins."""
    return has_role(principal, Role.OPERATOR)


def audit(
    repo: Repository,
    principal: Principal | None,
    *,
    action: str,
    target: str | None = None,
    detail: str | Mapping[str, Any] | None = None,
    ts: datetime | None = None,
    actor: str | None = None,
) -> int:
    """Append who (key id, None if anonymous) did ``action`` to ``target``; returns the entry id.

    A mapping ``detail`` is stored as JSON; ``ts`` defaults to now (UTC). ``actor`` names a
    caller without a key instead (the CLI: ``cli:<os user>``, see :func:`cli_actor`).
    """
    if not action:
        raise InputError("audit action must be a non-empty string such as 'building.update'")
    text = detail if detail is None or isinstance(detail, str) else _json(detail)
    key_id = actor if principal is None else principal.key_id
    return repo.append_audit(action, target=target, key_id=key_id, detail=text, ts=ts)


def cli_actor() -> str:
    """``cli:<os user>``: who the audit log names for a command-line action."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        user = f"uid{os.getuid()}"
    return f"{CLI_ACTOR_PREFIX}{user}"


def _json(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class AuditNote:
    """Who does which registry write: the write stores its entries in its own transaction, so
    a change is never committed without them (see ``AuditWriter.for_write``)."""

    key_id: str | None
    action: str
    detail: Mapping[str, Any] | None = None

    def entry(
        self, target: str | None, *, action: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """An audit row of this write about ``target``; ``extra`` joins the detail (as JSON)."""
        detail = {**(self.detail or {}), **extra}
        return {
            "ts": datetime.now(UTC),
            "key_id": self.key_id,
            "action": action or self.action,
            "target": target,
            "detail": _json(detail) if detail else None,
        }


class AuditWriter:
    """Audit entries appended by a background thread in batches, in the order they were added.

    ``add`` returns at once; the thread writes what is pending every ``interval_s`` seconds in
    one transaction. ``add(..., wait=True)`` and ``flush`` return only once everything added so
    far is stored (for writes that must be on record before their answer, readers, shutdown);
    ``close`` flushes and stops the thread. A failed background write is logged and retried;
    once ``max_pending`` entries wait, ``add`` writes them itself and raises StorageError.
    """

    def __init__(
        self, repo: Repository, *, interval_s: float = 0.2, max_pending: int = 50_000
    ) -> None:
        self.repo = repo
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._touched: dict[str, datetime] = {}  # key_id -> last use, to be stored
        self._touch_times: dict[str, float] = {}  # key_id -> monotonic time it was last queued
        self._lock = threading.Lock()  # guards _pending, _touched and _touch_times
        self._writing = threading.Lock()  # one batch at a time keeps the order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def add(
        self,
        principal: Principal | None,
        *,
        action: str,
        target: str | None = None,
        detail: str | Mapping[str, Any] | None = None,
        wait: bool = False,
    ) -> None:
        """Queue who did ``action`` to ``target`` (time: now, UTC); see :func:`audit`."""
        if not action:
            raise InputError("audit action must be a non-empty string such as 'building.update'")
        entry = {
            "ts": datetime.now(UTC),
            "key_id": None if principal is None else principal.key_id,
            "action": action,
            "target": target,
            "detail": detail if detail is None or isinstance(detail, str) else _json(detail),
        }
        with self._lock:
            self._pending.append(entry)
            backlog = len(self._pending)
        if wait or backlog >= self.max_pending or self._stop.is_set():
            self.flush()

    def touch(self, key_id: str, *, now: float | None = None) -> None:
        """Record that ``key_id`` was used (its ``last_used_at``), stored with the next batch;
        at most once per ``KEY_TOUCH_SECONDS`` per key, so a busy key costs no extra writes."""
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._touch_times.get(key_id)
            if last is not None and now - last < KEY_TOUCH_SECONDS:
                return
            if len(self._touch_times) > 100_000:  # bounded: forget the oldest half
                for old in sorted(self._touch_times, key=self._touch_times.__getitem__)[:50_000]:
                    del self._touch_times[old]
            self._touch_times[key_id] = now
            self._touched[key_id] = datetime.now(UTC)

    def for_write(
        self,
        principal: Principal | None,
        *,
        action: str,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditNote:
        """The note a registry write stores with its change; the entries queued so far are
        stored first, so the log keeps request order."""
        if not action:
            raise InputError("audit action must be a non-empty string such as 'building.update'")
        self.flush()
        key_id = None if principal is None else principal.key_id
        return AuditNote(key_id=key_id, action=action, detail=detail)

    def flush(self) -> int:
        """Store every entry added so far; returns how many this call wrote. StorageError when
        the database refuses them (they stay queued for the next attempt)."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
                touched, self._touched = self._touched, {}
            try:
                if touched:
                    return self.repo.append_audit_many(batch, touched=touched)
                return self.repo.append_audit_many(batch)
            except StorageError:
                with self._lock:
                    self._pending[:0] = batch
                    self._touched = touched | self._touched
                raise

    def close(self) -> None:
        """Stop the background thread and store what is pending."""
        self._stop.set()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except StorageError as exc:
                logger.error("audit entries not stored yet, retrying in %.1f s: %s",
                             self.interval_s, exc)  # fmt: skip
