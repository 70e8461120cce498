"""The registry (the five canonical tables) and its as-of snapshots, which every feature reads.

Column types come from data contract v1 (``registry/contract.py``, the one definition).
Buildings and enterprises are indexed by their id; enterprises gain ``division`` (2-digit
GB/T 4754 code) and ``section`` (letter).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry.contract import TABLES
from tenantmatch.registry.errors import SchemaError
from tenantmatch.registry.reference import divisions_of, industry_divisions

logger = logging.getLogger(__name__)

_FRAME_TYPE = {"enum": "str", "list": "str"}

# table -> column -> canonical type, from the data contract (enum and list cells are strings).
SCHEMA: dict[str, dict[str, str]] = {
    table.name: {c.name: _FRAME_TYPE.get(c.type, c.type) for c in table.columns} for table in TABLES
}
# the columns a snapshot cannot do without (the contract requires more of an import)
REQUIRED: dict[str, tuple[str, ...]] = {
    "buildings": ("building_id", "theme", "total_area_m2", "vacant_area_m2"),
    "enterprises": ("enterprise_id", "industry_code", "employees"),
    "links": ("source_id", "target_id", "relation"),
    "tenancies": ("enterprise_id", "building_id", "start_date"),
    "events": ("enterprise_id", "building_id", "date", "stage"),
}
ID_COLUMN = {"buildings": "building_id", "enterprises": "enterprise_id"}
# The columns of each table that name a building / an enterprise (links: both of their ends).
BUILDING_REFERENCES: dict[str, tuple[str, ...]] = {
    "buildings": ("building_id",),
    "tenancies": ("building_id",),
    "events": ("building_id",),
}
ENTERPRISE_REFERENCES: dict[str, tuple[str, ...]] = {
    "enterprises": ("enterprise_id",),
    "links": ("source_id", "target_id"),
    "tenancies": ("enterprise_id",),
    "events": ("enterprise_id",),
}
# Attraction stages in the order a courtship advances; a decline ranks below every other stage.
STAGE_RANK: dict[str, float] = {
    "contacted": 1.0,
    "visited": 2.0,
    "negotiating": 3.0,
    "signed": 4.0,
    "declined": -1.0,
}


def division_sections(divisions: pd.Series) -> pd.Series:
    """Section letter (A..T) of 2-digit division codes; NaN for missing or unknown divisions."""
    table = industry_divisions()
    return divisions.map(dict(zip(table["division"], table["section"], strict=True))).astype("str")


def _typed(frame: pd.DataFrame, *, table: str) -> pd.DataFrame:
    """``frame`` with every schema column present (missing ones all-NA) in its canonical type."""
    out = frame.copy()
    for name, kind in SCHEMA[table].items():
        column = out[name] if name in out else pd.Series(np.nan, index=out.index)
        try:
            out[name] = _as_type(column, kind)
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                f"{table}.{name} cannot be read as {kind}: {exc}; see data contract v1"
            ) from exc
    return out


def _as_type(column: pd.Series, kind: str) -> pd.Series:
    if kind == "float":
        return pd.to_numeric(column).astype("float64")
    if kind == "int":
        return pd.to_numeric(column).astype("Int64")
    if kind == "date":
        return pd.to_datetime(column).astype("datetime64[ns]")
    return column.astype("str")


def _canonical(frame: pd.DataFrame | None, *, table: str) -> pd.DataFrame:
    if frame is None:
        frame = pd.DataFrame({name: [] for name in REQUIRED[table]})
    absent = [c for c in REQUIRED[table] if c not in frame.columns]
    if absent:
        raise SchemaError(
            f"table {table!r} lacks required column(s) {absent}; it has {list(frame.columns)}"
        )
    out = _typed(frame, table=table)
    if table in ID_COLUMN:
        out = _indexed(out, id_column=ID_COLUMN[table], table=table)
    else:
        out = out.reset_index(drop=True)
    if table == "enterprises":
        out["division"] = divisions_of(out["industry_code"])
        out["section"] = division_sections(out["division"])
    return out


def _indexed(frame: pd.DataFrame, *, id_column: str, table: str) -> pd.DataFrame:
    ids = frame[id_column]
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated or ids.isna().any():
        bad = duplicated[:5] if duplicated else ["<missing>"]
        raise SchemaError(f"{table}.{id_column} must be unique and present; bad: {bad}")
    return frame.set_index(id_column)


@dataclass(frozen=True)
class Registry:
    """The five canonical tables; buildings/enterprises indexed by id, the others by position."""

    buildings: pd.DataFrame
    enterprises: pd.DataFrame
    links: pd.DataFrame
    tenancies: pd.DataFrame
    events: pd.DataFrame

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame]) -> Registry:
        """Registry from canonical frames by table name; links/tenancies/events may be absent."""
        unknown = sorted(set(tables) - set(SCHEMA))
        if unknown:
            raise SchemaError(f"unknown table(s) {unknown}; allowed: {list(SCHEMA)}")
        for table in ID_COLUMN:
            if table not in tables:
                raise SchemaError(f"table {table!r} is required; got {sorted(tables)}")
        frames = {name: _canonical(tables.get(name), table=name) for name in SCHEMA}
        return cls(**frames)

    def patched(
        self, rows: Mapping[str, pd.DataFrame], *, buildings: frozenset[str],
        enterprises: frozenset[str],
    ) -> Registry:  # fmt: skip
        """This registry with every row that names one of ``buildings`` / ``enterprises``
        (``BUILDING_REFERENCES``, ``ENTERPRISE_REFERENCES``) replaced by ``rows`` (canonical
        frames by table: all the rows naming them now, so a row absent there was deleted).
        Other rows are shared, not copied; buildings and enterprises keep their order, new ones
        come last: what :meth:`from_tables` of the whole changed tables holds."""
        frames = {}
        for name in SCHEMA:
            old: pd.DataFrame = getattr(self, name)
            fresh = _canonical(rows.get(name), table=name)
            touched = _names(old, name, buildings=buildings, enterprises=enterprises)
            if not touched.any() and fresh.empty:
                frames[name] = old
            elif name in ID_COLUMN:
                kept = old.index[~touched | _isin(old.index, fresh.index)]
                order = kept.append(fresh.index[~_isin(fresh.index, old.index)])
                frames[name] = pd.concat([old[~touched], fresh]).reindex(order)
            else:
                frames[name] = pd.concat([old[~touched], fresh], ignore_index=True)
        return Registry(**frames)


def _names(
    frame: pd.DataFrame, table: str, *, buildings: frozenset[str], enterprises: frozenset[str]
) -> np.ndarray:
    """Rows of ``frame`` (of ``table``) that name one of the ids."""
    out = np.zeros(len(frame), dtype=bool)
    for references, ids in ((BUILDING_REFERENCES, buildings), (ENTERPRISE_REFERENCES, enterprises)):
        if not ids:
            continue
        wanted = sorted(ids)
        for column in references.get(table, ()):
            values = frame.index if column == ID_COLUMN.get(table) else frame[column]
            out |= np.asarray(values.isin(wanted), dtype=bool)
    return out


@dataclass(frozen=True)
class Snapshot:
    """The registry as it stood at the end of day ``as_of`` (see :meth:`at`).

    ``_contexts`` caches feature contexts per vocabulary (filled by ``features.matrix``).
    """

    as_of: pd.Timestamp
    buildings: pd.DataFrame
    enterprises: pd.DataFrame
    links: pd.DataFrame
    tenancies: pd.DataFrame
    events: pd.DataFrame
    _contexts: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def at(cls, registry: Registry, as_of: pd.Timestamp) -> Snapshot:
        """What was known at the end of day ``as_of``; ``as_of`` is normalised to midnight.

        - enterprises: those founded on or before ``as_of`` (or with no founding date);
        - tenancies: started on or before ``as_of``; an ``end_date`` after ``as_of`` is unknown
          then, so it becomes NaT (still open);
        - events: dated on or before ``as_of``; links: those between kept enterprises;
        - buildings: ``vacant_area_m2`` reconstructed, see :func:`vacancy_as_of`.
        Labels must therefore come from dates strictly after ``as_of``.
        """
        as_of = _as_date(as_of)
        ents = registry.enterprises
        ents = _rows(ents, ~(ents["founded"] > as_of).to_numpy())
        known = ents.index
        ten = registry.tenancies
        started = (ten["start_date"] <= as_of).to_numpy()
        ten = _rows(ten, started & _isin(ten["enterprise_id"], known))
        ten = ten.assign(end_date=ten["end_date"].where(ten["end_date"] <= as_of))
        links = registry.links
        links = _rows(links, _isin(links["source_id"], known) & _isin(links["target_id"], known))
        events = registry.events
        events = _rows(events, (events["date"] <= as_of).to_numpy()
                       & _isin(events["enterprise_id"], known))  # fmt: skip
        buildings = registry.buildings.assign(
            vacant_area_m2=vacancy_as_of(registry.buildings, registry.tenancies, as_of=as_of)
        )
        return cls(as_of, buildings, ents, links, ten, events)


def _rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``frame[keep]``, or ``frame`` itself when every row is kept: a snapshot of today shares
    the registry's columns instead of copying them (copy-on-write keeps both unchanged)."""
    return frame if keep.all() else frame[keep]


