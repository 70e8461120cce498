"""The registry's statistics (``GET /v1/stats``), aggregated in SQL: occupancy by city, district
and theme, the industry mix of current tenants, moves per month, stale records and the
attraction funnel. Every query is one GROUP BY over indexed tables; nothing loops over rows in
Python, so the cost grows with the database's work, not with 25,000 buildings' worth of dicts.

"Current" means open at the end of ``as_of`` (``store.history.open_on``); "stale" is the
listing's rule (no update for more than ``stale_days`` days, ``store.listing``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Text,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    true,
    union_all,
)

from tenantmatch.registry import Stage, industry_divisions, label_zh
from tenantmatch.store.history import month_ends, open_on
from tenantmatch.store.listing import stale_cutoff
from tenantmatch.store.repository import Repository
from tenantmatch.store.schema import DATA_TABLES

_B = DATA_TABLES["buildings"]
_E = DATA_TABLES["enterprises"]
_T = DATA_TABLES["tenancies"]
_V = DATA_TABLES["events"]

MOVE_MONTHS = 24
GROUPS: tuple[tuple[str, ...], ...] = ((), ("city",), ("city", "district"), ("theme",))
FUNNEL_LEVELS: tuple[tuple[str, ...], ...] = ((), ("city",), ("operator_id",))
FUNNEL: tuple[Stage, ...] = (Stage.CONTACTED, Stage.VISITED, Stage.NEGOTIATING, Stage.SIGNED)
TAX_NOTE_ZH = "台账尚无企业纳税数据，无法统计亿元楼"


@dataclass(frozen=True)
class StatsFilter:
    """Which buildings the statistics cover; empty means all."""

    city: frozenset[str] = frozenset()
    district: frozenset[str] = frozenset()
    theme: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.city or self.district or self.theme)

    def where(self) -> ColumnElement[bool]:
        """The buildings' condition in SQL."""
        parts = [
            column.in_(sorted(values))
            for column, values in (
                (_B.c.city, self.city),
                (_B.c.district, self.district),
                (_B.c.theme, self.theme),
            )
            if values
        ]
        return and_(true(), *parts)

    def tenancies(self) -> FromClause:
        """The tenancies table, joined to buildings only when a filter needs their columns
        (the join costs a lookup per tenancy)."""
        if self.empty:
            return _T
        return _T.join(_B, _B.c.building_id == _T.c.building_id)

    def as_dict(self) -> dict[str, list[str]]:
        return {"city": sorted(self.city), "district": sorted(self.district),
                "theme": sorted(self.theme)}  # fmt: skip


class RegistryStats:
    """The statistics of one repository, kept for the ``maxsize`` most recent (filters, day,
    stale_days) of the current ``data_version``: a dashboard's repeated loads cost one read of
    the version; any write to the registry makes the next load compute afresh."""

    def __init__(self, repo: Repository, *, maxsize: int = 32) -> None:
        self.repo = repo
        self.maxsize = maxsize
        self._answers: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, filters: StatsFilter, *, as_of: date, stale_days: int) -> dict[str, Any]:
        """:func:`registry_stats`, from the cache while the data have not changed."""
        key = (self.repo.data_version(), filters, as_of, stale_days)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = registry_stats(self.repo, filters, as_of=as_of, stale_days=stale_days)
        with self._lock:
            if any(k[0] != key[0] for k in self._answers):  # another version's: never again
                self._answers.clear()
            self._answers[key] = answer
            while len(self._answers) > self.maxsize:
                self._answers.popitem(last=False)
        return answer


def registry_stats(
    repo: Repository, filters: StatsFilter, *, as_of: date, stale_days: int
) -> dict[str, Any]:
    """The whole ``GET /v1/stats`` answer (see ``api.schemas.StatsOut``) from one read."""
    with repo._reading() as conn:
        tenants = tenant_counts(conn, filters, as_of=as_of)
        groups = {
            name: occupancy(conn, filters, by=by, tenants=tenants[by])
            for name, by in zip(("totals", "by_city", "by_district", "by_theme"), GROUPS,
                                strict=True)
        }  # fmt: skip
        totals = groups.pop("totals")
        return {
            "as_of": as_of,
            "filters": filters.as_dict(),
            "totals": totals[0] if totals else _empty_totals(),
            **groups,
            "industry_mix": industry_mix(conn, filters, as_of=as_of),
            "moves": moves_per_month(conn, filters, as_of=as_of),
            "stale": stale_counts(conn, filters, as_of=as_of, stale_days=stale_days),
            "funnel": funnel(conn, filters, as_of=as_of),
            "tax": {"available": False, "note_zh": TAX_NOTE_ZH},
        }


