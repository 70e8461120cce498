"""Tower planning: counterfactual theme fit and the knapsack fill plan, through a real Engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenantmatch.features import build_matrix
from tenantmatch.matching.candidates import PoolRules
from tenantmatch.matching.engine import Engine
from tenantmatch.matching.planning import THEMES, fill_plan, probabilities, theme_context, theme_fit
from tenantmatch.registry.errors import InputError, NotFoundError
from tests.matching.test_chain import fit_model, make_engine


@pytest.fixture(scope="module")
def model():
    return fit_model()


@pytest.fixture
def engine(tmp_path: Path, model) -> Engine:
    return make_engine(tmp_path, model)


def test_probabilities_platt_and_rank_softmax() -> None:
    scores = np.array([2.0, 0.0, -1.0])
    platt, kind = probabilities(scores, manifest={"calibration": {"a": 1.0, "b": -1.0}})
    assert kind == "platt"
    assert platt == pytest.approx(1 / (1 + np.exp(-(scores - 1.0))))
    soft, kind = probabilities(scores, manifest={})
    assert kind == "rank_softmax" and soft.sum() == pytest.approx(1.0)
    assert soft == pytest.approx(np.exp(scores) / np.exp(scores).sum())
    assert probabilities(np.empty(0), manifest={})[0].size == 0


def test_theme_context_replaces_only_the_theme(engine: Engine) -> None:
    state = engine.state()
    ctx = theme_context(state, "B1", "finance")
    pairs = state.pool.pair_frame(state.pool.pairs_for_buildings(np.array([0]), rules=PoolRules()))
    before = build_matrix(pairs, state.ctx, vocab=state.vocab)
    after = build_matrix(pairs, ctx, vocab=state.vocab)
    finance = state.vocab.theme.index("finance")
    assert (after["b__theme"] == finance).all() and not (before["b__theme"] == finance).any()
    assert (after["e__log_employees"] == before["e__log_employees"]).all()
    assert state.snapshot.buildings.at["B1", "theme"] == "tech_rnd"  # the state is untouched
    assert theme_context(state, "B1", "tech_rnd") is state.ctx


def test_theme_fit_covers_every_theme(engine: Engine) -> None:
    result = theme_fit(engine, "B1")
    rows = result["themes"]
    assert sorted(r["theme"] for r in rows) == sorted(THEMES)
    assert [r["theme"] for r in rows if r["current"]] == ["tech_rnd"]
    assert result["current_theme"] == "tech_rnd" and result["probability_kind"] == "rank_softmax"
    expected = [r["expected_signings"] for r in rows]
    assert expected == sorted(expected, reverse=True)
    assert sum(expected) == pytest.approx(1.0, abs=1e-3)  # shares over the pooled candidates
    assert len(set(expected)) > 1  # the counterfactual theme changes the model's view
    assert result["pool"]["city"] == "太原市" and result["pool"]["candidates"] > 30
    small = theme_fit(engine, "B1", pool_size=3)["themes"]
    assert all(s["expected_signings"] < 1.0 for s in small)


def test_theme_fit_with_calibration(tmp_path: Path, model) -> None:
    engine = make_engine(tmp_path, model, extra={"calibration": {"a": 1.0, "b": -3.0}})
    result = theme_fit(engine, "B1", pool_size=10)
    assert result["probability_kind"] == "platt"
    assert all(0 < r["expected_signings"] <= 10 for r in result["themes"])
    with pytest.raises(NotFoundError, match="NOPE"):
        theme_fit(engine, "NOPE")
    with pytest.raises(InputError, match="pool_size"):
        theme_fit(engine, "B1", pool_size=0)


def test_fill_plan_fits_vacancy_and_min_unit(engine: Engine) -> None:
    plan = fill_plan(engine, "B1")
    assert plan["vacant_area_m2"] == 2000.0 and plan["min_unit_m2"] == 100.0
    areas = [i["area_m2"] for i in plan["items"]]
    assert sum(areas) <= 2000.0 and plan["total_area_m2"] == pytest.approx(sum(areas))
    assert all(i["area_m2"] >= max(100.0, i["need_m2"]) for i in plan["items"])
    assert plan["fill_ratio"] >= 0.9  # 50 feasible firms of 50-300 m² can fill 2000 m²
    ids = {i["enterprise_id"] for i in plan["items"]}
    assert {"T1", "T2", "R1", "X1", "G1"}.isdisjoint(ids)
    assert plan["objective"]["total"] == pytest.approx(
        plan["objective"]["fit"] + plan["objective"]["chain"] + plan["objective"]["area"], abs=1e-3
    )
    assert plan["expected_signings"] == pytest.approx(
        sum(i["probability"] for i in plan["items"]), abs=1e-4
    )


def test_fill_plan_chain_bonus_pulls_in_partners(engine: Engine) -> None:
    partners = {"U1", "D1", "I1", "S1", "P1", "T3"}
    plan = fill_plan(engine, "B1", candidates=60, chain_bonus=50.0)
    chosen = {i["enterprise_id"]: i for i in plan["items"]}
    assert partners <= set(chosen)
    assert chosen["U1"]["chain_synergy"] == pytest.approx(0.8)
    assert chosen["I1"]["chain_synergy"] == pytest.approx(1.0)  # missing weight counts as 1


def test_fill_plan_small_candidate_set_and_theme(engine: Engine) -> None:
    plan = fill_plan(engine, "B1", candidates=3, theme="finance")
    assert plan["theme"] == "finance" and plan["candidates_considered"] == 3
    assert len(plan["items"]) <= 3 and plan["total_area_m2"] <= 2000.0
    with pytest.raises(InputError, match="theme 'casino'"):
        fill_plan(engine, "B1", theme="casino")
    with pytest.raises(InputError, match="candidates"):
        fill_plan(engine, "B1", candidates=0)


def test_empty_pool_gives_empty_plan(engine: Engine) -> None:
    full = fill_plan(engine, "B4")  # no vacancy: nothing fits
    assert full["items"] == [] and full["total_area_m2"] == 0.0 and full["fill_ratio"] is None
    assert full["expected_signings"] == 0.0
    nobody = fill_plan(engine, "B1", rules=PoolRules(cities={"长治市"}))
    assert nobody["items"] == [] and nobody["fill_ratio"] == 0.0
