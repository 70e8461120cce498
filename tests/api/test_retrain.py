"""Retraining from the service: a separate process, polled; the new model is served without a
restart and without one failed request meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Service, World, start_service

TIMEOUT_S = 900


@pytest.fixture
def retrain_service(world: World, tmp_path: Path) -> Iterator[Service]:
    yield from start_service(world, tmp_path, copy_models=True)


@pytest.mark.slow
def test_retrain_promotes_and_serves_new_model_without_failures(retrain_service: Service) -> None:
    svc = retrain_service
    shortlist = f"/v1/buildings/{svc.own_building}/shortlist"
    before = svc.get("/v1/models", "viewer").json()
    assert before["current"] == svc.get(shortlist, "viewer").json()["model_version"]
    started = svc.client.post("/v1/admin/retrain", headers=svc.headers("admin"))
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    again = svc.client.post("/v1/admin/retrain", headers=svc.headers("admin"))
    assert again.status_code == 409  # one job at a time
    served, deadline = [], time.monotonic() + TIMEOUT_S
    while True:
        response = svc.get(shortlist, "viewer", params={"k": 5})
        assert response.status_code == 200, response.text  # never a failed request
        served.append(response.json()["model_version"])
        job = svc.get(f"/v1/admin/retrain/{job_id}").json()
        if job["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job["log_tail"]
    after = svc.get("/v1/models", "viewer").json()
    assert after["current"] != before["current"]
    # the served model (refit to the data's end) and its validated twin, which the gate measured
    assert len(after["items"]) == len(before["items"]) + 2
    assert sum(m["status"] == "candidate" for m in after["items"]) == 2
    current = [m for m in after["items"] if m["current"]]
    assert [m["version"] for m in current] == [after["current"]] and current[0]["metrics"]
    assert svc.get(shortlist, "viewer").json()["model_version"] == after["current"]
    assert set(served) <= {before["current"], after["current"]} and len(served) > 3
