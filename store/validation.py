"""Validation of raw text tables against data contract v1 (``registry.contract``).

Input: a frame of ``str`` cells (``""`` = missing) as ``store.readers`` produces. Output: the
canonical frame of the valid rows (types as the ``registry.contract`` docstring defines) and one
``RowError`` per bad cell. All checks are vectorised; Python loops only format the error list.
"""

from __future__ import annotations

import logging
import operator
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from tenantmatch.registry import (
    EXCEL_MANGLED_ID,
    EXCEL_MANGLED_REASON,
    FIRST_YEAR,
    ID_PATTERN,
    LAST_YEAR,
    LIST_SEPARATOR,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    TABLES_BY_NAME,
    TEXT_PATTERN,
    Column,
    InputError,
    RowError,
    Table,
    is_id_column,
)
from tenantmatch.store.ledger import KeyLedger, key_and_content_hashes, row_hashes
from tenantmatch.store.messages import row_error

logger = logging.getLogger(__name__)

KnownIds = Mapping[str, Collection[str]]
"""Ids per referenced table (``"buildings"``, ``"enterprises"``) that may be referenced."""

# "column op other" must hold when both cells are present; a violation is reported on ``column``.
CROSS_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("buildings", "vacant_area_m2", "<=", "total_area_m2"),
    ("buildings", "min_unit_m2", "<=", "total_area_m2"),
    ("tenancies", "end_date", ">=", "start_date"),
    ("links", "target_id", "!=", "source_id"),
)
_OPS: dict[str, Callable[[pd.Series, pd.Series], pd.Series]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne,
}  # fmt: skip
_OP_TEXT = {"<=": "must be <= {}", ">=": "must be on or after {}", "!=": "must differ from {}"}
YEAR_DATES: frozenset[tuple[str, str]] = frozenset({("enterprises", "founded")})
INDUSTRY_CODES: frozenset[tuple[str, str]] = frozenset({("enterprises", "industry_code")})

# [0-9] rather than \d, which also matches non-ASCII digits.
_MD = "[0-9]{1,2}"
_DATE_SHAPE = f"[0-9]{{4}}(?:-{_MD}-{_MD}|/{_MD}/{_MD}|年{_MD}月{_MD}日)"
_DATE_PARTS = r"^([0-9]{4})(?:\D([0-9]{1,2})\D([0-9]{1,2}))?"
_NOT_A_DATE = "not a date: expected YYYY-MM-DD, YYYY/MM/DD or YYYY年MM月DD日"
ID_CHARS_REASON = "an id may not contain spaces, control characters or '/'"
TEXT_CHARS_REASON = "may not contain control characters"
_NOT_FINITE = "must be a finite number (NaN and infinity are not allowed)"
_INDUSTRY_TEXT = "must be a GB/T 4754-2017 code: 2 to 4 digits, optionally after the section letter"


@dataclass
class TableResult:
    """One validated table: ``frame`` holds the canonical valid rows (index = file row number),
    ``rejected_rows`` the file rows of rejected records, ``errors`` one entry per bad cell."""

    name: str
    file: str
    frame: pd.DataFrame
    errors: list[RowError]
    rows_read: int
    rejected_rows: np.ndarray
    merged: int = 0  # rows identical in every column to an earlier valid row: kept once


@dataclass
class ValidationResult:
    """A validated dataset: canonical frames of the valid rows per table and the bad cells."""

    tables: dict[str, pd.DataFrame]
    errors: list[RowError]
    files: dict[str, str] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)


class _Errors:
    """Collects vectorised checks (row mask, column, value, reason); formats them at the end."""

    def __init__(self, file: str, rows: np.ndarray) -> None:
        self.file, self.rows = file, rows
        self.parts: list[pd.DataFrame] = []
        self.header: list[RowError] = []

    def add(self, mask: object, column: str, values: object, reason: object) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(idx) == 0:
            return
        pick = lambda x: x if isinstance(x, str) else np.asarray(x, dtype=object)[idx]  # noqa: E731
        part = {"pos": idx, "column": column, "value": pick(values), "reason": pick(reason)}
        self.parts.append(pd.DataFrame(part))

    def bad_in(self, columns: Collection[str]) -> np.ndarray:
        """Positions of rows with an error in one of ``columns`` so far."""
        found = [p["pos"].to_numpy() for p in self.parts if p["column"].iat[0] in columns]
        return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)

    def bad_positions(self) -> np.ndarray:
        if not self.parts:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([p["pos"].to_numpy() for p in self.parts]))

    def to_list(self, order: Mapping[str, int]) -> list[RowError]:
        if not self.parts:
            return list(self.header)
        found = pd.concat(self.parts, ignore_index=True)
        found["row"] = self.rows[found["pos"].to_numpy()]
        found["rank"] = found["column"].map(order)
        found = found.sort_values(["row", "rank"], kind="stable")
        cells = zip(found["row"], found["column"], found["value"], found["reason"], strict=True)
        return self.header + [row_error(self.file, int(r), c, str(v), w) for r, c, v, w in cells]


