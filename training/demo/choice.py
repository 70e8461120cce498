"""The movers' choice model, shared by the history simulation and ``ceiling_scores``: building
and enterprise arrays, chain-partner lookup, the utility terms and their weighted sum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tenantmatch.training.demo import catalog as cat

EARTH_RADIUS_KM = 6371.0
MAX_NEED_M2 = 25_000.0
CHAIN_SCALE = 4.0  # link weights are mostly 0.1-0.5: one typical partner counts about 1


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km between broadcastable arrays of WGS84 degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Buildings:
    """Per-building arrays (index = row of the buildings table) the utility reads."""

    city: np.ndarray  # int index into CITY_SHARES
    lat: np.ndarray
    lon: np.ndarray
    theme: np.ndarray  # int index into THEMES
    grade_score: np.ndarray  # super_a 1 .. c 0
    amenity_share: np.ndarray  # amenities / 11
    newness: np.ndarray  # (completed_year - 2010) / 10
    centrality: np.ndarray  # -(km to the city centre) / 5
    rent: np.ndarray  # CNY / m2 / day
    min_unit: np.ndarray  # m2
    total: np.ndarray  # m2

    @classmethod
    def from_frame(cls, b: pd.DataFrame) -> Buildings:
        """Arrays from a buildings table in contract form (city names as in CITY_SHARES)."""
        city = pd.Categorical(b["city"], categories=list(cat.CITY_SHARES)).codes.astype(np.int64)
        centre = _city_centres()
        lat, lon = b["lat"].to_numpy(float), b["lon"].to_numpy(float)
        grade = pd.Categorical(b["grade"], categories=list(cat.GRADES)).codes
        amen = b["amenities"].fillna("").astype(str).str.count(";") + b["amenities"].notna()
        return cls(
            city=city,
            lat=lat,
            lon=lon,
            theme=pd.Categorical(b["theme"], categories=list(cat.THEMES)).codes.astype(np.int64),
            grade_score=np.where(grade >= 0, cat.GRADE_SCORE[np.maximum(grade, 0)], 0.3),
            amenity_share=amen.to_numpy(float) / len(cat.AMENITIES),
            newness=(b["completed_year"].astype("float64").fillna(2008.0).to_numpy() - 2010.0)
            / 10.0,
            centrality=-haversine_km(lat, lon, centre[city, 0], centre[city, 1]) / 5.0,
            rent=b["rent_cny_m2_day"].astype("float64").fillna(2.5).to_numpy(),
            min_unit=b["min_unit_m2"].astype("float64").fillna(100.0).to_numpy(),
            total=b["total_area_m2"].to_numpy(float),
        )


def _city_centres() -> np.ndarray:
    """(city, [lat, lon]) of each city in CITY_SHARES order, from the city's adcode point."""
    return np.array([cat.CITY_CENTRES[c] for c in cat.CITY_SHARES])


@dataclass(frozen=True)
class Firms:
    """Per-enterprise arrays the utility and hazards read (index = row of the latent table)."""

    division: np.ndarray
    employees_end: np.ndarray
    office_exponent: np.ndarray
    m2_per_employee: np.ndarray
    growth: np.ndarray  # per year, log scale
    revenue: np.ndarray  # 10k CNY per year, never missing
    taste: np.ndarray  # (n, 3): quality, newness, centrality

    @classmethod
    def from_latent(cls, latent: pd.DataFrame, employees_end: np.ndarray) -> Firms:
        """Arrays from the hidden latent table and the employees at the end date."""
        exponents = np.array([v[4] for v in cat.DIVISIONS.values()])
        div = latent["division_idx"].to_numpy(np.int64)
        return cls(
            division=div,
            employees_end=employees_end.astype(float),
            office_exponent=exponents[div],
            m2_per_employee=latent["m2_per_employee"].to_numpy(float),
            growth=latent["growth_per_year"].to_numpy(float),
            revenue=latent["revenue_true"].to_numpy(float),
            taste=latent[["taste_quality", "taste_newness", "taste_centrality"]].to_numpy(float),
        )

    def employees_at(self, months_before_end: np.ndarray | float) -> np.ndarray:
        """Headcount some months before the end date, by the firm's hidden growth rate."""
        return self.employees_end * np.exp(-self.growth * np.asarray(months_before_end) / 12.0)

    def need_m2(self, months_before_end: np.ndarray | float) -> np.ndarray:
        """Office space needed (m2): office headcount (sub-linear for big and industrial firms)
        times the firm's m2 per employee, between 20 and MAX_NEED_M2."""
        emp = self.employees_at(months_before_end)
        office = np.where(emp <= 50, emp, 50.0 * (emp / 50.0) ** (0.85 * self.office_exponent))
        return np.clip(office * self.m2_per_employee, 20.0, MAX_NEED_M2)

    def big(self) -> np.ndarray:
        """0 for <= 20 employees rising to 1 at 1,000 (log scale), end-date headcount."""
        return np.clip((np.log10(np.maximum(self.employees_end, 1.0)) - 1.3) / 1.7, 0.0, 1.0)


