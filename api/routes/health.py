"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep
from api.schemas import ErrorOut, HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is alive."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ErrorOut}})
def readyz(engine: EngineDep) -> ReadyOut:
    """The database answers and a model is loaded (503 otherwise)."""
    status = engine.readiness()
    return ReadyOut(status="ready", model_version=status.model_version, counts=status.counts)
