"""Paged, filtered lists of the registry's buildings and enterprises, and the staleness rule.

Each list is one filtered, ordered, paged SQL query plus its count (25,000 buildings or a million
enterprises are never read whole for a page); records are plain, JSON-ready values. The
canonical frames stay available, cached per ``data_version``, for callers that need them all.
"Stale" (not updated within N days) is decided here and only here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Table, and_, func, literal, or_, select, true

from tenantmatch.registry import LIST_SEPARATOR, TABLES_BY_NAME, label_zh
from tenantmatch.store.records import data_row
from tenantmatch.store.repository import Repository
from tenantmatch.store.schema import DATA_TABLES

LIST_COLUMNS = frozenset(
    c.name for t in TABLES_BY_NAME.values() for c in t.columns if c.type == "list"
)


@dataclass(frozen=True)
class BuildingFilter:
    """Filters of ``GET /v1/buildings``; None or empty means no filter."""

    q: str | None = None
    city: frozenset[str] = frozenset()
    district: frozenset[str] = frozenset()
    theme: frozenset[str] = frozenset()
    grade: frozenset[str] = frozenset()
    operator_id: str | None = None
    min_vacant_m2: float | None = None
    stale: bool | None = None


@dataclass(frozen=True)
class EnterpriseFilter:
    """Filters of ``GET /v1/enterprises``; None or empty means no filter."""

    q: str | None = None
    city: frozenset[str] = frozenset()
    district: frozenset[str] = frozenset()
    industry_division: frozenset[str] = frozenset()
    hq_type: frozenset[str] = frozenset()
    tag: frozenset[str] = frozenset()


@dataclass
class RegistryLists:
    """Cached frames of one repository, reloaded when its ``data_version`` changes."""

    repo: Repository
    _frames: dict[str, tuple[int, pd.DataFrame]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def frame(self, table: str) -> pd.DataFrame:
        """The canonical frame of ``buildings`` or ``enterprises`` as stored now."""
        version = self.repo.data_version()
        with self._lock:
            cached = self._frames.get(table)
            if cached is None or cached[0] != version:
                cached = (version, self.repo.load_table(table))
                self._frames[table] = cached
            return cached[1]

    def buildings(
        self, filters: BuildingFilter, *, offset: int, limit: int, stale_days: int, today: date
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, one page of building records by id with ``theme_zh`` and ``stale``)."""
        b = DATA_TABLES["buildings"]
        where = [_text_match(b, filters.q, ("building_id", "name"))]
        for column, wanted in (("city", filters.city), ("district", filters.district),
                               ("theme", filters.theme), ("grade", filters.grade)):  # fmt: skip
            if wanted:
                where.append(b.c[column].in_(sorted(wanted)))
        if filters.operator_id is not None:
            where.append(b.c.operator_id == filters.operator_id)
        if filters.min_vacant_m2 is not None:
            where.append(b.c.vacant_area_m2 >= filters.min_vacant_m2)
        if filters.stale is not None:
            old = b.c.updated_at < stale_cutoff(today, stale_days, dialect=self.repo.dialect)
            where.append(old if filters.stale else ~old)
        total, rows = self._page(b, and_(*where), offset=offset, limit=limit)
        return total, [
            r | {"theme_zh": label_zh(r["theme"]),
                 "stale": is_stale(r["updated_at"], today=today, stale_days=stale_days)}
            for r in rows
        ]  # fmt: skip

    def enterprises(
        self, filters: EnterpriseFilter, *, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, one page of enterprise records by id, credit fields included)."""
        e = DATA_TABLES["enterprises"]
        where = [_text_match(e, filters.q, ("enterprise_id", "name"))]
        for column, wanted in (("city", filters.city), ("district", filters.district),
                               ("hq_type", filters.hq_type)):  # fmt: skip
            if wanted:
                where.append(e.c[column].in_(sorted(wanted)))
        if filters.industry_division:
            division = func.substr(e.c.industry_code, 1, 2)
            where.append(division.in_(sorted(filters.industry_division)))
        if filters.tag:  # any of: the stored list is ";"-joined codes
            cell = literal(LIST_SEPARATOR) + e.c.tags + literal(LIST_SEPARATOR)
            codes = (f"{LIST_SEPARATOR}{t}{LIST_SEPARATOR}" for t in sorted(filters.tag))
            where.append(or_(*(cell.contains(code, autoescape=True) for code in codes)))
        return self._page(e, and_(*where), offset=offset, limit=limit)

    def _page(
        self, table: Table, where: ColumnElement[bool], *, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(rows matching ``where``, one page of them by id as plain records)."""
        key = table.c[table.primary_key.columns.keys()[0]]
        # PostgreSQL sorts text by its locale; code-point order is what SQLite and Python use
        order = key.collate("C") if self.repo.dialect == "postgresql" else key
        query = select(table).where(where).order_by(order).offset(offset).limit(limit)
        with self.repo._reading() as conn:
            total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
            rows = [plain_record(data_row(r._asdict())) for r in conn.execute(query)]
        return int(total), rows


def stale_cutoff(today: date, stale_days: int, *, dialect: str) -> datetime:
    """The first ``updated_at`` that is not stale on ``today``: midnight UTC of ``today -
    stale_days`` (stale: its UTC date more than ``stale_days`` days before ``today``). SQLite
    stores naive UTC, so it gets a naive value."""
    day = today - timedelta(days=stale_days)
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment.replace(tzinfo=None) if dialect == "sqlite" else moment


def is_stale(updated_at: datetime, *, today: date, stale_days: int) -> bool:
    """True when ``updated_at`` (aware, UTC) lies more than ``stale_days`` days before ``today``."""
    days = days_since_update(pd.Series([pd.Timestamp(updated_at)]), today=today)
    return bool(days[0] > stale_days)


def plain_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored row as JSON-ready values: list cells split into lists, NaN/NaT to None."""
    return _record(row)


def days_since_update(updated: pd.Series, *, today: date) -> np.ndarray:
    """Whole days from each ``updated_at`` (tz-aware; its UTC date) to ``today``; NaN if missing."""
    days = pd.Timestamp(today) - updated.dt.tz_convert(UTC).dt.tz_localize(None).dt.normalize()
    return days.dt.days.to_numpy(dtype=float, na_value=np.nan)


def _text_match(table: Table, q: str | None, columns: tuple[str, ...]) -> ColumnElement[bool]:
    """Case-insensitive substring match of ``q`` in any of ``columns``; every row when empty."""
    if not q:
        return true()
    return or_(*(table.c[c].icontains(q, autoescape=True) for c in columns))


def _record(row: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime() if key == "updated_at" else value.date()
        if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
            value = None
        if key in LIST_COLUMNS:
            value = [] if not value else str(value).split(LIST_SEPARATOR)
        out[str(key)] = value
    return out
