"""Tables for people who open them in Excel or WPS: CSV and XLSX writers that neutralise formulas.

The one place where spreadsheet cells are written (exports of shortlists, chain leads and fill
plans, the importer's ``rejects.csv``). A text cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return would be run as a formula by a spreadsheet (CSV injection, OWASP), so
it is written with a leading apostrophe; numbers, dates and booleans are written as themselves.
Pure: no I/O beyond the handle or bytes it is given.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TextIO

Cell = str | int | float | bool | date | datetime | None

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SHEET_TITLE = 31  # Excel's limit


def neutralise(value: Cell) -> Cell:
    """``value`` safe to put in a spreadsheet cell: text starting with a formula character gets a
    leading apostrophe; other values are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_rows(rows: Iterable[Sequence[Cell]]) -> list[list[Cell]]:
    """Every cell of ``rows`` neutralised."""
    return [[neutralise(v) for v in row] for row in rows]


def write_csv(handle: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
    """Write a header row and ``rows`` to ``handle`` (opened with ``newline=""``), neutralised."""
    writer = csv.writer(handle)
    writer.writerow([neutralise(h) for h in headers])
    writer.writerows(safe_rows(rows))


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The CSV file as UTF-8 with a byte-order mark, so Excel reads Chinese text correctly."""
    buffer = io.StringIO(newline="")
    write_csv(buffer, headers, rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, sheet: str) -> bytes:
    """An XLSX workbook of one sheet named ``sheet`` (cut to 31 characters): a bold header row,
    then ``rows``, neutralised; characters XML cannot hold are dropped."""
    from openpyxl import Workbook  # imported here: only exports need it
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    def cell(value: Cell) -> Cell:
        value = neutralise(value)
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value

    book = Workbook()
    ws = book.active
    assert ws is not None  # a new workbook always has one sheet
    ws.title = _sheet_title(sheet)
    ws.append([cell(h) for h in headers])
    for header in ws[1]:
        header.font = Font(bold=True)
    for row in rows:
        ws.append([cell(v) for v in row])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(name: str) -> str:
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in name).strip() or "Sheet1"
    return cleaned[:MAX_SHEET_TITLE]
