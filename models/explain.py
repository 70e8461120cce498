"""Fast per-feature contributions of a LightGBM model for shortlist reasons: path attributions
(Saabas' method). Each tree's value moves from its root's mean to the row's leaf; every split
on the way credits its feature with the change. Per row and tree that is one leaf look-up
(``pred_leaf``) plus a precomputed per-leaf vector, so 50 rows cost about a millisecond,
against tens of milliseconds for TreeSHAP (``pred_contrib``). Like TreeSHAP, the contributions
plus the bias column sum exactly to the raw score.
"""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tenantmatch.features import for_row_chunks
from tenantmatch.models.scorers import Scorer

logger = logging.getLogger(__name__)


def _leaf_paths(node: dict[str, Any], *, n_features: int, out: dict[int, np.ndarray]) -> float:
    """Fill ``out`` with leaf index -> (n_features,) credited changes along the path to it;
    returns the node's value (the root's is the tree's bias)."""
    stack: list[tuple[dict[str, Any], np.ndarray]] = [(node, np.zeros(n_features))]
    while stack:
        current, credit = stack.pop()
        if "leaf_index" in current or "split_feature" not in current:
            out[int(current.get("leaf_index", 0))] = credit
            continue
        value = float(current["internal_value"])
        for side in ("left_child", "right_child"):
            child = current[side]
            child_value = float(child.get("leaf_value", child.get("internal_value", 0.0)))
            step = credit.copy()
            step[int(current["split_feature"])] += child_value - value
            stack.append((child, step))
    return float(node.get("internal_value", node.get("leaf_value", 0.0)))


class PathExplainer:
    """Path contributions of one booster (``num_iteration`` trees); built once per model."""

    def __init__(self, booster: lgb.Booster, *, num_iteration: int | None) -> None:
        self.booster = booster
        self.num_iteration = num_iteration
        dump = booster.dump_model(num_iteration=num_iteration)
        self.n_features = len(dump["feature_names"])
        tables, offsets, bias, start = [], [], 0.0, 0
        for tree in dump["tree_info"]:
            paths: dict[int, np.ndarray] = {}
            bias += _leaf_paths(tree["tree_structure"], n_features=self.n_features, out=paths)
            size = max(paths) + 1
            table = np.zeros((size, self.n_features))
            for leaf, credit in paths.items():
                table[leaf] = credit
            tables.append(table)
            offsets.append(start)
            start += size
        table = np.concatenate(tables) if tables else np.zeros((0, self.n_features))
        # A path credits only the few features split on along it: the table is kept sparse
        # (CSR, one row per leaf), about a tenth of the dense look-up's work per query.
        cell, self.columns = np.nonzero(table)
        self.values = table[cell, self.columns]
        self.indptr = np.r_[0, np.cumsum(np.bincount(cell, minlength=len(table)))]
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.bias = bias

    def contributions(self, X: pd.DataFrame, *, threads: int = 1) -> np.ndarray:
        """(n, n_features + 1) float64: per-feature contributions, last column the bias; each
        row sums to the raw score. X must hold the model's features in its order. ``threads``:
        row chunks summed at once (same values)."""
        if len(X) == 0:
            return np.zeros((0, self.n_features + 1))
        # numpy on one thread: for a few dozen rows, pandas conversion and OpenMP start-up
        # cost ~20x the look-up itself (the model has no pandas categoricals to map).
        values = X.to_numpy(dtype=np.float64)
        leaves = self.booster.predict(
            values, num_iteration=self.num_iteration, pred_leaf=True, num_threads=1
        )
        leaves = np.asarray(leaves, dtype=np.int64).reshape(len(X), -1)
        cells = leaves + self.offsets[None, : leaves.shape[1]]
        rows = np.empty((len(X), self.n_features))

        def add_up(chunk: slice) -> None:
            rows[chunk] = self._credit(cells[chunk])

        for_row_chunks(len(X), add_up, threads=threads)
        return np.column_stack([rows, np.full(len(X), self.bias)])

    def _credit(self, cells: np.ndarray) -> np.ndarray:
        """(n, n_features) sums of the credit of each row's leaves (``cells``, (n, trees)).
        ``bincount`` adds in input order, which runs row by row and tree by tree: every
        feature's credits are summed in tree order, as a dense sum over the trees would."""
        n = len(cells)
        flat = cells.reshape(-1)
        starts, counts = self.indptr[flat], self.indptr[flat + 1] - self.indptr[flat]
        ends = np.cumsum(counts)
        first = np.repeat(starts - ends + counts, counts)  # each leaf's start, minus entries before
        entries = np.arange(len(first)) + first
        row = np.repeat(np.arange(n).repeat(cells.shape[1]), counts)
        bins = row * self.n_features + self.columns[entries]
        summed = np.bincount(bins, weights=self.values[entries], minlength=n * self.n_features)
        return summed.reshape(n, self.n_features)


def path_explainer(scorer: Scorer) -> PathExplainer | None:
    """A :class:`PathExplainer` for a fitted LightGBM scorer, None for any other scorer."""
    booster = getattr(scorer, "booster_", None)
    if not isinstance(booster, lgb.Booster):
        return None
    best = getattr(scorer, "best_iteration_", None)
    return PathExplainer(booster, num_iteration=int(best) if best else None)
