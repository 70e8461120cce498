"""The storage repository on SQLite and PostgreSQL (see conftest.py for the backends)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text, update

from tenantmatch.registry import contract
from tenantmatch.registry.errors import NotFoundError
from tenantmatch.store import SCHEMA_VERSION, Repository, UpsertCount, make_engine
from tenantmatch.store import upsert as upsert_module
from tenantmatch.store.errors import StorageError
from tenantmatch.store.schema import meta


def _strs(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def _dates(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[ns]")


def _world() -> dict[str, pd.DataFrame]:
    """Canonical frames with every column type, missing values and Chinese text."""
    buildings = pd.DataFrame(
        {
            "building_id": _strs("B1", "B2"),
            "name": _strs("太原万达广场", "国贸中心 A座"),
            "city": _strs("太原市", "大同市"),
            "district": _strs("小店区", "平城区"),
            "lat": [37.85, np.nan],
            "lon": [112.55, np.nan],
            "theme": _strs("finance", "general"),
            "grade": _strs("super_a", None),
            "total_area_m2": [52000.5, 8000.0],
            "vacant_area_m2": [1200.25, 0.0],
            "min_unit_m2": [80.0, np.nan],
            "rent_cny_m2_day": [3.2, np.nan],
            "floors": pd.array([48, None], dtype="Int64"),
            "completed_year": pd.array([2019, None], dtype="Int64"),
            "smart_5a": pd.array([5, 0], dtype="Int64"),
            "amenities": _strs("catering;gym;metro", None),
            "operator_id": _strs("OP1", None),
        }
    )
    enterprises = pd.DataFrame(
        {
            "enterprise_id": _strs("E1", "E2", "E3"),
            "name": _strs("山西证券股份有限公司", "晋云科技", "Shanxi Trade Co."),
            "industry_code": _strs("6621", "65", "51"),
            "employees": pd.array([3_000_000_000, 12, 0], dtype="Int64"),
            "revenue_10k_cny": [1.5e6, np.nan, 0.0],
            "registered_capital_10k_cny": [35000.0, 100.0, np.nan],
            "founded": _dates("1988-07-01", None, "2021-01-01"),
            "city": _strs("太原市", None, "大同市"),
            "district": _strs("小店区", None, None),
            "lat": [37.86, np.nan, 40.09],
            "lon": [112.56, np.nan, 113.29],
            "hq_type": _strs("regional_hq", None, "none"),
            "tags": _strs("listed", "high_tech;specialized_sme", None),
            "credit_score": [92.5, np.nan, 60.0],
            "risk_flags": _strs(None, None, "abnormal_operations"),
        }
    )
    links = pd.DataFrame(
        {
            "source_id": _strs("E1", "E2"),
            "target_id": _strs("E2", "E3"),
            "relation": _strs("invests", "supplies"),
            "weight": [0.35, np.nan],
        }
    )
    tenancies = pd.DataFrame(
        {
            "enterprise_id": _strs("E1", "E2"),
            "building_id": _strs("B1", "B1"),
            "area_m2": [2400.0, np.nan],
            "start_date": _dates("2019-03-01", "2023-06-15"),
            "end_date": _dates(None, "2025-06-14"),
        }
    )
    events = pd.DataFrame(
        {
            "enterprise_id": _strs("E3", "E3"),
            "building_id": _strs("B2", "B2"),
            "date": _dates("2024-01-10", "2024-02-01"),
            "stage": _strs("contacted", "visited"),
        }
    )
    return {
        "buildings": buildings,
        "enterprises": enterprises,
        "links": links,
        "tenancies": tenancies,
        "events": events,
    }


def _sorted(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    key = list(contract.TABLES_BY_NAME[name].key)
    return frame.sort_values(key).reset_index(drop=True)


def test_round_trip_keeps_every_column_type_and_missing_value(repo: Repository) -> None:
    world = _world()
    repo.upsert(world)
    loaded = repo.load_tables()
    for name, expected in world.items():
        got = _sorted(loaded[name], name)
        assert got["updated_at"].dtype == "datetime64[ns, UTC]"
        pd.testing.assert_frame_equal(got.drop(columns="updated_at"), _sorted(expected, name))
    assert repo.load_table("buildings").loc[lambda f: f.building_id == "B1", "name"].item() == (
        "太原万达广场"
    )


def test_absent_optional_columns_are_stored_as_missing(repo: Repository) -> None:
    minimal = _world()["enterprises"][["enterprise_id", "name", "industry_code", "employees"]]
    repo.upsert({"enterprises": minimal})
    loaded = repo.load_table("enterprises")
    assert list(loaded.columns) == [*contract.ENTERPRISES.column_names, "updated_at"]
    assert loaded["founded"].isna().all()
    assert loaded["tags"].isna().all()
    assert loaded["founded"].dtype == "datetime64[ns]"


def test_upsert_counts_and_updated_at(repo: Repository) -> None:
    world = _world()
    first = repo.upsert(world)
    assert first["enterprises"] == UpsertCount(inserted=3, updated=0, unchanged=0)
    assert first["events"] == UpsertCount(inserted=2, updated=0, unchanged=0)
    stamped = repo.load_table("enterprises").set_index("enterprise_id")["updated_at"]

    again = repo.upsert(repo.load_tables())  # loaded frames (with updated_at) re-import unchanged
    assert all(c == UpsertCount(0, 0, len(world[n])) for n, c in again.items())
    assert repo.data_version() == 1

    changed = world["enterprises"].copy()
    changed.loc[1, "employees"] = 13
    changed.loc[2, "tags"] = "platform"
    assert repo.upsert({"enterprises": changed})["enterprises"] == UpsertCount(0, 2, 1)
    after = repo.load_table("enterprises").set_index("enterprise_id")
    assert after.loc["E1", "updated_at"] == stamped["E1"]
    assert after.loc["E2", "updated_at"] > stamped["E2"]
    assert after.loc["E2", "employees"] == 13
    assert after.loc["E3", "tags"] == "platform"
    assert repo.data_version() == 2


def test_upsert_reads_by_key_or_whole_table_alike(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world()
    repo.upsert(world)
    monkeypatch.setattr(upsert_module, "FULL_READ_MIN_ROWS", 1)
    changed = world["tenancies"].copy()
    changed.loc[0, "end_date"] = pd.Timestamp("2026-01-31")
    counts = repo.upsert({"tenancies": changed, "events": world["events"]})
    assert counts == {"tenancies": UpsertCount(0, 1, 1), "events": UpsertCount(0, 0, 2)}


@pytest.mark.parametrize("chunk_rows", [1, 2])
def test_loading_in_chunks_gives_the_same_frames(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    """Rows are fetched and typed a chunk at a time; a chunk whose column is all missing (one
    row of 1, say) must not change that column's dtype, and row order must stay as stored."""
    repo.upsert(_world())
    whole = repo.load_tables()  # every fixture table fits in one chunk
    monkeypatch.setattr(upsert_module, "READ_CHUNK_ROWS", chunk_rows)
    chunked = repo.load_tables()
    for name, expected in whole.items():
        pd.testing.assert_frame_equal(chunked[name], expected)
        pd.testing.assert_frame_equal(repo.load_table(name), expected)


