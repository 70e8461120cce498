"""Per-enterprise attributes as of a snapshot, and the ``e__`` feature functions that read them.

Feature functions read the ``e_*`` columns ``build_matrix`` joined onto the pairs and return a
float32 Series aligned to the pairs, NaN where an input is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from tenantmatch.features.building import list_count, list_has
from tenantmatch.features.lookups import ContextData
from tenantmatch.features.vocab import Vocabulary
from tenantmatch.registry import Snapshot, estimated_space_need_m2, industry_divisions
from tenantmatch.registry.tables import STAGE_RANK

logger = logging.getLogger(__name__)

TAGS: tuple[str, ...] = (
    "fortune_global_500",
    "china_500",
    "listed",
    "unicorn",
    "high_tech",
    "specialized_sme",
    "leading_enterprise",
    "platform",
)
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
RECENT = pd.DateOffset(months=12)
MOVES_WINDOW = pd.DateOffset(years=3)


def current_tenancies(tenancies: pd.DataFrame) -> pd.DataFrame:
    """Each enterprise's open tenancy (the latest started if several), indexed by enterprise_id."""
    open_ = tenancies[tenancies["end_date"].isna()].sort_values("start_date", kind="stable")
    return open_.drop_duplicates("enterprise_id", keep="last").set_index("enterprise_id")


def _days_before(as_of: pd.Timestamp, dates: pd.Series) -> np.ndarray:
    return (as_of - dates).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)


def _tenancy_months(tenancies: pd.DataFrame) -> pd.Series:
    """Length of each tenancy in months (NaN while it runs)."""
    return (tenancies["end_date"] - tenancies["start_date"]).dt.days / DAYS_PER_MONTH


def _tenancy_history(snapshot: Snapshot, index: pd.Index) -> pd.DataFrame:
    """Last move, moves in 3 years and area growth (log of last / previous area) per enterprise."""
    ordered = snapshot.tenancies.sort_values(["enterprise_id", "start_date"], kind="stable")
    same = ordered["enterprise_id"].eq(ordered["enterprise_id"].shift())
    growth_rows = np.log(ordered["area_m2"] / ordered["area_m2"].shift().where(same))
    latest = ordered.assign(growth=growth_rows).drop_duplicates("enterprise_id", keep="last")
    latest = latest.set_index("enterprise_id").reindex(index)
    recent = ordered[ordered["start_date"] > snapshot.as_of - MOVES_WINDOW]
    moves = recent.groupby("enterprise_id").size().reindex(index, fill_value=0)
    ended = ordered[ordered["end_date"].notna()].sort_values("end_date", kind="stable")
    last_ended = ended.drop_duplicates("enterprise_id", keep="last").set_index("enterprise_id")
    last_ended = last_ended.reindex(index)
    last_lease = _tenancy_months(last_ended)
    return pd.DataFrame(
        {
            "months_since_move": _days_before(snapshot.as_of, latest["start_date"])
            / DAYS_PER_MONTH,
            "moves_3y": moves.to_numpy(dtype=np.float64),
            "area_growth_log": latest["growth"].to_numpy(dtype=np.float64, na_value=np.nan),
            "last_lease_months": last_lease.to_numpy(dtype=np.float64, na_value=np.nan),
        },
        index=index,
    )


OPEN_COURTSHIP = pd.Timedelta(days=120)  # an attraction pipeline runs about four months
RECENT_DECLINE = pd.Timedelta(days=60)


