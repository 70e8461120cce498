"""End to end on a small demo world: import, train, evaluate, publish, gate, leakage checks."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary, context_for, feature_names
from tenantmatch.matching import Engine
from tenantmatch.models import (
    PRESCORER_FILE,
    current_version,
    list_versions,
    load_current,
    load_version,
    read_manifest,
    unfitted_prescorer,
)
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.store import Repository
from tenantmatch.training import (
    BUILDING_TO_ENTERPRISE,
    TrainConfig,
    TrainingError,
    build_sets,
    data_fingerprint,
    evaluate_current,
    evaluation_pools,
    make_split,
    metric_value,
    pool_sensitivity,
    seed_study,
    train_and_publish,
)
from tenantmatch.training.dataset import (
    SamplingConfig,
    candidate_pool,
    courted_flags,
    pool_source,
    window_examples,
)
from tenantmatch.training.demo.params import WorldParams
from tenantmatch.training.pipeline import _held_out_model
from tenantmatch.training.splits import latest_date
from tests.demo_world import imported_tables

pytestmark = pytest.mark.slow
B2E = BUILDING_TO_ENTERPRISE.name
E2B = "enterprise_to_building"
# Small on purpose (18 months of history, 80 queries): the end-to-end run stays fast.
QUICK = TrainConfig(n_jobs=1, history_months=18, max_queries=80)
CONFIG = dataclasses.replace(QUICK, compare_directions=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], Path]:
    tables, info = imported_tables(tmp_path_factory.mktemp("world"),
                                   WorldParams(enterprises=1500, seed=7))  # fmt: skip
    return tables, info.truth_dir


@pytest.fixture(scope="module")
def first_run(world, tmp_path_factory):  # type: ignore[no-untyped-def]
    tables, truth = world
    store = tmp_path_factory.mktemp("models")
    created = datetime(2026, 11, 1, tzinfo=UTC)
    result = train_and_publish(
        tables, store=store, truth_dir=truth, created=created, progress=False, config=CONFIG
    )
    return store, result


def test_ranker_beats_random_and_is_published(first_run) -> None:  # type: ignore[no-untyped-def]
    store, result = first_run
    ranker = metric_value(result.metrics, system="lightgbm", direction=B2E, metric="ndcg@10")
    random = metric_value(result.metrics, system="random", direction=B2E, metric="ndcg@10")
    assert ranker > random + 0.05
    assert result.promoted and current_version(store) == result.version
    systems = set(result.metrics["system"])
    assert {"lightgbm", "random", "popularity", "hand_rule", "logistic", "ceiling"} <= systems
    assert "ndcg@10" in result.table


def test_manifest_and_report(world, first_run) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    store, result = first_run
    manifest = read_manifest(store, result.version)
    assert manifest["data_fingerprint"] == data_fingerprint(tables)
    assert manifest["vocabulary"]["theme"]
    assert 0.0 <= manifest["metrics"][B2E]["ndcg@10"] <= 1.0
    comparison = manifest["summary"]["direction_comparison"]
    assert comparison["measured"] is True and comparison["served"] == "lightgbm"
    assert comparison["trained_on"] == [B2E]
    modes = {"lightgbm", "lightgbm_all_queries", "lightgbm_per_direction"}
    assert comparison["better"] in modes and set(comparison["mean_ndcg@10"]) == modes
    # the per-direction pair reuses the served ranker for building queries: same scores
    per = comparison["ndcg@10"]
    assert per["lightgbm_per_direction"][B2E] == pytest.approx(per["lightgbm"][B2E])
    calibration = manifest["calibration"]
    assert set(calibration) == {"a", "b", "horizon_days"}
    assert calibration["a"] > 0  # a higher score means a likelier move
    assert calibration["horizon_days"] in (365, 366)
    fit = manifest["summary"]["calibration"]
    assert fit["positives"] >= 5
    assert fit["expected_moves"] == pytest.approx(fit["observed_moves"], rel=0.5)
    html = result.report.read_text(encoding="utf-8")
    assert "report.png" in html and "Feature importance" in html
    assert (result.report.parent / "report.png").stat().st_size > 1000
    json.dumps(manifest)


def test_retraining_same_data_is_gated_against_current(world, first_run) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    store, first = first_run
    again = train_and_publish(
        tables,
        store=store,
        truth_dir=None,
        created=datetime(2026, 11, 2, tzinfo=UTC),
        progress=False,
        config=QUICK,
    )
    old = metric_value(again.metrics, system="current", direction=B2E, metric="ndcg@10")
    new = metric_value(again.metrics, system=again.system, direction=B2E, metric="ndcg@10")
    # deterministic training: the current model's validated twin is the new candidate
    assert again.system == first.system
    assert old == pytest.approx(new)
    assert again.promoted and again.previous == first.version
    assert {v["status"] for v in list_versions(store)} == {"current", "candidate"}
    assert read_manifest(store, again.version)["validated_version"] == again.validated_version


def test_evaluate_current_scores_the_current_model(world, first_run) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    store, _ = first_run
    metrics = evaluate_current(tables, store=store, truth_dir=None, config=QUICK)
    assert {"current", "random", "logistic", "hand_rule", "popularity", "plain"} <= set(
        metrics["system"]
    )
    assert metrics.loc[metrics["metric"].eq("ndcg@10"), "value"].between(0, 1).all()


def test_held_out_model_is_the_twin_only_when_the_refit_saw_the_window(first_run) -> None:  # type: ignore[no-untyped-def]
    store, _ = first_run
    served = load_current(store)
    through = pd.Timestamp(served.manifest["fit"]["trained_through"])
    # graded on a window after the served model's data (the year after a registry ends):
    # the served refit itself
    assert _held_out_model(served, store=store, cut=through).version == served.version
    # graded on a window the refit has seen: its twin fitted up to the cut
    earlier = _held_out_model(served, store=store, cut=through - pd.Timedelta(days=1))
    assert earlier.version == served.manifest["validated_version"] != served.version


def test_pool_sensitivity_scores_the_model_and_ceiling_per_limit(world, first_run) -> None:  # type: ignore[no-untyped-def]
    tables, truth = world
    store, result = first_run
    metrics = pool_sensitivity(
        tables, store=store, truth_dir=truth, building_limits=(20, None), config=QUICK
    )
    assert set(metrics["system"]) == {"current", "ceiling"}
    coverage = {
        limit: metric_value(part, system="ceiling", direction=B2E, metric="pool_coverage")
        for limit, part in metrics.groupby(metrics["limit"].fillna(-1))
    }
    assert coverage[20] < coverage[-1]  # 20 enterprises per building hold fewer of the moves
    every = metrics[metrics["limit"].isna()]
    served = metric_value(result.metrics, system=result.system, direction=B2E, metric="ndcg@10")
    uncut = metric_value(every, system="current", direction=B2E, metric="ndcg@10")
    # a registry this small is evaluated (and served) on every feasible pair: the same figure,
    # measured on the current model's twin fitted up to the cut
    assert 0 < uncut <= 1 and uncut == pytest.approx(served, abs=1e-12)


def test_seed_study_refits_the_published_ranker_per_seed(world, first_run) -> None:  # type: ignore[no-untyped-def]
    tables, truth = world
    metrics = seed_study(tables, truth_dir=truth, seeds=(0, 3), config=QUICK)
    assert set(metrics["system"]) == {"seed0", "seed3", "ceiling"}
    published = first_run[1].metrics  # the training run's figures, on every feasible pair
    for study, other in (("seed0", "lightgbm"), ("ceiling", "ceiling")):
        for direction in (B2E, E2B):
            got = metric_value(metrics, system=study, direction=direction, metric="ndcg@10")
            want = metric_value(published, system=other, direction=direction, metric="ndcg@10")
            assert got == pytest.approx(want, abs=1e-12)  # seed 0 is the published ranker
    assert 0 < metric_value(metrics, system="seed3", direction=B2E, metric="ndcg@10") <= 1


def test_training_rows_never_leak_past_their_window(world) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    split = make_split(tables)
    registry = Registry.from_tables(tables)
    vocab = Vocabulary.fit(Snapshot.at(registry, split.cut))
    windows = split.fit_windows[-2:]
    sets = build_sets(registry, windows, vocab=vocab, n_jobs=1)
    for window, ranking in zip(windows, sets, strict=True):
        assert (ranking.pairs["as_of"] == window.start).all()
        assert window.end <= split.cut
        assert ranking.group.sum() == len(ranking.X) == len(ranking.pairs)
        assert (ranking.y >= 1).any() and (ranking.y == 0).any()


def test_query_caps_and_per_direction_negatives(world) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    split = make_split(tables)
    registry = Registry.from_tables(tables)
    vocab = Vocabulary.fit(Snapshot.at(registry, split.cut))
    window = split.fit_windows[-1]
    full = window_examples(registry, window=window, vocab=vocab)
    config = SamplingConfig(
        max_building_queries=3, max_enterprise_queries=5, n_hard=4, n_random=6,
        n_hard_buildings=1, n_random_buildings=2,
    )  # fmt: skip
    capped = window_examples(registry, window=window, vocab=vocab, config=config)
    queries = capped.pairs.groupby("direction")["query_id"].nunique()
    assert 0 < queries[B2E] <= 3 and 0 < queries[E2B] <= 5  # labelled pairs outside the pool
    assert full.pairs.groupby("direction")["query_id"].nunique().min() > 5
    negatives = capped.pairs[capped.pairs["grade"] == 0].groupby(["direction", "query_id"]).size()
    assert negatives[B2E].max() <= 4 + 6 + 10  # sampled ones plus declined labelled pairs
    assert negatives[E2B].max() <= 1 + 2 + 10
    assert negatives[B2E].max() > negatives[E2B].max()
    # every kept query brings all of its labelled pairs
    kept = capped.pairs[capped.pairs["grade"] >= 1]
    ref = full.pairs[full.pairs["query_id"].isin(kept["query_id"]) & (full.pairs["grade"] >= 1)]
    assert len(kept) == len(ref)


def test_staged_pools_are_bounded_subsets_of_the_full_pools(world) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    split = make_split(tables)
    registry = Registry.from_tables(tables)
    vocab = Vocabulary.fit(Snapshot.at(registry, split.cut))
    kw = {"window": split.evaluation, "max_queries": 20, "vocab": vocab}
    snapshot, full = evaluation_pools(registry, **kw)
    _, staged = evaluation_pools(registry, limits={"building_id": 40, "enterprise_id": 3}, **kw)
    index = unfitted_prescorer().build_index(context_for(snapshot, vocab=vocab))

    def with_history(pairs: pd.DataFrame) -> pd.DataFrame:
        b = snapshot.buildings.index.get_indexer(pd.Index(pairs["building_id"]))
        e = snapshot.enterprises.index.get_indexer(pd.Index(pairs["enterprise_id"]))
        return pairs.assign(history=index.has_history(b_pos=b, e_pos=e))

    for name, limit in ((B2E, 40), ("enterprise_to_building", 3)):
        big = with_history(full[name].pairs.astype({"building_id": "str", "enterprise_id": "str"}))
        small = staged[name].pairs.astype({"building_id": "str", "enterprise_id": "str"})
        small = with_history(small)
        query = full[name].direction.query
        # the pre-score's best `limit`, plus every pair with a history (as the engine's stage 1)
        cut = small[~small["history"]].groupby(query).size().max()
        assert cut <= limit < big.groupby(query).size().max()
        assert big["history"].sum() > 0 and small["history"].sum() == big["history"].sum()
        assert set(small[query]) == set(big[query])
        inner = small.merge(big, on=["building_id", "enterprise_id"], suffixes=("", "_full"))
        assert len(inner) == len(small) and (inner["grade"] == inner["grade_full"]).all()
        assert staged[name].pool_coverage <= full[name].pool_coverage


def test_courted_flags_mark_exactly_the_pairs_with_earlier_events(world) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    registry = Registry.from_tables(tables)
    snapshot = Snapshot.at(registry, make_split(tables).cut)
    vocab = Vocabulary.fit(snapshot)
    source = pool_source(snapshot, vocab=vocab)
    pool = candidate_pool(source, snapshot.buildings.index, direction=BUILDING_TO_ENTERPRISE)
    flags = courted_flags(pool, snapshot=snapshot, vocab=vocab)
    keys = ["building_id", "enterprise_id"]
    seen = snapshot.events[keys].astype("str").drop_duplicates().assign(hit=True)
    expected = pool[keys].astype("str").merge(seen, on=keys, how="left")["hit"]
    assert flags.any()
    np.testing.assert_array_equal(flags, expected.notna().to_numpy())


def test_ranker_directions_must_name_known_directions() -> None:
    with pytest.raises(TrainingError, match="'sideways' is unknown; allowed: building_to_enter"):
        TrainConfig(ranker_directions=("sideways",))
    with pytest.raises(TrainingError, match="ranker_directions is empty"):
        TrainConfig(ranker_directions=())
    assert TrainConfig().ranker_directions == (B2E,)


def test_plain_is_a_candidate_and_the_choice_is_recorded(first_run) -> None:  # type: ignore[no-untyped-def]
    store, result = first_run
    assert {"plain", "hand_rule", "logistic", "random", "popularity"} <= set(
        result.metrics["system"]
    )
    manifest = read_manifest(store, result.version)
    selection = manifest["summary"]["selection"]
    assert selection["chosen"] == result.system == manifest["system"]
    candidates = selection["candidates"]
    assert set(candidates) == {"blend", "plain"}
    best = max(candidates, key=lambda n: candidates[n][B2E]["ndcg@10"])
    assert result.system == best and best in selection["why"]
    assert manifest["metrics"][B2E]["ndcg@10"] == pytest.approx(candidates[best][B2E]["ndcg@10"])
    assert manifest["kind"] == {"blend": "blend", "plain": "lightgbm_binary"}[best]
    assert manifest["feature_set"] == {"blend": "all", "plain": "plain"}[best]


def test_refit_reuses_the_chosen_settings_on_windows_to_the_data_end(world, first_run) -> None:  # type: ignore[no-untyped-def]
    tables, _ = world
    store, result = first_run
    served = read_manifest(store, result.version)
    validated = read_manifest(store, result.validated_version)
    assert served["validated_version"] == result.validated_version
    assert validated["role"] == "validated" and served["role"] == "served"
    for key in ("kind", "feature_names", "feature_set", "system"):
        assert served[key] == validated[key], key
    twin = load_version(store, result.validated_version).scorer
    if served["kind"] == "blend":  # each part refitted with its own settings and rounds
        for part, fitted, refit in zip(twin.parts_, validated["params"]["parts"],  # type: ignore[attr-defined]
                                       served["params"]["parts"], strict=True):  # fmt: skip
            rounds = part.best_iteration_
            assert refit["params"] == {**fitted["params"], "num_boost_round": rounds}
            assert refit["features"] == fitted["features"]
    else:
        rounds = twin.best_iteration_  # type: ignore[attr-defined]
        assert served["params"] == {**validated["params"], "num_boost_round": rounds}
    assert served["fit"]["refit"] is True and validated["fit"]["refit"] is False
    assert served["fit"]["validated_windows"] == validated["fit"]["windows"]
    assert len(served["fit"]["windows"]) == len(validated["fit"]["windows"])
    end = latest_date(tables)
    assert served["fit"]["trained_through"] == str(end.date())
    assert served["fit"]["windows"][-1].endswith(f"{end.date()}]")
    cut = make_split(tables, eval_months=12, history_months=18).cut
    assert validated["fit"]["trained_through"] == str(cut.date()) < str(end.date())
    # both carry the held-out figures of the fit up to the cut
    assert served["metrics"] == validated["metrics"]


def test_served_version_has_its_distilled_prescorer_and_scores_every_pair(first_run) -> None:  # type: ignore[no-untyped-def]
    store, result = first_run
    manifest = read_manifest(store, result.version)
    assert PRESCORER_FILE in manifest["attachments"]
    plan = manifest["first_stage"]
    assert plan["full_scan"] is True and plan["building_m"] is None
    assert plan["enterprises"] < 50_000


@pytest.fixture(scope="module")
def plain_run(world, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A registry where the plain baseline validates better: the ranker may not split (no
    leaf can hold a million rows), so it ranks every candidate alike."""
    tables, truth = world
    store = tmp_path_factory.mktemp("plain_models")
    config = dataclasses.replace(QUICK, ranker_params={"min_data_in_leaf": 1_000_000},
                                 candidates=("lightgbm", "plain"))  # fmt: skip
    created = datetime(2026, 11, 3, tzinfo=UTC)
    result = train_and_publish(
        tables, store=store, truth_dir=truth, progress=False, created=created, config=config
    )
    return store, result


