"""The suite of named demo worlds: the catalogue, a valid contract folder per world at a tiny
size, mechanisms that really differ, the hidden year, and a ceiling that stays the best ranking
on every world and skips what the truth does not know."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary
from tenantmatch.registry import Registry
from tenantmatch.store import validate_dataset
from tenantmatch.training.demo import (
    WORLDS,
    WorldInfo,
    ceiling_scores,
    generate_world,
    suite_world,
    with_hidden_months,
    world_names,
)
from tenantmatch.training.demo.truth import read_truth
from tenantmatch.training.evaluate import System, evaluation_pools, score_and_measure
from tenantmatch.training.holdout import ceiling_system
from tenantmatch.training.labels import BUILDING_TO_ENTERPRISE
from tenantmatch.training.splits import TemporalSplit, Window

TINY = 1_000
HAND_RULE = ["pair__theme_prior_fit", "pair__same_city", "pair__space_need_fits"]


def test_catalogue_has_named_worlds_of_the_asked_sizes_and_three_reserved() -> None:
    names = [w.name for w in WORLDS]
    assert len(names) >= 8 and len(set(names)) == len(names)
    assert len({w.seed for w in WORLDS}) == len(WORLDS)
    assert sum(w.reserved for w in WORLDS) == 3
    assert world_names(reserved=True) == [w.name for w in WORLDS if w.reserved]
    sizes = [w.enterprises for w in WORLDS]
    assert max(sizes) == 20_000 and min(sizes) == 2_000
    assert suite_world(names[sizes.index(2_000)]).params.n_buildings == 60
    assert sum(2_000 <= s <= 8_000 for s in sizes) >= len(sizes) - 1
    assert all(w.params.hidden_months == 12 and "\n" not in w.description for w in WORLDS)
    # structurally different: each switch takes more than one value across the suite
    rates = [w.params.rates for w in WORLDS]
    records = [w.params.records for w in WORLDS]
    assert {r.leases for r in rates} == {True, False}
    assert len({r.lease_months for r in rates if r.leases}) >= 4
    for switch in ("partner_move", "price_move", "home_move", "downstream_only"):
        assert len({getattr(r, switch) for r in rates}) >= 2, switch
    assert {r.events for r in records} == {"lead", "lag"}
    assert any(r.drop_columns for r in records) and any(r.employee_noise_sd for r in records)


def test_unknown_world_names_the_known_ones() -> None:
    with pytest.raises(Exception, match="lease_uniform"):
        suite_world("no_such_world")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[WorldInfo, dict]]:
    """Every world at TINY enterprises: its info and canonical tables of the folder and of the
    folder plus the hidden year."""
    root = tmp_path_factory.mktemp("suite")
    out = {}
    for w in WORLDS:
        info = generate_world(root / w.name, replace(w.params, enterprises=TINY))
        visible = validate_dataset(info.out_dir)
        full = validate_dataset(with_hidden_months(info.out_dir, root / f"{w.name}-full"))
        assert visible.errors == [] and full.errors == [], w.name
        out[w.name] = (info, {"visible": visible.tables, "full": full.tables})
    return out


def test_every_world_writes_a_valid_folder_without_its_dropped_columns(tiny: dict) -> None:
    for w in WORLDS:
        info, _ = tiny[w.name]
        for column in w.params.records.drop_columns:
            table, name = column.split(".")
            header = info.files[table].read_text(encoding="utf-8").splitlines()[0].split(",")
            assert name not in header, (w.name, column)
        assert read_truth(info.truth_dir).params == replace(w.params, enterprises=TINY)


def test_the_folder_ends_at_the_end_date_and_the_hidden_year_follows(tiny: dict) -> None:
    for w in WORLDS:
        _, t = tiny[w.name]
        end = pd.Timestamp(w.params.end)
        visible, full = t["visible"]["tenancies"], t["full"]["tenancies"]
        assert visible["start_date"].max() <= end and t["visible"]["events"]["date"].max() <= end
        assert (visible["end_date"].dropna() <= end).all()
        later = full[full["start_date"] > end]
        assert len(later) > 20 and later["start_date"].max() <= end + pd.DateOffset(months=12)
        before = full[full["start_date"] <= end]
        assert len(before) == len(visible), w.name


def _lease_end_share(tenancies: pd.DataFrame, months: int) -> float:
    """Share of moves between two tenancies whose tenure in months is a multiple of ``months``."""
    ten = tenancies.sort_values(["enterprise_id", "start_date"])
    nxt = ten.groupby("enterprise_id")["start_date"].shift(-1)
    moved = nxt.notna()
    a, b = ten.loc[moved, "start_date"], nxt[moved]
    tenure = (b.dt.year - a.dt.year) * 12 + b.dt.month - a.dt.month
    return float((tenure % months == 0).mean())


def test_moves_peak_at_lease_ends_only_where_there_are_leases(tiny: dict) -> None:
    fixed = _lease_end_share(tiny["lease36_fixed"][1]["full"]["tenancies"], 36)
    memoryless = _lease_end_share(tiny["growth_no_lease"][1]["full"]["tenancies"], 36)
    assert fixed > 0.5
    assert memoryless < 0.15


def _signed_after_start(tables: dict[str, pd.DataFrame]) -> float:
    """Share of 'signed' events dated after the start of the pair's nearest tenancy."""
    signed = tables["events"].query("stage == 'signed'").reset_index(names="event")
    pairs = signed.merge(tables["tenancies"], on=["enterprise_id", "building_id"])
    gap = (pairs["date"] - pairs["start_date"]).dt.days
    nearest = pairs.loc[gap.abs().groupby(pairs["event"]).idxmin()]
    return float((nearest["date"] > nearest["start_date"]).mean())


