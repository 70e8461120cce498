"""The key ledger an import keeps across a table's chunks: where each key appeared first, with
the content of that first row, whichever chunk it was in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.store.ledger import MAX_BLOCKS, KeyLedger, _find, row_hashes


def _chunk(ledger: KeyLedger, keys: list[str], values: list[int], first_row: int) -> tuple:
    frame = pd.DataFrame({"key": keys, "value": values})
    rows = np.arange(first_row, first_row + len(keys))
    found = ledger.firsts("key", row_hashes(frame[["key"]]), row_hashes(frame), rows)
    same = (found.content == row_hashes(frame)).all(axis=1)
    return found.row.tolist(), found.is_first.tolist(), same.tolist()


def test_a_key_is_first_where_it_first_appeared_in_any_chunk() -> None:
    ledger = KeyLedger()
    assert _chunk(ledger, ["a", "b", "a"], [1, 2, 1], 2) == (
        [2, 3, 2], [True, True, False], [True, True, True],
    )  # fmt: skip
    # a copy of row 2 and a conflicting row 3 in the next chunk; c is new there
    assert _chunk(ledger, ["a", "b", "c", "c"], [1, 9, 3, 4], 5) == (
        [2, 3, 7, 7], [False, False, True, False], [True, False, True, False],
    )  # fmt: skip


def test_many_chunks_merge_into_one_block_and_still_answer() -> None:
    ledger = KeyLedger()
    for i in range(MAX_BLOCKS + 3):
        _chunk(ledger, [f"k{i}"], [i], i + 2)
    assert len(ledger.seen["key"].blocks) < MAX_BLOCKS
    rows, first, same = _chunk(ledger, ["k0", "k5", "new"], [0, 99, 1], 100)
    assert rows == [2, 7, 102] and first == [False, False, True] and same == [True, False, True]


def test_keys_sharing_the_first_half_of_their_hash_are_told_apart() -> None:
    stored = np.array([[1, 5], [1, 7], [2, 1]], dtype=np.uint64)
    asked = np.array([[1, 7], [1, 5], [2, 1], [1, 9], [3, 0], [0, 0]], dtype=np.uint64)
    assert _find(stored, asked).tolist() == [1, 0, 2, -1, -1, -1]


def test_missing_values_hash_alike_and_apart_from_text() -> None:
    frame = pd.DataFrame({"a": ["x", "x", None, "None"], "b": [np.nan, np.nan, 1.0, 1.0]})
    hashes = row_hashes(frame)
    assert (hashes[0] == hashes[1]).all()
    assert not (hashes[2] == hashes[3]).all()