def tenant_counts(
    conn: Connection, filters: StatsFilter, *, as_of: date
) -> dict[tuple[str, ...], dict[tuple[Any, ...], int]]:
    """Distinct enterprises with a current tenancy per group of each of ``GROUPS``, from one
    statement (the current tenancies are read once, as a common table expression)."""
    current = (
        select(_T.c.enterprise_id.label("e"), _B.c.city, _B.c.district, _B.c.theme)
        .join(_B, _B.c.building_id == _T.c.building_id)
        .where(filters.where(), open_on(as_of))
        .cte("current_tenants")
        .prefix_with("MATERIALIZED")  # read once for the four groupings (SQLite >= 3.35, PG 12)
    )
    parts = []
    for level, by in enumerate(GROUPS):
        keys = [cast(current.c[name], Text) for name in by]
        pad = [cast(literal(None), Text)] * (2 - len(by))
        columns = [k.label(f"k{i}") for i, k in enumerate([*keys, *pad])]
        count = func.count(func.distinct(current.c.e)).label("n")
        parts.append(
            select(literal(level).label("level"), *columns, count).group_by(
                *(current.c[name] for name in by)
            )
        )
    out: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = {by: {} for by in GROUPS}
    for row in conn.execute(union_all(*parts)):
        by = GROUPS[row.level]
        out[by][(row.k0, row.k1)[: len(by)]] = int(row.n)
    return out


def occupancy(
    conn: Connection,
    filters: StatsFilter,
    *,
    by: Sequence[str],
    tenants: dict[tuple[Any, ...], int],
) -> list[dict[str, Any]]:
    """Occupancy per group of building columns ``by`` (``()``: one row over all): buildings,
    areas, occupancy rate and ``tenants`` (see :func:`tenant_counts`), ordered by ``by``."""
    keys = [_B.c[name] for name in by]
    areas = (
        select(
            *keys,
            func.count(),
            func.coalesce(func.sum(_B.c.total_area_m2), 0.0),
            func.coalesce(func.sum(_B.c.vacant_area_m2), 0.0),
        )
        .where(filters.where())
        .group_by(*keys)
        .order_by(*keys)
    )
    out = []
    for row in conn.execute(areas):
        group = tuple(row[: len(by)])
        if not by and row[0] == 0:
            continue  # an aggregate without GROUP BY answers one row even over no buildings
        out.append(
            dict(zip(by, group, strict=True))
            | _totals(int(row[-3]), float(row[-2]), float(row[-1]), tenants.get(group, 0))
        )
        if "theme" in by:
            out[-1]["theme_zh"] = label_zh(out[-1]["theme"])
    return out


def _totals(buildings: int, total: float, vacant: float, tenants: int) -> dict[str, Any]:
    occupied = total - vacant
    return {
        "buildings": buildings, "total_m2": round(total, 2), "vacant_m2": round(vacant, 2),
        "occupied_m2": round(occupied, 2),
        "occupancy_rate": round(occupied / total, 4) if total > 0 else None, "tenants": tenants,
    }  # fmt: skip


def _empty_totals() -> dict[str, Any]:
    return _totals(0, 0.0, 0.0, 0)


def industry_mix(conn: Connection, filters: StatsFilter, *, as_of: date) -> list[dict[str, Any]]:
    """Current tenants per GB/T 4754 division (code, label, section) with their area, the most
    tenants first."""
    division = func.substr(_E.c.industry_code, 1, 2)
    query = (
        select(
            division,
            func.count(func.distinct(_T.c.enterprise_id)),
            func.coalesce(func.sum(_T.c.area_m2), 0.0),
        )
        .select_from(filters.tenancies())
        .join(_E, _E.c.enterprise_id == _T.c.enterprise_id)
        .where(filters.where(), open_on(as_of))
        .group_by(division)
    )
    labels = _division_labels()
    rows = [
        {"division": str(code), "label_zh": labels.get(code, (None, None, str(code)))[2],
         "section": labels.get(code, (None, None, None))[0],
         "section_zh": labels.get(code, (None, None, None))[1],
         "tenants": int(n), "area_m2": round(float(area), 2)}
        for code, n, area in conn.execute(query)
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (-r["tenants"], r["division"]))


@cache
def _division_labels() -> dict[str, tuple[str, str, str]]:
    """division -> (section, section label, division label), from the packaged GB/T 4754."""
    t = industry_divisions()
    return {
        str(d): (str(s), str(sz), str(dz))
        for s, sz, d, dz in zip(
            t["section"], t["section_name_zh"], t["division"], t["name_zh"], strict=True
        )
    }


def moves_per_month(
    conn: Connection, filters: StatsFilter, *, as_of: date, months: int = MOVE_MONTHS
) -> list[dict[str, Any]]:
    """Tenancies started (moved in) and ended (moved out) in each of the last ``months``
    months up to ``as_of``, oldest first, with their areas."""
    first = month_ends(as_of, months=months)[0].replace(day=1)
    counts: dict[str, dict[str, Any]] = {
        d.strftime("%Y-%m"): {"month": d.strftime("%Y-%m"), "moved_in": 0, "moved_out": 0,
                              "in_m2": 0.0, "out_m2": 0.0}
        for d in month_ends(as_of, months=months)
    }  # fmt: skip
    for column, n_key, m2_key in ((_T.c.start_date, "moved_in", "in_m2"),
                                  (_T.c.end_date, "moved_out", "out_m2")):  # fmt: skip
        year, month = extract("year", column), extract("month", column)
        query = (
            select(year, month, func.count(), func.coalesce(func.sum(_T.c.area_m2), 0.0))
            .select_from(filters.tenancies())
            .where(filters.where(), column >= first, column <= as_of)
            .group_by(year, month)
        )
        for y, m, n, area in conn.execute(query):
            entry = counts[f"{int(y):04d}-{int(m):02d}"]
            entry[n_key], entry[m2_key] = int(n), round(float(area), 2)
    return list(counts.values())


