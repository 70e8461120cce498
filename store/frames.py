"""Conversions between canonical frames (see ``registry.contract``) and database values."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry import contract
from tenantmatch.store.errors import StorageError

UPDATED_AT = "updated_at"
_MISSING: Any = None  # what drivers bind as NULL (typed Any: the stubs reject None)

_EMPTY: dict[contract.ColumnType, str] = {
    "str": "str",
    "enum": "str",
    "list": "str",
    "float": "float64",
    "int": "Int64",
    "date": "datetime64[ns]",
}


def canonical_frame(frame: pd.DataFrame, spec: contract.Table) -> pd.DataFrame:
    """``frame`` with exactly ``spec``'s columns in order and canonical dtypes.

    Absent optional columns become missing; an ``updated_at`` column is dropped (storage owns it).
    """
    columns = [c for c in frame.columns if c != UPDATED_AT]
    unknown = sorted(set(columns) - set(spec.column_names))
    if unknown:
        raise StorageError(
            f"table {spec.name!r} has unknown column(s) {unknown}; "
            f"allowed: {list(spec.column_names)}"
        )
    absent = [c.name for c in spec.columns if c.required and c.name not in columns]
    if absent:
        raise StorageError(f"table {spec.name!r} lacks required column(s) {absent}")
    out = {c.name: _column(frame, c, spec.name) for c in spec.columns}
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _column(frame: pd.DataFrame, col: contract.Column, table: str) -> pd.Series:
    if col.name not in frame.columns:
        return pd.Series(np.nan, index=pd.RangeIndex(len(frame)), dtype=_EMPTY[col.type])
    values = frame[col.name].reset_index(drop=True)
    try:
        return coerce(values, col.type)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StorageError(
            f"table {table!r} column {col.name!r} cannot be read as {col.type}: {exc}"
        ) from exc


def coerce(values: pd.Series, kind: contract.ColumnType) -> pd.Series:
    """``values`` as the canonical dtype of a ``kind`` column; missing stays missing."""
    if kind in ("str", "enum", "list"):
        return values.astype("str")
    if kind == "float":
        return _numeric(values).astype("float64")
    if kind == "int":
        return _numeric(values, nullable=True).astype("Int64")
    dates = values if pd.api.types.is_datetime64_dtype(values) else pd.to_datetime(values)
    return dates.astype("datetime64[ns]").dt.normalize()


def coerce_timestamps(values: pd.Series) -> pd.Series:
    """UTC timestamps (``datetime64[ns, UTC]``); naive values are taken as UTC."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _numeric(values: pd.Series, *, nullable: bool = False) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values
    # The nullable backend keeps integers beyond 2**53 exact when None is among them.
    if nullable:
        return pd.to_numeric(values, errors="raise", dtype_backend="numpy_nullable")
    return pd.to_numeric(values, errors="raise")


def empty_frame(spec: contract.Table) -> pd.DataFrame:
    """A zero-row canonical frame of ``spec`` plus ``updated_at``."""
    out = {c.name: pd.Series([], dtype=_EMPTY[c.type]) for c in spec.columns}
    out[UPDATED_AT] = pd.Series([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame(out)


def concat_frames(parts: Sequence[pd.DataFrame], spec: contract.Table) -> pd.DataFrame:
    """Canonical frames of ``spec`` (with ``updated_at``) one after another, index 0..n-1."""
    if not parts:
        return empty_frame(spec)
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=True)


def frame_from_rows(rows: Sequence[Sequence[Any]], spec: contract.Table) -> pd.DataFrame:
    """A canonical frame from database rows holding ``spec``'s columns then ``updated_at``."""
    if not rows:
        return empty_frame(spec)
    names = [*spec.column_names, UPDATED_AT]
    columns = [np.array(col, dtype=object) for col in zip(*rows, strict=True)]
    out = {
        c.name: coerce(pd.Series(v), c.type) for c, v in zip(spec.columns, columns, strict=False)
    }
    out[UPDATED_AT] = coerce_timestamps(pd.Series(columns[-1]))
    return pd.DataFrame(out, columns=names)


def db_columns(
    frame: pd.DataFrame, spec: contract.Table, *, only: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Columns (all of ``spec``'s or ``only``) of a canonical frame as object arrays of Python
    values, None for missing, dates as ``datetime.date``."""
    out: dict[str, np.ndarray] = {}
    for col in spec.columns:
        if only is not None and col.name not in only:
            continue
        values = frame[col.name]
        if col.type == "date":
            # .dt.date leaves NaT in place, which no driver binds
            dates = np.array(values.dt.date, dtype=object)
            dates[values.isna().to_numpy()] = None
            out[col.name] = dates
        else:
            out[col.name] = values.to_numpy(dtype=object, na_value=_MISSING)
    return out


def db_records(columns: dict[str, np.ndarray], start: int, stop: int) -> list[dict[str, Any]]:
    """Rows ``start:stop`` of :func:`db_columns` output as parameter dicts for executemany."""
    names = list(columns)
    chunks = [columns[n][start:stop].tolist() for n in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*chunks, strict=True)]


def chunk_bounds(n: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in steps of ``size``."""
    for start in range(0, n, size):
        yield start, min(start + size, n)


def equal_values(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Element-wise equality of two aligned canonical columns where missing equals missing."""
    same = (left == right).fillna(False).to_numpy(dtype=bool)
    return same | (left.isna().to_numpy() & right.isna().to_numpy())
