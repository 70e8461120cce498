"""Two-stage shortlisting: the pre-score (fast path = general path), its top-M selection, its
persistence with a model version, the Engine's use of it and its refresh on data changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, available_cores, context_for, feature_names
from tenantmatch.matching import Engine, PoolRules
from tenantmatch.matching.shortlist import (
    ScoringState,
    _staged_for_buildings,
    _staged_for_enterprises,
    shortlist_for_buildings,
    shortlist_for_enterprises,
)
from tenantmatch.models import (
    PRESCORER_FILE,
    CorruptModelError,
    LGBMRankerScorer,
    Prescorer,
    load_current,
    load_version,
    unfitted_prescorer,
    with_history,
)
from tenantmatch.models.prescore import PrescoreIndex, top_m, top_m_checked
from tenantmatch.models.prescore_terms import DIST_MAX_KEY, distance_keys, planar_km
from tenantmatch.registry import InputError, NotFoundError, Registry, Snapshot
from tenantmatch.store import Repository, record_event
from tenantmatch.training import DistillConfig, attach_prescorer, fit_prescorer
from tests.matching.test_candidates import AS_OF
from tests.matching.test_shortlist import (
    _fit_model,
    new_enterprise_e9,
    publish_model,
    shortlist_tables,
)

SMALL = DistillConfig(building_queries=4, enterprise_queries=8, per_query=200, head=20)


@pytest.fixture(scope="module")
def world() -> tuple[Snapshot, LGBMRankerScorer, Vocabulary, Prescorer]:
    snapshot = Snapshot.at(Registry.from_tables(shortlist_tables()), AS_OF)
    scorer, vocab = _fit_model(snapshot, seed=0)
    pre = fit_prescorer(snapshot, scorer, vocab=vocab, feature_names=feature_names(), config=SMALL)
    return snapshot, scorer, vocab, pre


@pytest.fixture
def engine(tmp_path: Path, world: tuple) -> Engine:
    """An Engine whose CURRENT model stores a fitted pre-scorer."""
    snapshot, scorer, vocab, _ = world
    repo = Repository(f"sqlite:///{tmp_path / 'tm.db'}")
    repo.upsert(shortlist_tables())
    store = tmp_path / "models"
    first = publish_model(store, (scorer, vocab))
    attach_prescorer(store, first, snapshot, created=datetime(2024, 7, 2, tzinfo=UTC), config=SMALL)
    return Engine(repo, store, as_of=date(2024, 6, 30))


def test_fitted_prescorer_learns_the_rankers_order(world: tuple) -> None:
    pre = world[3]
    assert pre.fitted and pre.model is not None
    # the toy ranker prefers firms in the building's city: so must the distilled pre-score
    same_city = pre.tables["same_city"]
    assert same_city[1] > same_city[0]  # bin 1 (value 1.0) above bin 0 (value 0.0)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fast_paths_equal_pair_scores(world: tuple, threads: int) -> None:
    snapshot, _, vocab, pre = world
    ctx = context_for(snapshot, vocab=vocab)
    index = pre.build_index(ctx)
    n_e = len(ctx.enterprises)
    for b in range(len(ctx.buildings)):
        fast = pre.building_scores(index, b, threads=threads)
        general = pre.pair_scores(index, b_pos=np.full(n_e, b), e_pos=np.arange(n_e))
        np.testing.assert_allclose(fast, general, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(fast, pre.building_scores(index, b))
    n_b = len(ctx.buildings)
    for e in range(n_e):
        fast = pre.enterprise_scores(index, e)
        general = pre.pair_scores(index, b_pos=np.arange(n_b), e_pos=np.full(n_b, e))
        np.testing.assert_allclose(fast, general, rtol=1e-5, atol=1e-5)


def _random_index(rng: np.random.Generator, *, n_e: int, n_b: int) -> PrescoreIndex:
    """A pre-score index of random arrays (no context): keys, key tables, base scores and
    locations, some unknown; what a building query's keyed terms read."""
    n_keys = {"division": 101, "section": 22, "city": 12, "place": 40, "need": 152,
              "size": 122, "burden": 152}  # fmt: skip
    keys = {k: rng.integers(0, n, n_e).astype(np.int32) for k, n in n_keys.items()}
    tables = {k: rng.normal(size=(n_b, n)).astype(np.float32) for k, n in n_keys.items()}
    tables["distance"] = rng.normal(size=(1, DIST_MAX_KEY + 2)).astype(np.float32)
    xy_e = rng.uniform(-300, 300, size=(n_e, 2)).astype(np.float32)
    xy_e[rng.random(n_e) < 0.1] = np.nan
    xy_b = rng.uniform(-300, 300, size=(n_b, 2)).astype(np.float32)
    xy_b[0] = np.nan
    fields = {"ctx": None, "columns": {}, "rows": {}, "history": None, "history_rows": None}
    return PrescoreIndex(enterprise_base=rng.normal(size=n_e).astype(np.float32),
                         building_base=rng.normal(size=n_b).astype(np.float32), keys=keys,
                         n_keys=n_keys, xy_e=xy_e, xy_b=xy_b, key_tables=tables,
                         **fields)  # type: ignore[arg-type]  # fmt: skip


