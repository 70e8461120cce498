"""Tiny synthetic ranking worlds for the models tests, built in code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from tenantmatch.models import Scorer

S = TypeVar("S", bound=Scorer)

# Latent-fit cut points between grades 0|1|2|3|4.
GRADE_CUTS = (2.2, 2.9, 3.5, 4.1)


@dataclass(frozen=True)
class World:
    """Rows grouped by query: features X (float32), grades y (0..4), group sizes."""

    X: pd.DataFrame
    y: np.ndarray
    group: list[int]


def make_world(*, n_groups: int, group_size: int, seed: int, noise: float = 0.3) -> World:
    """Grades planted on pair__signal (boosted by same city); other columns are distractors
    with about 5% NaN."""
    rng = np.random.default_rng(seed)
    n = n_groups * group_size
    signal = rng.random(n)
    same_city = rng.integers(0, 2, n).astype(float)
    X = pd.DataFrame(
        {
            "b__moveins_12m": rng.poisson(3, n),
            "b__noise": rng.normal(size=n),
            "e__events_12m": rng.poisson(2, n),
            "e__noise": rng.normal(size=n),
            "pair__signal": signal,
            "pair__same_city": same_city,
            "pair__theme_prior_fit": rng.random(n),
            "pair__space_need_fits": rng.integers(0, 2, n).astype(float),
            "pair__category": rng.integers(0, 4, n).astype(float),
        }
    ).astype(np.float32)
    for col in ("b__noise", "e__noise", "pair__theme_prior_fit", "pair__space_need_fits"):
        X.loc[rng.random(n) < 0.05, col] = np.nan
    latent = 4.0 * signal + 1.0 * same_city * signal + rng.normal(scale=noise, size=n)
    y = np.digitize(latent, GRADE_CUTS).astype(np.int32)
    return World(X=X, y=y, group=[group_size] * n_groups)


def fit_with_valid(
    scorer: S, train: World, *, valid: World, y_valid: np.ndarray | None = None
) -> S:
    """Fit scorer on train with valid as the early-stopping set (grades y_valid if given)."""
    y_v = valid.y if y_valid is None else y_valid
    return scorer.fit(
        train.X, train.y, group=train.group, X_valid=valid.X, y_valid=y_v, group_valid=valid.group
    )


def mean_ndcg_at_10(world: World, scores: np.ndarray) -> float:
    """Mean NDCG@10 over queries that have at least one positive grade."""
    values, start = [], 0
    for size in world.group:
        y, s = world.y[start : start + size], scores[start : start + size]
        start += size
        if y.max() > 0:
            values.append(ndcg_score(y[None, :], s[None, :], k=10))
    return float(np.mean(values))


@pytest.fixture(scope="session")
def small_world() -> World:
    return make_world(n_groups=40, group_size=25, seed=1)


@pytest.fixture(scope="session")
def other_world() -> World:
    return make_world(n_groups=12, group_size=25, seed=2)
