"""Every fitted thing (ranker, baselines, move hazard, pre-scorer) behind one ``Scorer``
interface, and the model store with its one artifact format."""

from typing import TYPE_CHECKING, Any

from tenantmatch.models.artifact import (
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
from tenantmatch.models.baselines import (
    BASELINE_MAX_ROWS,
    POPULARITY_COLUMN_BUILDING_QUERY,
    POPULARITY_COLUMN_ENTERPRISE_QUERY,
    HandRuleScorer,
    LogisticScorer,
    PopularityScorer,
    RandomScorer,
)
from tenantmatch.models.blend import BlendScorer
from tenantmatch.models.compiled import CompiledModel, compiled_model
from tenantmatch.models.errors import (
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
from tenantmatch.models.explain import PathExplainer, path_explainer
from tenantmatch.models.factory import SCORERS, make_scorer
from tenantmatch.models.hazard import (
    HAZARD_FILE,
    MoveHazard,
    fit_move_hazard,
    hazard_attachments,
    model_vocabulary,
)
from tenantmatch.models.plain import LGBMBinaryScorer
from tenantmatch.models.prescore import (
    PRESCORER_FILE,
    PrescoreIndex,
    Prescorer,
    bins,
    pair_term_values,
    top_m,
    unfitted_prescorer,
    with_history,
)
from tenantmatch.models.prescore_terms import CHUNK_ROWS, SPARSE_EDGES
from tenantmatch.models.ranker import LGBMRankerScorer
from tenantmatch.models.scorers import MAX_GRADE, Scorer, check_group, in_order

__all__ = [
    "BASELINE_MAX_ROWS",
    "CHUNK_ROWS",
    "FEATURE_SET_KEY",
    "HAZARD_FILE",
    "MAX_GRADE",
    "POPULARITY_COLUMN_BUILDING_QUERY",
    "POPULARITY_COLUMN_ENTERPRISE_QUERY",
    "PRESCORER_FILE",
    "RESERVED_KEYS",
    "SCORERS",
    "SPARSE_EDGES",
    "BlendScorer",
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
    "PrescoreIndex",
    "Prescorer",
    "RandomScorer",
    "Scorer",
    "UnknownScorerError",
    "bins",
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
    "pair_term_values",
    "path_explainer",
    "promote",
    "read_manifest",
    "reject",
    "save_version",
    "top_m",
    "unfitted_prescorer",
    "version_id",
    "with_history",
]

# The Dask scorer pulls in dask and distributed (slow to import); load it only when asked for.
_LAZY = {"DaskLGBMRankerScorer": "tenantmatch.models.distributed"}


if TYPE_CHECKING:
    from tenantmatch.models.distributed import DaskLGBMRankerScorer


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
