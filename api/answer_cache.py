"""The server's answer caches: ``StateCache``, finished answers (rendered JSON) of one scoring
state in a worker, least recently used first out; ``SharedAnswers``, the same answers shared by
the workers of one server through an SQLite file.

A shortlist depends only on the scoring state (data version, model version, snapshot date) and
the query (direction, id, k, pool rules, M). The state is immutable and replaced whenever the
data or the model changes, so the cache belongs to one state and is emptied when a new one
arrives: a live update or a promotion is never answered from the old data.

Results are copied on the way out (``copy``), so a caller editing its answer does not edit the
cache; a cache of immutable results (the API keeps rendered JSON bytes) needs no ``copy``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import tenacity
from cachetools import LRUCache

logger = logging.getLogger(__name__)

Result = TypeVar("Result")


class StateCache(Generic[Result]):
    """Thread-safe LRU of shortlist results keyed by (query key, query id), per state."""

    def __init__(self, maxsize: int, *, copy: Callable[[Result], Result] | None = None) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize={maxsize}: must be >= 0 (0 disables the cache)")
        self.maxsize = maxsize
        self._copy = copy
        self._lock = threading.Lock()
        # Weak: a cache must not keep a replaced state (its data and features) alive.
        self._owner: weakref.ref[object] | None = None
        self._entries: LRUCache[tuple[Hashable, str], Result] = LRUCache(max(maxsize, 1))
        self.hits = 0
        self.misses = 0

    def peek(self, state: object, key: Hashable, id_: str) -> Result | None:
        """The stored result of ``id_`` under ``state`` (copied), None if there is none; not
        counted as a hit or a miss."""
        with self._lock:
            hit = self._entries.get((key, str(id_))) if self._owns(state) else None
        if hit is None or self._copy is None:
            return hit
        return self._copy(hit)

    def results(
        self,
        state: object,
        key: Hashable,
        ids: Sequence[str],
        compute: Callable[[list[str]], list[Result]],
    ) -> list[Result]:
        """Results for ``ids`` in order: cached ones (copied), the others from one ``compute``
        call over the distinct missing ids (its errors propagate, nothing is stored then)."""
        ids = [str(i) for i in ids]
        if self.maxsize == 0:
            return compute(ids)
        with self._lock:
            if not self._owns(state):
                self._entries.clear()
                self._owner = weakref.ref(state)
            distinct = list(dict.fromkeys(ids))
            found: dict[str, Result] = {}
            for i in distinct:
                hit = self._entries.get((key, i))
                if hit is not None:
                    found[i] = hit
        missing = [i for i in distinct if i not in found]
        if missing:
            found.update(zip(missing, compute(missing), strict=True))
            with self._lock:
                if self._owns(state):
                    for i in missing:
                        self._entries[(key, i)] = found[i]
        with self._lock:
            self.misses += len(missing)
            self.hits += len(ids) - len(missing)
        if self._copy is None:
            return [found[i] for i in ids]
        return [self._copy(found[i]) for i in ids]

    def _owns(self, state: object) -> bool:
        return self._owner is not None and self._owner() is state


_ANSWERS_TABLE = (
    "CREATE TABLE IF NOT EXISTS answers (state TEXT NOT NULL, query TEXT NOT NULL, "
    "body BLOB NOT NULL, PRIMARY KEY (state, query))"
)


class SharedAnswers:
    """Finished answers (bytes) shared by the processes of one server through an SQLite file:
    one worker scores a query, its siblings read the answer instead of scoring it again.

    Entries are keyed by a state key (which must name the data version, the model version, the
    snapshot date and the scoring settings) and a query key. Storing under a new state key
    deletes the other states' entries; at most ``maxsize`` entries stay (oldest out). The file
    is a cache: durability is off, and a failing file only costs the sharing (logged).
    """

    def __init__(self, path: Path, *, maxsize: int) -> None:
        self.path = Path(path)
        self.maxsize = maxsize
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._current_state: str | None = None
        with self._connection() as conn:
            conn.execute(_ANSWERS_TABLE)

    def get(self, state: str, query: str) -> bytes | None:
        """The stored answer, or None when no process stored one for this state yet."""
        try:
            row = (
                self._connection()
                .execute("SELECT body FROM answers WHERE state = ? AND query = ?", (state, query))
                .fetchone()
            )
        except sqlite3.Error as exc:
            logger.warning("shared answers %s unreadable, scoring instead: %s", self.path, exc)
            return None
        return None if row is None else bytes(row[0])

    def put(self, state: str, answers: Mapping[str, bytes]) -> None:
        """Store answers by query key, in one transaction; the first state change seen here
        drops the older states' entries, and the oldest entries beyond ``maxsize`` go."""
        try:
            with self._connection() as conn:
                if state != self._current_state:
                    conn.execute("DELETE FROM answers WHERE state != ?", (state,))
                    self._current_state = state
                rows = [(state, query, body) for query, body in answers.items()]
                conn.executemany("INSERT OR IGNORE INTO answers VALUES (?, ?, ?)", rows)
                # rowids rise with each insert: the newest maxsize are the top ones (an index
                # lookup, where ORDER BY ... OFFSET walked maxsize rows per answer)
                conn.execute("DELETE FROM answers WHERE rowid <= (SELECT max(rowid) FROM answers)"
                             " - ?", (self.maxsize,))  # fmt: skip
        except sqlite3.Error as exc:
            logger.warning("shared answers %s not writable, not shared: %s", self.path, exc)

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread (sqlite3 connections stay in their thread).
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5.0)
            _use_wal(conn)
            conn.execute("PRAGMA synchronous = OFF")  # a lost entry is scored again
            self._local.conn = conn
        return conn


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@tenacity.retry(retry=tenacity.retry_if_exception(_locked), stop=tenacity.stop_after_delay(5),
                wait=tenacity.wait_random(0.005, 0.05), reraise=True)  # fmt: skip
def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. The workers of a server open its new file at the same time, and
    SQLite answers one of two simultaneous switches "database is locked" at once instead of
    waiting (it would deadlock): 10 of 2,000 openings in pairs failed so, and a failure stopped
    the server's start. Retried for up to 5 s."""
    conn.execute("PRAGMA journal_mode = WAL")
