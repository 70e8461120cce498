"""``tenantmatch audit verify|export|prune`` and the audit of every changing command."""

from __future__ import annotations

import csv
import getpass
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from tenantmatch.cli import app
from tenantmatch.store import Repository, audit
from tests.store.contract_folder import tiny_dataset, write_contract_folder


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


def test_cli_actions_are_audited_as_cli_user(tmp_path: Path) -> None:
    db, runner = _db(tmp_path), CliRunner()
    folder = write_contract_folder(tmp_path / "data", tiny_dataset())
    assert runner.invoke(app, ["import", str(folder), "--db", db]).exit_code == 0
    created = runner.invoke(app, ["keys", "create", "--role", "viewer", "--expires-days", "3",
                                  "--db", db])  # fmt: skip
    key_id = created.stdout.split("_")[1]
    assert runner.invoke(app, ["keys", "revoke", key_id, "--db", db]).exit_code == 0

    rows = list(Repository(db).iter_audit())
    assert [r["action"] for r in rows] == ["import", "key.create", "key.revoke"]
    assert {r["key_id"] for r in rows} == {f"cli:{getpass.getuser()}"}
    assert '"inserted"' in rows[0]["detail"] and rows[0]["target"] == str(folder)
    assert '"expires_at": "' in rows[1]["detail"]


def test_verify_is_0_then_1_naming_the_tampered_row(tmp_path: Path) -> None:
    db, runner = _db(tmp_path), CliRunner()
    repo = Repository(db)
    ids = [audit(repo, None, action="a", target=str(i), detail={"n": i}) for i in range(4)]
    ok = runner.invoke(app, ["audit", "verify", "--db", db])
    assert ok.exit_code == 0 and "4 rows verified" in ok.stdout
    with repo._engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = '{\"n\": 9}' WHERE id = :id"),
                     {"id": ids[1]})  # fmt: skip
    broken = runner.invoke(app, ["audit", "verify", "--db", db])
    assert broken.exit_code == 1
    assert f"audit chain broken at row {ids[1]}" in broken.stderr


def test_export_csv_neutralises_formulas_and_prune_keeps_the_chain(tmp_path: Path) -> None:
    db, runner = _db(tmp_path), CliRunner()
    repo = Repository(db)
    old = datetime.now(UTC) - timedelta(days=100)
    audit(repo, None, action="import", target='=HYPERLINK("http://x")', ts=old)
    audit(repo, None, action="key.create", target="k")
    out = tmp_path / "audit.csv"
    done = runner.invoke(app, ["audit", "export", "--csv", "--output", str(out), "--db", db])
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
    assert [r["action"] for r in rows] == ["import", "key.create"]
    assert rows[0]["target"] == '\'=HYPERLINK("http://x")' and len(rows[0]["hash"]) == 64

    pruned = runner.invoke(app, ["audit", "prune", "--older-than-days", "30", "--db", db])
    assert pruned.exit_code == 0 and "1 audit rows" in pruned.stdout
    actions = [r["action"] for r in Repository(db).iter_audit()]
    assert actions == ["key.create", "audit.export", "audit.prune"]
    assert runner.invoke(app, ["audit", "verify", "--db", db]).exit_code == 0
    missing = runner.invoke(app, ["audit", "prune", "--db", db])
    assert missing.exit_code != 0
