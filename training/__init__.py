"""Training: labels, temporal splits, dataset assembly, evaluation, reports and publishing
with the promotion gate (the demo world lives in ``training.demo``)."""

from tenantmatch.training.calibration import (
    Calibration,
    calibrate_ranker,
    fit_platt,
    platt_probability,
)
from tenantmatch.training.config import RANKER_DIRECTIONS, TrainConfig
from tenantmatch.training.dataset import RankingSet, SamplingConfig, build_sets, window_examples
from tenantmatch.training.distill import DistillConfig, attach_prescorer, fit_prescorer
from tenantmatch.training.errors import NotEnoughDataError, TrainingError
from tenantmatch.training.evaluate import (
    STAGE_LIMITS,
    EvalPools,
    System,
    evaluate_systems,
    evaluation_pools,
    format_table,
    metric_value,
    score_and_measure,
    staged_pool,
)
from tenantmatch.training.holdout import Evaluation, evaluate_holdout, holdout_calibration
from tenantmatch.training.labels import (
    BUILDING_TO_ENTERPRISE,
    DIRECTIONS,
    ENTERPRISE_TO_BUILDING,
    Direction,
    sample_examples,
    window_labels,
)
from tenantmatch.training.metrics import ndcg_at_k, recall_at_k, reciprocal_rank, summarize
from tenantmatch.training.pipeline import (
    TrainResult,
    data_fingerprint,
    evaluate_current,
    pool_sensitivity,
    promotion_gate,
    seed_study,
    train_and_publish,
)
from tenantmatch.training.plain import PLAIN, PlainConfig
from tenantmatch.training.report import write_report
from tenantmatch.training.splits import TemporalSplit, Window, make_split

__all__ = [
    "BUILDING_TO_ENTERPRISE",
    "DIRECTIONS",
    "ENTERPRISE_TO_BUILDING",
    "PLAIN",
    "RANKER_DIRECTIONS",
    "STAGE_LIMITS",
    "Calibration",
    "Direction",
    "DistillConfig",
    "EvalPools",
    "Evaluation",
    "NotEnoughDataError",
    "PlainConfig",
    "RankingSet",
    "SamplingConfig",
    "System",
    "TemporalSplit",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "Window",
    "attach_prescorer",
    "build_sets",
    "calibrate_ranker",
    "data_fingerprint",
    "evaluate_current",
    "evaluate_holdout",
    "evaluate_systems",
    "evaluation_pools",
    "fit_platt",
    "fit_prescorer",
    "format_table",
    "holdout_calibration",
    "make_split",
    "metric_value",
    "ndcg_at_k",
    "platt_probability",
    "pool_sensitivity",
    "promotion_gate",
    "recall_at_k",
    "reciprocal_rank",
    "sample_examples",
    "score_and_measure",
    "seed_study",
    "staged_pool",
    "summarize",
    "train_and_publish",
    "window_examples",
    "window_labels",
    "write_report",
]
