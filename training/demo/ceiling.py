"""``ceiling_scores``: the generator's own probability that an enterprise moves into a building
within a horizon, from its equations, true weights, latent variables and the state as of a date.
Only evaluation may call it: it is the ceiling a learned ranker is compared with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.registry import InputError, NotFoundError
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
from tenantmatch.training.demo.params import WorldParams
from tenantmatch.training.demo.truth import Truth, read_truth

CELLS_PER_CHUNK = 2_000_000  # enterprises x buildings evaluated at once


def _month_index(params: WorldParams, when: pd.Series | pd.Timestamp) -> np.ndarray:
    """Months since the start month (may be negative)."""
    d = pd.DatetimeIndex(pd.Series(when).to_numpy())
    return np.asarray(
        (d.year - params.start.year) * 12 + d.month - params.start.month, dtype=np.int64
    )


class _State:
    """The world as of a date, rebuilt from the canonical tables and the truth."""

    def __init__(
        self, tables: Mapping[str, pd.DataFrame], truth: Truth, as_of: pd.Timestamp
    ) -> None:
        self.params, lat = truth.params, truth.latent
        self.buildings = Buildings.from_frame(tables["buildings"])
        self.nb = self.buildings.total.size
        self.firms = Firms.from_latent(lat, lat["employees_end"].to_numpy(float))
        self.e_index = pd.Index(lat["enterprise_id"])
        self.b_index = pd.Index(tables["buildings"]["building_id"])
        ten = tables["tenancies"]
        active = ten[
            (ten["start_date"] <= as_of) & (ten["end_date"].isna() | (ten["end_date"] > as_of))
        ]
        active = active.sort_values("start_date", kind="stable").drop_duplicates(
            "enterprise_id", keep="last"
        )
        e = self.e_index.get_indexer(active["enterprise_id"])
        b = self.b_index.get_indexer(active["building_id"])
        ok = (e >= 0) & (b >= 0)
        n = len(lat)
        self.building_of = np.full(n, -1, dtype=np.int64)
        self.area = np.zeros(n)
        self.start_month = np.zeros(n, dtype=np.int64)
        self.building_of[e[ok]] = b[ok]
        self.area[e[ok]] = active["area_m2"].to_numpy(float)[ok]
        self.start_month[e[ok]] = _month_index(self.params, active["start_date"])[ok]
        occupied = np.bincount(b[ok], weights=self.area[e[ok]], minlength=self.nb)
        self.vacancy = np.maximum(self.buildings.total - occupied, 0.0)
        self.chain = _chain(tables.get("links"), self.e_index, n)
        ten_mask = self.building_of >= 0
        flat = self.building_of[ten_mask] * len(cat.DIVISION_CODES) + self.firms.division[ten_mask]
        self.div_counts = np.bincount(flat, minlength=self.nb * len(cat.DIVISION_CODES)).reshape(
            self.nb, -1
        )
        self.latent, self.affinity = lat, truth.affinity


def _chain(links: pd.DataFrame | None, e_index: pd.Index, n: int) -> ChainLookup:
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
    return ChainLookup(s[ok], t[ok], w[ok], n)


def _move_probability(
    st: _State, firms: np.ndarray, as_of: pd.Timestamp, months: int
) -> np.ndarray:
    """P(the firm's next move happens within ``months`` after as_of), by the monthly hazards."""
    r, lat = st.params.rates, st.latent
    t0 = int(_month_index(st.params, as_of)[0])
    first_share = 1.0 - (as_of.day - 1) / as_of.days_in_month
    founded, dereg = lat["founded_month"].to_numpy()[firms], lat["dereg_month"].to_numpy()[firms]
    lease, mobility = lat["lease_months"].to_numpy()[firms], lat["mobility"].to_numpy()[firms]
    entry = r.entry * lat["office_prone"].to_numpy()[firms]
    tenant, area, start = st.building_of[firms] >= 0, st.area[firms], st.start_month[firms]
    survive, total = np.ones(firms.size), np.zeros(firms.size)
    for k in range(months):
        t = t0 + k
        active = (founded <= t) & (dereg > t)
        age = t - start
        expiring = tenant & (age > 0) & (age % lease == 0)
        ratio = np.log(st.firms.need_m2(st.params.n_months - 1 - t)[firms] / np.maximum(area, 1.0))
        pressure = np.maximum(0.0, ratio - np.log(1.3)) + 0.3 * np.maximum(
            0.0, -ratio - np.log(2.0)
        )
        p_calm = 1.0 - np.exp(-(r.base_move + r.outgrown_move * pressure) * mobility)
        move = np.where(
            tenant, np.where(expiring, 1.0 - r.renew_at_expiry - r.exit_at_expiry, p_calm), entry
        )
        leave = np.where(tenant, np.where(expiring, r.exit_at_expiry, r.exit), 0.0)
        scale = first_share if k == 0 else 1.0
        move, leave = move * active * scale, leave * active * scale
        total += survive * move
        survive *= 1.0 - move - leave
    return total


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
    movers = Movers(
        firm=firms,
        lat=np.where(cur >= 0, b.lat[at], st.latent["home_lat"].to_numpy()[firms]),
        lon=np.where(cur >= 0, b.lon[at], st.latent["home_lon"].to_numpy()[firms]),
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
    Moves already under way on ``as_of`` (see ``_in_flight``) have probability 1."""
    if horizon_days < 1:
        raise InputError(f"horizon_days={horizon_days}: must be >= 1")
    truth = read_truth(truth_dir)
    st = _State(tables, truth, pd.Timestamp(as_of))
    e = st.e_index.get_indexer(pairs["enterprise_id"])
    b = st.b_index.get_indexer(pairs["building_id"])
    if (e < 0).any() or (b < 0).any():
        bad = pairs.loc[(e < 0) | (b < 0), ["building_id", "enterprise_id"]].iloc[0].tolist()
        raise NotFoundError(f"pair {bad}: building or enterprise not in this world's tables/truth")
    firms, inv = np.unique(e, return_inverse=True)
    months = max(1, round(horizon_days / 30.44))
    p_move = _move_probability(st, firms, pd.Timestamp(as_of), months)
    out = np.empty(len(pairs))
    chunk = max(1, CELLS_PER_CHUNK // st.nb)
    for lo in range(0, firms.size, chunk):
        probs = _choice_probabilities(st, firms[lo : lo + chunk], pd.Timestamp(as_of))
        sel = (inv >= lo) & (inv < lo + chunk)
        out[sel] = p_move[inv[sel]] * probs[inv[sel] - lo, b[sel]]
    in_flight = _in_flight(pairs, tables, as_of=pd.Timestamp(as_of), horizon_days=horizon_days)
    return np.maximum(out, in_flight)


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
