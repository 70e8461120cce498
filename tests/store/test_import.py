"""Data-contract import: formats and encodings, validation rules by file/row/column, the
all-or-nothing default, --skip-invalid with rejects, and idempotent re-import; each with the
tables read whole and in chunks of 2 records."""

from __future__ import annotations

import copy
import csv
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tenantmatch.registry.errors import InputError, RowError, ValidationFailed
from tenantmatch.store import ImportReport, Repository, import_dataset, importer, validate_dataset
from tenantmatch.store.updates import upsert_building
from tenantmatch.store.validation import validate_table
from tests.store.contract_folder import csv_text, tiny_dataset, write_contract_folder

FORMATS = [("csv", "utf-8"), ("csv", "utf-8-sig"), ("csv", "gbk"), ("parquet", ""), ("xlsx", "")]


def _repo(tmp_path: Path, name: str = "t.db") -> Repository:
    return Repository(f"sqlite:///{tmp_path / name}")


def _contents(repo: Repository) -> dict[str, pd.DataFrame]:
    tables = repo.load_tables()
    return {n: t.drop(columns="updated_at").reset_index(drop=True) for n, t in tables.items()}


def _cells(errors: list[RowError]) -> list[tuple[str, int, str]]:
    return [(e.file, e.row, e.column) for e in errors]


def _edited(table: str, index: int, **cells: Any) -> dict[str, list[dict[str, Any]]]:
    data = tiny_dataset()
    data[table][index].update(cells)
    return data