def test_lagging_events_follow_moves_and_leading_ones_precede_them(tiny: dict) -> None:
    for w in WORLDS:
        share = _signed_after_start(tiny[w.name][1]["full"])
        if w.params.records.events == "lag":
            assert share > 0.95, w.name
        else:
            assert share < 0.05, w.name


def _recent_partner_share(tables: dict[str, pd.DataFrame], end: pd.Timestamp) -> float:
    """Share of the last 3 years' moves by firms one of whose customers (links they are the
    source of) moved in the 6 months before."""
    ten, links = tables["tenancies"], tables["links"]
    moves = ten[ten["start_date"] > end - pd.DateOffset(years=3)]
    m = moves.merge(
        links[["source_id", "target_id"]], left_on="enterprise_id", right_on="source_id"
    )
    partner = ten[["enterprise_id", "start_date"]].rename(
        columns={"enterprise_id": "target_id", "start_date": "p_start"}
    )
    m = m.merge(partner, on="target_id")
    lag = (m["start_date"] - m["p_start"]).dt.days
    hit = m.loc[lag.between(1, 183)].drop_duplicates(["enterprise_id", "start_date"])
    return len(hit) / len(moves)


def test_suppliers_follow_customers_in_the_chain_world(tiny: dict) -> None:
    end = pd.Timestamp(suite_world("chain_followers").params.end)
    chain = _recent_partner_share(tiny["chain_followers"][1]["full"], end)
    plain = _recent_partner_share(tiny["lease_uniform"][1]["full"], end)
    assert chain > 1.5 * plain


def _median_km_from_home(tables: dict[str, pd.DataFrame]) -> float:
    """Median flat-earth km between an enterprise's registered address and its buildings."""
    b = tables["buildings"].set_index("building_id")[["lat", "lon"]]
    e = tables["enterprises"].set_index("enterprise_id")[["lat", "lon"]]
    ten = tables["tenancies"].join(b, on="building_id").join(e, on="enterprise_id", rsuffix="_e")
    dlat = (ten["lat"] - ten["lat_e"]) * 111.0
    dlon = (ten["lon"] - ten["lon_e"]) * 111.0 * np.cos(np.radians(ten["lat"]))
    return float(np.sqrt(dlat**2 + dlon**2).median())


