"""Feature builders over (building, enterprise) pairs: the ordered feature registry,
``build_matrix``, vocabularies and the feature-spec fingerprint."""

from tenantmatch.features import spec
from tenantmatch.features.context import (
    HAZARD_FEATURE,
    FeatureContext,
    enterprise_features,
    fill_move_hazard,
    side_features,
)
from tenantmatch.features.errors import FeatureError, UnknownIdError, VocabularyError
from tenantmatch.features.matrix import (
    build_matrix,
    build_matrix_at,
    context_for,
    join_attributes,
    patched_context_for,
)
from tenantmatch.features.parallel import available_cores, for_row_chunks, row_chunks, run_parallel
from tenantmatch.features.spec import (
    ALL_SET,
    CREDIT_FEATURES,
    EXTRA_FEATURES,
    FEATURE_SETS,
    FEATURES,
    PLAIN_SET,
    RANKER_SET,
    REGISTERED,
    WIDE_SET,
    Feature,
    categorical_features,
    feature_names,
    feature_set,
    feature_spec_fingerprint,
)
from tenantmatch.features.vocab import Vocabulary

__all__ = [
    "ALL_SET",
    "CREDIT_FEATURES",
    "EXTRA_FEATURES",
    "FEATURES",
    "FEATURE_SETS",
    "HAZARD_FEATURE",
    "PLAIN_SET",
    "RANKER_SET",
    "REGISTERED",
    "WIDE_SET",
    "Feature",
    "FeatureContext",
    "FeatureError",
    "UnknownIdError",
    "Vocabulary",
    "VocabularyError",
    "available_cores",
    "build_matrix",
    "build_matrix_at",
    "categorical_features",
    "context_for",
    "enterprise_features",
    "feature_names",
    "feature_set",
    "feature_spec_fingerprint",
    "fill_move_hazard",
    "for_row_chunks",
    "join_attributes",
    "patched_context_for",
    "row_chunks",
    "run_parallel",
    "side_features",
    "spec",
]