@pytest.fixture(autouse=True, params=[None, 2], ids=["one-chunk", "chunks-of-2"])
def chunked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test twice: tables read, validated and written whole, and 2 records at a time
    (every rule then has to hold across chunks: duplicates, references, row numbers)."""
    if request.param is not None:
        monkeypatch.setattr(importer, "CHUNK_ROWS", request.param)


@pytest.fixture
def valid_folder(tmp_path: Path) -> Path:
    return write_contract_folder(tmp_path / "valid")


# -- formats --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_contents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("reference")
    repo = _repo(tmp)
    import_dataset(write_contract_folder(tmp / "utf8"), repo)
    return _contents(repo)


@pytest.mark.parametrize(("fmt", "encoding"), FORMATS[1:])
def test_every_format_imports_the_same_content(
    tmp_path: Path, fmt: str, encoding: str, reference_contents: dict[str, pd.DataFrame]
) -> None:
    repo = _repo(tmp_path)
    import_dataset(
        write_contract_folder(tmp_path / fmt, fmt=fmt, encoding=encoding or "utf-8"), repo
    )
    got = _contents(repo)
    assert len(reference_contents["enterprises"]) == 3
    for name, expected in reference_contents.items():
        pd.testing.assert_frame_equal(got[name], expected)


def test_canonical_values(valid_folder: Path) -> None:
    result = validate_dataset(valid_folder)
    assert result.errors == []
    enterprises = result.tables["enterprises"].set_index("enterprise_id")
    assert enterprises.loc["E1", "industry_code"] == "66"  # J66 normalised to its digits
    assert enterprises.loc["E1", "tags"] == "high_tech;listed"  # sorted
    assert enterprises.loc["E1", "founded"] == pd.Timestamp("2010-05-01")
    assert enterprises["employees"].dtype == "Int64"
    buildings = result.tables["buildings"].set_index("building_id")
    assert buildings.loc["B1", "amenities"] == "catering;parking"
    assert buildings.loc["B2", "amenities"] is None and pd.isna(buildings.loc["B2", "lat"])
    assert result.tables["tenancies"]["end_date"].isna().tolist() == [True, False]


def test_parquet_is_preferred_over_csv(tmp_path: Path) -> None:
    folder = write_contract_folder(tmp_path / "f", fmt="parquet")
    (folder / "buildings.csv").write_text("building_id\nX\n", encoding="utf-8")
    result = validate_dataset(folder)
    assert result.errors == [] and result.files["buildings"] == "buildings.parquet"


@pytest.mark.parametrize("text", ["2023/5/1", "2023年5月1日", "2023-05-01", "2023-5-1"])
def test_date_formats_parse(tmp_path: Path, text: str) -> None:
    folder = write_contract_folder(tmp_path / "f", _edited("enterprises", 0, founded=text))
    result = validate_dataset(folder)
    assert result.errors == []
    assert result.tables["enterprises"].loc[0, "founded"] == pd.Timestamp("2023-05-01")


def test_founded_accepts_a_bare_year(tmp_path: Path) -> None:
    folder = write_contract_folder(tmp_path / "f", _edited("enterprises", 1, founded="2015"))
    result = validate_dataset(folder)
    assert result.tables["enterprises"].loc[1, "founded"] == pd.Timestamp("2015-01-01")


def test_unknown_columns_are_ignored(tmp_path: Path) -> None:
    data = tiny_dataset()
    for row in data["buildings"]:
        row["remark"] = "备注"
    result = validate_dataset(write_contract_folder(tmp_path / "f", data))
    assert result.errors == [] and "remark" not in result.tables["buildings"].columns


def test_header_only_optional_table_is_empty(tmp_path: Path, valid_folder: Path) -> None:
    (valid_folder / "events.csv").write_text("enterprise_id,building_id,date,stage\n")
    result = validate_dataset(valid_folder)
    assert result.errors == [] and len(result.tables["events"]) == 0


def test_quoted_newline_keeps_file_line_numbers(tmp_path: Path) -> None:
    data = _edited("buildings", 0, name="太原\n金融中心")
    data["buildings"][1]["theme"] = "casino"
    result = validate_dataset(write_contract_folder(tmp_path / "f", data))
    own = [e for e in result.errors if e.file == "buildings.csv"]
    # B1 spans lines 2-3; its name is refused like the API refuses it (a control character)
    assert _cells(own) == [("buildings.csv", 2, "name"), ("buildings.csv", 4, "theme")]


# -- bad input, each named by file, row and column --------------------------------------------

BAD_CELLS = [
    ("buildings", 1, {"theme": "casino"}, "buildings.csv", 3, "theme", "must be one of: finance"),
    (
        "buildings",
        0,
        {"vacant_area_m2": 60000.0},
        "buildings.csv",
        2,
        "vacant_area_m2",
        "must be <= total_area_m2 (50000)",
    ),
    ("buildings", 0, {"min_unit_m2": 60000.0}, "buildings.csv", 2, "min_unit_m2", "<= total"),
    ("buildings", 1, {"total_area_m2": -5.0}, "buildings.csv", 3, "total_area_m2", "must be > 0"),
    ("buildings", 0, {"lat": "NaN"}, "buildings.csv", 2, "lat", "finite"),
    ("buildings", 0, {"lon": 150.0}, "buildings.csv", 2, "lon", "inside China"),
    ("buildings", 0, {"smart_5a": 2.5}, "buildings.csv", 2, "smart_5a", "whole number"),
    ("buildings", 0, {"amenities": "gym;casino"}, "buildings.csv", 2, "amenities", "'casino'"),
    ("enterprises", 2, {"credit_score": "inf"}, "enterprises.csv", 4, "credit_score", "finite"),
    (
        "enterprises",
        1,
        {"revenue_10k_cny": "-inf"},
        "enterprises.csv",
        3,
        "revenue_10k_cny",
        "finite",
    ),
    ("enterprises", 0, {"employees": -1}, "enterprises.csv", 2, "employees", "must be >= 0"),
    ("enterprises", 0, {"employees": "many"}, "enterprises.csv", 2, "employees", "not a number"),
    ("enterprises", 1, {"name": None}, "enterprises.csv", 3, "name", "required"),
    (
        "enterprises",
        0,
        {"industry_code": "A66"},
        "enterprises.csv",
        2,
        "industry_code",
        "section A does not contain division 66 (it belongs to section J)",
    ),
    (
        "enterprises",
        0,
        {"industry_code": "99"},
        "enterprises.csv",
        2,
        "industry_code",
        "division 99 does not exist",
    ),
    ("enterprises", 0, {"industry_code": "6"}, "enterprises.csv", 2, "industry_code", "2 to 4"),
    (
        "enterprises",
        0,
        {"founded": "2023-02-30"},
        "enterprises.csv",
        2,
        "founded",
        "date 2023-02-30 does not exist",
    ),
    ("links", 0, {"target_id": "E2"}, "links.csv", 2, "target_id", "must differ from source_id"),
    ("links", 0, {"target_id": "E9"}, "links.csv", 2, "target_id", "unknown id"),
    ("links", 0, {"weight": 1.5}, "links.csv", 2, "weight", "must be >= 0 and <= 1"),
    ("tenancies", 1, {"building_id": "B9"}, "tenancies.csv", 3, "building_id", "unknown id"),
    ("tenancies", 0, {"start_date": "2023-13"}, "tenancies.csv", 2, "start_date", "not a date"),
    (
        "tenancies",
        1,
        {"end_date": "2020-01-01"},
        "tenancies.csv",
        3,
        "end_date",
        "must be on or after start_date (2021-06-01)",
    ),
    ("events", 0, {"enterprise_id": "E9"}, "events.csv", 2, "enterprise_id", "unknown id"),
    ("events", 1, {"date": "2023/2/30"}, "events.csv", 3, "date", "does not exist"),
    ("events", 1, {"stage": "won"}, "events.csv", 3, "stage", "must be one of: contacted"),
]


@pytest.mark.parametrize(("table", "index", "cells", "file", "row", "column", "reason"), BAD_CELLS)
def test_bad_cell_is_named(
    tmp_path: Path,
    table: str,
    index: int,
    cells: dict[str, Any],
    file: str,
    row: int,
    column: str,
    reason: str,
) -> None:
    result = validate_dataset(write_contract_folder(tmp_path / "f", _edited(table, index, **cells)))
    own = [e for e in result.errors if e.file == file]
    assert _cells(own) == [(file, row, column)]
    assert reason in own[0].reason
    # Other files only lose rows that name the rejected row (B2 or E3 here).
    dependent = [e.reason for e in result.errors if e.file != file]
    assert all(r.startswith("refers to a row of") for r in dependent)
    assert (
        result.rejected[table] == 1 and len(result.tables[table]) == len(tiny_dataset()[table]) - 1
    )


def test_duplicate_id_rejects_every_later_row(tmp_path: Path) -> None:
    data = tiny_dataset()
    data["enterprises"] += [dict(data["enterprises"][0]), dict(data["enterprises"][0])]
    result = validate_dataset(write_contract_folder(tmp_path / "f", data))
    assert _cells(result.errors) == [
        ("enterprises.csv", 5, "enterprise_id"),
        ("enterprises.csv", 6, "enterprise_id"),
    ]
    assert "first seen on row 2" in result.errors[0].reason


def test_same_natural_key_with_other_values_is_rejected(tmp_path: Path) -> None:
    data = tiny_dataset()
    other = dict(data["tenancies"][0], area_m2=(data["tenancies"][0]["area_m2"] or 1.0) + 10.0)
    data["tenancies"] += [other, dict(other)]  # a conflicting row and an exact copy of it
    result = validate_dataset(write_contract_folder(tmp_path / "f", data))
    assert _cells(result.errors) == [
        ("tenancies.csv", 4, "enterprise_id"),
        ("tenancies.csv", 5, "enterprise_id"),
    ]
    assert "same enterprise_id, building_id, start_date as row 2" in result.errors[0].reason
    assert result.merged["tenancies"] == 0 and result.rejected["tenancies"] == 2


def test_exact_duplicate_rows_import_once_and_are_counted(tmp_path: Path) -> None:
    data = tiny_dataset()
    for table in ("links", "tenancies", "events"):
        data[table] += [dict(data[table][0]), dict(data[table][-1]), dict(data[table][0])]
    repo = _repo(tmp_path)
    report = import_dataset(write_contract_folder(tmp_path / "f", data), repo)
    assert report.errors == []
    stored = _contents(repo)
    for table in ("links", "tenancies", "events"):
        expected = len(tiny_dataset()[table])
        counted = report.tables[table]
        assert (counted.rows_read, counted.inserted) == (expected + 3, expected)
        assert (counted.rejected, counted.duplicates_merged) == (0, 3)
        assert len(stored[table]) == expected
    assert report.tables["enterprises"].duplicates_merged == 0
    assert report.to_dict()["tables"]["events"]["duplicates_merged"] == 3  # type: ignore[index]


def test_an_exact_duplicate_of_a_rejected_row_is_rejected_too(tmp_path: Path) -> None:
    data = tiny_dataset()
    bad = dict(data["events"][0], stage="moved")
    data["events"] += [bad, dict(bad)]
    result = validate_dataset(write_contract_folder(tmp_path / "f", data))
    assert _cells(result.errors) == [("events.csv", 4, "stage"), ("events.csv", 5, "stage")]
    assert result.merged["events"] == 0


def test_missing_required_column_rejects_the_table(tmp_path: Path) -> None:
    data = tiny_dataset()
    for row in data["buildings"]:
        del row["theme"]
    result = validate_dataset(write_contract_folder(tmp_path / "f", data))
    by_file = [e for e in result.errors if e.file == "buildings.csv"]
    assert _cells(by_file) == [("buildings.csv", 1, "theme")]
    assert "required column 'theme' is missing" in by_file[0].reason
    assert result.rejected["buildings"] == 2
    # Tenancies and events of the rejected buildings are rejected too.
    assert ("tenancies.csv", 2, "building_id") in _cells(result.errors)


def test_empty_file_is_an_error(tmp_path: Path, valid_folder: Path) -> None:
    (valid_folder / "links.csv").write_bytes(b"")
    result = validate_dataset(valid_folder)
    assert _cells(result.errors) == [("links.csv", 1, "")]
    assert "empty" in result.errors[0].reason


def test_header_only_required_table_has_no_rows(valid_folder: Path) -> None:
    header = ",".join(tiny_dataset()["enterprises"][0])
    (valid_folder / "enterprises.csv").write_text(header + "\n", encoding="utf-8")
    result = validate_dataset(valid_folder)
    assert _cells(result.errors)[0] == ("enterprises.csv", 1, "")
    assert result.errors[0].reason.startswith("no rows")


def test_ragged_rows_are_named(valid_folder: Path) -> None:
    data = tiny_dataset()["buildings"]
    lines = csv_text(list(data[0]), data).splitlines()
    lines[1] += ",extra"
    lines[2] = ",".join(lines[2].split(",")[:5])
    (valid_folder / "buildings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = validate_dataset(valid_folder)
    buildings = [e for e in result.errors if e.file == "buildings.csv"]
    assert _cells(buildings) == [("buildings.csv", 2, ""), ("buildings.csv", 3, "")]
    assert "18 cells but the header has 17" in buildings[0].reason


def test_not_a_folder_and_missing_required_table(tmp_path: Path, valid_folder: Path) -> None:
    with pytest.raises(InputError, match="is not a folder"):
        validate_dataset(tmp_path / "nowhere")
    (valid_folder / "enterprises.csv").unlink()
    with pytest.raises(InputError, match=r"lacks required table.*enterprises"):
        validate_dataset(valid_folder)


def test_validate_table_for_a_single_upload() -> None:
    raw = pd.DataFrame(
        {"source_id": ["E1", "E1"], "target_id": ["E2", "E7"], "relation": ["partners", "partners"]}
    )
    result = validate_table(
        "links", raw, file="upload.csv", known_ids={"enterprises": {"E1", "E2"}}
    )
    assert _cells(result.errors) == [("upload.csv", 3, "target_id")]
    assert result.frame["target_id"].tolist() == ["E2"]


# -- import into a database -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "index", "cells", "file", "row", "column"),
    # The first bad cell of each table.
    list({t: (t, i, c, f, r, col) for t, i, c, f, r, col, _ in reversed(BAD_CELLS)}.values()),
)
def test_one_bad_row_changes_nothing(
    tmp_path: Path,
    valid_folder: Path,
    table: str,
    index: int,
    cells: dict[str, Any],
    file: str,
    row: int,
    column: str,
) -> None:
    repo = _repo(tmp_path)
    import_dataset(valid_folder, repo)
    before = _contents(repo)
    data = _edited(table, index, **cells)
    data["buildings"][0]["name"] = "改名大厦"  # a valid change that must not land either
    with pytest.raises(ValidationFailed) as caught:
        import_dataset(write_contract_folder(tmp_path / "bad", data), repo)
    assert _cells(caught.value.errors) == [(file, row, column)]
    for name, frame in _contents(repo).items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_skip_invalid_imports_the_rest_and_writes_rejects(tmp_path: Path) -> None:
    data = _edited("enterprises", 2, employees="many")  # E3, which tenancy row 3 names
    folder = write_contract_folder(tmp_path / "f", data)
    repo = _repo(tmp_path)
    report = import_dataset(folder, repo, skip_invalid=True)
    assert sorted(repo.ids("enterprises")) == ["E1", "E2"]
    assert len(_contents(repo)["tenancies"]) == 1
    assert report.tables["enterprises"].inserted == 2 and report.tables["enterprises"].rejected == 1
    assert report.tables["tenancies"].rejected == 1
    assert report.rejects_path == folder / "_import_report" / "rejects.csv"
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["file"], r["row"], r["column"]) for r in rows] == [
        ("enterprises.csv", "4", "employees"),
        ("tenancies.csv", "3", "enterprise_id"),
    ]
    assert rows[1]["reason"] == "refers to a row of enterprises that was rejected"
    summary = json.loads(report.summary_path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert summary["tables"]["enterprises"]["rejected"] == 1 and summary["rejected_cells"] == 2


def test_explicit_rejects_dir_gets_the_report_on_failure(tmp_path: Path) -> None:
    folder = write_contract_folder(tmp_path / "f", _edited("links", 0, relation="owns"))
    repo = _repo(tmp_path)
    with pytest.raises(ValidationFailed):
        import_dataset(folder, repo, rejects_dir=tmp_path / "report")
    assert repo.ids("buildings") == set()
    rejects = (tmp_path / "report" / "rejects.csv").read_text(encoding="utf-8-sig")
    assert rejects.splitlines()[0] == "file,row,column,value,reason,reason_zh"
    assert (
        rejects.splitlines()[1]
        == 'links.csv,2,relation,owns,"must be one of: supplies, invests, partners",'
        "须为以下之一：供应（supplies）、投资（invests）、合作（partners）"
    )
    summary = json.loads((tmp_path / "report" / "summary.json").read_text(encoding="utf-8"))
    assert summary["imported"] is False and summary["tables"]["links"]["rejected"] == 1


def test_reimport_changes_nothing(tmp_path: Path, valid_folder: Path) -> None:
    repo = _repo(tmp_path)
    first = import_dataset(valid_folder, repo)
    assert first.tables["buildings"].inserted == 2
    second: ImportReport = import_dataset(valid_folder, repo)
    for name, table in second.tables.items():
        expected = len(tiny_dataset()[name])
        assert (table.inserted, table.updated, table.unchanged) == (0, 0, expected)


def test_references_may_name_stored_ids(tmp_path: Path, valid_folder: Path) -> None:
    repo = _repo(tmp_path)
    import_dataset(valid_folder, repo)
    data = copy.deepcopy(tiny_dataset())
    data["enterprises"] = [data["enterprises"][0]]  # E2 and E3 only in the database now
    report = import_dataset(write_contract_folder(tmp_path / "second", data), repo)
    assert report.tables["links"].unchanged == 1 and report.errors == []


@pytest.mark.parametrize(("suffix", "what"), [("parquet", "Parquet"), ("xlsx", "xlsx workbook")])
def test_a_corrupt_binary_file_is_bad_input_naming_the_file(
    tmp_path: Path, suffix: str, what: str
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / f"buildings.{suffix}").write_bytes(b"not really a " + suffix.encode() * 20)
    (folder / "enterprises.csv").write_text("enterprise_id,name,industry_code,employees\n")
    with pytest.raises(InputError, match=rf"buildings\.{suffix}.*cannot be read as (an )?{what}"):
        validate_dataset(folder)


def test_writers_during_an_import_wait_for_it_and_lose_nothing(
    tmp_path: Path, valid_folder: Path
) -> None:
    """An import is one write transaction however many chunks it takes: writers meanwhile wait
    for it, then land; its rows land too, and a failed import leaves theirs alone."""
    repo = _repo(tmp_path)
    template = tiny_dataset()["buildings"][0]
    failures: list[BaseException] = []

    def guarded(fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                failures.append(exc)

        return run

    def create(i: int) -> Callable[[], object]:
        return lambda: upsert_building(repo, {**template, "building_id": f"BX{i}",
                                              "name": f"并发大厦{i}"})  # fmt: skip

    bad = write_contract_folder(tmp_path / "bad", _edited("events", 0, stage="signed?"))
    jobs = [guarded(lambda: import_dataset(valid_folder, repo))]
    jobs += [guarded(create(i)) for i in range(6)]
    def failing_import() -> None:
        with pytest.raises(ValidationFailed):
            import_dataset(bad, repo)

    jobs.append(guarded(failing_import))
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    buildings = repo.ids("buildings")
    assert {f"BX{i}" for i in range(6)} <= buildings
    assert {str(b["building_id"]) for b in tiny_dataset()["buildings"]} <= buildings
    assert repo.counts()["events"] == len(tiny_dataset()["events"])


def _sorted(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: f.sort_values(list(f.columns[:3])).reset_index(drop=True)
            for name, f in frames.items()}  # fmt: skip


def test_an_import_in_chunks_lands_whole_or_not_at_all_on_either_database(
    db_url: str, tmp_path: Path, valid_folder: Path
) -> None:
    repo = Repository(db_url)
    import_dataset(valid_folder, repo, chunk_rows=2)  # into empty tables: no lookups
    whole = _repo(tmp_path, "whole.db")
    import_dataset(valid_folder, whole, chunk_rows=10**6)
    stored = _sorted(_contents(repo))
    for name, frame in _sorted(_contents(whole)).items():
        pd.testing.assert_frame_equal(stored[name], frame, check_dtype=False)
    again = import_dataset(valid_folder, repo, chunk_rows=2)  # stored rows looked up by key
    assert all(t.inserted == t.updated == 0 for t in again.tables.values())
    bad = _edited("events", 1, stage="signed?")
    bad["buildings"][0]["name"] = "改名大厦"  # a valid change, in the first chunk written
    with pytest.raises(ValidationFailed):
        import_dataset(write_contract_folder(tmp_path / "bad", bad), repo, chunk_rows=2)
    for name, frame in _sorted(_contents(repo)).items():
        pd.testing.assert_frame_equal(frame, stored[name])
    repo.close()
