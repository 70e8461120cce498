"""Importing a data-contract folder: read, validate, upsert, and report (``tenantmatch import``).

All-or-nothing by default: any bad row raises ``ValidationFailed`` before the database is touched.
With ``skip_invalid`` the valid rows go in and the rejects are written beside a summary.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from tenantmatch.registry import TABLES, TABLES_BY_NAME, RowError, ValidationFailed, write_csv
from tenantmatch.store.ledger import KeyLedger
from tenantmatch.store.messages import row_error
from tenantmatch.store.readers import RawTable, find_table_files, iter_table_file
from tenantmatch.store.upsert import Lookup, UpsertCount
from tenantmatch.store.validation import (
    KnownIds,
    TableResult,
    ValidationResult,
    empty_frame,
    validate_table,
)

if TYPE_CHECKING:
    from tenantmatch.store.access import AuditNote
    from tenantmatch.store.repository import Repository

logger = logging.getLogger(__name__)

REPORT_DIRNAME = "_import_report"
REJECTS_COLUMNS = ("file", "row", "column", "value", "reason", "reason_zh")
ID_COLUMNS: dict[str, str] = {"buildings": "building_id", "enterprises": "enterprise_id"}
# Records an import reads, validates and writes at once: memory holds about one chunk's text,
# frames and statements (~0.3 GB of the process at 100,000 events).
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class TableReport:
    """What an import did to one table; counts are rows (``rows_read`` excludes the header)."""

    file: str
    rows_read: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates_merged: int = 0  # rows identical in every column to another: imported once


@dataclass(frozen=True)
class ImportReport:
    """Per-table counts of an import, the rejected cells, and where the report files went."""

    tables: dict[str, TableReport]
    errors: list[RowError] = field(default_factory=list)
    rejects_path: Path | None = None
    summary_path: Path | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary: per-table counts, number of rejected cells, report paths."""
        return {
            "tables": {name: asdict(t) for name, t in self.tables.items()},
            "rejected_cells": len(self.errors),
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
            "summary_path": str(self.summary_path) if self.summary_path else None,
        }


def validate_dataset(
    folder: Path, *, known_ids: KnownIds | None = None, divisions: pd.DataFrame | None = None,
    chunk_rows: int | None = None,
) -> ValidationResult:  # fmt: skip
    """Read and validate every table of ``folder`` without a database.

    ``known_ids``: ids per table (``buildings``, ``enterprises``) already stored, which links,
    tenancies and events may name besides this folder's valid rows. Frames have a RangeIndex.
    """
    result = ValidationResult(tables={}, errors=[])
    frames: dict[str, list[pd.DataFrame]] = {}
    for raw, checked in _validated_chunks(Path(folder), known_ids=known_ids,
                                          divisions=divisions, chunk_rows=chunk_rows):  # fmt: skip
        _collect(result, raw, checked)
        frames.setdefault(raw.name, []).append(checked.frame)
    result.tables = {name: pd.concat(parts, ignore_index=True)
                     for name, parts in frames.items()}  # fmt: skip
    return result


def _validated_chunks(
    folder: Path, *, known_ids: KnownIds | None, divisions: pd.DataFrame | None,
    chunk_rows: int | None,
) -> Iterator[tuple[RawTable, TableResult]]:  # fmt: skip
    """Each table of ``folder`` (parents first) read and validated ``chunk_rows`` records at a
    time: the uniqueness rules span a table's chunks (``KeyLedger``), references may name the
    stored ids and the valid ids of the tables before. Only what the rules need is held across
    chunks: the ids, and 40 bytes per key of the table being read."""
    files = find_table_files(folder)
    chunk_rows = chunk_rows or CHUNK_ROWS
    known: dict[str, set[str]] = {t: set((known_ids or {}).get(t, ())) for t in ID_COLUMNS}
    rejected: dict[str, set[str]] = {t: set() for t in ID_COLUMNS}
    lookups: dict[str, pd.Index] = {}  # the known ids as indexes, built once per id table
    for table in TABLES:
        if table.name not in files:
            continue
        ledger, first = KeyLedger(), True
        for raw in iter_table_file(files[table.name], name=table.name, chunk_rows=chunk_rows):
            for name, ids in known.items():
                if name not in lookups:
                    lookups[name] = pd.Index(list(ids), dtype=object)
            checked = _validate_raw(raw, known=lookups, rejected=rejected, divisions=divisions,
                                    ledger=ledger, first=first)  # fmt: skip
            yield raw, checked
            if table.name in ID_COLUMNS:
                _note_ids(table.name, raw, checked.frame, known, rejected)
            first = False
        lookups.pop(table.name, None)


