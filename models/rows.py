"""Training rows kept on disk: float32 matrices in NumPy ``.npy`` files, read by LightGBM in
batches (its ``Sequence`` interface), so a Dataset is built without the whole matrix in memory.

Reads go through ``os.pread``, not a memory map: a mapped file's pages count in the process's
resident set once touched, and LightGBM touches every row while it bins them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from tenantmatch.models.errors import FeatureMismatchError


def write_rows(path: Path, X: np.ndarray) -> None:
    """Write a 2-D matrix as a C-ordered float32 ``.npy`` file."""
    np.save(path, np.ascontiguousarray(X, dtype=np.float32), allow_pickle=False)


class NpyRows(lgb.Sequence):
    """The rows of a 2-D float32 ``.npy`` file (:func:`write_rows`), read on demand: a slice
    as float32 (LightGBM pushes batches), one row as float64 (its bin sample needs doubles)."""

    batch_size = 65_536  # rows per read while LightGBM pushes them (75 features: 20 MB)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)  # fmt: skip
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if len(shape) != 2 or fortran or dtype != np.dtype(np.float32):
            raise FeatureMismatchError(
                f"{self.path} holds a {dtype} array of shape {shape}"
                f"{' in Fortran order' if fortran else ''}; expected 2-D C-ordered float32"
            )
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self._row_bytes = self.shape[1] * 4

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int) -> np.ndarray:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            raw = os.pread(fd, count * self._row_bytes, self.offset + start * self._row_bytes)
        finally:
            os.close(fd)
        return np.frombuffer(raw, dtype=np.float32).reshape(count, self.shape[1])

    def __getitem__(self, idx: int | slice | Sequence[int]) -> np.ndarray:
        n = self.shape[0]
        if isinstance(idx, slice):
            start, stop, step = idx.indices(n)
            if step != 1:
                return self._read(0, n)[idx]
            return self._read(start, max(stop - start, 0))
        if isinstance(idx, int | np.integer):
            row = int(idx) + n if idx < 0 else int(idx)
            if not 0 <= row < n:
                raise IndexError(f"row {idx} of {n}")
            return self._read(row, 1)[0].astype(np.float64)  # LightGBM samples in float64
        return np.stack([self[int(i)] for i in idx]) if len(idx) else self._read(0, 0)


@dataclass(frozen=True)
class DiskRows:
    """Training rows spread over ``.npy`` parts, in order, with their column names."""

    parts: tuple[NpyRows, ...]
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        wrong = [p.path.name for p in self.parts if p.shape[1] != len(self.feature_names)]
        if wrong:
            raise FeatureMismatchError(
                f"parts {wrong[:3]} do not have {len(self.feature_names)} columns, one per name"
            )

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)
