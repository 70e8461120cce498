"""Firm examples for the move hazard (``models.hazard``) and the vocabularies it yields.

One example per enterprise and window start: its ``e__`` features as of the start (point in
time, the same functions the ranker reads) and whether it started a new tenancy within the
following ``horizon_months``. Only windows whose horizon ends by the cut are used, so the
labels are complete and none comes from the evaluation period. (Those labels may reach into
the validation window of the ranker; each firm's own value still comes from a model that never
saw that firm, see ``models.hazard``.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from tenantmatch.features import (
    FEATURES,
    HAZARD_FEATURE,
    Vocabulary,
    categorical_features,
    context_for,
    enterprise_features,
)
from tenantmatch.models import fit_move_hazard
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.dataset import registry_tables
from tenantmatch.training.splits import TemporalSplit, Window

log = logging.getLogger(__name__)

# What the hazard reads: every enterprise feature but its own output.
HAZARD_INPUTS: tuple[str, ...] = tuple(
    f.name for f in FEATURES if f.name.startswith("e__") and f.name != HAZARD_FEATURE
)


def hazard_windows(split: TemporalSplit, *, horizon_months: int) -> tuple[Window, ...]:
    """Windows of ``horizon_months`` starting at the split's fit window starts whose end is on
    or before the cut (complete labels)."""
    horizon = pd.DateOffset(months=horizon_months)
    starts = [w.start for w in split.fit_windows if w.start + horizon <= split.cut]
    return tuple(Window(s, s + horizon) for s in starts)


def moved_within(tenancies: pd.DataFrame, ids: pd.Index, *, window: Window) -> np.ndarray:
    """bool per id: the enterprise started a tenancy in ``(window.start, window.end]``."""
    starts = pd.to_datetime(tenancies["start_date"])
    inside = (starts > window.start) & (starts <= window.end)
    return np.asarray(ids.isin(pd.Index(tenancies.loc[inside, "enterprise_id"].astype("str"))))


# Firm examples kept per window: a 20k-firm registry keeps every firm, a larger one a stable
# sample, so the hazard's training set (and its fit time) stops growing with the registry.
MAX_FIRMS_PER_WINDOW = 50_000


def firm_sample(ids: pd.Index, *, limit: int, salt: str) -> np.ndarray:
    """bool per id: all of them when there are at most ``limit``, else the ``limit`` ids of
    smallest hash of (``salt``, id): the same sample in every process and row order, another
    for another salt."""
    if len(ids) <= limit:
        return np.ones(len(ids), dtype=bool)
    hashed = pd.util.hash_array(np.asarray([f"{salt}|{i}" for i in ids], dtype=object))
    keep = np.zeros(len(ids), dtype=bool)
    keep[np.argpartition(hashed, limit)[:limit]] = True
    return keep


def firm_examples(
    registry: Registry, *, window: Window, vocab: Vocabulary,
    max_firms: int = MAX_FIRMS_PER_WINDOW,
) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """(X, moved) of the enterprises known at ``window.start`` (at most ``max_firms``, a
    :func:`firm_sample` salted by the window's start): X holds :data:`HAZARD_INPUTS` as of that
    date (index enterprise_id), ``moved`` the label over the window."""
    snapshot = Snapshot.at(registry, window.start)
    X = enterprise_features(context_for(snapshot, vocab=vocab), HAZARD_INPUTS)
    X = X[firm_sample(X.index, limit=max_firms, salt=str(window.start.date()))]
    tenancies = registry_tables(registry)["tenancies"]
    return X, moved_within(tenancies, X.index.astype("str"), window=window)


def fit_hazard_vocabularies(
    registry: Registry,
    split: TemporalSplit,
    *,
    vocab: Vocabulary,
    horizon_months: int,
    examples: Sequence[tuple[pd.DataFrame, np.ndarray]] | None = None,
    n_jobs: int = 2,
    max_firms: int = MAX_FIRMS_PER_WINDOW,
) -> tuple[Vocabulary, Vocabulary]:
    """``(for_training, served)``: ``vocab`` with the cross-fitted hazard, for the ranker's
    training windows, and with the hazard fitted on every example, for evaluation and serving.
    Both are ``vocab`` unchanged when ``horizon_months`` is 0 or there is too little to learn.
    ``examples`` (from :func:`firm_examples`, at most ``max_firms`` per window) are computed
    here unless given (a cluster run builds them on its workers)."""
    if horizon_months <= 0:
        return vocab, vocab
    if examples is None:
        windows = hazard_windows(split, horizon_months=horizon_months)
        jobs = (
            delayed(firm_examples)(registry, window=w, vocab=vocab, max_firms=max_firms)
            for w in windows
        )
        examples = (
            list(Parallel(n_jobs=n_jobs)(jobs))
            if n_jobs > 1
            else [j[0](*j[1], **j[2]) for j in jobs]
        )
    if not examples:
        log.warning("no window of %d months ends by the cut: no move hazard", horizon_months)
        return vocab, vocab
    X = pd.concat([x for x, _ in examples])
    moved = np.concatenate([m for _, m in examples])
    fitted = fit_move_hazard(X, moved, categorical=categorical_features(), n_jobs=n_jobs)
    if fitted is None:
        return vocab, vocab
    served, crossed = fitted
    return vocab.with_hazard(crossed), vocab.with_hazard(served)
