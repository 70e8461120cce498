"""Swagger UI at /docs and ReDoc at /redoc are served from the app's own files: every script,
style and icon the pages name is a local URL that answers 200, and no page names another host."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tenantmatch.api import Settings, create_app

# src="..." / href="..." attributes and the url: '...' options of the inline start-up scripts
ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\burl\s*:\s*["']([^"']+)["']""")
SPEC = re.compile(r"""Redoc\.init\(\s*["']([^"']+)["']|spec-url\s*=\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over an empty database and model store: the documentation needs neither."""
    tmp: Path = tmp_path_factory.mktemp("docs_ui")
    settings = Settings(db=f"sqlite:///{tmp / 'docs.db'}", models=tmp / "store",
                        jobs_dir=tmp / "jobs", json_logs=False, preload=False)  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _urls(html: str) -> set[str]:
    found = {a or b for a, b in ASSET.findall(html)} | {a or b for a, b in SPEC.findall(html)}
    return {url for url in found if url}


@pytest.mark.parametrize(("page", "needs"), [
    ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css", "/openapi.json")),
    ("/redoc", ("redoc.standalone.js", "/openapi.json")),
])  # fmt: skip
def test_docs_pages_load_only_local_assets(
    client: TestClient, page: str, needs: tuple[str, ...]
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html, "a page may name no other host"
    urls = _urls(html)
    for name in needs:
        assert any(url.endswith(name) for url in urls), (name, urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


def test_the_assets_are_the_bundled_files(client: TestClient) -> None:
    """The scripts are the real bundles (not an error page), served with their content types."""
    js = client.get("/static-docs/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"] and "SwaggerUIBundle" in js.text
    css = client.get("/static-docs/swagger-ui.css")
    assert css.headers["content-type"].startswith("text/css") and ".swagger-ui" in css.text
    assert client.get("/static-docs/redoc.standalone.js").status_code == 200
    assert client.get("/static-docs/nothing.js").status_code == 404


def test_openapi_lists_the_docs_pages_nowhere(client: TestClient) -> None:
    """The documentation pages are no API operations."""
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/docs", "/redoc"} & set(paths)
    assert "/v1/buildings/{building_id}/at-risk-tenants" in paths
