"""``StateCache``: finished shortlists of one scoring state, least recently used first out;
``ResultCache`` is the engine's, holding the jsonl dicts.

A shortlist depends only on the scoring state (data version, model version, snapshot date) and
the query (direction, id, k, pool rules, M). The state is immutable and replaced whenever the
data or the model changes, so the cache belongs to one state and is emptied when a new one
arrives: a live update or a promotion is never answered from the old data.

Results are copied on the way out (``copy``), so a caller editing its answer does not edit the
cache; a cache of immutable results (the API keeps rendered JSON bytes) needs no ``copy``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

Result = TypeVar("Result")


class StateCache(Generic[Result]):
    """Thread-safe LRU of shortlist results keyed by (query key, query id), per state."""

    def __init__(self, maxsize: int, *, copy: Callable[[Result], Result] | None = None) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize={maxsize}: must be >= 0 (0 disables the cache)")
        self.maxsize = maxsize
        self._copy = copy
        self._lock = threading.Lock()
        self._owner: object | None = None
        self._entries: LRUCache[tuple[Hashable, str], Result] = LRUCache(max(maxsize, 1))
        self.hits = 0
        self.misses = 0

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
            if state is not self._owner:
                self._entries.clear()
                self._owner = state
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
                if self._owner is state:
                    for i in missing:
                        self._entries[(key, i)] = found[i]
        with self._lock:
            self.misses += len(missing)
            self.hits += len(ids) - len(missing)
        if self._copy is None:
            return [found[i] for i in ids]
        return [self._copy(found[i]) for i in ids]


class ResultCache(StateCache[dict[str, Any]]):
    """The engine's cache: shortlists as the jsonl dicts, deep-copied out."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize, copy=copy.deepcopy)
