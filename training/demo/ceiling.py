"""``ceiling_scores``: the generator's own probability that an enterprise moves into a building
within a horizon, from its equations, true weights, latent variables and the state as of a date.
Only evaluation may call it: it is the ceiling a learned ranker is compared with.

It covers the buildings and enterprises the world's truth knows; rows a live registry gained
later (a firm added through the API) score 0 and are logged, never an error."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.registry import InputError
from tenantmatch.training.demo import catalog as cat
from tenantmatch.training.demo.choice import (
    Buildings,
    ChainLookup,
    Firms,
    Movers,
    lookup,
    utilities,
    utility_terms,
)
from tenantmatch.training.demo.hazards import (
    calm_move,
    expiring,
    space_pressure,
    tenant_burden_and_home_km,
)
from tenantmatch.training.demo.history import NEVER_MOVED
from tenantmatch.training.demo.params import WorldParams
from tenantmatch.training.demo.truth import Truth, read_truth

log = logging.getLogger(__name__)

CELLS_PER_CHUNK = 2_000_000  # enterprises x buildings evaluated at once
MOVE_DAYS = 28  # a month's moves start on its days 1-28 (history.step)


def _month_index(params: WorldParams, when: pd.Series | pd.Timestamp) -> np.ndarray:
    """Months since the start month (may be negative)."""
    d = pd.DatetimeIndex(pd.Series(when).to_numpy())
    return np.asarray(
        (d.year - params.start.year) * 12 + d.month - params.start.month, dtype=np.int64
    )


class _State:
    """The world as of a date: buildings and enterprises from the truth, who rents what from
    the tables (rows of ids the truth does not know are left out)."""

    def __init__(
        self, tables: Mapping[str, pd.DataFrame], truth: Truth, as_of: pd.Timestamp
    ) -> None:
        self.params, lat = truth.params, truth.latent
        frame = truth.buildings if truth.buildings is not None else tables["buildings"]
        self.buildings = Buildings.from_frame(frame)
        self.nb = self.buildings.total.size
        self.firms = Firms.from_latent(lat, lat["employees_end"].to_numpy(float))
        self.e_index = pd.Index(lat["enterprise_id"])
        self.b_index = pd.Index(frame["building_id"])
        n = len(lat)
        ten = tables["tenancies"]
        self.moved = _last_move(ten, self.e_index, self.params, as_of)
        active = ten[
            (ten["start_date"] <= as_of) & (ten["end_date"].isna() | (ten["end_date"] > as_of))
        ]
        active = active.sort_values("start_date", kind="stable").drop_duplicates(
            "enterprise_id", keep="last"
        )
        e = self.e_index.get_indexer(active["enterprise_id"])
        b = self.b_index.get_indexer(active["building_id"])
        ok = (e >= 0) & (b >= 0)
        self.building_of = np.full(n, -1, dtype=np.int64)
        self.area = np.zeros(n)
        self.start_month = np.zeros(n, dtype=np.int64)
        self.building_of[e[ok]] = b[ok]
        self.area[e[ok]] = active["area_m2"].to_numpy(float)[ok]
        self.start_month[e[ok]] = _month_index(self.params, active["start_date"])[ok]
        occupied = np.bincount(b[ok], weights=self.area[e[ok]], minlength=self.nb)
        self.vacancy = np.maximum(self.buildings.total - occupied, 0.0)
        directed = self.params.rates.downstream_only
        self.chain = _chain(tables.get("links"), self.e_index, n, directed=directed)
        ten_mask = self.building_of >= 0
        flat = self.building_of[ten_mask] * len(cat.DIVISION_CODES) + self.firms.division[ten_mask]
        self.div_counts = np.bincount(flat, minlength=self.nb * len(cat.DIVISION_CODES)).reshape(
            self.nb, -1
        )
        self.latent, self.affinity = lat, truth.affinity
        self.home = (lat["home_lat"].to_numpy(float), lat["home_lon"].to_numpy(float))


def _last_move(
    ten: pd.DataFrame, e_index: pd.Index, params: WorldParams, as_of: pd.Timestamp
) -> np.ndarray:
    """Month of each enterprise's latest tenancy start on or before ``as_of`` (NEVER_MOVED)."""
    seen = ten.loc[ten["start_date"] <= as_of, ["enterprise_id", "start_date"]]
    e = e_index.get_indexer(pd.Index(seen["enterprise_id"]))
    months = _month_index(params, seen["start_date"])
    out = np.full(len(e_index), NEVER_MOVED, dtype=np.int64)
    np.maximum.at(out, e[e >= 0], months[e >= 0])
    return out


def _chain(links: pd.DataFrame | None, e_index: pd.Index, n: int, *, directed: bool) -> ChainLookup:
    """The partner lookup from the links table (empty when there is none)."""
    if links is None or links.empty:
        empty = np.zeros(0, dtype=np.int64)
        return ChainLookup(empty, empty, np.zeros(0), n)
    s = e_index.get_indexer(pd.Index(links["source_id"]))
    t = e_index.get_indexer(pd.Index(links["target_id"]))
    w = (
        links["weight"].astype("float64").fillna(0.5).to_numpy()
        if "weight" in links
        else np.full(len(links), 0.5)
    )
    ok = (s >= 0) & (t >= 0)
    return ChainLookup(s[ok], t[ok], w[ok], n, directed=directed)


