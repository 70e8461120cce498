"""Dated shortlists through the app (``as_of``, admins only) and the stale-registry report of
``/readyz`` (a field; the answer stays 200)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from tests.api.conftest import Service


def _newest_record(svc: Service) -> date:
    tenancies, events = svc.repo.load_table("tenancies"), svc.repo.load_table("events")
    dates = pd.concat([tenancies["start_date"], tenancies["end_date"], events["date"]])
    dates = pd.to_datetime(dates).dropna()
    return dates[dates <= pd.Timestamp(date.today())].max().date()


@pytest.mark.parametrize("route", ["shortlist", "chain-leads"])
@pytest.mark.parametrize("who", ["viewer", "op_own"])
def test_as_of_is_for_admins_only(service: Service, who: str, route: str) -> None:
    path = f"/v1/buildings/{service.own_building}/{route}"
    response = service.get(path, who, params={"as_of": "2023-06-30"})
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith("as_of ")


def test_admin_gets_the_registry_as_it_stood_that_day(service: Service) -> None:
    path = f"/v1/buildings/{service.own_building}/shortlist"
    today = service.get(path, params={"k": 5}).json()
    day = (_newest_record(service) - timedelta(days=400)).isoformat()
    dated = service.get(path, params={"k": 5, "as_of": day})
    assert dated.status_code == 200, dated.text
    assert today["as_of"] == date.today().isoformat() and dated.json()["as_of"] == day
    assert dated.json()["model_version"] == today["model_version"]
    enterprise = str(service.tables["enterprises"]["enterprise_id"].iloc[3])
    other = service.get(f"/v1/enterprises/{enterprise}/shortlist", params={"as_of": day})
    assert other.status_code == 200 and other.json()["as_of"] == day
    assert service.get(path, params={"as_of": "2023-02-30"}).status_code == 422


def test_readyz_reports_a_stale_registry_and_stays_200(fresh_service: Service) -> None:
    svc = fresh_service
    newest = _newest_record(svc)
    ready = svc.client.get("/readyz")
    assert ready.status_code == 200
    registry = ready.json()["registry"]
    behind = (date.today() - newest).days
    assert registry["as_of"] == date.today().isoformat()
    assert registry["newest_record"] == newest.isoformat()
    assert (registry["days_behind"], registry["stale_after_days"]) == (behind, 90)
    assert registry["stale"] is (behind > 90)
    # the same data 90 and 91 days after its newest record: the server's date moves on
    engine = svc.client.app.state.engine  # type: ignore[attr-defined]
    for days, stale in ((90, False), (91, True)):
        engine._as_of = lambda days=days: newest + timedelta(days=days)
        engine.wait_for(timeout_s=30)  # the snapshot is cut anew in the background
        ready = svc.client.get("/readyz")
        registry = ready.json()["registry"]
        assert ready.status_code == 200
        assert (registry["days_behind"], registry["stale"]) == (days, stale)
        assert (registry.get("warning_zh") is not None) is stale
    assert "台账数据已过期" in registry["warning_zh"]


def test_the_page_has_a_stale_banner_fed_by_readyz(service: Service) -> None:
    page = service.client.get("/").text
    script = service.client.get("/static/app.js").text
    shortlist = service.client.get("/static/views/shortlist.js").text
    assert 'id="stale-banner"' in page
    assert 'fetch("/readyz")' in script and "registry.stale" in script
    assert "已婉拒" in shortlist  # a declined firm is flagged in the shortlist
