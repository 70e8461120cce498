"""``ResultCache``: finished shortlists of one scoring state, least recently used first out.

A shortlist depends only on the scoring state (data version, model version, snapshot date) and
the query (direction, id, k, pool rules, M). The state is immutable and replaced whenever the
data or the model changes, so the cache belongs to one state and is emptied when a new one
arrives: a live update or a promotion is never answered from the old data.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from cachetools import LRUCache

Result = dict[str, Any]


class ResultCache:
    """Thread-safe LRU of shortlist results keyed by (query key, query id), per state."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize={maxsize}: must be >= 0 (0 disables the cache)")
        self.maxsize = maxsize
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
        """Results for ``ids`` in order: cached ones copied, the others from one ``compute``
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
        return [copy.deepcopy(found[i]) for i in ids]