def validate_table(
    name: str,
    raw: pd.DataFrame,
    *,
    file: str,
    rows: np.ndarray | None = None,
    known_ids: KnownIds | None = None,
    rejected_ids: KnownIds | None = None,
    divisions: pd.DataFrame | None = None,
    ledger: KeyLedger | None = None,
) -> TableResult:
    """Validate one table of text cells (``""`` = missing) against the contract.

    ``rows``: file row of each record (default 2, 3, ...). With ``known_ids`` referenced ids must
    be in it (``rejected_ids`` only sharpen the reason); ``divisions`` default to GB/T 4754-2017.
    ``ledger``: the keys of the table's earlier chunks, when ``raw`` is one chunk of it (the
    uniqueness rules then span the chunks; the ledger learns this chunk's keys).
    """
    table = _table(name)
    raw = _canonical_header(table, _as_text(raw))
    rows = np.arange(2, len(raw) + 2, dtype=np.int64) if rows is None else np.asarray(rows)
    errors = _Errors(file, rows)
    merged = np.zeros(len(raw), dtype=bool)
    if _check_header(table, raw, errors):
        canon, bad = empty_frame(table, index=raw.index), np.arange(len(raw))
    else:
        canon = _parse_columns(table, raw, errors, divisions)
        _check_cross(table, raw, canon, errors)
        merged = _check_unique(table, raw, canon, errors, ledger or KeyLedger())
        if known_ids is not None:
            _check_references(table, raw, errors, known=known_ids, rejected=rejected_ids or {})
        bad = errors.bad_positions()
    rejected = np.zeros(len(raw), dtype=bool)
    rejected[bad] = True
    merged &= ~rejected
    good = ~rejected & ~merged
    frame = canon.loc[good].set_axis(pd.Index(rows[good], name="row"))
    order = {c: i for i, c in enumerate(table.column_names)}
    return TableResult(table.name, file, frame, errors.to_list(order), len(raw), rows[rejected],
                       merged=int(merged.sum()))  # fmt: skip


def _check_references(
    table: Table, raw: pd.DataFrame, errors: _Errors, *, known: KnownIds, rejected: KnownIds
) -> None:
    """Ids naming a building or enterprise must be in ``known``; ``rejected`` sharpen the reason."""
    for col in table.columns:
        if col.references is None:
            continue
        target = col.references.split(".")[0]
        text = raw[col.name]
        unknown = (text != "").to_numpy() & ~among(text, known.get(target, ()))
        was_rejected = among(text, rejected.get(target, ()))
        reason = np.where(
            was_rejected,
            f"refers to a row of {target} that was rejected",
            f"unknown id: not in {target} of this dataset nor in the database",
        )
        errors.add(unknown, col.name, text, reason)


def among(text: pd.Series, ids: Collection[str]) -> np.ndarray:
    """Boolean per cell of ``text``: is it one of ``ids`` (unique; a ``pd.Index`` of them is
    used as it is). A hash lookup: ``isin`` on Arrow strings turns every one of ``ids`` into a
    Python object on each call, 20 s against a million stored enterprise ids."""
    index = ids if isinstance(ids, pd.Index) else pd.Index(list(ids), dtype=object)
    if not len(index):
        return np.zeros(len(text), dtype=bool)
    return index.get_indexer(pd.Index(text.to_numpy(dtype=object))) >= 0


def _table(name: str) -> Table:
    if name not in TABLES_BY_NAME:
        raise InputError(f"unknown table {name!r}; allowed: {', '.join(TABLES_BY_NAME)}")
    return TABLES_BY_NAME[name]


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    # Callers may hand in typed frames (e.g. an uploaded Parquet): normalise to stripped text.
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if not len(raw.columns):
        return raw
    return raw.apply(lambda s: s.astype("str").fillna("").str.strip())


