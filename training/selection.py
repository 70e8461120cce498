"""The gate's choice of system: every candidate (the ranker, the plain baseline, ...) is fitted
on the windows up to the cut and measured on the same held-out pools; the best on
building->enterprise NDCG@10 is served, after a refit with its settings on every window up to
the data's end."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tenantmatch.features import Vocabulary
from tenantmatch.models import Scorer
from tenantmatch.training.errors import TrainingError
from tenantmatch.training.evaluate import METRIC_ORDER, System, metric_value
from tenantmatch.training.labels import BUILDING_TO_ENTERPRISE, DIRECTIONS

SELECTION_METRIC = "ndcg@10"
SELECTION_DIRECTION = BUILDING_TO_ENTERPRISE.name


@dataclass(frozen=True)
class Candidate:
    """A system the gate may serve: its name, its scorer fitted on windows up to the cut, the
    feature set its X is built with and its scorer kind (for a refit)."""

    name: str
    scorer: Scorer
    features: str
    # a blend's parts: each refitted with its own settings, then blended again
    parts: tuple[Candidate, ...] = ()

    def system(self, *, vocab: Vocabulary | None = None) -> System:
        scorer = self.scorer
        return System(self.name, lambda X, pairs, d: scorer.score(X), vocab,
                      features=self.features)  # fmt: skip

    def refit_settings(self) -> dict[str, Any]:
        """The scorer's settings with as many boosting rounds as early stopping kept (a refit
        has no later window to stop on); other scorers' settings as they are."""
        settings = self.scorer.get_params()
        best = getattr(self.scorer, "best_iteration_", None)
        if best and "num_boost_round" in settings:
            settings["num_boost_round"] = int(best)
        return settings


def candidate_metrics(metrics: pd.DataFrame, name: str) -> dict[str, dict[str, float]]:
    """``{direction: {metric: value}}`` of one system on the held-out window."""
    return {
        d.name: {
            m: metric_value(metrics, system=name, direction=d.name, metric=m) for m in METRIC_ORDER
        }
        for d in DIRECTIONS
    }


def choose_system(metrics: pd.DataFrame, candidates: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The candidate with the highest building->enterprise NDCG@10 (ties and NaN: the
    earlier one) and the record of the choice: metric, each candidate's metrics, why."""
    if not candidates:
        raise TrainingError("no candidate system to choose from; name at least one")
    score = {
        name: metric_value(
            metrics, system=name, direction=SELECTION_DIRECTION, metric=SELECTION_METRIC
        )
        for name in candidates
    }
    chosen = candidates[0]
    for name in candidates[1:]:
        if not math.isnan(score[name]) and (
            math.isnan(score[chosen]) or score[name] > score[chosen]
        ):
            chosen = name
    ranked = ", ".join(f"{n} {score[n]:.4f}" for n in sorted(candidates, key=lambda n: -score[n]))
    why = (
        f"{chosen} has the highest {SELECTION_DIRECTION} {SELECTION_METRIC} on the held-out "
        f"window among the candidates ({ranked}); ties go to the first of {list(candidates)}"
    )
    record = {
        "chosen": chosen,
        "metric": f"{SELECTION_DIRECTION} {SELECTION_METRIC}",
        "candidates": {name: candidate_metrics(metrics, name) for name in candidates},
        "why": why,
    }
    return chosen, record
