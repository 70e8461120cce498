"""A new SQLite database (it holds credit data) is readable by its owner only."""

from __future__ import annotations

import os
import stat
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
