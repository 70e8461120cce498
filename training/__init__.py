"""Training: labels, temporal splits, dataset assembly, evaluation, reports and publishing
with the promotion gate (the demo world lives in ``training.demo``)."""

from training.calibration import Calibration, calibrate_ranker, fit_platt, platt_probability
from training.dataset import RankingSet, SamplingConfig, build_sets, window_examples
from training.errors import NotEnoughDataError, TrainingError
from training.evaluate import (
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
from training.holdout import Evaluation, evaluate_holdout, holdout_calibration
from training.labels import (
    BUILDING_TO_ENTERPRISE,
    DIRECTIONS,
    ENTERPRISE_TO_BUILDING,
    Direction,
    sample_examples,
    window_labels,
)
from training.metrics import ndcg_at_k, recall_at_k, reciprocal_rank, summarize
from training.pipeline import (
    RANKER_DIRECTIONS,
    TrainConfig,
    TrainResult,
    data_fingerprint,
    evaluate_current,
    pool_sensitivity,
    promotion_gate,
    seed_study,
    train_and_publish,
)
from training.plain import PLAIN, PlainConfig
from training.report import write_report
from training.splits import TemporalSplit, Window, make_split

__all__ = [
    "BUILDING_TO_ENTERPRISE",
    "DIRECTIONS",
    "ENTERPRISE_TO_BUILDING",
    "PLAIN",
    "RANKER_DIRECTIONS",
    "STAGE_LIMITS",
    "Calibration",
    "Direction",
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
    "build_sets",
    "calibrate_ranker",
    "data_fingerprint",
    "evaluate_current",
    "evaluate_holdout",
    "evaluate_systems",
    "evaluation_pools",
    "fit_platt",
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