def test_a_bad_row_in_the_last_table_rolls_back_every_table(repo: Repository) -> None:
    world = _world()
    repo.upsert({"buildings": world["buildings"], "enterprises": world["enterprises"]})
    edited = world["buildings"].copy()
    edited.loc[0, "vacant_area_m2"] = 0.0
    bad_events = world["events"].copy()
    bad_events.loc[1, "building_id"] = "B404"  # unknown building: a foreign key violation
    with pytest.raises(StorageError, match="events"):
        repo.upsert({"buildings": edited, "links": world["links"], "events": bad_events})
    assert repo.counts() == {
        "buildings": 2,
        "enterprises": 3,
        "links": 0,
        "tenancies": 0,
        "events": 0,
    }
    assert repo.get_row("buildings", {"building_id": "B1"})["vacant_area_m2"] == 1200.25
    assert repo.data_version() == 1


def test_a_missing_required_value_rolls_back(repo: Repository) -> None:
    bad = _world()["buildings"]
    bad.loc[1, "name"] = None
    with pytest.raises(StorageError, match="buildings"):
        repo.upsert({"buildings": bad})
    assert repo.counts()["buildings"] == 0


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"tenants": pd.DataFrame()}, "unknown table"),
        ({"buildings": pd.DataFrame({"building_id": ["B1"], "colour": ["red"]})}, "colour"),
        ({"enterprises": pd.DataFrame({"enterprise_id": ["E1"]})}, "lacks required"),
    ],
)
def test_upsert_refuses_frames_outside_the_contract(
    repo: Repository, tables: dict[str, pd.DataFrame], message: str
) -> None:
    with pytest.raises(StorageError, match=message):
        repo.upsert(tables)


