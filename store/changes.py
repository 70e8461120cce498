"""The change log: which buildings and enterprises each committed write touched.

Every write transaction that raises ``data_version`` records, in the same transaction, a
``data_changes`` row under the new version listing the ids it touched (:class:`Touched`). A
serving process whose state stands on version ``v`` asks for :func:`read_changes` since ``v`` and
re-reads only the rows of those ids (:func:`related_rows`) instead of every table; several
workers and several servers on one database learn of writes the same way. A write touching more
than :data:`MAX_LISTED_IDS` ids of a side, clearing the registry, or a gap in the log (pruned,
or written before the log existed) makes the delta ``full``: reload everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, delete, insert, or_, select

from tenantmatch.registry import BUILDING_REFERENCES, ENTERPRISE_REFERENCES, contract
from tenantmatch.store.frames import empty_frame
from tenantmatch.store.schema import DATA_TABLES, data_changes
from tenantmatch.store.upsert import read_frame

MAX_LISTED_IDS = 2_000  # ids of one side a change lists; more: the change is "full"
# ids of one side a delta re-reads (several changes together); more: reload everything (and an
# IN list of both sides stays below SQLite's 32,766 bound parameters)
MAX_DELTA_IDS = 10_000
KEEP_CHANGES = 10_000  # change rows kept; a state older than them reloads everything


@dataclass
class Touched:
    """The ids one write transaction touched; ``full`` when too many to list."""

    buildings: set[str] = field(default_factory=set)
    enterprises: set[str] = field(default_factory=set)
    full: bool = False

    def add_frame(self, table: str, frame: pd.DataFrame) -> None:
        """The building and enterprise ids of ``frame``'s rows of ``table`` (any columns
        naming them that it has)."""
        for columns, ids in ((BUILDING_REFERENCES, self.buildings),
                             (ENTERPRISE_REFERENCES, self.enterprises)):  # fmt: skip
            for column in columns.get(table, ()):
                if column in frame.columns and not self.full:
                    self._add(ids, frame[column].dropna().astype(str).unique())

    def add_building(self, building_id: str) -> None:
        self._add(self.buildings, [building_id])

    def _add(self, ids: set[str], new: Iterable[str]) -> None:
        if self.full:
            return
        ids.update(new)
        if len(ids) > MAX_LISTED_IDS:
            self.mark_full()

    def mark_full(self) -> None:
        """Too much changed to list: readers reload everything."""
        self.full = True
        self.buildings.clear()
        self.enterprises.clear()


@dataclass(frozen=True)
class DataDelta:
    """What changed after version ``since`` up to ``until`` (the newest change read): the ids
    to re-read, or ``full`` (reload every table)."""

    since: int
    until: int
    buildings: frozenset[str]
    enterprises: frozenset[str]
    full: bool

    @property
    def empty(self) -> bool:
        return not self.full and not self.buildings and not self.enterprises


def record_change(conn: Connection, version: int, touched: Touched, *, now: datetime) -> None:
    """The change row of the write committing as ``version``; prunes the oldest rows."""
    conn.execute(insert(data_changes).values(
        version=version, committed_at=now, full=int(touched.full),
        building_ids=json.dumps(sorted(touched.buildings), ensure_ascii=False),
        enterprise_ids=json.dumps(sorted(touched.enterprises), ensure_ascii=False),
    ))  # fmt: skip
    if version % 1_000 == 0:  # pruning now and then keeps each write cheap
        conn.execute(delete(data_changes).where(data_changes.c.version <= version - KEEP_CHANGES))


def read_changes(conn: Connection, since: int, current: int) -> DataDelta:
    """The delta from version ``since`` to ``current`` (read before: rows of later writes may
    be included, which only re-reads a few rows more); ``full`` if the log misses a version."""
    rows = conn.execute(
        select(data_changes).where(data_changes.c.version > since).order_by(data_changes.c.version)
    ).all()
    versions = [int(r.version) for r in rows]
    until = max([current, *versions])
    consecutive = versions == list(range(since + 1, since + 1 + len(versions)))
    if (
        not consecutive
        or until > (versions[-1] if versions else since)
        or any(r.full for r in rows)
    ):
        return DataDelta(since, until, frozenset(), frozenset(), full=True)
    buildings = {i for r in rows for i in json.loads(r.building_ids)}
    enterprises = {i for r in rows for i in json.loads(r.enterprise_ids)}
    if max(len(buildings), len(enterprises)) > MAX_DELTA_IDS:
        return DataDelta(since, until, frozenset(), frozenset(), full=True)
    return DataDelta(since, until, frozenset(buildings), frozenset(enterprises), full=False)


def related_rows(
    conn: Connection, buildings: Iterable[str], enterprises: Iterable[str]
) -> dict[str, pd.DataFrame]:
    """Canonical frames of every row of the five tables that names one of the ids (the rows
    :meth:`registry.Registry.patched` replaces)."""
    b_ids, e_ids = sorted(buildings), sorted(enterprises)
    out = {}
    for spec in contract.TABLES:
        table = DATA_TABLES[spec.name]
        conditions = [
            table.c[c].in_(b_ids) for c in BUILDING_REFERENCES.get(spec.name, ()) if b_ids
        ]
        conditions += [table.c[c].in_(e_ids) for c in ENTERPRISE_REFERENCES.get(spec.name, ())
                       if e_ids]  # fmt: skip
        out[spec.name] = (read_frame(conn, table, spec, where=or_(*conditions)) if conditions
                          else empty_frame(spec))  # fmt: skip
    return out
