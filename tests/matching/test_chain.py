"""Chain leads (以商招商) through a real Engine: relations and directions, business-rule
exclusions, ranking by the model's fit. Also holds the small served world the planning and
update tests reuse (``chain_tables``, ``make_engine``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, build_matrix, feature_spec_fingerprint
from tenantmatch.matching.candidates import PoolRules
from tenantmatch.matching.chain import chain_leads
from tenantmatch.matching.engine import Engine
from tenantmatch.models import LGBMRankerScorer, promote, save_version
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.registry.errors import InputError, NotFoundError
from tenantmatch.store import Repository

AS_OF = date(2024, 6, 30)
N_FILLERS = 40
# partner id -> (relation, source, target, weight); T1 and T2 are tenants of B1, T3 of B2.
LINKS = {
    "U1": ("supplies", "U1", "T1", 0.8),  # upstream of T1
    "D1": ("supplies", "T1", "D1", 0.3),  # downstream of T1
    "I1": ("invests", "I1", "T2", None),  # investor of T2
    "S1": ("invests", "T2", "S1", 0.5),  # investee of T2
    "P1": ("partners", "P1", "T1", 0.6),  # partner of T1
    "R1": ("supplies", "R1", "T1", 0.9),  # risky (tax violation)
    "X1": ("supplies", "X1", "T1", 0.9),  # deregistered
    "G1": ("supplies", "G1", "T1", 0.9),  # too big for B1's vacancy
    "T3": ("partners", "T3", "T2", 0.4),  # tenant of B2, still a lead for B1
}


def chain_tables() -> dict[str, pd.DataFrame]:
    """Canonical tables: 4 buildings, tenants T1-T3, the linked firms of LINKS, fillers F00-F39."""
    buildings = pd.DataFrame(
        {
            "building_id": ["B1", "B2", "B3", "B4"],
            "name": ["科创大厦", "迎泽中心", "平城广场", "满租大厦"],
            "city": ["太原市", "太原市", "大同市", "太原市"],
            "district": ["小店区", "迎泽区", "平城区", "小店区"],
            "theme": ["tech_rnd", "finance", "general", "general"],
            "total_area_m2": [8000.0, 3000.0, 8000.0, 1000.0],
            "vacant_area_m2": [2000.0, 1000.0, 5000.0, 0.0],
            "min_unit_m2": [100.0, 150.0, np.nan, 50.0],
            "operator_id": ["OP1", "OP2", "OP1", "OP1"],
        }
    )
    named = ["T1", "T2", "T3", *[p for p in LINKS if p != "T3"]]
    rng = np.random.default_rng(3)
    ids = named + [f"F{i:02d}" for i in range(N_FILLERS)]
    staff = [30, 20, 10, 12, 8, 15, 6, 25, 9, 11, 1000, *rng.integers(5, 30, N_FILLERS)]
    enterprises = pd.DataFrame(
        {
            "enterprise_id": ids,
            "name": [f"企业{i}" for i in ids],
            "industry_code": rng.choice(["6510", "6620", "7240", "5110"], len(ids)),
            "employees": pd.array(staff, dtype="Int64"),
            "founded": pd.to_datetime(["2015-01-01"] * len(ids)),
            "city": ["太原市"] * len(ids),
            "district": rng.choice(["小店区", "迎泽区"], len(ids)),
            "credit_score": [80.0] * len(ids),
            "risk_flags": [{"R1": "tax_violation", "X1": "deregistered"}.get(i) for i in ids],
        }
    )
    links = pd.DataFrame(
        [(s, t, r, w) for r, s, t, w in LINKS.values()],
        columns=["source_id", "target_id", "relation", "weight"],
    )
    tenancies = pd.DataFrame(
        {
            "enterprise_id": ["T1", "T2", "T3"],
            "building_id": ["B1", "B1", "B2"],
            "area_m2": [300.0, 200.0, 100.0],
            "start_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2021-06-01"]),
        }
    )
    return {"buildings": buildings, "enterprises": enterprises, "links": links,
            "tenancies": tenancies}  # fmt: skip


def fit_model() -> tuple[LGBMRankerScorer, Vocabulary]:
    """A small lambdarank model: chain partners in the building and theme fit grade higher."""
    snapshot = Snapshot.at(Registry.from_tables(chain_tables()), pd.Timestamp(AS_OF))
    vocab = Vocabulary.fit(snapshot)
    b, e = np.meshgrid(snapshot.buildings.index, snapshot.enterprises.index, indexing="ij")
    pairs = pd.DataFrame({"building_id": b.ravel(), "enterprise_id": e.ravel()})
    X = build_matrix(pairs, snapshot, vocab=vocab)
    chain = X["pair__chain_partners_in_building"].fillna(0).to_numpy() > 0
    theme = X["pair__theme_prior_fit"].fillna(0).to_numpy() > 0.3
    y = (2 * chain + theme).astype(int)
    scorer = LGBMRankerScorer(num_boost_round=30, min_data_in_leaf=3, num_leaves=7, seed=0)
    scorer.fit(X, y, group=[len(snapshot.enterprises)] * len(snapshot.buildings))
    return scorer, vocab


def make_engine(
    folder: Path, model: tuple[LGBMRankerScorer, Vocabulary], *, extra: dict | None = None
) -> Engine:
    """An Engine on a fresh SQLite file holding ``chain_tables()`` and ``model`` promoted."""
    repo = Repository(f"sqlite:///{folder / 'tm.db'}")
    repo.upsert(chain_tables())
    scorer, vocab = model
    store = folder / "models"
    version = save_version(
        store, scorer, created=datetime(2024, 7, 1, tzinfo=UTC), vocabulary=vocab.to_dict(),
        feature_spec_fingerprint=feature_spec_fingerprint(), manifest_extra=extra,
    )  # fmt: skip
    promote(store, version)
    return Engine(repo, store, as_of=AS_OF)


@pytest.fixture(scope="module")
def model() -> tuple[LGBMRankerScorer, Vocabulary]:
    return fit_model()


@pytest.fixture
def engine(tmp_path: Path, model: tuple[LGBMRankerScorer, Vocabulary]) -> Engine:
    return make_engine(tmp_path, model)


def _by_id(result: dict) -> dict[str, dict]:
    return {item["enterprise_id"]: item for item in result["items"]}


def test_leads_carry_relation_direction_and_tenant(engine: Engine) -> None:
    result = chain_leads(engine, "B1")
    assert result["query"] == {"building_id": "B1"} and result["tenants"] == 2
    assert result["model_version"] == engine.model_version
    found = {e: (i["via_tenant_id"], i["relation"], i["direction"], i["weight"])
             for e, i in _by_id(result).items()}  # fmt: skip
    assert found == {
        "U1": ("T1", "supplies", "upstream", 0.8),
        "D1": ("T1", "supplies", "downstream", 0.3),
        "I1": ("T2", "invests", "investor", None),
        "S1": ("T2", "invests", "investee", 0.5),
        "P1": ("T1", "partners", "partner", 0.6),
        "T3": ("T2", "partners", "partner", 0.4),
    }
    assert _by_id(result)["U1"]["via_tenant_name"] == "企业T1"


def test_business_rules_exclude_like_shortlists(engine: Engine) -> None:
    ids = set(_by_id(chain_leads(engine, "B1")))
    assert {"R1", "X1", "G1", "T1", "T2"}.isdisjoint(ids)  # risky, deregistered, too big, tenants
    risky = _by_id(chain_leads(engine, "B1", rules=PoolRules(include_risky=True)))
    assert risky["R1"]["risk_warnings"] == ["风险预警：税收违法"] and "X1" not in risky
    loose = chain_leads(engine, "B1", rules=PoolRules(require_space_fit=False))
    assert "G1" in _by_id(loose)
    assert (
        chain_leads(engine, "B1", rules=PoolRules(exclude_ids={"U1"}))["items"][0]["enterprise_id"]
        != "U1"
    )


def test_ranked_by_fit_with_reasons_and_k(engine: Engine) -> None:
    items = chain_leads(engine, "B1")["items"]
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    [shortlisted] = engine.shortlist_for_buildings(["B1"], k=500)
    fit = {i["enterprise_id"]: i["score"] for i in shortlisted["items"]}
    assert all(i["score"] == pytest.approx(fit[i["enterprise_id"]]) for i in items)
    assert any(r["feature"].startswith("pair__") for i in items for r in i["reasons"])
    assert len(chain_leads(engine, "B1", k=2)["items"]) == 2


def test_no_tenants_unknown_building_and_bad_k(engine: Engine) -> None:
    assert chain_leads(engine, "B3") == {
        "query": {"building_id": "B3"}, "model_version": engine.model_version,
        "tenants": 0, "items": [],
    }  # fmt: skip
    with pytest.raises(NotFoundError, match="NOPE"):
        chain_leads(engine, "NOPE")
    with pytest.raises(InputError, match="k=0"):
        chain_leads(engine, "B1", k=0)


def test_a_lead_that_declined_recently_comes_last_flagged(engine: Engine) -> None:
    before = chain_leads(engine, "B1", k=20)["items"]
    top = before[0]["enterprise_id"]
    day = (pd.Timestamp(AS_OF) - pd.Timedelta(days=40)).date()
    engine.repo.upsert({"events": pd.DataFrame({"enterprise_id": [top], "building_id": ["B1"],
                                                "date": [pd.Timestamp(day)],
                                                "stage": ["declined"]})})  # fmt: skip
    after = chain_leads(engine, "B1", k=20)["items"]
    assert after[-1]["enterprise_id"] == top and after[-1]["declined_on"] == day.isoformat()
    assert after[-1]["reasons"][0]["text"] == f"已婉拒 ({day.isoformat()})"
    assert [i["rank"] for i in after] == list(range(1, len(after) + 1))
    assert all("declined_on" not in i for i in after[:-1])