def _keyed_reference(index: PrescoreIndex, b: int) -> np.ndarray:
    """The keyed part of a building query written plainly: per term, a table cell per
    enterprise, added in float32 in the fast path's order."""
    tables, keys = index.key_tables, index.keys
    score = index.enterprise_base + index.building_base[b]
    for first, second in (("division", "section"), ("city", "place"), ("need", "size")):
        score += tables[first][b][keys[first]] + tables[second][b][keys[second]]
    score += tables["burden"][b][keys["burden"]]
    score += tables["distance"][0][distance_keys(index.xy_e, index.xy_b[b])]
    return score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_building_scores_on_any_thread_count_equal_a_plain_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = _random_index(rng, n_e=int(rng.integers(1, 5000)), n_b=5)
    pre = Prescorer(edges={}, tables={}, fitted=False)
    for b in range(5):
        one = pre.building_scores(index, b)
        np.testing.assert_allclose(one, _keyed_reference(index, b), rtol=1e-5, atol=1e-5)
        for threads in (2, 3, 7):
            np.testing.assert_array_equal(pre.building_scores(index, b, threads=threads), one)


def test_shortlists_are_the_same_on_one_and_two_threads(engine: Engine) -> None:
    state = engine.state()
    buildings, enterprises = list(state.pool.buildings.ids), list(state.pool.enterprises.ids)
    for m in (3, None):
        for run, ids in ((shortlist_for_buildings, buildings),
                         (shortlist_for_enterprises, enterprises)):  # fmt: skip
            one = run(state, ids, k=5, max_scored=m, threads=1)
            assert any(r["items"] for r in one)
            assert run(state, ids, k=5, max_scored=m, threads=2) == one
            assert [run(state, [i], k=5, max_scored=m, threads=2)[0] for i in ids] == one


def test_engine_threads_default_to_every_core_and_refuse_zero(engine: Engine) -> None:
    assert engine.threads == available_cores()
    assert Engine(engine.repo, engine.store, as_of=date(2024, 6, 30), threads=2).threads == 2
    with pytest.raises(InputError, match="threads=0"):
        Engine(engine.repo, engine.store, as_of=date(2024, 6, 30), threads=0)


def test_two_stage_equals_full_scan_when_m_covers_the_pool(engine: Engine) -> None:
    state = engine.state()
    assert state.prescorer is not None and state.prescorer.fitted
    buildings = list(state.pool.buildings.ids)
    enterprises = list(state.pool.enterprises.ids[:20])
    full = shortlist_for_buildings(state, buildings, k=50, max_scored=None)
    two = shortlist_for_buildings(state, buildings, k=50, max_scored=10_000)
    assert two == full and sum(len(r["items"]) for r in full) > 0
    full_e = shortlist_for_enterprises(state, enterprises, k=5, max_scored=None)
    assert shortlist_for_enterprises(state, enterprises, k=5, max_scored=10_000) == full_e


def test_small_m_keeps_k_items_from_the_feasible_pool(engine: Engine) -> None:
    state = engine.state()
    full = shortlist_for_buildings(state, ["B1"], k=5, max_scored=None)[0]["items"]
    small = shortlist_for_buildings(state, ["B1"], k=5, max_scored=8)[0]["items"]
    feasible = {
        i["enterprise_id"] for i in shortlist_for_buildings(state, ["B1"], k=500)[0]["items"]
    }
    assert len(small) == len(full) == 5
    assert {i["enterprise_id"] for i in small} <= feasible
    assert [i["rank"] for i in small] == [1, 2, 3, 4, 5]


def test_prescorer_round_trip_and_hash_check(engine: Engine, world: tuple) -> None:
    model = load_current(engine.store)
    assert model.manifest["attachments"] == [PRESCORER_FILE]
    assert model.manifest["derived_from"] != model.version
    stored = Prescorer.from_bytes(model.attachments[PRESCORER_FILE])
    for term, table in world[3].tables.items():
        np.testing.assert_array_equal(stored.tables[term], table)
        np.testing.assert_array_equal(stored.edges[term], world[3].edges[term])
    path = engine.store / "versions" / model.version / PRESCORER_FILE
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(CorruptModelError, match=PRESCORER_FILE):
        load_version(engine.store, model.version)