def _canonical_header(table: Table, raw: pd.DataFrame) -> pd.DataFrame:
    """Chinese headers (each column's ``label_zh`` in the contract) renamed to the column names;
    a header naming one column twice (in English and Chinese) stays a duplicate."""
    aliases = table.header_aliases
    renamed = [aliases.get(c, c) for c in raw.columns]
    if renamed == list(raw.columns):
        return raw
    changed = [f"{a}->{b}" for a, b in zip(raw.columns, renamed, strict=True) if a != b]
    logger.info("%s: Chinese headers read as %s", table.name, ", ".join(changed))
    return raw.set_axis(renamed, axis=1)


def _with_aliases(col: Column, text: pd.Series) -> pd.Series:
    """Cells that are a code's Chinese label (``金融服务型``) become the code (``finance``)."""
    aliases = col.value_aliases
    if not aliases or not len(text):
        return text
    return text.map(aliases).fillna(text).astype(text.dtype)


def empty_frame(table: Table | str, *, index: pd.Index | None = None) -> pd.DataFrame:
    """A canonical frame of ``table`` with every cell missing (zero rows unless ``index``)."""
    table = _table(table) if isinstance(table, str) else table
    index = pd.RangeIndex(0) if index is None else index
    return pd.DataFrame({c.name: _missing(c, index) for c in table.columns}, index=index)


def _missing(col: Column, index: pd.Index) -> pd.Series:
    if col.type == "float":
        return pd.Series(np.nan, index=index, dtype="float64")
    if col.type == "int":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if col.type == "date":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    return pd.Series([None] * len(index), index=index, dtype=object)


def _check_header(table: Table, raw: pd.DataFrame, errors: _Errors) -> bool:
    """Header problems (duplicate or missing required columns) reject every row; True if any."""
    header = list(raw.columns)
    found = ", ".join(dict.fromkeys(header)) or "none"
    problems = [
        (h, f"column {h!r} appears more than once in the header")
        for h in dict.fromkeys(h for i, h in enumerate(header) if h in header[:i])
    ] + [
        (c.name, f"required column {c.name!r} is missing; columns found: {found}")
        for c in table.columns
        if c.required and c.name not in header
    ]
    unknown = [h for h in dict.fromkeys(header) if h not in table.column_names]
    if unknown:
        logger.info("%s: ignoring unknown column(s) %s", errors.file, ", ".join(unknown))
    errors.header += [row_error(errors.file, 1, c, "", why) for c, why in problems]
    return bool(problems)


def _parse_columns(
    table: Table, raw: pd.DataFrame, errors: _Errors, divisions: pd.DataFrame | None
) -> pd.DataFrame:
    """Parse every contract column to its canonical type; absent optional columns are missing."""
    canon = empty_frame(table, index=raw.index)
    for col in table.columns:
        if col.name not in raw.columns:
            continue
        text = raw[col.name]
        present = text != ""
        if col.required:
            errors.add(~present, col.name, text, "required: the cell is empty")
        canon[col.name] = _parse_column(table, col, text, present, errors, divisions)
    return canon


def _parse_column(
    table: Table, col: Column, text: pd.Series, present: pd.Series, errors: _Errors,
    divisions: pd.DataFrame | None,
) -> pd.Series:  # fmt: skip
    if (table.name, col.name) in INDUSTRY_CODES:
        return _per_distinct(partial(_parse_industry, col, divisions=divisions), text, errors, col)
    if col.type in ("float", "int"):
        return _parse_number(col, text, present, errors)
    if col.type == "date":
        year_ok = (table.name, col.name) in YEAR_DATES
        return _per_distinct(partial(_parse_date, col, year_ok=year_ok), text, errors, col)
    if col.type == "list":
        return _per_distinct(partial(_parse_list, col), text, errors, col)
    if col.type == "enum":
        codes = _with_aliases(col, text)
        bad = present & ~codes.isin(col.allowed)
        errors.add(bad, col.name, text, f"must be one of: {', '.join(col.allowed)}")
        return codes.astype(object).where(present, None)
    _check_text(col, text, present, errors)
    return text.astype(object).where(present, None)


