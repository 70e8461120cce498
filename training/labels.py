"""Relevance labels for a time window and per-query negative sampling.

Grades: a tenancy starting in the window is 4; otherwise the pair's latest event stage in the
window, as staff read a courtship (signed 3, negotiating 2, visited 1, contacted 1, declined 0):
contacted -> visited -> declined ended in a "no", so it is an explicit negative (grade 0, kept as
a hard negative), not grade 1. On one day the furthest stage counts as the latest, as in the
features (``pair__last_event_stage``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tenantmatch.training.errors import TrainingError
from tenantmatch.training.splits import Window

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
    enterprise_id, grade (int, 0-4) and explicit_negative (True where the pair's latest stage in
    the window is a decline and it did not move in)."""
    parts = []
    tenancies = tables.get("tenancies")
    if tenancies is not None and len(tenancies):
        moved = tenancies.loc[_in_window(tenancies["start_date"], window), PAIR]
        parts.append(moved.assign(grade=TENANCY_GRADE))
    events = tables.get("events")
    if events is not None and len(events):
        parts.append(latest_stage_grades(events.loc[_in_window(events["date"], window)]))
    if not parts:
        return _empty_labels()
    rows = pd.concat(parts, ignore_index=True).dropna(subset=["grade"])
    if rows.empty:
        return _empty_labels()
    labels = pd.DataFrame(rows.groupby(PAIR, as_index=False, sort=True)["grade"].max())
    labels["grade"] = labels["grade"].astype("int64")
    labels["explicit_negative"] = labels["grade"].eq(0)
    return labels


def latest_stage_grades(events: pd.DataFrame) -> pd.DataFrame:
    """Per (building, enterprise) pair of ``events``, the grade of its latest stage (on one day
    the furthest stage, i.e. the highest grade, counts as the latest); columns building_id,
    enterprise_id, grade (float). Events of unknown stage are ignored."""
    graded = events[[*PAIR, "date"]].assign(
        date=pd.to_datetime(events["date"]), grade=events["stage"].map(STAGE_GRADE).to_numpy()
    )
    graded = graded.dropna(subset=["grade", "date"])
    latest = graded.sort_values(["date", "grade"], kind="stable").drop_duplicates(PAIR, keep="last")
    return latest[[*PAIR, "grade"]]


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


def id_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """int64 codes of an id column and the ids they index; categorical columns are read as
    they are (cheap for multi-million-row pools), others factorised."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.codes.to_numpy(dtype=np.int64), pd.Index(ids.cat.categories)
    codes, uniques = pd.factorize(ids)
    return codes.astype(np.int64), pd.Index(uniques)


class PairKeys:
    """int64 keys of (building, enterprise) pairs in the coding of one pool, to match labelled
    pairs against multi-million-row pools without string joins."""

    def __init__(self, pool: pd.DataFrame) -> None:
        b_codes, self.buildings = id_codes(pool["building_id"])
        e_codes, self.enterprises = id_codes(pool["enterprise_id"])
        self.pool = b_codes * len(self.enterprises) + e_codes

    def of(self, pairs: pd.DataFrame) -> np.ndarray:
        """Keys of ``pairs`` (str ids); -1 where an id is not in the pool at all."""
        b = self.buildings.get_indexer(pd.Index(pairs["building_id"].astype("str")))
        e = self.enterprises.get_indexer(pd.Index(pairs["enterprise_id"].astype("str")))
        return np.where((b >= 0) & (e >= 0), b * len(self.enterprises) + e, -1)

    def grades(self, labels: pd.DataFrame) -> np.ndarray:
        """int64 grade per pool row from ``labels`` (0 where unlabelled)."""
        keys = self.of(labels)
        known = keys >= 0
        lookup = pd.Series(labels["grade"].to_numpy()[known], index=keys[known])
        found = lookup.reindex(self.pool).to_numpy(dtype=np.float64, na_value=np.nan)
        return np.nan_to_num(found, nan=0.0).astype(np.int64)


def in_sorted(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean mask (len(values),): which ``values`` occur in the sorted int array ``keys``
    (binary search; cheaper than ``np.isin`` when one side has millions of rows)."""
    if len(keys) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return keys[at] == values


