"""Dependency aliases: routes declare what they need (settings, engine, repository, a caller with
at least some role), the app state and the request headers provide it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import forbidden, unauthorized
from api.jobs import RetrainJobs
from api.settings import Settings
from matching import Engine, Principal, Repository, Role, authenticate, has_role

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