def _courtships(events: pd.DataFrame, index: pd.Index, *, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per enterprise: buildings courting it now (latest event of the pair within
    ``OPEN_COURTSHIP`` and not a decline), the furthest stage among them (``STAGE_RANK``, NaN
    if none) and its declines within ``RECENT_DECLINE``. A firm that just turned buildings down
    is deciding; several open courtships share one move, and the one furthest along leads."""
    recent = events[events["date"] > as_of - OPEN_COURTSHIP]
    # the latest event of each pair; on one day the furthest stage counts as the latest (as in
    # the feature context's last-event matrices)
    latest = (
        recent.assign(_rank=recent["stage"].map(STAGE_RANK))
        .sort_values(["date", "_rank"], kind="stable")
        .drop_duplicates(["enterprise_id", "building_id"], keep="last")
    )
    open_rows = latest[latest["stage"] != "declined"]
    open_ = open_rows.groupby("enterprise_id").size()
    best = open_rows.groupby("enterprise_id")["_rank"].max()
    declines = (
        recent[(recent["stage"] == "declined") & (recent["date"] > as_of - RECENT_DECLINE)]
        .groupby("enterprise_id")
        .size()
    )
    return pd.DataFrame(
        {
            "open_courtships": open_.reindex(index, fill_value=0).to_numpy(dtype=np.float64),
            "recent_declines": declines.reindex(index, fill_value=0).to_numpy(dtype=np.float64),
            "best_open_stage": best.reindex(index).to_numpy(dtype=np.float64, na_value=np.nan),
        },
        index=index,
    )


PIPELINE_WINDOW = pd.Timedelta(days=180)  # the plain features' look-back on attraction events


def _moves_total(snapshot: Snapshot, index: pd.Index) -> np.ndarray:
    """Tenancies started by the snapshot date per enterprise (every move and expansion seen)."""
    counts = snapshot.tenancies.groupby("enterprise_id").size()
    return counts.reindex(index, fill_value=0).to_numpy(dtype=np.float64)


def _courting_buildings(
    events: pd.DataFrame, index: pd.Index, *, as_of: pd.Timestamp
) -> np.ndarray:
    """Distinct buildings with an attraction event for the enterprise within
    ``PIPELINE_WINDOW`` before the snapshot date (any stage)."""
    recent = events[events["date"] > as_of - PIPELINE_WINDOW]
    counts = recent.groupby("enterprise_id")["building_id"].nunique()
    return counts.reindex(index, fill_value=0).to_numpy(dtype=np.float64)


MIN_CYCLE_MONTHS = 6.0  # shorter past tenancies say nothing about a lease term


def months_to_cycle_end(tenure_months: np.ndarray, cycle_months: np.ndarray) -> np.ndarray:
    """Months until the current tenancy completes its next full cycle of the enterprise's last
    ended tenancy's length (leases run in fixed terms, and a firm tends to sign the same term
    again): ``cycle - tenure mod cycle``, in (0, cycle]. NaN without a tenancy or a past cycle
    of at least ``MIN_CYCLE_MONTHS``."""
    tenure = np.asarray(tenure_months, dtype=np.float64)
    cycle = np.asarray(cycle_months, dtype=np.float64)
    ok = np.isfinite(tenure) & np.isfinite(cycle) & (cycle >= MIN_CYCLE_MONTHS)
    safe = np.where(ok, cycle, 1.0)
    return np.where(ok, safe - np.mod(np.where(ok, tenure, 0.0), safe), np.nan)


LEASE_TERMS_MONTHS = np.arange(12.0, 73.0)  # whole-month office lease terms of 1 to 6 years
WHOLE_TERMS_TOLERANCE_MONTHS = 1.0  # moving day falls anywhere in the month a term ends
WHOLE_TERMS_LIKELIHOOD = 10.0  # a past tenancy of whole terms of L makes L this much likelier
LEASE_END_HORIZON_MONTHS = 12.0
_LEASE_CHUNK = 50_000  # enterprises per (enterprise x term) block, bounds memory at 1M


def lease_end_probability(
    tenure_months: np.ndarray,
    past_owner: np.ndarray,
    past_months: np.ndarray,
    *,
    horizon_months: float = LEASE_END_HORIZON_MONTHS,
) -> np.ndarray:
    """P(a lease term of the current tenancy ends within ``horizon_months``), per enterprise.

    Leases run in fixed whole-month terms and a firm tends to sign the same term again, so the
    term L is unknown but its candidates (``LEASE_TERMS_MONTHS``, equally likely a priori) are
    weighed by the firm's ended tenancies: each one lasting a whole number of terms of L (within
    ``WHOLE_TERMS_TOLERANCE_MONTHS``) makes L ``WHOLE_TERMS_LIKELIHOOD`` times likelier. The
    current tenancy (``tenure_months``) ends a term at every multiple of L. ``past_owner`` is
    the enterprise position of each ended tenancy, ``past_months`` its length; NaN for an
    enterprise without a current tenancy."""
    tenure = np.asarray(tenure_months, dtype=np.float64)
    owner = np.asarray(past_owner, dtype=np.int64)
    months = np.asarray(past_months, dtype=np.float64)
    keep = np.isfinite(months) & (owner >= 0) & (owner < tenure.size)
    order = np.argsort(owner[keep], kind="stable")
    owner, months = owner[keep][order], months[keep][order]
    terms = LEASE_TERMS_MONTHS
    out = np.full(tenure.size, np.nan)
    for lo in range(0, tenure.size, _LEASE_CHUNK):
        hi = min(lo + _LEASE_CHUNK, tenure.size)
        rows = slice(*np.searchsorted(owner, [lo, hi]))
        ratio = months[rows, None] / terms
        cycles = np.round(ratio)
        whole = (np.abs(ratio - cycles) * terms <= WHOLE_TERMS_TOLERANCE_MONTHS) & (cycles >= 1)
        log_w = np.zeros((hi - lo, terms.size))
        np.add.at(log_w, owner[rows] - lo, whole * np.log(WHOLE_TERMS_LIKELIHOOD))
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        t = tenure[lo:hi, None]
        next_end = (np.floor(np.nan_to_num(t) / terms) + 1.0) * terms - t
        p = (w * (next_end <= horizon_months)).sum(axis=1) / w.sum(axis=1)
        out[lo:hi] = np.where(np.isfinite(tenure[lo:hi]), p, np.nan)
    return out


def _ended_tenancy_months(snapshot: Snapshot, index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(enterprise position in ``index``, length in months) of every tenancy ended by then."""
    ended = snapshot.tenancies[snapshot.tenancies["end_date"].notna()]
    owner = index.get_indexer(pd.Index(ended["enterprise_id"]))
    return owner, _tenancy_months(ended).to_numpy(np.float64, na_value=np.nan)


