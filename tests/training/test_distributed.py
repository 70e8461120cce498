"""Training and batch scoring on a two-worker LocalCluster over a small demo world: the windows
built on the cluster equal the local ones, the Dask model ranks as well as the single-machine
one on the evaluation window, and the batch job's shortlists equal the Engine's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from features import Registry, Snapshot, Vocabulary, categorical_features, feature_spec_fingerprint
from matching import Engine, Repository, import_dataset
from matching.errors import InputError, NotFoundError
from models import LGBMRankerScorer, Scorer, make_scorer, promote, save_version
from training import (
    BUILDING_TO_ENTERPRISE,
    RankingSet,
    System,
    TemporalSplit,
    build_sets,
    evaluate_systems,
    evaluation_pools,
    make_split,
    metric_value,
)
from training.demo import WorldParams, generate_world
from training.distributed import (
    batch_shortlists,
    connect,
    dask_ranking_set,
    fit_dask_ranker,
    gather_sets,
    read_jsonl,
    submit_windows,
)

B2E = BUILDING_TO_ENTERPRISE.name


@dataclass(frozen=True)
class DemoWorld:
    db_url: str
    tables: dict[str, pd.DataFrame]
    registry: Registry
    split: TemporalSplit
    vocab: Vocabulary


@dataclass(frozen=True)
class Trained:
    dask: Scorer
    single: Scorer
    train: RankingSet


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    root = tmp_path_factory.mktemp("dask_world")
    info = generate_world(root / "demo", WorldParams(enterprises=1500, seed=7))
    url = f"sqlite:///{root / 'tm.db'}"
    repo = Repository(url)
    import_dataset(info.out_dir, repo)
    tables = repo.load_tables()
    repo.close()
    registry = Registry.from_tables(tables)
    split = make_split(tables)
    vocab = Vocabulary.fit(Snapshot.at(registry, split.cut))
    return DemoWorld(url, tables, registry, split, vocab)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def trained(client: Client, world: DemoWorld) -> Trained:
    futures = submit_windows(client, world.registry, world.split.fit_windows, vocab=world.vocab)
    valid = client.gather(futures[-1])
    dask = fit_dask_ranker(client, dask_ranking_set(client, futures[:-1]), valid, params={})
    train = RankingSet.concat(gather_sets(client, futures[:-1]))
    single = make_scorer("lightgbm", categorical_features=tuple(categorical_features()))
    single.fit(
        train.X, train.y, group=train.group, X_valid=valid.X, y_valid=valid.y,
        group_valid=valid.group,
    )  # fmt: skip
    return Trained(dask, single, train)


def test_windows_built_on_the_cluster_equal_the_local_build(
    client: Client, world: DemoWorld
) -> None:
    windows = world.split.fit_windows[-2:]
    remote = gather_sets(client, submit_windows(client, world.registry, windows, vocab=world.vocab))
    local = build_sets(world.registry, windows, vocab=world.vocab, n_jobs=1)
    for got, want in zip(remote, local, strict=True):
        pd.testing.assert_frame_equal(got.pairs, want.pairs)
        pd.testing.assert_frame_equal(got.X, want.X)


def test_one_partition_per_window_with_its_group_sizes(client: Client, world: DemoWorld) -> None:
    windows = world.split.fit_windows[:3]
    futures = submit_windows(client, world.registry, windows, vocab=world.vocab)
    local = gather_sets(client, futures)
    data = dask_ranking_set(client, futures)
    assert data.X.npartitions == data.y.npartitions == data.group.npartitions == 3
    for i, ranking in enumerate(local):
        np.testing.assert_array_equal(data.group.partitions[i].compute(), ranking.group)
        assert len(data.X.partitions[i]) == int(ranking.group.sum()) == len(ranking.pairs)
    one = dask_ranking_set(client, futures, direction=B2E)
    rows = sum(len(r.only(B2E).pairs) for r in local)
    assert len(one.X) == len(one.y) == int(one.group.sum().compute()) == rows < len(data.X)


def test_dask_model_ranks_as_well_as_the_single_machine_one(
    world: DemoWorld, trained: Trained
) -> None:
    snapshot, pools = evaluation_pools(world.registry, window=world.split.evaluation)
    systems = [
        System("dask", lambda X, pairs, d: trained.dask.score(X)),
        System("single", lambda X, pairs, d: trained.single.score(X)),
        System("random", lambda X, pairs, d: np.random.default_rng(0).random(len(X))),
    ]
    metrics = evaluate_systems(snapshot, pools, systems=systems, vocab=world.vocab)
    dask = metric_value(metrics, system="dask", direction=B2E, metric="ndcg@10")
    single = metric_value(metrics, system="single", direction=B2E, metric="ndcg@10")
    random = metric_value(metrics, system="random", direction=B2E, metric="ndcg@10")
    assert abs(dask - single) <= 0.02
    assert dask > random + 0.1
    assert trained.dask.feature_names_ == list(trained.train.X.columns)


def test_batch_shortlists_equal_the_engine(
    client: Client, world: DemoWorld, trained: Trained, tmp_path: Path
) -> None:
    store = tmp_path / "models"
    version = save_version(
        store, trained.dask, created=datetime(2026, 11, 1, tzinfo=UTC),
        vocabulary=world.vocab.to_dict(), feature_spec_fingerprint=feature_spec_fingerprint(),
    )  # fmt: skip
    promote(store, version)
    engine = Engine(Repository(world.db_url), store, as_of=world.split.cut.date())
    state = engine.state()
    assert isinstance(state.model.scorer, LGBMRankerScorer)
    out = tmp_path / "batch" / "shortlists.jsonl"
    lines = batch_shortlists(client, state, out=out, k=15, chunk_size=7)
    got = read_jsonl(out)
    ids = [str(i) for i in state.pool.buildings.ids]
    assert lines == len(got) == len(ids)
    assert [g["query"]["building_id"] for g in got] == ids
    some = ids[:3] + ids[-2:]
    want = engine.shortlist_for_buildings(some, k=15)
    by_id = {g["query"]["building_id"]: g for g in got}
    for expected in want:
        result = by_id[expected["query"]["building_id"]]
        assert [i["enterprise_id"] for i in result["items"]] == [
            i["enterprise_id"] for i in expected["items"]
        ]
        assert result == expected
    assert any(g["items"] for g in got) and got[0]["model_version"] == version


def test_batch_shortlists_refuse_bad_input_before_any_work(
    client: Client, world: DemoWorld, trained: Trained, tmp_path: Path
) -> None:
    store = tmp_path / "models"
    version = save_version(
        store, trained.single, created=datetime(2026, 11, 2, tzinfo=UTC),
        vocabulary=world.vocab.to_dict(), feature_spec_fingerprint=feature_spec_fingerprint(),
    )  # fmt: skip
    promote(store, version)
    state = Engine(Repository(world.db_url), store, as_of=world.split.cut.date()).state()
    out = tmp_path / "never.jsonl"
    with pytest.raises(NotFoundError, match="NO_SUCH_BUILDING"):
        batch_shortlists(client, state, out=out, building_ids=["NO_SUCH_BUILDING"])
    with pytest.raises(InputError, match="k=0"):
        batch_shortlists(client, state, out=out, k=0)
    assert not out.exists()


def test_unreachable_scheduler_is_an_input_error() -> None:
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        connect("tcp://127.0.0.1:9", timeout_s=2)
