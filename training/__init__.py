"""Training: labels, temporal splits, dataset assembly, evaluation, reports and publishing
with the promotion gate (the demo world lives in ``training.demo``)."""

from training.dataset import RankingSet, SamplingConfig, build_sets, window_examples
from training.errors import NotEnoughDataError, TrainingError
from training.evaluate import (
    EvalPools,
    System,
    evaluate_systems,
    evaluation_pools,
    format_table,
    metric_value,
)
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
    TrainConfig,
    TrainResult,
    data_fingerprint,
    evaluate_current,
    promotion_gate,
    train_and_publish,
)
from training.report import write_report
from training.splits import TemporalSplit, Window, make_split

__all__ = [
    "BUILDING_TO_ENTERPRISE",
    "DIRECTIONS",
    "ENTERPRISE_TO_BUILDING",
    "Direction",
    "EvalPools",
    "NotEnoughDataError",
    "RankingSet",
    "SamplingConfig",
    "System",
    "TemporalSplit",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "Window",
    "build_sets",
    "data_fingerprint",
    "evaluate_current",
    "evaluate_systems",
    "evaluation_pools",
    "format_table",
    "make_split",
    "metric_value",
    "ndcg_at_k",
    "promotion_gate",
    "recall_at_k",
    "reciprocal_rank",
    "sample_examples",
    "summarize",
    "train_and_publish",
    "window_examples",
    "window_labels",
    "write_report",
]
