"""One write transaction: reads that see every committed write, upserts, vacancy arithmetic and
audit rows, committed together or not at all.

The transaction holds the database's single writer lock from its first statement (SQLite
``BEGIN IMMEDIATE``, PostgreSQL's advisory lock; see ``engine.write_transaction``), so what it
reads cannot change before it commits: a read-check-write inside it never loses another write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, case, delete, literal, select, update
from sqlalchemy.exc import IntegrityError

from tenantmatch.registry import contract
from tenantmatch.store import records
from tenantmatch.store.audit_chain import append_chained
from tenantmatch.store.changes import Touched
from tenantmatch.store.errors import StorageError
from tenantmatch.store.frames import canonical_frame, chunk_bounds, coerce
from tenantmatch.store.schema import DATA_TABLES
from tenantmatch.store.upsert import (
    KEY_CHUNK_ROWS,
    Lookup,
    UpsertCount,
    key_filter,
    read_frame,
    upsert_frame,
)

logger = logging.getLogger(__name__)


class WriteTransaction:
    """Reads and writes of one open write transaction (``Repository.transaction``).

    ``now`` (UTC) is the ``updated_at`` of every row it writes; ``changed`` tells the repository
    to raise ``data_version`` on commit.
    """

    def __init__(self, conn: Connection, *, now: datetime) -> None:
        self._conn = conn
        self.now = now
        self.changed = False
        self.touched = Touched()  # the change log's row for this write (store.changes)

    def get_row(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored row with natural ``key`` (as ``Repository.get_row``), locked until commit."""
        spec = table_spec(table)
        where = key_filter(DATA_TABLES[table], spec, key_frame([dict(key)], spec, exact=True))
        # FOR UPDATE on PostgreSQL (SQLite leaves it out: BEGIN IMMEDIATE locks the database).
        query = select(DATA_TABLES[table]).where(where).with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else records.data_row(row._asdict())

    def read(
        self, table: str, equal: Mapping[str, Any], *, missing: Sequence[str] = ()
    ) -> pd.DataFrame:
        """The canonical frame of the rows whose columns equal ``equal`` and whose ``missing``
        columns are empty (e.g. one enterprise's open tenancies)."""
        t = DATA_TABLES[table]
        conditions = [t.c[name] == value for name, value in equal.items()]
        conditions += [t.c[name].is_(None) for name in missing]
        return read_frame(self._conn, t, table_spec(table), where=and_(*conditions))

    def is_empty(self, table: str) -> bool:
        """Whether ``table`` holds no row (as this transaction sees it)."""
        query = select(literal(1)).select_from(DATA_TABLES[table]).limit(1)
        return self._conn.execute(query).first() is None

    def upsert(
        self, tables: Mapping[str, pd.DataFrame], *, progress: bool = False,
        lookup: Lookup = "auto",
    ) -> dict[str, UpsertCount]:  # fmt: skip
        """Write canonical frames, parents first; rows equal to the stored row are not touched
        (``lookup``: how the stored rows are found, see ``upsert_frame``)."""
        unknown = sorted(set(tables) - set(DATA_TABLES))
        if unknown:
            raise StorageError(f"unknown table(s) {unknown}; allowed: {list(DATA_TABLES)}")
        specs = [spec for spec in contract.TABLES if spec.name in tables]
        frames = {spec.name: canonical_frame(tables[spec.name], spec) for spec in specs}
        counts = {spec.name: self._upsert_one(frames[spec.name], spec, progress, lookup)
                  for spec in specs}  # fmt: skip
        for name, count in counts.items():
            if count.inserted or count.updated:
                self.changed = True
                self.touched.add_frame(name, frames[name])
        return counts

    def _upsert_one(
        self, frame: pd.DataFrame, spec: contract.Table, progress: bool, lookup: Lookup
    ) -> UpsertCount:
        table = DATA_TABLES[spec.name]
        try:
            return upsert_frame(self._conn, frame, table, spec, now=self.now, progress=progress,
                                lookup=lookup)  # fmt: skip
        except IntegrityError as exc:
            raise StorageError(
                f"table {spec.name!r} breaks a database constraint (unknown referenced id, missing "
                f"required value or duplicate key); nothing was written: {exc.orig}"
            ) from exc

    def move_vacancy(self, building_id: str, delta_m2: float) -> bool:
        """Add ``delta_m2`` to the building's vacancy in SQL: a decrease only when the vacancy
        covers it (else False, nothing changed), an increase capped at ``total_area_m2``."""
        b = DATA_TABLES["buildings"]
        moved = b.c.vacant_area_m2 + delta_m2
        query = update(b).where(b.c.building_id == building_id)
        if delta_m2 < 0:
            query = query.where(b.c.vacant_area_m2 >= -delta_m2)
        else:
            moved = case((moved > b.c.total_area_m2, b.c.total_area_m2), else_=moved)
        query = query.values(vacant_area_m2=moved, updated_at=self.now)
        done = self._conn.execute(query).rowcount == 1
        if done:
            self.changed = True
            self.touched.add_building(building_id)
        return done

    def delete(self, table: str, keys: pd.DataFrame | list[dict[str, Any]]) -> int:
        """Delete rows by natural key (extra columns ignored); returns how many of ``table``
        went. Links, tenancies and events of a deleted building or enterprise go with it."""
        spec = table_spec(table)
        frame = key_frame(keys, spec, exact=False)
        deleted = 0
        for start, stop in chunk_bounds(len(frame), KEY_CHUNK_ROWS):
            where = key_filter(DATA_TABLES[table], spec, frame.iloc[start:stop])
            deleted += self._conn.execute(delete(DATA_TABLES[table]).where(where)).rowcount
        if deleted:
            self.changed = True
            self.touched.add_frame(table, frame)
        return deleted

    def append_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Audit rows (``action`` and optional ``target``, ``key_id``, ``detail``, ``ts``),
        stored with the change: if they cannot be written, nothing of the transaction is."""
        append_chained(self._conn, entries)


def table_spec(name: str) -> contract.Table:
    """The contract table ``name``; StorageError naming the allowed ones."""
    if name not in contract.TABLES_BY_NAME:
        raise StorageError(f"unknown table {name!r}; allowed: {list(contract.TABLES_BY_NAME)}")
    return contract.TABLES_BY_NAME[name]


def key_frame(
    keys: pd.DataFrame | list[dict[str, Any]], spec: contract.Table, *, exact: bool
) -> pd.DataFrame:
    """Canonical key columns of ``keys``; with ``exact`` no other column is allowed."""
    frame = pd.DataFrame(keys) if isinstance(keys, list) else keys
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame({k: pd.Series([], dtype=object) for k in spec.key})
    names = set(frame.columns)
    if not (names == set(spec.key) if exact else names >= set(spec.key)):
        raise StorageError(
            f"key columns {sorted(names)} do not fit table {spec.name!r}; its key is "
            f"{list(spec.key)}"
        )
    try:
        return pd.DataFrame(
            {k: coerce(frame[k].reset_index(drop=True), spec.column(k).type) for k in spec.key}
        )
    except (TypeError, ValueError) as exc:
        raise StorageError(f"a key of table {spec.name!r} cannot be read: {exc}") from exc
