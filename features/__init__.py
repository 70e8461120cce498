"""tenantmatch package."""

from features import spec
from features.context import (
    HAZARD_FEATURE,
    FeatureContext,
    enterprise_features,
    fill_move_hazard,
    side_features,
)
from features.errors import FeatureError, SchemaError, UnknownIdError, VocabularyError
from features.matrix import (
    build_matrix,
    build_matrix_at,
    context_for,
    join_attributes,
)
from features.pair import MIN_UNIT_OVERSIZE_FACTOR, space_fits
from features.parallel import available_cores, for_row_chunks, row_chunks, run_parallel
from features.reference import (
    DATA_DIR,
    division_of,
    divisions_of,
    industry_divisions,
    normalize_industry_code,
    normalize_industry_codes,
    section_of_division,
    shanxi_districts,
    theme_industry_prior,
    themes,
)
from features.registry import Registry, Snapshot, vacancy_as_of
from features.spec import (
    EXTRA_FEATURES,
    FEATURE_SETS,
    FEATURES,
    PLAIN_SET,
    RANKER_SET,
    REGISTERED,
    Feature,
    categorical_features,
    feature_names,
    feature_set,
    feature_spec_fingerprint,
)
from features.vocab import Vocabulary

__all__ = [
    "DATA_DIR",
    "EXTRA_FEATURES",
    "FEATURES",
    "FEATURE_SETS",
    "HAZARD_FEATURE",
    "MIN_UNIT_OVERSIZE_FACTOR",
    "PLAIN_SET",
    "RANKER_SET",
    "REGISTERED",
    "Feature",
    "FeatureContext",
    "FeatureError",
    "Registry",
    "SchemaError",
    "Snapshot",
    "UnknownIdError",
    "Vocabulary",
    "VocabularyError",
    "available_cores",
    "build_matrix",
    "build_matrix_at",
    "categorical_features",
    "context_for",
    "division_of",
    "divisions_of",
    "enterprise_features",
    "feature_names",
    "feature_set",
    "feature_spec_fingerprint",
    "fill_move_hazard",
    "for_row_chunks",
    "industry_divisions",
    "join_attributes",
    "normalize_industry_code",
    "normalize_industry_codes",
    "row_chunks",
    "run_parallel",
    "section_of_division",
    "shanxi_districts",
    "side_features",
    "space_fits",
    "spec",
    "theme_industry_prior",
    "themes",
    "vacancy_as_of",
]
