"""Registry construction, as-of snapshots and vacancy reconstruction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary
from tenantmatch.registry import Registry, SchemaError, Snapshot
from tests.features import world


def test_from_tables_indexes_by_id_and_adds_missing_optional_columns() -> None:
    tables = world.tables()
    tables["buildings"] = tables["buildings"].drop(
        columns=["operator_id", "floors"], errors="ignore"
    )
    del tables["links"]
    registry = Registry.from_tables(tables)
    assert list(registry.buildings.index) == ["B1", "B2", "B3"]
    assert registry.buildings["floors"].isna().all()
    assert str(registry.buildings["floors"].dtype) == "Int64"
    assert registry.links.empty and list(registry.links.columns)[:3] == [
        "source_id",
        "target_id",
        "relation",
    ]
    assert registry.enterprises.loc["E1", "division"] == "66"
    assert registry.enterprises.loc["E2", "section"] == "I"
    assert pd.isna(registry.enterprises.loc["E5", "division"])


def test_from_tables_refuses_bad_input() -> None:
    tables = world.tables()
    with pytest.raises(SchemaError, match="theme"):
        Registry.from_tables({**tables, "buildings": tables["buildings"].drop(columns="theme")})
    with pytest.raises(SchemaError, match="unknown table"):
        Registry.from_tables({**tables, "offices": tables["buildings"]})
    twice = pd.concat([tables["enterprises"], tables["enterprises"].head(1)])
    with pytest.raises(SchemaError, match="E1"):
        Registry.from_tables({**tables, "enterprises": twice})


def test_snapshot_keeps_what_was_known_at_the_end_of_as_of() -> None:
    tables = world.tables()
    late = (
        tables["enterprises"].head(1).assign(enterprise_id="E6", founded=pd.Timestamp("2024-01-01"))
    )
    tables["enterprises"] = pd.concat([tables["enterprises"], late], ignore_index=True)
    snap = Snapshot.at(Registry.from_tables(tables), pd.Timestamp("2022-05-31"))
    assert "E6" not in snap.enterprises.index
    assert list(snap.tenancies["enterprise_id"]) == ["E1", "E2"]
    # E2's tenancy in B2 ends on as_of: by the end of that day it is closed.
    assert snap.tenancies["end_date"].notna().sum() == 1
    assert list(snap.events["date"].dt.strftime("%m-%d")) == ["03-10", "04-01", "06-01"]
    at_t = Snapshot.at(Registry.from_tables(tables), pd.Timestamp("2022-05-30"))
    assert at_t.tenancies["end_date"].isna().all()  # the end date was not known yet


def test_vacancy_is_reconstructed_from_tenancy_areas() -> None:
    registry = world.registry()
    at = {
        d: Snapshot.at(registry, pd.Timestamp(d)).buildings["vacant_area_m2"]
        for d in ("2020-06-01", "2023-01-01", "2023-06-30")
    }
    # 2020-06-01: E2 in B2 (250 m², since left) and not yet in B1 (500); E3 not yet in B2 (300).
    assert at["2020-06-01"].to_dict() == {"B1": 2500.0, "B2": 1050.0, "B3": 2000.0}
    assert at["2023-01-01"].to_dict() == {"B1": 2000.0, "B2": 1300.0, "B3": 2000.0}
    assert at["2023-06-30"].to_dict() == {"B1": 2000.0, "B2": 1000.0, "B3": 2000.0}


def test_vacancy_is_clipped_and_ignores_tenancies_without_area() -> None:
    tables = world.tables()
    extra = pd.DataFrame(
        {
            "enterprise_id": ["E5", "E4"],
            "building_id": ["B3", "B1"],
            "area_m2": [500.0, np.nan],
            "start_date": pd.to_datetime(["2023-05-01", "2023-05-01"]),
            "end_date": pd.NaT,
        }
    )
    tables["tenancies"] = pd.concat([tables["tenancies"], extra], ignore_index=True)
    vacant = Snapshot.at(Registry.from_tables(tables), world.T).buildings["vacant_area_m2"]
    assert vacant["B3"] == 2000.0  # 2000 + 500 clipped to the total
    assert vacant["B1"] == 2000.0


def test_vocabulary_round_trips_and_codes_unseen_as_nan() -> None:
    vocab = Vocabulary.fit(Snapshot.at(world.registry(), world.T))
    assert vocab.theme == ("finance", "general", "tech_rnd")
    assert vocab.division == ("65", "66", "72")
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    codes = vocab.encode(pd.Series(["tech_rnd", "internet", None]), field="theme")
    assert codes.dtype == np.float32
    assert codes[0] == 2.0 and np.isnan(codes[1:]).all()


def test_vocabulary_refuses_malformed_dicts() -> None:
    from tenantmatch.features import VocabularyError

    good = Vocabulary().to_dict()
    with pytest.raises(VocabularyError, match="colour"):
        Vocabulary.from_dict({**good, "colour": []})
    with pytest.raises(VocabularyError, match="theme"):
        Vocabulary.from_dict({**good, "theme": ["a", "a"]})