def _check_text(col: Column, text: pd.Series, present: pd.Series, errors: _Errors) -> None:
    """The API's bounds on ids and short texts (registry.contract: one definition for both)."""
    is_id = is_id_column(col.name)
    limit = MAX_ID_CHARS if is_id else MAX_TEXT_CHARS
    too_long = present & (text.str.len() > limit)
    shown = text.where(~too_long, text.str.slice(0, 40) + "…")  # the report never echoes 100k
    errors.add(too_long, col.name, shown, f"longer than {limit} characters")
    pattern = ID_PATTERN if is_id else TEXT_PATTERN
    bad = present & ~too_long & ~text.str.fullmatch(pattern[1:-1]).fillna(False).astype(bool)
    reason = ID_CHARS_REASON if is_id else TEXT_CHARS_REASON
    errors.add(bad, col.name, text, reason)
    if is_id:
        looks = text.str.strip().str.fullmatch(EXCEL_MANGLED_ID.pattern)
        mangled = present & ~too_long & ~bad & looks.fillna(False).astype(bool)
        errors.add(mangled, col.name, text, EXCEL_MANGLED_REASON)


def _per_distinct(
    parse: Callable[[pd.Series, pd.Series, _Errors], pd.Series], text: pd.Series,
    errors: _Errors, col: Column,
) -> pd.Series:  # fmt: skip
    """Run ``parse(text, present, errors)`` once per distinct cell, then broadcast values and the
    first reason back to every row: dates, codes and lists repeat heavily in large files."""
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="str")
    local = _Errors(errors.file, np.arange(len(distinct)))
    values = parse(distinct, distinct != "", local)
    reasons = np.full(len(distinct), "", dtype=object)
    for part in reversed(local.parts):  # the first check that fails names the reason
        reasons[part["pos"].to_numpy()] = part["reason"].to_numpy()
    row_reasons = reasons[codes]
    errors.add(row_reasons != "", col.name, text, row_reasons)
    return values.iloc[codes].set_axis(text.index)


def _parse_number(col: Column, text: pd.Series, present: pd.Series, errors: _Errors) -> pd.Series:
    """Decimal text to float64 (``int`` columns: ``Int64``); NaN and infinity are rejected.
    Cells that are no plain decimal may have thousands separators and one of the column's unit
    suffixes (:func:`_written_number`)."""
    number = pd.to_numeric(text.where(present), errors="coerce").astype("float64")
    nan_text = text.str.lower().str.lstrip("+-").eq("nan")
    unparsed = present & number.isna() & ~nan_text
    if unparsed.any():
        number = number.where(~unparsed, _written_number(col, text[unparsed]))
        unparsed = unparsed & number.isna()
    errors.add(unparsed, col.name, text, _not_a_number(col))
    finite = np.isfinite(number)
    errors.add(present & ~unparsed & ~finite, col.name, text, _NOT_FINITE)
    if col.type == "int":
        whole = finite & (number % 1 == 0) & (number.abs() < 2**53)
        errors.add(finite & ~whole, col.name, text, "must be a whole number")
        finite = whole
    _check_bounds(col, text, number.where(finite), errors)
    number = number.where(finite)
    return number.astype("Int64") if col.type == "int" else number


_CHINESE_SEPARATORS = "[；、]"  # accepted between list items besides ";"
_THOUSANDS = r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?"


def _written_number(col: Column, text: pd.Series) -> pd.Series:
    """float64 of cells written as people do: NFKC-normalised, one of ``col.units`` stripped
    from the end (and its divisor applied), thousands separators ``15,180`` removed; NaN when
    still no decimal. Vectorised per suffix."""
    cells = text.str.normalize("NFKC").str.lower().str.strip()
    divisor = pd.Series(1.0, index=text.index)
    done = pd.Series(False, index=text.index)
    for suffix, by in _normalised_units(col):
        has = ~done & cells.str.endswith(suffix) & (cells.str.len() > len(suffix))
        cells = cells.where(~has, cells.str[: -len(suffix)].str.rstrip())
        divisor, done = divisor.where(~has, by), done | has
    grouped = cells.str.fullmatch(_THOUSANDS)
    cells = cells.where(~grouped, cells.str.replace(",", "", regex=False))
    plain = cells.str.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?")
    number = pd.to_numeric(cells.where(plain), errors="coerce").astype("float64")
    return number / divisor


