"""Path contributions (the fast reasons): exact decomposition of the raw score, credit on the
feature the trees split on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.models import LGBMRankerScorer, RandomScorer, compiled_model, path_explainer


def _fitted() -> tuple[LGBMRankerScorer, pd.DataFrame]:
    rng = np.random.default_rng(0)
    gap = np.where(rng.random(600) < 0.2, np.nan, rng.normal(size=600))
    X = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600), "gap": gap})
    y = (X["signal"] > 0.5).astype(int) + (X["signal"] > 1.2).astype(int)
    scorer = LGBMRankerScorer(num_boost_round=30, min_data_in_leaf=5, num_leaves=7, n_jobs=1)
    return scorer.fit(X, y, group=[30] * 20), X


def test_contributions_sum_to_the_raw_score_and_credit_the_signal() -> None:
    scorer, X = _fitted()
    explainer = path_explainer(scorer)
    assert explainer is not None
    contrib = explainer.contributions(X)
    assert contrib.shape == (len(X), 4)
    np.testing.assert_allclose(contrib.sum(axis=1), scorer.score(X), atol=1e-9)
    magnitude = np.abs(contrib[:, :3]).mean(axis=0)
    assert magnitude.argmax() == 0  # "signal" carries the credit
    assert explainer.contributions(X.iloc[:0]).shape == (0, 4)


@pytest.mark.parametrize("threads", [2, 3])
def test_contributions_are_the_same_on_several_threads(threads: int) -> None:
    scorer, X = _fitted()
    explainer = path_explainer(scorer)
    assert explainer is not None
    one = explainer.contributions(X)
    np.testing.assert_array_equal(explainer.contributions(X, threads=threads), one)
    assert explainer.contributions(X.iloc[:0], threads=threads).shape == (0, 4)


def test_only_lightgbm_scorers_get_one() -> None:
    assert path_explainer(RandomScorer()) is None


def test_compiled_trees_score_like_lightgbm() -> None:
    pytest.importorskip("lleaves")
    scorer, X = _fitted()
    compiled = compiled_model(scorer, feature_names=list(X.columns))
    assert compiled is not None and compiled.ready.wait(timeout=120)
    np.testing.assert_allclose(compiled.score(X), scorer.score(X), atol=1e-9)
    assert compiled_model(RandomScorer(), feature_names=["a"]) is None


@pytest.mark.parametrize("threads", [2, 3])
def test_compiled_trees_score_the_same_on_several_threads(threads: int) -> None:
    pytest.importorskip("lleaves")
    scorer, X = _fitted()
    compiled = compiled_model(scorer, feature_names=list(X.columns))
    assert compiled is not None and compiled.ready.wait(timeout=120)
    one = compiled.score(X)
    assert one is not None
    np.testing.assert_array_equal(compiled.score(X, threads=threads), one)
    np.testing.assert_array_equal(compiled.score(X.iloc[:1], threads=threads), one[:1])
    assert compiled.score(X.iloc[:0], threads=threads) is None


def test_the_sparse_credit_table_sums_exactly_like_the_dense_one() -> None:
    # the credits of the leaves a row reaches, summed over the trees in order, dense: what
    # the sparse look-up must reproduce bit for bit (reasons' weights are rounded from it)
    scorer, X = _fitted()
    explainer = path_explainer(scorer)
    assert explainer is not None
    n_cells = len(explainer.indptr) - 1
    dense = np.zeros((n_cells, explainer.n_features))
    leaf_of_entry = np.repeat(np.arange(n_cells), np.diff(explainer.indptr))
    dense[leaf_of_entry, explainer.columns] = explainer.values
    assert 0 < len(explainer.values) < dense.size  # sparse indeed: a path splits on few features
    leaves = scorer.booster_.predict(X.to_numpy(), pred_leaf=True).astype(np.int64)
    cells = leaves + explainer.offsets[None, : leaves.shape[1]]
    expected = np.zeros((len(X), explainer.n_features))
    for tree in range(cells.shape[1]):
        expected += dense[cells[:, tree]]
    np.testing.assert_array_equal(explainer.contributions(X)[:, :-1], expected)
