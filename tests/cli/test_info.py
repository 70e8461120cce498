"""``tenantmatch --version`` and ``tenantmatch info``: what is installed, where its state lives."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantmatch.cli import app
from tenantmatch.store import HOME_ENV


def test_version_is_the_installed_distributions() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tenantmatch {metadata.version('tenantmatch')}"


def test_info_names_the_home_and_everything_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.strip())
    home = str(tmp_path.resolve())
    assert rows["home"].startswith(home)
    assert rows["database"] == f"sqlite:///{home}/tenantmatch.db"
    assert rows["models"] == f"{home}/models"
    assert Path(rows["reference"].split(None, 1)[1]).joinpath("themes.csv").is_file()


def test_info_masks_a_database_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    url = "postgresql://staff:s3cret@db.example:5432/tm"
    result = CliRunner().invoke(app, ["info", "--db", url])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stdout and "staff:***@db.example" in result.stdout
