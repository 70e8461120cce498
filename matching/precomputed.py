"""Stage 1's answer per building, kept with a scoring state: the candidates a building query
hands the ranker under one rule set and M (``matching.shortlist``).

Stage 1 (the pre-score over every enterprise, then the top M) is the largest part of a building
query at a million enterprises, and its answer depends only on the state, the rules and M. A
state is immutable, so what is kept never goes stale: new data or a new model make a new state
with an empty :class:`BuildingCandidates`. It fills as queries compute candidates, and a server
fills the rest in the background (``Engine(precompute_candidates=True)``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

import numpy as np

from tenantmatch.matching.candidates import CandidatePool, PoolRules
from tenantmatch.models import PrescoreIndex

logger = logging.getLogger(__name__)

LOWEST_NICE = 19


def lowest_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux: nice is per thread), so that
    background work takes only the CPU that requests leave; elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_NICE)
    except OSError as exc:  # a sandbox may forbid it; the work still runs
        logger.debug("could not lower the thread's priority: %s", exc)


class BuildingCandidates:
    """Per building position, its stage-1 candidates (sorted enterprise positions) under
    ``rules`` and ``m``, over one candidate pool and pre-score index (those of the state that
    keeps it: a state copied with another pre-scorer does not read them). Thread safe: a slot
    is written once, whole."""

    def __init__(
        self, pool: CandidatePool, index: PrescoreIndex, *, rules: PoolRules, m: int
    ) -> None:
        self.pool, self.index = pool, index
        self.rules, self.m = rules, int(m)
        self._rows: list[np.ndarray | None] = [None] * len(pool.buildings.ids)
        self._init_sync()

    def _init_sync(self) -> None:
        self._lock = threading.Lock()
        self._filled = sum(row is not None for row in self._rows)
        self.complete = threading.Event()  # set once every building has its candidates
        if self._filled == len(self._rows):
            self.complete.set()

    def __getstate__(self) -> dict[str, object]:
        # A lock and an event cannot be pickled (Dask scatters the state); the copy makes its own.
        skip = ("_lock", "complete", "_filled")
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._init_sync()

    def serves(
        self, rules: PoolRules, m: int, *, pool: CandidatePool, index: PrescoreIndex | None
    ) -> bool:
        """Whether a query under ``rules`` and ``m`` over ``pool`` and ``index`` reads (and
        fills) these candidates."""
        return m == self.m and pool is self.pool and index is self.index and rules == self.rules

    def get(self, building: int) -> np.ndarray | None:
        """The kept candidates of ``building`` (read-only int32), None if not computed yet."""
        return self._rows[building]

    def put(self, building: int, positions: np.ndarray) -> None:
        """Keep ``positions`` (sorted enterprise positions) as the candidates of ``building``;
        a slot already filled keeps its first value (both are the same answer)."""
        kept = np.asarray(positions, dtype=np.int32)
        kept.flags.writeable = False
        with self._lock:
            if self._rows[building] is not None:
                return
            self._rows[building] = kept
            self._filled += 1
            if self._filled == len(self._rows):
                self.complete.set()

    def missing(self) -> np.ndarray:
        """int64 positions of the buildings without candidates yet, ascending."""
        return np.flatnonzero([row is None for row in self._rows]).astype(np.int64)

    @property
    def filled(self) -> int:
        """Buildings whose candidates are kept."""
        return self._filled

    @property
    def nbytes(self) -> int:
        """Bytes of the kept positions."""
        return sum(row.nbytes for row in self._rows if row is not None)

    def __len__(self) -> int:
        return len(self._rows)
