"""The registry's statistics (``GET /v1/stats``), aggregated in SQL: occupancy by city, district
and theme, the industry mix of current tenants, moves per month, stale records and the
attraction funnel. Every query is one GROUP BY over indexed tables; nothing loops over rows in
Python, so the cost grows with the database's work, not with 25,000 buildings' worth of dicts.

"Current" means open at the end of ``as_of`` (``store.history.open_on``); "stale" is the
listing's rule (no update for more than ``stale_days`` days, ``store.listing``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    extract,
    func,
    literal,
    select,
    true,
)

from tenantmatch.registry import Stage, industry_divisions, label_zh
from tenantmatch.store.history import month_ends, open_on
from tenantmatch.store.repository import Repository
from tenantmatch.store.schema import DATA_TABLES

_B = DATA_TABLES["buildings"]
_E = DATA_TABLES["enterprises"]
_T = DATA_TABLES["tenancies"]
_V = DATA_TABLES["events"]

MOVE_MONTHS = 24
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

    def as_dict(self) -> dict[str, list[str]]:
        return {"city": sorted(self.city), "district": sorted(self.district),
                "theme": sorted(self.theme)}  # fmt: skip


def registry_stats(
    repo: Repository, filters: StatsFilter, *, as_of: date, stale_days: int
) -> dict[str, Any]:
    """The whole ``GET /v1/stats`` answer (see ``api.schemas.StatsOut``) from one read."""
    with repo._reading() as conn:
        groups = {
            name: occupancy(conn, filters, by=by, as_of=as_of)
            for name, by in (("totals", ()), ("by_city", ("city",)),
                             ("by_district", ("city", "district")), ("by_theme", ("theme",)))
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


def occupancy(
    conn: Connection, filters: StatsFilter, *, by: Sequence[str], as_of: date
) -> list[dict[str, Any]]:
    """Occupancy per group of building columns ``by`` (``()``: one row over all): buildings,
    areas, occupancy rate and current tenants (distinct enterprises), ordered by ``by``."""
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
    tenants_q = (
        select(*keys, func.count(func.distinct(_T.c.enterprise_id)))
        .join(_B, _B.c.building_id == _T.c.building_id)
        .where(filters.where(), open_on(as_of))
        .group_by(*keys)
    )
    tenants = {tuple(r[:-1]): int(r[-1]) for r in conn.execute(tenants_q)}
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
        .select_from(_T)
        .join(_B, _B.c.building_id == _T.c.building_id)
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
            .join(_B, _B.c.building_id == _T.c.building_id)
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
    cutoff = _cutoff(as_of, stale_days, dialect=conn.dialect.name)
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


def _cutoff(as_of: date, stale_days: int, *, dialect: str) -> datetime:
    """The first instant that is not stale: midnight UTC of ``as_of - stale_days``. SQLite
    stores naive UTC text, so it gets a naive value."""
    day = as_of - timedelta(days=stale_days)
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment.replace(tzinfo=None) if dialect == "sqlite" else moment


def funnel(conn: Connection, filters: StatsFilter, *, as_of: date) -> dict[str, Any]:
    """The attraction funnel over events up to ``as_of`` in total, per city and per operator:
    distinct enterprises that reached each stage (a later stage counts for the earlier ones;
    a decline counts as contacted) and those that declined."""
    return {
        "stages": [{"stage": s.value, "label_zh": label_zh(s)} for s in (*FUNNEL, Stage.DECLINED)],
        "total": _funnel(conn, filters, as_of=as_of, by=())[0],
        "by_city": _funnel(conn, filters, as_of=as_of, by=("city",)),
        "by_operator": _funnel(conn, filters, as_of=as_of, by=("operator_id",)),
    }


def _funnel(
    conn: Connection, filters: StatsFilter, *, as_of: date, by: Collection[str]
) -> list[dict[str, Any]]:
    keys = [_B.c[name] for name in by]
    reached = case(
        *((_V.c.stage == s.value, literal(i + 1)) for i, s in enumerate(FUNNEL)), else_=literal(1)
    )
    declined = case((_V.c.stage == Stage.DECLINED.value, literal(1)), else_=literal(0))
    firms = (
        select(
            *keys,
            _V.c.enterprise_id,
            func.max(reached).label("reached"),
            func.max(declined).label("declined"),
        )
        .join(_B, _B.c.building_id == _V.c.building_id)
        .where(filters.where(), _V.c.date <= as_of)
        .group_by(*keys, _V.c.enterprise_id)
        .subquery()
    )
    group = [firms.c[name] for name in by]
    counts = [func.coalesce(func.sum(case((firms.c.reached >= i + 1, 1), else_=0)), 0)
              for i in range(len(FUNNEL))]  # fmt: skip
    query = select(*group, *counts, func.coalesce(func.sum(firms.c.declined), 0))
    query = query.group_by(*group).order_by(*group)
    out = []
    for row in conn.execute(query):
        stages = [int(v) for v in row[len(by) :]]
        entry = dict(zip(by, row[: len(by)], strict=True))
        entry |= {s.value: n for s, n in zip(FUNNEL, stages, strict=False)}
        entry["declined"] = stages[-1]
        entry["signed_rate"] = round(stages[3] / stages[0], 4) if stages[0] else None
        out.append(entry)
    return out  # without GROUP BY the aggregate answers one row (of zeros) even over no events
