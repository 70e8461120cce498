"""Build any scorer by name: the one switch between the ranker and its baselines."""

from __future__ import annotations

from typing import Any

from tenantmatch.models.baselines import (
    HandRuleScorer,
    LogisticScorer,
    PopularityScorer,
    RandomScorer,
)
from tenantmatch.models.blend import BlendScorer
from tenantmatch.models.errors import UnknownScorerError
from tenantmatch.models.plain import LGBMBinaryScorer
from tenantmatch.models.ranker import LGBMRankerScorer
from tenantmatch.models.scorers import Scorer

SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls
    for cls in (
        LGBMRankerScorer,
        LGBMBinaryScorer,
        RandomScorer,
        PopularityScorer,
        HandRuleScorer,
        LogisticScorer,
        BlendScorer,
    )
}


def make_scorer(name: str, **kwargs: Any) -> Scorer:
    """A new, unfitted scorer: "lightgbm", "lightgbm_binary", "random", "popularity",
    "hand_rule", "logistic" or "blend" (whose parts are loaded, never fitted here)."""
    cls = SCORERS.get(name)
    if cls is None:
        raise UnknownScorerError(f"unknown scorer {name!r}; allowed: {sorted(SCORERS)}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise UnknownScorerError(f"bad settings for scorer {name!r}: {exc}") from exc
