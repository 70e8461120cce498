"""Where runtime state lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantmatch.api import Settings
from tenantmatch.store import HOME_ENV, default_db_url, default_models_dir, home


def test_home_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "h"))
    assert home() == (tmp_path / "h").resolve()
    assert default_db_url() == f"sqlite:///{(tmp_path / 'h').resolve() / 'tenantmatch.db'}"
    assert default_models_dir() == (tmp_path / "h").resolve() / "models"


def test_without_the_variable_home_is_the_users_data_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(HOME_ENV)
    code = Path(__file__).resolve().parents[2]
    assert home().name == "tenantmatch"
    assert not home().is_relative_to(code)  # never inside the source tree or site-packages


def test_settings_read_the_home_when_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    settings = Settings()
    assert settings.db == f"sqlite:///{tmp_path.resolve() / 'tenantmatch.db'}"
    assert settings.models == tmp_path.resolve() / "models"
    assert settings.jobs_dir == tmp_path.resolve() / "runtime" / "jobs"
