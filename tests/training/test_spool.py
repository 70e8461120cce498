"""Ranking sets spooled to disk: the same rows as in memory, views by window and direction,
bounded samples, a folder that goes away; and negatives drawn from bounded chunks of the pool."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training import dataset
from tenantmatch.training.dataset import RankingSet, build_sets, label_sizes, window_examples
from tenantmatch.training.demo import WorldParams
from tenantmatch.training.splits import Window, make_split
from tenantmatch.training.spool import spooled_sets
from tests.demo_world import imported_tables

B2E = "building_to_enterprise"
E2B = "enterprise_to_building"


World = tuple[Registry, tuple[Window, ...], Vocabulary]


@pytest.fixture(scope="module")
def windows_of_a_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    tables, _ = imported_tables(tmp_path_factory.mktemp("spool-world"),
                                WorldParams(enterprises=600, seed=5))  # fmt: skip
    registry = Registry.from_tables(tables)
    split = make_split(tables, history_months=12)
    vocab = Vocabulary.fit(Snapshot.at(registry, split.cut))
    return registry, split.fit_windows[-3:], vocab


def test_spooled_rows_are_the_rows_built_in_memory(
    windows_of_a_world: World, tmp_path: Path
) -> None:
    registry, windows, vocab = windows_of_a_world
    in_memory = build_sets(registry, windows, vocab=vocab, n_jobs=1)
    with spooled_sets(registry, windows, vocab=vocab, n_jobs=2, folder=tmp_path) as spool:
        folder = spool.folder
        assert folder.parent == tmp_path and any(folder.iterdir())
        assert spool.windows == [str(w) for w in windows]
        # a part per window and direction, in build order
        assert [(p.window, p.direction) for p in spool.parts] == [
            (str(w), d) for w in windows for d in (B2E, E2B)
        ]
        for window, want in zip(windows, in_memory, strict=True):
            got = spool.select(windows=[str(window)]).load()
            pd.testing.assert_frame_equal(got.pairs, want.pairs)
            np.testing.assert_array_equal(got.X.to_numpy(), want.X.to_numpy())
            assert list(got.X.columns) == list(want.X.columns)
        every = RankingSet.concat(in_memory)
        view = spool.select()
        y, group = view.labels()
        np.testing.assert_array_equal(y, every.y)
        np.testing.assert_array_equal(group, every.group)
        assert view.sizes() == label_sizes(every.y, every.group) and len(view) == len(every.y)
        b2e = spool.select(directions=[B2E])
        assert b2e.only(E2B).parts == () and len(b2e) == len(every.only(B2E).y)
        rows = b2e.rows()
        assert len(rows) == len(b2e) and rows.feature_names == tuple(every.X.columns)
        first = rows.parts[0]
        np.testing.assert_array_equal(first[0:5], in_memory[0].only(B2E).X.to_numpy()[:5])
    assert not folder.exists()


def test_a_spool_sample_keeps_every_positive_and_the_bound(
    windows_of_a_world: World, tmp_path: Path
) -> None:
    registry, windows, vocab = windows_of_a_world
    with spooled_sets(registry, windows, vocab=vocab, n_jobs=1, folder=tmp_path) as spool:
        view = spool.select()
        whole = view.load()
        positives = int((whole.y > 0).sum())
        bound = 2 * positives + 100
        assert len(whole.y) > bound
        sample = view.sample(max_rows=bound, seed=1)
        assert len(sample.y) == bound and int((sample.y > 0).sum()) == positives
        # the same rows as sampling the loaded set, in order
        again = whole.sample(max_rows=bound, seed=1)
        pd.testing.assert_frame_equal(sample.pairs, again.pairs)
        np.testing.assert_array_equal(sample.X.to_numpy(), again.X.to_numpy())
        assert sample.group.sum() == bound


def test_the_spool_folder_goes_away_when_a_window_fails(
    windows_of_a_world: World, tmp_path: Path
) -> None:
    registry, windows, vocab = windows_of_a_world

    class Stop(Exception):
        pass

    with pytest.raises(Stop), spooled_sets(registry, windows[:1], vocab=vocab, n_jobs=1,
                                           folder=tmp_path):  # fmt: skip
        raise Stop
    assert list(tmp_path.iterdir()) == []


def test_negatives_drawn_in_chunks_of_queries_keep_each_query_whole(
    windows_of_a_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, windows, vocab = windows_of_a_world
    whole = window_examples(registry, window=windows[-1], vocab=vocab).pairs
    n_enterprises = len(Snapshot.at(registry, windows[-1].start).enterprises)
    monkeypatch.setattr(dataset, "POOL_ROWS_PER_CHUNK", 3 * n_enterprises)  # 3 queries a chunk
    chunked = window_examples(registry, window=windows[-1], vocab=vocab).pairs
    key = ["direction", "query_id"]
    # the same queries, each with the same labelled rows and as many negatives
    pd.testing.assert_series_equal(whole.groupby(key).size(), chunked.groupby(key).size())
    labelled = ["direction", "query_id", "building_id", "enterprise_id", "grade"]
    positives = [p[p["grade"] > 0][labelled].reset_index(drop=True) for p in (whole, chunked)]
    pd.testing.assert_frame_equal(*positives)
    # other negatives were drawn (another seed per chunk), still grouped by query in order
    b2e = [p[p["direction"] == B2E] for p in (whole, chunked)]
    assert (
        not b2e[0]["enterprise_id"]
        .reset_index(drop=True)
        .equals(b2e[1]["enterprise_id"].reset_index(drop=True))
    )
    by_direction = chunked.groupby("direction", sort=False)["query_id"]
    assert all(ids.is_monotonic_increasing for _, ids in by_direction)
    assert not chunked.duplicated(["direction", "building_id", "enterprise_id"]).any()
