"""Parameters of the synthetic Shanxi world: the movers' preference weights and the world's size,
history window and move rates. Both are frozen and JSON-serialisable (saved in ``_truth/``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from tenantmatch.registry import InputError

# Names of the utility terms, in the order of ``PreferenceWeights.vector()``.
UTILITY_TERMS: tuple[str, ...] = (
    "theme_fit",
    "chain",
    "agglomeration",
    "area_fit",
    "rent_burden",
    "distance_km",
    "big_grade",
    "big_amenities",
)


@dataclass(frozen=True)
class PreferenceWeights:
    """Weights of the movers' choice utility. Costs (rent burden, distance) enter with a minus
    sign, so every weight here is >= 0; ``taste_sd`` scales the hidden per-enterprise tastes."""

    theme_fit: float = 1.6
    chain: float = 1.2
    agglomeration: float = 2.0
    area_fit: float = 1.0
    rent_burden: float = 1.0
    distance_km: float = 0.06
    big_grade: float = 1.5
    big_amenities: float = 1.0
    taste_sd: float = 0.5

    @classmethod
    def alternative(cls, seed: int = 1) -> PreferenceWeights:
        """A clearly different world: chain partners and distance dominate, theme matters little.
        ``seed`` jitters each weight by up to +-10 %, deterministically."""
        base = cls(
            theme_fit=0.2,
            chain=3.5,
            agglomeration=0.6,
            area_fit=1.0,
            rent_burden=0.6,
            distance_km=0.18,
            big_grade=0.5,
            big_amenities=0.3,
            taste_sd=0.8,
        )
        jitter = np.random.default_rng(seed).uniform(0.9, 1.1, len(dataclasses.fields(cls)))
        values = {
            f.name: round(float(getattr(base, f.name) * j), 4)
            for f, j in zip(dataclasses.fields(cls), jitter, strict=True)
        }
        return cls(**values)

    def vector(self) -> np.ndarray:
        """Weights of ``UTILITY_TERMS`` as float64, shape (8,), signed as they enter the utility."""
        signs = {"rent_burden": -1.0, "distance_km": -1.0}
        return np.array([signs.get(t, 1.0) * getattr(self, t) for t in UTILITY_TERMS])


@dataclass(frozen=True)
class MoveRates:
    """Monthly hazards of the history. Probabilities are per month unless named otherwise."""

    initial_office_share: float = 0.85  # firms founded before start that already rent office space
    lease_months: tuple[int, int] = (24, 60)  # each firm's lease length, uniform in months
    renew_at_expiry: float = 0.45  # at lease expiry: renew in place
    exit_at_expiry: float = 0.05  # at lease expiry: leave office space; the rest move
    base_move: float = 0.002  # a tenant moves before expiry for no visible reason
    outgrown_move: float = 0.06  # added per unit of log(need / area) beyond +-log(1.4)
    entry: float = 0.025  # a firm without office space enters the office market
    exit: float = 0.0008  # a tenant gives up office space
    choice_set: int = 40  # buildings sampled per move: same city mostly, plus partners'
    other_city_share: float = 0.1  # share of the sampled choice set drawn from other cities
    # -- structural switches (the suite's worlds differ in these, not only in weights) --------
    leases: bool = True  # False: no lease terms, moves by the monthly hazard alone (memoryless)
    growth_sd: float = 0.12  # spread of the firms' hidden growth per year (log scale)
    partner_move: float = 0.0  # added per unit of link weight of partners who moved recently
    partner_months: int = 6  # how long a partner's move pulls (months)
    downstream_only: bool = False  # chain pull and chain utility follow customers only
    price_move: float = 0.0  # added per unit of rent burden above PRICE_BURDEN_FREE
    home_move: float = 0.0  # added per log(1 + km between the office and home / 5)
    distance_from_home: bool = False  # the choice's distance term runs from home, not the office


PRICE_BURDEN_FREE = 0.3  # rent burden (10 x rent / revenue) a tenant bears without moving
EVENT_MODES = ("lead", "lag")
DROPPABLE = (
    "buildings.rent_cny_m2_day",
    "buildings.amenities",
    "buildings.min_unit_m2",
    "buildings.grade",
    "enterprises.revenue_10k_cny",
    "enterprises.registered_capital_10k_cny",
)


@dataclass(frozen=True)
class Records:
    """How the world's registry records what happened: the attraction events' timing ("lead":
    logged as the pipeline runs, before the move; "lag": back-filled after it), their share and
    noise, the observed headcount's noise and optional columns left out of the files."""

    events: str = "lead"
    recorded_share: float = 0.7  # share of moves whose attraction work was logged
    cold_per_move: float = 0.3  # contacts with firms that did not move, per recorded move
    employee_noise_sd: float = 0.0  # lognormal sd of the observed headcount (0: exact)
    drop_columns: tuple[str, ...] = ()  # "table.column" of DROPPABLE, absent from the files

    def __post_init__(self) -> None:
        if self.events not in EVENT_MODES:
            raise InputError(f"events={self.events!r}: allowed {', '.join(EVENT_MODES)}")
        unknown = sorted(set(self.drop_columns) - set(DROPPABLE))
        if unknown:
            raise InputError(f"drop_columns {unknown}: allowed {', '.join(DROPPABLE)}")


@dataclass(frozen=True)
class WorldParams:
    """Size, seed and history window of a demo world. ``buildings=None`` derives
    max(60, round(enterprises / 40)). Dates are fixed defaults, never the clock."""

    enterprises: int = 20_000
    buildings: int | None = None
    seed: int = 0
    start: date = date(2019, 1, 1)
    end: date = date(2026, 10, 31)
    weights: PreferenceWeights = field(default_factory=PreferenceWeights)
    rates: MoveRates = field(default_factory=MoveRates)
    records: Records = field(default_factory=Records)
    # months simulated after ``end``, kept in _truth/hidden/ (the year a suite evaluates on)
    hidden_months: int = 0

    def __post_init__(self) -> None:
        if self.enterprises < 10:
            raise InputError(f"enterprises={self.enterprises}: at least 10 are needed")
        if self.buildings is not None and self.buildings < 2:
            raise InputError(f"buildings={self.buildings}: at least 2 are needed (or None)")
        if self.end <= self.start:
            raise InputError(f"end={self.end} must be after start={self.start}")
        if self.hidden_months < 0:
            raise InputError(f"hidden_months={self.hidden_months}: must be >= 0")

    @property
    def n_buildings(self) -> int:
        """The number of buildings, derived from the enterprise count when not given."""
        return (
            self.buildings if self.buildings is not None else max(60, round(self.enterprises / 40))
        )

    @property
    def n_months(self) -> int:
        """Months simulated: from the start month to the end month inclusive."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        out = dataclasses.asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["n_buildings"] = self.n_buildings
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorldParams:
        """Inverse of ``to_json``."""
        rates = dict(data["rates"])
        rates["lease_months"] = tuple(rates["lease_months"])
        records = dict(data.get("records", {}))  # worlds written before records existed
        records["drop_columns"] = tuple(records.get("drop_columns", ()))
        return cls(
            enterprises=int(data["enterprises"]),
            buildings=data["buildings"],
            seed=int(data["seed"]),
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            weights=PreferenceWeights(**data["weights"]),
            rates=MoveRates(**rates),
            records=Records(**records),
            hidden_months=int(data.get("hidden_months", 0)),
        )
