"""``tenantmatch backup`` / ``restore``: backup, change, restore gives the backed-up data back
(SQLite through the CLI, PostgreSQL through pg_dump / pg_restore when a test server is set)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tenantmatch.registry import InputError
from tenantmatch.store import (
    Repository,
    backup_database,
    restore_database,
    upsert_building,
)

TOOL = str(Path(sys.executable).parent / "tenantmatch")
BUILDING = {"building_id": "BK1", "name": "备份大厦", "city": "上海", "district": "浦东新区",
            "theme": "general", "total_area_m2": 10000.0, "vacant_area_m2": 4000.0,
            "operator_id": "OP1"}  # fmt: skip


def _state(repo: Repository) -> tuple[list[tuple[str, float]], int]:
    table = repo.load_table("buildings")
    rows = sorted(zip(table["building_id"], table["vacant_area_m2"], strict=True))
    return [(str(b), float(v)) for b, v in rows], repo.data_version()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOL, *args], capture_output=True, text=True, check=False, timeout=120)


def test_backup_change_restore_gives_the_backup_back(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    repo = Repository(db)
    upsert_building(repo, BUILDING)
    before = _state(repo)
    done = _cli("backup", str(tmp_path / "copy.db"), "--db", db)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "copy.db").st_mode) == 0o600
    upsert_building(repo, {**BUILDING, "vacant_area_m2": 1.0})
    upsert_building(repo, {**BUILDING, "building_id": "BK2"})
    assert _state(repo) != before
    done = _cli("restore", str(tmp_path / "copy.db"), "--db", db)
    assert done.returncode == 0, done.stderr
    after = _state(repo)  # the open repository reads the restored file
    assert after[0] == before[0] and after[1] >= before[1]  # the restore's audit row counts
    repo.close()


def test_restoring_a_file_that_is_no_backup_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    repo = Repository(db)
    upsert_building(repo, BUILDING)
    before = _state(repo)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputError, match="not an SQLite backup"):
        restore_database(db, tmp_path / "junk.db")
    with pytest.raises(InputError, match="does not exist"):
        restore_database(db, tmp_path / "missing.db")
    assert _cli("restore", str(tmp_path / "missing.db"), "--db", db).returncode == 2
    assert _state(repo) == before
    repo.close()


@pytest.mark.postgres
def test_postgresql_backup_and_restore(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the SQLite path is tested through the CLI above")
    repo = Repository(db_url)
    upsert_building(repo, BUILDING)
    before = _state(repo)
    backup_database(db_url, tmp_path / "pg.dump")
    upsert_building(repo, {**BUILDING, "vacant_area_m2": 2.0})
    upsert_building(repo, {**BUILDING, "building_id": "BK2"})
    repo.close()
    restore_database(db_url, tmp_path / "pg.dump")
    repo = Repository(db_url)
    assert _state(repo) == before
    repo.close()
