"""Stage 1's kept answers per building: the same shortlists as computing them live, read only
under the rules and M they were made for, filled in the background by a server's Engine, and
never outliving their state."""

from __future__ import annotations

import dataclasses
import gc
import os
import pickle
import sys
import threading
import weakref
from datetime import date

import numpy as np
import pytest

from tenantmatch.matching import Engine, PoolRules
from tenantmatch.matching.precomputed import LOWEST_NICE, BuildingCandidates, lowest_priority
from tenantmatch.matching.shortlist import (
    ScoringState,
    precompute_candidates,
    shortlist_for_buildings,
)
from tests.matching.test_shortlist import new_enterprise_e9
from tests.models.test_prescore import engine, world  # noqa: F401  (fixtures)

M = 8  # below the pool's size, so stage 1 chooses


def _state(engine: Engine, *, m: int = M) -> ScoringState:  # noqa: F811
    return Engine(engine.repo, engine.store, as_of=date(2024, 6, 30), max_scored=m).state()


def _live(state: ScoringState) -> ScoringState:
    return dataclasses.replace(state, candidates=None)


def test_kept_candidates_give_the_live_shortlists(engine: Engine) -> None:  # noqa: F811
    state = _state(engine)
    kept = state.candidates
    assert kept is not None and (kept.m, kept.rules, kept.filled) == (M, PoolRules(), 0)
    buildings = list(state.pool.buildings.ids)
    live = shortlist_for_buildings(_live(state), buildings, k=5, max_scored=M)
    assert sum(len(r["items"]) for r in live) > 0
    assert precompute_candidates(state, threads=2, chunk=1) == len(buildings)
    assert kept.complete.is_set() and kept.filled == len(buildings) and kept.nbytes > 0
    assert precompute_candidates(state) == 0  # nothing left to fill
    for k in (1, 5):
        expected = shortlist_for_buildings(_live(state), buildings, k=k, max_scored=M)
        assert shortlist_for_buildings(state, buildings, k=k, max_scored=M) == expected
    assert all(not kept.get(b).flags.writeable for b in range(len(buildings)))


def test_queries_read_the_kept_candidates(engine: Engine) -> None:  # noqa: F811
    state = _state(engine)
    b1 = int(state.pool.buildings.positions(["B1"], kind="building")[0])
    [live] = shortlist_for_buildings(state, ["B1"], k=5, max_scored=M)
    assert state.candidates is not None and state.candidates.filled == 1  # the query kept it
    assert len(live["items"]) == 5
    # a planted answer (the live fifth candidate alone) is what the next query ranks
    fifth = state.pool.enterprises.ids.get_loc(live["items"][4]["enterprise_id"])
    planted = _state(engine)
    assert planted.candidates is not None
    planted.candidates.put(b1, np.array([fifth]))
    [got] = shortlist_for_buildings(planted, ["B1"], k=5, max_scored=M)
    assert [i["enterprise_id"] for i in got["items"]] == [live["items"][4]["enterprise_id"]]
    # other rules or another M compute live and leave the kept ones alone
    for rules, m in ((PoolRules(include_risky=True), M), (PoolRules(), M + 1)):
        [other] = shortlist_for_buildings(planted, ["B1"], k=5, rules=rules, max_scored=m)
        assert len(other["items"]) == 5
    assert planted.candidates.filled == 1
    # a copy of the state with another pre-score index does not read them either
    copy = dataclasses.replace(planted, prescore=planted.prescorer.build_index(planted.ctx))
    assert shortlist_for_buildings(copy, ["B1"], k=5, max_scored=M) == [live]


def test_a_slot_keeps_its_first_answer_and_completion_counts_buildings(
    engine: Engine,  # noqa: F811
) -> None:
    state = _state(engine)
    kept = BuildingCandidates(state.pool, state.prescore, rules=PoolRules(), m=M)
    n = len(kept)
    kept.put(0, np.array([3, 1]))
    kept.put(0, np.array([7]))
    assert kept.get(0).tolist() == [3, 1] and kept.get(0).dtype == np.int32
    assert kept.missing().tolist() == list(range(1, n)) and not kept.complete.is_set()
    for b in range(1, n):
        kept.put(b, np.array([b]))
    assert kept.complete.is_set() and kept.filled == n and kept.missing().size == 0
    copy = pickle.loads(pickle.dumps(kept))  # Dask scatters states: the copy has its own lock
    assert copy.complete.is_set() and copy.get(0).tolist() == [3, 1]


def test_a_server_engine_fills_every_building_in_the_background_and_again_after_a_write(
    engine: Engine,  # noqa: F811
) -> None:
    server = Engine(engine.repo, engine.store, as_of=date(2024, 6, 30), max_scored=M,
                    precompute_candidates=True)  # fmt: skip
    first = server.state()
    assert first.candidates is not None and first.candidates.complete.wait(timeout=60)
    live = shortlist_for_buildings(_live(first), list(first.pool.buildings.ids), k=5, max_scored=M)
    assert server.shortlist_for_buildings(list(first.pool.buildings.ids), k=5) == live
    old = weakref.ref(first)
    del first
    engine.repo.upsert({"enterprises": new_enterprise_e9()})
    second = server.state()
    assert second.candidates is not None and second.candidates.complete.wait(timeout=60)
    gc.collect()
    assert old() is None  # no fill thread keeps the old state's arrays alive
    ids = [i["enterprise_id"] for i in server.shortlist_for_buildings(["B1"], k=500)[0]["items"]]
    assert "E9" in ids


def test_engine_without_precompute_keeps_only_what_queries_computed(
    engine: Engine,  # noqa: F811
) -> None:
    state = _state(engine)
    assert state.candidates is not None and state.candidates.filled == 0
    full = Engine(engine.repo, engine.store, as_of=date(2024, 6, 30), max_scored=None).state()
    assert full.candidates is None  # the full scan has no stage 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_lowest_priority_lowers_only_the_calling_thread() -> None:
    seen: list[int] = []

    def background() -> None:
        lowest_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen == [LOWEST_NICE]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
