"""Dependency aliases: routes declare what they need (settings, engine, repository, a caller with
at least some role), the app state and the request headers provide it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from tenantmatch.api.access import require_role
from tenantmatch.api.answers import ShortlistAnswers
from tenantmatch.api.errors import ApiError, forbidden, unauthorized
from tenantmatch.api.jobs import RetrainJobs
from tenantmatch.api.schemas import ShortlistQuery
from tenantmatch.api.settings import Settings
from tenantmatch.matching import Engine
from tenantmatch.store import (
    AuditWriter,
    KeyCache,
    Principal,
    RegistryLists,
    Repository,
    Role,
    has_role,
)

API_KEY_HEADER = "X-API-Key"
# auto_error=False: a missing key must answer our JSON 401, not FastAPI's default.
_api_key = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
    description="An API key from `tenantmatch keys create` or `POST /v1/admin/keys`.",
)  # fmt: skip


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in the
# thread pool, a hop per dependency per request.


def _app_state(name: str) -> Callable[[Request], Coroutine[Any, Any, Any]]:
    """A dependency returning ``request.app.state.<name>``, set up once by ``create_app``."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"get_{name}"
    return get


SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
EngineDep = Annotated[Engine, Depends(_app_state("engine"))]
RepositoryDep = Annotated[Repository, Depends(_app_state("repository"))]
JobsDep = Annotated[RetrainJobs, Depends(_app_state("jobs"))]
AuditDep = Annotated[AuditWriter, Depends(_app_state("audit"))]
KeysDep = Annotated[KeyCache, Depends(_app_state("keys"))]
AnswersDep = Annotated[ShortlistAnswers, Depends(_app_state("answers"))]


async def get_principal(
    request: Request, repo: RepositoryDep, keys: KeysDep, audit: AuditDep,
    key: Annotated[str | None, Security(_api_key)] = None,
) -> Principal:  # fmt: skip
    """The caller behind the X-API-Key header; 401 for a missing, malformed or unknown key.
    A key accepted in the last ``key_cache_seconds`` is not looked up again; a looked-up key's
    last use is recorded (at most once a minute). The principal stays on ``request.state`` for
    the audit of a refusal later in the request."""
    principal = keys.cached(key)
    if principal is None:
        principal = await run_in_threadpool(keys.authenticate, repo, key)
        if principal is not None:
            audit.touch(principal.key_id)
    if principal is None:
        raise unauthorized()
    request.state.principal = principal
    return principal


def _at_least(role: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not has_role(principal, role):
            raise forbidden(principal.role, role)
        return principal

    check.__name__ = f"require_{role}"
    return check


ViewerDep = Annotated[Principal, Depends(_at_least(Role.VIEWER))]
OperatorDep = Annotated[Principal, Depends(_at_least(Role.OPERATOR))]
AdminDep = Annotated[Principal, Depends(_at_least(Role.ADMIN))]


async def shortlist_query(
    query: Annotated[ShortlistQuery, Query()], principal: ViewerDep, settings: SettingsDep
) -> ShortlistQuery:
    """The shortlist filters, with k capped by the server's ``max_k``, ``include_risky``
    (which shows risk flags and credit warnings) reserved for operators and admins and
    ``as_of`` (a dated shortlist) for admins."""
    if query.k > settings.max_k:
        raise ApiError(
            422, f"k={query.k} is above this server's limit; allowed: 1 to {settings.max_k}"
        )
    if query.include_risky:
        require_role(principal, Role.OPERATOR, why="include_risky (risk flags, credit warnings)")
    if query.as_of is not None:
        require_role(principal, Role.ADMIN, why="as_of (the registry as it stood another day)")
    return query


ShortlistQueryDep = Annotated[ShortlistQuery, Depends(shortlist_query)]


ListsDep = Annotated[RegistryLists, Depends(_app_state("lists"))]


def check_page(limit: int, settings: Settings) -> None:
    """422 when a page is larger than the server's ``max_page_size``."""
    if limit > settings.max_page_size:
        raise ApiError(
            422, f"limit={limit} is above this server's page size; allowed: 1 to "
            f"{settings.max_page_size}",
        )  # fmt: skip
