"""Operations: liveness, readiness and Prometheus metrics (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tenantmatch.api.deps import EngineDep, RepositoryDep
from tenantmatch.api.schemas import FreshnessOut, HealthOut, ReadyOut, error_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is alive."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut, responses=error_responses(503))
def readyz(repo: RepositoryDep, engine: EngineDep) -> ReadyOut:
    """The database answers and a model is loaded; 503 otherwise. ``registry`` says whether
    the data is stale on today's date (still 200: the service works, it ranks badly)."""
    counts = repo.counts()
    fresh = engine.freshness()
    registry = FreshnessOut(as_of=fresh.as_of, newest_record=fresh.newest,
                            days_behind=fresh.days_behind, stale=fresh.stale,
                            stale_after_days=fresh.stale_after_days,
                            warning_zh=fresh.warning_zh())  # fmt: skip
    return ReadyOut(status="ready", model_version=engine.model_version, counts=counts,
                    registry=registry)  # fmt: skip


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text exposition: request latency by route template and status (of every
    worker), model version."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