def test_engine_without_stored_prescorer_falls_back_to_unfitted(
    tmp_path: Path, world: tuple
) -> None:
    _, scorer, vocab, _ = world
    repo = Repository(f"sqlite:///{tmp_path / 'tm.db'}")
    repo.upsert(shortlist_tables())
    publish_model(tmp_path / "models", (scorer, vocab))
    state = Engine(repo, tmp_path / "models", as_of=date(2024, 6, 30)).state()
    assert state.prescorer is not None and not state.prescorer.fitted
    assert set(state.prescorer.tables) == set(unfitted_prescorer().tables)
    [res] = shortlist_for_buildings(state, ["B1"], k=3, max_scored=5)
    assert len(res["items"]) == 3


def test_prescore_arrays_refresh_on_data_version_change(engine: Engine) -> None:
    state = engine.state()
    assert engine.state().prescore is state.prescore  # unchanged data: arrays reused
    n_before = len(state.prescore.enterprise_base)
    engine.repo.upsert({"enterprises": new_enterprise_e9()})
    after = engine.state()
    assert after.prescore is not state.prescore
    assert len(after.prescore.enterprise_base) == n_before + 1
    ids = [i["enterprise_id"] for i in engine.shortlist_for_buildings(["B1"], k=500)[0]["items"]]
    assert "E9" in ids


def test_two_stage_unknown_ids_and_empty_pool(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="'NOPE'"):
        engine.shortlist_for_buildings(["B1", "NOPE"])
    with pytest.raises(NotFoundError, match="'E404'"):
        engine.shortlist_for_enterprises(["E404"])
    [res] = engine.shortlist_for_buildings(["B2"], rules=PoolRules(cities={"长治市"}))
    assert res["items"] == []
    assert engine.shortlist_for_enterprises(["E3"])[0]["items"] == []  # deregistered


def test_top_m_matches_a_full_sort() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=100_000).astype(np.float32)
    ok = rng.random(100_000) < 0.7
    expected = set(np.flatnonzero(ok)[np.argsort(-scores[ok])[:500]])
    assert set(top_m(scores.copy(), ok, m=500)) == expected
    few = np.zeros(100_000, dtype=bool)
    few[[5, 9]] = True
    assert sorted(top_m(scores.copy(), few, m=500)) == [5, 9]
    assert len(top_m(scores.copy(), np.zeros(100_000, dtype=bool), m=10)) == 0


def test_top_m_checked_equals_top_m_or_defers_to_it() -> None:
    rng = np.random.default_rng(4)
    scores = rng.normal(size=200_000).astype(np.float32)
    ok = rng.random(200_000) < 0.6
    checked: list[int] = []

    def fits(positions: np.ndarray) -> np.ndarray:
        checked.append(len(positions))
        return ok[positions]

    got = top_m_checked(scores, fits, m=1000)
    assert got is not None and set(got) == set(top_m(scores.copy(), ok, m=1000))
    assert sum(checked) < 20_000  # a sample and the rows above the threshold, not all rows
    few = rng.random(200_000) < 0.001  # ~200 feasible rows: the sample cannot set a threshold
    assert top_m_checked(scores, lambda p: few[p], m=1000) is None
    assert top_m_checked(scores[:0], lambda p: p > 0, m=10) is None


def test_distance_keys_bucket_planar_km() -> None:
    xy = planar_km(np.array([37.87, 37.87, np.nan]), np.array([112.55, 112.65, 112.55]))
    keys = distance_keys(xy, xy[0])
    # same point -> 0; 0.1° of longitude at 37.5°N is ~8.8 km -> floor(2 * sqrt(8.8)) = 5
    assert keys.tolist() == [0, 5, 61]


def test_a_prescore_index_survives_pickling_for_dask() -> None:
    import pickle
    import threading

    from tenantmatch.models.prescore import PrescoreIndex

    index = PrescoreIndex.__new__(PrescoreIndex)
    object.__setattr__(index, "enterprise_base", np.ones(3, np.float32))
    object.__setattr__(index, "_local", threading.local())
    index.workspace(3)  # fills this thread's buffers
    copy = pickle.loads(pickle.dumps(index))
    np.testing.assert_array_equal(copy.enterprise_base, index.enterprise_base)
    assert [b.shape for b in copy.workspace(3)] == [(3,)] * 4


