"""Settings derived from the machine: the threads one shortlist query is split over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenantmatch.api import settings as api_settings
from tenantmatch.api.settings import Settings
from tests.api.conftest import World, start_service


@pytest.mark.parametrize(
    ("cores", "workers", "expected"), [(2, 1, 2), (2, 2, 1), (2, 4, 1), (8, 2, 4), (1, 1, 1)]
)
def test_threads_per_query_share_the_cores_among_workers(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int, expected: int
) -> None:
    monkeypatch.setattr(api_settings, "available_cores", lambda: cores)
    monkeypatch.delenv("TENANTMATCH_QUERY_THREADS", raising=False)
    assert Settings(workers=workers).threads_per_query == expected


def test_query_threads_overrides_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_settings, "available_cores", lambda: 2)
    monkeypatch.setenv("TENANTMATCH_QUERY_THREADS", "3")
    assert Settings(workers=2).threads_per_query == 3
    with pytest.raises(ValueError, match="query_threads"):
        Settings(query_threads=0)


def test_workers_reach_the_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_settings, "available_cores", lambda: 2)
    for name in ("TENANTMATCH_WORKERS", "TENANTMATCH_DB", "TENANTMATCH_MODELS",
                 "TENANTMATCH_JOBS_DIR"):  # fmt: skip
        monkeypatch.setenv(name, "")  # restored after the test, whatever the export writes
    monkeypatch.delenv("TENANTMATCH_DB")
    monkeypatch.delenv("TENANTMATCH_QUERY_THREADS", raising=False)
    Settings(workers=2).export_to_environ()
    assert os.environ["TENANTMATCH_WORKERS"] == "2"
    assert Settings().threads_per_query == 1  # what a uvicorn worker process builds


def test_the_service_engine_splits_queries_over_its_share(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_settings, "available_cores", lambda: 2)
    monkeypatch.delenv("TENANTMATCH_QUERY_THREADS", raising=False)
    for workers, threads in ((2, 1), (1, 2)):
        (tmp_path / str(workers)).mkdir()
        for running in start_service(world, tmp_path / str(workers), workers=workers):
            assert running.client.app.state.engine.threads == threads  # type: ignore[attr-defined]
