"""The blend of fitted LightGBM scorers: centred and scaled on a reference sample, scores are
the weighted sum of the parts', contributions add up to them, stored as one LightGBM text
model per part and loaded back with the same scores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tenantmatch.models import (
    BlendScorer,
    LGBMBinaryScorer,
    LGBMRankerScorer,
    ModelsError,
    load_version,
    path_explainer,
    save_version,
)
from tests.models.conftest import World, fit_with_valid, mean_ndcg_at_10


def _parts(small: World, other: World) -> tuple[LGBMRankerScorer, LGBMBinaryScorer]:
    ranker = LGBMRankerScorer(num_boost_round=100, min_data_in_leaf=10, early_stopping_rounds=20)
    binary = LGBMBinaryScorer(num_boost_round=100, min_data_in_leaf=10, early_stopping_rounds=20)
    # the binary part sees one column fewer: the blend's X is the union of the parts'
    narrow = World(small.X.iloc[:, 1:], small.y, small.group)
    narrow_valid = World(other.X.iloc[:, 1:], other.y, other.group)
    return fit_with_valid(ranker, small, valid=other), fit_with_valid(
        binary, narrow, valid=narrow_valid
    )


def test_scores_are_the_parts_centred_and_scaled_on_the_reference(
    small_world: World, other_world: World
) -> None:
    ranker, binary = _parts(small_world, other_world)
    reference = other_world.X
    blend = BlendScorer.of([ranker, binary], reference=reference)
    assert blend.feature_names_ == list(small_world.X.columns)
    parts = [ranker.score(reference), binary.score(reference)]
    expected = sum((s - s.mean()) / (2 * s.std()) for s in parts)
    np.testing.assert_allclose(blend.score(reference), expected, atol=1e-9)
    # on the reference each part weighs the same: the blend's spread is at most 1
    assert blend.score(reference).std() <= 1.0 + 1e-9
    scores = blend.score(other_world.X)
    shuffled = np.random.default_rng(0).permutation(scores)
    assert mean_ndcg_at_10(other_world, scores) > mean_ndcg_at_10(other_world, shuffled) + 0.1
    # no booster of its own: reasons come from its contributions, no compiled trees
    assert path_explainer(blend) is None


def test_contributions_add_up_to_the_score(small_world: World, other_world: World) -> None:
    ranker, binary = _parts(small_world, other_world)
    blend = BlendScorer.of([ranker, binary], reference=other_world.X)
    X = other_world.X.head(40)
    contributions = blend.contributions(X)
    assert contributions.shape == (40, X.shape[1] + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), blend.score(X), atol=1e-6)
    # the column the binary part lacks is credited by the ranker alone
    alone = ranker.contributions(X)[:, 0] * blend.parts[0]["weight"]
    np.testing.assert_allclose(contributions[:, 0], alone, atol=1e-9)


def test_stored_as_lightgbm_text_per_part_and_loaded_back(
    tmp_path: Path, small_world: World, other_world: World
) -> None:
    ranker, binary = _parts(small_world, other_world)
    blend = BlendScorer.of([ranker, binary], reference=other_world.X)
    store = tmp_path / "models"
    version = save_version(store, blend, created=datetime(2026, 1, 1, tzinfo=UTC))
    folder = store / "versions" / version
    assert (folder / "part0.txt").read_text().startswith("tree")
    assert "objective=binary" in (folder / "part1.txt").read_text()
    loaded = load_version(store, version)
    assert loaded.manifest["kind"] == "blend"
    assert sorted(loaded.manifest["files"]) == ["part0.txt", "part1.txt"]
    np.testing.assert_allclose(loaded.scorer.score(other_world.X), blend.score(other_world.X),
                               atol=1e-9)  # fmt: skip


def test_a_blend_is_built_from_fitted_parts_never_fitted_on_rows(small_world: World) -> None:
    with pytest.raises(ModelsError, match=r"BlendScorer\.of"):
        BlendScorer().fit(small_world.X, small_world.y, group=small_world.group)
    with pytest.raises(ModelsError, match="at least one"):
        BlendScorer.of([], reference=small_world.X)