def test_the_gate_serves_plain_when_it_validates_better(plain_run) -> None:  # type: ignore[no-untyped-def]
    store, result = plain_run
    ranker = metric_value(result.metrics, system="lightgbm", direction=B2E, metric="ndcg@10")
    plain = metric_value(result.metrics, system="plain", direction=B2E, metric="ndcg@10")
    assert plain > ranker
    assert result.system == "plain" and result.promoted
    assert current_version(store) == result.version
    manifest = read_manifest(store, result.version)
    assert manifest["system"] == "plain" and manifest["kind"] == "lightgbm_binary"
    assert manifest["feature_names"] == feature_names("plain")
    assert "plain" in result.reason and "plain" in manifest["summary"]["selection"]["why"]


def test_a_served_plain_model_gives_shortlists(world, plain_run) -> None:  # type: ignore[no-untyped-def]
    tables, truth = world
    store, result = plain_run
    repo = Repository(f"sqlite:///{truth.parent.parent / 'tm.db'}")
    engine = Engine(repo, store, as_of=latest_date(tables).date())
    # the building with the most vacant space (a full one has no candidates at all)
    buildings = tables["buildings"].sort_values("vacant_area_m2", kind="stable")
    building = str(buildings["building_id"].iloc[-1])
    [answer] = engine.shortlist_for_buildings([building], k=5)
    repo.close()
    assert answer["model_version"] == result.version
    assert engine.max_scored is None  # the manifest's plan: every feasible pair
    assert 1 <= len(answer["items"]) <= 5
    scores = [item["score"] for item in answer["items"]]
    assert scores == sorted(scores, reverse=True)
    named = {reason["feature"] for item in answer["items"] for reason in item["reasons"]}
    assert named and named <= set(feature_names("plain"))


