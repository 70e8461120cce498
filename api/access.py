"""The service's access rules on top of ``matching``'s policy: which building a caller may touch,
what an operator may write into a building record, which enterprise fields a caller may see.

Another operator's building answers exactly like a missing one (404), so ids do not leak.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from tenantmatch.api.errors import ApiError
from tenantmatch.registry import NotFoundError
from tenantmatch.store import (
    CREDIT_FIELDS,
    Principal,
    Repository,
    Role,
    can_edit_building,
    can_see_credit,
    has_role,
)


def editable_building(repo: Repository, principal: Principal, building_id: str) -> dict[str, Any]:
    """The stored row of a building the caller may edit or plan; NotFoundError when it is
    missing or belongs to another operator."""
    row = repo.get_row("buildings", {"building_id": building_id})
    if row is None or not can_edit_building(principal, row):
        raise NotFoundError(f"building_id {building_id!r} does not exist in buildings")
    return row


def may_edit(principal: Principal) -> Callable[[Mapping[str, Any]], bool]:
    """Whether the caller may change a stored building: the check a registry write runs inside
    its own transaction (a building it refuses answers 404, like a missing one)."""
    return partial(can_edit_building, principal)


def building_write(
    principal: Principal, building_id: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The record to write for ``PUT``/``POST /v1/buildings``: the caller's fields plus the id.

    An operator's new building belongs to it; an operator may not hand a building to another
    operator (403). Whether it may edit an existing one is checked by the write (see
    :func:`may_edit`).
    """
    record = {**fields, "building_id": building_id}
    if principal.role != Role.ADMIN:
        wanted = fields.get("operator_id", principal.operator_id)
        if wanted != principal.operator_id:
            raise ApiError(
                403, f"operator_id {wanted!r} is not yours ({principal.operator_id!r}); "
                "operators may only write buildings they operate",
            )  # fmt: skip
        record["operator_id"] = principal.operator_id
    return record


def require_role(principal: Principal, role: Role, *, why: str) -> None:
    """403 unless the caller holds ``role`` or higher; ``why`` names the feature asked for."""
    if not has_role(principal, role):
        raise ApiError(403, f"{why} needs role {role.value!r} or higher, not {principal.role!r}")


def enterprise_view(record: Mapping[str, Any], principal: Principal) -> dict[str, Any]:
    """An enterprise record as the caller may see it: credit details only for operators/admins."""
    if can_see_credit(principal):
        return dict(record)
    return {k: v for k, v in record.items() if k not in CREDIT_FIELDS}
