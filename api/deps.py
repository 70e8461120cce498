"""Dependency aliases: routes declare what they need (settings, engine, repository, a caller with
at least some role), the app state and the request headers provide it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.access import require_role
from api.answers import ShortlistAnswers
from api.errors import ApiError, forbidden, unauthorized
from api.jobs import RetrainJobs
from api.schemas import ShortlistQuery
from api.settings import Settings
from matching import (
    AuditWriter,
    Engine,
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


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_repository(request: Request) -> Repository:
    repo: Repository = request.app.state.repository
    return repo


async def get_jobs(request: Request) -> RetrainJobs:
    jobs: RetrainJobs = request.app.state.jobs
    return jobs


async def get_audit(request: Request) -> AuditWriter:
    writer: AuditWriter = request.app.state.audit
    return writer


async def get_keys(request: Request) -> KeyCache:
    keys: KeyCache = request.app.state.keys
    return keys


async def get_answers(request: Request) -> ShortlistAnswers:
    answers: ShortlistAnswers = request.app.state.answers
    return answers


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RepositoryDep = Annotated[Repository, Depends(get_repository)]
JobsDep = Annotated[RetrainJobs, Depends(get_jobs)]
AuditDep = Annotated[AuditWriter, Depends(get_audit)]
KeysDep = Annotated[KeyCache, Depends(get_keys)]
AnswersDep = Annotated[ShortlistAnswers, Depends(get_answers)]


async def get_principal(
    repo: RepositoryDep, keys: KeysDep, key: Annotated[str | None, Security(_api_key)] = None
) -> Principal:
    """The caller behind the X-API-Key header; 401 for a missing, malformed or unknown key.
    A key accepted in the last ``key_cache_seconds`` is not looked up again."""
    principal = keys.cached(key)
    if principal is None:
        principal = await run_in_threadpool(keys.authenticate, repo, key)
    if principal is None:
        raise unauthorized()
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
    """The shortlist filters, with k capped by the server's ``max_k`` and ``include_risky``
    (which shows risk flags and credit warnings) reserved for operators and admins."""
    if query.k > settings.max_k:
        raise ApiError(
            422, f"k={query.k} is above this server's limit; allowed: 1 to {settings.max_k}"
        )
    if query.include_risky:
        require_role(principal, Role.OPERATOR, why="include_risky (risk flags, credit warnings)")
    return query


ShortlistQueryDep = Annotated[ShortlistQuery, Depends(shortlist_query)]


async def get_lists(request: Request) -> RegistryLists:
    lists: RegistryLists = request.app.state.lists
    return lists


ListsDep = Annotated[RegistryLists, Depends(get_lists)]


def check_page(limit: int, settings: Settings) -> None:
    """422 when a page is larger than the server's ``max_page_size``."""
    if limit > settings.max_page_size:
        raise ApiError(
            422, f"limit={limit} is above this server's page size; allowed: 1 to "
            f"{settings.max_page_size}",
        )  # fmt: skip
