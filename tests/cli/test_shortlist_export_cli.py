"""``tenantmatch shortlist --format csv|xlsx``: the items as a table with Chinese headers, one
row per item and a 查询 column, the same items as ``--format jsonl``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from tenantmatch.cli import app, exit_code
from tenantmatch.matching.engine import Engine
from tests.matching.test_as_of import engine, model  # noqa: F401 (fixtures)


def _run(engine: Engine, *extra: str) -> tuple[int, str, str]:  # noqa: F811
    """(exit code as ``main`` maps it, stdout, stderr or the error's message)."""
    args = ["shortlist", "--building", "B1", "--building", "B2", "--k", "3",
            "--db", engine.repo.url, "--models", str(engine.store), *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    if isinstance(result.exception, Exception) and not isinstance(result.exception, SystemExit):
        return exit_code(result.exception), result.stdout, str(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _jsonl(engine: Engine) -> list[dict]:  # noqa: F811
    code, stdout, _ = _run(engine, "--format", "jsonl")
    assert code == 0
    return [json.loads(line) for line in stdout.splitlines()]


def test_csv_on_stdout_has_the_jsonl_items(engine: Engine) -> None:  # noqa: F811
    results = _jsonl(engine)
    code, stdout, _ = _run(engine, "--format", "csv")
    assert code == 0, stdout
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0][:4] == ["查询", "排名", "企业编号", "企业名称"]
    expected = [
        (r["query"]["building_id"], i["enterprise_id"]) for r in results for i in r["items"]
    ]
    assert [(row[0].split()[-1], row[2]) for row in rows[1:]] == expected
    score = rows[0].index("模型得分")
    assert [float(row[score]) for row in rows[1:]] == [
        i["score"] for r in results for i in r["items"]
    ]


def test_xlsx_and_csv_files_with_output(engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    results = _jsonl(engine)
    book = tmp_path / "名单.xlsx"
    code, stdout, stderr = _run(engine, "--format", "xlsx", "--output", str(book))
    assert code == 0 and stdout == "" and "wrote 6 rows" in stderr
    ws = openpyxl.load_workbook(book).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("查询", "排名", "企业编号")
    assert [r[2] for r in rows[1:]] == [i["enterprise_id"] for r in results for i in r["items"]]
    text = tmp_path / "名单.csv"
    assert _run(engine, "--format", "csv", "--output", str(text))[0] == 0
    assert text.read_bytes().startswith("\ufeff".encode())


def test_xlsx_without_output_and_output_with_jsonl_are_bad_input(engine: Engine) -> None:  # noqa: F811
    code, _, stderr = _run(engine, "--format", "xlsx")
    assert code == 2 and "--output" in stderr
    code, _, stderr = _run(engine, "--format", "jsonl", "--output", "x.csv")
    assert code == 2 and "--output" in stderr
