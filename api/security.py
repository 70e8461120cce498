"""Security headers on every answer (issue 21, item 6), as pure ASGI middleware.

- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``;
- a Content-Security-Policy under which the workbench page works: scripts only from this origin
  (ES modules and the vendored ECharts); inline ``style`` attributes allowed (the page's bars and
  swatches, ECharts' tooltips); no framing, no plugins, no ``<base>``. Swagger UI and ReDoc
  start from an inline script, so /docs and /redoc also allow inline scripts;
- ``Cache-Control: no-store`` on every /v1 answer that sets no caching of its own (shortlists
  and records carry credit data no shared or browser cache should keep; the map's revalidated
  answers set ``private, no-cache`` themselves).

A header the route already set is left as it is.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CSP_BASE = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
CONTENT_SECURITY_POLICY = f"{_CSP_BASE}; script-src 'self'"
DOCS_CONTENT_SECURITY_POLICY = f"{_CSP_BASE}; script-src 'self' 'unsafe-inline'"
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_PREFIX = "/v1/"
NO_STORE = "no-store"


def headers_for(path: str) -> dict[str, str]:
    """The security headers an answer at ``path`` gets (unless the route set one itself)."""
    docs = path in DOCS_PATHS or path.startswith("/docs/")
    headers = {**SECURITY_HEADERS,
               "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY if docs
               else CONTENT_SECURITY_POLICY}  # fmt: skip
    if path.startswith(API_PREFIX):
        headers["Cache-Control"] = NO_STORE
    return headers


class SecurityHeadersMiddleware:
    """Add :func:`headers_for` to every HTTP answer's start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
