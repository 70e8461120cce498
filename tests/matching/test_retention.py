"""Retention watch through a real Engine: a small world whose served model holds a move hazard
fitted (in the test) to say "long tenure means leaving"; the at-risk list, its reasons and the
outlook's sums follow from it, and nothing is fitted when asked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, context_for, enterprise_features
from tenantmatch.matching import (
    Engine,
    NoMoveHazardError,
    at_risk_tenants,
    current_tenancies,
    outlook,
)
from tenantmatch.matching.retention import LEAVE_REASON_FEATURES
from tenantmatch.models import fit_move_hazard, hazard_attachments, promote, save_version
from tenantmatch.registry import InputError, NotFoundError, Registry, Snapshot
from tenantmatch.store import Repository
from tenantmatch.training.hazard import HAZARD_INPUTS
from tests.matching.test_chain import fit_model

AS_OF = date(2024, 6, 30)
N_TENANTS = 48  # B1 and B2 share them; B3 has none; B4 only a past one


def tables() -> dict[str, pd.DataFrame]:
    """4 buildings in 2 cities; 48 current tenants with tenure from 0.5 to 8 years."""
    buildings = pd.DataFrame({
        "building_id": ["B1", "B2", "B3", "B4"],
        "name": ["科创大厦", "迎泽中心", "平城广场", "空楼"],
        "city": ["太原市", "太原市", "大同市", "太原市"],
        "district": ["小店区", "迎泽区", "平城区", "小店区"],
        "theme": ["tech_rnd", "finance", "general", "finance"],
        "total_area_m2": [40000.0, 30000.0, 8000.0, 5000.0],
        "vacant_area_m2": [20000.0, 18000.0, 8000.0, 5000.0],
    })  # fmt: skip
    ids = [f"T{i:02d}" for i in range(N_TENANTS)] + ["P1"]
    enterprises = pd.DataFrame({
        "enterprise_id": ids, "name": [f"企业{i}" for i in ids],
        "industry_code": ["6510"] * len(ids),
        "employees": pd.array([20 + i for i in range(len(ids))], dtype="Int64"),
        "city": ["太原市"] * len(ids),
    })  # fmt: skip
    months = np.linspace(6, 96, N_TENANTS).round().astype(int)
    starts = [pd.Timestamp(AS_OF) - pd.DateOffset(months=int(m)) for m in months]
    tenancies = pd.DataFrame({
        "enterprise_id": [*ids[:N_TENANTS], "P1"],
        "building_id": ["B1" if i % 2 == 0 else "B2" for i in range(N_TENANTS)] + ["B4"],
        # every third tenancy has no area: the outlook then uses the firm's space need
        "area_m2": [np.nan if i % 3 == 0 else 100.0 + 10 * i for i in range(N_TENANTS)] + [50.0],
        "start_date": [*starts, pd.Timestamp("2019-01-01")],
        "end_date": [pd.NaT] * N_TENANTS + [pd.Timestamp("2022-01-01")],
    })  # fmt: skip
    return {"buildings": buildings, "enterprises": enterprises, "tenancies": tenancies}


def long_tenure_hazard(vocab: Vocabulary) -> Vocabulary:
    """``vocab`` with a served move hazard fitted so that tenure over 4 years means moving."""
    snapshot = Snapshot.at(Registry.from_tables(tables()), pd.Timestamp(AS_OF))
    X = enterprise_features(context_for(snapshot, vocab=vocab), HAZARD_INPUTS)
    moved = (X["e__tenure_years"].fillna(0) > 4).to_numpy()
    X, moved = pd.concat([X] * 6), np.tile(moved, 6)  # enough rows for the leaves
    fitted = fit_move_hazard(X, moved, params={"min_data_in_leaf": 5, "min_data_in_bin": 1},
                             n_jobs=1)  # fmt: skip
    assert fitted is not None
    return vocab.with_hazard(fitted[0])


def _engine(folder: Path, *, hazard: bool) -> Engine:
    repo = Repository(f"sqlite:///{folder / 'tm.db'}")
    repo.upsert(tables())
    scorer, _ = fit_model()
    vocab = Vocabulary.fit(Snapshot.at(Registry.from_tables(tables()), pd.Timestamp(AS_OF)))
    served = long_tenure_hazard(vocab) if hazard else vocab
    store = folder / "models"
    version = save_version(
        store, scorer, created=datetime(2024, 7, 1, tzinfo=UTC), vocabulary=vocab.to_dict(),
        attachments=hazard_attachments(served),
    )  # fmt: skip
    promote(store, version)
    return Engine(repo, store, as_of=AS_OF)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine(tmp_path_factory.mktemp("retention"), hazard=True)


def test_at_risk_ranks_the_buildings_current_tenants_by_the_hazard(engine: Engine) -> None:
    state = engine.state()
    result = at_risk_tenants(state, "B1", k=5)
    assert result["query"] == {"building_id": "B1", "k": 5}
    assert result["as_of"] == "2024-06-30" and result["horizon_months"] == 12
    assert result["model_version"] == engine.model_version
    assert result["tenants"] == N_TENANTS // 2
    items = result["items"]
    assert len(items) == 5
    # the hazard's own values, as the serving context holds them (nothing refitted)
    hazard = state.vocab.hazard
    assert hazard is not None
    X = enterprise_features(state.ctx, hazard.inputs)
    direct = pd.Series(hazard.predict(X), index=X.index)
    for item in items:
        assert item["probability"] == pytest.approx(direct[item["enterprise_id"]], abs=1e-4)
    probabilities = [i["probability"] for i in items]
    assert probabilities == sorted(probabilities, reverse=True)
    # long tenure means leaving here: the five longest-staying tenants of B1 come first
    assert all(i["tenure_years"] > 4 for i in items) and probabilities[0] > 0.5
    every = at_risk_tenants(state, "B1", k=500)["items"]
    assert {i["enterprise_id"] for i in every} == {f"T{i:02d}" for i in range(0, N_TENANTS, 2)}
    assert every[-1]["probability"] < 0.5 and every[-1]["tenure_years"] < 4
    assert result["expected_move_outs"] == pytest.approx(
        sum(i["probability"] for i in every), abs=0.01
    )


def test_items_carry_the_lease_and_the_reasons_that_raise_the_probability(engine: Engine) -> None:
    top = at_risk_tenants(engine.state(), "B2", k=1)["items"][0]
    row = tables()["tenancies"].set_index("enterprise_id").loc[top["enterprise_id"]]
    assert top["start_date"] == row["start_date"].date().isoformat()
    assert top["area_m2"] == (None if np.isnan(row["area_m2"]) else row["area_m2"])
    assert top["name"] == f"企业{top['enterprise_id']}" and top["industry_code"] == "6510"
    assert top["lease_end_estimate"] is None  # no ended tenancy to infer a term from
    assert top["reasons"], top
    assert top["reasons"][0]["feature"] in ("e__tenure_years", "e__months_since_move")
    assert any("年" in r["text"] or "个月" in r["text"] for r in top["reasons"])
    assert all(r["weight"] > 0 for r in top["reasons"])
    every = at_risk_tenants(engine.state(), "B2", k=500)["items"]
    features = {r["feature"] for item in every for r in item["reasons"]}
    assert features and features <= set(LEAVE_REASON_FEATURES)


def test_unknown_building_bad_k_and_empty_buildings(engine: Engine) -> None:
    state = engine.state()
    with pytest.raises(NotFoundError, match="NOPE"):
        at_risk_tenants(state, "NOPE")
    for k in (0, 501):
        with pytest.raises(InputError, match="k="):
            at_risk_tenants(state, "B1", k=k)
    for empty in ("B3", "B4"):  # none, or only a past tenant
        result = at_risk_tenants(state, empty)
        assert (result["tenants"], result["items"], result["expected_move_outs"]) == (0, [], 0.0)


def test_outlook_sums_probabilities_and_probability_times_area(engine: Engine) -> None:
    state = engine.state()
    ten = current_tenancies(state)
    ents = state.ctx.enterprises
    need = ents["space_need_m2"].reindex(ten["enterprise_id"]).to_numpy()
    area = np.where(ten["area_m2"].isna(), need, ten["area_m2"])
    assert np.isfinite(area).all() and ten["area_m2"].isna().sum() == N_TENANTS // 3
    by_building = {r["building_id"]: r for r in outlook(state, by="building")["items"]}
    assert set(by_building) == {"B1", "B2", "B3", "B4"}
    for building in ("B1", "B2"):
        mine = (ten["building_id"] == building).to_numpy()
        row = by_building[building]
        assert row["tenants"] == mine.sum()
        assert row["expected_move_outs"] == pytest.approx(ten["probability"][mine].sum(), abs=0.01)
        vacated = (ten["probability"].to_numpy() * area)[mine].sum()
        assert row["expected_vacated_m2"] == pytest.approx(vacated, abs=0.1)
        assert row["expected_vacant_m2_12m"] == pytest.approx(row["vacant_area_m2"] + vacated,
                                                              abs=0.2)  # fmt: skip
    assert by_building["B3"]["expected_move_outs"] == 0 == by_building["B4"]["tenants"]
    assert by_building["B1"]["theme_zh"] == "科技研发型"


def test_outlook_groups_and_filters(engine: Engine) -> None:
    state = engine.state()
    every = outlook(state, by="building")
    districts = outlook(state, by="district")
    themes = outlook(state, by="theme")
    assert [r["district"] for r in districts["items"]][:2] in (["小店区", "迎泽区"],
                                                                ["迎泽区", "小店区"])  # fmt: skip
    assert {r["theme"]: r["buildings"] for r in themes["items"]} == {
        "tech_rnd": 1, "finance": 2, "general": 1}  # fmt: skip
    for grouped in (districts, themes):
        assert grouped["totals"] == every["totals"]
        total = sum(r["expected_vacated_m2"] for r in grouped["items"])
        assert total == pytest.approx(every["totals"]["expected_vacated_m2"], abs=0.5)
    datong = outlook(state, by="building", city="大同市")
    assert [r["building_id"] for r in datong["items"]] == ["B3"]
    assert datong["totals"]["tenants"] == 0
    one = outlook(state, by="district", city="太原市", district="迎泽区", limit=1)
    assert one["groups"] == 1 and one["items"][0]["district"] == "迎泽区"
    assert len(outlook(state, by="building", limit=2)["items"]) == 2
    with pytest.raises(InputError, match="by='city'"):
        outlook(state, by="city")


def test_a_model_without_a_hazard_is_refused(tmp_path: Path) -> None:
    state = _engine(tmp_path, hazard=False).state()
    with pytest.raises(NoMoveHazardError, match="no move hazard"):
        at_risk_tenants(state, "B1")
    with pytest.raises(NoMoveHazardError):
        outlook(state, by="district")
