"""One query's work over several threads: the chunking and the shared pool."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tenantmatch.features import available_cores, for_row_chunks, row_chunks, run_parallel


@pytest.mark.parametrize("n", [0, 1, 5, 10, 1001])
@pytest.mark.parametrize("parts", [1, 2, 3, 64])
def test_row_chunks_cover_the_rows_once_in_order(n: int, parts: int) -> None:
    chunks = row_chunks(n, parts=parts)
    covered = [i for chunk in chunks for i in range(n)[chunk]]
    assert covered == list(range(n))
    assert len(chunks) == max(1, min(parts, n))
    sizes = [len(range(n)[chunk]) for chunk in chunks]
    assert max(sizes) - min(sizes) <= 1


def test_run_parallel_runs_two_tasks_at_once_the_first_in_the_caller() -> None:
    started = threading.Barrier(2, timeout=10)  # fails unless both run at the same time

    def task() -> int:
        started.wait()
        return threading.get_ident()

    first, second = run_parallel([task, task])
    assert first == threading.get_ident() and second != first


def test_run_parallel_returns_results_in_task_order_beyond_the_pool_size() -> None:
    assert run_parallel([lambda i=i: i * i for i in range(9)]) == [i * i for i in range(9)]


def test_run_parallel_of_one_or_no_task_runs_inline() -> None:
    assert run_parallel([threading.get_ident]) == [threading.get_ident()]
    assert run_parallel([]) == []


def test_run_parallel_passes_a_tasks_error_on() -> None:
    def fail() -> int:
        raise ValueError("bad chunk")

    with pytest.raises(ValueError, match="bad chunk"):
        run_parallel([lambda: 1, fail])


def test_available_cores_is_at_least_one() -> None:
    assert available_cores() >= 1


def test_for_row_chunks_gives_every_row_to_one_call() -> None:
    out = np.zeros(10, dtype=np.int64)

    def mark(rows: slice) -> None:
        out[rows] += np.arange(rows.start, rows.stop) + 1

    for_row_chunks(10, mark, threads=3)
    np.testing.assert_array_equal(out, np.arange(1, 11))
