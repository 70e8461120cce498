"""Paged, filtered lists of the registry's buildings and enterprises, and the staleness rule.

Filters the repository's canonical frames (cached per ``data_version``) and returns plain,
JSON-ready records. "Stale" (not updated within N days) is decided here and only here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry import LIST_SEPARATOR, TABLES_BY_NAME, label_zh
from tenantmatch.store.repository import Repository

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
        """(total matching, one page of building records with ``theme_zh`` and ``stale``)."""
        b = self.frame("buildings")
        stale = days_since_update(b["updated_at"], today=today) > stale_days
        keep = _text_match(b, filters.q, ("building_id", "name")) & _isin(b, "city", filters.city)
        keep &= _isin(b, "district", filters.district) & _isin(b, "theme", filters.theme)
        if filters.operator_id is not None:
            keep &= b["operator_id"].eq(filters.operator_id).fillna(False).to_numpy(bool)
        if filters.min_vacant_m2 is not None:
            keep &= (b["vacant_area_m2"] >= filters.min_vacant_m2).to_numpy(bool)
        if filters.stale is not None:
            keep &= stale == filters.stale
        page = b[keep].assign(stale=stale[keep]).sort_values("building_id")
        rows = [_record(r) for r in page.iloc[offset : offset + limit].to_dict("records")]
        return int(keep.sum()), [r | {"theme_zh": label_zh(r["theme"])} for r in rows]

    def enterprises(
        self, filters: EnterpriseFilter, *, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, one page of enterprise records, credit fields included)."""
        e = self.frame("enterprises")
        keep = _text_match(e, filters.q, ("enterprise_id", "name"))
        keep &= _isin(e, "city", filters.city) & _isin(e, "district", filters.district)
        keep &= _isin(e, "hq_type", filters.hq_type)
        if filters.industry_division:
            division = e["industry_code"].str.slice(0, 2)
            keep &= division.isin(filters.industry_division).to_numpy(bool)
        if filters.tag:
            tags = e["tags"].fillna("").str.split(LIST_SEPARATOR)
            keep &= tags.map(lambda ts: bool(filters.tag.intersection(ts))).to_numpy(bool)
        page = e[keep].sort_values("enterprise_id").iloc[offset : offset + limit]
        return int(keep.sum()), [_record(r) for r in page.to_dict("records")]


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


def _isin(frame: pd.DataFrame, column: str, wanted: frozenset[str]) -> np.ndarray:
    if not wanted:
        return np.ones(len(frame), dtype=bool)
    return frame[column].isin(wanted).to_numpy(bool)


def _text_match(frame: pd.DataFrame, q: str | None, columns: tuple[str, ...]) -> np.ndarray:
    """Case-insensitive substring match of ``q`` in any of ``columns``; all rows when empty."""
    keep = np.zeros(len(frame), dtype=bool)
    if not q:
        return ~keep
    for column in columns:
        hit = frame[column].str.contains(q, case=False, regex=False, na=False)
        keep |= hit.to_numpy(bool)
    return keep


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