def history_tables() -> dict[str, pd.DataFrame]:
    """``shortlist_tables`` with pair histories at B1 (Taiyuan): earlier events of F001 (Datong),
    of E3 (deregistered) and of E5 (needs more space than B1 has), and F003 (Datong) supplying
    B1's tenant E1."""
    tables = shortlist_tables()
    tables["events"] = pd.DataFrame(
        {
            "enterprise_id": ["F001", "E3", "E5", "E1"],
            "building_id": ["B1", "B1", "B1", "B1"],
            "date": pd.to_datetime(["2024-03-01", "2024-04-01", "2024-04-01", "2024-04-01"]),
            "stage": ["contacted", "visited", "negotiating", "visited"],
        }
    )
    tables["links"] = pd.DataFrame(
        {"source_id": ["F003"], "target_id": ["E1"], "relation": ["supplies"], "weight": [0.8]}
    )
    return tables


# Datong firms score 0, Taiyuan firms 5: by the pre-score alone Datong firms lose at B1.
SAME_CITY_ONLY = Prescorer(
    edges={"same_city": np.array([0.5])}, tables={"same_city": np.array([0.0, 5.0, 0.0])},
    fitted=False,
)  # fmt: skip


@pytest.fixture
def history_engine(tmp_path: Path, world: tuple) -> Engine:
    _, scorer, vocab, _ = world
    repo = Repository(f"sqlite:///{tmp_path / 'tm.db'}")
    repo.upsert(history_tables())
    publish_model(tmp_path / "models", (scorer, vocab))
    return Engine(repo, tmp_path / "models", as_of=date(2024, 6, 30))


def _stage_one(state: ScoringState, *, building: str, m: int) -> set[str]:
    """Enterprise ids stage 1 passes to the ranker for ``building`` under SAME_CITY_ONLY."""
    state = dataclasses.replace(
        state, prescorer=SAME_CITY_ONLY, prescore=SAME_CITY_ONLY.build_index(state.ctx)
    )
    positions = state.pool.buildings.positions([building], kind="building")
    pairs = _staged_for_buildings(state, positions, rules=PoolRules(), m=m)
    return {str(state.pool.enterprises.ids[e]) for e in pairs.enterprise}


def test_pairs_with_history_reach_the_ranker_whatever_their_prescore(
    history_engine: Engine,
) -> None:
    state = history_engine.state()
    chosen = _stage_one(state, building="B1", m=3)
    datong = set(state.snapshot.enterprises.index[state.snapshot.enterprises["city"] == "大同市"])
    assert len(chosen - datong) == 3  # the pre-score's top 3, all from Taiyuan
    assert chosen & datong == {"F001", "F003"}  # earlier event; supplier of the tenant E1
    # history never overrides an exclusion: E1 is the tenant, E3 deregistered, E5 too big
    assert not chosen & {"E1", "E3", "E5"}
    assert "F001" not in _stage_one(state, building="B2", m=3)  # history is per building


def test_enterprise_queries_keep_their_buildings_with_history(history_engine: Engine) -> None:
    state = history_engine.state()
    hand = dataclasses.replace(
        state, prescorer=SAME_CITY_ONLY, prescore=SAME_CITY_ONLY.build_index(state.ctx)
    )
    positions = state.pool.enterprises.positions(["F001", "F005"], kind="enterprise")
    pairs = _staged_for_enterprises(hand, positions, rules=PoolRules(), m=1)
    ids = state.pool.buildings.ids
    chosen = {(int(q), str(ids[b])) for q, b in zip(pairs.query, pairs.building, strict=True)}
    assert chosen == {(0, "B3"), (0, "B1"), (1, "B3")}  # B3: Datong, the pre-score's best


def test_a_recorded_event_joins_the_history_on_the_next_query(history_engine: Engine) -> None:
    assert "F005" not in _stage_one(history_engine.state(), building="B1", m=3)
    record_event(history_engine.repo, {"enterprise_id": "F005", "building_id": "B1",
                                       "date": "2024-06-01", "stage": "contacted"})  # fmt: skip
    assert "F005" in _stage_one(history_engine.state(), building="B1", m=3)


def test_with_history_is_a_sorted_union_within_the_filters() -> None:
    ok = np.array([True, True, False, True, True])
    got = with_history(np.array([4, 0]), np.array([2, 3, 4]), ok)
    assert got.tolist() == [0, 3, 4] and got.dtype == np.int64
    assert with_history(np.array([1]), np.array([2])).tolist() == [1, 2]
    assert with_history(np.empty(0, np.int64), np.empty(0, np.int64), ok).tolist() == []
