"""Pair helpers: the count of buildings a need fits agrees with the space-fit rule."""

from __future__ import annotations

import numpy as np

from tenantmatch.features.pair import fitting_building_counts, space_fits

NAN = np.nan


def test_fitting_counts_by_hand() -> None:
    # city 0: vacancies 1,000 / 300 / unknown, min units 100 / 100 / 800; city 1: one building
    counts = fitting_building_counts(
        np.array([200.0, 500.0, 500.0, 40.0, NAN, 200.0]),
        np.array([0, 0, 1, 0, 0, -1]),
        b_city=np.array([0, 0, 0, 1]),
        vacant_m2=np.array([1000.0, 300.0, NAN, 400.0]),
        min_unit_m2=np.array([100.0, 100.0, 800.0, NAN]),
    )
    # 200 m² fits the first two (the 800 m² unit is over twice the need); 500 m² fits the
    # first and the unknown vacancy; 40 m² in city 0 fits none (units of 100 are over 2 x 40)
    assert counts[:4].tolist() == [2.0, 2.0, 0.0, 0.0]
    assert np.isnan(counts[4]) and np.isnan(counts[5])  # unknown need, unknown city


def test_fitting_counts_equal_the_rule_pair_by_pair() -> None:
    rng = np.random.default_rng(7)
    n_b, n_e = 300, 2000
    b_city, e_city = rng.integers(-1, 4, n_b), rng.integers(-1, 4, n_e)
    vacant, unit, need = rng.gamma(1, 800, n_b), rng.gamma(1, 300, n_b), rng.gamma(1, 500, n_e)
    vacant[rng.random(n_b) < 0.1] = NAN
    unit[rng.random(n_b) < 0.1] = NAN
    need[rng.random(n_e) < 0.05] = NAN
    got = fitting_building_counts(need, e_city, b_city=b_city, vacant_m2=vacant, min_unit_m2=unit)
    fits = space_fits(need[:, None], vacant_m2=vacant[None, :], min_unit_m2=unit[None, :])
    same_city = (b_city[None, :] == e_city[:, None]) & (e_city[:, None] >= 0)
    expected = np.where(np.isnan(need) | (e_city < 0), NAN, (fits & same_city).sum(axis=1))
    np.testing.assert_array_equal(got, expected)
    assert np.nanmax(got) > 10  # the case is not trivially empty
