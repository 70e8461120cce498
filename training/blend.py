"""The blend candidate (issue 19): the ranker and the wide classifier, each fitted as the gate
fits it, averaged on a common scale (``models.BlendScorer``). The scale of each part is its
spread over a reference sample of random (building, enterprise) pairs of the snapshot the
blend will be measured or served on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tenantmatch.features import ALL_SET, Vocabulary, build_matrix
from tenantmatch.models import BlendScorer, Scorer
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.plain import random_negatives

BLEND = "blend"  # the system's name in evaluations, manifests and reports
REFERENCE_PAIRS = 20_000  # pairs the parts' spreads are measured on


def reference_sample(
    registry: Registry, at: pd.Timestamp, *, vocab: Vocabulary, n: int = REFERENCE_PAIRS,
    seed: int = 0,
) -> pd.DataFrame:  # fmt: skip
    """X (the ``all`` feature set) of ``n`` distinct random pairs of the snapshot at ``at``."""
    snapshot = Snapshot.at(registry, at)
    b_ids, e_ids = snapshot.buildings.index, snapshot.enterprises.index
    nb, ne = random_negatives(len(b_ids), len(e_ids), taken=np.zeros(0, np.int64), n=n,
                              seed=seed)  # fmt: skip
    pairs = pd.DataFrame({"building_id": b_ids.to_numpy()[nb].astype(str),
                          "enterprise_id": e_ids.to_numpy()[ne].astype(str)})  # fmt: skip
    return build_matrix(pairs, snapshot, vocab=vocab, features=ALL_SET)


def blend_of(
    parts: Sequence[Scorer], *, registry: Registry, at: pd.Timestamp, vocab: Vocabulary,
    seed: int,
) -> BlendScorer:  # fmt: skip
    """The blend of fitted LightGBM ``parts`` scaled on the reference sample at ``at``."""
    reference = reference_sample(registry, at, vocab=vocab, seed=seed)
    return BlendScorer.of(parts, reference=reference)
