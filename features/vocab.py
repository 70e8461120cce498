"""Vocabularies of the categorical features, frozen at training time and saved with the model.

A category's code is its position in the frozen list; a value the list lacks (unseen at training
or missing) is coded NaN, never a shifted code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from features.errors import VocabularyError
from features.registry import Snapshot

logger = logging.getLogger(__name__)

# field -> (snapshot table, column)
SOURCES: dict[str, tuple[str, str]] = {
    "theme": ("buildings", "theme"),
    "grade": ("buildings", "grade"),
    "section": ("enterprises", "section"),
    "division": ("enterprises", "division"),
    "hq_type": ("enterprises", "hq_type"),
}


@dataclass(frozen=True)
class Vocabulary:
    """Sorted category lists per categorical field; hashable, JSON-able via :meth:`to_dict`."""

    theme: tuple[str, ...] = ()
    grade: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    division: tuple[str, ...] = ()
    hq_type: tuple[str, ...] = ()

    @classmethod
    def fit(cls, snapshot: Snapshot) -> Vocabulary:
        """The categories present in ``snapshot`` (missing values are not categories)."""
        lists = {}
        for name, (table, column) in SOURCES.items():
            values = getattr(snapshot, table)[column].dropna()
            lists[name] = tuple(sorted(str(v) for v in values.unique()))
        return cls(**lists)

    def to_dict(self) -> dict[str, list[str]]:
        """``{field: [category, ...]}`` for JSON."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`; every field must be a list of distinct strings."""
        expected = {f.name for f in fields(cls)}
        if set(data) != expected:
            raise VocabularyError(
                f"vocabulary fields {sorted(data)} do not match the expected {sorted(expected)}"
            )
        lists = {}
        for name, values in data.items():
            ok = isinstance(values, list | tuple) and all(isinstance(v, str) for v in values)
            if not ok or len(set(values)) != len(values):
                raise VocabularyError(
                    f"vocabulary field {name!r} must be a list of distinct strings, got {values!r}"
                )
            lists[name] = tuple(values)
        return cls(**lists)

    def encode(self, values: pd.Series, *, field: str) -> np.ndarray:
        """float32 codes (n,) of ``values`` in the ``field`` list; unseen or missing -> NaN."""
        if field not in SOURCES:
            raise VocabularyError(f"unknown vocabulary field {field!r}; allowed: {list(SOURCES)}")
        codes = pd.Index(getattr(self, field)).get_indexer(values.astype("str"))
        return np.where(codes >= 0, codes, np.nan).astype(np.float32)
