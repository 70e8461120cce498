"""Operations: health, readiness, metrics, request ids, JSON logs, body limits, OpenAPI, the web
page and its labels."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from fastapi.testclient import TestClient

from tenantmatch.api import Settings, create_app
from tenantmatch.api.observability import JsonFormatter, request_id_var
from tenantmatch.store import upsert_building
from tests.api.conftest import Service, World, start_service

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def test_healthz_and_readyz(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    ready = service.client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["model_version"]
    assert ready["counts"]["enterprises"] >= len(service.tables["enterprises"])


def test_readyz_is_503_without_a_model(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'empty.db'}", models=tmp_path / "no_store",
                        jobs_dir=tmp_path / "jobs", json_logs=False)  # fmt: skip
    with TestClient(create_app(settings)) as client:  # preloading found no model: it starts
        assert client.app.state.engine._state is None  # type: ignore[attr-defined]
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "model_unavailable"
        assert client.get("/healthz").status_code == 200
        metrics = client.get("/metrics").text
        assert "tenantmatch_model_loaded 0.0" in metrics
        assert "tenantmatch_stage1_buildings_kept 0.0" in metrics


def test_a_worker_loads_its_scoring_state_before_taking_requests(
    world: World, tmp_path: Path
) -> None:
    for preload in (True, False):
        folder = tmp_path / str(preload)
        folder.mkdir()
        service = start_service(world, folder, preload=preload, compile_trees=False)
        svc = next(service)
        engine = svc.client.app.state.engine  # type: ignore[attr-defined]
        # no request made yet: the state is there (preloaded) or not (built on first use)
        assert (engine._state is not None) is preload
        if preload:
            state = engine._state
            assert state.model.version == svc.client.get("/readyz").json()["model_version"]
            assert engine.state() is state  # the first request used the preloaded state
        else:
            assert svc.client.get("/readyz").status_code == 200 and engine._state is not None
        next(service, None)


def test_metrics_histogram_by_route_template(service: Service) -> None:
    service.get(f"/v1/buildings/{service.own_building}", "viewer")
    service.get("/v1/buildings/NO-SUCH", "viewer")
    text = service.client.get("/metrics").text
    route = 'route="/v1/buildings/{building_id}"'
    assert re.search(
        rf'tenantmatch_http_request_duration_seconds_count\{{[^}}]*{re.escape(route)}[^}}]*status="200"',
        text,
    )
    assert re.search(
        rf'tenantmatch_http_request_duration_seconds_count\{{[^}}]*{re.escape(route)}[^}}]*status="404"',
        text,
    )
    assert service.own_building not in text  # raw paths never become labels
    version = service.client.get("/readyz").json()["model_version"]
    assert f'tenantmatch_model_info{{version="{version}"}} 1.0' in text


def test_metrics_count_the_buildings_whose_stage_one_is_kept(service: Service) -> None:
    engine = service.client.app.state.engine  # type: ignore[attr-defined]
    state = engine.state()
    assert engine.precompute_candidates and state.candidates.complete.wait(timeout=60)
    n = len(state.pool.buildings.ids)
    text = service.client.get("/metrics").text
    assert f"tenantmatch_stage1_buildings_kept {float(n)}" in text
    assert f"tenantmatch_stage1_buildings {float(n)}" in text


def _gauge(text: str, name: str, pid: int | None = None) -> float:
    labels = "" if pid is None else f'{{pid="{pid}"}}'
    (value,) = re.findall(rf"^{name}{re.escape(labels)} (\S+)$", text, flags=re.MULTILINE)
    return float(value)


def test_metrics_show_how_far_the_served_state_lags_the_newest_write(
    fresh_service: Service,
) -> None:
    """Issue 20, item 3: the committed data_version, and per worker the writes its state does
    not include yet and the age of the newest of them."""
    svc, pid = fresh_service, os.getpid()
    assert svc.get(f"/v1/buildings/{svc.own_building}/shortlist").status_code == 200
    version = svc.repo.data_version()
    text = svc.client.get("/metrics").text
    assert _gauge(text, "tenantmatch_data_version") == version
    assert _gauge(text, "tenantmatch_state_lag_versions", pid) == 0.0
    assert _gauge(text, "tenantmatch_state_lag_seconds", pid) == 0.0
    upsert_building(svc.repo, {"building_id": svc.own_building, "floors": 42})
    upsert_building(svc.repo, {"building_id": svc.own_building, "floors": 43})
    text = svc.client.get("/metrics").text  # no request has refreshed the state
    assert _gauge(text, "tenantmatch_data_version") == version + 2
    assert _gauge(text, "tenantmatch_state_lag_versions", pid) == 2.0
    assert 0.0 <= _gauge(text, "tenantmatch_state_lag_seconds", pid) < 60.0
    path = f"/v1/buildings/{svc.own_building}/shortlist"
    assert svc.get(path, after=version + 2).status_code == 200
    text = svc.client.get("/metrics").text
    assert _gauge(text, "tenantmatch_state_lag_versions", pid) == 0.0


def test_request_id_in_and_out(service: Service) -> None:
    given = service.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = service.client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    unsafe = service.client.get("/healthz", headers={"X-Request-ID": "x" * 300})
    assert unsafe.headers["X-Request-ID"] != "x" * 300


def test_json_log_lines_carry_request_id() -> None:
    token = request_id_var.set("rid-1")
    try:
        record = logging.LogRecord("tenantmatch.api.access", logging.INFO, __file__, 1, "GET %s %d",
                                   ("/x", 200), None)  # fmt: skip
        record.status = 200
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "rid-1" and line["message"] == "GET /x 200"
    assert line["status"] == 200 and line["level"] == "INFO"


def test_api_key_never_logged(fresh_service: Service, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.DEBUG):
        fresh_service.get("/v1/buildings", "admin")
        fresh_service.get("/v1/buildings", "bad")
    secrets_ = [k.split("_", 2)[2] for k in fresh_service.keys.values()]
    assert not any(s in caplog.text for s in secrets_)


def test_body_limit_is_413_json(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import start_service

    for svc in start_service(world, tmp_path, max_body_kb=1):
        body = {"name": "长" * 2000}
        response = svc.client.put("/v1/buildings/B1", headers=svc.headers("admin"), json=body)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

        def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(10):
                yield b" " * 512

        streamed = svc.client.put("/v1/buildings/B1", headers=svc.headers("admin"),
                                  content=chunks())  # fmt: skip
        assert streamed.status_code == 413


def test_unknown_route_and_method_are_json(service: Service) -> None:
    missing = service.client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = service.client.post("/healthz")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_openapi_lists_api_key_security(service: Service) -> None:
    schema = service.client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }  # fmt: skip
    assert "/v1/buildings/{building_id}/shortlist" in schema["paths"]


def test_labels_are_chinese(service: Service) -> None:
    body = service.client.get("/v1/labels").json()
    assert body["labels"]["finance"] == "金融服务型"
    assert body["labels"]["fortune_global_500"] == "世界500强"
    assert body["industries"]["66"] == "货币金融服务" and body["industries"]["J"].startswith("金融")


def test_web_page_is_served_and_self_contained(service: Service) -> None:
    page = service.client.get("/")
    assert page.status_code == 200 and "楼宇经济数字地图" in page.text
    assert "sessionStorage" in service.client.get("/static/app.js").text
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # every asset from this app
    own = [p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts
           and p.suffix in {".html", ".js", ".css"}]  # fmt: skip
    assert len(own) >= 5
    for asset in own:  # our own code names no other host (ECharts' build holds XML namespaces)
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), asset.name
