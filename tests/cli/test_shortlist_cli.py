"""``tenantmatch shortlist --as-of``: the registry ranked as it stood that day, and the warning
on stderr when its newest tenancy or event is more than 90 days older than that day."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from tenantmatch.cli import app
from tenantmatch.matching.engine import Engine
from tests.matching.test_as_of import engine, model  # noqa: F401 (fixtures)


def _shortlist(engine: Engine, *extra: str) -> tuple[list[dict], str]:  # noqa: F811
    args = ["shortlist", "--building", "B1", "--k", "3", "--format", "jsonl",
            "--db", engine.repo.url, "--models", str(engine.store), *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


@pytest.mark.parametrize(("as_of", "warned"), [("2023-07-30", False), ("2023-07-31", True)])
def test_as_of_dates_the_shortlist_and_warns_past_90_days(
    engine: Engine,  # noqa: F811 (the fixture)
    as_of: str,
    warned: bool,
) -> None:
    [result], stderr = _shortlist(engine, "--as-of", as_of)
    assert result["as_of"] == as_of and len(result["items"]) == 3
    # the newest tenancy date is 2023-05-01: 90 days before 2023-07-30, 91 before 2023-07-31
    warning = "warning: the registry's newest tenancy or event is from 2023-05-01"
    assert (warning in stderr) is warned


def test_default_date_is_today_and_bad_dates_are_refused(engine: Engine) -> None:  # noqa: F811
    [result], stderr = _shortlist(engine)
    assert result["as_of"] == date.today().isoformat()
    assert "warning:" in stderr  # the tiny registry's data end in 2023
    args = ["shortlist", "--building", "B1", "--as-of", "30.06.2024",
            "--db", engine.repo.url, "--models", str(engine.store)]  # fmt: skip
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "--as-of" in bad.stderr
