"""Shortlist answers as the JSON bytes the API sends, kept per scoring state.

A repeated query is answered with the stored bytes: no copy of the result, no response
validation, no serialisation. The cache belongs to the engine's current scoring state and is
emptied when a new state arrives (data, model or date changed), like the engine's own cache.
The workers of one server also share what they scored (``SharedAnswers``): a query one worker
answered is not scored again by the others while the data and the model stay the same.
What is left to score waits in a queue that one scorer thread per worker answers in batches
(``ShortlistAnswers._shared_or_scored``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import multiprocessing
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from tenantmatch.api.answer_cache import SharedAnswers, StateCache
from tenantmatch.api.schemas import ShortlistOut, ShortlistQuery
from tenantmatch.api.settings import Settings
from tenantmatch.matching import Engine, PoolRules, ScoringState, without_credit

log = logging.getLogger(__name__)

# FastAPI's own serialisation of a ``response_model`` (validate, then dump_json by alias,
# without None fields), so the bytes equal what the route sent before they were cached.
_SHORTLIST = TypeAdapter(ShortlistOut)
STALE_SHARED_FILE_S = 86_400.0  # another server run's file untouched this long is removed

Shortlists = Callable[..., list[dict[str, Any]]]
_Group = tuple[ScoringState, tuple[str, int, PoolRules]]  # a state and a query's local key
MAX_BATCH = 16  # queued misses one engine call answers at most
IDLE_SCORER_S = 10.0  # a scorer thread with nothing queued this long ends


class Answer(NamedTuple):
    """A shortlist's JSON body and the repository data_version it was computed on."""

    body: bytes
    data_version: int | None


def _redacted(body: bytes) -> bytes:
    return render_shortlist(without_credit(json.loads(body)))


@dataclass(frozen=True, eq=False)
class _Miss:
    """An id waiting for its answer to ``query`` (which names it in the shared file), by
    ``shortlists``, the engine's function for the ``direction``."""

    id: str
    query: ShortlistQuery
    shortlists: Shortlists
    direction: str
    answer: Future[bytes] = field(default_factory=Future)


def render_shortlist(result: dict[str, Any]) -> bytes:
    """One shortlist (the jsonl object) as the route's JSON body, validated against the schema."""
    value = _SHORTLIST.validate_python(result, from_attributes=True)
    return _SHORTLIST.dump_json(value, by_alias=True, exclude_none=True)


