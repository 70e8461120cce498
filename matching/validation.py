"""Validation of raw text tables against data contract v1 (``matching.contract``).

Input: a frame of ``str`` cells (``""`` = missing) as ``matching.readers`` produces. Output: the
canonical frame of the valid rows (types as the ``matching.contract`` docstring defines) and one
``RowError`` per bad cell. All checks are vectorised; Python loops only format the error list.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching import parsing
from matching.contract import TABLES_BY_NAME, Column, Table
from matching.errors import InputError, RowError

logger = logging.getLogger(__name__)

KnownIds = Mapping[str, Collection[str]]
"""Ids per referenced table (``"buildings"``, ``"enterprises"``) that already exist."""

# Cross-column rules: (table, column, op, other) means "column op other" must hold when both are
# present; a violation is reported on ``column``.
CROSS_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("buildings", "vacant_area_m2", "<=", "total_area_m2"),
    ("buildings", "min_unit_m2", "<=", "total_area_m2"),
    ("tenancies", "end_date", ">=", "start_date"),
    ("links", "target_id", "!=", "source_id"),
)
_OPS: dict[str, Callable[[pd.Series, pd.Series], pd.Series]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
}
_OP_TEXT = {"<=": "must be <= {other}", ">=": "must be on or after {other}", "!=": "must differ from {other}"}


@dataclass
class TableResult:
    """One validated table: ``frame`` holds the canonical valid rows (index = file row number),
    ``rejected_rows`` the file row numbers of rejected rows, ``errors`` one entry per bad cell."""

    name: str
    file: str
    frame: pd.DataFrame
    errors: list[RowError]
    rows_read: int
    rejected_rows: np.ndarray


@dataclass
class ValidationResult:
    """A validated dataset: canonical frames of the valid rows per table and the bad cells."""

    tables: dict[str, pd.DataFrame]
    errors: list[RowError]
    files: dict[str, str] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)


class _Errors:
    """Collects (mask, column, reason) checks over a table's rows; formats them at the end."""

    def __init__(self, file: str, rows: np.ndarray) -> None:
        self.file, self.rows, self.parts = file, rows, []

    def add(self, mask: pd.Series | np.ndarray, column: str, values: pd.Series | str,
            reason: pd.Series | str) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(idx) == 0:
            return
        self.parts.append(pd.DataFrame({
            "pos": idx,
            "column": column,
            "value": _pick(values, idx),
            "reason": _pick(reason, idx),
        }))

    def bad_positions(self) -> np.ndarray:
        if not self.parts:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([p["pos"].to_numpy() for p in self.parts]))

    def to_list(self, order: Mapping[str, int]) -> list[RowError]:
        if not self.parts:
            return []
        found = pd.concat(self.parts, ignore_index=True)
        found["row"] = self.rows[found["pos"].to_numpy()]
        found["rank"] = found["column"].map(order).fillna(-1)
        found = found.sort_values(["row", "rank"], kind="stable")
        return [
            RowError(self.file, int(r), str(c), str(v), str(why))
            for r, c, v, why in zip(found["row"], found["column"], found["value"], found["reason"],
                                    strict=True)
        ]


def _pick(values: pd.Series | str, idx: np.ndarray) -> np.ndarray | str:
    return values if isinstance(values, str) else np.asarray(values, dtype=object)[idx]


def validate_table(
    name: str,
    raw: pd.DataFrame,
    *,
    file: str,
    rows: np.ndarray | None = None,
    known_ids: KnownIds | None = None,
    divisions: pd.DataFrame | None = None,
) -> TableResult:
    """Validate one table of text cells (``""`` = missing) against the contract.

    ``rows``: the file row of each record (default: 2, 3, ...). With ``known_ids`` the ids a row
    references (enterprise_id, building_id, ...) must be in it; without, references are unchecked.
    """
    table = _table(name)
    raw = _as_text(raw)
    rows = np.arange(2, len(raw) + 2, dtype=np.int64) if rows is None else np.asarray(rows)
    errors = _Errors(file, rows)
    header_problem = _check_header(table, raw, errors)
    if header_problem:
        return _result(table, file, empty_frame(table), errors, rows, np.arange(len(raw)))
    canon = _parse_columns(table, raw, errors, divisions)
    _check_cross(table, raw, canon, errors)
    _check_unique(table, raw, canon, errors, rows)
    if known_ids is not None:
        check_references(table, canon, raw, errors, known_ids=known_ids)
    return _result(table, file, canon, errors, rows, errors.bad_positions())


def _result(table: Table, file: str, canon: pd.DataFrame, errors: _Errors, rows: np.ndarray,
            bad: np.ndarray) -> TableResult:
    good = np.ones(len(rows), dtype=bool)
    good[bad] = False
    frame = canon.iloc[np.flatnonzero(good)] if len(canon) else canon
    frame.index = pd.Index(rows[good], name="row") if len(canon) else frame.index
    order = {c: i for i, c in enumerate(table.column_names)}
    return TableResult(table.name, file, frame, errors.to_list(order), len(rows), rows[~good])


def _table(name: str) -> Table:
    if name not in TABLES_BY_NAME:
        raise InputError(f"unknown table {name!r}; allowed: {', '.join(TABLES_BY_NAME)}")
    return TABLES_BY_NAME[name]


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    # Callers may hand in typed frames (e.g. an uploaded Parquet); normalise to stripped text.
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if not len(raw.columns):
        return raw
    return raw.apply(lambda s: s.astype("str").fillna("").str.strip())


def _check_header(table: Table, raw: pd.DataFrame, errors: _Errors) -> bool:
    """Header-level problems reject every row; returns whether there was one."""
    header = list(raw.columns)
    first_row = np.zeros(len(raw) + 1, dtype=bool)
    found = ", ".join(dict.fromkeys(header)) or "none"
    problems = [
        (c, f"column {c!r} appears more than once in the header")
        for c in dict.fromkeys(h for i, h in enumerate(header) if h in header[:i])
    ] + [
        (c, f"required column {c!r} is missing; columns found: {found}")
        for c in table.column_names
        if table.column(c).required and c not in header
    ]
    unknown = [h for h in dict.fromkeys(header) if h not in table.column_names]
    if unknown:
        logger.info("%s: ignoring unknown column(s) %s", errors.file, ", ".join(unknown))
    if not problems and table.required and len(raw) == 0:
        problems = [("", f"no rows: the {table.name} table is required and needs data rows")]
    for column, reason in problems:
        errors.rows = np.concatenate(([1], errors.rows)) if len(errors.rows) == len(raw) else errors.rows
        first_row[0] = True
        errors.add(first_row, column, "", reason)
    return bool(problems)