def _months(params: WorldParams, as_of: pd.Timestamp, horizon_days: int) -> list[tuple[int, float]]:
    """(month index, share of that month's move days inside (as_of, as_of + horizon])."""
    end = as_of + pd.Timedelta(days=horizon_days)
    t0, t1 = int(_month_index(params, as_of)[0]), int(_month_index(params, end)[0])
    out = []
    for t in range(t0, t1 + 1):
        lo = as_of.day if t == t0 else 0
        hi = min(end.day, MOVE_DAYS) if t == t1 else MOVE_DAYS
        out.append((t, max(0, hi - lo) / MOVE_DAYS))
    return out


def _monthly_moves(
    st: _State,
    firms: np.ndarray,
    months: list[tuple[int, float]],
    *,
    pull: list[np.ndarray] | None,
) -> np.ndarray:
    """(months, firms) P(the firm's next move happens in that month), by the monthly hazards;
    ``pull[k]`` is every enterprise's partner pull in month k (None: no partner term)."""
    r, lat = st.params.rates, st.latent
    founded, dereg = lat["founded_month"].to_numpy()[firms], lat["dereg_month"].to_numpy()[firms]
    lease, mobility = lat["lease_months"].to_numpy()[firms], lat["mobility"].to_numpy()[firms]
    entry = r.entry * lat["office_prone"].to_numpy()[firms]
    tenant, area, start = st.building_of[firms] >= 0, st.area[firms], st.start_month[firms]
    burden, home_km = tenant_burden_and_home_km(
        firms, building_of=st.building_of, area=st.area, all_firms=st.firms,
        buildings=st.buildings, home=st.home,
    )  # fmt: skip
    survive, out = np.ones(firms.size), np.zeros((len(months), firms.size))
    for k, (t, scale) in enumerate(months):
        active = (founded <= t) & (dereg > t)
        ending = expiring(r, tenant=tenant, age_months=t - start, lease=lease)
        need = st.firms.need_m2(st.params.n_months - 1 - t)[firms]
        p_calm = calm_move(
            r, pressure=space_pressure(need, area), mobility=mobility,
            partner_pull=0.0 if pull is None else pull[k][firms], burden=burden, home_km=home_km,
        )  # fmt: skip
        move = np.where(
            tenant, np.where(ending, 1.0 - r.renew_at_expiry - r.exit_at_expiry, p_calm), entry
        )
        leave = np.where(tenant, np.where(ending, r.exit_at_expiry, r.exit), 0.0)
        move, leave = move * active * scale, leave * active * scale
        out[k] = survive * move
        survive *= 1.0 - move - leave
    return out


def _partner_pull(st: _State, months: list[tuple[int, float]]) -> list[np.ndarray] | None:
    """Per month, every enterprise's link weight of partners who moved in the months before:
    moves up to as_of as recorded, later ones by their probability (mean field)."""
    r = st.params.rates
    if r.partner_move == 0.0:
        return None
    everyone = np.arange(st.firms.division.size)
    later = _monthly_moves(st, everyone, months, pull=None)
    t0 = months[0][0]
    out = []
    for t, _ in months:
        known = ((st.moved < t) & (st.moved >= t - r.partner_months)).astype(float)
        lo = max(t - r.partner_months, t0) - t0
        expected = later[lo : t - t0].sum(axis=0)
        out.append(st.chain.pull(np.minimum(known + expected, 1.0)))
    return out


def _choice_probabilities(st: _State, firms: np.ndarray, as_of: pd.Timestamp) -> np.ndarray:
    """(firms, buildings) P(choose b | the firm moves), MNL with sampling-inclusion weights."""
    r, b = st.params.rates, st.buildings
    cur = st.building_of[firms]
    at = np.maximum(cur, 0)
    home_city = pd.Categorical(st.latent["home_city"], categories=list(cat.CITY_SHARES)).codes[
        firms
    ]
    city = np.where(cur >= 0, b.city[at], home_city)
    months_before_end = st.params.n_months - 1 - int(_month_index(st.params, as_of)[0])
    office = (cur >= 0) & (not r.distance_from_home)
    movers = Movers(
        firm=firms,
        lat=np.where(office, b.lat[at], st.home[0][firms]),
        lon=np.where(office, b.lon[at], st.home[1][firms]),
        current=cur,
        need=st.firms.need_m2(months_before_end)[firms],
    )
    cand = np.broadcast_to(np.arange(st.nb), (firms.size, st.nb))
    keys, weights = st.chain.partner_buildings(firms, st.building_of, st.nb)
    rows = np.arange(firms.size)[:, None]
    chain = lookup(keys, weights, rows * st.nb + cand)
    agglo = st.div_counts[cand, st.firms.division[firms][:, None]] / np.maximum(
        st.div_counts.sum(axis=1)[cand], 1
    )
    terms, taste, feasible = utility_terms(
        movers, cand, firms=st.firms, buildings=b, affinity=st.affinity,
        chain=chain, agglomeration=agglo, vacancy=st.vacancy,
    )  # fmt: skip
    v = utilities(terms, taste, feasible, st.params.weights.vector())
    k_other = max(1, round(r.choice_set * r.other_city_share))
    n_city = np.bincount(b.city, minlength=len(cat.CITY_SHARES))
    miss_other = (1.0 - 1.0 / st.nb) ** k_other
    miss_city = (1.0 - 1.0 / np.maximum(n_city[city], 1)) ** (r.choice_set - k_other)
    same = b.city[None, :] == city[:, None]
    incl = 1.0 - np.where(same, miss_city[:, None] * miss_other, miss_other)
    incl = np.where(chain > 0, 1.0, incl)  # partners' buildings are always in the choice set
    vmax = np.max(np.where(np.isfinite(v), v, -1e300), axis=1, keepdims=True)
    expv = np.where(np.isfinite(v), incl * np.exp(v - vmax), 0.0)
    denom = expv.sum(axis=1, keepdims=True)
    return np.where(denom > 0, expv / np.where(denom > 0, denom, 1.0), 0.0)


