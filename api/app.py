"""The FastAPI application factory (``uvicorn api.app:create_app --factory``)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from tenantmatch.api.answers import ShortlistAnswers, shared_answers_for
from tenantmatch.api.errors import install_error_handlers
from tenantmatch.api.jobs import RetrainJobs
from tenantmatch.api.liveness import LoopWatchdog
from tenantmatch.api.middleware import (
    BodyLimitMiddleware,
    DataVersionMiddleware,
    RequestContextMiddleware,
)
from tenantmatch.api.observability import Metrics, configure_json_logging
from tenantmatch.api.overload import IMPORT_PATH, OverloadMiddleware, heavy_limiter
from tenantmatch.api.refusals import RefusalLog
from tenantmatch.api.routes import (
    admin,
    buildings,
    enterprises,
    geo,
    health,
    planning,
    retention,
    shortlists,
    tenancies,
    web,
    workbench,
)
from tenantmatch.api.security import SecurityHeadersMiddleware
from tenantmatch.api.settings import Settings
from tenantmatch.matching import Engine, ModelNotReadyError
from tenantmatch.models import ModelsError
from tenantmatch.registry import TenantmatchError
from tenantmatch.store import AuditWriter, KeyCache, RegistryLists, Repository

log = logging.getLogger(__name__)

DOCS_ASSETS = "/static-docs"  # Swagger UI's and ReDoc's scripts, styles and favicon
# Parameters whose OpenAPI maximum is the server's setting rather than the schema's hard cap.
SETTING_BOUNDS = {"k": "max_k", "limit": "max_page_size"}


def _preload(engine: Engine) -> None:
    """Build the engine's scoring state now, in the foreground of the worker's startup (the
    compiler must not run beside other threads' work); a worker without a usable model yet
    starts all the same and loads on the first request, as without preloading."""
    start = time.perf_counter()
    try:
        state = engine.state()
    except ModelNotReadyError as exc:
        log.info("nothing to preload: %s", exc)
    except (TenantmatchError, ModelsError) as exc:  # the first request reports it, with a status
        log.warning("preloading the scoring state failed, the first request retries: %s", exc)
    else:
        log.info("preloaded model %s in %.1f s", state.model.version, time.perf_counter() - start)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app over the database and model store the settings name."""
    settings = settings or Settings()
    metrics = Metrics(model_version=lambda: _served_version(app),
                      stage_one_kept=lambda: _stage_one_kept(app),
                      served_data_version=lambda: _served_data_version(app),
                      committed=lambda: _committed(app))  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.json_logs:
            configure_json_logging(settings.log_level)
        repo = Repository(settings.db)
        app.state.repository = repo
        # The API keeps finished shortlists as rendered JSON (ShortlistAnswers), not the engine.
        engine = Engine(repo, settings.models, as_of=date.today,
                        compile_trees=settings.compile_trees,
                        threads=settings.threads_per_query,
                        precompute_candidates=settings.precompute_candidates,
                        refresh=settings.state_refresh)  # fmt: skip
        app.state.engine = engine
        app.state.answers = ShortlistAnswers(
            engine, maxsize=settings.shortlist_cache, shared=shared_answers_for(settings),
            scope=f"{settings.db} {settings.models.resolve()}",
            wait_s=settings.min_version_wait_s,
        )  # fmt: skip
        app.state.keys = KeyCache(ttl_s=settings.key_cache_seconds)
        app.state.audit = AuditWriter(repo)
        app.state.refusals = RefusalLog(app.state.audit)
        if settings.audit_retention_days is not None:
            _prune_audit(repo, settings.audit_retention_days)
        app.state.lists = RegistryLists(repo)
        app.state.jobs = RetrainJobs(settings.jobs_dir, env=settings.child_environ())
        app.state.heavy_threads = heavy_limiter(settings)
        if settings.preload:
            _preload(engine)
        # Under uvicorn's manager only: a lone server has nobody to replace it.
        watchdog = LoopWatchdog(timeout_s=settings.liveness_timeout_s)
        if settings.workers > 1:
            watchdog.start()
        log.info("tenantmatch API ready: database %r, models %s", repo, settings.models)
        try:
            yield
        finally:
            watchdog.stop()
            app.state.refusals.close()
            app.state.audit.close()  # stores the entries still queued
            repo.close()
            metrics.close()

    # Swagger UI (/docs) and ReDoc (/redoc) from the files fastapi-offline ships (served under
    # DOCS_ASSETS), never from a CDN; no validator badge (it would call validator.swagger.io).
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},
        title="tenantmatch",
        description="楼宇招商匹配: shortlists of enterprises for buildings and buildings for "
        "enterprises, chain leads, tower planning and the live registry. Send an API key in the "
        "`X-API-Key` header.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    for module in (health, web, shortlists, planning, buildings, enterprises, tenancies, admin,
                   geo, retention, workbench):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    # Added last = outermost: the request id and timing cover the 413 answers too.
    # innermost: answers over 2 KB compressed for clients that accept gzip (the map's 2.4 MB
    # of 25,000 buildings, statistics, exports)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimitMiddleware, limit_for=_body_limits(settings))
    app.add_middleware(OverloadMiddleware, settings=settings)  # sheds before the body is read
    app.add_middleware(DataVersionMiddleware, version=lambda: app.state.repository.data_version())
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: sheds and 413s get them too
    app.openapi = _openapi_with_settings(app, settings)  # type: ignore[method-assign]
    return app


def _prune_audit(repo: Repository, days: int) -> None:
    """Apply ``audit_retention_days`` (each worker at its start; pruning is idempotent)."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    deleted = repo.prune_audit(cutoff, entry={"action": "audit.prune", "key_id": "service"})
    log.info("audit retention %d days: %d row(s) pruned", days, deleted)


def _body_limits(settings: Settings) -> Callable[[str], int]:
    def limit_for(path: str) -> int:
        return settings.max_upload_bytes if path == IMPORT_PATH else settings.max_body_bytes

    return limit_for


def _served_version(app: FastAPI) -> str | None:
    """The model version of the state served now, for the metrics gauge (a scrape never
    rebuilds the state: the next scored request does); None before the first state."""
    engine = getattr(app.state, "engine", None)
    return None if engine is None else engine.served_model_version


def _served_data_version(app: FastAPI) -> int | None:
    engine = getattr(app.state, "engine", None)
    return None if engine is None else engine.served_data_version


def _committed(app: FastAPI) -> tuple[int, datetime | None]:
    """The registry's newest data_version and when it was written (metrics: state lag)."""
    repo: Repository = app.state.repository
    return repo.data_version(), repo.data_written_at()


def _stage_one_kept(app: FastAPI) -> tuple[int, int] | None:
    """(buildings with stage 1 kept, buildings) for the metrics gauges; None without a state."""
    engine = getattr(app.state, "engine", None)
    return None if engine is None else engine.candidates_kept()


def _openapi_with_settings(app: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """OpenAPI whose ``k`` and ``limit`` maxima are this server's settings, so clients (and
    schemathesis) see the bound the server enforces."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)  # fmt: skip
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for param in operation.get("parameters", []):
                        setting = SETTING_BOUNDS.get(param.get("name"))
                        if setting and param.get("in") == "query":
                            param["schema"]["maximum"] = getattr(settings, setting)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
