"""The one place errors become HTTP answers: ``{"error": {"code", "message"}}``; a file or
record that broke the data contract (``invalid_data``) adds ``errors``, its row report.

Domain errors of ``matching`` (and of the model store below it) map by class; the service's own
refusals (401, 403, a running job's 409) are raised as :class:`ApiError` by dependencies, never
built in routes.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tenantmatch.matching import ModelNotReadyError
from tenantmatch.models import ModelsError
from tenantmatch.registry import (
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    PreconditionFailed,
    TenantmatchError,
    ValidationFailed,
)
from tenantmatch.store import StorageError, error_record

log = logging.getLogger(__name__)

MAX_ROW_ERRORS = 200  # rows of a rejected upload listed in its 400 answer (the message has 20)

# Checked in order: the first matching class decides the status and code.
DOMAIN_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (ModelNotReadyError, 503, "model_unavailable"),  # an InputError of the CLI, not of a caller
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (ForbiddenError, 403, "forbidden"),
    (PreconditionFailed, 412, "precondition_failed"),
    (ValidationFailed, 400, "invalid_data"),
    (InputError, 400, "bad_request"),
    (StorageError, 503, "storage_unavailable"),
    (TenantmatchError, 503, "unavailable"),
    (ModelsError, 503, "model_unavailable"),
)
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


class ApiError(StarletteHTTPException):
    """A refusal decided by the service itself (authentication, role, a running job)."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(status, message, headers=headers)
        self.code = code or STATUS_CODES.get(status, "http_error")


def unauthorized() -> ApiError:
    """401 for a missing, malformed, unknown or revoked key (never saying which)."""
    return ApiError(
        401, "a valid API key is required in the X-API-Key header",
        headers={"WWW-Authenticate": "ApiKey"},
    )  # fmt: skip


def forbidden(role: str, needed: str) -> ApiError:
    """403 for a known key whose role is below the route's."""
    return ApiError(403, f"role {role!r} may not do this; it needs role {needed!r} or higher")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON error form of docs/interface.md."""
    return {"error": {"code": code, "message": message}}


def classify(exc: Exception) -> tuple[int, str]:
    """HTTP status and error code of a domain error; (500, "internal") when unknown."""
    for cls, status, code in DOMAIN_ERRORS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal"


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    status, code = classify(exc)
    if status >= 500:
        log.error("service unavailable: %s", exc)
    body: dict[str, Any] = error_body(code, str(exc))
    if isinstance(exc, ValidationFailed):  # the row report, in Chinese too, for the page
        shown = exc.errors[:MAX_ROW_ERRORS]
        body["error"]["errors"] = [error_record(e, table=exc.table) for e in shown]
    return JSONResponse(body, status_code=status)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return JSONResponse(error_body("invalid_request", "; ".join(parts)), status_code=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or STATUS_CODES.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers or None
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse(error_body("internal", "internal error; see the server log"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the service can raise to the JSON error form of docs/interface.md."""
    app.add_exception_handler(TenantmatchError, _domain)
    app.add_exception_handler(ModelsError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
