"""Dated shortlists: the registry as it stood on another day (tenure-like features computed at
that day, later tenancies and events ignored) and the stale-registry warning at 90 days."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, build_matrix
from tenantmatch.matching import STALE_AFTER_DAYS, registry_freshness
from tenantmatch.matching.engine import Engine
from tenantmatch.matching.shortlist import ScoringState
from tenantmatch.models import LGBMRankerScorer
from tenantmatch.registry import InputError, Registry, Snapshot
from tenantmatch.store import Repository
from tests.matching.test_candidates import AS_OF
from tests.matching.test_shortlist import _fit_model as fit_model
from tests.matching.test_shortlist import publish_model, shortlist_tables

# In shortlist_tables E1 rents in B1 since 2020-01-01 (open) and E7 rented B2 from 2019-05-01
# to 2023-05-01, the newest tenancy or event date of the registry.
NEWEST = date(2023, 5, 1)


@pytest.fixture(scope="module")
def model() -> tuple[LGBMRankerScorer, Vocabulary]:
    """The shortlist tests' small model, fitted on their world as of AS_OF."""
    return fit_model(Snapshot.at(Registry.from_tables(shortlist_tables()), AS_OF), seed=0)


@pytest.fixture
def engine(tmp_path: Path, model: tuple[LGBMRankerScorer, Vocabulary]) -> Engine:
    """The shortlist tests' world and model, served as of 2024-06-30."""
    repo = Repository(f"sqlite:///{tmp_path / 'tm.db'}")
    repo.upsert(shortlist_tables())
    publish_model(tmp_path / "models", model)
    return Engine(repo, tmp_path / "models", as_of=date(2024, 6, 30))


def _enterprise_features(state: ScoringState, enterprise: str) -> pd.Series:
    pairs = pd.DataFrame({"building_id": ["B3"], "enterprise_id": [enterprise]})
    return build_matrix(pairs, state.snapshot, vocab=state.vocab).iloc[0]


def test_as_of_moves_tenure_like_features_to_that_day(engine: Engine) -> None:
    today = engine.state()
    earlier = engine.state(as_of=date(2022, 6, 30))
    assert earlier is not today and earlier.snapshot.as_of == pd.Timestamp("2022-06-30")
    now, then = _enterprise_features(today, "E1"), _enterprise_features(earlier, "E1")
    # two years between the dates: tenure two years shorter, 24 months fewer since the move
    assert now["e__tenure_years"] - then["e__tenure_years"] == pytest.approx(2.0, abs=0.01)
    assert now["e__months_since_move"] - then["e__months_since_move"] == pytest.approx(24, abs=0.5)
    # E7's lease ended on 2023-05-01: on 2022-06-30 it was still a tenant somewhere
    assert _enterprise_features(today, "E7")["e__in_building"] == 0.0
    assert _enterprise_features(earlier, "E7")["e__in_building"] == 1.0
    assert engine.state(as_of=date(2022, 6, 30)) is earlier  # kept while nothing changes
    assert engine.state(as_of=date(2024, 6, 30)) is today  # the engine's own date
    assert engine.state() is today  # a dated state never replaces the current one


def test_dated_shortlists_say_their_date_and_leave_the_current_state_alone(engine: Engine) -> None:
    dated_engine = Engine(engine.repo, engine.store, as_of=date(2024, 6, 30))
    current = dated_engine.shortlist_for_buildings(["B1"], k=5)
    earlier = dated_engine.state(as_of=date(2022, 6, 30))
    dated = dated_engine.shortlist_for_buildings(["B1"], k=5, state=earlier)
    assert current[0]["as_of"] == "2024-06-30" and dated[0]["as_of"] == "2022-06-30"
    assert dated_engine.shortlist_for_buildings(["B1"], k=5) == current


def test_stale_registry_threshold_is_90_days(engine: Engine) -> None:
    assert STALE_AFTER_DAYS == 90
    edge = NEWEST + timedelta(days=STALE_AFTER_DAYS)
    fresh = engine.freshness(as_of=edge)
    assert (fresh.newest, fresh.days_behind, fresh.stale) == (NEWEST, 90, False)
    assert fresh.warning() is None and fresh.warning_zh() is None
    stale = engine.freshness(as_of=edge + timedelta(days=1))
    assert (stale.days_behind, stale.stale) == (91, True)
    assert "2023-05-01" in (stale.warning() or "") and "91 days" in (stale.warning() or "")
    assert "台账数据已过期" in (stale.warning_zh() or "")
    assert engine.freshness().stale  # the engine's own date, 2024-06-30: 426 days behind


def test_freshness_reads_only_what_was_known_that_day() -> None:
    tables = shortlist_tables()
    tables["events"] = pd.DataFrame(
        {"enterprise_id": ["E2"], "building_id": ["B1"], "date": [pd.Timestamp("2024-06-01")],
         "stage": ["contacted"]}
    )  # fmt: skip
    registry = Registry.from_tables(tables)
    assert registry_freshness(Snapshot.at(registry, pd.Timestamp("2024-06-30"))).newest == date(
        2024, 6, 1
    )
    # before the event and the lease's end were known: the lease start of 2020 is the newest
    before = registry_freshness(Snapshot.at(registry, pd.Timestamp("2020-06-30")))
    assert before.newest == date(2020, 1, 1) and before.stale
    bare = {k: v for k, v in tables.items() if k not in ("tenancies", "events")}
    empty = Registry.from_tables(bare)
    nothing = registry_freshness(Snapshot.at(empty, pd.Timestamp("2024-06-30")))
    assert nothing.newest is None and not nothing.stale


@pytest.mark.parametrize("day", [date(406, 12, 24), date(9999, 1, 1)])
def test_a_date_outside_the_registrys_range_is_bad_input(engine: Engine, day: date) -> None:
    with pytest.raises(InputError, match=r"as_of=.* is out of range"):
        engine.state(as_of=day)
