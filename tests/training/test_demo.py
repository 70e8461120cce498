"""The synthetic Shanxi demo world: determinism, the data contract, the simulated history's
invariants, sensitivity to the preference weights, and the ceiling scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.registry.contract import TABLES, TABLES_BY_NAME
from tenantmatch.registry.errors import InputError
from tenantmatch.store import validate_dataset
from tenantmatch.training.demo import (
    TRUTH_DIR,
    PreferenceWeights,
    WorldInfo,
    WorldParams,
    ceiling_scores,
    generate_world,
)

SMALL = WorldParams(enterprises=1_000, seed=7)


def _read(info: WorldInfo) -> dict[str, pd.DataFrame]:
    """The CSV tables in canonical-ish form: ids and codes as str, dates parsed."""
    dates = {
        "enterprises": ["founded"],
        "tenancies": ["start_date", "end_date"],
        "events": ["date"],
    }
    out = {}
    for name, path in info.files.items():
        str_cols = [
            c.name for c in TABLES_BY_NAME[name].columns if c.type in ("str", "enum", "list")
        ]
        out[name] = pd.read_csv(
            path, dtype=dict.fromkeys(str_cols, str), parse_dates=dates.get(name, [])
        )
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[WorldInfo, dict[str, pd.DataFrame]]:
    info = generate_world(tmp_path_factory.mktemp("small"), SMALL)
    return info, _read(info)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    a = generate_world(tmp_path / "a", SMALL)
    b = generate_world(tmp_path / "b", SMALL)
    c = generate_world(tmp_path / "c", WorldParams(enterprises=1_000, seed=8))
    fa, fb, fc = _files(a.out_dir), _files(b.out_dir), _files(c.out_dir)
    assert set(fa) == {
        f"{t}.csv" for t in ("buildings", "enterprises", "links", "tenancies", "events")
    } | {
        f"{TRUTH_DIR}/params.json",
        f"{TRUTH_DIR}/latent.parquet",
        f"{TRUTH_DIR}/affinity.parquet",
        f"{TRUTH_DIR}/buildings.parquet",
    }
    assert fa == fb
    assert fa["enterprises.csv"] != fc["enterprises.csv"]
    assert fa["tenancies.csv"] != fc["tenancies.csv"]


def test_every_table_follows_the_contract(small: tuple[WorldInfo, dict[str, pd.DataFrame]]) -> None:
    info, tables = small
    ids = {"enterprises.enterprise_id": set(tables["enterprises"]["enterprise_id"])}
    ids["buildings.building_id"] = set(tables["buildings"]["building_id"])
    for spec in TABLES:
        df = tables[spec.name]
        assert len(df) > 0, spec.name
        assert list(df.columns) == list(spec.column_names), spec.name
        for col in spec.columns:
            s = df[col.name]
            if col.required:
                assert s.notna().all(), (spec.name, col.name)
            if col.unique:
                assert s.is_unique, (spec.name, col.name)
            present = s.dropna()
            if col.type == "enum":
                assert set(present) <= set(col.allowed), (spec.name, col.name)
            if col.type == "list":
                items = set(";".join(present).split(";")) if len(present) else set()
                assert items <= set(col.allowed), (spec.name, col.name, items - set(col.allowed))
            if col.min is not None:
                assert (
                    (present > col.min).all() if col.min_exclusive else (present >= col.min).all()
                )
            if col.max is not None:
                assert (present <= col.max).all(), (spec.name, col.name)
            if col.references:
                assert set(present) <= ids[col.references], (spec.name, col.name)
    assert info.rows == {name: len(df) for name, df in tables.items()}


def test_specific_contract_rules(small: tuple[WorldInfo, dict[str, pd.DataFrame]]) -> None:
    _, t = small
    b, e, links, ten = t["buildings"], t["enterprises"], t["links"], t["tenancies"]
    assert (b["vacant_area_m2"] <= b["total_area_m2"]).all()
    assert (links["source_id"] != links["target_id"]).all()
    assert not links.duplicated(["source_id", "target_id", "relation"]).any()
    closed = ten.dropna(subset=["end_date"])
    assert (closed["end_date"] >= closed["start_date"]).all()
    assert e["enterprise_id"].str.fullmatch(r"9114\d{4}[0-9A-HJ-NPQRTUWXY]{10}").all()
    assert e["industry_code"].str.fullmatch(r"[A-T]?\d{2}(\d{2})?").all()
    assert not t["events"].duplicated(["enterprise_id", "building_id", "date", "stage"]).any()
    assert t["events"]["date"].max() <= pd.Timestamp(SMALL.end)
    assert b["lat"].between(34.5, 40.8).all() and b["lon"].between(110.2, 114.6).all()  # Shanxi


def test_tenancies_of_one_enterprise_never_overlap(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    ten = small[1]["tenancies"].sort_values(["enterprise_id", "start_date"])
    nxt = ten.groupby("enterprise_id")["start_date"].shift(-1)
    has_next = nxt.notna()
    assert ten.loc[has_next, "end_date"].notna().all()  # only the last one may be open
    assert (ten.loc[has_next, "end_date"] < nxt[has_next]).all()
    assert ten.groupby("enterprise_id")["end_date"].apply(lambda s: s.isna().sum()).max() <= 1


def test_occupancy_at_the_end_fits_and_matches_vacancy(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    b, ten = small[1]["buildings"], small[1]["tenancies"]
    occupied = ten[ten["end_date"].isna()].groupby("building_id")["area_m2"].sum()
    occupied = occupied.reindex(b["building_id"], fill_value=0.0).to_numpy()
    assert (occupied <= b["total_area_m2"].to_numpy() + 0.01).all()
    np.testing.assert_allclose(b["vacant_area_m2"], b["total_area_m2"] - occupied, atol=0.05)
    share = occupied.sum() / b["total_area_m2"].sum()
    assert 0.05 < share < 0.98


def test_taiyuan_has_the_most_buildings(small: tuple[WorldInfo, dict[str, pd.DataFrame]]) -> None:
    counts = small[1]["buildings"]["city"].value_counts()
    assert counts.index[0] == "太原市"
    assert counts.iloc[0] > 2 * counts.iloc[1]


def test_history_has_moves_every_year_and_events_around_them(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    ten, ev = small[1]["tenancies"], small[1]["events"]
    years = ten.loc[ten["start_date"] >= pd.Timestamp(SMALL.start), "start_date"].dt.year
    assert set(range(2019, 2027)) <= set(years)
    assert (ten["start_date"] < pd.Timestamp(SMALL.start)).sum() > 100  # initial occupancy
    signed = ev[ev["stage"] == "signed"].reset_index(names="event")
    pairs = signed.merge(ten, on=["enterprise_id", "building_id"])
    near = (pairs["start_date"] - pairs["date"]).dt.days.between(0, 5)
    assert near.groupby(pairs["event"]).any().reindex(signed["event"], fill_value=False).all()
    assert {"declined", "contacted", "visited", "negotiating"} <= set(ev["stage"])


def _chain_share(tables: dict[str, pd.DataFrame], start: pd.Timestamp) -> float:
    """Share of moves in the history into a building where a linked firm was a tenant."""
    ten, links = tables["tenancies"], tables["links"]
    moves = ten[ten["start_date"] >= start]
    pairs = pd.concat(
        [
            links[["source_id", "target_id"]].set_axis(["e", "p"], axis=1),
            links[["target_id", "source_id"]].set_axis(["e", "p"], axis=1),
        ]
    )
    partner_ten = ten.rename(
        columns={"enterprise_id": "p", "building_id": "b", "start_date": "ps", "end_date": "pe"}
    )
    m = moves.merge(pairs, left_on="enterprise_id", right_on="e").merge(
        partner_ten[["p", "b", "ps", "pe"]], on="p"
    )
    hit = (
        (m["b"] == m["building_id"])
        & (m["ps"] < m["start_date"])
        & (m["pe"].isna() | (m["pe"] > m["start_date"]))
    )
    return m.loc[hit].drop_duplicates(["enterprise_id", "start_date"]).shape[0] / len(moves)


def test_different_weights_give_different_move_patterns(tmp_path: Path) -> None:
    base = WorldParams(enterprises=3_000, seed=11)
    alt = WorldParams(enterprises=3_000, seed=11, weights=PreferenceWeights.alternative(1))
    default_world = _read(generate_world(tmp_path / "default", base))
    chain_world = _read(generate_world(tmp_path / "alt", alt))
    start = pd.Timestamp(base.start)
    assert _chain_share(chain_world, start) > 1.25 * _chain_share(default_world, start)
    assert _median_move_km(chain_world) < 0.8 * _median_move_km(default_world)


def _median_move_km(tables: dict[str, pd.DataFrame]) -> float:
    """Median straight-line distance (km, flat approximation) between consecutive buildings."""
    coords = tables["buildings"].set_index("building_id")[["lat", "lon"]]
    ten = tables["tenancies"].sort_values(["enterprise_id", "start_date"])
    ten = ten.join(coords, on="building_id")
    prev = ten.groupby("enterprise_id")[["lat", "lon"]].shift(1)
    dlat = (ten["lat"] - prev["lat"]) * 111.0
    dlon = (ten["lon"] - prev["lon"]) * 111.0 * np.cos(np.radians(ten["lat"]))
    return float(np.sqrt(dlat**2 + dlon**2).dropna().median())


def test_alternative_weights_are_deterministic_and_clearly_different() -> None:
    a, b = PreferenceWeights.alternative(3), PreferenceWeights.alternative(3)
    assert a == b
    d = PreferenceWeights()
    assert (
        a.chain > 2 * d.chain
        and a.distance_km > 2 * d.distance_km
        and a.theme_fit < d.theme_fit / 3
    )
    assert PreferenceWeights.alternative(4) != a


def test_ceiling_scores_rank_next_year_movers_above_others(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    info, tables = small
    as_of = pd.Timestamp("2025-06-01")
    ten = tables["tenancies"]
    window = (ten["start_date"] > as_of) & (ten["start_date"] <= as_of + pd.Timedelta(days=365))
    movers = ten.loc[window, ["building_id", "enterprise_id"]].reset_index(drop=True)
    rng = np.random.default_rng(0)
    others = pd.DataFrame(
        {
            "building_id": rng.choice(tables["buildings"]["building_id"], 2_000),
            "enterprise_id": rng.choice(tables["enterprises"]["enterprise_id"], 2_000),
        }
    )
    kw = {"as_of": as_of, "truth_dir": info.truth_dir}
    pos, neg = ceiling_scores(movers, tables, **kw), ceiling_scores(others, tables, **kw)
    assert len(movers) > 20 and pos.shape == (len(movers),) and neg.shape == (2_000,)
    assert np.isfinite(pos).all() and (pos >= 0).all() and (neg <= 1).all()
    assert pos.mean() > 10 * neg.mean()
    assert np.median(pos) > np.median(neg)


def test_ceiling_scores_zero_for_current_building_and_unknown_ids(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    info, tables = small
    ten = tables["tenancies"]
    current = ten.loc[ten["end_date"].isna(), ["building_id", "enterprise_id"]].head(20)
    scores = ceiling_scores(current, tables, as_of=info.as_of, truth_dir=info.truth_dir)
    assert (scores == 0).all()
    bad = pd.DataFrame(
        {"building_id": ["B999999"], "enterprise_id": [current["enterprise_id"].iloc[0]]}
    )
    # a building added to a live registry after the demo import: skipped, never an error
    assert ceiling_scores(bad, tables, as_of=info.as_of, truth_dir=info.truth_dir).tolist() == [0.0]


def test_truth_is_kept_apart_and_round_trips(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    info, tables = small
    latent = pd.read_parquet(info.truth_files["latent.parquet"])
    assert list(latent["enterprise_id"]) == list(tables["enterprises"]["enterprise_id"])
    assert {"mobility", "taste_quality", "growth_per_year"} <= set(latent.columns)
    assert not {"mobility", "taste_quality"} & set(tables["enterprises"].columns)
    from tenantmatch.training.demo.truth import read_truth

    assert read_truth(info.truth_dir).params == SMALL
    assert info.as_of == pd.Timestamp("2026-10-31")


def test_bad_params_are_refused() -> None:
    with pytest.raises(InputError, match="enterprises=5"):
        WorldParams(enterprises=5)
    assert WorldParams(enterprises=1_000).n_buildings == 60
    assert WorldParams(enterprises=20_000).n_buildings == 500
    assert WorldParams().n_months == 94


def test_a_thousand_enterprise_world_has_the_asked_size(tmp_path: Path) -> None:
    # Generation time is a benchmark figure (benchmarks/), not a test assertion.
    info = generate_world(tmp_path, WorldParams(enterprises=1_000, seed=1))
    assert info.rows["enterprises"] == 1_000
    assert info.rows["buildings"] == WorldParams(enterprises=1_000).n_buildings


def test_the_importer_accepts_the_world_and_its_tables_feed_the_ceiling(
    small: tuple[WorldInfo, dict[str, pd.DataFrame]],
) -> None:
    info, tables = small
    result = validate_dataset(info.out_dir)
    assert result.errors == []
    assert result.rows_read == info.rows
    pairs = tables["tenancies"][["building_id", "enterprise_id"]].tail(50).reset_index(drop=True)
    as_of = pd.Timestamp("2024-01-01")
    ours = ceiling_scores(pairs, tables, as_of=as_of, truth_dir=info.truth_dir)
    canonical = ceiling_scores(pairs, result.tables, as_of=as_of, truth_dir=info.truth_dir)
    np.testing.assert_allclose(canonical, ours)
    assert ours.max() > 0


def test_moves_under_way_on_the_cut_date_are_certain_for_the_ceiling() -> None:
    from tenantmatch.training.demo.ceiling import _in_flight

    d = pd.Timestamp
    tables = {
        "tenancies": pd.DataFrame(
            {
                "enterprise_id": ["E1", "E2", "E3"],
                "building_id": ["B1", "B1", "B2"],
                "start_date": [d("2024-02-01"), d("2024-02-01"), d("2023-12-01")],
            }
        ),
        "events": pd.DataFrame(
            {
                "enterprise_id": ["E1", "E2", "E3", "E1"],
                "building_id": ["B1", "B1", "B2", "B2"],
                "date": [d("2023-12-20"), d("2024-01-15"), d("2023-11-01"), d("2023-12-01")],
                "stage": ["contacted", "visited", "signed", "declined"],
            }
        ),
    }
    pairs = pd.DataFrame(
        {"building_id": ["B1", "B1", "B2", "B2"], "enterprise_id": ["E1", "E2", "E3", "E1"]}
    )
    got = _in_flight(pairs, tables, as_of=d("2024-01-01"), horizon_days=365)
    # E1->B1: pipeline seen before the cut, move after it; E2's pipeline starts after the cut;
    # E3 moved before the cut; E1->B2 was a declined runner-up.
    assert got.tolist() == [1.0, 0.0, 0.0, 0.0]