def enterprise_table(snapshot: Snapshot, *, vocab: Vocabulary) -> pd.DataFrame:
    """float64 attributes per enterprise (index = ``snapshot.enterprises.index``)."""
    e = snapshot.enterprises
    as_of = snapshot.as_of
    out = pd.DataFrame(index=e.index)
    for name in ("division", "section", "hq_type"):
        out[f"{name}_code"] = vocab.encode(e[name], field=name)
    out["division_num"] = pd.to_numeric(e["division"], errors="coerce").astype("float64")
    sections = pd.Index(sorted(industry_divisions()["section"].unique()))
    section_pos = sections.get_indexer(e["section"])
    out["section_num"] = np.where(section_pos >= 0, section_pos, np.nan)
    out["employees"] = e["employees"].astype("float64")
    out["revenue_10k_cny"] = e["revenue_10k_cny"].astype("float64")
    out["capital_10k_cny"] = e["registered_capital_10k_cny"].astype("float64")
    out["age_years"] = _days_before(as_of, e["founded"]) / DAYS_PER_YEAR
    for tag in TAGS:
        out[f"tag_{tag}"] = list_has(e["tags"], tag)
    out["credit_score"] = e["credit_score"].astype("float64")
    out["risk_count"] = list_count(e["risk_flags"])
    current = current_tenancies(snapshot.tenancies).reindex(e.index)
    out["in_building"] = current["building_id"].notna().to_numpy(dtype=np.float64)
    out["tenure_years"] = _days_before(as_of, current["start_date"]) / DAYS_PER_YEAR
    out["current_area_m2"] = current["area_m2"].astype("float64")
    out = out.join(_tenancy_history(snapshot, e.index))
    out["months_to_cycle_end"] = months_to_cycle_end(
        out["tenure_years"].to_numpy() * 12.0, out["last_lease_months"].to_numpy()
    )
    out["lease_end_12m"] = lease_end_probability(
        out["tenure_years"].to_numpy() * 12.0, *_ended_tenancy_months(snapshot, e.index)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        out["area_per_employee_log"] = np.log(out["current_area_m2"] / out["employees"])
    events = snapshot.events
    recent = events[events["date"] > as_of - RECENT].groupby("enterprise_id").size()
    out["events_12m"] = recent.reindex(e.index, fill_value=0).astype("float64")
    out = out.join(_courtships(events, e.index, as_of=as_of))
    out["moves_total"] = _moves_total(snapshot, e.index)
    out["courting_buildings"] = _courting_buildings(events, e.index, as_of=as_of)
    out["space_need_m2"] = estimated_space_need_m2(out["current_area_m2"], out["employees"])
    out["lat"], out["lon"] = e["lat"].astype("float64"), e["lon"].astype("float64")
    # written by features.context.fill_move_hazard when the vocabulary holds a move hazard
    out["move_hazard"] = np.nan
    return out


def _series(values: object, pairs: pd.DataFrame) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float32), index=pairs.index)


