"""API keys, roles and the audit log: the service's access policy in one place.

A key reads ``tm_<key_id>_<secret>``: ``key_id`` (16 hex digits) names the stored row, ``secret``
comes from ``secrets.token_urlsafe(32)`` (256 random bits) and is stored only as its SHA-256 hex
digest. Roles are ordered viewer < operator < admin; an operator carries the ``operator_id`` whose
buildings it may edit and plan. Neither a key nor its hash is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from matching.errors import InputError
from matching.storage import Repository

logger = logging.getLogger(__name__)

KEY_PREFIX = "tm"
KEY_ID_HEX_DIGITS = 16
SECRET_BYTES = 32
MAX_PRESENTED_CHARS = 200  # a real key has about 63; longer input is refused unparsed
_KEY_SHAPE = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{{KEY_ID_HEX_DIGITS}}})_([A-Za-z0-9_-]{{20,}})")
# Compared against when the key id is unknown, so that path costs the same as a wrong secret.
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
    repo: Repository, *, role: str, operator_id: str | None = None, created: datetime
) -> str:
    """Store a new key and return its plaintext ``tm_<key_id>_<secret>`` (shown only this once).

    Operators need ``operator_id``; viewers and admins must not have one.
    """
    role = _check_role(role)
    operator_id = _check_operator(role, operator_id)
    key_id = secrets.token_hex(KEY_ID_HEX_DIGITS // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    repo.add_api_key(
        key_id, key_hash=hash_secret(secret), role=role, operator_id=operator_id, created_at=created
    )
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


def authenticate(repo: Repository, presented: str | None) -> Principal | None:
    """The principal of a valid, unrevoked key; None for a missing, malformed, unknown, wrong or
    revoked key (the caller answers 401 without saying which)."""
    parsed = parse_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = repo.find_api_key(key_id)
    stored = _DUMMY_HASH if row is None else str(row["key_hash"])
    matches = hmac.compare_digest(stored.encode("ascii"), hash_secret(secret).encode("ascii"))
    if row is None or not matches or row["revoked_at"] is not None:
        logger.info("API key %s refused", key_id)
        return None
    return Principal(key_id=key_id, role=str(row["role"]), operator_id=row["operator_id"])


def revoke_key(repo: Repository, key_id: str, *, revoked_at: datetime | None = None) -> bool:
    """Revoke a key; False if it already was. Unknown ``key_id`` raises NotFoundError."""
    changed = repo.revoke_api_key(key_id, revoked_at=revoked_at)
    logger.info("revoked API key %s", key_id)
    return changed


def list_keys(repo: Repository) -> list[dict[str, Any]]:
    """Every key's key_id, role, operator_id, created_at and revoked_at (never the hash)."""
    fields = ("key_id", "role", "operator_id", "created_at", "revoked_at")
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
) -> int:
    """Append who (key id, None if anonymous) did ``action`` to ``target``; returns the entry id.

    A mapping ``detail`` is stored as JSON; ``ts`` defaults to now (UTC).
    """
    if not action:
        raise InputError("audit action must be a non-empty string such as 'building.update'")
    text = detail if detail is None or isinstance(detail, str) else _json(detail)
    key_id = None if principal is None else principal.key_id
    return repo.append_audit(action, target=target, key_id=key_id, detail=text, ts=ts)


def _json(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)