def _normalised_units(col: Column) -> list[tuple[str, float]]:
    """The column's unit suffixes as cells are compared (NFKC, lower case), longest first."""
    units = {unicodedata.normalize("NFKC", s).lower(): by for s, by in col.units}
    return sorted(units.items(), key=lambda u: -len(u[0]))


def _not_a_number(col: Column) -> str:
    reason = "not a number: expected a decimal such as 1200.5"
    if col.units:
        reason += f" (units allowed: {', '.join(dict.fromkeys(s for s, _ in col.units))})"
    return reason


def _check_bounds(col: Column, text: pd.Series, number: pd.Series, errors: _Errors) -> None:
    out = pd.Series(False, index=number.index)
    if col.min is not None:
        out = out | (number <= col.min if col.min_exclusive else number < col.min)
    if col.max is not None:
        out = out | (number > col.max)
    errors.add(out, col.name, text, _bounds_text(col))


def _bounds_text(col: Column) -> str:
    parts = []
    if col.min is not None:
        parts.append(f"{'>' if col.min_exclusive else '>='} {col.min:g}")
    if col.max is not None:
        parts.append(f"<= {col.max:g}")
    text = f"must be {' and '.join(parts)}"
    return f"{text} (inside China)" if col.name in ("lat", "lon") else text


def _parse_date(
    col: Column, text: pd.Series, present: pd.Series, errors: _Errors, *, year_ok: bool
) -> pd.Series:
    """Date text to ``datetime64[ns]`` at midnight; impossible dates (2023-02-30) are rejected."""
    shaped = text.str.fullmatch(_DATE_SHAPE)
    year_only = text.str.fullmatch("[0-9]{4}") & year_ok
    not_a_date = _NOT_A_DATE + (" or a year YYYY" if year_ok else "")
    errors.add(present & ~shaped & ~year_only, col.name, text, not_a_date)
    parts = text.where(shaped | year_only).str.extract(_DATE_PARTS)
    ymd = parts.apply(pd.to_numeric).set_axis(["year", "month", "day"], axis=1)
    ymd = ymd.fillna({"month": 1, "day": 1}).where(ymd["year"].notna())
    in_range = ymd["year"].between(FIRST_YEAR, LAST_YEAR)
    out_of_range = f"year must be between {FIRST_YEAR} and {LAST_YEAR}"
    errors.add(ymd["year"].notna() & ~in_range, col.name, text, out_of_range)
    dates = pd.to_datetime(ymd.where(in_range), errors="coerce").astype("datetime64[ns]")
    errors.add(in_range & dates.isna(), col.name, text, "date " + text + " does not exist")
    return dates


def _parse_list(col: Column, text: pd.Series, present: pd.Series, errors: _Errors) -> pd.Series:
    """``;``-separated items (trimmed; ``；`` and ``、`` separate too) from ``allowed`` or their
    Chinese labels to sorted, de-duplicated ``a;b`` codes."""
    cells = text[present].str.replace(_CHINESE_SEPARATORS, LIST_SEPARATOR, regex=True)
    items = _with_aliases(col, cells.str.split(LIST_SEPARATOR).explode().str.strip())
    items = items[items != ""]
    bad = items[~items.isin(col.allowed)]
    first_bad = bad[~bad.index.duplicated()]
    reason = pd.Series("", index=text.index, dtype=object)
    allowed = ", ".join(col.allowed)
    reason.loc[first_bad.index] = ("item '" + first_bad + f"' must be one of: {allowed}").to_numpy()
    errors.add(text.index.isin(first_bad.index), col.name, text, reason)
    # Build the canonical text one allowed code at a time (a handful), not one row at a time.
    out = pd.Series("", index=text.index, dtype=object)
    for code in sorted(col.allowed):
        has = text.index.isin(items.index[items.to_numpy() == code])
        out = out.where(~has, out + LIST_SEPARATOR + code)
    return out.str.removeprefix(LIST_SEPARATOR).where(out != "", None).astype(object)


