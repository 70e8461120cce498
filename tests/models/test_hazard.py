"""The move hazard: it learns who moves, cross-fits by firm, round-trips as LightGBM text and
travels with a model version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenantmatch.features import Vocabulary
from tenantmatch.models import (
    HAZARD_FILE,
    CorruptModelError,
    LGBMRankerScorer,
    MoveHazard,
    fit_move_hazard,
    hazard_attachments,
    load_version,
    model_vocabulary,
    save_version,
)
from tenantmatch.models.hazard import FOLDS, fold_of


def _firms(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Firm examples where a lease near its end (``e__lease_end_12m``) makes a move likely."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"E{i}" for i in range(n)], name="enterprise_id")
    X = pd.DataFrame(
        {"e__lease_end_12m": rng.uniform(0, 1, n), "e__credit_score": rng.uniform(40, 100, n)},
        index=ids,
    ).astype(np.float32)
    moved = rng.uniform(0, 1, n) < 0.05 + 0.5 * X["e__lease_end_12m"].to_numpy() ** 2
    return X, moved


@pytest.fixture(scope="module")
def fitted() -> tuple[MoveHazard, MoveHazard]:
    X, moved = _firms()
    result = fit_move_hazard(X, moved, n_jobs=1)
    assert result is not None
    return result


def test_the_hazard_learns_who_moves(fitted) -> None:  # type: ignore[no-untyped-def]
    served, _ = fitted
    X, _ = _firms(n=2000, seed=1)
    p = served.predict(X)
    assert p.shape == (2000,) and ((p > 0) & (p < 1)).all()
    late = X["e__lease_end_12m"].to_numpy() > 0.8
    early = X["e__lease_end_12m"].to_numpy() < 0.2
    assert p[late].mean() > 0.3 > 0.15 > p[early].mean()


def test_cross_fitted_rows_come_from_the_fold_model_that_never_saw_the_firm(fitted) -> None:  # type: ignore[no-untyped-def]
    _, crossed = fitted
    X, _ = _firms()
    assert crossed.cross_fitted and len(crossed.boosters) == FOLDS
    fold = fold_of(X.index, FOLDS)
    assert set(np.unique(fold)) == set(range(FOLDS))
    got = crossed.predict(X)
    for k, booster in enumerate(crossed.boosters):
        rows = fold == k
        np.testing.assert_allclose(got[rows], booster.predict(X[rows]))
    # the fold of an id is the same in any order and any window
    np.testing.assert_array_equal(fold_of(X.index[::-1], FOLDS), fold[::-1])


def test_text_round_trip_predicts_the_same(fitted) -> None:  # type: ignore[no-untyped-def]
    served, crossed = fitted
    X, _ = _firms(n=300, seed=2)
    again = MoveHazard.from_text(served.to_text())
    assert again.inputs == served.inputs
    np.testing.assert_allclose(again.predict(X), served.predict(X))
    with pytest.raises(ValueError, match="served"):
        crossed.to_text()  # the training-only hazard is never stored
    with pytest.raises(CorruptModelError, match=HAZARD_FILE):
        MoveHazard.from_text("not a model")


def test_too_few_movers_fit_no_hazard() -> None:
    X, _ = _firms(n=500)
    moved = np.zeros(len(X), dtype=bool)
    moved[:5] = True
    assert fit_move_hazard(X, moved, n_jobs=1) is None


def test_a_version_stores_and_restores_its_hazard(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    served, crossed = fitted
    X, moved = _firms(n=400)
    ranker = LGBMRankerScorer(num_boost_round=5, min_data_in_leaf=5, n_jobs=1)
    ranker.fit(X, moved.astype(int), group=np.full(8, 50))
    vocab = Vocabulary(theme=("finance",)).with_hazard(served)
    with pytest.raises(ValueError):
        hazard_attachments(vocab.with_hazard(crossed))
    assert hazard_attachments(vocab.with_hazard(None)) == {}
    created = datetime(2026, 11, 26, tzinfo=UTC)
    version = save_version(
        tmp_path, ranker, created=created, vocabulary=vocab.to_dict(),
        attachments=hazard_attachments(vocab),
    )  # fmt: skip
    loaded = load_version(tmp_path, version)
    restored = model_vocabulary(loaded)
    assert restored.theme == ("finance",) and isinstance(restored.hazard, MoveHazard)
    np.testing.assert_allclose(restored.hazard.predict(X), served.predict(X))
    # a changed hazard file is refused like a changed model file
    path = tmp_path / "versions" / version / HAZARD_FILE
    path.chmod(0o644)
    path.write_text(path.read_text().replace("shrinkage=", "shrinkage=1", 1))
    with pytest.raises(CorruptModelError, match="sha256"):
        load_version(tmp_path, version)
