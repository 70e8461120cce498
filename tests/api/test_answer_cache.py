"""StateCache: per-state LRU of finished answers; SharedAnswers: the answers file the workers
of one server share."""

from __future__ import annotations

import copy
import gc
import sqlite3
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tenantmatch.api.answer_cache import SharedAnswers, StateCache, _use_wal


def _dict_cache(maxsize: int) -> StateCache[dict[str, Any]]:
    """A cache of mutable answers, deep-copied out (what a caller may edit)."""
    return StateCache(maxsize, copy=copy.deepcopy)


class State:
    """A stand-in scoring state (weakly referenceable, as ``ScoringState`` is)."""


class Counter:
    """A compute function that records which ids it was asked for."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, ids: list[str]) -> list[dict]:
        self.calls.append(list(ids))
        return [{"query": i, "items": [{"score": len(self.calls)}]} for i in ids]


def test_only_missing_ids_are_computed_once_each_in_query_order() -> None:
    cache, compute, state = _dict_cache(10), Counter(), State()
    first = cache.results(state, "k", ["A", "B", "A"], compute)
    assert compute.calls == [["A", "B"]]
    assert [r["query"] for r in first] == ["A", "B", "A"]
    second = cache.results(state, "k", ["C", "B"], compute)
    assert compute.calls == [["A", "B"], ["C"]]
    assert second[1] == first[1]  # B served from the cache, computed in call 1
    assert (cache.hits, cache.misses) == (2, 3)


def test_results_are_copies_and_keys_separate_queries() -> None:
    cache, compute, state = _dict_cache(10), Counter(), State()
    got = cache.results(state, ("building", 5), ["A"], compute)
    got[0]["items"].clear()  # a caller editing its result does not edit the cache
    again = cache.results(state, ("building", 5), ["A"], compute)
    assert again[0]["items"] == [{"score": 1}]
    cache.results(state, ("building", 10), ["A"], compute)  # another k: another entry
    assert compute.calls == [["A"], ["A"]]


def test_a_new_state_empties_the_cache() -> None:
    cache, compute = _dict_cache(10), Counter()
    old, new = State(), State()
    cache.results(old, "k", ["A"], compute)
    assert cache.results(new, "k", ["A"], compute)[0]["items"] == [{"score": 2}]
    assert cache.results(new, "k", ["A"], compute)[0]["items"] == [{"score": 2}]
    assert len(compute.calls) == 2


def test_the_cache_does_not_keep_a_replaced_state_alive() -> None:
    cache, compute, state = _dict_cache(10), Counter(), State()
    cache.results(state, "k", ["A"], compute)
    gone = weakref.ref(state)
    del state
    gc.collect()
    assert gone() is None  # its data and features can go while the next state is built
    assert cache.peek(State(), "k", "A") is None
    assert cache.results(State(), "k", ["A"], compute)[0]["items"] == [{"score": 2}]


def test_lru_eviction_errors_and_disabled_cache() -> None:
    cache, compute, state = _dict_cache(2), Counter(), State()
    cache.results(state, "k", ["A", "B"], compute)
    cache.results(state, "k", ["C"], compute)  # evicts A, the least recently used
    cache.results(state, "k", ["A"], compute)
    assert compute.calls[-1] == ["A"]

    def failing(ids: list[str]) -> list[dict]:
        raise LookupError("unknown id")

    with pytest.raises(LookupError):
        cache.results(state, "k", ["Z"], failing)
    assert cache.results(state, "k", ["Z"], compute)[0]["query"] == "Z"  # nothing was stored
    off, counter = _dict_cache(0), Counter()
    off.results(state, "k", ["A"], counter)
    off.results(state, "k", ["A"], counter)
    assert counter.calls == [["A"], ["A"]]
    with pytest.raises(ValueError, match="maxsize"):
        _dict_cache(-1)


def test_a_cache_of_immutable_answers_hands_out_the_stored_State() -> None:
    cache: StateCache[bytes] = StateCache(10)
    state, calls = State(), []

    def render(ids: list[str]) -> list[bytes]:
        calls.append(ids)
        return [f'{{"query": "{i}"}}'.encode() for i in ids]

    first = cache.results(state, "k", ["A"], render)[0]
    assert cache.results(state, "k", ["A"], render)[0] is first  # no copy of immutable bytes
    assert calls == [["A"]]
    assert cache.results(State(), "k", ["A"], render)[0] == first  # a new state: computed again
    assert calls == [["A"], ["A"]]


def test_shared_answers_are_seen_by_another_process_and_keep_one_state(tmp_path) -> None:
    path = tmp_path / "shared" / "answers.sqlite"
    worker, sibling = SharedAnswers(path, maxsize=3), SharedAnswers(path, maxsize=3)
    assert sibling.get("v1", "B1") is None
    worker.put("v1", {"B1": b'{"a": 1}'})
    assert sibling.get("v1", "B1") == b'{"a": 1}'
    assert sibling.get("v2", "B1") is None  # another state: another answer
    sibling.put("v2", {"B1": b'{"a": 2}'})  # the first entry of a new state drops the old ones
    assert worker.get("v1", "B1") is None and worker.get("v2", "B1") == b'{"a": 2}'
    worker.put("v2", {"B2": b"B2", "B3": b"B3"})  # one transaction
    worker.put("v2", {"B4": b"B4", "B2": b"again"})  # B2 is stored: kept as it was
    assert worker.get("v2", "B1") is None  # maxsize 3: the oldest went
    assert [worker.get("v2", q) for q in ("B2", "B3", "B4")] == [b"B2", b"B3", b"B4"]
    worker.put("v2", {"B5": b"B5", "B6": b"B6"})
    kept = [worker.get("v2", q) for q in ("B2", "B3", "B4", "B5", "B6")]
    assert kept == [None, None, b"B4", b"B5", b"B6"]


def test_an_unusable_shared_file_only_costs_the_sharing(tmp_path, caplog) -> None:
    shared = SharedAnswers(tmp_path / "answers.sqlite", maxsize=10)
    (tmp_path / "answers.sqlite").unlink()
    (tmp_path / "answers.sqlite").mkdir()  # a new thread's connection cannot open it now
    got: list[bytes | None] = []

    def other_thread() -> None:
        got.append(shared.get("v1", "B1"))
        shared.put("v1", {"B1": b"y"})

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert got == [None]
    assert "scoring instead" in caplog.text and "not shared" in caplog.text


def test_peek_reads_one_entry_of_the_current_state_without_counting() -> None:
    cache, compute, state = _dict_cache(10), Counter(), State()
    assert cache.peek(state, "k", "A") is None
    cache.results(state, "k", ["A"], compute)
    seen = cache.peek(state, "k", "A")
    assert seen == {"query": "A", "items": [{"score": 1}]}
    seen["items"].clear()  # a copy, like results()
    assert cache.peek(state, "k", "A") == {"query": "A", "items": [{"score": 1}]}
    assert cache.peek(State(), "k", "A") is None  # another state owns nothing yet
    assert (cache.hits, cache.misses) == (0, 1)


class _Contended:
    """A connection whose first ``busy`` WAL switches meet a sibling's simultaneous switch."""

    def __init__(self, busy: int, error: str = "database is locked") -> None:
        self.busy, self.error, self.calls = busy, error, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.busy:
            raise sqlite3.OperationalError(self.error)


def test_a_wal_switch_answered_locked_is_retried_and_other_errors_are_not() -> None:
    contended = _Contended(busy=2)
    _use_wal(contended)  # type: ignore[arg-type]
    assert contended.calls == 3
    broken = _Contended(busy=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _use_wal(broken)  # type: ignore[arg-type]
    assert broken.calls == 1


def test_workers_opening_a_new_shared_file_together_all_get_it(tmp_path) -> None:
    # the workers of a server open its new file at once: every one must get a usable cache
    path = tmp_path / "answers.sqlite"
    with ThreadPoolExecutor(8) as pool:
        opened = list(pool.map(lambda _: SharedAnswers(path, maxsize=10), range(8)))
    opened[0].put("v1", {"B1": b"1"})
    assert all(s.get("v1", "B1") == b"1" for s in opened)
