"""Fixtures for every test package: a private runtime home, and the backends (every storage
test runs on an SQLite file and on PostgreSQL).

PostgreSQL needs ``TENANTMATCH_TEST_PG_URL`` (``scripts/ci_postgres.sh`` starts a server and prints
it). Without it the postgres cases are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tenantmatch.store import HOME_ENV, Repository

PG_URL_ENV = "TENANTMATCH_TEST_PG_URL"


@pytest.fixture(autouse=True, scope="session")
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Runtime state of every test (and every server a test starts) under a temporary
    TENANTMATCH_HOME, never the user's own data directory."""
    before = os.environ.get(HOME_ENV)
    home = tmp_path_factory.mktemp("tenantmatch-home")
    os.environ[HOME_ENV] = str(home)
    yield home
    if before is None:
        os.environ.pop(HOME_ENV, None)
    else:
        os.environ[HOME_ENV] = before


def _postgres_base_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{PG_URL_ENV} is not set; CI must run the PostgreSQL storage tests "
            "(start a server with scripts/ci_postgres.sh)"
        )
    pytest.skip(f"{PG_URL_ENV} is not set (scripts/ci_postgres.sh starts a server)")


def _admin_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: an SQLite file in a not yet existing folder, or a fresh
    PostgreSQL schema (dropped after the test) selected through ``search_path``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'tenantmatch.db'}"
        return
    admin = create_engine(_admin_url(_postgres_base_url()), isolation_level="AUTOCOMMIT")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(_admin_url(_postgres_base_url()))
    yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    """A repository on the fresh database of ``db_url``, closed after the test."""
    with Repository(db_url) as repository:
        yield repository