class ShortlistAnswers:
    """Rendered shortlists of both directions, the ``maxsize`` most recently used per state;
    with ``shared``, answers scored by sibling workers are read instead of scored again.
    ``scope`` names the database and model store, so other servers' answers never match."""

    def __init__(
        self, engine: Engine, *, maxsize: int, shared: SharedAnswers | None = None, scope: str = "",
        wait_s: float = 10.0,
    ) -> None:  # fmt: skip
        """``wait_s``: how long a query naming a minimum data version waits for it."""
        self.engine = engine
        self.wait_s = wait_s
        self.cache: StateCache[bytes] = StateCache(maxsize)
        self.shared = shared
        self.scope = hashlib.sha256(scope.encode()).hexdigest()[:16]  # no password in the file
        self.scored = 0  # answers this process scored itself
        # Weak, as the cache's owner: a replaced state must not stay alive for its key.
        self._state_key: tuple[weakref.ref[ScoringState], str] | None = None
        self._scoring = threading.Lock()
        self._queue: dict[_Group, dict[str, _Miss]] = {}  # ids waiting for the engine
        self._queued = threading.Condition()  # guards the queue and the scorer thread
        self._scorer: threading.Thread | None = None

    def for_building(
        self, building_id: str, query: ShortlistQuery, *, credit: bool = True,
        min_version: int | None = None,
    ) -> Answer:  # fmt: skip
        """The answer of ``GET /v1/buildings/{building_id}/shortlist``; ``credit`` False:
        as a role that may not see credit details gets it (``matching.without_credit``);
        ``min_version``: on a state of that data version or later (waiting up to ``wait_s``)."""
        return self._answer(self.engine.shortlist_for_buildings, "building", building_id,
                            query, credit=credit, min_version=min_version)  # fmt: skip

    def for_enterprise(
        self, enterprise_id: str, query: ShortlistQuery, *, credit: bool = True,
        min_version: int | None = None,
    ) -> Answer:  # fmt: skip
        """The answer of ``GET /v1/enterprises/{enterprise_id}/shortlist`` (``credit``,
        ``min_version``: as for buildings)."""
        return self._answer(self.engine.shortlist_for_enterprises, "enterprise",
                            enterprise_id, query, credit=credit,
                            min_version=min_version)  # fmt: skip

    def _answer(
        self, shortlists: Shortlists, direction: str, id_: str, query: ShortlistQuery, *,
        credit: bool, min_version: int | None,
    ) -> Answer:  # fmt: skip
        if query.as_of is not None:  # an admin's dated shortlist: scored, never cached
            dated = self.engine.state(as_of=query.as_of)
            body = self._score(dated, shortlists, [id_], query)[0]
            return Answer(body if credit else _redacted(body), dated.data_version)
        # One freshness check per request: a miss is scored on ``state`` itself, the state its
        # answer is stored under (a newer state replaces both on the next request).
        if min_version is None:
            state = self.engine.state()
        else:
            state = self.engine.wait_for(min_version, timeout_s=self.wait_s)

        def compute(ids: list[str]) -> list[bytes]:
            return self._shared_or_scored(state, shortlists, direction, ids, query)

        key = _local_key(direction, query)
        body = self.cache.results(state, key, [id_], compute)[0]
        if not credit:  # kept beside the full answer: cached answers are keyed by what the
            # role may see
            full = body
            body = self.cache.results(state, (*key, "without_credit"), [id_],
                                      lambda _: [_redacted(full)])[0]  # fmt: skip
        return Answer(body, state.data_version)

    def _shared_or_scored(
        self, state: ScoringState, shortlists: Shortlists, direction: str, ids: list[str],
        query: ShortlistQuery,
    ) -> list[bytes]:  # fmt: skip
        """Answers stored meanwhile (by a request of this worker or by a sibling worker), the
        others scored (and shared).

        Misses wait in a queue that one scorer thread of this process works through: each
        engine call answers every id queued for the same state and query shape (up to
        ``MAX_BATCH``). So a request behind one for the same id gets that answer; under load
        the misses are scored in batches, which cost about a third less per answer than one
        at a time (the feature rows, the trees and the reasons are computed once per call;
        200k enterprises, batches of 8); and a waiting request sleeps until its answer is
        ready, instead of taking its turn at a lock with a dozen others (those turns cost
        about 2 ms of CPU per answer)."""
        group = (state, _local_key(direction, query))
        with self._queued:
            waiting = self._queue.setdefault(group, {})
            mine = [waiting.setdefault(i, _Miss(i, query, shortlists, direction)) for i in ids]
            self._queued.notify()
            if self._scorer is None:
                self._scorer = threading.Thread(
                    target=self._score_queued, name="tenantmatch-scorer", daemon=True
                )
                self._scorer.start()
        return [miss.answer.result() for miss in mine]

    def _score_queued(self) -> None:
        """The scorer thread: batches out of the queue until nothing has been queued for
        ``IDLE_SCORER_S`` (the next miss starts another)."""
        me = threading.current_thread()
        try:
            while True:
                with self._queued:  # ending and enqueuing exclude each other: no id is stranded
                    if not self._queued.wait_for(lambda: bool(self._queue), IDLE_SCORER_S):
                        self._scorer = None
                        return
                self._score_next()
        finally:  # should anything escape: the next miss starts another scorer
            with self._queued:
                if self._scorer is me:
                    self._scorer = None

    def _score_next(self) -> None:
        # in its own frame: the idle scorer must not hold the last batch's state alive
        with self._scoring:
            state, batch = self._take()
            self._answer_batch(state, batch)

    def _take(self) -> tuple[ScoringState, list[_Miss]]:
        """The oldest ``MAX_BATCH`` ids of the query shape queued first, out of the queue; a
        shape with ids left goes to the back, so one busy shape does not starve the others."""
        with self._queued:
            group, waiting = next(iter(self._queue.items()))
            batch = list(itertools.islice(waiting.values(), MAX_BATCH))
            for miss in batch:
                del waiting[miss.id]
            del self._queue[group]
            if waiting:
                self._queue[group] = waiting
        return group[0], batch

    def _answer_batch(self, state: ScoringState, batch: list[_Miss]) -> None:
        """Settle every miss of ``batch``: its answer, or the error scoring it raised. An error
        of a batch is retried id by id, so that one unknown id fails only its own request."""
        try:
            bodies = self._stored_or_scored(state, batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].answer.set_exception(exc)
                return
            for miss in batch:
                self._answer_batch(state, [miss])
            return
        for miss, body in zip(batch, bodies, strict=True):
            miss.answer.set_result(body)

    def _stored_or_scored(self, state: ScoringState, batch: list[_Miss]) -> list[bytes]:
        """The answers of ``batch`` (one query shape): found in this worker's cache or the
        shared file, or scored in one call (and shared)."""
        first = batch[0]
        direction, local_key = first.direction, _local_key(first.direction, first.query)
        found = {m.id: self.cache.peek(state, local_key, m.id) for m in batch}
        state_key = None if self.shared is None else self._state_key_of(state)
        keys = {m.id: _query_key(direction, m.id, m.query) for m in batch}
        if self.shared is not None and state_key is not None:
            for m in batch:
                found[m.id] = found[m.id] or self.shared.get(state_key, keys[m.id])
        missing = [m.id for m in batch if found[m.id] is None]
        scored = dict(zip(missing, self._score(state, first.shortlists, missing, first.query),
                          strict=True))  # fmt: skip
        if scored and self.shared is not None and state_key is not None:
            self.shared.put(state_key, {keys[i]: body for i, body in scored.items()})
        found |= scored
        return [found[m.id] or b"" for m in batch]

    def _score(
        self, state: ScoringState, shortlists: Shortlists, ids: list[str], query: ShortlistQuery
    ) -> list[bytes]:
        """Rendered answers scored on ``state``, the one the cache stores them under (the
        engine need not check freshness again)."""
        if not ids:
            return []
        self.scored += len(ids)
        answers = shortlists(ids, k=query.k, rules=query.rules(), state=state)
        return [render_shortlist(r) for r in answers]

    def _state_key_of(self, state: ScoringState) -> str | None:
        """What ``state`` was built from, as a key other processes compute alike; None when the
        data moved on meanwhile (then this state's data version is not known for sure)."""
        known = self._state_key
        if known is not None and known[0]() is state:
            return known[1]
        # A state holds every write up to its data_version, and none after the version the
        # repository had when it was built: when the repository still stands on the state's
        # version, the state holds exactly that version (a state refreshed in the background
        # may answer while the repository is already further on: no shared key then).
        before = self.engine.repo.data_version()
        if state.data_version != before or self.engine.state() is not state:
            return None
        engine = self.engine
        settings = (engine.max_scored, engine.max_scored_buildings, engine.compile_trees)
        key = json.dumps([self.scope, before, state.model.version, str(state.snapshot.as_of),
                          *settings])  # fmt: skip
        self._state_key = (weakref.ref(state), key)
        return key


