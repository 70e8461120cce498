"""Vocabularies of the categorical features, frozen at training time and saved with the model.

A category's code is its position in the frozen list; a value the list lacks (unseen at training
or missing) is coded NaN, never a shifted code.

A vocabulary also carries the features' one fitted input, if any: the move-hazard model whose
output is the ``e__move_hazard`` feature (:class:`EnterpriseModel`). Every feature context is
built for one vocabulary, so the trainer, the evaluation and the server each read the hazard of
the model they work for; it is stored as a file of the model version, not in ``to_dict``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tenantmatch.features.errors import VocabularyError
from tenantmatch.registry import Snapshot

logger = logging.getLogger(__name__)

# field -> (snapshot table, column)
SOURCES: dict[str, tuple[str, str]] = {
    "theme": ("buildings", "theme"),
    "grade": ("buildings", "grade"),
    "section": ("enterprises", "section"),
    "division": ("enterprises", "division"),
    "hq_type": ("enterprises", "hq_type"),
}


class EnterpriseModel(Protocol):
    """A fitted model of one value per enterprise from its own features (the move hazard)."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the registered ``e__`` features it reads, in column order."""
        ...

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """float64 value per row of X (columns ``inputs``, index enterprise ids)."""
        ...


@dataclass(frozen=True)
class Vocabulary:
    """Sorted category lists per categorical field; hashable, JSON-able via :meth:`to_dict`.
    ``hazard`` (compared by identity) is the move-hazard model, None when there is none."""

    theme: tuple[str, ...] = ()
    grade: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    division: tuple[str, ...] = ()
    hq_type: tuple[str, ...] = ()
    hazard: EnterpriseModel | None = field(default=None, repr=False)

    def with_hazard(self, hazard: EnterpriseModel | None) -> Vocabulary:
        """The same category lists with ``hazard`` as the move-hazard model."""
        return replace(self, hazard=hazard)

    @classmethod
    def fit(cls, snapshot: Snapshot) -> Vocabulary:
        """The categories present in ``snapshot`` (missing values are not categories)."""
        lists: dict[str, Any] = {}
        for name, (table, column) in SOURCES.items():
            values = getattr(snapshot, table)[column].dropna()
            lists[name] = tuple(sorted(str(v) for v in values.unique()))
        return cls(**lists)

    def to_dict(self) -> dict[str, list[str]]:
        """``{field: [category, ...]}`` for JSON."""
        return {name: list(getattr(self, name)) for name in SOURCES}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`; every field must be a list of distinct strings."""
        expected = set(SOURCES)
        if set(data) != expected:
            raise VocabularyError(
                f"vocabulary fields {sorted(data)} do not match the expected {sorted(expected)}"
            )
        lists: dict[str, Any] = {}
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
