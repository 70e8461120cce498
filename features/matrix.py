"""``build_matrix``: the only way to get X, for training and serving alike."""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tenantmatch.features.context import SIDE_FEATURES, FeatureContext, join_positions
from tenantmatch.features.errors import FeatureError, UnknownIdError, VocabularyError
from tenantmatch.features.spec import RANKER_SET, Feature, feature_set
from tenantmatch.features.vocab import Vocabulary
from tenantmatch.registry import Snapshot

logger = logging.getLogger(__name__)

PAIR_COLUMNS = ("building_id", "enterprise_id")


@dataclass(frozen=True, eq=False)
class _Layout:
    """Where a feature set's columns come from: X rows of each side's features and their
    columns in the context's per-side blocks (a slice when they are its first columns, as
    the ranker's are), and the pair features computed on the join."""

    names: pd.Index
    side_rows: dict[str, np.ndarray]
    side_columns: dict[str, slice | np.ndarray]
    pair_rows: tuple[int, ...]
    features: tuple[Feature, ...]


def _columns(wanted: list[str], block: list[str]) -> slice | np.ndarray:
    positions = np.array([block.index(name) for name in wanted], dtype=np.intp)
    if np.array_equal(positions, np.arange(len(positions))):
        return slice(0, len(positions))
    return positions


@functools.cache
def _layout(set_name: str) -> _Layout:
    features = feature_set(set_name)
    rows, columns = {}, {}
    for prefix in ("e__", "b__"):
        mine = [i for i, f in enumerate(features) if f.name.startswith(prefix)]
        rows[prefix] = np.array(mine, dtype=np.intp)
        block = [f.name for f in SIDE_FEATURES[prefix]]
        columns[prefix] = _columns([features[i].name for i in mine], block)
    pair = tuple(i for i, f in enumerate(features) if f.name.startswith("pair__"))
    names = pd.Index([f.name for f in features])
    return _Layout(names, rows, columns, pair, features)


def context_for(snapshot: Snapshot, *, vocab: Vocabulary) -> FeatureContext:
    """The snapshot's feature context for ``vocab``, built once and cached on the snapshot."""
    cached = snapshot._contexts.get(vocab)
    if cached is None:
        cached = FeatureContext.build(snapshot, vocab=vocab)
        snapshot._contexts[vocab] = cached
        logger.debug("built feature context as of %s", snapshot.as_of.date())
    return cached


def patched_context_for(
    snapshot: Snapshot, previous: FeatureContext, *, buildings: Collection[str],
    enterprises: Collection[str],
) -> FeatureContext:  # fmt: skip
    """:func:`context_for` of ``snapshot`` with ``previous``'s vocabulary, patched from
    ``previous`` (the context before a write that touched ``buildings`` / ``enterprises``,
    see ``FeatureContext.patched``) where it can be, else built."""
    vocab = previous.vocab
    cached = snapshot._contexts.get(vocab)
    if cached is None:
        cached = FeatureContext.patched(previous, snapshot, buildings=buildings,
                                        enterprises=enterprises)  # fmt: skip
        if cached is None:
            logger.info("the feature context cannot be patched; building it whole")
            return context_for(snapshot, vocab=vocab)
        snapshot._contexts[vocab] = cached
    return cached


def build_matrix(
    pairs: pd.DataFrame,
    snapshot_or_ctx: Snapshot | FeatureContext,
    *,
    vocab: Vocabulary,
    features: str = RANKER_SET,
) -> pd.DataFrame:
    """X for ``pairs`` (columns building_id, enterprise_id): float32, one column per feature of
    the set ``features`` (``features.spec.FEATURE_SETS``) in its order, index = ``pairs.index``;
    NaN where a feature is undefined.

    Raises ``UnknownIdError`` naming ids the snapshot does not hold.
    """
    ctx = _context(snapshot_or_ctx, vocab=vocab)
    b_pos, e_pos = _pair_positions(pairs, ctx)
    return _matrix(b_pos, e_pos, ctx, index=pairs.index, layout=_layout(features))


