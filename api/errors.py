"""The one place domain errors become HTTP answers: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from matching import InputError, NotFoundError, TenantmatchError

log = logging.getLogger(__name__)

# Checked in order: the first matching class decides the status and code.
DOMAIN_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (InputError, 400, "bad_request"),
    (TenantmatchError, 503, "unavailable"),
)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _status_code_name(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        406: "not_acceptable",
        413: "payload_too_large",
        415: "unsupported_media_type",
        422: "invalid_request",
    }.get(status, "http_error")


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    for cls, status, code in DOMAIN_ERRORS:
        if isinstance(exc, cls):
            if status >= 500:
                log.error("service unavailable: %s", exc)
            return JSONResponse(error_body(code, str(exc)), status_code=status)
    raise exc


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return JSONResponse(error_body("invalid_request", "; ".join(parts)), status_code=422)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(_status_code_name(exc.status_code), str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the service can raise to the JSON error form of interface.md."""
    app.add_exception_handler(TenantmatchError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