@pytest.mark.parametrize(
    ("system", "features", "kind"),
    [("wide", "wide", "lightgbm_binary"), ("blend", "all", "blend")],
)
def test_a_served_wide_or_blend_model_gives_shortlists(
    world, tmp_path, system, features, kind
) -> None:  # type: ignore[no-untyped-def]
    """The plain recipe on the wide set (every builder but the label-fitted hazard), and the
    blend of the ranker and that: chosen when the only candidate, refitted, stored with its set,
    served with reasons from it."""
    tables, truth = world
    config = dataclasses.replace(QUICK, candidates=(system,), distill=False)
    created = datetime(2026, 11, 4, tzinfo=UTC)
    result = train_and_publish(tables, store=tmp_path, truth_dir=truth, progress=False,
                               created=created, config=config)  # fmt: skip
    manifest = read_manifest(tmp_path, result.version)
    assert result.system == system and manifest["feature_set"] == features
    assert manifest["kind"] == kind and manifest["fit"]["refit"] is True
    names = feature_names(features)
    assert manifest["feature_names"] == names
    wide = feature_names("wide")
    assert "e__move_hazard" not in wide and set(feature_names("plain")) <= set(wide)
    assert set(feature_names("ranker")) - set(wide) == {"e__move_hazard"}
    assert set(feature_names("all")) == set(wide) | {"e__move_hazard"}
    if system == "blend":  # its parts: the ranker on its set, the wide classifier on its own
        assert [p["features"] for p in manifest["params"]["parts"]] == [
            feature_names("ranker"),
            wide,
        ]
        assert {"lightgbm", "wide", "blend"} <= set(result.metrics["system"])
    repo = Repository(f"sqlite:///{truth.parent.parent / 'tm.db'}")
    engine = Engine(repo, tmp_path, as_of=latest_date(tables).date())
    buildings = tables["buildings"].sort_values("vacant_area_m2", kind="stable")
    [answer] = engine.shortlist_for_buildings([str(buildings["building_id"].iloc[-1])], k=5)
    repo.close()
    assert answer["model_version"] == result.version and 1 <= len(answer["items"]) <= 5
    scores = [item["score"] for item in answer["items"]]
    assert scores == sorted(scores, reverse=True)
    named = {reason["feature"] for item in answer["items"] for reason in item["reasons"]}
    assert named and named <= set(names)
