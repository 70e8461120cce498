"""Ranking sets spooled to disk as their windows are built, so a training run holds one window
at a time, not every window's X at once.

Each (window, direction) becomes a part: its X as a float32 ``.npy`` file (``models.rows``)
and its pairs as Parquet. The ranker is fitted from the parts through LightGBM's ``Sequence``
(``LGBMRankerScorer.fit_rows``), the baselines on a bounded sample of rows, and the summary
reads only the label columns. The folder is a temporary directory (``TMPDIR``, or
``TrainConfig.spool_dir``) removed when the run ends.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.features import RANKER_SET, Vocabulary
from tenantmatch.models.baselines import bounded_rows
from tenantmatch.models.rows import DiskRows, NpyRows, write_rows
from tenantmatch.registry import Registry
from tenantmatch.training.dataset import (
    RankingSet,
    SamplingConfig,
    group_sizes,
    iter_window_sets,
    label_sizes,
)
from tenantmatch.training.splits import Window

log = logging.getLogger(__name__)

LABEL_COLUMNS = ["grade", "query_id"]


@dataclass(frozen=True)
class SpoolPart:
    """One window's rows of one direction: ``stem``.npy (X) and ``stem``.parquet (pairs)."""

    window: str
    direction: str
    rows: int
    stem: Path

    def X(self) -> np.ndarray:
        return np.load(self.stem.with_suffix(".npy"))

    def pairs(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(
            self.stem.with_suffix(".parquet"), columns=None if columns is None else list(columns)
        )


@dataclass(frozen=True)
class SpoolView:
    """Some parts of a spool, in spool order (windows oldest first, directions as built)."""

    parts: tuple[SpoolPart, ...]
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return sum(p.rows for p in self.parts)

    def only(self, *directions: str) -> SpoolView:
        """The parts of the given directions (by name), in order."""
        return SpoolView(tuple(p for p in self.parts if p.direction in directions),
                         self.feature_names)  # fmt: skip

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """(grades, query sizes) of every row, read from the pairs' label columns only (once
        per view: a fit, its baselines' sample and the summary all ask)."""
        return self._labels

    @functools.cached_property
    def _labels(self) -> tuple[np.ndarray, np.ndarray]:
        frames = [p.pairs(LABEL_COLUMNS) for p in self.parts]
        if not frames:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        y = np.concatenate([f["grade"].to_numpy(dtype=np.int64) for f in frames])
        group = np.concatenate([group_sizes(f["query_id"].to_numpy()) for f in frames])
        return y, group

    def sizes(self) -> dict[str, int]:
        """Rows, queries and positive rows (``training.dataset.label_sizes``)."""
        return label_sizes(*self.labels())

    def rows(self) -> DiskRows:
        """The X parts as LightGBM reads them (``LGBMRankerScorer.fit_rows``)."""
        parts = tuple(NpyRows(p.stem.with_suffix(".npy")) for p in self.parts)
        return DiskRows(parts, self.feature_names)

    def load(self) -> RankingSet:
        """Every row in memory (for a small view: the validation window)."""
        return self._take([None] * len(self.parts))

    def sample(self, *, max_rows: int, seed: int) -> RankingSet:
        """At most ``max_rows`` rows in memory (every positive row up to half of it, a seeded
        sample of the rest: ``models.baselines.bounded_rows``), in spool order, read one part
        at a time."""
        y, _ = self.labels()
        keep = bounded_rows(y > 0, max_rows=max_rows, seed=seed)
        bounds = np.cumsum([0, *(p.rows for p in self.parts)])
        picks = [keep[(keep >= a) & (keep < b)] - a for a, b in itertools.pairwise(bounds)]
        return self._take(picks)

    def _take(self, picks: Sequence[np.ndarray | None]) -> RankingSet:
        """The rows ``picks[i]`` (None: all) of each part."""
        pairs, X = [], []
        for part, rows in zip(self.parts, picks, strict=True):
            p, x = part.pairs(), part.X()
            if rows is not None:
                p, x = p.iloc[rows], x[rows]
            pairs.append(p)
            X.append(x)
        columns = list(self.feature_names)
        if not pairs:
            return RankingSet(pd.DataFrame(), pd.DataFrame(columns=columns, dtype=np.float32))
        return RankingSet(
            pd.concat(pairs, ignore_index=True),
            pd.DataFrame(np.concatenate(X), columns=columns),
        )


class SetSpool:
    """Ranking sets written to ``folder`` part by part (:class:`SpoolPart`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.parts: list[SpoolPart] = []
        self.feature_names: tuple[str, ...] | None = None

    def add(self, window: Window | str, ranking: RankingSet) -> None:
        """Write ``ranking`` (one window's rows, each direction a contiguous run) as parts."""
        names = tuple(str(c) for c in ranking.X.columns)
        if self.feature_names is None:
            self.feature_names = names
        elif names != self.feature_names:
            raise ValueError(f"window {window} has other feature columns than the spool's")
        direction = ranking.pairs["direction"].to_numpy()
        X = ranking.X.to_numpy(dtype=np.float32)
        for name in pd.unique(direction):
            rows = np.flatnonzero(direction == name)
            stem = self.folder / f"{len(self.parts):04d}-{name}"
            write_rows(stem.with_suffix(".npy"), X[rows])
            ranking.pairs.iloc[rows].reset_index(drop=True).to_parquet(
                stem.with_suffix(".parquet"), index=False
            )
            self.parts.append(SpoolPart(str(window), str(name), len(rows), stem))

    @property
    def windows(self) -> list[str]:
        """The windows spooled, in order."""
        return list(dict.fromkeys(p.window for p in self.parts))

    def select(
        self, *, windows: Sequence[str] | None = None, directions: Sequence[str] | None = None
    ) -> SpoolView:
        """The parts of ``windows`` and ``directions`` (None: all)."""
        chosen = tuple(
            p for p in self.parts
            if (windows is None or p.window in windows)
            and (directions is None or p.direction in directions)
        )  # fmt: skip
        return SpoolView(chosen, self.feature_names or ())


@contextlib.contextmanager
def spooled_sets(
    registry: Registry, windows: Sequence[Window], *, vocab: Vocabulary,
    config: SamplingConfig = SamplingConfig(), n_jobs: int = 2, progress: bool = False,
    features: str = RANKER_SET, folder: Path | None = None,
) -> Iterator[SetSpool]:  # fmt: skip
    """The windows' ranking sets (:func:`iter_window_sets`) spooled into a temporary directory
    under ``folder`` (None: the system's), removed on exit."""
    with tempfile.TemporaryDirectory(prefix="tenantmatch-sets-", dir=folder) as tmp:
        spool = SetSpool(Path(tmp))
        sets = iter_window_sets(registry, windows, vocab=vocab, config=config, n_jobs=n_jobs,
                                progress=progress, features=features)  # fmt: skip
        for window, ranking in zip(windows, sets, strict=True):
            spool.add(window, ranking)
        log.info("spooled %d windows, %d rows, in %s", len(windows),
                 sum(p.rows for p in spool.parts), tmp)  # fmt: skip
        yield spool
