"""The importer's rejects.csv is written through registry.spreadsheet: a rejected value that
looks like a formula opens in Excel as text."""

from __future__ import annotations

import csv
from pathlib import Path

from tenantmatch.store import Repository, import_dataset
from tests.store.contract_folder import tiny_dataset, write_contract_folder

PAYLOAD = '=HYPERLINK("http://evil.example","点我")'


def test_a_formula_in_a_rejected_cell_is_neutralised(tmp_path: Path) -> None:
    data = tiny_dataset()
    data["buildings"][0]["theme"] = PAYLOAD
    folder = write_contract_folder(tmp_path / "f", data)
    report = import_dataset(folder, Repository(f"sqlite:///{tmp_path / 't.db'}"),
                            skip_invalid=True)  # fmt: skip
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    theme = [r for r in rows if r["column"] == "theme"]
    assert theme and theme[0]["value"] == "'" + PAYLOAD
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
