"""Schema migrations (Alembic) on SQLite and PostgreSQL: a version-1 database holding data is
upgraded to the head revision and keeps its data; code refuses an old schema, naming the
command that upgrades it; the migrations build exactly the schema the code declares."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from typer.testing import CliRunner

from tenantmatch import cli
from tenantmatch.store import (
    SCHEMA_VERSION,
    Repository,
    SchemaOutdatedError,
    authenticate,
    head_revision,
    make_engine,
    upgrade_database,
)
from tenantmatch.store.access import hash_secret
from tenantmatch.store.errors import StorageError
from tenantmatch.store.revisions import MIGRATIONS, VERSION_TABLE
from tenantmatch.store.schema import metadata

V1_SQLITE_SCHEMA = Path(__file__).with_name("schema_v1_sqlite.sql")
SECRET = "s" * 43  # the shape of secrets.token_urlsafe(32)
KEY_ID = "00112233aabbccdd"
STAMP = "2026-11-30 08:00:00"


def _alembic(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _statements(sql: str) -> set[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return {re.sub(r"\s+", " ", s).strip() for s in body.split(";") if s.strip()}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _build_version_1(engine: Engine) -> None:
    """A database as version-1 code left it: revision 0001's schema, no alembic_version."""
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0001")
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))


def _fill_version_1(engine: Engine) -> None:
    """One row in every table, written with version 1's columns only."""
    rows = [
        "INSERT INTO buildings (building_id, name, city, district, theme, total_area_m2, "
        "vacant_area_m2, operator_id, updated_at) VALUES ('B1', '太原万达广场', '太原市', "
        f"'小店区', 'finance', 52000.5, 1200.0, 'OP1', '{STAMP}')",
        "INSERT INTO enterprises (enterprise_id, name, industry_code, employees, founded, "
        f"updated_at) VALUES ('E1', '山西煤化有限公司', '06', 120, '2015-03-01', '{STAMP}')",
        "INSERT INTO tenancies (enterprise_id, building_id, area_m2, start_date, updated_at) "
        f"VALUES ('E1', 'B1', 300.0, '2024-01-01', '{STAMP}')",
        "INSERT INTO api_keys (key_id, key_hash, role, operator_id, created_at) "
        f"VALUES ('{KEY_ID}', '{hash_secret(SECRET)}', 'operator', 'OP1', '{STAMP}')",
        f"INSERT INTO audit_log (ts, key_id, action, target) VALUES ('{STAMP}', '{KEY_ID}', "
        "'building.update', 'B1')",
        "UPDATE meta SET value = '3' WHERE key = 'data_version'",
        "INSERT INTO meta (key, value) VALUES ('model_version', 'v7')",
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(text(row))


def test_revision_0001_builds_what_version_1_code_created(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v1.db'}")
    _build_version_1(engine)
    with engine.connect() as conn:
        built = conn.execute(text("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")).scalars()
        assert _statements(";".join(built)) == _statements(V1_SQLITE_SCHEMA.read_text("utf-8"))
    engine.dispose()


def test_a_version_1_database_with_data_upgrades_to_head(db_url: str, engine: Engine) -> None:
    _build_version_1(engine)
    _fill_version_1(engine)

    done = upgrade_database(db_url)

    assert (done.before, done.after, done.changed) == ("0001", head_revision(), True)
    with Repository(db_url) as repo:
        assert repo.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert (repo.data_version(), repo.get_meta("model_version")) == (3, "v7")
        assert repo.counts() == {"buildings": 1, "enterprises": 1, "links": 0, "tenancies": 1,
                                 "events": 0}  # fmt: skip
        building = repo.get_row("buildings", {"building_id": "B1"})
        assert building is not None
        assert (building["name"], building["vacant_area_m2"]) == ("太原万达广场", 1200.0)
        tenancy = repo.load_table("tenancies").iloc[0]
        assert (tenancy["start_date"], tenancy["area_m2"]) == (pd.Timestamp("2024-01-01"), 300.0)
        key = repo.find_api_key(KEY_ID)
        assert key is not None and key["expires_at"] is None
        assert key["created_at"] == datetime(2026, 11, 30, 8, tzinfo=UTC)
        principal = authenticate(repo, f"tm_{KEY_ID}_{SECRET}")
        assert principal is not None and principal.operator_id == "OP1"
        assert [(e["action"], e["target"]) for e in repo.read_audit()] == [
            ("building.update", "B1")
        ]
        assert (repo.verify_audit().ok, repo.verify_audit().checked) == (True, 1)  # chained
    assert upgrade_database(db_url).changed is False


def test_an_old_schema_is_refused_naming_the_upgrade_command(engine: Engine, db_url: str) -> None:
    _build_version_1(engine)
    with pytest.raises(SchemaOutdatedError, match="tenantmatch db upgrade"):
        Repository(db_url)


def test_the_migrations_build_the_schema_the_code_declares(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "head")
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_a_new_database_is_created_at_head(db_url: str, engine: Engine) -> None:
    done = upgrade_database(db_url)
    assert (done.before, done.after) == (None, head_revision())
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_revision_of_a_newer_tenantmatch_is_refused(db_url: str, engine: Engine) -> None:
    Repository(db_url).close()
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    for attempt in (lambda: Repository(db_url), lambda: upgrade_database(db_url)):
        with pytest.raises(StorageError, match="does not know") as raised:
            attempt()
        assert not isinstance(raised.value, SchemaOutdatedError)


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr("sys.argv", ["tenantmatch", *args])
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_refuses_an_old_schema_with_exit_2_until_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    _build_version_1(engine)
    _fill_version_1(engine)
    engine.dispose()
    for args in (["keys", "list"], ["serve", "--port", "1"]):
        assert _main(monkeypatch, *args, "--db", url) == 2
        assert "tenantmatch db upgrade" in capsys.readouterr().err

    upgraded = CliRunner().invoke(cli.app, ["db", "upgrade", "--db", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"from revision 0001 to {head_revision()}" in upgraded.stdout
    listed = CliRunner().invoke(cli.app, ["keys", "list", "--db", url])
    assert listed.exit_code == 0 and KEY_ID in listed.stdout and "expires never" in listed.stdout


def test_the_head_revision_downgrades_to_version_1_and_back(db_url: str, engine: Engine) -> None:
    _build_version_1(engine)
    _fill_version_1(engine)
    upgrade_database(db_url)
    with engine.begin() as conn:
        command.downgrade(_alembic(conn), "0001")
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("api_keys")}
        version = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'"))
        assert ("expires_at" in columns, version.scalar()) == (False, "1")
    assert upgrade_database(db_url).before == "0001"
    with Repository(db_url) as repo:
        assert authenticate(repo, f"tm_{KEY_ID}_{SECRET}") is not None
