"""Finding and reading the files of a data-contract folder as frames of text cells.

Every format (CSV in UTF-8, UTF-8 with BOM or GB18030/GBK; Parquet; xlsx) is normalised to the
same raw form: a frame of ``str`` cells where ``""`` means missing, plus the file row number of
each record (header = row 1), so one parser (``store.validation``) serves all formats.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry import TABLES, InputError, RowError
from tenantmatch.store.messages import row_error

logger = logging.getLogger(__name__)

# Earlier wins when one table is present in several formats.
FORMAT_PRECEDENCE: tuple[str, ...] = ("parquet", "csv", "xlsx")
ENCODINGS = ("utf-8-sig", "gb18030")  # tried in this order; the first that decodes wins


@dataclass
class RawTable:
    """One file as text: ``frame`` holds stripped ``str`` cells (``""`` = missing), ``rows`` the
    1-based file row of each record (header = 1); ``errors`` are rows the reader could not use."""

    name: str
    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    errors: list[RowError] = field(default_factory=list)


def find_table_files(folder: Path) -> dict[str, Path]:
    """Map each contract table present in ``folder`` to its file (parquet > csv > xlsx).

    Raises ``InputError`` when ``folder`` is not a folder or a required table is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder; expected a data-contract folder")
    found: dict[str, Path] = {}
    for table in TABLES:
        candidates = [folder / f"{table.name}.{ext}" for ext in FORMAT_PRECEDENCE]
        present = [p for p in candidates if p.is_file()]
        if not present:
            continue
        found[table.name] = present[0]
        if len(present) > 1:
            ignored = ", ".join(p.name for p in present[1:])
            logger.info("table %s: reading %s, ignoring %s", table.name, present[0].name, ignored)
    missing = [t.name for t in TABLES if t.required and t.name not in found]
    if missing:
        expected = " or ".join(f"{missing[0]}.{ext}" for ext in FORMAT_PRECEDENCE)
        raise InputError(
            f"folder {str(folder)!r} lacks required table(s) {', '.join(missing)} "
            f"(expected e.g. {expected})"
        )
    return found


def read_table_file(path: Path, *, name: str | None = None) -> RawTable:
    """Read one table file (``.csv``, ``.parquet`` or ``.xlsx``) as text cells."""
    path = Path(path)
    name = name or path.stem
    suffix = path.suffix.lower().lstrip(".")
    if path.stat().st_size == 0:
        return _empty(name, path.name, "file is empty (0 bytes); expected a header row")
    if suffix == "csv":
        return read_csv_bytes(path.read_bytes(), name=name, file=path.name)
    if suffix == "parquet":
        return _read_parquet(path, name=name)
    if suffix == "xlsx":
        return _read_xlsx(path, name=name)
    allowed = ", ".join(f".{ext}" for ext in FORMAT_PRECEDENCE)
    raise InputError(f"file {path.name!r} has unsupported format; allowed: {allowed}")


