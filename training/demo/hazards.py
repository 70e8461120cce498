"""The monthly move hazard outside lease expiries, shared by the history simulation and the
ceiling so that both read one equation: growth pressure, chain partners' recent moves, rent
burden and distance from home, each scaled by the world's rates."""

from __future__ import annotations

import numpy as np

from tenantmatch.training.demo.choice import Buildings, Firms, haversine_km, rent_burden
from tenantmatch.training.demo.params import PRICE_BURDEN_FREE, MoveRates


def space_pressure(need_m2: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """How badly the office no longer fits: log(need / area) beyond +log(1.3), and 0.3 x the
    shortfall beyond -log(2) (too big); 0 inside that band."""
    ratio = np.log(need_m2 / np.maximum(area_m2, 1.0))
    return np.maximum(0.0, ratio - np.log(1.3)) + 0.3 * np.maximum(0.0, -ratio - np.log(2.0))


def tenant_burden_and_home_km(
    firms: np.ndarray,
    *,
    building_of: np.ndarray,
    area: np.ndarray,
    all_firms: Firms,
    buildings: Buildings,
    home: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(rent burden of the current office, km from it to the firm's home) for ``firms``; 0 for
    firms without an office. ``building_of``/``area`` and ``home`` cover every enterprise."""
    b = building_of[firms]
    at = np.maximum(b, 0)
    burden = rent_burden(buildings.rent[at], area[firms], all_firms.revenue[firms])
    km = haversine_km(home[0][firms], home[1][firms], buildings.lat[at], buildings.lon[at])
    tenant = b >= 0
    return np.where(tenant, burden, 0.0), np.where(tenant, km, 0.0)


def calm_move(
    rates: MoveRates,
    *,
    pressure: np.ndarray,
    mobility: np.ndarray,
    partner_pull: np.ndarray | float,
    burden: np.ndarray,
    home_km: np.ndarray,
) -> np.ndarray:
    """P(a tenant moves this month) outside a lease expiry: 1 - exp(-intensity x mobility)."""
    intensity = (
        rates.base_move
        + rates.outgrown_move * pressure
        + rates.partner_move * np.asarray(partner_pull)
        + rates.price_move * np.maximum(0.0, burden - PRICE_BURDEN_FREE)
        + rates.home_move * np.log1p(home_km / 5.0)
    )
    return 1.0 - np.exp(-intensity * mobility)


def expiring(
    rates: MoveRates, *, tenant: np.ndarray, age_months: np.ndarray, lease: np.ndarray
) -> np.ndarray:
    """Tenants whose lease ends this month (never in a world without leases)."""
    if not rates.leases:
        return np.zeros(tenant.shape, dtype=bool)
    return tenant & (age_months > 0) & (age_months % lease == 0)