def _isin(values: pd.Series | pd.Index, ids: pd.Index) -> np.ndarray:
    """Boolean mask of ``values`` present in the unique ``ids`` (a hash lookup: ``isin`` on
    Arrow strings converts every one of ``ids`` to a Python object first)."""
    return ids.get_indexer(pd.Index(values)) >= 0


def _as_date(value: object) -> pd.Timestamp:
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if pd.isna(stamp):
        raise SchemaError(f"as_of must be a date, got {value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def vacancy_as_of(
    buildings: pd.DataFrame, tenancies: pd.DataFrame, *, as_of: pd.Timestamp
) -> pd.Series:
    """Vacant m² per building as of ``as_of``, indexed like ``buildings``.

    ``vacant_now + area(open now, not then) - area(open then, not now)``, clipped to
    ``[0, total_area_m2]``. "Now" is the registry's state (open = no ``end_date``); "then" is the
    end of day ``as_of`` (started by then, not ended by then). Tenancies without area are ignored.
    """
    ten = tenancies[tenancies["area_m2"].notna()]
    open_now = ten["end_date"].isna()
    open_then = (ten["start_date"] <= as_of) & ~(ten["end_date"] <= as_of)
    signed = ten["area_m2"].where(open_now & ~open_then, 0.0) - ten["area_m2"].where(
        open_then & ~open_now, 0.0
    )
    delta = signed.groupby(ten["building_id"]).sum()
    delta = delta.reindex(buildings.index, fill_value=0.0)
    vacant = buildings["vacant_area_m2"] + delta
    return vacant.clip(lower=0.0, upper=buildings["total_area_m2"])
