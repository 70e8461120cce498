"""Platt calibration: recovers a known sigmoid, honours sampling weights, matches the formula
matching.planning reads, refuses too few moves; and the pool-stage helpers it relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.matching.planning import probabilities
from tenantmatch.training.calibration import fit_platt, platt_probability
from tenantmatch.training.errors import NotEnoughDataError
from tenantmatch.training.evaluate import EvalPools, System, score_pools
from tenantmatch.training.labels import BUILDING_TO_ENTERPRISE, in_sorted


def _draw(n: int, *, a: float, b: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, 1.5, n)
    moved = rng.random(n) < 1.0 / (1.0 + np.exp(-(a * scores + b)))
    return scores, moved


def test_fit_recovers_the_true_sigmoid() -> None:
    scores, moved = _draw(60_000, a=1.3, b=-3.0, seed=1)
    fit = fit_platt(scores, moved, horizon_days=365)
    assert fit.a == pytest.approx(1.3, abs=0.07)
    assert fit.b == pytest.approx(-3.0, abs=0.1)
    assert fit.manifest_entry() == {"a": fit.a, "b": fit.b, "horizon_days": 365}
    assert fit.expected == pytest.approx(fit.observed, rel=0.02)  # calibrated in the large


def test_weights_undo_negative_subsampling() -> None:
    scores, moved = _draw(100_000, a=1.3, b=-3.0, seed=2)
    rng = np.random.default_rng(3)
    keep = moved | (rng.random(len(moved)) < 0.1)  # a tenth of the non-moves
    weight = np.where(moved, 1.0, 10.0)[keep]
    fit = fit_platt(scores[keep], moved[keep], horizon_days=365, weight=weight)
    unweighted = fit_platt(scores[keep], moved[keep], horizon_days=365)
    assert fit.b == pytest.approx(-3.0, abs=0.15)
    assert unweighted.b > fit.b + 1.5  # ignoring the weights inflates the base rate ~10x


def test_holdout_measures_fit_out_of_sample() -> None:
    scores, moved = _draw(20_000, a=1.0, b=-2.0, seed=4)
    holdout = np.arange(len(scores)) % 2 == 1
    fit = fit_platt(scores, moved, horizon_days=365, holdout=holdout)
    p = platt_probability(scores[holdout], a=1.0, b=-2.0)
    y = moved[holdout]
    truth_loss = -np.mean(y * np.log(p) + (~y) * np.log(1 - p))
    assert fit.log_loss == pytest.approx(truth_loss, rel=0.02)
    assert 0.0 < fit.brier < 0.25


def test_probability_matches_what_planning_reads() -> None:
    scores = np.array([-3.0, 0.0, 2.5, 40.0, -800.0])
    ours = platt_probability(scores, a=0.7, b=-1.2)
    theirs, kind = probabilities(scores, manifest={"calibration": {"a": 0.7, "b": -1.2}})
    assert kind == "platt"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n_moves", [0, 3])
def test_too_few_moves_is_refused(n_moves: int) -> None:
    moved = np.zeros(100, dtype=bool)
    moved[:n_moves] = True
    with pytest.raises(NotEnoughDataError, match=f"got {n_moves} moves"):
        fit_platt(np.linspace(-1, 1, 100), moved, horizon_days=365)


def test_non_finite_scores_are_refused() -> None:
    scores, moved = _draw(1000, a=1.0, b=0.0, seed=5)
    scores[7] = np.nan
    with pytest.raises(NotEnoughDataError, match="NaN or inf"):
        fit_platt(scores, moved, horizon_days=365)


def test_in_sorted_matches_isin() -> None:
    rng = np.random.default_rng(6)
    keys = np.sort(rng.choice(10_000, 3000, replace=False))
    values = rng.integers(-5, 10_010, 5000)
    np.testing.assert_array_equal(in_sorted(values, keys), np.isin(values, keys))
    assert not in_sorted(values, keys[:0]).any()


def test_pair_score_systems_score_a_whole_pool_once() -> None:
    pairs = pd.DataFrame(
        {
            "building_id": pd.Categorical(["b1"] * 3 + ["b2"] * 2),
            "enterprise_id": pd.Categorical(["e1", "e2", "e3", "e1", "e4"]),
            "grade": [4, 0, 0, 0, 1],
        }
    )
    pools = EvalPools(BUILDING_TO_ENTERPRISE, pairs, 1.0, 2, 2)
    calls: list[int] = []

    def by_ids(ids: pd.DataFrame, direction: str) -> np.ndarray:
        calls.append(len(ids))
        assert ids["enterprise_id"].dtype == "str"
        return np.arange(len(ids), dtype=np.float64)

    system = System("oracle", lambda X, p, d: np.zeros(len(X)), pair_score=by_ids)
    scored = score_pools(pools, None, systems=[system], vocab=None, chunk_rows=2)  # type: ignore[arg-type]
    assert calls == [5]  # one call although the pool spans three chunks
    np.testing.assert_array_equal(scored["oracle"], [0, 1, 2, 3, 4])
