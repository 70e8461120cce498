"""One query's work split across cores: a shared pool of worker threads. It pays only for work
that releases the GIL while it computes (numpy over large arrays, the compiled trees); tasks
must not submit tasks of their own (the pool is small and shared)."""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            workers = max(1, available_cores() - 1)  # the calling thread runs one task itself
            _POOL = ThreadPoolExecutor(workers, thread_name_prefix="tenantmatch-query")
        return _POOL


def run_parallel(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Each task's result, in order: the first task runs in the calling thread, the others on
    the shared pool at the same time. One task (or none) runs inline, no pool involved."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    futures = [_pool().submit(task) for task in tasks[1:]]
    first = tasks[0]()
    return [first, *(future.result() for future in futures)]


def for_row_chunks(n: int, fn: Callable[[slice], object], *, threads: int) -> None:
    """``fn(rows)`` for each of ``threads`` contiguous row chunks of range(n) (:func:`row_chunks`),
    at once (:func:`run_parallel`); ``fn`` writes its own rows of a shared output."""
    run_parallel([functools.partial(fn, rows) for rows in row_chunks(n, parts=threads)])


def row_chunks(n: int, *, parts: int) -> list[slice]:
    """``parts`` (at most ``n``, at least 1) contiguous slices of range(n), sizes within one."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]
