"""The shortlist Engine end to end: storage -> snapshot -> candidates -> LightGBM scores ->
top k with reasons; and its refresh when the data or the CURRENT model changes."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, build_matrix, feature_names, feature_spec_fingerprint
from tenantmatch.matching.candidates import PoolRules
from tenantmatch.matching.engine import Engine, ModelNotReadyError
from tenantmatch.models import LGBMRankerScorer, promote, save_version
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.registry.errors import InputError, NotFoundError
from tenantmatch.store import Repository, changes
from tests.matching.test_candidates import AS_OF, world_tables

N_EXTRA = 60


def shortlist_tables() -> dict[str, pd.DataFrame]:
    """The candidates world plus N_EXTRA healthy firms of 5-59 employees."""
    tables = world_tables()
    rng = np.random.default_rng(7)
    extra = pd.DataFrame(
        {
            "enterprise_id": [f"F{i:03d}" for i in range(N_EXTRA)],
            "name": [f"企业{i}" for i in range(N_EXTRA)],
            "industry_code": rng.choice(["6510", "6620", "7240", "5110"], N_EXTRA),
            "employees": pd.array(rng.integers(5, 60, N_EXTRA), dtype="Int64"),
            "founded": pd.to_datetime(["2016-03-01"] * N_EXTRA),
            "city": rng.choice(["太原市", "大同市"], N_EXTRA),
            "district": None,
            "credit_score": rng.uniform(40, 100, N_EXTRA).round(),
        }
    )
    tables["enterprises"] = pd.concat([tables["enterprises"], extra], ignore_index=True)
    return tables


def _fit_model(snapshot: Snapshot, *, seed: int) -> tuple[LGBMRankerScorer, Vocabulary]:
    """A small lambdarank model: firms in the building's city with more staff grade higher."""
    vocab = Vocabulary.fit(snapshot)
    b, e = np.meshgrid(snapshot.buildings.index, snapshot.enterprises.index, indexing="ij")
    pairs = pd.DataFrame({"building_id": b.ravel(), "enterprise_id": e.ravel()})
    X = build_matrix(pairs, snapshot, vocab=vocab)
    staff = np.nan_to_num(X["e__log_employees"].to_numpy(), nan=0.0)
    y = (X["pair__same_city"].fillna(0).to_numpy() * 2 + (staff > 3)).astype(int)
    scorer = LGBMRankerScorer(num_boost_round=40, min_data_in_leaf=3, num_leaves=7, seed=seed)
    scorer.fit(X, y, group=[len(snapshot.enterprises)] * len(snapshot.buildings))
    return scorer, vocab


def new_enterprise_e9() -> pd.DataFrame:
    """A small Taiyuan firm, not in ``shortlist_tables``, for tests that write to the data."""
    return pd.DataFrame(
        {
            "enterprise_id": ["E9"],
            "name": ["壬新材料"],
            "industry_code": ["6510"],
            "employees": pd.array([25], dtype="Int64"),
            "city": ["太原市"],
        }
    )


def publish_model(
    store: Path, model: tuple[LGBMRankerScorer, Vocabulary], *, second: int = 0
) -> str:
    """Save ``model`` as a version created at 2024-07-01 00:00:``second`` and promote it."""
    scorer, vocab = model
    version = save_version(
        store,
        scorer,
        created=datetime(2024, 7, 1, 0, 0, second, tzinfo=UTC),
        vocabulary=vocab.to_dict(),
        feature_spec_fingerprint=feature_spec_fingerprint(),
    )
    promote(store, version)
    return version


@pytest.fixture(scope="module")
def models() -> list[tuple[LGBMRankerScorer, Vocabulary]]:
    """Two models fitted with different seeds on the world as of AS_OF."""
    snapshot = Snapshot.at(Registry.from_tables(shortlist_tables()), AS_OF)
    return [_fit_model(snapshot, seed=seed) for seed in (0, 1)]


@pytest.fixture
def engine(tmp_path: Path, models: list[tuple[LGBMRankerScorer, Vocabulary]]) -> Engine:
    repo = Repository(f"sqlite:///{tmp_path / 'tm.db'}")
    repo.upsert(shortlist_tables())
    store = tmp_path / "models"
    publish_model(store, models[0])
    return Engine(repo, store, as_of=date(2024, 6, 30))


