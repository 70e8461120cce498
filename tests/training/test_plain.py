"""The plain baseline's windows, labels and dense random negatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.features import PLAIN_SET, Vocabulary, feature_names
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.demo import WorldParams
from tenantmatch.training.plain import PlainConfig, plain_examples, plain_windows, random_negatives
from tenantmatch.training.splits import Window
from tests.demo_world import imported_tables
from tests.features import world


def test_windows_end_by_the_cut_and_never_overlap_validation() -> None:
    cut = pd.Timestamp("2024-06-15")
    train, valid = plain_windows(cut, earliest=pd.Timestamp("2020-01-01"), config=PlainConfig())
    assert valid == Window(pd.Timestamp("2023-06-15"), cut)
    assert all(w.end <= valid.start for w in train)
    assert all(w.end == w.start + pd.DateOffset(months=12) for w in train)
    # every 3 months from 36 to 24 months before the cut, oldest first
    assert [str(w.start.date()) for w in train] == [
        "2021-06-15", "2021-09-15", "2021-12-15", "2022-03-15", "2022-06-15"
    ]  # fmt: skip
    short, _ = plain_windows(cut, earliest=pd.Timestamp("2022-01-01"), config=PlainConfig())
    assert [str(w.start.date()) for w in short] == ["2022-03-15", "2022-06-15"]


def test_random_negatives_are_distinct_and_avoid_taken_pairs() -> None:
    taken = np.array([0, 5, 7])
    b, e = random_negatives(3, 4, taken=taken, n=9, seed=1)
    keys = b * 4 + e
    assert len(keys) == 9 and len(set(keys.tolist())) == 9
    assert not set(keys.tolist()) & {0, 5, 7}
    assert b.max() < 3 and e.max() < 4
    b, _ = random_negatives(3, 4, taken=taken, n=50, seed=1)
    assert len(b) == 12 - 3  # the grid runs out


def test_examples_label_move_ins_and_sample_negatives() -> None:
    registry = Registry.from_tables(world.tables())
    window = Window(world.T, world.T + pd.DateOffset(months=12))
    vocab = Vocabulary.fit(Snapshot.at(registry, world.T))
    rows = plain_examples(registry, window=window, vocab=vocab,
                          config=PlainConfig(negatives_per_positive=4))  # fmt: skip
    positives = rows.pairs[rows.pairs["grade"].eq(1)]
    # E3's move into B2 on 2023-03-01 is the window's one move-in (E3 is known at T)
    assert positives[["building_id", "enterprise_id"]].values.tolist() == [["B2", "E3"]]
    assert (rows.pairs["grade"].eq(0)).sum() == 4
    assert list(rows.X.columns) == feature_names(PLAIN_SET)
    assert rows.group.tolist() == [5]
    assert rows.X.loc[rows.pairs["grade"].eq(1).to_numpy(), "e__tenure_months"].isna().all()


def test_examples_keep_at_most_max_moveins_and_never_a_move_as_a_negative(
    tmp_path: Path,
) -> None:
    tables, _ = imported_tables(tmp_path, WorldParams(enterprises=400, seed=2))
    registry = Registry.from_tables(tables)
    start = pd.Timestamp(registry.tenancies["start_date"].max()) - pd.DateOffset(months=24)
    window = Window(start, start + pd.DateOffset(months=12))
    vocab = Vocabulary.fit(Snapshot.at(registry, start))
    every = plain_examples(registry, window=window, vocab=vocab,
                           config=PlainConfig(negatives_per_positive=2))  # fmt: skip
    moves = every.pairs[every.pairs["grade"].eq(1)]
    assert len(moves) > 6
    config = PlainConfig(negatives_per_positive=2, max_moveins=5)
    capped = plain_examples(registry, window=window, vocab=vocab, config=config)
    kept = capped.pairs[capped.pairs["grade"].eq(1)]
    assert len(kept) == 5 and len(capped.pairs) == 15
    key = ["building_id", "enterprise_id"]
    every_move = set(map(tuple, moves[key].to_numpy().tolist()))
    assert set(map(tuple, kept[key].to_numpy().tolist())) <= every_move
    negatives = capped.pairs[capped.pairs["grade"].eq(0)]
    assert not set(map(tuple, negatives[key].to_numpy().tolist())) & every_move
