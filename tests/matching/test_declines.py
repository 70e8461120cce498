"""Shortlists as staff read them: a firm that declined the building in the last 12 months comes
last, flagged "已婉拒 (date)", its courtship no reason in favour; and reasons tell the items of
a shortlist apart (no text on every item, never coordinates or logarithms)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tenantmatch.features import Vocabulary
from tenantmatch.matching.engine import Engine
from tenantmatch.matching.reasons import REASON_FEATURES
from tenantmatch.models import LGBMRankerScorer
from tenantmatch.store import Repository
from tests.matching.test_as_of import model  # noqa: F401 (the fixture)
from tests.matching.test_shortlist import publish_model, shortlist_tables

D = pd.Timestamp
COURTSHIP_WORDS = ("招商接触", "招商进展", "招商最远")


@pytest.fixture
def engine(tmp_path: Path, model: tuple[LGBMRankerScorer, Vocabulary]) -> Engine:  # noqa: F811
    """The shortlist world with a history at B1, served as of 2024-06-30."""
    tables = shortlist_tables()
    tables["events"] = pd.DataFrame(
        {
            "enterprise_id": ["E2", "E2", "E2", "E6", "F001", "F002", "F002"],
            "building_id": ["B1", "B1", "B1", "B1", "B1", "B1", "B1"],
            "date": [D("2024-03-01"), D("2024-04-01"), D("2024-05-31"),  # E2: a recent "no"
                     D("2023-01-10"),  # E6: declined, but over a year ago
                     D("2024-06-01"),  # F001: an open courtship
                     D("2023-09-01"), D("2024-02-01")],  # F002: declined, then back
            "stage": ["contacted", "visited", "declined", "declined", "contacted", "declined",
                      "visited"],
        }
    )  # fmt: skip
    repo = Repository(f"sqlite:///{tmp_path / 'tm.db'}")
    repo.upsert(tables)
    publish_model(tmp_path / "models", model)
    return Engine(repo, tmp_path / "models", as_of=date(2024, 6, 30))


def _by_id(items: list[dict], key: str = "enterprise_id") -> dict[str, dict]:
    return {item[key]: item for item in items}


def test_a_recent_decline_comes_last_flagged_and_is_no_reason(engine: Engine) -> None:
    [res] = engine.shortlist_for_buildings(["B1"], k=500)
    items = res["items"]
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    by_id = _by_id(items)
    e2 = by_id["E2"]
    assert items[-1] is e2 and e2["declined_on"] == "2024-05-31"
    assert e2["reasons"][0]["text"] == "已婉拒 (2024-05-31)"
    assert not any(w in r["text"] for r in e2["reasons"] for w in COURTSHIP_WORDS)
    assert [i for i in items if "declined_on" in i] == [e2]  # E6 (2023) and F002 (back) are not
    others = [i["score"] for i in items[:-1]]
    assert others == sorted(others, reverse=True)  # the rest keep the model's order


def test_a_short_list_keeps_the_decline_last_too(engine: Engine) -> None:
    full = engine.shortlist_for_buildings(["B1"], k=500)[0]["items"]
    by_score = sorted(full, key=lambda i: -i["score"])
    k = by_score.index(_by_id(full)["E2"]) + 2  # E2 and one below it by score
    short = engine.shortlist_for_buildings(["B1"], k=k)[0]["items"]
    assert len(short) == k and short[-1]["enterprise_id"] == "E2"
    assert short[-2]["score"] < short[-1]["score"]  # moved below a candidate scored lower


def test_the_enterprise_side_flags_the_declined_building(engine: Engine) -> None:
    [res] = engine.shortlist_for_enterprises(["E2"], k=10)
    by_id = _by_id(res["items"], "building_id")
    assert by_id["B1"]["declined_on"] == "2024-05-31" and res["items"][-1]["building_id"] == "B1"
    assert all("declined_on" not in i for i in res["items"][:-1])


def test_no_reason_stands_on_every_item_and_none_is_a_coordinate_or_log(engine: Engine) -> None:
    results = engine.shortlist_for_buildings(["B1", "B2", "B3"], k=10)
    results += engine.shortlist_for_enterprises(["E2", "E6", "F001", "F010"], k=10)
    checked = 0
    for res in results:
        items = res["items"]
        features = {r["feature"] for i in items for r in i["reasons"]}
        assert features <= REASON_FEATURES | {"pair__last_event_stage"}
        assert not any("纬度" in r["text"] or "经度" in r["text"] or "对数" in r["text"]
                       for i in items for r in i["reasons"])  # fmt: skip
        if len(items) >= 3:
            texts = [{r["text"] for r in i["reasons"]} for i in items]
            assert not set.intersection(*texts), (res["query"], set.intersection(*texts))
            checked += 1
    assert checked >= 3  # the three buildings; an enterprise has at most three buildings
    reasons = [r for res in results for i in res["items"] for r in i["reasons"]]
    assert len(reasons) >= 20  # the model explains its items
    assert sum(r["text"] == "与企业同城" for r in reasons) < len(reasons) / 3
