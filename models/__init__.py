"""Rankers, baselines and the model store: one ``Scorer`` interface, one artifact format."""

from typing import TYPE_CHECKING, Any

from models.artifact import (
    FEATURE_SET_KEY,
    RESERVED_KEYS,
    LoadedModel,
    check_compatible,
    current_version,
    feature_set_of,
    library_versions,
    list_versions,
    load_current,
    load_version,
    promote,
    read_manifest,
    reject,
    save_version,
    version_id,
)
from models.baselines import (
    POPULARITY_COLUMN_BUILDING_QUERY,
    POPULARITY_COLUMN_ENTERPRISE_QUERY,
    HandRuleScorer,
    LogisticScorer,
    PopularityScorer,
    RandomScorer,
)
from models.compiled import CompiledModel, compiled_model
from models.errors import (
    CorruptModelError,
    FeatureMismatchError,
    GroupSizeError,
    IncompatibleModelError,
    InvalidTargetError,
    ModelsError,
    ModelStoreError,
    NonFiniteScoreError,
    NotFittedError,
    UnknownScorerError,
)
from models.explain import PathExplainer, path_explainer
from models.factory import SCORERS, make_scorer
from models.hazard import (
    HAZARD_FILE,
    MoveHazard,
    fit_move_hazard,
    hazard_attachments,
    model_vocabulary,
)
from models.plain import LGBMBinaryScorer
from models.ranker import LGBMRankerScorer
from models.scorers import MAX_GRADE, Scorer, check_group, in_order

__all__ = [
    "FEATURE_SET_KEY",
    "HAZARD_FILE",
    "MAX_GRADE",
    "POPULARITY_COLUMN_BUILDING_QUERY",
    "POPULARITY_COLUMN_ENTERPRISE_QUERY",
    "RESERVED_KEYS",
    "SCORERS",
    "CompiledModel",
    "CorruptModelError",
    "DaskLGBMRankerScorer",
    "FeatureMismatchError",
    "GroupSizeError",
    "HandRuleScorer",
    "IncompatibleModelError",
    "InvalidTargetError",
    "LGBMBinaryScorer",
    "LGBMRankerScorer",
    "LoadedModel",
    "LogisticScorer",
    "ModelStoreError",
    "ModelsError",
    "MoveHazard",
    "NonFiniteScoreError",
    "NotFittedError",
    "PathExplainer",
    "PopularityScorer",
    "RandomScorer",
    "Scorer",
    "UnknownScorerError",
    "check_compatible",
    "check_group",
    "compiled_model",
    "current_version",
    "feature_set_of",
    "fit_move_hazard",
    "hazard_attachments",
    "in_order",
    "library_versions",
    "list_versions",
    "load_current",
    "load_version",
    "make_scorer",
    "model_vocabulary",
    "path_explainer",
    "promote",
    "read_manifest",
    "reject",
    "save_version",
    "version_id",
]

# The Dask scorer pulls in dask and distributed (slow to import); load it only when asked for.
_LAZY = {"DaskLGBMRankerScorer": "models.distributed"}


if TYPE_CHECKING:
    from models.distributed import DaskLGBMRankerScorer


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