def stale_counts(
    conn: Connection, filters: StatsFilter, *, as_of: date, stale_days: int
) -> dict[str, Any]:
    """Buildings, and enterprises (current tenants of those buildings; every enterprise when
    unfiltered), whose last update's UTC date lies more than ``stale_days`` days before
    ``as_of``."""
    cutoff = stale_cutoff(as_of, stale_days, dialect=conn.dialect.name)
    buildings = conn.execute(
        select(func.count()).where(filters.where(), _B.c.updated_at < cutoff)
    ).scalar_one()
    if filters.empty:
        enterprises_q = select(func.count()).where(_E.c.updated_at < cutoff)
    else:
        enterprises_q = (
            select(func.count(func.distinct(_E.c.enterprise_id)))
            .select_from(_T)
            .join(_B, _B.c.building_id == _T.c.building_id)
            .join(_E, _E.c.enterprise_id == _T.c.enterprise_id)
            .where(filters.where(), open_on(as_of), _E.c.updated_at < cutoff)
        )
    enterprises = conn.execute(enterprises_q).scalar_one()
    return {"stale_days": stale_days, "buildings": int(buildings), "enterprises": int(enterprises)}


def funnel(conn: Connection, filters: StatsFilter, *, as_of: date) -> dict[str, Any]:
    """The attraction funnel over events up to ``as_of`` in total, per city and per operator:
    distinct enterprises that reached each stage (a later stage counts for the earlier ones;
    a decline counts as contacted) and those that declined. One statement: each (enterprise,
    building) pair's furthest stage (read along the events' key), then per enterprise and city /
    operator, then the three levels."""
    reached = case(
        *((_V.c.stage == s.value, literal(i + 1)) for i, s in enumerate(FUNNEL)), else_=literal(1)
    )
    declined = case((_V.c.stage == Stage.DECLINED.value, literal(1)), else_=literal(0))
    pairs = (
        select(_V.c.enterprise_id.label("e"), _V.c.building_id.label("b"),
               func.max(reached).label("r"), func.max(declined).label("d"))
        .where(_V.c.date <= as_of)
        .group_by(_V.c.enterprise_id, _V.c.building_id)
        .cte("pairs")
    )  # fmt: skip
    firms = (
        select(_B.c.city, _B.c.operator_id, pairs.c.e,
               func.max(pairs.c.r).label("r"), func.max(pairs.c.d).label("d"))
        .join(_B, _B.c.building_id == pairs.c.b)
        .where(filters.where())
        .group_by(_B.c.city, _B.c.operator_id, pairs.c.e)
        .cte("firms")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    parts = []
    for level, by in enumerate(FUNNEL_LEVELS):
        keys = [firms.c[name] for name in by]
        per_firm = (
            select(*keys, firms.c.e, func.max(firms.c.r).label("r"),
                   func.max(firms.c.d).label("d"))
            .group_by(*keys, firms.c.e)
            .subquery()
        )  # fmt: skip
        key = cast(per_firm.c[by[0]], Text) if by else cast(literal(None), Text)
        counts = [
            func.coalesce(func.sum(case((per_firm.c.r >= i + 1, 1), else_=0)), 0).label(f"s{i}")
            for i in range(len(FUNNEL))
        ]
        declines = func.coalesce(func.sum(per_firm.c.d), 0).label("declined")
        query = select(literal(level).label("level"), key.label("k"), *counts, declines)
        parts.append(query.group_by(*(per_firm.c[name] for name in by)))
    out: list[list[dict[str, Any]]] = [[] for _ in FUNNEL_LEVELS]
    for level, key, *stages in conn.execute(union_all(*parts)):
        by = FUNNEL_LEVELS[level]
        out[level].append(dict(zip(by, [key], strict=False)) | _funnel_counts(stages))
    by_city, by_operator = (
        sorted(rows, key=lambda r: r[by[0]] or "")
        for rows, by in zip(out[1:], FUNNEL_LEVELS[1:], strict=True)
    )
    return {
        "stages": [{"stage": s.value, "label_zh": label_zh(s)} for s in (*FUNNEL, Stage.DECLINED)],
        "total": out[0][0] if out[0] else _funnel_counts([0] * (len(FUNNEL) + 1)),
        "by_city": by_city,
        "by_operator": by_operator,
    }


def _funnel_counts(stages: Sequence[Any]) -> dict[str, Any]:
    """The counts of one funnel row: per stage of ``FUNNEL``, then ``declined``."""
    numbers = [int(v) for v in stages]
    entry: dict[str, Any] = {s.value: n for s, n in zip(FUNNEL, numbers, strict=False)}
    entry["declined"] = numbers[-1]
    entry["signed_rate"] = round(numbers[3] / numbers[0], 4) if numbers[0] else None
    return entry
