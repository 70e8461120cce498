"""docs/interface.md names every command and every option of the ``tenantmatch`` CLI.

The commands are read from the Typer app itself (its Click-style command tree, so sub-commands
such as ``keys create`` count), so a new command or option without a line in the interface fails
here. Typer may bring its own copy of Click, so the tree is walked by duck typing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from tenantmatch.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "interface.md"


def cli_commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf command by its full name (``"shortlist"``, ``"keys create"``)."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group of sub-commands
            found.update(cli_commands(command, prefix=f"{full} "))
        else:
            found[full] = command
    return found


def long_options(command: Any) -> set[str]:
    """The ``--long`` option names of a command (both halves of ``--train/--no-train``)."""
    names = {
        name
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("--")
    }
    return names - {"--help"}


COMMANDS = cli_commands(typer.main.get_command(app))


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_cli_has_the_commands_the_test_expects() -> None:
    # Guards the walk above: a Typer/Click upgrade that hid commands would empty every check.
    assert {"demo", "import", "train", "shortlist", "serve", "info", "keys create"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_interface(name: str, doc: str) -> None:
    assert f"`tenantmatch {name}" in doc, f"'tenantmatch {name}' is missing from {DOC.name}"


# Options every command takes, described once for all of them.
COMMON_OPTIONS = frozenset({"--db", "--models"})


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_on_a_line_of_its_command(name: str, doc: str) -> None:
    lines = [line for line in doc.splitlines() if f"tenantmatch {name}" in line]
    missing = sorted(
        o
        for o in long_options(COMMANDS[name]) - COMMON_OPTIONS
        if not any(o in line for line in lines)
    )
    assert not missing, f"options of 'tenantmatch {name}' missing from {DOC.name}: {missing}"


def test_the_common_options_are_described(doc: str) -> None:
    assert all(long_options(c) >= COMMON_OPTIONS for c in COMMANDS.values())
    assert "Every command takes `--db URL`" in doc and "`--models DIR`" in doc


def test_the_version_option_is_in_the_interface(doc: str) -> None:
    assert "--version" in long_options(typer.main.get_command(app))
    assert "`tenantmatch --version`" in doc


def test_the_check_notices_a_missing_command(doc: str) -> None:
    trimmed = doc.replace("`tenantmatch info", "`tenantmatch where")
    assert "`tenantmatch info" not in trimmed
    assert "info" in COMMANDS
