"""Under the Content-Security-Policy of api/security.py, Swagger UI (/docs) and ReDoc (/redoc)
still render in a real browser with no console errors (the workbench page is covered by
test_workbench.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Server
from tests.web.test_workbench import Console


@pytest.mark.parametrize(("path", "selector"), [
    ("/docs", ".swagger-ui .opblock"), ("/redoc", "[role=search], .api-content"),
])  # fmt: skip
def test_docs_render_under_the_policy(browser: Any, server: Server, path: str,
                                      selector: str) -> None:  # fmt: skip
    context = browser.new_context()
    page = context.new_page()
    console = Console(page)
    answer = page.goto(f"{server.base}{path}")
    assert answer is not None and "content-security-policy" in answer.headers
    page.wait_for_selector(selector, timeout=60_000)
    context.close()
    # What the policy may block is only what should not load anyway: ReDoc's logo from its CDN.
    # Nothing of this origin (scripts, the inline start-up script, styles, workers) is refused.
    refused = [e for e in console.errors
               if "Content Security Policy" in e and "https://cdn.redoc.ly/" not in e]  # fmt: skip
    assert refused == [], refused
