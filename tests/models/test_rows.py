"""Training rows on disk: what NpyRows reads, and a ranker fitted from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenantmatch.models import FeatureMismatchError, LGBMBinaryScorer, LGBMRankerScorer
from tenantmatch.models.rows import DiskRows, NpyRows, write_rows
from tests.models.conftest import World


def test_npy_rows_reads_rows_slices_and_samples(tmp_path: Path) -> None:
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    write_rows(tmp_path / "x.npy", X)
    rows = NpyRows(tmp_path / "x.npy")
    assert len(rows) == 10 and rows.shape == (10, 4)
    np.testing.assert_array_equal(rows[3], X[3])
    np.testing.assert_array_equal(rows[-1], X[9])
    np.testing.assert_array_equal(rows[2:7], X[2:7])
    np.testing.assert_array_equal(rows[8:20], X[8:])
    np.testing.assert_array_equal(rows[[0, 5, 9]], X[[0, 5, 9]])
    with pytest.raises(IndexError, match="row 10 of 10"):
        rows[10]


def test_npy_rows_refuses_other_arrays(tmp_path: Path) -> None:
    np.save(tmp_path / "f64.npy", np.zeros((3, 2)))
    with pytest.raises(FeatureMismatchError, match="float64 array of shape \\(3, 2\\)"):
        NpyRows(tmp_path / "f64.npy")
    np.save(tmp_path / "flat.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(FeatureMismatchError, match="expected 2-D"):
        NpyRows(tmp_path / "flat.npy")
    write_rows(tmp_path / "x.npy", np.zeros((3, 2)))
    with pytest.raises(FeatureMismatchError, match="do not have 3 columns"):
        DiskRows((NpyRows(tmp_path / "x.npy"),), ("a", "b", "c"))


def _parts(world: World, folder: Path, *, cut_group: int) -> DiskRows:
    """world.X split into two .npy parts at a query boundary."""
    cut = int(np.sum(world.group[:cut_group]))
    values = world.X.to_numpy(dtype=np.float32)
    write_rows(folder / "a.npy", values[:cut])
    write_rows(folder / "b.npy", values[cut:])
    parts = (NpyRows(folder / "a.npy"), NpyRows(folder / "b.npy"))
    return DiskRows(parts, tuple(world.X.columns))


@pytest.mark.parametrize("scorer", [LGBMRankerScorer, LGBMBinaryScorer])
def test_fitted_from_disk_scores_as_fitted_in_memory(
    scorer: type[LGBMRankerScorer], small_world: World, other_world: World, tmp_path: Path
) -> None:
    rows = _parts(small_world, tmp_path, cut_group=len(small_world.group) // 3)
    kw = {"categorical_features": ("pair__category",), "num_boost_round": 40}
    valid = {"X_valid": other_world.X, "y_valid": other_world.y, "group_valid": other_world.group}
    on_disk = scorer(**kw).fit_rows(rows, small_world.y, group=small_world.group, **valid)
    in_memory = scorer(**kw).fit(small_world.X, small_world.y, group=small_world.group, **valid)
    assert on_disk.feature_names_ == list(small_world.X.columns)
    assert on_disk.best_iteration_ == in_memory.best_iteration_
    np.testing.assert_allclose(
        on_disk.score(other_world.X), in_memory.score(other_world.X), rtol=1e-6, atol=1e-9
    )


def test_fit_rows_checks_grades_groups_and_the_valid_columns(
    small_world: World, tmp_path: Path
) -> None:
    rows = _parts(small_world, tmp_path, cut_group=2)
    with pytest.raises(Exception, match="sum to"):
        LGBMRankerScorer().fit_rows(rows, small_world.y, group=[len(small_world.y) - 1])
    with pytest.raises(FeatureMismatchError, match="exactly the columns"):
        LGBMRankerScorer().fit_rows(
            rows, small_world.y, group=small_world.group,
            X_valid=small_world.X.iloc[:, ::-1], y_valid=small_world.y,
            group_valid=small_world.group,
        )  # fmt: skip