def _known(pairs: pd.DataFrame, st: _State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(enterprise row, building row, known) per pair; logs the pairs the truth does not know."""
    e = st.e_index.get_indexer(pairs["enterprise_id"])
    b = st.b_index.get_indexer(pairs["building_id"])
    known = (e >= 0) & (b >= 0)
    if not known.all():
        first = pairs.loc[~known, ["building_id", "enterprise_id"]].iloc[0].tolist()
        log.warning(
            "ceiling: %d of %d pairs name a building or enterprise this world's truth does not "
            "know (first %s); they score 0",
            int((~known).sum()), len(pairs), first,
        )  # fmt: skip
    return e, b, known


def ceiling_scores(
    pairs: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    *,
    as_of: pd.Timestamp,
    horizon_days: int = 365,
    truth_dir: Path,
) -> np.ndarray:
    """P(enterprise moves into building within ``horizon_days`` after ``as_of``) for each row of
    ``pairs`` (building_id, enterprise_id), float64 aligned to ``pairs``; tables are canonical.
    Moves already under way on ``as_of`` (see ``_in_flight``) have probability 1; pairs whose
    building or enterprise the truth does not know have 0."""
    if horizon_days < 1:
        raise InputError(f"horizon_days={horizon_days}: must be >= 1")
    truth = read_truth(truth_dir)
    as_of = pd.Timestamp(as_of)
    st = _State(tables, truth, as_of)
    e, b, known = _known(pairs, st)
    out = np.zeros(len(pairs))
    firms, inv = np.unique(e[known], return_inverse=True)
    months = _months(st.params, as_of, horizon_days)
    p_move = _monthly_moves(st, firms, months, pull=_partner_pull(st, months)).sum(axis=0)
    scores = np.empty(int(known.sum()))
    bk = b[known]
    chunk = max(1, CELLS_PER_CHUNK // st.nb)
    for lo in range(0, firms.size, chunk):
        probs = _choice_probabilities(st, firms[lo : lo + chunk], as_of)
        sel = (inv >= lo) & (inv < lo + chunk)
        scores[sel] = p_move[inv[sel]] * probs[inv[sel] - lo, bk[sel]]
    out[known] = scores
    if truth.params.records.events == "lead":  # only a logged-ahead pipeline foretells a move
        in_flight = _in_flight(pairs, tables, as_of=as_of, horizon_days=horizon_days)
        out = np.where(known, np.maximum(out, in_flight), 0.0)
    return out


PIPELINE_LEAD_DAYS = 120  # the longest a logged attraction pipeline runs before its start date


def _in_flight(
    pairs: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    *,
    as_of: pd.Timestamp,
    horizon_days: int,
) -> np.ndarray:
    """1.0 for pairs whose move was already under way on ``as_of``, else 0.0.

    The generator logs a mover's attraction pipeline (contacted ... signed) up to
    ``PIPELINE_LEAD_DAYS`` before the start date, so events dated on or before ``as_of`` can
    belong to a move that starts after it. Those events are in the data a ranker sees; the
    generator knows which of them are the winner's pipeline, so its ceiling ranks those first."""
    ten, ev = tables["tenancies"], tables.get("events")
    if ev is None or ev.empty:
        return np.zeros(len(pairs))
    end = as_of + pd.Timedelta(days=horizon_days)
    moves = ten.loc[(ten["start_date"] > as_of) & (ten["start_date"] <= end)]
    seen = ev.loc[
        (ev["date"] <= as_of) & (ev["date"] > as_of - pd.Timedelta(days=PIPELINE_LEAD_DAYS))
    ]
    keys = ["building_id", "enterprise_id"]
    flight = moves[keys].merge(seen[keys].drop_duplicates(), on=keys).drop_duplicates()
    flight = flight.assign(_in_flight=1.0)
    hit = pairs[keys].reset_index(drop=True).merge(flight, on=keys, how="left")["_in_flight"]
    return hit.fillna(0.0).to_numpy(dtype=np.float64)
