"""The Dask-trained ranker: learns like the single-machine one on a two-worker LocalCluster,
stops early on the full validation set, and stores/loads as a plain LightGBM text model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client

from tenantmatch.models import (
    GroupSizeError,
    InvalidTargetError,
    LGBMRankerScorer,
    load_version,
    save_version,
)
from tenantmatch.models.distributed import DaskLGBMRankerScorer, mean_ndcg
from tests.dask_cluster import local_client
from tests.models.conftest import World, fit_with_valid, make_world, mean_ndcg_at_10

pytestmark = pytest.mark.slow  # a two-process LocalCluster starts and stops: about 15 s
GROUPS_PER_PART = 30


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_client() as c:
        yield c


def partitioned(
    world: World, *, groups_per_part: int = GROUPS_PER_PART
) -> tuple[dd.DataFrame, dd.Series, dd.Series]:
    """X, y and group as dask collections, each partition holding ``groups_per_part`` queries."""
    sizes = np.asarray(world.group)
    bounds = np.r_[0, np.cumsum(sizes)]
    xs, ys, gs = [], [], []
    for first in range(0, len(sizes), groups_per_part):
        last = min(first + groups_per_part, len(sizes))
        rows = slice(int(bounds[first]), int(bounds[last]))
        xs.append(world.X.iloc[rows])
        ys.append(pd.Series(world.y[rows], dtype="int64"))
        gs.append(pd.Series(sizes[first:last], dtype="int64"))
    return _stacked(xs), _stacked(ys), _stacked(gs)  # type: ignore[return-value]


def _stacked(parts: list[pd.DataFrame] | list[pd.Series]) -> dd.DataFrame | dd.Series:
    return dd.concat([dd.from_pandas(p, npartitions=1, sort=False) for p in parts])


@pytest.fixture(scope="module")
def worlds() -> tuple[World, World, World]:
    return (
        make_world(n_groups=120, group_size=30, seed=10),
        make_world(n_groups=40, group_size=30, seed=11),
        make_world(n_groups=40, group_size=30, seed=12),
    )


@pytest.fixture(scope="module")
def fitted(client: Client, worlds: tuple[World, World, World]) -> DaskLGBMRankerScorer:
    train, valid, _ = worlds
    X, y, group = partitioned(train)
    ranker = DaskLGBMRankerScorer(
        client=client, categorical_features=["pair__category"], num_boost_round=300
    )
    return ranker.fit(X, y, group=group, X_valid=valid.X, y_valid=valid.y, group_valid=valid.group)


def test_mean_ndcg_by_hand() -> None:
    y = np.array([0, 2, 1, 0, 0])
    score = np.array([0.3, 0.1, 0.2, 0.5, 0.4])
    gains = [0.0, 1.0, 3.0]
    # Query 1 ranks grades 0, 1, 2: DCG = 1/log2(3) + 3/2; ideal 3 + 1/log2(3). Query 2 has no
    # positive grade and counts 1, as in LightGBM.
    expected_q1 = (1 / np.log2(3) + 1.5) / (3 + 1 / np.log2(3))
    got = mean_ndcg(score, y, group=np.array([3, 2]), k=10, label_gain=gains)
    assert got == pytest.approx((expected_q1 + 1.0) / 2)
    assert mean_ndcg(score, y, group=np.array([3, 2]), k=1, label_gain=gains) == 0.5


def test_partitions_hold_whole_queries(worlds: tuple[World, World, World]) -> None:
    X, y, group = partitioned(worlds[0])
    assert X.npartitions == y.npartitions == group.npartitions == 4
    rows = [len(p) for p in X.partitions]
    sums = [int(g.compute().sum()) for g in group.partitions]
    assert rows == sums == [900, 900, 900, 900]


def test_learns_like_the_single_machine_ranker(
    fitted: DaskLGBMRankerScorer, worlds: tuple[World, World, World]
) -> None:
    train, valid, test = worlds
    single = fit_with_valid(
        LGBMRankerScorer(categorical_features=["pair__category"], num_boost_round=300),
        train,
        valid=valid,
    )
    dask_ndcg = mean_ndcg_at_10(test, fitted.score(test.X))
    single_ndcg = mean_ndcg_at_10(test, single.score(test.X))
    assert dask_ndcg > 0.85
    assert abs(dask_ndcg - single_ndcg) < 0.03
    assert fitted.feature_importance().index[0] == "pair__signal"
    assert fitted.feature_names_ == list(train.X.columns)


def test_best_score_is_the_full_validation_ndcg(
    fitted: DaskLGBMRankerScorer, worlds: tuple[World, World, World]
) -> None:
    _, valid, _ = worlds
    recorded = fitted.best_score_["valid"]["ndcg@10"]
    recomputed = mean_ndcg(
        fitted.score(valid.X),
        valid.y.astype(np.int64),
        group=np.asarray(valid.group),
        k=10,
        label_gain=fitted.label_gain,
    )
    assert recorded == pytest.approx(recomputed, abs=1e-9)
    assert 1 <= fitted.best_iteration_ == fitted.booster_.current_iteration()


def test_early_stopping_stops_every_worker_together(
    client: Client, worlds: tuple[World, World, World]
) -> None:
    train, _, _ = worlds
    noise = make_world(n_groups=20, group_size=30, seed=13)
    shuffled = np.random.default_rng(0).permutation(noise.y)
    X, y, group = partitioned(train)
    ranker = DaskLGBMRankerScorer(client=client, num_boost_round=400, early_stopping_rounds=10)
    ranker.fit(X, y, group=group, X_valid=noise.X, y_valid=shuffled, group_valid=noise.group)
    assert 1 <= ranker.best_iteration_ < 100  # stopped long before the 400-round cap


def test_saves_lightgbm_text_and_loads_as_the_local_ranker(
    fitted: DaskLGBMRankerScorer, worlds: tuple[World, World, World], tmp_path: Path
) -> None:
    _, _, test = worlds
    version = save_version(tmp_path, fitted, created=datetime(2026, 11, 1, tzinfo=UTC))
    model_txt = tmp_path / "versions" / version / "model.txt"
    assert model_txt.read_text(encoding="utf-8").startswith("tree")
    loaded = load_version(tmp_path, version)
    assert type(loaded.scorer) is LGBMRankerScorer
    assert loaded.manifest["kind"] == "lightgbm" and "client" not in loaded.manifest["params"]
    np.testing.assert_allclose(loaded.scorer.score(test.X), fitted.score(test.X))
    contrib = fitted.contributions(test.X.iloc[:20])
    np.testing.assert_allclose(contrib.sum(axis=1), fitted.score(test.X.iloc[:20]), rtol=1e-6)
    np.testing.assert_allclose(loaded.scorer.contributions(test.X.iloc[:20]), contrib)


def test_pandas_input_trains_as_one_partition(client: Client) -> None:
    world = make_world(n_groups=30, group_size=20, seed=3)
    ranker = DaskLGBMRankerScorer(client=client, num_boost_round=20)
    ranker.fit(world.X, world.y, group=world.group)
    assert ranker.best_iteration_ == 20
    assert mean_ndcg_at_10(world, ranker.score(world.X)) > 0.8


def test_group_sizes_must_match_each_partition(
    client: Client, worlds: tuple[World, World, World]
) -> None:
    X, y, group = partitioned(worlds[0])
    wrong = group.map_partitions(lambda g: g.iloc[:-1], meta=group._meta)
    with pytest.raises(GroupSizeError, match="group partition 0"):
        DaskLGBMRankerScorer(client=client, num_boost_round=5).fit(X, y, group=wrong)
    fewer = dd.from_pandas(group.compute(), npartitions=1)
    with pytest.raises(GroupSizeError, match="same number of partitions"):
        DaskLGBMRankerScorer(client=client, num_boost_round=5).fit(X, y, group=fewer)


def test_bad_grades_are_refused(client: Client, worlds: tuple[World, World, World]) -> None:
    X, y, group = partitioned(worlds[0])
    with pytest.raises(InvalidTargetError, match=r"allowed integers 0\.\.4"):
        DaskLGBMRankerScorer(client=client, num_boost_round=5).fit(X, y.add(5), group=group)
