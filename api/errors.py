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

from tenantmatch.api.middleware import route_template
from tenantmatch.api.observability import request_id_var
from tenantmatch.api.refusals import REFUSED_STATUSES, Refusal, presented_key_id
from tenantmatch.matching import ModelNotReadyError, StateBehindError
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

# The fixed catalogue: every error code the service answers with, in English and Chinese. A 4xx
# answer's ``message`` names the caller's bad field or value; a 5xx answer's is exactly the
# catalogue's (what failed, never how: no SQL, parameters, paths or traces), the details going to
# the log under the answer's ``request_id``.
CATALOGUE: dict[str, tuple[str, str]] = {
    "bad_request": ("the request is not valid", "请求内容不符合要求"),
    "invalid_data": ("the data breaks the data contract", "数据不符合数据约定"),
    "invalid_request": ("a parameter or field is not valid", "参数或字段不符合要求"),
    "unauthorized": ("a valid API key is required", "需要有效的 API 密钥"),
    "forbidden": ("this key's role may not do this", "当前角色无权执行此操作"),
    "not_found": ("no such resource", "请求的资源不存在"),
    "method_not_allowed": ("this method is not allowed here", "此地址不支持该请求方法"),
    "not_acceptable": ("no answer in an accepted format", "无法以所要求的格式答复"),
    "conflict": ("the request conflicts with the current state", "请求与当前状态冲突"),
    "precondition_failed": (
        "the record changed since it was read",
        "记录已被他人修改，请刷新后重试",
    ),
    "payload_too_large": ("the request body is too large", "请求内容过大"),
    "unsupported_media_type": ("this content type is not accepted", "不支持该内容类型"),
    "rate_limited": ("too many requests; retry later", "请求过于频繁，请稍后重试"),
    "overloaded": ("the service is busy; retry later", "服务繁忙，请稍后重试"),
    "storage_unavailable": (
        "the database is unavailable; retry later",
        "数据库暂时不可用，请稍后重试",
    ),
    "model_unavailable": (
        "no usable model is loaded; ask an admin to train or restore one",
        "暂无可用模型，请联系管理员训练或恢复模型",
    ),
    "unavailable": ("the service is unavailable; retry later", "服务暂时不可用，请稍后重试"),
    "state_behind": (
        "the shortlists do not yet stand on the data version asked for; retry shortly",
        "推荐结果尚未包含最新修改，请稍后重试",
    ),
    "internal": (
        "internal error; quote the request id to an admin",
        "内部错误，请向管理员提供请求编号",
    ),
    "http_error": ("the request failed", "请求失败"),
}

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
    (StateBehindError, 503, "state_behind"),
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


def error_body(code: str, message: str) -> dict[str, dict[str, Any]]:
    """The JSON error form of docs/interface.md: ``code``, ``message``, the catalogue's Chinese
    ``message_zh`` and the request's ``request_id`` (quote it to find the log lines)."""
    message_zh = CATALOGUE.get(code, CATALOGUE["http_error"])[1]
    detail: dict[str, Any] = {"code": code, "message": message, "message_zh": message_zh}
    request_id = request_id_var.get()
    if request_id is not None:
        detail["request_id"] = request_id
    return {"error": detail}


def catalogue_body(code: str) -> dict[str, dict[str, Any]]:
    """The error form with the catalogue's own message: what failed, never how."""
    return error_body(code, CATALOGUE.get(code, CATALOGUE["http_error"])[0])


def classify(exc: Exception) -> tuple[int, str]:
    """HTTP status and error code of a domain error; (500, "internal") when unknown."""
    for cls, status, code in DOMAIN_ERRORS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal"


def note_refusal(request: Request, status: int) -> None:
    """Count a 401/403/404 in the audit log (aggregated: ``api.refusals``)."""
    refusals = getattr(request.app.state, "refusals", None)
    if refusals is None or status not in REFUSED_STATUSES:
        return
    client = request.client.host if request.client else None
    refusals.record(Refusal(
        status=status, method=request.method, route=route_template(request.scope),
        principal=getattr(request.state, "principal", None), client=client,
        presented_key_id=presented_key_id(request.headers.get("X-API-Key")),
    ))  # fmt: skip


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    status, code = classify(exc)
    note_refusal(request, status)
    if status >= 500:  # the details (SQL, parameters, paths) stay in the log, by request id
        log.error("%s %s answered %d %s: %s", request.method, request.url.path, status, code, exc)
        return JSONResponse(catalogue_body(code), status_code=status)
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
    note_refusal(request, exc.status_code)
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
    return JSONResponse(catalogue_body("internal"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the service can raise to the JSON error form of docs/interface.md."""
    app.add_exception_handler(TenantmatchError, _domain)
    app.add_exception_handler(ModelsError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
