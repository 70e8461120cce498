"""Dependency aliases: routes declare what they need (settings, engine, repository, a caller with
at least some role), the app state and the request headers provide it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from api.access import require_role
from api.errors import ApiError, forbidden, unauthorized
from api.jobs import RetrainJobs
from api.schemas import ShortlistQuery
from api.settings import Settings
from matching import Engine, Principal, RegistryLists, Repository, Role, authenticate, has_role

API_KEY_HEADER = "X-API-Key"
# auto_error=False: a missing key must answer our JSON 401, not FastAPI's default.
_api_key = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
    description="An API key from `tenantmatch keys create` or `POST /v1/admin/keys`.",
)  # fmt: skip


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_repository(request: Request) -> Repository:
    repo: Repository = request.app.state.repository
    return repo


def get_jobs(request: Request) -> RetrainJobs:
    jobs: RetrainJobs = request.app.state.jobs
    return jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RepositoryDep = Annotated[Repository, Depends(get_repository)]
JobsDep = Annotated[RetrainJobs, Depends(get_jobs)]


def get_principal(
    repo: RepositoryDep, key: Annotated[str | None, Security(_api_key)] = None
) -> Principal:
    """The caller behind the X-API-Key header; 401 for a missing, malformed or unknown key."""
    principal = authenticate(repo, key)
    if principal is None:
        raise unauthorized()
    return principal


def _at_least(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not has_role(principal, role):
            raise forbidden(principal.role, role)
        return principal

    check.__name__ = f"require_{role}"
    return check


ViewerDep = Annotated[Principal, Depends(_at_least(Role.VIEWER))]
OperatorDep = Annotated[Principal, Depends(_at_least(Role.OPERATOR))]
AdminDep = Annotated[Principal, Depends(_at_least(Role.ADMIN))]


def shortlist_query(
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


def get_lists(request: Request) -> RegistryLists:
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
