"""Tenancy moves (入驻/迁出): a move-in ends the firm's open tenancies elsewhere and takes its
area from the building's vacancy, a move-out gives it back; each in one write transaction with
vacancy arithmetic in SQL and audit entries naming every building touched."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry import (
    ConflictError,
    InputError,
    NotFoundError,
    estimated_space_need_m2,
)
from tenantmatch.store.access import AuditNote
from tenantmatch.store.repository import Repository
from tenantmatch.store.transaction import WriteTransaction
from tenantmatch.store.write_rows import (
    UPDATED_AT,
    EditCheck,
    audit_entries,
    cell,
    ids_of,
    require_locked,
    stored_row,
    text_record,
    validated,
)

logger = logging.getLogger(__name__)


def move_in(
    repo: Repository,
    *,
    enterprise_id: str,
    building_id: str,
    start_date: date | str,
    area_m2: float | None = None,
    may_edit: EditCheck | None = None,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """Record that an enterprise moves into a building on ``start_date``; returns the tenancy.

    Its open tenancies elsewhere end the day before (their buildings regain their area); the
    building's vacancy drops by ``area_m2`` (default: the features package's space-need
    estimate) in SQL, refused with ConflictError when the vacancy does not cover it. All in one
    transaction, with audit entries naming every building touched.
    """
    new: dict[str, Any] = {"enterprise_id": enterprise_id, "building_id": building_id,
                           "start_date": start_date}  # fmt: skip
    with repo.transaction(f"move-in of {enterprise_id!r} into {building_id!r}") as tx:
        enterprise = require_locked(tx, "enterprises", enterprise_id)
        building = require_locked(tx, "buildings", building_id, may_edit=may_edit)
        first = validated("tenancies", [text_record("tenancies", new)], known=ids_of(new))
        start = pd.Timestamp(first["start_date"].iloc[0])
        open_ = _open_tenancies(tx, enterprise_id=enterprise_id)
        if (open_["building_id"] == building_id).any():
            raise ConflictError(
                f"enterprise {enterprise_id!r} is already a tenant of building {building_id!r}; "
                f"record a move-out first (该企业已入驻该楼宇)"
            )
        ended = _ended(open_, start=start, enterprise_id=enterprise_id)
        area = _move_in_area(area_m2, enterprise=enterprise, open_=open_, at=start)
        _take_vacancy(tx, building, area)
        returned = _return_vacancy(tx, ended)
        new |= {"area_m2": area, "start_date": start, "end_date": None}
        rows = [text_record("tenancies", r) for r in [*ended.to_dict("records"), new]]  # type: ignore[arg-type]
        tenancies = validated("tenancies", rows, known=ids_of(new, buildings=ended["building_id"]))
        tx.upsert({"tenancies": tenancies})
        tx.append_audit(_move_in_entries(audit, building_id, area, ended, returned))
        row = stored_row(tx, "tenancies", tenancies.iloc[[-1]])
    logger.info("move-in: %s into %s, %.0f m2", enterprise_id, building_id, area)
    return row


def move_out(
    repo: Repository,
    *,
    enterprise_id: str,
    building_id: str,
    end_date: date | str,
    may_edit: EditCheck | None = None,
    audit: AuditNote | None = None,
) -> dict[str, Any]:
    """End the enterprise's open tenancy in the building on ``end_date``; the building's vacancy
    rises by the tenancy's area (if known). NotFoundError when no such open tenancy exists."""
    with repo.transaction(f"move-out of {enterprise_id!r} from {building_id!r}") as tx:
        require_locked(tx, "enterprises", enterprise_id)
        require_locked(tx, "buildings", building_id, may_edit=may_edit)
        open_ = _open_tenancies(tx, enterprise_id=enterprise_id)
        here = open_[open_["building_id"] == building_id]
        if here.empty:
            raise NotFoundError(
                f"enterprise {enterprise_id!r} has no open tenancy in building {building_id!r}"
            )
        rows = [text_record("tenancies", r) | {"end_date": cell(end_date)}
                for r in here.to_dict("records")]  # fmt: skip
        tenancies = validated("tenancies", rows, known=ids_of(rows[0]))
        returned = _return_vacancy(tx, tenancies)
        tx.upsert({"tenancies": tenancies})
        tx.append_audit(audit_entries(audit, building_id, vacancy_change_m2=returned))
        row = stored_row(tx, "tenancies", tenancies.iloc[[-1]])
    logger.info("move-out: %s from %s on %s", enterprise_id, building_id, end_date)
    return row


