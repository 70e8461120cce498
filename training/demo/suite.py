"""The suite of named demo worlds (issue 19): fixed seeds, structurally different mechanisms
(lease terms or none; moves driven by growth, chain partners, price or distance; events that
lead moves, lag them or are mostly noise; missing optional columns; noisy headcounts), each
simulated 12 months past its end date so the following year can be graded.

Worlds flagged ``reserved`` are never used to choose a feature, a parameter or a label rule:
they are measured only at the end of a change (``python -m benchmarks.quality --reserved``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tenantmatch.registry import NotFoundError
from tenantmatch.training.demo.params import MoveRates, PreferenceWeights, Records, WorldParams

SUITE_HIDDEN_MONTHS = 12
_W = PreferenceWeights()
_RATES = MoveRates()
_RECORDS = Records()


@dataclass(frozen=True)
class SuiteWorld:
    """One named world of the suite: its parameters (seed included), whether it is reserved
    and what sets it apart, in one line."""

    name: str
    params: WorldParams
    reserved: bool
    description: str

    @property
    def seed(self) -> int:
        return self.params.seed

    @property
    def enterprises(self) -> int:
        return self.params.enterprises


def _world(
    name: str,
    description: str,
    *,
    enterprises: int,
    seed: int,
    reserved: bool = False,
    weights: PreferenceWeights = _W,
    rates: MoveRates = _RATES,
    records: Records = _RECORDS,
) -> SuiteWorld:
    params = WorldParams(
        enterprises=enterprises, seed=seed, weights=weights, rates=rates, records=records,
        hidden_months=SUITE_HIDDEN_MONTHS,
    )  # fmt: skip
    return SuiteWorld(name, params, reserved, description)


_NOISE_EVENTS = Records(recorded_share=0.15, cold_per_move=4.0)

WORLDS: tuple[SuiteWorld, ...] = (
    _world(
        "lease_uniform",
        "the original mechanism: 2-5 year leases, moves at lease ends and when space no longer "
        "fits, theme and cluster driven choice, events logged ahead of moves",
        enterprises=6_000, seed=101,
    ),
    _world(
        "lease36_fixed",
        "every lease runs exactly 36 months and moves happen almost only when one ends; "
        "events logged ahead",
        enterprises=4_000, seed=102,
        rates=MoveRates(lease_months=(36, 36), base_move=0.0005, outgrown_move=0.02),
    ),
    _world(
        "growth_no_lease",
        "no lease terms (memoryless): fast-growing and shrinking firms move when their space "
        "no longer fits; events are mostly noise",
        enterprises=4_000, seed=103,
        weights=replace(_W, area_fit=2.5, theme_fit=0.8),
        rates=MoveRates(leases=False, growth_sd=0.3, base_move=0.003, outgrown_move=0.25),
        records=_NOISE_EVENTS,
    ),
    _world(
        "chain_followers",
        "suppliers follow their customers: a customer's move pulls its suppliers within 6 "
        "months, into buildings where customers sit; 1-3 year leases; events logged ahead",
        enterprises=5_000, seed=104,
        weights=replace(_W, chain=3.5, theme_fit=0.3, agglomeration=0.8),
        rates=MoveRates(lease_months=(12, 36), partner_move=0.15, downstream_only=True),
    ),
    _world(
        "price_driven",
        "rent decides: tenants whose rent weighs on revenue leave, movers avoid dear "
        "buildings; 2-3 year leases; no amenities column; events back-filled after moves",
        enterprises=4_000, seed=105,
        weights=replace(_W, rent_burden=4.0, big_grade=0.5, big_amenities=0.2),
        rates=MoveRates(lease_months=(24, 36), price_move=0.08),
        records=Records(events="lag", drop_columns=("buildings.amenities",)),
    ),
    _world(
        "distance_home",
        "firms drift back towards their registered address and choose by distance from it; "
        "1-2 year leases; no rent or minimum-unit columns; events logged ahead",
        enterprises=3_000, seed=106,
        weights=replace(_W, distance_km=0.35, theme_fit=0.6),
        rates=MoveRates(lease_months=(12, 24), home_move=0.02, distance_from_home=True),
        records=Records(drop_columns=("buildings.rent_cny_m2_day", "buildings.min_unit_m2")),
    ),
    _world(
        "noisy_small",
        "2,000 firms and 60 buildings; registered headcounts are noisy and bracketed; no "
        "revenue or capital columns; 3-5 year leases; events back-filled after moves",
        enterprises=2_000, seed=107,
        rates=MoveRates(lease_months=(36, 60)),
        records=Records(
            events="lag", employee_noise_sd=0.6,
            drop_columns=("enterprises.revenue_10k_cny", "enterprises.registered_capital_10k_cny"),
        ),
    ),
    _world(
        "reserved_large_mixed",
        "20,000 firms: 2-4 year leases, partners pull in both directions, a mild price push; "
        "events logged ahead",
        enterprises=20_000, seed=201, reserved=True,
        weights=replace(_W, chain=2.0, rent_burden=2.0),
        rates=MoveRates(lease_months=(24, 48), partner_move=0.05, price_move=0.03),
    ),
    _world(
        "reserved_home_noise",
        "no lease terms: firms drift home and choose by distance from it; events mostly noise; "
        "noisy headcounts; no rent column",
        enterprises=3_000, seed=202, reserved=True,
        weights=replace(_W, distance_km=0.25, agglomeration=1.0),
        rates=MoveRates(leases=False, base_move=0.004, home_move=0.015, distance_from_home=True),
        records=Records(
            recorded_share=0.15, cold_per_move=4.0, employee_noise_sd=0.4,
            drop_columns=("buildings.rent_cny_m2_day",),
        ),
    ),
    _world(
        "reserved_fixed24_growth",
        "every lease runs 24 months, growth drives early moves, suppliers choose by their "
        "customers' buildings; events back-filled; no amenities or revenue columns",
        enterprises=8_000, seed=203, reserved=True,
        weights=replace(_W, chain=2.5, area_fit=2.0),
        rates=MoveRates(lease_months=(24, 24), growth_sd=0.25, outgrown_move=0.15,
                        downstream_only=True),
        records=Records(
            events="lag", drop_columns=("buildings.amenities", "enterprises.revenue_10k_cny")
        ),
    ),
)  # fmt: skip


def world_names(*, reserved: bool | None = None) -> list[str]:
    """Names in catalogue order: all (None), only reserved (True) or only open ones (False)."""
    return [w.name for w in WORLDS if reserved is None or w.reserved == reserved]


def suite_world(name: str) -> SuiteWorld:
    """The world called ``name``; NotFoundError naming the known ones."""
    for w in WORLDS:
        if w.name == name:
            return w
    raise NotFoundError(f"world {name!r} is unknown; known: {', '.join(world_names())}")
