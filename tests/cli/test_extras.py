"""Without an optional extra the CLI still starts, and a command that needs the extra exits 2
with a message naming it; ``tenantmatch --version`` reads the installed metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantmatch.cli import app

# Runs the CLI in a fresh interpreter where the optional packages cannot be imported.
_BLOCKED_CLI = (
    "import sys\n"
    "for name in ('dask', 'distributed', 'faker', 'psycopg'):\n"
    "    sys.modules[name] = None\n"
    "from tenantmatch.cli import main\n"
    "sys.argv = ['tenantmatch', *sys.argv[1:]]\n"
    "main()\n"
)


def _cli_without_extras(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKED_CLI, *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_version_is_the_installed_distribution() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tenantmatch {metadata.version('tenantmatch')}"


@pytest.mark.parametrize(
    ("args", "extra", "module"),
    [
        (["train", "--dask", "tcp://127.0.0.1:1"], "dask", "dask"),
        (["demo", "--enterprises", "100", "--no-train"], "demo", "faker"),
        (["keys", "list", "--db", "postgresql://nobody@127.0.0.1:1/none"], "postgres", "psycopg"),
    ],
)
def test_missing_extra_exits_2_naming_it(
    tmp_path: Path, args: list[str], extra: str, module: str
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'x.db'}"] if "--db" not in args else []
    folder = ["--out", str(tmp_path / "world")] if args[0] == "demo" else []
    result = _cli_without_extras(*args, *db, *folder)
    assert result.returncode == 2, result.stderr
    assert f"pip install 'tenantmatch[{extra}]'" in result.stderr
    assert repr(module) in result.stderr
    assert "Traceback" not in result.stderr