def rent_burden(rent: np.ndarray, area_m2: np.ndarray, revenue_10k: np.ndarray) -> np.ndarray:
    """10 x yearly rent / revenue (1 = rent is a tenth of revenue), clipped to 0-5; shapes
    broadcast. Rent in CNY/m2/day, revenue in 10k CNY per year."""
    annual_rent_10k = rent * 365.0 * area_m2 / 1e4
    return np.clip(10.0 * annual_rent_10k / np.maximum(revenue_10k, 1.0), 0.0, 5.0)


class ChainLookup:
    """Summed link weight of an enterprise's partners per building: links in either direction,
    or with ``directed`` only from a source to its targets (a supplier follows its customers)."""

    def __init__(
        self,
        source: np.ndarray,
        target: np.ndarray,
        weight: np.ndarray,
        n: int,
        *,
        directed: bool = False,
    ) -> None:
        src = source if directed else np.concatenate([source, target])
        dst = target if directed else np.concatenate([target, source])
        w = weight if directed else np.concatenate([weight, weight])
        order = np.argsort(src, kind="stable")
        self._src, self._dst, self._w = src[order], dst[order], w[order]
        self._n = n
        self._indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])

    def pull(self, recent: np.ndarray) -> np.ndarray:
        """Per enterprise, the summed link weight times ``recent`` (one value per enterprise,
        e.g. 1 for partners who moved lately or a probability): float64, shape (n,)."""
        return np.bincount(self._src, weights=self._w * recent[self._dst], minlength=self._n)

    def partner_buildings(
        self, firms: np.ndarray, building_of: np.ndarray, n_buildings: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sorted keys row * n_buildings + building, summed weights) for ``firms`` (row = position
        in ``firms``), given each enterprise's building (-1 = none)."""
        counts = self._indptr[firms + 1] - self._indptr[firms]
        rows = np.repeat(np.arange(firms.size), counts)
        offsets = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        pos = np.repeat(self._indptr[firms], counts) + offsets
        b = building_of[self._dst[pos]]
        keep = b >= 0
        keys = rows[keep] * np.int64(n_buildings) + b[keep]
        uniq, inv = np.unique(keys, return_inverse=True)
        return uniq, np.bincount(inv, weights=self._w[pos][keep], minlength=uniq.size)


def lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[keys == query] for each query key (0 where absent); keys sorted."""
    if keys.size == 0:
        return np.zeros(query.shape)
    pos = np.clip(np.searchsorted(keys, query), 0, keys.size - 1)
    return np.where(keys[pos] == query, values[pos], 0.0)


@dataclass(frozen=True)
class Movers:
    """The state of a set of movers (one row each) when they choose."""

    firm: np.ndarray  # enterprise index
    lat: np.ndarray  # where they are now
    lon: np.ndarray
    current: np.ndarray  # current building or -1
    need: np.ndarray  # m2

    def subset(self, rows: np.ndarray) -> Movers:
        """The movers at positions ``rows``."""
        return Movers(
            self.firm[rows], self.lat[rows], self.lon[rows], self.current[rows], self.need[rows]
        )


def utility_terms(
    movers: Movers,
    cand: np.ndarray,
    *,
    firms: Firms,
    buildings: Buildings,
    affinity: np.ndarray,
    chain: np.ndarray,
    agglomeration: np.ndarray,
    vacancy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(terms, taste, feasible) for candidate buildings ``cand`` (movers x K): terms has shape
    (movers, K, 8) in UTILITY_TERMS order; ``chain`` and ``agglomeration`` are (movers, K)."""
    f = movers.firm[:, None]
    need = movers.need[:, None]
    required = np.maximum(need, buildings.min_unit[cand])
    big = firms.big()[f]
    burden = rent_burden(buildings.rent[cand], required, firms.revenue[f])
    vac = vacancy[cand]
    terms = np.stack(
        [
            affinity[buildings.theme[cand], firms.division[f]],
            np.log1p(CHAIN_SCALE * chain),
            agglomeration,
            -np.log(required / need)
            + 0.5 * np.minimum(0.0, np.log(np.maximum(vac, 1.0) / (2 * need))),
            burden,
            haversine_km(
                movers.lat[:, None], movers.lon[:, None], buildings.lat[cand], buildings.lon[cand]
            ),
            big * buildings.grade_score[cand],
            big * buildings.amenity_share[cand],
        ],
        axis=-1,
    )
    t = firms.taste[movers.firm]
    taste = (
        t[:, [0]] * (buildings.grade_score[cand] - 0.5)
        + t[:, [1]] * buildings.newness[cand]
        + t[:, [2]] * buildings.centrality[cand]
    )
    feasible = (vac >= required) & (cand != movers.current[:, None])
    return terms, taste, feasible


def utilities(
    terms: np.ndarray, taste: np.ndarray, feasible: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Systematic utility weights . terms + taste, -inf where infeasible; shape (movers, K)."""
    v = terms @ weights + taste
    return np.where(feasible, v, -np.inf)
