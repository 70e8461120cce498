"""``build_matrix``: the only way to get X, for training and serving alike."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from features.context import FeatureContext
from features.errors import FeatureError, UnknownIdError, VocabularyError
from features.registry import Snapshot
from features.spec import FEATURES
from features.vocab import Vocabulary

logger = logging.getLogger(__name__)

PAIR_COLUMNS = ("building_id", "enterprise_id")


def context_for(snapshot: Snapshot, *, vocab: Vocabulary) -> FeatureContext:
    """The snapshot's feature context for ``vocab``, built once and cached on the snapshot."""
    cached = snapshot._contexts.get(vocab)
    if cached is None:
        cached = FeatureContext.build(snapshot, vocab=vocab)
        snapshot._contexts[vocab] = cached
        logger.debug("built feature context as of %s", snapshot.as_of.date())
    return cached


def build_matrix(
    pairs: pd.DataFrame, snapshot_or_ctx: Snapshot | FeatureContext, *, vocab: Vocabulary
) -> pd.DataFrame:
    """X for ``pairs`` (columns building_id, enterprise_id): float32, one column per registered
    feature in registry order, index = ``pairs.index``; NaN where a feature is undefined.

    Raises ``UnknownIdError`` naming ids the snapshot does not hold.
    """
    ctx = _context(snapshot_or_ctx, vocab=vocab)
    joined = join_attributes(pairs, ctx)
    columns = {f.name: f.fn(joined, ctx).to_numpy(dtype=np.float32) for f in FEATURES}
    return pd.DataFrame(columns, index=pairs.index)


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


def join_attributes(pairs: pd.DataFrame, ctx: FeatureContext) -> pd.DataFrame:
    """``pairs`` ids with ``b_pos`` / ``e_pos`` and the context attributes as ``b_*`` / ``e_*``
    columns (float64), index = ``pairs.index``; raises ``UnknownIdError`` for unknown ids."""
    absent = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if absent:
        raise FeatureError(f"pairs lack column(s) {absent}; need {list(PAIR_COLUMNS)}")
    b_pos = _positions(pairs["building_id"], ctx.buildings.index, kind="building")
    e_pos = _positions(pairs["enterprise_id"], ctx.enterprises.index, kind="enterprise")
    blds, ents = ctx.building_array[b_pos], ctx.enterprise_array[e_pos]
    return pd.concat(
        [
            pd.DataFrame({"b_pos": b_pos, "e_pos": e_pos}, index=pairs.index),
            pd.DataFrame(blds, index=pairs.index, columns="b_" + ctx.buildings.columns),
            pd.DataFrame(ents, index=pairs.index, columns="e_" + ctx.enterprises.columns),
        ],
        axis=1,
    )