def read_csv_bytes(data: bytes, *, name: str, file: str) -> RawTable:
    """Parse CSV bytes (UTF-8, UTF-8 with BOM, or GB18030/GBK, detected) into a ``RawTable``."""
    if not data:
        return _empty(name, file, "file is empty (0 bytes); expected a header row")
    text = decode_text(data, file=file)
    if text is None:
        return _empty(name, file, "cannot decode the file: expected UTF-8 or GBK/GB18030 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    if '"' not in text:  # no quoted cells: one record per line, no per-record bookkeeping
        records = list(reader)
        return _from_records(name, file, records, np.arange(1, len(records) + 1))
    records, ends = [], []
    for record in reader:
        records.append(record)
        ends.append(reader.line_num)
    return _from_records(name, file, records, _start_lines(ends))


def decode_text(data: bytes, *, file: str) -> str | None:
    """Decode strictly as UTF-8 (BOM optional), else as GB18030; ``None`` when neither fits."""
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        logger.info("%s: decoded as %s", file, encoding)
        return text
    return None


def _start_lines(ends: list[int]) -> np.ndarray:
    # A quoted cell may span lines; a record starts one line after the previous one ended.
    end = np.asarray(ends, dtype=np.int64)
    return np.concatenate(([1], end[:-1] + 1)) if len(end) else end


def _from_records(name: str, file: str, records: list[list[str]], lines: np.ndarray) -> RawTable:
    """Header + data records (as lists of cells) to a ``RawTable``; ragged records are errors."""
    widths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    nonblank = np.flatnonzero(widths > 0)
    if len(nonblank) == 0:
        return _empty(name, file, "file has no header row")
    header = [h.strip() for h in records[nonblank[0]]]
    start = int(nonblank[0]) + 1
    return _records_table(name, file, header, records[start:], lines[start:])


def _records_table(
    name: str, file: str, header: list[str], records: list[list[str]], lines: np.ndarray
) -> RawTable:
    """Data records (lists of cells, starting on file ``lines``) under ``header`` as a
    ``RawTable``: blank records skipped, ragged ones errors."""
    widths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    data_idx = np.flatnonzero(widths > 0)
    ragged = data_idx[widths[data_idx] != len(header)]
    errors = [
        row_error(
            file,
            int(lines[i]),
            "",
            _clip(",".join(records[i])),
            f"row has {widths[i]} cells but the header has {len(header)}",
        )
        for i in ragged
    ]
    good = data_idx[widths[data_idx] == len(header)]
    frame = _strip(pd.DataFrame([records[i] for i in good], columns=header, dtype=str))
    if len(good) == 0:
        frame = pd.DataFrame({h: pd.Series([], dtype=str) for h in dict.fromkeys(header)})
    # Rows of empty cells only (",,,," from spreadsheets) are blank lines, not records.
    filled = (frame != "").any(axis=1).to_numpy() if len(frame.columns) else np.ones(0, bool)
    frame = frame.loc[filled].reset_index(drop=True)
    return RawTable(name, file, frame, lines[good][filled], errors)


def iter_table_file(path: Path, *, name: str | None = None, chunk_rows: int) -> Iterator[RawTable]:
    """One table file (as :func:`read_table_file` reads it) in ``RawTable`` chunks of at most
    ``chunk_rows`` records each, with their file rows; a CSV or Parquet file is read as it
    goes, so memory holds one chunk (an xlsx sheet, at most 1,048,576 rows, is read whole).
    At least one chunk, the first carrying a header or file error."""
    path = Path(path)
    name = name or path.stem
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "csv" and path.stat().st_size > 0:
        yield from _csv_chunks(path, name=name, chunk_rows=chunk_rows)
    elif suffix == "parquet" and path.stat().st_size > 0:
        yield from _parquet_chunks(path, name=name, chunk_rows=chunk_rows)
    else:
        whole = read_table_file(path, name=name)
        for start in range(0, max(1, len(whole.frame)), chunk_rows):
            part = whole.frame.iloc[start : start + chunk_rows].reset_index(drop=True)
            errors = whole.errors if start == 0 else []
            yield RawTable(name, whole.file, part, whole.rows[start : start + chunk_rows], errors)


def _csv_chunks(path: Path, *, name: str, chunk_rows: int) -> Iterator[RawTable]:
    encoding = file_encoding(path)
    if encoding is None:
        yield _empty(name, path.name, "cannot decode the file: expected UTF-8 or GBK/GB18030 text")
        return
    header: list[str] | None = None
    records: list[list[str]] = []
    starts: list[int] = []
    yielded = False
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        end = 0  # the file line the previous record ended on (a quoted cell may span lines)
        for record in reader:
            start, end = end + 1, reader.line_num
            if header is None:
                if record:
                    header = [h.strip() for h in record]
                continue
            records.append(record)
            starts.append(start)
            if len(records) >= chunk_rows:
                yield _records_table(name, path.name, header, records, np.asarray(starts))
                records, starts, yielded = [], [], True
    if header is None:
        yield _empty(name, path.name, "file has no header row")
    elif records or not yielded:
        yield _records_table(name, path.name, header, records, np.asarray(starts, np.int64))


def file_encoding(path: Path, *, block: int = 1 << 20) -> str | None:
    """The encoding :func:`decode_text` would choose for the file, found block by block."""
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(block):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        logger.info("%s: decoded as %s", path.name, encoding)
        return encoding
    return None


def _read_parquet(path: Path, *, name: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"file {path.name!r} cannot be read as Parquet: {exc}") from exc
    return _parquet_table(table, name=name, file=path.name, first_row=2)


def _parquet_chunks(path: Path, *, name: str, chunk_rows: int) -> Iterator[RawTable]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        first_row, empty = 2, True
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            table = pa.Table.from_batches([batch])
            yield _parquet_table(table, name=name, file=path.name, first_row=first_row)
            first_row, empty = first_row + table.num_rows, False
        if empty:
            yield _parquet_table(parquet.schema_arrow.empty_table(), name=name, file=path.name,
                                 first_row=2)  # fmt: skip
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"file {path.name!r} cannot be read as Parquet: {exc}") from exc


def _parquet_table(table: Any, *, name: str, file: str, first_row: int) -> RawTable:
    """A pyarrow table (or a batch of one) as text cells, its first record on ``first_row``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, pd.Series] = {}
    for col_name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(col.type):
            text = pc.strftime(col, format="%Y-%m-%d")
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            text = col
        else:
            text = pc.cast(col, pa.string())
        columns[str(col_name).strip()] = pd.Series(
            text.fill_null("").to_pylist(), dtype=str, name=col_name
        )
    frame = pd.DataFrame(columns) if columns else pd.DataFrame()
    rows = np.arange(first_row, table.num_rows + first_row, dtype=np.int64)
    return RawTable(name, file, _strip(frame), rows)


def _read_xlsx(path: Path, *, name: str) -> RawTable:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise InputError(f"file {path.name!r} cannot be read as an xlsx workbook: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        records = [[_xlsx_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    # Spreadsheet rows carry trailing empty cells; only non-empty cells make a row ragged.
    trimmed = [_rstrip_empty(r) for r in records]
    width = next((len(r) for r in trimmed if r), 0)
    padded = [r + [""] * (width - len(r)) if 0 < len(r) < width else r for r in trimmed]
    return _from_records(name, path.name, padded, np.arange(1, len(padded) + 1, dtype=np.int64))


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rstrip_empty(record: list[str]) -> list[str]:
    end = len(record)
    while end and not record[end - 1].strip():
        end -= 1
    return record[:end]


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda s: s.astype(str).str.strip()) if len(frame.columns) else frame


def _empty(name: str, file: str, reason: str) -> RawTable:
    error = row_error(file, 1, "", "", reason)
    return RawTable(name, file, pd.DataFrame(), np.empty(0, dtype=np.int64), [error])


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
