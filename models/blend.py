"""A blend of fitted LightGBM scorers (issue 19): each part's raw score, centred and scaled by
its spread over a reference sample of pairs, averaged. Different learners (the lambdarank
ranker and the binary classifier on the wide set) err on different registries; their average
is steadier than a choice between them on a few dozen held-out queries.

Saved as one LightGBM text model per part (``part0.txt``, ...) beside the manifest, whose
``params`` hold each part's kind, settings, columns, centre and weight. Contributions are the
parts' path contributions, weighted and added up per column of the blend's X, so they still
sum to the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.models.errors import ModelsError
from tenantmatch.models.plain import LGBMBinaryScorer
from tenantmatch.models.ranker import LGBMRankerScorer
from tenantmatch.models.scorers import Scorer, ValidSet

PART_KINDS: dict[str, type[LGBMRankerScorer]] = {
    cls.name: cls for cls in (LGBMRankerScorer, LGBMBinaryScorer)
}


class BlendScorer(Scorer):
    """The weighted sum of fitted parts' centred raw scores; built with :meth:`of`."""

    name = "blend"

    def __init__(self, *, parts: Sequence[dict[str, Any]] = ()) -> None:
        # one dict per part: kind, params, features, centre, weight (JSON, in the manifest)
        self.parts = [dict(p) for p in parts]

    @classmethod
    def of(cls, parts: Sequence[Scorer], *, reference: pd.DataFrame) -> BlendScorer:
        """The blend of fitted ``parts`` (LightGBM scorers), each centred on its mean score
        over ``reference`` (X holding every part's columns, pairs as served) and weighted by
        1 / (number of parts x its standard deviation there); X's columns are the union of
        the parts' in first-seen order."""
        if not parts:
            raise ModelsError("a blend needs at least one fitted part")
        records: list[dict[str, Any]] = []
        fitted: list[LGBMRankerScorer] = []
        for part in parts:
            if not isinstance(part, LGBMRankerScorer) or part.name not in PART_KINDS:
                raise ModelsError(f"cannot blend a {part.name!r} scorer; allowed: "
                                  f"{sorted(PART_KINDS)}")  # fmt: skip
            fitted.append(part)
            scores = part.score(reference)
            spread = float(np.std(scores))
            records.append({
                "kind": part.name, "params": part.get_params(),
                "features": list(part.feature_names_),
                "centre": float(np.mean(scores)),
                "weight": 1.0 / (len(parts) * spread) if spread > 0 else 0.0,
            })  # fmt: skip
        blend = cls(parts=records)
        blend.parts_ = fitted
        blend.feature_names_ = _columns(records)
        return blend

    def _fit(
        self, X: pd.DataFrame, y: np.ndarray, *, group: np.ndarray, valid: ValidSet | None
    ) -> None:
        raise ModelsError("a blend is not fitted on rows; build it from fitted parts with "
                          "BlendScorer.of")  # fmt: skip

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        total = np.zeros(len(X), dtype=np.float64)
        for part, record in zip(self.parts_, self.parts, strict=True):
            total += record["weight"] * (part.score(X) - record["centre"])
        return total

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """(n, n_features + 1): each part's contributions weighted and added up per column of
        the blend's X, the last column the weighted bias minus the centres; rows sum to the
        score."""
        aligned = self._aligned(X)
        out = np.zeros((len(aligned), len(self.feature_names_) + 1))
        position = {name: i for i, name in enumerate(self.feature_names_)}
        for part, record in zip(self.parts_, self.parts, strict=True):
            contrib = part.contributions(aligned)
            columns = [position[c] for c in record["features"]]
            out[:, columns] += record["weight"] * contrib[:, :-1]
            out[:, -1] += record["weight"] * (contrib[:, -1] - record["centre"])
        return out

    def save_state(self, folder: Path) -> list[str]:
        """One LightGBM text model per part: ``part0.txt``, ``part1.txt``, ..."""
        self._check_fitted()
        names = []
        for i, part in enumerate(self.parts_):
            name = f"part{i}.txt"
            part.booster_.save_model(folder / name, num_iteration=part.best_iteration_)
            names.append(name)
        return names

    def load_state(self, folder: Path, *, feature_names: Sequence[str]) -> None:
        parts = []
        for i, record in enumerate(self.parts):
            part = PART_KINDS[record["kind"]](**record["params"])
            part.load_state(folder, feature_names=record["features"], file=f"part{i}.txt")
            parts.append(part)
        if _columns(self.parts) != list(feature_names):
            raise ModelsError("the blend's parts hold other columns than its manifest names")
        self.parts_ = parts
        super().load_state(folder, feature_names=feature_names)


def _columns(records: Sequence[dict[str, Any]]) -> list[str]:
    """The blend's X columns: the union of its parts' in first-seen order."""
    return list(dict.fromkeys(c for r in records for c in r["features"]))