def _open_tenancies(tx: WriteTransaction, *, enterprise_id: str) -> pd.DataFrame:
    found = tx.read("tenancies", {"enterprise_id": enterprise_id}, missing=["end_date"])
    return found.drop(columns=UPDATED_AT)


def _ended(open_: pd.DataFrame, *, start: pd.Timestamp, enterprise_id: str) -> pd.DataFrame:
    """The open tenancies elsewhere, ended the day before ``start``."""
    end = start - pd.Timedelta(days=1)
    late = open_[open_["start_date"] > end]
    if not late.empty:
        first = late.iloc[0]
        raise InputError(
            f"start_date {start.date()} must be after the start ({first['start_date'].date()}) of "
            f"{enterprise_id!r}'s open tenancy in {first['building_id']!r}"
        )
    return open_.assign(end_date=end)


def _move_in_area(
    area_m2: float | None,
    *,
    enterprise: Mapping[str, Any],
    open_: pd.DataFrame,
    at: pd.Timestamp,
) -> float:
    area = _need_estimate(enterprise, open_, at=at) if area_m2 is None else float(area_m2)
    if not (math.isfinite(area) and area > 0):
        raise InputError(f"area_m2={area_m2!r} invalid; allowed: a finite number > 0 (m²)")
    return area


def _take_vacancy(tx: WriteTransaction, building: Mapping[str, Any], area: float) -> None:
    """Lower the building's vacancy by ``area`` m² in SQL; ConflictError naming both numbers
    when the vacancy does not cover it."""
    building_id = str(building["building_id"])
    if not tx.move_vacancy(building_id, -area):
        vacant = float(building["vacant_area_m2"])
        raise ConflictError(
            f"requested area_m2 {area:g} exceeds building {building_id!r}'s vacant area "
            f"{vacant:g} m²; allowed: at most the vacant area "
            f"(申请面积 {area:g} m² 超过楼宇 {building_id} 的空置面积 {vacant:g} m²)"
        )


def _return_vacancy(tx: WriteTransaction, ended: pd.DataFrame) -> dict[str, float]:
    """Give each building the area (m²) of its ended tenancies back (capped at its total area);
    returns the area per building. Tenancies without area give none."""
    returned = _area_returned(ended)
    for building_id, area in returned.items():
        tx.move_vacancy(building_id, area)
    return returned


def _move_in_entries(
    audit: AuditNote | None,
    building_id: str,
    area: float,
    ended: pd.DataFrame,
    returned: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The move-in's entry naming every building it touched, and one entry per building whose
    tenancy it ended (so each operator finds the change under its own building)."""
    if audit is None:
        return []
    others = [str(b) for b in dict.fromkeys(ended["building_id"])]
    changes = {building_id: -area} | {b: returned.get(b, 0.0) for b in others}
    main = audit.entry(building_id, buildings=[building_id, *others], vacancy_change_m2=changes)
    elsewhere = [
        audit.entry(b, action="tenancy.ended_by_move_in", moved_into=building_id,
                    vacancy_change_m2=returned.get(b, 0.0),
                    end_date=str(ended["end_date"].iloc[0].date()))
        for b in others
    ]  # fmt: skip
    return [main, *elsewhere]


def _need_estimate(
    enterprise: Mapping[str, Any], open_: pd.DataFrame, *, at: pd.Timestamp
) -> float:
    """The registry's space-need estimate (m²) of one enterprise on day ``at``: the area of its
    current tenancy (the latest started by then), else by its staff; NaN when neither is known."""
    started = open_[pd.to_datetime(open_["start_date"]) <= at].sort_values("start_date")
    area = float(started["area_m2"].iloc[-1]) if len(started) else np.nan
    employees = pd.to_numeric(pd.Series([enterprise.get("employees")]), errors="coerce")
    need = estimated_space_need_m2(pd.Series([area]), employees)
    return float(need.iloc[0])


def _area_returned(ended: pd.DataFrame) -> dict[str, float]:
    """Area (m²) each building regains from ended tenancies; tenancies without area give none."""
    known = ended[ended["area_m2"].notna()]
    sums = known.groupby("building_id")["area_m2"].sum()
    return {str(k): float(v) for k, v in sums.items()}
