"""The CLI's exit codes (interface.md): 0 success, 2 bad input, 1 anything else, whichever layer
raised the error, with a one-line message instead of Python's traceback for errors raised on
purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantmatch import cli
from tenantmatch.features import FeatureError, UnknownIdError
from tenantmatch.models import CorruptModelError
from tenantmatch.registry import InputError, SchemaError
from tenantmatch.store import StorageError


def _run_import_raising(
    error: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> int:
    """``tenantmatch import FOLDER`` through the console-script entry, its import raising
    ``error``; the exit code."""

    def import_dataset(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli, "import_dataset", import_dataset)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setattr("sys.argv", ["tenantmatch", "import", str(tmp_path), "--db", db])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert isinstance(ended.value.code, int)
    return ended.value.code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InputError("folder lacks buildings.csv"), 2),
        (UnknownIdError("enterprise", ["E404"], total=3), 2),
        (StorageError("database is locked"), 1),
        (FeatureError("reference file gbt4754_2017_divisions.csv is missing"), 1),
        (SchemaError("buildings.floor_area_m2 must be numeric"), 2),  # the data is to blame
        (CorruptModelError("model 20261201T000000Z does not match its manifest hash"), 1),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_an_error_raised_on_purpose_by_any_layer_exits_with_its_code_and_message(
    error: Exception, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert _run_import_raising(error, tmp_path, monkeypatch) == code
    err = capsys.readouterr().err
    assert f"error: {error}\n" in err
    assert "Traceback" not in err


def test_an_unexpected_error_exits_1_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_import_raising(KeyError("city"), tmp_path, monkeypatch) == 1
    assert "error: unexpected KeyError: 'city'" in capsys.readouterr().err


def test_a_library_exiting_with_a_code_outside_the_contract_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run_import_raising(SystemExit(3), tmp_path, monkeypatch) == 1  # uvicorn's failure


def test_a_usage_error_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["tenantmatch", "import", "--no-such-option"])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 2