def test_upsert_refuses_repeated_keys(repo: Repository) -> None:
    enterprises = _world()["enterprises"]
    doubled = pd.concat([enterprises, enterprises.iloc[[0]]], ignore_index=True)
    with pytest.raises(StorageError, match=r"repeats the key.*E1"):
        repo.upsert({"enterprises": doubled})
    assert repo.counts()["enterprises"] == 0


def test_deleting_an_enterprise_cascades_to_its_links_tenancies_and_events(
    repo: Repository,
) -> None:
    repo.upsert(_world())
    assert repo.delete_rows("enterprises", [{"enterprise_id": "E2"}]) == 1
    assert repo.counts() == {
        "buildings": 2,
        "enterprises": 2,
        "links": 0,
        "tenancies": 1,
        "events": 2,
    }
    assert repo.ids("enterprises") == {"E1", "E3"}
    assert repo.data_version() == 2
    events = repo.load_table("events")
    assert repo.delete_rows("events", events) == 2  # a whole frame works; extra columns ignored
    assert repo.delete_rows("events", events) == 0
    assert repo.data_version() == 3


def test_clear_registry_empties_the_contract_tables_but_keeps_keys_and_meta(
    repo: Repository,
) -> None:
    repo.upsert(_world())
    repo.set_meta("note", "kept")
    before = repo.data_version()
    deleted = repo.clear_registry()
    assert deleted == {"events": 2, "tenancies": 2, "links": 2, "enterprises": 3, "buildings": 2}
    assert set(repo.counts().values()) == {0}
    assert repo.get_meta("note") == "kept"
    assert repo.data_version() == before + 1
    assert repo.clear_registry() == dict.fromkeys(deleted, 0)
    assert repo.data_version() == before + 1  # nothing changed the second time


def test_get_row_returns_python_values_or_none(repo: Repository) -> None:
    repo.upsert(_world())
    row = repo.get_row(
        "tenancies", {"enterprise_id": "E2", "building_id": "B1", "start_date": "2023-06-15"}
    )
    assert row is not None
    assert row["end_date"] == dt.date(2025, 6, 14)
    assert row["area_m2"] is None
    assert row["updated_at"].tzinfo is not None
    building = repo.get_row("buildings", {"building_id": "B2"})
    assert building["floors"] is None and building["smart_5a"] == 0
    assert repo.get_row("buildings", {"building_id": "B9"}) is None
    with pytest.raises(StorageError, match="its key is"):
        repo.get_row("tenancies", {"enterprise_id": "E2"})


def test_ids_counts_and_meta(repo: Repository) -> None:
    repo.upsert(_world())
    assert repo.ids("buildings") == {"B1", "B2"}
    with pytest.raises(StorageError, match="allowed"):
        repo.ids("links")
    assert repo.get_meta("model_version") is None
    repo.set_meta("model_version", "v1")
    repo.set_meta("model_version", "v2")
    assert repo.get_meta("model_version") == "v2"
    assert repo.get_meta("schema_version") == str(SCHEMA_VERSION)
    with pytest.raises(StorageError, match="maintained by storage"):
        repo.set_meta("data_version", "0")
    assert repo.data_version() == 1


def test_a_schema_version_without_a_revision_is_refused(db_url: str) -> None:
    Repository(db_url).close()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="zero"))
    engine.dispose()
    with pytest.raises(StorageError, match="'zero' has no migration revision"):
        Repository(db_url)


