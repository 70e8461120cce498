"""Where runtime state lives: ``$TENANTMATCH_HOME`` if set, else the per-user data directory
(platformdirs, e.g. ``~/.local/share/tenantmatch`` on Linux); never inside the installed code.

The database, the model store, retraining jobs, shared answers and demo worlds sit below it.
Functions, not constants: the environment is read when a default is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "TENANTMATCH_HOME"
APP_NAME = "tenantmatch"


def home() -> Path:
    """The folder of this user's runtime state (absolute; not created here)."""
    given = os.environ.get(HOME_ENV)
    if given:
        return Path(given).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_url() -> str:
    """The embedded database: an SQLite file under :func:`home`."""
    return f"sqlite:///{home() / 'tenantmatch.db'}"


def default_models_dir() -> Path:
    return home() / "models"


def runtime_dir() -> Path:
    """Retraining jobs and the answers the workers of a server share."""
    return home() / "runtime"


def demo_dir() -> Path:
    """Generated demo worlds (data-contract folders with their hidden truth)."""
    return home() / "demo"