def _log1p(values: pd.Series) -> np.ndarray:
    return np.log1p(values.to_numpy(dtype=np.float64))


def section_code(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """GB/T 4754 section as its vocabulary code; NaN if unseen at training or unknown."""
    return _series(pairs["e_section_code"], pairs)


def division_code(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """GB/T 4754 division as its vocabulary code; NaN if unseen at training or unknown."""
    return _series(pairs["e_division_code"], pairs)


def hq_type_code(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Headquarters type as its vocabulary code; NaN if unseen or missing."""
    return _series(pairs["e_hq_type_code"], pairs)


def employees_log(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + employees)."""
    return _series(_log1p(pairs["e_employees"]), pairs)


def revenue_log_10k_cny(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + revenue in 10k CNY); NaN if unknown."""
    return _series(_log1p(pairs["e_revenue_10k_cny"]), pairs)


def capital_log_10k_cny(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(1 + registered capital in 10k CNY); NaN if unknown."""
    return _series(_log1p(pairs["e_capital_10k_cny"]), pairs)


def age_years(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Years from founding to the snapshot date; NaN if the founding date is unknown."""
    return _series(pairs["e_age_years"], pairs)


def moves_3y(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Tenancies started in the 3 years up to the snapshot date (a growth signal)."""
    return _series(pairs["e_moves_3y"], pairs)


def area_growth_log(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(area of the latest tenancy / area of the one before); NaN without both areas."""
    return _series(pairs["e_area_growth_log"], pairs)


def _tag_feature(tag: str) -> Callable[[pd.DataFrame, ContextData], pd.Series]:
    def tag_flag(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
        return _series(pairs[f"e_tag_{tag}"], pairs)

    tag_flag.__name__ = f"tag_{tag}"
    tag_flag.__doc__ = f"1.0 if tagged {tag}, 0.0 if not, NaN if the tags cell is missing."
    return tag_flag


TAG_FEATURES = {tag: _tag_feature(tag) for tag in TAGS}


def credit_score(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Credit score 0..100 (higher is better); NaN if unknown."""
    return _series(pairs["e_credit_score"], pairs)


def risk_flag_count(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Number of risk flags; NaN if the risk_flags cell is missing."""
    return _series(pairs["e_risk_count"], pairs)


def tenure_years(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Years in the current tenancy as of the snapshot; NaN if the enterprise has none."""
    return _series(pairs["e_tenure_years"], pairs)


def in_building(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """1.0 if the enterprise has an open tenancy anywhere as of the snapshot, else 0.0."""
    return _series(pairs["e_in_building"], pairs)


def months_since_move(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Months since the latest tenancy start; NaN if the enterprise never had a tenancy."""
    return _series(pairs["e_months_since_move"], pairs)


def months_to_cycle_end_feature(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Months until the current tenancy completes a cycle of the last ended tenancy's length
    (a likely lease expiry, see :func:`months_to_cycle_end`); NaN if unknown."""
    return _series(pairs["e_months_to_cycle_end"], pairs)


def best_open_stage(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Furthest stage among the buildings courting the enterprise now (contacted 1, visited 2,
    negotiating 3, signed 4; NaN if none): with the pair's own stage it tells the courtship in
    the lead from the runner-ups."""
    return _series(pairs["e_best_open_stage"], pairs)


def lease_end_12m(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Probability that a lease term of the current tenancy ends within 12 months, with the
    term inferred from the enterprise's ended tenancies (see :func:`lease_end_probability`);
    NaN without a current tenancy."""
    return _series(pairs["e_lease_end_12m"], pairs)


def area_per_employee_log(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """log(current tenancy area m² / employees): low means crowded, a reason to move out;
    NaN without a tenancy, an area or a headcount."""
    values = pairs["e_area_per_employee_log"].to_numpy(dtype=np.float64)
    return _series(np.where(np.isfinite(values), values, np.nan), pairs)


def space_need_m2(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Estimated space need in m²: area of the current tenancy, else employees x 10 m²."""
    return _series(pairs["e_space_need_m2"], pairs)


def fitting_buildings_in_city(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Buildings in the enterprise's city whose vacancy fits its space need (the space-fit
    rule) as of the snapshot: the fewer it has, the likelier it picks any one of them."""
    return _series(pairs["e_fitting_buildings"], pairs)


def events_12m(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Attraction events (any building, any stage) in the 12 months up to the snapshot date."""
    return _series(pairs["e_events_12m"], pairs)


def move_hazard(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Probability that the enterprise starts a new tenancy within a year, from the move-hazard
    model of the context's vocabulary (learned on earlier years' firms); NaN without one."""
    return _series(pairs["e_move_hazard"], pairs)


def recent_declines(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Buildings the enterprise declined in the last 60 days (any building): it is deciding."""
    return _series(pairs["e_recent_declines"], pairs)


def tenure_months(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Months into the current tenancy as of the snapshot; NaN if the enterprise has none."""
    return _series(pairs["e_tenure_years"].to_numpy(dtype=np.float64) * 12.0, pairs)


def _tenure_modulo(months: int) -> Callable[[pd.DataFrame, ContextData], pd.Series]:
    def tenure_mod(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
        tenure = pairs["e_tenure_years"].to_numpy(dtype=np.float64) * 12.0
        return _series(np.mod(tenure, float(months)), pairs)

    tenure_mod.__name__ = f"tenure_mod_{months}"
    tenure_mod.__doc__ = (
        f"Months into the current tenancy modulo {months} (where a {months}-month lease term "
        "stands), in [0, months); NaN without a tenancy."
    )
    return tenure_mod


TENURE_MODULI = (12, 24, 36)  # common lease terms: one, two and three years
TENURE_MOD_FEATURES = {m: _tenure_modulo(m) for m in TENURE_MODULI}


def moves_total(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Tenancies the enterprise started by the snapshot date (its past moves)."""
    return _series(pairs["e_moves_total"], pairs)


def courting_buildings(pairs: pd.DataFrame, ctx: ContextData) -> pd.Series:
    """Buildings with an attraction event for the enterprise in the 180 days up to the
    snapshot date, any stage (how many are courting it)."""
    return _series(pairs["e_courting_buildings"], pairs)