def test_firms_stay_near_home_in_the_distance_world(tiny: dict) -> None:
    home = _median_km_from_home(tiny["distance_home"][1]["full"])
    assert home < 0.7 * _median_km_from_home(tiny["lease_uniform"][1]["full"])


def test_headcounts_are_noisy_only_where_the_world_says_so(tiny: dict) -> None:
    for w in WORLDS:
        info, t = tiny[w.name]
        true = read_truth(info.truth_dir).latent["employees_end"].to_numpy()
        seen = t["visible"]["enterprises"]["employees"].to_numpy(float)
        spread = float(np.median(np.abs(np.log(np.maximum(seen, 1) / true))))
        if w.params.records.employee_noise_sd > 0:
            assert spread > 0.2, w.name
        else:
            assert spread == 0.0, w.name


def _hidden_year(info: WorldInfo, end: pd.Timestamp) -> TemporalSplit:
    window = Window(end, end + pd.DateOffset(months=12))
    return TemporalSplit(end, (), window, window)


def test_the_ceiling_ranks_the_hidden_year_better_than_the_hand_rule_on_every_world(
    tiny: dict,
) -> None:
    hand = System("hand_rule", lambda X, pairs, d: X[HAND_RULE].fillna(0).sum(axis=1).to_numpy())
    for w in WORLDS:
        info, t = tiny[w.name]
        split = _hidden_year(info, pd.Timestamp(w.params.end))
        registry = Registry.from_tables(t["full"])
        snapshot, pools = evaluation_pools(
            registry, window=split.evaluation, max_queries=25, directions=[BUILDING_TO_ENTERPRISE]
        )
        ceiling = ceiling_system(t["full"], split, info.truth_dir)
        metrics, _ = score_and_measure(
            snapshot, pools, systems=[hand, ceiling], vocab=Vocabulary.fit(snapshot)
        )
        ndcg = metrics.query("metric == 'ndcg@10'").set_index("system")["value"]
        assert ndcg["ceiling"] > ndcg["hand_rule"] + 0.05, (w.name, ndcg.to_dict())


def test_the_ceiling_skips_rows_the_truth_does_not_know(tiny: dict) -> None:
    info, t = tiny["chain_followers"]
    tables = {k: v.copy() for k, v in t["visible"].items()}
    known = tables["enterprises"].iloc[:3]
    stranger = known.iloc[[0]].assign(enterprise_id="91140100MA0XXXXXX1", name="新加企业有限公司")
    tables["enterprises"] = pd.concat([tables["enterprises"], stranger], ignore_index=True)
    b = tables["buildings"]["building_id"].iloc[:3].tolist()
    pairs = pd.DataFrame(
        {
            "building_id": [b[0], b[1], b[2], "B999999"],
            "enterprise_id": [*known["enterprise_id"].iloc[:2], stranger["enterprise_id"][0],
                              known["enterprise_id"].iloc[2]],
        }
    )  # fmt: skip
    as_of = pd.Timestamp("2025-06-01")
    got = ceiling_scores(pairs, tables, as_of=as_of, truth_dir=info.truth_dir)
    alone = ceiling_scores(pairs.iloc[:2], t["visible"], as_of=as_of, truth_dir=info.truth_dir)
    assert got.shape == (4,) and got[2] == 0.0 and got[3] == 0.0
    np.testing.assert_allclose(got[:2], alone)
    # the path training takes (training.holdout's ceiling system) no longer stops there
    split = _hidden_year(info, as_of)
    system = ceiling_system(tables, split, info.truth_dir)
    assert system.pair_score is not None
    via_training = system.pair_score(pairs, BUILDING_TO_ENTERPRISE.name)
    assert via_training[2] == 0.0 and via_training[3] == 0.0
    np.testing.assert_allclose(via_training[:2], alone)


def test_old_truth_folders_without_the_new_files_still_read(tmp_path: Path) -> None:
    info = generate_world(tmp_path, replace(suite_world("noisy_small").params, enterprises=200))
    (info.truth_dir / "buildings.parquet").unlink()
    assert read_truth(info.truth_dir).buildings is None