def _validate_raw(
    raw: RawTable, *, known: KnownIds, rejected: KnownIds, divisions: pd.DataFrame | None,
    ledger: KeyLedger, first: bool,
) -> TableResult:  # fmt: skip
    """One chunk of a table (``first``: the first, which alone reports the header's errors)."""
    if any(e.row == 1 for e in raw.errors):  # the reader found no usable header
        return _nothing(raw, [])
    if (TABLES_BY_NAME[raw.name].required and first and len(raw.frame) == 0
            and not raw.errors):  # fmt: skip
        reason = f"no rows: the {raw.name} table is required and needs data rows"
        return _nothing(raw, [row_error(raw.file, 1, "", "", reason)])
    checked = validate_table(
        raw.name, raw.frame, file=raw.file, rows=raw.rows, known_ids=known,
        rejected_ids=rejected, divisions=divisions, ledger=ledger,
    )  # fmt: skip
    if not first:
        checked.errors = [e for e in checked.errors if e.row != 1]
    return checked


def _nothing(raw: RawTable, errors: list[RowError]) -> TableResult:
    return TableResult(raw.name, raw.file, empty_frame(raw.name), errors, 0, raw.rows[:0])


def _collect(result: ValidationResult, raw: RawTable, checked: TableResult) -> None:
    """Add one chunk's outcome (not its frame); the reader's errors (ragged rows, empty file)
    count as rejects."""
    ragged = len({e.row for e in raw.errors if e.row > 1})
    name = raw.name
    result.files[name] = raw.file
    # Stable sort: reader and validation errors interleave by row, columns stay in order.
    result.errors.extend(sorted(raw.errors + checked.errors, key=lambda e: e.row))
    result.rows_read[name] = result.rows_read.get(name, 0) + checked.rows_read + ragged
    result.rejected[name] = result.rejected.get(name, 0) + len(checked.rejected_rows) + ragged
    result.merged[name] = result.merged.get(name, 0) + checked.merged


def _note_ids(
    name: str, raw: RawTable, frame: pd.DataFrame, known: dict[str, set[str]],
    rejected: dict[str, set[str]],
) -> None:  # fmt: skip
    """Valid ids become referable; ids seen only in rejected rows sharpen later reasons."""
    column = ID_COLUMNS[name]
    valid = set(frame[column])
    known[name] |= valid
    header = [h for h in (column, TABLES_BY_NAME[name].column(column).label_zh) if h in raw.frame]
    seen = set(raw.frame[header[0]]) if len(header) == 1 else set()
    rejected[name] |= seen - valid - {""}


class _Invalid(Exception):
    """Raised inside the import's transaction to roll it back: the data had bad rows."""