def _ids(result: dict, key: str = "enterprise_id") -> list[str]:
    return [item[key] for item in result["items"]]


def test_building_shortlist_shape_ranks_and_exclusions(engine: Engine) -> None:
    [b1, b2] = engine.shortlist_for_buildings(["B1", "B2"], k=10)
    assert b1["query"] == {"building_id": "B1"} and b2["query"] == {"building_id": "B2"}
    assert b1["model_version"] == engine.model_version
    assert len(b1["items"]) == 10
    assert [i["rank"] for i in b1["items"]] == list(range(1, 11))
    scores = [i["score"] for i in b1["items"]]
    assert scores == sorted(scores, reverse=True)
    staff = {"industry_code", "industry_division", "industry_zh", "employees", "need_m2",
             "vacant_m2"}  # matching.details: what staff decide on (no calibration: no %)
    assert set(b1["items"][0]) == {"rank", "enterprise_id", "name", "score", "reasons", *staff}
    first = b1["items"][0]
    assert first["industry_division"] == first["industry_code"][:2] and first["industry_zh"]
    assert {i["vacant_m2"] for i in b1["items"]} == {
        engine.state().snapshot.buildings.at["B1", "vacant_area_m2"]
    }
    full = engine.shortlist_for_buildings(["B1"], k=500)[0]
    assert {"E1", "E3", "E4", "E5", "E8"}.isdisjoint(_ids(full))  # tenant, deregistered, ...
    assert {"E2", "E6", "E7"} <= set(_ids(full))
    assert len(full["items"]) == 3 + N_EXTRA
    # the model prefers 太原 firms for a 太原 building: they fill the top ranks
    assert (
        b1["items"][0]["enterprise_id"] in {"E2", "E6"} or b1["items"][0]["enterprise_id"][0] == "F"
    )


def test_include_risky_adds_warnings(engine: Engine) -> None:
    [res] = engine.shortlist_for_buildings(["B1"], k=500, rules=PoolRules(include_risky=True))
    by_id = {i["enterprise_id"]: i for i in res["items"]}
    assert by_id["E4"]["risk_warnings"] == ["风险预警：税收违法", "信用评分 52 分，低于 60 分"]
    assert by_id["E2"]["risk_warnings"] == []
    assert "E3" not in by_id


def test_enterprise_shortlist(engine: Engine) -> None:
    [e1, e6] = engine.shortlist_for_enterprises(["E1", "E6"], k=5)
    assert e1["query"] == {"enterprise_id": "E1"}
    assert sorted(_ids(e1, "building_id")) == ["B2", "B3"]  # never B1, where it is
    assert _ids(e6, "building_id") != [] and "B2" not in _ids(e6, "building_id")
    assert {i["name"] for i in e1["items"]} == {"迎泽中心", "平城广场"}


def test_empty_pool_unknown_ids_and_bad_k(engine: Engine) -> None:
    [res] = engine.shortlist_for_buildings(["B2"], rules=PoolRules(cities={"长治市"}))
    assert res["items"] == [] and res["query"] == {"building_id": "B2"}
    assert engine.shortlist_for_enterprises(["E3"])[0]["items"] == []  # deregistered
    with pytest.raises(NotFoundError, match="'NOPE'"):
        engine.shortlist_for_buildings(["B1", "NOPE"])
    with pytest.raises(NotFoundError, match="'E404'"):
        engine.shortlist_for_enterprises(["E404"])
    for k in (0, 501, 2.5):
        with pytest.raises(InputError, match="allowed: an integer from 1 to 500"):
            engine.shortlist_for_buildings(["B1"], k=k)  # type: ignore[arg-type]


def test_reasons_carry_the_numbers(engine: Engine) -> None:
    [res] = engine.shortlist_for_buildings(["B3"], k=20)
    need = {"E1": 200, "E2": 500, "E5": 2000, "E6": 50, "E7": 300}
    reasons = [r for item in res["items"] for r in item["reasons"]]
    assert reasons, "a LightGBM model explains its top items"
    for item in res["items"]:
        assert 1 <= len(item["reasons"]) <= 3 or item["reasons"] == []
        weights = [r["weight"] for r in item["reasons"]]
        assert all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
        for r in item["reasons"]:
            assert set(r) == {"feature", "text", "weight"} and r["feature"] in feature_names()
            if r["feature"] == "e__space_need_m2" and item["enterprise_id"] in need:
                assert f"{need[item['enterprise_id']]:.0f} 平方米" in r["text"]
            if r["feature"] == "pair__space_need_log_ratio":
                assert "本楼空置 5,000㎡" in r["text"]
            if r["feature"] == "pair__same_city":
                assert r["text"] == "与企业同城"


