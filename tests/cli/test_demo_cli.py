"""``tenantmatch demo --list-worlds`` and ``--world NAME``: the suite's worlds by name."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tenantmatch.cli import app
from tenantmatch.store import Repository
from tenantmatch.training.demo import WORLDS


def test_list_worlds_names_every_world_and_flags_the_reserved() -> None:
    result = CliRunner().invoke(app, ["demo", "--list-worlds"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0].split(" ")[0] for line in lines] == [w.name for w in WORLDS]
    assert sum("[reserved]" in line for line in lines) == 3


def test_world_generates_that_world_at_the_asked_size(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["demo", "--world", "noisy_small", "--enterprises", "300", "--no-train",
            "--out", str(tmp_path / "w"), "--db", db, "--models", str(tmp_path / "m")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    params = json.loads((tmp_path / "w" / "_truth" / "params.json").read_text(encoding="utf-8"))
    assert (params["seed"], params["enterprises"]) == (107, 300)
    assert params["records"]["events"] == "lag"
    assert Repository(db).counts()["enterprises"] == 300


def test_unknown_world_and_weights_with_a_world_are_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["demo", "--world", "atlantis", "--no-train"])
    assert unknown.exit_code != 0 and "lease_uniform" in str(unknown.exception or unknown.output)
    mixed = runner.invoke(app, ["demo", "--world", "noisy_small", "--weights", "alternative"])
    assert mixed.exit_code != 0


def test_the_default_demo_world_is_the_size_that_trains_within_4_gb(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["demo", "--no-train", "--out", str(tmp_path / "w"), "--db", db,
            "--models", str(tmp_path / "m")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    params = json.loads((tmp_path / "w" / "_truth" / "params.json").read_text(encoding="utf-8"))
    assert (params["seed"], params["enterprises"]) == (0, 5_000)
    assert Repository(db).counts()["enterprises"] == 5_000
