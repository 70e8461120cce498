"""What the earlier chunks of an imported table held, for its uniqueness rules across chunks.

An import reads, validates and writes a table in chunks (``store.importer``), so a chunk cannot
see the rows before it; ``store.validation`` asks a :class:`KeyLedger` instead. It keeps, per
unique column and for the natural key, each key the table has shown so far with the file row
where it first appeared and a hash of that row's content: 40 bytes a key, whatever the row,
and no text. Keys and contents are compared by 128-bit hashes (two independent 64-bit hashes):
two different keys would share one with a chance of about 10^-25 in a 10-million-row table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# pandas' row hash takes a 16-byte key; two different keys give two independent 64-bit hashes.
HASH_KEYS = ("tenantmatch-ky-a", "tenantmatch-ky-b")
MAX_BLOCKS = 16  # sorted blocks a ledger keeps before it merges them into one


def row_hashes(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    """uint64 (n, 2): a 128-bit hash of each row's values (equal rows, equal hashes; a missing
    value hashes as missing, whatever it is)."""
    frame = pd.DataFrame(frame)
    return key_and_content_hashes(frame, key=list(frame.columns))[0]


def key_and_content_hashes(frame: pd.DataFrame, *, key: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """uint64 (n, 2) each: the 128-bit hash of each row's ``key`` columns and of all its
    columns, every column hashed once per half."""
    halves: list[tuple[np.ndarray, np.ndarray]] = []
    for hash_key in HASH_KEYS:
        columns = {name: pd.util.hash_pandas_object(frame[name], index=False,
                                                    hash_key=hash_key).to_numpy(np.uint64)
                   for name in frame.columns}  # fmt: skip
        halves.append((_combined([columns[k] for k in key], len(frame)),
                       _combined(list(columns.values()), len(frame))))  # fmt: skip
    return (np.column_stack([h[0] for h in halves]), np.column_stack([h[1] for h in halves]))


def _combined(hashes: list[np.ndarray], n: int) -> np.ndarray:
    """One uint64 per row from its columns' hashes, order-sensitive (CPython's tuple hash, as
    pandas combines a frame's columns)."""
    out = np.full(n, 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    with np.errstate(over="ignore"):
        for i, column in enumerate(hashes):
            out ^= column
            out *= mult
            mult += np.uint64(82520 + 2 * (len(hashes) - i))
        out += np.uint64(97531)
    return out


@dataclass(frozen=True)
class Firsts:
    """For each row of a chunk, where its key appeared first in the table so far."""

    row: np.ndarray  # int64 file row of the key's first appearance
    content: np.ndarray  # uint64 (n, 2) content hash of that first row
    is_first: np.ndarray  # bool: this row is that first appearance


@dataclass
class _Seen:
    """Keys seen so far, in sorted blocks: key hash -> (content hash, first file row)."""

    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found, content (n, 2), row) of each key hash; content and row undefined where not
        found."""
        found = np.zeros(len(keys), dtype=bool)
        content = np.zeros((len(keys), 2), dtype=np.uint64)
        row = np.zeros(len(keys), dtype=np.int64)
        for block_keys, block_content, block_rows in self.blocks:
            at = _find(block_keys, keys)
            hit = at >= 0
            found |= hit
            content[hit], row[hit] = block_content[at[hit]], block_rows[at[hit]]
        return found, content, row

    def add(self, keys: np.ndarray, content: np.ndarray, rows: np.ndarray) -> None:
        """Keep new keys (none already kept, each once)."""
        if len(keys):
            self.blocks.append(_sorted(keys, content, rows))
        if len(self.blocks) > MAX_BLOCKS:
            merged = (np.concatenate([b[i] for b in self.blocks]) for i in range(3))
            self.blocks = [_sorted(*merged)]


def _sorted(
    keys: np.ndarray, content: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    return keys[order], content[order], rows[order]


def _find(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each key hash in ``sorted_keys`` (sorted by both halves), -1 if absent."""
    at = np.searchsorted(sorted_keys[:, 0], keys[:, 0], side="left")
    out = np.full(len(keys), -1, dtype=np.int64)
    # Two keys sharing the first half (a 2^-64 chance) lie side by side: step through them.
    step = np.zeros(len(keys), dtype=np.int64)
    while True:
        probe = at + step
        open_ = (out < 0) & (probe < len(sorted_keys))
        if not open_.any():
            return out
        same_first = np.zeros(len(keys), dtype=bool)
        same_first[open_] = sorted_keys[probe[open_], 0] == keys[open_, 0]
        hit = same_first.copy()
        hit[same_first] = sorted_keys[probe[same_first], 1] == keys[same_first, 1]
        out[hit] = probe[hit]
        if not (same_first & ~hit).any():
            return out
        step = np.where(same_first & ~hit, step + 1, len(sorted_keys))


@dataclass
class KeyLedger:
    """The keys one table's earlier chunks held, per key name (a unique column, or the
    natural key): :meth:`firsts` of a chunk, which also records the chunk's new keys."""

    seen: dict[str, _Seen] = field(default_factory=dict)

    def firsts(
        self, name: str, keys: np.ndarray, content: np.ndarray, rows: np.ndarray
    ) -> Firsts:
        """Where each of a chunk's key hashes (``keys`` (n, 2), of rows ``content`` (n, 2) on
        file ``rows``, ascending) first appeared: an earlier chunk, else its first row here."""
        seen = self.seen.setdefault(name, _Seen())
        found, first_content, first_row = seen.lookup(keys)
        groups = pd.DataFrame({"a": keys[:, 0], "b": keys[:, 1]}).groupby(["a", "b"], sort=False)
        leads = (groups.cumcount() == 0).to_numpy()
        # unsorted groups are numbered in order of their first row: the n-th leading row leads
        # group n (and, rows ascending, is the key's first row in the chunk)
        leader_of = np.flatnonzero(leads)[groups.ngroup().to_numpy()]
        is_first = leads & ~found
        first_row = np.where(found, first_row, rows[leader_of])
        first_content = np.where(found[:, None], first_content, content[leader_of])
        seen.add(keys[is_first], content[is_first], rows[is_first])
        return Firsts(first_row, first_content, is_first)
