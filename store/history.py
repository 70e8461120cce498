"""A building's and an enterprise's history as the workbench shows it: attraction events, current
tenants, tenancies, and a building's occupancy month by month.

Each listing is one paged SQL query over the indexed ``building_id`` / ``enterprise_id`` columns;
an unknown id raises NotFoundError. Rows are plain JSON-ready dicts with codes (labels are added
by the caller that shows them).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, func, or_, select

from tenantmatch.registry import LIST_SEPARATOR, PARTNER_DIRECTIONS, label_zh, vacancy_as_of
from tenantmatch.store.repository import Repository
from tenantmatch.store.schema import DATA_TABLES
from tenantmatch.store.write_rows import require_record

_B = DATA_TABLES["buildings"]
_E = DATA_TABLES["enterprises"]
_T = DATA_TABLES["tenancies"]
_V = DATA_TABLES["events"]
_L = DATA_TABLES["links"]


def open_on(as_of: date) -> ColumnElement[bool]:
    """Tenancies open at the end of ``as_of``: started by then, not ended by then (the rule of
    ``registry.Snapshot.at``)."""
    return and_(_T.c.start_date <= as_of, or_(_T.c.end_date.is_(None), _T.c.end_date > as_of))


def building_events(
    repo: Repository, building_id: str, *, stages: Collection[str] = (), offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """(events of the building matching ``stages``, one page of them newest first)."""
    require_record(repo, "buildings", building_id)
    return _events(repo, _V.c.building_id == building_id, stages, offset=offset, limit=limit)


def enterprise_events(
    repo: Repository, enterprise_id: str, *, stages: Collection[str] = (), offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """(events of the enterprise matching ``stages``, one page of them newest first)."""
    require_record(repo, "enterprises", enterprise_id)
    return _events(repo, _V.c.enterprise_id == enterprise_id, stages, offset=offset, limit=limit)


def _events(
    repo: Repository, where: ColumnElement[bool], stages: Collection[str], *, offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    if stages:
        where = and_(where, _V.c.stage.in_(sorted(stages)))
    query = (
        select(
            _V.c.enterprise_id,
            _E.c.name.label("enterprise_name"),
            _V.c.building_id,
            _B.c.name.label("building_name"),
            _B.c.operator_id,
            _V.c.date,
            _V.c.stage,
        )
        .join(_E, _E.c.enterprise_id == _V.c.enterprise_id)
        .join(_B, _B.c.building_id == _V.c.building_id)
        .where(where)
        .order_by(_V.c.date.desc(), _V.c.enterprise_id, _V.c.stage)
        .offset(offset)
        .limit(limit)
    )
    with repo._reading() as conn:
        total = conn.execute(select(func.count()).select_from(_V).where(where)).scalar_one()
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return int(total), rows


def current_tenants(
    repo: Repository, building_id: str, *, as_of: date, offset: int, limit: int
) -> tuple[int, float, list[dict[str, Any]]]:
    """(current tenants, their area in m² (unknown counts 0), one page of them, largest area
    first): enterprise fields with ``area_m2`` and ``since`` (the open tenancy's start)."""
    require_record(repo, "buildings", building_id)
    where = and_(_T.c.building_id == building_id, open_on(as_of))
    query = (
        select(
            _E.c.enterprise_id,
            _E.c.name,
            _E.c.industry_code,
            _E.c.employees,
            _E.c.hq_type,
            _E.c.tags,
            _E.c.credit_score,
            _E.c.risk_flags,
            _T.c.area_m2,
            _T.c.start_date.label("since"),
        )
        .join(_E, _E.c.enterprise_id == _T.c.enterprise_id)
        .where(where)
        .order_by(func.coalesce(_T.c.area_m2, 0).desc(), _E.c.enterprise_id)
        .offset(offset)
        .limit(limit)
    )
    totals = select(func.count(), func.coalesce(func.sum(_T.c.area_m2), 0.0)).where(where)
    with repo._reading() as conn:
        count, area = conn.execute(totals).one()
        rows = [_split_lists(dict(r._mapping)) for r in conn.execute(query)]
    return int(count), float(area), rows


def tenancy_history(
    repo: Repository, enterprise_id: str, *, as_of: date, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """(tenancies of the enterprise, one page newest start first, each with its building's name,
    city and district and ``current``: open on ``as_of``)."""
    require_record(repo, "enterprises", enterprise_id)
    where = _T.c.enterprise_id == enterprise_id
    query = (
        select(
            _T.c.building_id,
            _B.c.name.label("building_name"),
            _B.c.city,
            _B.c.district,
            _T.c.area_m2,
            _T.c.start_date,
            _T.c.end_date,
            open_on(as_of).label("current"),
        )
        .join(_B, _B.c.building_id == _T.c.building_id)
        .where(where)
        .order_by(_T.c.start_date.desc(), _T.c.building_id)
        .offset(offset)
        .limit(limit)
    )
    with repo._reading() as conn:
        total = conn.execute(select(func.count()).select_from(_T).where(where)).scalar_one()
        rows = [dict(r._mapping) | {"current": bool(r.current)} for r in conn.execute(query)]
    return int(total), rows


def enterprise_links(
    repo: Repository, enterprise_id: str, *, as_of: date
) -> list[dict[str, Any]]:
    """The enterprise's partners (both ends of its links), strongest first: each with its
    relation, its direction from the enterprise's side (``registry.PARTNER_DIRECTIONS``: a firm
    that supplies it is upstream), Chinese labels, the link weight, and the building it is a
    tenant of on ``as_of`` (the way to chain attraction, 以商招商)."""
    require_record(repo, "enterprises", enterprise_id)
    here = _T.alias("here")
    ends = ((_L.c.source_id, _L.c.target_id, 0), (_L.c.target_id, _L.c.source_id, 1))
    rows: list[dict[str, Any]] = []
    with repo._reading() as conn:
        for mine, theirs, side in ends:
            query = (
                select(theirs.label("partner_id"), _E.c.name.label("partner_name"),
                       _E.c.industry_code, _L.c.relation, _L.c.weight,
                       here.c.building_id, _B.c.name.label("building_name"))
                .join(_E, _E.c.enterprise_id == theirs)
                .outerjoin(here, and_(here.c.enterprise_id == theirs,
                                      here.c.start_date <= as_of,
                                      or_(here.c.end_date.is_(None), here.c.end_date > as_of)))
                .outerjoin(_B, _B.c.building_id == here.c.building_id)
                .where(mine == enterprise_id)
            )  # fmt: skip
            for row in conn.execute(query):
                item = dict(row._mapping)
                direction = PARTNER_DIRECTIONS.get(item["relation"], ("partner", "partner"))[side]
                rows.append(item | {"relation_zh": label_zh(item["relation"]),
                                    "direction": direction, "direction_zh": label_zh(direction)})
    return sorted(rows, key=lambda r: (-(r["weight"] if r["weight"] is not None else 1.0),
                                       r["partner_id"]))  # fmt: skip


def building_occupancy(
    repo: Repository, building_id: str, *, as_of: date, months: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the building's stored row, one entry per month-end of the last ``months`` months, oldest
    first, the current month as of ``as_of``): ``month`` (YYYY-MM), ``occupied_m2``,
    ``vacant_m2`` (``registry.vacancy_as_of``: the stored vacancy moved back by the tenancies
    since), ``occupancy_rate`` and ``tenants`` (open tenancies that day)."""
    row = require_record(repo, "buildings", building_id)
    with repo._reading() as conn:
        ten = pd.DataFrame(
            conn.execute(
                select(_T.c.building_id, _T.c.area_m2, _T.c.start_date, _T.c.end_date).where(
                    _T.c.building_id == building_id
                )
            ).all(),
            columns=["building_id", "area_m2", "start_date", "end_date"],
        )
    ten["area_m2"] = pd.to_numeric(ten["area_m2"], errors="coerce").astype("float64")
    for column in ("start_date", "end_date"):
        ten[column] = pd.to_datetime(ten[column])
    buildings = pd.DataFrame([row]).set_index("building_id")
    total = float(row["total_area_m2"])
    out = []
    for day in month_ends(as_of, months=months):
        then = pd.Timestamp(day)
        vacant = float(vacancy_as_of(buildings, ten, as_of=then).iloc[0])
        open_then = (ten["start_date"] <= then) & ~(ten["end_date"] <= then)
        occupied = total - vacant
        out.append({
            "month": day.strftime("%Y-%m"), "occupied_m2": round(occupied, 2),
            "vacant_m2": round(vacant, 2),
            "occupancy_rate": round(occupied / total, 4) if total > 0 else None,
            "tenants": int(open_then.sum()),
        })  # fmt: skip
    return row, out


def month_ends(as_of: date, *, months: int) -> list[date]:
    """The last day of each of the ``months`` months ending with ``as_of``'s month, oldest
    first; the current month's entry is ``as_of`` itself."""
    ends = pd.period_range(end=pd.Period(as_of, freq="M"), periods=months, freq="M")
    days = [p.end_time.date() for p in ends]
    days[-1] = as_of
    return days


def _split_lists(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("tags", "risk_flags"):
        value = row.get(key)
        row[key] = [] if not value else str(value).split(LIST_SEPARATOR)
    return row