def _parse_industry(
    col: Column, text: pd.Series, present: pd.Series, errors: _Errors, *,
    divisions: pd.DataFrame | None,
) -> pd.Series:  # fmt: skip
    """GB/T 4754-2017 code (``66``, ``6621``, ``J66``) to its digits; the division must exist and
    a section letter must be that division's section."""
    parts = text.str.normalize("NFKC").str.upper().str.extract(r"^([A-T]?)([0-9]{2,4})$")
    shaped = parts[1].notna()
    errors.add(present & ~shaped, col.name, text, f"{_INDUSTRY_TEXT}, e.g. 66, 6621 or J66")
    sections = _division_sections(divisions)
    division = parts[1].str[:2]
    section = division.map(sections)
    unknown = "division " + division + " does not exist in GB/T 4754-2017"
    errors.add(shaped & section.isna(), col.name, text, unknown)
    mismatch = shaped & section.notna() & (parts[0] != "") & (parts[0] != section)
    wrong = "section " + parts[0] + " does not contain division " + division
    errors.add(mismatch, col.name, text, wrong + " (it belongs to section " + section + ")")
    return parts[1].astype(object).where(shaped, None)


def _division_sections(divisions: pd.DataFrame | None) -> pd.Series:
    """Section letter per 2-digit division code (index ``"01"`` ... ``"97"``)."""
    if divisions is None:
        from tenantmatch.registry import industry_divisions

        divisions = industry_divisions()
    codes = divisions["division"].astype(str).str.strip().str.zfill(2)
    return pd.Series(
        divisions["section"].astype(str).str.strip().str.upper().to_numpy(), index=codes.to_numpy()
    )


def _check_cross(table: Table, raw: pd.DataFrame, canon: pd.DataFrame, errors: _Errors) -> None:
    for name, column, op, other in CROSS_RULES:
        if name != table.name or column not in raw.columns or other not in raw.columns:
            continue
        left, right = canon[column], canon[other]
        # A rule between two cells only speaks when each cell is valid on its own.
        both = left.notna() & right.notna() & ~raw.index.isin(errors.bad_in((column, other)))
        broken = both & ~_OPS[op](left.where(both), right.where(both)).fillna(True).astype(bool)
        shown = raw[other].where(broken, "")
        reason = _OP_TEXT[op].format(other) + " (" + shown + ")"
        errors.add(broken, column, raw[column], reason)


def _check_unique(
    table: Table, raw: pd.DataFrame, canon: pd.DataFrame, errors: _Errors, ledger: KeyLedger
) -> np.ndarray:
    """Unique id columns, then the natural key of tables without one: later duplicates are bad
    (the table's earlier chunks, which ``ledger`` remembers, count as earlier), except that a
    row identical in every (canonical) column to the first row of its key is merged into it
    (real registries repeat themselves; a copy of a bad row is as bad as the row, and the
    caller rejects it). Returns the mask of merged rows."""
    rows = errors.rows
    for col in table.columns:
        if col.unique and col.name in raw.columns:
            text = raw[col.name]
            at = np.flatnonzero((text != "").to_numpy())
            keys = row_hashes(text.iloc[at])
            firsts = ledger.firsts(col.name, keys, keys, rows[at])
            errors.add(_spread(~firsts.is_first, at, len(raw)), col.name, text,
                       _spread_text(f"duplicate {col.name}: first seen on row ", firsts.row, at,
                                    len(raw)))  # fmt: skip
    merged = np.zeros(len(raw), dtype=bool)
    if any(c.unique for c in table.columns) or not table.key:
        return merged
    at = np.flatnonzero(canon[list(table.key)].notna().all(axis=1).to_numpy())
    keys, content = key_and_content_hashes(canon.iloc[at], key=list(table.key))
    firsts = ledger.firsts("key", keys, content, rows[at])
    same = (content == firsts.content).all(axis=1)
    merged[at] = same & ~firsts.is_first
    shown = ", ".join(table.key)
    reason = _spread_text(f"duplicate row: same {shown} as row ", firsts.row, at, len(raw))
    errors.add(_spread(~same, at, len(raw)), table.key[0], raw[table.key[0]],
               reason + " but other values")  # fmt: skip
    return merged


def _spread(values: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """A boolean per row of ``n``: ``values`` at the positions ``at``, False elsewhere."""
    out = np.zeros(n, dtype=bool)
    out[at] = values
    return out


def _spread_text(prefix: str, rows: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """``prefix`` + the file row, per position ``at`` of ``n`` rows (empty text elsewhere)."""
    out = np.full(n, "", dtype=object)
    out[at] = [f"{prefix}{row}" for row in rows.tolist()]
    return out