def build_matrix_at(
    b_pos: np.ndarray,
    e_pos: np.ndarray,
    snapshot_or_ctx: Snapshot | FeatureContext,
    *,
    vocab: Vocabulary,
    threads: int = 1,
    features: str = RANKER_SET,
) -> pd.DataFrame:
    """:func:`build_matrix` of the pairs given as row positions (int, equal length) in the
    context's ``buildings`` / ``enterprises`` tables, with a positional index: the same values,
    without looking ids up (a shortlist holds positions already). FeatureError if out of range.
    ``threads``: features computed by that many threads at once (same values)."""
    ctx = _context(snapshot_or_ctx, vocab=vocab)
    b_pos, e_pos = np.asarray(b_pos, dtype=np.int64), np.asarray(e_pos, dtype=np.int64)
    for kind, pos, n in (("building", b_pos, len(ctx.buildings)),
                         ("enterprise", e_pos, len(ctx.enterprises))):  # fmt: skip
        if len(pos) and not (pos.min() >= 0 and pos.max() < n):
            raise FeatureError(f"{kind} positions must lie in 0..{n - 1}")
    if len(b_pos) != len(e_pos):
        raise FeatureError(f"{len(b_pos)} building but {len(e_pos)} enterprise positions")
    return _matrix(b_pos, e_pos, ctx, index=pd.RangeIndex(len(b_pos)), threads=threads,
                   layout=_layout(features))  # fmt: skip


def _matrix(
    b_pos: np.ndarray, e_pos: np.ndarray, ctx: FeatureContext, *, index: pd.Index,
    layout: _Layout, threads: int = 1,
) -> pd.DataFrame:  # fmt: skip
    """X of the pairs at these positions, filled into one float32 block (no per-column frames
    to consolidate): the ``e__`` and ``b__`` columns gathered from the context's per-side
    blocks (each computed once for every row of its side, by the same functions), the pair
    features computed on a join of the few attributes they read. ``threads`` split that
    gather (numpy, free of the GIL); the pair functions run on this thread (half their time
    is pandas work holding the GIL, which two threads only contend for)."""
    joined = join_positions(b_pos, e_pos, ctx, index=index, threads=threads, pair_only=True)
    block = np.empty((len(layout.names), len(index)), dtype=np.float32)
    for prefix, side, pos in (("e__", ctx.enterprise_block, e_pos),
                              ("b__", ctx.building_block, b_pos)):  # fmt: skip
        block[layout.side_rows[prefix]] = _gather(side, pos, layout.side_columns[prefix]).T
    for row in layout.pair_rows:
        block[row] = layout.features[row].fn(joined, ctx).to_numpy(dtype=np.float32)
    return pd.DataFrame(block.T, index=index, columns=layout.names, copy=False)


def _gather(side: np.ndarray, rows: np.ndarray, columns: slice | np.ndarray) -> np.ndarray:
    """``side[rows][:, columns]`` with one copy."""
    if isinstance(columns, slice):
        return side[rows, columns]
    return side[np.ix_(rows, columns)]


def _context(snapshot_or_ctx: Snapshot | FeatureContext, *, vocab: Vocabulary) -> FeatureContext:
    if isinstance(snapshot_or_ctx, Snapshot):
        return context_for(snapshot_or_ctx, vocab=vocab)
    if not isinstance(snapshot_or_ctx, FeatureContext):
        raise FeatureError(
            f"build_matrix needs a Snapshot or FeatureContext, got {type(snapshot_or_ctx).__name__}"
        )
    if snapshot_or_ctx.vocab != vocab:
        raise VocabularyError("the feature context was built with another vocabulary than given")
    return snapshot_or_ctx


def _positions(ids: pd.Series, index: pd.Index, *, kind: str) -> np.ndarray:
    pos = index.get_indexer(pd.Index(ids.astype("str")))
    if (pos < 0).any():
        unknown = pd.unique(ids[pos < 0].astype("str"))
        raise UnknownIdError(kind, unknown, total=len(index))
    return pos


def _pair_positions(pairs: pd.DataFrame, ctx: FeatureContext) -> tuple[np.ndarray, np.ndarray]:
    absent = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if absent:
        raise FeatureError(f"pairs lack column(s) {absent}; need {list(PAIR_COLUMNS)}")
    b_pos = _positions(pairs["building_id"], ctx.buildings.index, kind="building")
    e_pos = _positions(pairs["enterprise_id"], ctx.enterprises.index, kind="enterprise")
    return b_pos, e_pos


def join_attributes(pairs: pd.DataFrame, ctx: FeatureContext) -> pd.DataFrame:
    """``pairs`` ids with ``b_pos`` / ``e_pos`` and the context attributes as ``b_*`` / ``e_*``
    columns (float64), index = ``pairs.index``; raises ``UnknownIdError`` for unknown ids."""
    b_pos, e_pos = _pair_positions(pairs, ctx)
    return join_positions(b_pos, e_pos, ctx, index=pairs.index)
