"""Importing a data-contract folder: read, validate, upsert, and report (``tenantmatch import``).

All-or-nothing by default: any bad row raises ``ValidationFailed`` before the database is touched.
With ``skip_invalid`` the valid rows go in and the rejects are written beside a summary.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from tenantmatch.registry import TABLES, TABLES_BY_NAME, RowError, ValidationFailed, write_csv
from tenantmatch.store.messages import row_error
from tenantmatch.store.readers import RawTable, find_table_files, read_table_file
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
    folder: Path, *, known_ids: KnownIds | None = None, divisions: pd.DataFrame | None = None
) -> ValidationResult:
    """Read and validate every table of ``folder`` without a database.

    ``known_ids``: ids per table (``buildings``, ``enterprises``) already stored, which links,
    tenancies and events may name besides this folder's valid rows. Frames have a RangeIndex.
    """
    files = find_table_files(Path(folder))
    raws = {name: read_table_file(path, name=name) for name, path in files.items()}
    known: dict[str, set[str]] = {t: set((known_ids or {}).get(t, ())) for t in ID_COLUMNS}
    rejected: dict[str, set[str]] = {t: set() for t in ID_COLUMNS}
    result = ValidationResult(tables={}, errors=[])
    lookups: dict[str, pd.Index] = {}  # the known ids as indexes, built once per id table
    for table in TABLES:
        if table.name not in raws:
            continue
        raw = raws[table.name]
        for name, ids in known.items():
            if name not in lookups:
                lookups[name] = pd.Index(list(ids), dtype=object)
        checked = _validate_raw(raw, known=lookups, rejected=rejected, divisions=divisions)
        _collect(result, raw, checked)
        if table.name in ID_COLUMNS:
            _note_ids(table.name, raw, checked.frame, known, rejected)
            lookups.pop(table.name)
    return result


def _validate_raw(
    raw: RawTable, *, known: KnownIds, rejected: KnownIds, divisions: pd.DataFrame | None
) -> TableResult:
    if any(e.row == 1 for e in raw.errors):  # the reader found no usable header
        return _nothing(raw, [])
    if TABLES_BY_NAME[raw.name].required and len(raw.frame) == 0 and not raw.errors:
        reason = f"no rows: the {raw.name} table is required and needs data rows"
        return _nothing(raw, [row_error(raw.file, 1, "", "", reason)])
    return validate_table(
        raw.name, raw.frame, file=raw.file, rows=raw.rows, known_ids=known,
        rejected_ids=rejected, divisions=divisions,
    )  # fmt: skip


def _nothing(raw: RawTable, errors: list[RowError]) -> TableResult:
    return TableResult(raw.name, raw.file, empty_frame(raw.name), errors, 0, raw.rows[:0])


def _collect(result: ValidationResult, raw: RawTable, checked: TableResult) -> None:
    """Add one table's outcome; the reader's errors (ragged rows, empty file) count as rejects."""
    ragged = len({e.row for e in raw.errors if e.row > 1})
    result.files[raw.name] = raw.file
    result.tables[raw.name] = checked.frame.reset_index(drop=True)
    # Stable sort: reader and validation errors interleave by row, columns stay in order.
    result.errors.extend(sorted(raw.errors + checked.errors, key=lambda e: e.row))
    result.rows_read[raw.name] = checked.rows_read + ragged
    result.rejected[raw.name] = len(checked.rejected_rows) + ragged
    result.merged[raw.name] = checked.merged


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


def import_dataset(
    folder: Path,
    repo: Repository,
    *,
    skip_invalid: bool = False,
    rejects_dir: Path | None = None,
    progress: bool = False,
    audit: AuditNote | None = None,
) -> ImportReport:
    """Validate ``folder`` and upsert its valid rows into ``repo`` in one transaction (with the
    ``audit`` note's entry, when given: rows per table, and what was rejected).

    Any bad row raises ``ValidationFailed`` (nothing written) unless ``skip_invalid``; then the
    rejects go to ``rejects_dir/rejects.csv`` beside ``summary.json`` (default:
    ``<folder>/_import_report``). An explicit ``rejects_dir`` also receives them on failure.
    """
    folder = Path(folder)
    known = {name: repo.ids(name) for name in ID_COLUMNS}
    result = validate_dataset(folder, known_ids=known)
    if result.errors and not skip_invalid:
        if rejects_dir is not None:
            _write_report(result, {}, Path(rejects_dir))
        raise ValidationFailed(result.errors)
    with repo.transaction("import") as tx:
        counts = tx.upsert(result.tables, progress=progress)
        written = {name: {"inserted": c.inserted, "updated": c.updated}
                   for name, c in counts.items()}  # fmt: skip
        if audit is not None:
            tx.append_audit([audit.entry(str(folder), rows=written, rejected=len(result.errors))])
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
