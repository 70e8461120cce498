"""SIGKILL during ``tenantmatch import`` at random points, many times: the database is wholly the
old registry or wholly the new one (row counts, data_version, content) and SQLite's
``PRAGMA integrity_check`` is ok every time. A full disk (RLIMIT_FSIZE) during an import: a
clean error (exit 1, one line, no traceback) and the old registry intact."""

from __future__ import annotations

import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tenantmatch.registry import TABLES
from tenantmatch.store import Repository, import_dataset
from tenantmatch.training.demo import WorldParams, generate_world

KILLS = 20
TOOL = str(Path(sys.executable).parent / "tenantmatch")


def _fingerprint(db_file: Path) -> tuple[object, ...]:
    repo = Repository(f"sqlite:///{db_file}")
    try:
        counts = tuple(len(repo.load_table(spec.name)) for spec in TABLES)
        buildings = repo.load_table("buildings")
        vacant = round(float(buildings["vacant_area_m2"].sum()), 3)
        return counts, vacant, repo.data_version()
    finally:
        repo.close()


def _integrity(db_file: Path) -> str:
    conn = sqlite3.connect(db_file)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _import(folder: Path, db_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([TOOL, "import", str(folder), "--db", f"sqlite:///{db_file}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the old registry's database, the folder of a new registry to import over it)."""
    root = tmp_path_factory.mktemp("kill_import")
    old, new = root / "old", root / "new"
    generate_world(old, WorldParams(enterprises=300, seed=3))
    generate_world(new, WorldParams(enterprises=600, seed=4))
    repo = Repository(f"sqlite:///{root / 'old.db'}")
    import_dataset(old, repo)
    repo.close()
    return root / "old.db", new


def test_killed_imports_leave_the_old_or_the_new_registry(
    worlds: tuple[Path, Path], tmp_path: Path
) -> None:
    old_db, new_folder = worlds
    old = _fingerprint(old_db)
    work = tmp_path / "work.db"
    shutil.copy(old_db, work)
    started = time.monotonic()
    assert _import(new_folder, work).wait(timeout=300) == 0
    full_s = time.monotonic() - started
    new = _fingerprint(work)
    assert new != old
    rng = random.Random(21)
    outcomes = {"old": 0, "new": 0}
    for _ in range(KILLS):
        shutil.copy(old_db, work)
        for extra in ("-wal", "-shm", "-journal"):
            Path(f"{work}{extra}").unlink(missing_ok=True)
        child = _import(new_folder, work)
        time.sleep(rng.uniform(0.3 * full_s, 1.05 * full_s))  # start-up, reading, writing
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert _integrity(work) == "ok"
        now = _fingerprint(work)
        assert now in (old, new), "a killed import left a mix of the old and the new registry"
        outcomes["old" if now == old else "new"] += 1
    assert outcomes["old"] >= 1  # some kills landed inside the import


def _small_disk(limit: int) -> None:
    """In the child: files may not grow past ``limit`` bytes; writes past it fail (EFBIG)
    instead of the default SIGXFSZ kill, as on a full disk."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_full_disk_fails_the_import_cleanly_and_keeps_the_old_registry(
    worlds: tuple[Path, Path], tmp_path: Path
) -> None:
    old_db, new_folder = worlds
    work = tmp_path / "work.db"
    shutil.copy(old_db, work)
    old = _fingerprint(work)
    done = subprocess.run(
        [TOOL, "import", str(new_folder), "--db", f"sqlite:///{work}"],
        capture_output=True, text=True, timeout=300, check=False,
        preexec_fn=lambda: _small_disk(work.stat().st_size + 64 * 1024),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    # SQLite reports a write refused by the file-size limit as "disk I/O error" (a full disk
    # as "database or disk is full"): either way one line saying the import was rolled back
    last = done.stderr.strip().splitlines()
    assert any("import failed and was rolled back" in line and "disk" in line
               for line in last[-3:]), done.stderr[-500:]  # fmt: skip
    assert _integrity(work) == "ok"
    assert _fingerprint(work) == old
