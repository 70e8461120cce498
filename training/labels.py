"""Relevance labels for a time window and per-query negative sampling.

Grades: a tenancy starting in the window is 4; otherwise the best event stage of the pair in
the window (signed 3, negotiating 2, visited 1, contacted 1). A pair whose only stage in the
window is ``declined`` is an explicit negative (grade 0) kept as a hard negative.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.errors import TrainingError
from training.splits import Window

log = logging.getLogger(__name__)

TENANCY_GRADE = 4
STAGE_GRADE: dict[str, int] = {
    "signed": 3,
    "negotiating": 2,
    "visited": 1,
    "contacted": 1,
    "declined": 0,
}
PAIR = ["building_id", "enterprise_id"]


@dataclass(frozen=True)
class Direction:
    """A ranking direction: each query is one ``query`` id, ranking ``item`` ids."""

    name: str
    query: str
    item: str


BUILDING_TO_ENTERPRISE = Direction("building_to_enterprise", "building_id", "enterprise_id")
ENTERPRISE_TO_BUILDING = Direction("enterprise_to_building", "enterprise_id", "building_id")
DIRECTIONS: tuple[Direction, ...] = (BUILDING_TO_ENTERPRISE, ENTERPRISE_TO_BUILDING)


def direction_by_name(name: str) -> Direction:
    """The direction called ``name``; raises TrainingError naming the allowed ones."""
    for d in DIRECTIONS:
        if d.name == name:
            return d
    allowed = ", ".join(d.name for d in DIRECTIONS)
    raise TrainingError(f"direction {name!r} is unknown; allowed: {allowed}")


def _in_window(dates: pd.Series, window: Window) -> pd.Series:
    dates = pd.to_datetime(dates)
    return (dates > window.start) & (dates <= window.end)


def window_labels(tables: dict[str, pd.DataFrame], *, window: Window) -> pd.DataFrame:
    """One row per labelled (building, enterprise) pair of ``window``: columns building_id,
    enterprise_id, grade (int, 0-4) and explicit_negative (True for declined-only pairs)."""
    parts = []
    tenancies = tables.get("tenancies")
    if tenancies is not None and len(tenancies):
        moved = tenancies.loc[_in_window(tenancies["start_date"], window), PAIR]
        parts.append(moved.assign(grade=TENANCY_GRADE))
    events = tables.get("events")
    if events is not None and len(events):
        seen = events.loc[_in_window(events["date"], window)]
        parts.append(seen[PAIR].assign(grade=seen["stage"].map(STAGE_GRADE).to_numpy()))
    if not parts:
        return _empty_labels()
    rows = pd.concat(parts, ignore_index=True).dropna(subset=["grade"])
    if rows.empty:
        return _empty_labels()
    labels = rows.groupby(PAIR, as_index=False, sort=True)["grade"].max()
    labels["grade"] = labels["grade"].astype("int64")
    labels["explicit_negative"] = labels["grade"].eq(0)
    return labels


def _empty_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": pd.Series([], dtype="str"),
            "enterprise_id": pd.Series([], dtype="str"),
            "grade": pd.Series([], dtype="int64"),
            "explicit_negative": pd.Series([], dtype="bool"),
        }
    )


def query_ids(labels: pd.DataFrame, *, direction: Direction) -> np.ndarray:
    """Sorted ids of the queries of ``direction`` that have at least one positive (grade >= 1)."""
    positive = labels.loc[labels["grade"] >= 1, direction.query]
    return np.sort(positive.unique())


def sample_examples(
    labels: pd.DataFrame,
    pool: pd.DataFrame,
    *,
    direction: Direction,
    n_hard: int = 30,
    n_random: int = 20,
    seed: int = 0,
    pool_only: bool = True,
) -> pd.DataFrame:
    """Training rows for every query with a positive: its labelled pairs (positives and
    declined; only those in the pool if ``pool_only``) plus up to ``n_hard`` pool rows with
    ``hard`` True and ``n_random`` other pool rows, drawn with ``seed``. ``pool`` has
    building_id, enterprise_id, hard. Sorted by query."""
    if pool_only:
        labels = labels.merge(pool[PAIR], on=PAIR, how="inner")
    queries = query_ids(labels, direction=direction)
    own = labels.loc[labels[direction.query].isin(queries), [*PAIR, "grade"]]
    candidates = pool.loc[pool[direction.query].isin(queries), [*PAIR, "hard"]]
    candidates = candidates.merge(own[PAIR], on=PAIR, how="left", indicator=True)
    candidates = candidates.loc[candidates["_merge"].eq("left_only"), [*PAIR, "hard"]]
    negatives = _draw(candidates, key=direction.query, n_hard=n_hard, n_random=n_random, seed=seed)
    rows = pd.concat([own, negatives.assign(grade=0)[[*PAIR, "grade"]]], ignore_index=True)
    rows["grade"] = rows["grade"].astype("int64")
    order = np.lexsort((rows[direction.item].to_numpy(), rows[direction.query].to_numpy()))
    return rows.iloc[order].reset_index(drop=True)


def _draw(
    candidates: pd.DataFrame, *, key: str, n_hard: int, n_random: int, seed: int
) -> pd.DataFrame:
    """Up to ``n_hard`` hard rows then ``n_random`` of the rest per ``key``, in seeded order."""
    rng = np.random.default_rng(seed)
    shuffled = candidates.iloc[rng.permutation(len(candidates))]
    # stable sort by key keeps the random order within each query
    shuffled = shuffled.sort_values(key, kind="stable")
    hard = shuffled.loc[shuffled["hard"].astype(bool)]
    hard = hard.loc[hard.groupby(key).cumcount() < n_hard]
    rest = shuffled.drop(index=hard.index)
    rest = rest.loc[rest.groupby(key).cumcount() < n_random]
    return pd.concat([hard, rest])


def hard_flags(
    pool: pd.DataFrame, *, building_city: pd.Series, enterprise_city: pd.Series
) -> pd.Series:
    """True where the pool pair is in one city (both cities known and equal); the cities are
    Series indexed by id. The pool already excludes pairs whose space need exceeds the vacancy."""
    b_city = pool["building_id"].map(building_city)
    e_city = pool["enterprise_id"].map(enterprise_city)
    same = b_city.notna() & e_city.notna() & b_city.eq(e_city)
    return same.fillna(False).astype(bool)
