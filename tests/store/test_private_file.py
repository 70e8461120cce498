"""A new SQLite database (it holds credit data) is readable by its owner only; database errors
never carry statement parameters."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

from tenantmatch.store import Repository, audit


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    with Repository(f"sqlite:///{path}") as repo:
        audit(repo, None, action="a")  # a write: the -wal and -shm files exist now
        files = [p for p in path.parent.iterdir() if p.name.startswith("new.db")]
        assert {p.name for p in files} >= {"new.db", "new.db-wal", "new.db-shm"}
        for p in files:
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p.name


def test_a_failed_statement_names_no_parameter_values(repo: Repository) -> None:
    import pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from tenantmatch.store.schema import api_keys

    row = {"key_id": "k1", "key_hash": "h", "role": "viewer", "created_at": datetime(2026, 1, 1)}
    with repo._engine.begin() as conn:
        conn.execute(insert(api_keys), [row])
    with pytest.raises(IntegrityError) as failed, repo._engine.begin() as conn:
        conn.execute(insert(api_keys), [{**row, "key_hash": "SECRET-HASH-VALUE"}])
    assert "SECRET-HASH-VALUE" not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)