def test_reopening_keeps_the_data(db_url: str) -> None:
    with Repository(db_url) as first:
        first.upsert({"buildings": _world()["buildings"]})
    with Repository(db_url) as second:
        assert second.counts()["buildings"] == 2
        assert second.data_version() == 1


def test_api_keys_and_audit_log(repo: Repository) -> None:
    created = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    repo.add_api_key("k1", key_hash="h1", role="admin", created_at=created)
    repo.add_api_key("k2", key_hash="h2", role="operator", operator_id="OP1")
    with pytest.raises(StorageError, match="already exists"):
        repo.add_api_key("k1", key_hash="h3", role="admin")
    found = repo.find_api_key("k1")
    assert found["created_at"] == dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    assert [k["key_id"] for k in repo.list_api_keys()] == ["k1", "k2"]
    assert repo.revoke_api_key("k2") is True
    assert repo.revoke_api_key("k2") is False
    assert repo.find_api_key("k2")["revoked_at"] is not None
    assert repo.find_api_key("nope") is None
    with pytest.raises(NotFoundError, match="nope"):
        repo.revoke_api_key("nope")
    first = repo.append_audit("import", target="data/demo", key_id="k1", detail="3 tables")
    second = repo.append_audit("revoke", target="k2")
    assert second > first
    audit = repo.read_audit(limit=1)
    assert [(a["action"], a["target"], a["key_id"]) for a in audit] == [("revoke", "k2", None)]
    assert repo.data_version() == 0  # keys and audit are not data


def test_progress_bar_goes_to_stderr(repo: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    repo.upsert({"buildings": _world()["buildings"]}, progress=True)
    captured = capsys.readouterr()
    assert "buildings" in captured.err
    assert captured.out == ""


def test_sqlite_connections_get_the_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'x.db'}")
    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout",
                         "cache_size")
        }
    engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "busy_timeout": 5000,
        "cache_size": -65536,
    }
    assert (tmp_path / "a" / "b").is_dir()


def test_new_and_changed_rows_are_stored_in_one_format(tmp_path: Path) -> None:
    """New rows go through the bulk path (raw executemany), changed ones through the upsert
    statement: SQLite must hold the same text for dates and timestamps either way."""
    repo = Repository(f"sqlite:///{tmp_path / 'x.db'}")
    world = _world()
    repo.upsert({"buildings": world["buildings"], "enterprises": world["enterprises"]})
    edited = world["buildings"].copy()
    edited.loc[0, "vacant_area_m2"] = 10.0
    repo.upsert({"buildings": edited})
    with repo._reading() as conn:
        stamps = conn.exec_driver_sql("SELECT updated_at FROM buildings").scalars().all()
        founded = conn.exec_driver_sql("SELECT founded FROM enterprises").scalars().all()
    repo.close()
    assert len(stamps) == 2 and len(set(stamps)) == 2
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", s) for s in stamps)
    assert all(f is None or re.fullmatch(r"\d{4}-\d\d-\d\d", f) for f in founded)


def test_sqlite_write_transactions_take_the_lock_up_front(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with Repository(str(path)) as repo:  # a bare path means an SQLite file
        assert repo.dialect == "sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.execution_options(tenantmatch_write=True).begin() as conn:
        other = make_engine(f"sqlite:///{path}")
        with other.connect() as second:
            second.exec_driver_sql("PRAGMA busy_timeout = 0")
            with pytest.raises(Exception, match="locked"):
                second.exec_driver_sql("BEGIN IMMEDIATE")
        other.dispose()
        with Repository(str(path)) as reader:  # opening only reads: it never waits for a writer
            assert reader.counts()["buildings"] == 0
        conn.execute(text("SELECT 1"))
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@localhost/db", "postgresql+psycopg"),
        ("postgres://u@localhost/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@localhost/db", "postgresql+psycopg"),
    ],
)
def test_postgres_urls_use_psycopg3(url: str, driver: str) -> None:
    engine = make_engine(url)  # no connection is made
    assert engine.url.drivername == driver
    engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(StorageError, match=r"not supported|in-memory"):
        make_engine(url)
