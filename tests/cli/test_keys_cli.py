"""``tenantmatch keys create|list|revoke``: a key printed once, listed without secrets, revoked."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tenantmatch.cli import app
from tenantmatch.store import Repository, authenticate


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "operator", "--operator", "OP07",
                                  "--db", db])  # fmt: skip
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    principal = authenticate(Repository(db), key)
    assert principal is not None and (principal.role, principal.operator_id) == ("operator", "OP07")
    listed = runner.invoke(app, ["keys", "list", "--db", db])
    assert principal.key_id in listed.stdout and key.split("_", 2)[2] not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", principal.key_id, "--db", db])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert authenticate(Repository(db), key) is None
    actions = [e["action"] for e in Repository(db).read_audit(limit=5)]
    assert actions[:2] == ["key.revoke", "key.create"]


def test_operator_key_needs_operator_id(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    result = CliRunner().invoke(app, ["keys", "create", "--role", "operator", "--db", db])
    assert result.exit_code != 0
    assert Repository(db).list_api_keys() == []