def draw_negatives(
    query: np.ndarray,
    *,
    hard: np.ndarray,
    taken: np.ndarray,
    n_hard: int,
    n_random: int,
    seed: int,
    courted: np.ndarray | None = None,
    n_courted: int = 0,
) -> np.ndarray:
    """Sorted row indices: per distinct ``query`` code, up to ``n_courted`` rows with
    ``courted``, then up to ``n_hard`` other rows with ``hard`` and up to ``n_random`` of the
    remaining rows, never a ``taken`` row; seeded."""
    rng = np.random.default_rng(seed)
    order = np.argsort(query, kind="stable")
    q = query[order]
    bounds = np.flatnonzero(np.r_[True, q[1:] != q[:-1], True])
    courted = np.zeros(len(query), dtype=bool) if courted is None else courted
    picked = []
    for start, end in itertools.pairwise(bounds):
        rows = order[start:end]
        rows = rows[~taken[rows]]
        chosen = []
        for flag, n in ((courted, n_courted), (hard, n_hard)):
            c = rows[flag[rows]]
            chosen.append(rng.choice(c, size=min(n, len(c)), replace=False))
            rows = np.setdiff1d(rows, chosen[-1], assume_unique=True)
        picked += [*chosen, rng.choice(rows, size=min(n_random, len(rows)), replace=False)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def sample_examples(
    labels: pd.DataFrame,
    pool: pd.DataFrame,
    *,
    direction: Direction,
    n_hard: int = 30,
    n_random: int = 20,
    seed: int = 0,
    pool_only: bool = True,
    n_courted: int = 0,
) -> pd.DataFrame:
    """Training rows for every query with a positive: its labelled pairs (positives and
    declined; only those in the pool if ``pool_only``) plus up to ``n_courted`` pool rows with
    ``courted`` True (pairs with earlier attraction events), ``n_hard`` with ``hard`` True and
    ``n_random`` other pool rows, drawn with ``seed``. ``pool`` has building_id, enterprise_id
    (str or categorical), hard and optionally courted. Sorted by query, then item."""
    keys = PairKeys(pool)
    label_keys = keys.of(labels)
    if pool_only:
        inside = in_sorted(label_keys, np.sort(keys.pool))
        labels, label_keys = labels.loc[inside], label_keys[inside]
    queries = query_ids(labels, direction=direction)
    mine = labels[direction.query].isin(queries).to_numpy()
    own = labels.loc[mine, [*PAIR, "grade"]]
    q_codes, q_index = id_codes(pool[direction.query])
    wanted = np.zeros(len(q_index) + 1, dtype=bool)  # last slot stays False: code -1
    at = q_index.get_indexer(pd.Index(queries))
    wanted[at[at >= 0]] = True
    taken = in_sorted(keys.pool, np.sort(label_keys[mine])) | ~wanted[q_codes]
    courted = pool["courted"].to_numpy(dtype=bool) if "courted" in pool else None
    rows = draw_negatives(
        q_codes, hard=pool["hard"].to_numpy(dtype=bool), taken=taken,
        n_hard=n_hard, n_random=n_random, seed=seed, courted=courted, n_courted=n_courted,
    )  # fmt: skip
    negatives = pool.iloc[rows][PAIR].astype("str").assign(grade=0)
    out = pd.concat([own, negatives], ignore_index=True)
    out["grade"] = out["grade"].astype("int64")
    order = np.lexsort((out[direction.item].to_numpy(), out[direction.query].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def hard_flags(
    pool: pd.DataFrame, *, building_city: pd.Series, enterprise_city: pd.Series
) -> np.ndarray:
    """True where the pool pair is in one city (both cities known and equal); the cities are
    Series indexed by id. The pool already excludes pairs whose space need exceeds the vacancy."""
    b_codes, b_ids = id_codes(pool["building_id"])
    e_codes, e_ids = id_codes(pool["enterprise_id"])
    cities = pd.Index(pd.concat([building_city, enterprise_city]).dropna().astype("str").unique())
    b_city = cities.get_indexer(building_city.reindex(b_ids).astype("str"))[b_codes]
    e_city = cities.get_indexer(enterprise_city.reindex(e_ids).astype("str"))[e_codes]
    return (b_city >= 0) & (b_city == e_city)