def import_dataset(
    folder: Path,
    repo: Repository,
    *,
    skip_invalid: bool = False,
    rejects_dir: Path | None = None,
    progress: bool = False,
    audit: AuditNote | None = None,
    chunk_rows: int | None = None,
) -> ImportReport:
    """Validate ``folder`` and upsert its valid rows into ``repo`` in one transaction (with the
    ``audit`` note's entry, when given: rows per table, and what was rejected), reading,
    validating and writing ``chunk_rows`` records at a time (default :data:`CHUNK_ROWS`), so
    memory holds one chunk.

    Any bad row raises ``ValidationFailed`` (nothing written: the transaction is rolled back)
    unless ``skip_invalid``; then the rejects go to ``rejects_dir/rejects.csv`` beside
    ``summary.json`` (default: ``<folder>/_import_report``). An explicit ``rejects_dir`` also
    receives them on failure.
    """
    folder = Path(folder)
    known = {name: repo.ids(name) for name in ID_COLUMNS}
    result = ValidationResult(tables={}, errors=[])
    counts: dict[str, UpsertCount] = {}
    try:
        with repo.transaction("import") as tx:
            # A table empty before the import holds none of a chunk's keys (the earlier chunks
            # repeat none: the key ledger merged or rejected them), so its rows are new without
            # a lookup; else the lookup goes by key, never the whole table, which grows with
            # every chunk written.
            lookups: dict[str, Lookup] = {}
            for raw, checked in _validated_chunks(folder, known_ids=known, divisions=None,
                                                  chunk_rows=chunk_rows):  # fmt: skip
                _collect(result, raw, checked)
                if result.errors and not skip_invalid:
                    continue  # nothing will be kept: validate the rest, to report it all
                if raw.name not in lookups:
                    lookups[raw.name] = "none" if tx.is_empty(raw.name) else "by_key"
                lookup = lookups[raw.name]
                written = tx.upsert({raw.name: checked.frame}, progress=progress,
                                    lookup=lookup)[raw.name]  # fmt: skip
                counts[raw.name] = counts[raw.name] + written if raw.name in counts else written
            if result.errors and not skip_invalid:
                raise _Invalid
            if audit is not None:
                rows = {name: {"inserted": c.inserted, "updated": c.updated}
                        for name, c in counts.items()}  # fmt: skip
                tx.append_audit([audit.entry(str(folder), rows=rows, rejected=len(result.errors))])
    except _Invalid:
        if rejects_dir is not None:
            _write_report(result, {}, Path(rejects_dir))
        raise ValidationFailed(result.errors) from None
    report = _report(result, counts)
    if skip_invalid or rejects_dir is not None:
        target = Path(rejects_dir) if rejects_dir is not None else _default_report_dir(folder)
        rejects, summary = _write_report(result, report.tables, target)
        report = ImportReport(report.tables, report.errors, rejects, summary)
    _log(report)
    return report


def _report(result: ValidationResult, counts: Mapping[str, object]) -> ImportReport:
    tables = {
        name: TableReport(
            file=result.files[name],
            rows_read=result.rows_read[name],
            inserted=int(getattr(counts.get(name), "inserted", 0)),
            updated=int(getattr(counts.get(name), "updated", 0)),
            unchanged=int(getattr(counts.get(name), "unchanged", 0)),
            rejected=result.rejected[name],
            duplicates_merged=result.merged.get(name, 0),
        )
        for name in result.files
    }
    return ImportReport(tables, list(result.errors))


def _default_report_dir(folder: Path) -> Path:
    target = folder / REPORT_DIRNAME
    if os.access(folder, os.W_OK) and (not target.exists() or os.access(target, os.W_OK)):
        return target
    fallback = Path(tempfile.mkdtemp(prefix="tenantmatch_import_"))
    logger.warning("folder %s is not writable; writing the import report to %s", folder, fallback)
    return fallback


def _write_report(
    result: ValidationResult, tables: Mapping[str, TableReport], target: Path
) -> tuple[Path, Path]:
    """Write ``rejects.csv`` (file, row, column, value, reason, reason_zh; UTF-8 with BOM so
    Excel reads the Chinese text) and ``summary.json`` into ``target``; returns both paths."""
    target.mkdir(parents=True, exist_ok=True)
    rejects = target / "rejects.csv"
    with rejects.open("w", encoding="utf-8-sig", newline="") as handle:
        # the rejected values are the uploader's text: neutralised, as in every spreadsheet
        rows = ((e.file, e.row, e.column, e.value, e.reason, e.reason_zh) for e in result.errors)
        write_csv(handle, [*REJECTS_COLUMNS], rows)
    summary = target / "summary.json"
    content = {
        "imported": bool(tables),
        "tables": {n: asdict(t) for n, t in tables.items()} or _unimported(result),
        "rejected_cells": len(result.errors),
        "rejects_file": rejects.name,
    }
    summary.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")
    return rejects, summary


def _unimported(result: ValidationResult) -> dict[str, dict[str, object]]:
    return {
        name: {
            "file": file,
            "rows_read": result.rows_read[name],
            "rejected": result.rejected[name],
            "duplicates_merged": result.merged.get(name, 0),
        }
        for name, file in result.files.items()
    }


def _log(report: ImportReport) -> None:
    for name, t in report.tables.items():
        logger.info(
            "import %s (%s): %d read, %d inserted, %d updated, %d unchanged, %d rejected, "
            "%d exact duplicates merged",
            name,
            t.file,
            t.rows_read,
            t.inserted,
            t.updated,
            t.unchanged,
            t.rejected,
            t.duplicates_merged,
        )
    if report.rejects_path is not None:
        logger.info("rejects: %s; summary: %s", report.rejects_path, report.summary_path)