def test_engine_refreshes_after_a_data_write(engine: Engine) -> None:
    before = engine.shortlist_for_buildings(["B1"], k=500)[0]
    assert "E9" not in _ids(before)
    state = engine.state()
    assert engine.state() is state  # nothing changed: no rebuild
    engine.repo.upsert({"enterprises": new_enterprise_e9()})
    after = engine.shortlist_for_buildings(["B1"], k=500)[0]
    assert "E9" in _ids(after)
    assert engine.state() is not state


def test_a_data_write_frees_the_old_data_before_loading_and_keeps_the_model_parts(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server holding both the old and the new data peaked at twice the memory: a write the
    change log cannot list (here: every write) reloads everything after letting the old go."""
    monkeypatch.setattr(changes, "MAX_LISTED_IDS", 0)
    cached = Engine(engine.repo, engine.store, as_of=date(2024, 6, 30))
    old = cached.state()
    cached.shortlist_for_buildings(["B1"], k=5)
    model, explainer, prescorer = old.model, old.explainer, old.prescorer
    old_snapshot = weakref.ref(old.snapshot)
    del old
    engine.repo.upsert({"enterprises": new_enterprise_e9()})
    alive_at_load: list[bool] = []
    load = engine.repo.versioned_tables

    def watched() -> tuple[int, dict[str, pd.DataFrame]]:
        gc.collect()
        alive_at_load.append(old_snapshot() is not None)
        return load()

    monkeypatch.setattr(engine.repo, "versioned_tables", watched)
    new = cached.state()
    assert alive_at_load == [False]
    assert (new.model, new.explainer, new.prescorer) == (model, explainer, prescorer)
    assert "E9" in _ids(cached.shortlist_for_buildings(["B1"], k=500)[0])


def test_engine_snapshot_moves_on_with_the_date_it_is_given(engine: Engine) -> None:
    days = [date(2024, 6, 30)]
    dated = Engine(engine.repo, engine.store, as_of=lambda: days[-1])
    first = dated.state()
    assert dated.state() is first and first.snapshot.as_of == pd.Timestamp("2024-06-30")
    days.append(date(2024, 7, 1))  # midnight passes in a long-running server
    second = dated.state()
    assert second is not first and second.snapshot.as_of == pd.Timestamp("2024-07-01")


def test_engine_follows_current_model_and_needs_one(
    engine: Engine, tmp_path: Path, models: list[tuple[LGBMRankerScorer, Vocabulary]]
) -> None:
    first = engine.model_version
    pool = engine.state().pool
    second = publish_model(engine.store, models[1], second=5)
    assert second != first
    assert engine.shortlist_for_buildings(["B1"], k=1)[0]["model_version"] == second
    assert engine.state().pool is pool  # same data: the candidate pool is reused
    empty = Engine(engine.repo, tmp_path / "no-models", as_of=date(2024, 6, 30))
    with pytest.raises(ModelNotReadyError, match="tenantmatch train"):
        empty.shortlist_for_buildings(["B1"])
    assert issubclass(ModelNotReadyError, InputError)


def test_max_scored_caps_model_work_but_keeps_k(engine: Engine) -> None:
    from tenantmatch.matching.shortlist import shortlist_for_buildings

    state = engine.state()
    exact = shortlist_for_buildings(state, ["B3"], k=5)[0]["items"]
    loose = shortlist_for_buildings(state, ["B3"], k=5, max_scored=10_000)[0]["items"]
    assert loose == exact  # a cap above the pool size changes nothing
    capped = shortlist_for_buildings(state, ["B3"], k=5, max_scored=2)[0]["items"]
    assert len(capped) == 5 and all(np.isfinite(i["score"]) for i in capped)  # cap raised to k
