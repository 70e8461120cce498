"""Monthly simulation of who rents which office: initial occupancy, lease expiries, growth-driven
moves, entries and exits, choices by a multinomial logit over sampled choice sets."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

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
from tenantmatch.training.demo.params import WorldParams

log = logging.getLogger(__name__)

NEVER_MOVED = -(10**6)  # month of a firm's last move before it ever moved
PARTNER_COLUMNS = 5  # partners' buildings always added to a choice set
ALTERNATIVES = 3  # runner-up buildings kept per move (for the attraction events)
INITIAL_BATCHES = 4


@dataclass(frozen=True)
class History:
    """Outcome of the simulation. ``tenancies``: firm, building (indices), area_m2, start, end
    (datetime64[D], NaT = open). ``moves``: firm, building, date, alt_1..alt_3 (-1 = none)."""

    tenancies: pd.DataFrame
    moves: pd.DataFrame
    building_of: np.ndarray  # building per enterprise at the end, -1 = none
    vacancy: np.ndarray  # m2 per building at the end


def month_start(params: WorldParams, t: np.ndarray | int) -> np.ndarray:
    """First day (datetime64[D]) of month t, counted from the start month (0)."""
    base = np.datetime64(f"{params.start.year:04d}-{params.start.month:02d}", "M")
    return (base + np.asarray(t)).astype("datetime64[D]")


class _Simulation:
    """Mutable world state stepped month by month; every array is indexed by enterprise or
    building row."""

    def __init__(self, rng: np.random.Generator, params: WorldParams, ctx: dict) -> None:
        self.rng, self.params, self.rates = rng, params, params.rates
        self.firms: Firms = ctx["firms"]
        self.bld: Buildings = ctx["buildings"]
        self.latent: pd.DataFrame = ctx["latent"]
        self.affinity: np.ndarray = ctx["affinity"]
        self.chain: ChainLookup = ctx["chain"]
        self.founded_day: np.ndarray = ctx["founded_day"]
        self.weights = params.weights.vector()
        n, nb = self.firms.division.size, self.bld.total.size
        self.n, self.nb, self.nd = n, nb, self.affinity.shape[1]
        self.building_of = np.full(n, -1, dtype=np.int64)
        self.area = np.zeros(n)
        self.lease_start = np.zeros(n, dtype=np.int64)
        self.open_row = np.full(n, -1, dtype=np.int64)
        self.moved = np.full(n, NEVER_MOVED, dtype=np.int64)  # month of the last move-in
        self.vacancy = self.bld.total.copy()
        self.lease = self.latent["lease_months"].to_numpy(np.int64)
        self.home_lat = self.latent["home_lat"].to_numpy(float)
        self.home_lon = self.latent["home_lon"].to_numpy(float)
        self.starts: list[pd.DataFrame] = []
        self.ends: list[tuple[np.ndarray, np.ndarray]] = []
        self.moves: list[pd.DataFrame] = []
        self.last = params.n_months - 1
        self.n_rows = 0
        order = np.argsort(self.bld.city, kind="stable")
        self.city_order = order
        self.city_lo = np.searchsorted(
            self.bld.city[order], np.arange(len(ctx["cities"])), side="left"
        )
        self.city_hi = np.searchsorted(
            self.bld.city[order], np.arange(len(ctx["cities"])), side="right"
        )
        self.home_city = pd.Categorical(self.latent["home_city"], categories=ctx["cities"]).codes

    # -- choice ---------------------------------------------------------------------------
    def _candidates(self, movers: Movers, keys: np.ndarray) -> np.ndarray:
        """(movers, K + PARTNER_COLUMNS) building indices, -1 where empty, duplicates -1."""
        m, k = movers.firm.size, self.rates.choice_set
        k_other = max(1, round(k * self.rates.other_city_share))
        city = np.where(
            movers.current >= 0,
            self.bld.city[np.maximum(movers.current, 0)],
            self.home_city[movers.firm],
        )
        lo, hi = self.city_lo[city], self.city_hi[city]
        u = self.rng.random((m, k - k_other))
        pos = lo[:, None] + np.floor(u * np.maximum(hi - lo, 1)[:, None]).astype(np.int64)
        same = np.where((hi > lo)[:, None], self.city_order[np.minimum(pos, self.nb - 1)], -1)
        other = self.rng.integers(0, self.nb, (m, k_other))
        partner = np.full((m, PARTNER_COLUMNS), -1, dtype=np.int64)
        rows, b = keys // self.nb, keys % self.nb
        rank = np.arange(keys.size) - np.searchsorted(rows, rows, side="left")
        keep = rank < PARTNER_COLUMNS
        partner[rows[keep], rank[keep]] = b[keep]
        cand = np.sort(np.concatenate([same, other, partner], axis=1), axis=1)
        dup = np.zeros_like(cand, dtype=bool)
        dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
        return np.where(dup, -1, cand)

    def _division_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(tenants per building and division, tenants per building) from the current state."""
        ten = self.building_of >= 0
        flat = self.building_of[ten] * self.nd + self.firms.division[ten]
        counts = np.bincount(flat, minlength=self.nb * self.nd).reshape(self.nb, self.nd)
        return counts, counts.sum(axis=1)

    def choose(self, movers: Movers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chosen building or -1, required m2, runner-ups (movers, ALTERNATIVES)) by MNL."""
        keys, weights = self.chain.partner_buildings(movers.firm, self.building_of, self.nb)
        cand = self._candidates(movers, keys)
        valid = cand >= 0
        c = np.maximum(cand, 0)
        rows = np.arange(movers.firm.size)[:, None]
        chain = lookup(keys, weights, rows * self.nb + c)
        counts, tenants = self._division_counts()
        agglo = counts[c, self.firms.division[movers.firm][:, None]] / np.maximum(tenants[c], 1)
        terms, taste, feasible = utility_terms(
            movers, c, firms=self.firms, buildings=self.bld, affinity=self.affinity,
            chain=chain, agglomeration=agglo, vacancy=self.vacancy,
        )  # fmt: skip
        v = utilities(terms, taste, feasible & valid, self.weights) + self.rng.gumbel(size=c.shape)
        order = np.argsort(-v, axis=1)[:, : ALTERNATIVES + 1]
        best = np.take_along_axis(v, order, axis=1)
        picked = np.take_along_axis(c, order, axis=1)
        picked = np.where(np.isfinite(best), picked, -1)
        required = np.maximum(movers.need, self.bld.min_unit[np.maximum(picked[:, 0], 0)])
        return picked[:, 0], required, picked[:, 1:]

    def _accept(self, chosen: np.ndarray, required: np.ndarray) -> np.ndarray:
        """Which choices fit the vacancy when movers of a month sign in random order."""
        prio = self.rng.permutation(chosen.size)
        order = np.lexsort((prio, chosen))
        b, r = chosen[order], required[order]
        cum = np.cumsum(r)
        first = np.searchsorted(b, b, side="left")
        within = cum - np.concatenate([[0.0], cum])[first]
        ok_sorted = (b >= 0) & (within <= self.vacancy[np.maximum(b, 0)])
        ok = np.zeros(chosen.size, dtype=bool)
        ok[order] = ok_sorted
        return ok

    def choose_and_accept(self, movers: Movers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Choices that fit the vacancy (taken at once); movers rejected for lack of space choose
        once more. Returns (building or -1, required m2, runner-ups)."""
        chosen, required, alts = self.choose(movers)
        ok = self._accept(chosen, required)
        np.subtract.at(self.vacancy, chosen[ok], required[ok])
        retry = np.flatnonzero(~ok & (chosen >= 0))
        if retry.size:
            c2, r2, a2 = self.choose(movers.subset(retry))
            ok2 = self._accept(c2, r2)
            np.subtract.at(self.vacancy, c2[ok2], r2[ok2])
            chosen[retry], required[retry], alts[retry], ok[retry] = c2, r2, a2, ok2
        return np.where(ok, chosen, -1), required, alts

    # -- bookkeeping ----------------------------------------------------------------------
    def _start(
        self,
        firms: np.ndarray,
        buildings: np.ndarray,
        area: np.ndarray,
        days: np.ndarray,
        month: np.ndarray | int,
    ) -> None:
        """Open tenancies (the vacancy was already taken)."""
        rows = np.arange(self.n_rows, self.n_rows + firms.size)
        self.n_rows += firms.size
        self.starts.append(
            pd.DataFrame({"firm": firms, "building": buildings, "area_m2": area, "start": days})
        )
        self.open_row[firms] = rows
        self.moved[firms] = month
        self.building_of[firms], self.area[firms], self.lease_start[firms] = buildings, area, month

    def _end(self, firms: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Close the firms' open tenancies on ``days``; returns (building, area) to release."""
        self.ends.append((self.open_row[firms], days))
        released = (self.building_of[firms].copy(), self.area[firms].copy())
        self.open_row[firms], self.building_of[firms], self.area[firms] = -1, -1, 0.0
        return released

    def _movers(self, firms: np.ndarray, t: int) -> Movers:
        """Movers' state in month t: where they are (building or home) and what they need."""
        cur = self.building_of[firms]
        at = np.maximum(cur, 0)
        office = (cur >= 0) & (not self.rates.distance_from_home)
        return Movers(
            firm=firms,
            lat=np.where(office, self.bld.lat[at], self.home_lat[firms]),
            lon=np.where(office, self.bld.lon[at], self.home_lon[firms]),
            current=cur,
            need=self.firms.need_m2(self.last - t)[firms],
        )

    # -- the history ----------------------------------------------------------------------
    def initial_occupancy(self) -> None:
        """Tenants at the start: firms founded before it sort into buildings in batches, each
        batch seeing the partners and industry mix the earlier ones created."""
        founded = self.latent["founded_month"].to_numpy(np.int64)
        prone = self.latent["office_prone"].to_numpy(float)
        p = np.clip(self.rates.initial_office_share * np.sqrt(prone), 0.0, 0.97)
        firms = np.flatnonzero((founded < 0) & (self.rng.random(self.n) < p))
        for batch in np.array_split(self.rng.permutation(firms), INITIAL_BATCHES):
            chosen, required, _ = self.choose_and_accept(self._movers(batch, -1))
            ok = chosen >= 0
            f, lease = batch[ok], self.lease[batch[ok]]
            month = -(1 + self.rng.integers(0, lease) + lease * self.rng.integers(0, 3, f.size))
            month = np.maximum(month, founded[f])
            days = month_start(self.params, month) + self.rng.integers(0, 28, f.size)
            self._start(f, chosen[ok], required[ok], np.maximum(days, self.founded_day[f]), month)

    def _partner_pull(self, t: int) -> np.ndarray | float:
        """Link weight of partners who moved in the ``partner_months`` before month t."""
        if self.rates.partner_move == 0.0:
            return 0.0
        recent = (self.moved < t) & (self.moved >= t - self.rates.partner_months)
        return self.chain.pull(recent.astype(float))

    def _decide(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(movers, leavers, deregistered tenants) of month t."""
        r = self.rates
        founded = self.latent["founded_month"].to_numpy(np.int64)
        dereg = self.latent["dereg_month"].to_numpy(np.int64)
        active = (founded <= t) & (dereg > t)
        tenant = self.building_of >= 0
        ending = expiring(r, tenant=tenant, age_months=t - self.lease_start, lease=self.lease)
        ending &= active
        u = self.rng.random(self.n)
        burden, home_km = tenant_burden_and_home_km(
            np.arange(self.n), building_of=self.building_of, area=self.area,
            all_firms=self.firms, buildings=self.bld, home=(self.home_lat, self.home_lon),
        )  # fmt: skip
        p_move = calm_move(
            r,
            pressure=space_pressure(self.firms.need_m2(self.last - t), self.area),
            mobility=self.latent["mobility"].to_numpy(float),
            partner_pull=self._partner_pull(t),
            burden=burden,
            home_km=home_km,
        )
        calm = tenant & active & ~ending
        leave = (ending & (u >= r.renew_at_expiry) & (u < r.renew_at_expiry + r.exit_at_expiry)) | (
            calm & (u < r.exit)
        )
        move = (ending & (u >= r.renew_at_expiry + r.exit_at_expiry)) | (
            calm & (u >= r.exit) & (u < r.exit + p_move)
        )
        enter = ~tenant & active & (u < r.entry * self.latent["office_prone"].to_numpy(float))
        return (
            np.flatnonzero(move | enter),
            np.flatnonzero(leave),
            np.flatnonzero(tenant & (dereg == t)),
        )

    def step(self, t: int) -> None:
        """One month: choose, sign, move out, leave; space freed this month opens next month."""
        movers, leavers, gone = self._decide(t)
        first = month_start(self.params, t)
        chosen, required, alts = self.choose_and_accept(self._movers(movers, t))
        ok = chosen >= 0
        f = movers[ok]
        days = np.maximum(first + self.rng.integers(0, 28, f.size), self.founded_day[f])
        was = self.building_of[f] >= 0
        released = [self._end(f[was], days[was] - 1)]
        self._start(f, chosen[ok], required[ok], days, t)
        out = np.concatenate([leavers, gone])
        released.append(self._end(out, first + self.rng.integers(0, 28, out.size)))
        for b, area in released:
            np.add.at(self.vacancy, b, area)
        alt = {f"alt_{i + 1}": alts[ok, i] for i in range(ALTERNATIVES)}
        self.moves.append(pd.DataFrame({"firm": f, "building": chosen[ok], "date": days, **alt}))

    def result(self) -> History:
        """The tenancies, moves and end state collected so far."""
        ten = pd.concat(self.starts, ignore_index=True)
        end = np.full(len(ten), np.datetime64("NaT"), dtype="datetime64[D]")
        for rows, days in self.ends:
            end[rows] = days
        ten["end"] = end
        moves = pd.concat(self.moves, ignore_index=True)
        return History(
            tenancies=ten,
            moves=moves,
            building_of=self.building_of.copy(),
            vacancy=self.vacancy.copy(),
        )


def simulate(
    rng: np.random.Generator, params: WorldParams, ctx: dict, *, progress: bool = False
) -> History:
    """Run the history from the start month to the end month and ``hidden_months`` beyond;
    ``ctx`` holds firms, buildings, latent, affinity, chain, founded_day (datetime64[D]) and
    cities (names in index order)."""
    sim = _Simulation(rng, params, ctx)
    sim.initial_occupancy()
    log.info("initial occupancy: %d tenants", int((sim.building_of >= 0).sum()))
    months = params.n_months + params.hidden_months
    for t in tqdm(range(months), desc="months", disable=not progress):
        sim.step(t)
    return sim.result()
