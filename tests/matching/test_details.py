"""What staff decide on (matching.details): space need vs vacancy, industry and size, and the
probability of signing from a Platt calibration, and only from one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tenantmatch.matching import calibrated, item_details
from tenantmatch.matching.candidates import Pairs
from tenantmatch.matching.engine import Engine
from tests.matching.test_shortlist import engine, models  # noqa: F401 (fixtures)

PLATT = {"calibration": {"a": 2.0, "b": -1.0, "horizon_days": 365}}


def test_calibrated_is_the_platt_sigmoid_or_nothing() -> None:
    p = calibrated(np.array([0.0, 0.5, 3.0]), manifest=PLATT)
    assert p is not None
    assert p.tolist() == pytest.approx([1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-5.0))])
    assert calibrated(np.array([1.0]), manifest={}) is None
    assert calibrated(np.array([1.0]), manifest={"calibration": {"a": 1.0}}) is None


def _pairs(engine: Engine, building: str, enterprises: list[str]) -> Pairs:  # noqa: F811
    pool = engine.state().pool
    b = pool.buildings.positions([building], kind="building")
    e = pool.enterprises.positions(enterprises, kind="enterprise")
    return Pairs(np.zeros(len(e), dtype=np.int64), np.repeat(b, len(e)), e)


def test_building_query_items_carry_industry_size_need_and_probability(engine: Engine) -> None:  # noqa: F811
    state = engine.state()
    pairs = _pairs(engine, "B1", ["E2", "E6"])
    details = item_details(state.snapshot, state.pool, pairs, np.array([0.5, 0.0]),
                           manifest=PLATT, building_query=True)  # fmt: skip
    e = state.snapshot.enterprises
    for item, enterprise in zip(details, ["E2", "E6"], strict=True):
        code = str(e.at[enterprise, "industry_code"])
        assert item["industry_code"] == code and item["industry_division"] == code[:2]
        assert item["industry_zh"] and item["industry_zh"] != code[:2]
        assert item["employees"] == int(e.at[enterprise, "employees"])
        assert item["vacant_m2"] == pytest.approx(
            state.snapshot.buildings.at["B1", "vacant_area_m2"]
        )
        need = state.pool.need_m2[state.pool.enterprises.positions([enterprise], kind="e")[0]]
        assert item["need_m2"] == pytest.approx(round(float(need), 2))
    assert [d["probability_pct"] for d in details] == [50.0, pytest.approx(26.9, abs=0.05)]
    plain = item_details(state.snapshot, state.pool, pairs, np.array([0.5, 0.0]), manifest={},
                         building_query=True)  # fmt: skip
    assert all("probability_pct" not in d for d in plain)


def test_enterprise_query_items_carry_the_buildings_place_and_theme(engine: Engine) -> None:  # noqa: F811
    state = engine.state()
    pairs = _pairs(engine, "B1", ["E2"])
    [item] = item_details(state.snapshot, state.pool, pairs, np.array([1.0]), manifest={},
                          building_query=False)  # fmt: skip
    b = state.snapshot.buildings.loc["B1"]
    assert (item["city"], item["district"], item["theme"]) == (b["city"], b["district"], b["theme"])
    assert item["theme_zh"] != item["theme"] and "industry_code" not in item
