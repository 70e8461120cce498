"""Reading, diffing and writing one canonical table inside an open transaction."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Insert,
    Table,
    Text,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from tqdm import tqdm

from tenantmatch.registry import contract
from tenantmatch.store.errors import StorageError
from tenantmatch.store.frames import (
    UPDATED_AT,
    chunk_bounds,
    concat_frames,
    db_columns,
    db_records,
    equal_values,
    frame_from_rows,
)

logger = logging.getLogger(__name__)

WRITE_CHUNK_ROWS = 10_000
INSERT_CHUNK_ROWS = 50_000  # new rows per COPY / executemany
KEY_CHUNK_ROWS = 500  # keys per IN (...) list; 4-column keys stay far below SQLite's 32766 limit
FULL_READ_MIN_ROWS = 20_000  # from this many incoming rows, read the whole table instead of by key
Lookup = Literal["auto", "by_key", "none"]  # how upsert_frame finds the stored rows
# Rows fetched and converted at a time: only one chunk is ever held as Python row objects (all
# 6.6M event rows at once peaked at ~4 GB at 1M enterprises; the typed frame is ~0.5 GB).
READ_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class UpsertCount:
    """Rows of one table that an upsert inserted, updated, or found equal to the stored row."""

    inserted: int
    updated: int
    unchanged: int

    def __add__(self, other: UpsertCount) -> UpsertCount:
        return UpsertCount(self.inserted + other.inserted, self.updated + other.updated,
                           self.unchanged + other.unchanged)  # fmt: skip


def read_frame(
    conn: Connection,
    table: Table,
    spec: contract.Table,
    *,
    where: ColumnElement[bool] | None = None,
) -> pd.DataFrame:
    """The canonical frame (contract columns + ``updated_at``) of the rows matching ``where``,
    in database order. Rows arrive ``READ_CHUNK_ROWS`` at a time (a server-side cursor on
    PostgreSQL) and are typed chunk by chunk."""
    names = [*spec.column_names, UPDATED_AT]
    query = select(*(_readable(table.c[name], conn.dialect.name) for name in names))
    if where is not None:
        query = query.where(where)
    # On the statement, not the connection: a connection's options would stay for its later
    # statements, and psycopg cannot executemany on the server-side cursor yield_per opens.
    result = conn.execute(query.execution_options(yield_per=READ_CHUNK_ROWS))
    return concat_frames([frame_from_rows(rows, spec) for rows in result.partitions()], spec)


def _readable(column: Column[Any], dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite" and isinstance(column.type, Date | DateTime):
        # SQLite stores ISO text; pandas parses a whole column far faster than per-value
        # result processors do.
        return type_coerce(column, Text).label(column.name)
    return column


def key_filter(table: Table, spec: contract.Table, keys: pd.DataFrame) -> ColumnElement[bool]:
    """``(key columns) IN (...)`` for the canonical key columns of ``keys`` (one chunk of rows)."""
    values = db_columns(keys, spec, only=spec.key)
    columns = [table.c[name] for name in spec.key]
    if len(columns) == 1:
        return columns[0].in_(values[spec.key[0]].tolist())
    rows = list(zip(*(values[name].tolist() for name in spec.key), strict=True))
    return tuple_(*columns).in_(rows)


def upsert_frame(
    conn: Connection,
    frame: pd.DataFrame,
    table: Table,
    spec: contract.Table,
    *,
    now: datetime,
    progress: bool = False,
    lookup: Lookup = "auto",
) -> UpsertCount:
    """Insert new and update changed rows of a canonical ``frame``; equal rows are not touched.

    ``now`` becomes ``updated_at`` of every written row. Database errors raise StorageError.
    ``lookup``: how the stored rows of the frame's keys are found: "auto" by key, or the whole
    table from :data:`FULL_READ_MIN_ROWS` rows on; "by_key" always by key (a chunk of an
    import: the table grows with every chunk); "none": the table holds none of these keys
    (an import into a table that was empty, whose chunks repeat no key), every row is new.
    """
    check_keys(frame, spec)
    if lookup == "none":
        existing = concat_frames([], spec)
    else:
        existing = _existing(conn, frame, table, spec, by_key=lookup == "by_key")
    status = _row_status(frame, existing, spec)
    # The writer lock is held: no other transaction inserts a key between the read and now.
    _insert_new(conn, frame.loc[status == "new"], table, spec, now=now, progress=progress)
    _write(conn, frame.loc[status == "changed"], table, spec, now=now, progress=progress)
    count = UpsertCount(
        inserted=int((status == "new").sum()),
        updated=int((status == "changed").sum()),
        unchanged=int((status == "unchanged").sum()),
    )
    logger.info("upsert %s: %s", spec.name, count)
    return count


def check_keys(frame: pd.DataFrame, spec: contract.Table) -> None:
    """Raise StorageError when a natural key is missing or repeated within ``frame``."""
    keys = frame[list(spec.key)]
    missing = keys.isna().any(axis=1)
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise StorageError(
            f"table {spec.name!r} row {row} has a missing key column; {list(spec.key)} are required"
        )
    repeated = keys.duplicated()
    if repeated.any():
        row = int(np.flatnonzero(repeated.to_numpy())[0])
        shown = {k: str(v) for k, v in keys.iloc[row].items()}
        raise StorageError(
            f"table {spec.name!r} repeats the key {shown} (row {row}); keys must be unique"
        )


def _existing(
    conn: Connection, frame: pd.DataFrame, table: Table, spec: contract.Table, *, by_key: bool
) -> pd.DataFrame:
    if len(frame) >= FULL_READ_MIN_ROWS and not by_key:
        return read_frame(conn, table, spec)
    parts = [
        read_frame(conn, table, spec, where=key_filter(table, spec, frame.iloc[start:stop]))
        for start, stop in chunk_bounds(len(frame), KEY_CHUNK_ROWS)
    ]
    return concat_frames(parts, spec)


def _row_status(frame: pd.DataFrame, existing: pd.DataFrame, spec: contract.Table) -> np.ndarray:
    """Per row of ``frame``: "new", "changed" or "unchanged" against ``existing``."""
    key = list(spec.key)
    merged = frame.merge(
        existing.drop(columns=UPDATED_AT),
        on=key,
        how="left",
        suffixes=("", "__db"),
        indicator=True,
        validate="one_to_one",
    )
    same = np.ones(len(merged), dtype=bool)
    for name in spec.column_names:
        if name not in key:
            same &= equal_values(merged[name], merged[f"{name}__db"])
    new = (merged["_merge"] == "left_only").to_numpy()
    return np.where(new, "new", np.where(same, "unchanged", "changed"))


def _insert_new(
    conn: Connection, frame: pd.DataFrame, table: Table, spec: contract.Table, *,
    now: datetime, progress: bool,
) -> None:  # fmt: skip
    """Rows whose keys are not stored, by the driver's bulk path: ``COPY ... FROM STDIN`` on
    PostgreSQL, one ``executemany`` of a plain ``INSERT`` per chunk on SQLite; each value as
    SQLAlchemy would bind it: 2.4-2.6x the rows per second of the upsert statement at 20k
    enterprises (``benchmarks.import_speed``)."""
    if frame.empty:
        return
    # in key order, the primary key's B-tree grows at its end: 2x the rows per second on SQLite
    frame = frame.sort_values(list(spec.key), kind="stable")
    columns = db_columns(frame, spec)
    names = [*columns, UPDATED_AT]
    bound = [_bound(table.c[name], conn, columns[name]) for name in columns]
    stamp = _bound(table.c[UPDATED_AT], conn, np.array([now], dtype=object))[0]  # one for all
    bound.append(np.full(len(frame), stamp, dtype=object))
    quote = conn.dialect.identifier_preparer.quote
    listed = ", ".join(quote(name) for name in names)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        sql = f"COPY {quote(table.name)} ({listed}) FROM STDIN"
    else:
        sql = f"INSERT INTO {quote(table.name)} ({listed}) VALUES ({', '.join('?' * len(names))})"
    cursor = conn.connection.cursor()
    try:
        with tqdm(total=len(frame), desc=spec.name, unit="row", file=sys.stderr,
                  disable=not progress) as bar:  # fmt: skip
            for start, stop in chunk_bounds(len(frame), INSERT_CHUNK_ROWS):
                rows = zip(*(values[start:stop] for values in bound), strict=True)
                if postgres:
                    with cursor.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cursor.executemany(sql, list(rows))
                bar.update(stop - start)
    except conn.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
        raise IntegrityError(sql, None, exc) from exc
    finally:
        cursor.close()


def _bound(column: Column[Any], conn: Connection, values: np.ndarray) -> np.ndarray:
    """``values`` as SQLAlchemy binds them for ``column`` (SQLite: dates as ISO text, ...)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return values
    return np.array([process(v) for v in values], dtype=object)


def _write(
    conn: Connection,
    frame: pd.DataFrame,
    table: Table,
    spec: contract.Table,
    *,
    now: datetime,
    progress: bool,
) -> None:
    if frame.empty:
        return
    columns = db_columns(frame, spec)
    columns[UPDATED_AT] = np.full(len(frame), now, dtype=object)
    statement = _upsert_statement(conn.dialect.name, table, spec)
    with tqdm(
        total=len(frame), desc=spec.name, unit="row", file=sys.stderr, disable=not progress
    ) as bar:
        for start, stop in chunk_bounds(len(frame), WRITE_CHUNK_ROWS):
            conn.execute(statement, db_records(columns, start, stop))
            bar.update(stop - start)


def _upsert_statement(dialect: str, table: Table, spec: contract.Table) -> Insert:
    insert: Any = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert(table)
    updates = [c for c in spec.column_names if c not in spec.key] + [UPDATED_AT]
    return statement.on_conflict_do_update(
        index_elements=list(spec.key), set_={c: statement.excluded[c] for c in updates}
    )