def _local_key(direction: str, query: ShortlistQuery) -> tuple[str, int, PoolRules]:
    """The in-process cache key of a query (the id aside): one place for ``results`` and
    ``peek``, which must agree."""
    return direction, query.k, query.rules()


def _query_key(direction: str, id_: str, query: ShortlistQuery) -> str:
    return json.dumps([direction, id_, query.model_dump(mode="json")], ensure_ascii=False,
                      sort_keys=True)  # fmt: skip


def shared_answers_path(settings: Settings) -> Path | None:
    """The answers file of this server run: named after the server process's random
    multiprocessing key, which its workers inherit, so no other run reads it. None when
    ``shared_cache_dir`` or ``shortlist_cache`` is off."""
    folder = settings.shared_cache_dir
    if folder is None or settings.shortlist_cache == 0:
        return None
    run = hashlib.sha256(bytes(multiprocessing.current_process().authkey)).hexdigest()[:16]
    return Path(folder) / f"answers-{run}.sqlite"


def shared_answers_for(settings: Settings) -> SharedAnswers | None:
    """The answers the workers of this server share (:func:`shared_answers_path`); None for a
    single-process server or when sharing is off."""
    path = shared_answers_path(settings)
    if path is None or multiprocessing.parent_process() is None:
        return None
    _remove_stale(path.parent, keep=path.name)
    return SharedAnswers(path, maxsize=settings.shortlist_cache)


def remove_shared_answers(settings: Settings) -> None:
    """Delete this server run's answers file (and SQLite's side files); the server calls it
    once its workers have stopped. Files of runs that ended otherwise go a day after their
    last use (``STALE_SHARED_FILE_S``)."""
    path = shared_answers_path(settings)
    if path is None:
        return
    for file in path.parent.glob(f"{path.name}*"):
        file.unlink(missing_ok=True)


def _remove_stale(folder: Path, *, keep: str) -> None:
    if not folder.is_dir():
        return
    cutoff = time.time() - STALE_SHARED_FILE_S
    for old in folder.glob("answers-*.sqlite*"):
        try:
            stale = not old.name.startswith(keep) and old.stat().st_mtime < cutoff
        except FileNotFoundError:  # a sibling worker removed it first
            continue
        if stale:
            log.info("removing the shared answers of an earlier server run: %s", old)
            old.unlink(missing_ok=True)
