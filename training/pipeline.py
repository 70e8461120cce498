"""Train -> evaluate -> register -> promotion gate.

The published model is the one evaluated: trained on windows before the cut T, so the
current and the new model are compared on the same held-out window (T, T+12m] without leakage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import (
    Registry,
    Snapshot,
    Vocabulary,
    categorical_features,
    feature_names,
    feature_spec_fingerprint,
)
from models import (
    LoadedModel,
    Scorer,
    current_version,
    hazard_attachments,
    load_current,
    make_scorer,
    model_vocabulary,
    promote,
    reject,
    save_version,
)
from training.calibration import Calibration
from training.dataset import (
    RankingSet,
    SamplingConfig,
    build_sets,
    data_fingerprint,
)
from training.errors import TrainingError
from training.evaluate import (
    STAGE_LIMITS,
    System,
    format_table,
    metric_value,
)
from training.hazard import fit_hazard_vocabularies
from training.holdout import (
    Evaluation,
    ceiling_system,
    evaluate_holdout,
    holdout_calibration,
)
from training.labels import BUILDING_TO_ENTERPRISE, DIRECTIONS, direction_by_name
from training.report import training_summary, write_report
from training.splits import TemporalSplit, make_split

log = logging.getLogger(__name__)

RANKER = "lightgbm"
PER_DIRECTION = "lightgbm_per_direction"
ALL_QUERIES = "lightgbm_all_queries"
# The served ranker learns from building queries only and serves both directions. Measured on
# both demo worlds it ranks enterprises for a building (the gate's metric) better than one
# ranker trained on every query: enterprise queries have ~50 candidates each and pull the model
# towards "which building" and away from "who moves". The price is enterprise->building on the
# default world (0.02 NDCG@10 lower; even on the alternative world), see
# benchmarks/results/quality_*.json (lightgbm_all_queries, lightgbm_per_direction).
RANKER_DIRECTIONS = (BUILDING_TO_ENTERPRISE.name,)
CURRENT = "current"
BASELINES = ("random", "popularity", "hand_rule", "logistic")
GATE_METRIC = "ndcg@10"
GATE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; months are calendar months."""

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    max_queries: int = 200
    eval_months: int = 12
    # Measured on the 20k default world (b->e NDCG@10 share of the ceiling at M = 3,000, 2 seeds;
    # these settings 0.796 over 4): 12-month label horizons 0.754; 48 months of history 0.803
    # with 45 % more training rows; 800 random negatives per building query 0.799.
    history_months: int = 36
    step_months: int = 3
    horizon_months: int = 6
    n_jobs: int = 2
    # the directions whose queries the served ranker learns from and early-stops on
    ranker_directions: tuple[str, ...] = RANKER_DIRECTIONS
    # also fit a ranker on every direction's queries and one per direction, and record them
    compare_directions: bool = False
    ranker_params: dict[str, Any] = field(default_factory=dict)
    staged_evaluation: bool = True  # rank the engine's first-stage pools, not every feasible pair
    calibrate: bool = True  # fit a Platt sigmoid P(move within the window) for the manifest
    # horizon of the move hazard behind e__move_hazard (training.hazard); 0: no hazard
    hazard_months: int = 12
    # the evaluation cut; None: the latest date in the data - eval_months (a demo suite sets
    # the registry's end date, its tables holding the hidden year after it)
    cut: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if not self.ranker_directions:
            raise TrainingError("ranker_directions is empty; name at least one direction")
        for name in self.ranker_directions:
            direction_by_name(name)  # TrainingError naming the allowed ones


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_and_publish`: the stored version and the gate's decision."""

    version: str
    promoted: bool
    reason: str
    previous: str | None
    metrics: pd.DataFrame
    table: str
    report: Path
    direction_mode: str


def _scorer_system(name: str, scorer: Scorer, *, vocab: Vocabulary | None = None) -> System:
    return System(name, lambda X, pairs, d: scorer.score(X), vocab)


def _per_direction_system(name: str, scorers: dict[str, Scorer]) -> System:
    return System(name, lambda X, pairs, d: scorers[d].score(X))


def _fit_ranker(
    train: RankingSet, valid: RankingSet, config: TrainConfig, *, directions: tuple[str, ...]
) -> Scorer:
    """The ranker trained on and early-stopped on ``directions``' queries."""
    train, valid = train.only(*directions), valid.only(*directions)
    params = {"categorical_features": tuple(categorical_features()), **config.ranker_params}
    ranker = make_scorer(RANKER, **params)
    return ranker.fit(
        train.X,
        train.y,
        group=train.group,
        X_valid=valid.X,
        y_valid=valid.y,
        group_valid=valid.group,
    )


def _stage_limits(building_limit: int | None) -> dict[str, int] | None:
    """The engine's first-stage limits with ``building_limit`` enterprises per building query;
    None (every feasible pair) for None."""
    return None if building_limit is None else {**STAGE_LIMITS, "building_id": int(building_limit)}


def ranker_systems(
    fit: Callable[[tuple[str, ...]], Scorer], *, config: TrainConfig
) -> tuple[Scorer, list[System]]:
    """The served ranker, ``fit`` on ``config.ranker_directions``' queries, and the systems to
    evaluate: it, and with ``config.compare_directions`` a ranker on every direction's queries
    (ALL_QUERIES) and one ranker per direction (PER_DIRECTION); each distinct set is fitted
    once. ``fit(directions)`` trains on and early-stops on those directions' rows."""
    fitted: dict[tuple[str, ...], Scorer] = {}

    def ranker_on(directions: tuple[str, ...]) -> Scorer:
        if directions not in fitted:
            fitted[directions] = fit(directions)
        return fitted[directions]

    ranker = ranker_on(tuple(config.ranker_directions))
    systems = [_scorer_system(RANKER, ranker)]
    if config.compare_directions:
        every = ranker_on(tuple(d.name for d in DIRECTIONS))
        one_each = {d.name: ranker_on((d.name,)) for d in DIRECTIONS}
        systems += [_scorer_system(ALL_QUERIES, every),
                    _per_direction_system(PER_DIRECTION, one_each)]  # fmt: skip
    return ranker, systems


def fit_baselines(train: RankingSet) -> list[System]:
    """The four baselines fitted on the training set; popularity gets one scorer per direction
    (its count column depends on the query side)."""
    systems = []
    for name in BASELINES:
        if name == "popularity":
            fitted = {
                d.name: make_scorer(name, query_side=d.query.removesuffix("_id")).fit(
                    train.X, train.y, group=train.group
                )
                for d in DIRECTIONS
            }
            systems.append(_per_direction_system(name, fitted))
        else:
            scorer = make_scorer(name).fit(train.X, train.y, group=train.group)
            systems.append(_scorer_system(name, scorer))
    return systems


def fit_systems(
    train: RankingSet, valid: RankingSet, *, config: TrainConfig
) -> tuple[Scorer, list[System]]:
    """The served ranker and the systems to evaluate (see :func:`ranker_systems`), then the
    baselines."""

    def fit(directions: tuple[str, ...]) -> Scorer:
        return _fit_ranker(train, valid, config, directions=directions)

    ranker, systems = ranker_systems(fit, config=config)
    return ranker, [*systems, *fit_baselines(train)]


def _compatible_current(store: Path) -> LoadedModel | None:
    """The CURRENT model if there is one and it was built on today's feature spec."""
    if not Path(store).is_dir() or current_version(store) is None:
        return None
    current = load_current(store)
    same_spec = current.manifest.get("feature_spec_fingerprint") == feature_spec_fingerprint()
    if not same_spec or current.manifest.get("feature_names") != list(feature_names()):
        log.warning("current model %s uses another feature spec; not re-scored", current.version)
        return None
    return current


def _current_system(current: LoadedModel, *, vocab: Vocabulary | None = None) -> System:
    """The CURRENT model as a system, its X built with ``vocab`` (default: the model's own,
    read from its version)."""
    own = model_vocabulary(current) if vocab is None else vocab
    return _scorer_system(CURRENT, current.scorer, vocab=own)


def _direction_comparison(metrics: pd.DataFrame, *, config: TrainConfig) -> dict[str, Any]:
    """NDCG@10 per direction of the served ranker and, when measured, of a ranker trained on
    every direction's queries and of one ranker per direction; ``better`` names the system with
    the highest mean (the store serves one model for both directions: the served ranker)."""
    served = {"served": RANKER, "trained_on": list(config.ranker_directions)}
    modes = [m for m in (RANKER, ALL_QUERIES, PER_DIRECTION) if metrics["system"].eq(m).any()]
    if modes == [RANKER]:
        return {"measured": False, **served}
    rows = {
        mode: {
            d.name: metric_value(metrics, system=mode, direction=d.name, metric=GATE_METRIC)
            for d in DIRECTIONS
        }
        for mode in modes
    }
    means = {mode: float(np.nanmean(list(v.values()))) for mode, v in rows.items()}
    better = max(modes, key=lambda m: means[m] + GATE_TOLERANCE * (m == RANKER))
    return {"measured": True, "ndcg@10": rows, "mean_ndcg@10": means, "better": better, **served}


def promotion_gate(
    store: Path,
    version: str,
    *,
    metrics: pd.DataFrame,
    current: LoadedModel | None,
    previous: str | None,
) -> tuple[bool, str]:
    """Promote ``version`` unless the compatible current model has a higher NDCG@10 (b->e)."""
    if previous == version:
        return True, f"version {version} is already current (identical content)"
    if current is None:
        promote(store, version)
        why = "no current model" if previous is None else f"current {previous} has another spec"
        return True, f"promoted: {why}"
    d = BUILDING_TO_ENTERPRISE.name
    new = metric_value(metrics, system=RANKER, direction=d, metric=GATE_METRIC)
    old = metric_value(metrics, system=CURRENT, direction=d, metric=GATE_METRIC)
    if new >= old - GATE_TOLERANCE:
        promote(store, version)
        return True, f"promoted: {d} {GATE_METRIC} {new:.4f} >= current {old:.4f}"
    reason = (
        f"{d} {GATE_METRIC} {new:.4f} is worse than current {current.version} {old:.4f} "
        f"on the same evaluation window; required >= current - {GATE_TOLERANCE}"
    )
    reject(store, version, reason)
    return False, f"rejected: {reason}"


def plan_training(
    tables: dict[str, pd.DataFrame], *, config: TrainConfig
) -> tuple[Registry, TemporalSplit, Vocabulary]:
    """The registry, its temporal split and the vocabularies frozen at the cut: the start of
    every training run, local or on a Dask cluster."""
    registry = Registry.from_tables(tables)
    split = make_split(
        tables,
        eval_months=config.eval_months,
        history_months=config.history_months,
        step_months=config.step_months,
        horizon_months=config.horizon_months,
        cut=config.cut,
    )
    return registry, split, Vocabulary.fit(Snapshot.at(registry, split.cut))


def _prepare(
    tables: dict[str, pd.DataFrame], *, config: TrainConfig, progress: bool
) -> tuple[Registry, TemporalSplit, Vocabulary, RankingSet, RankingSet]:
    """The split, the served vocabulary (with the move hazard) and the training and validation
    sets, whose e__move_hazard comes from the cross-fitted hazard."""
    registry, split, vocab = plan_training(tables, config=config)
    for_training, served = fit_hazard_vocabularies(
        registry, split, vocab=vocab, horizon_months=config.hazard_months, n_jobs=config.n_jobs
    )
    sets = build_sets(
        registry,
        split.fit_windows,
        vocab=for_training,
        config=config.sampling,
        n_jobs=config.n_jobs,
        progress=progress,
    )
    return registry, split, served, RankingSet.concat(sets[:-1]), sets[-1]


def _evaluate(
    registry: Registry,
    tables: dict[str, pd.DataFrame],
    split: TemporalSplit,
    *,
    systems: list[System],
    vocab: Vocabulary,
    truth_dir: Path | None,
    config: TrainConfig,
    progress: bool,
) -> Evaluation:
    if truth_dir is not None:
        systems = [*systems, ceiling_system(tables, split, Path(truth_dir))]
    return evaluate_holdout(
        registry, split, systems=systems, vocab=vocab, max_queries=config.max_queries,
        seed=config.sampling.seed, progress=progress,
        limits=STAGE_LIMITS if config.staged_evaluation else None,
    )  # fmt: skip


def pool_sensitivity(
    tables: dict[str, pd.DataFrame],
    *,
    store: Path,
    truth_dir: Path,
    building_limits: Sequence[int | None],
    config: TrainConfig = TrainConfig(),
) -> pd.DataFrame:
    """Tidy metrics of the CURRENT model and the ceiling on evaluation pools whose first stage
    keeps each of ``building_limits`` enterprises per building query (None: every feasible
    pair), with a ``limit`` column: how much the served M shapes the quality figures, since
    the ceiling ranks the same pools."""
    current = load_current(Path(store))
    vocab = model_vocabulary(current)  # one object: one feature context serves every pool
    registry, split, _ = plan_training(tables, config=config)
    ceiling = ceiling_system(tables, split, Path(truth_dir))
    systems = [_current_system(current, vocab=vocab), ceiling]
    frames = []
    for limit in building_limits:
        evaluation = evaluate_holdout(
            registry, split, systems=systems, vocab=vocab,
            max_queries=config.max_queries, seed=config.sampling.seed,
            limits=_stage_limits(limit),
            progress=False,
        )  # fmt: skip
        frames.append(evaluation.metrics.assign(limit=limit))
    return pd.concat(frames, ignore_index=True)


def seed_study(
    tables: dict[str, pd.DataFrame],
    *,
    truth_dir: Path,
    seeds: Sequence[int],
    building_limit: int | None = None,
    config: TrainConfig = TrainConfig(),
) -> pd.DataFrame:
    """Tidy metrics of the served ranker fitted once per seed on one training set (systems
    ``seed<N>``) and of the ceiling, on pools whose first stage keeps ``building_limit``
    enterprises per building query (None: every feasible pair): how far a run's seed alone
    moves the quality figures, the yardstick for any change to features or parameters."""
    registry, split, vocab, train, valid = _prepare(tables, config=config, progress=False)
    systems = []
    for seed in seeds:
        seeded = replace(config, ranker_params={**config.ranker_params, "seed": int(seed)})
        ranker = _fit_ranker(train, valid, seeded, directions=config.ranker_directions)
        systems.append(_scorer_system(f"seed{seed}", ranker, vocab=vocab))
    evaluation = evaluate_holdout(
        registry, split, systems=[*systems, ceiling_system(tables, split, Path(truth_dir))],
        vocab=vocab, max_queries=config.max_queries, seed=config.sampling.seed,
        limits=_stage_limits(building_limit), progress=False,
    )  # fmt: skip
    return evaluation.metrics


def _calibration(
    ranker: Scorer, evaluation: Evaluation, *, registry: Registry, split: TemporalSplit,
    vocab: Vocabulary, config: TrainConfig,
) -> Calibration | None:  # fmt: skip
    if not config.calibrate:
        return None
    return holdout_calibration(
        ranker, evaluation, registry=registry, split=split, vocab=vocab, column=RANKER,
        seed=config.sampling.seed,
    )  # fmt: skip


def train_and_publish(
    tables: dict[str, pd.DataFrame],
    *,
    store: Path,
    truth_dir: Path | None,
    created: datetime,
    progress: bool,
    config: TrainConfig = TrainConfig(),
    dask_address: str | None = None,
) -> TrainResult:
    """Fit the ranker and baselines, evaluate them (and the current model) on the held-out
    window, store the ranker as a new version with its report, then run the promotion gate.
    With ``dask_address`` the training windows and the LightGBM rankers are built and fitted on
    that Dask scheduler's cluster (``training.distributed``); the rest is unchanged."""
    store = Path(store)
    if dask_address is None:
        registry, split, vocab, train, valid = _prepare(tables, config=config, progress=progress)
        ranker, systems = fit_systems(train, valid, config=config)
    else:
        from training.distributed import fit_at  # needs dask, only imported when asked for

        run = fit_at(dask_address, tables, config=config)
        registry, split, vocab = run.registry, run.split, run.vocab
        train, valid, ranker, systems = run.train, run.valid, run.ranker, run.systems
    previous = current_version(store) if store.is_dir() else None
    current = _compatible_current(store)
    if current is not None:
        systems.append(_current_system(current))
    evaluation = _evaluate(
        registry,
        tables,
        split,
        systems=systems,
        vocab=vocab,
        truth_dir=truth_dir,
        config=config,
        progress=progress,
    )
    metrics = evaluation.metrics
    comparison = _direction_comparison(metrics, config=config)
    summary = training_summary(tables, split, train, valid, evaluation.pools, comparison)
    calibration = _calibration(
        ranker, evaluation, registry=registry, split=split, vocab=vocab, config=config
    )
    extra = _manifest_extra(metrics, summary=summary, calibration=calibration)
    version = save_version(
        store,
        ranker,
        created=created,
        vocabulary=vocab.to_dict(),
        feature_spec_fingerprint=feature_spec_fingerprint(),
        data_fingerprint=data_fingerprint(tables),
        metrics=_ranker_metrics(metrics),
        manifest_extra=extra,
        attachments=hazard_attachments(vocab),
    )
    promoted, reason = promotion_gate(
        store, version, metrics=metrics, current=current, previous=previous
    )
    report = write_report(
        store / "versions" / version,
        title=f"tenantmatch model {version}",
        metrics=metrics,
        importance=_importance(ranker),
        summary={"gate": reason, **summary},
    )
    log.info("model %s: %s", version, reason)
    return TrainResult(
        version, promoted, reason, previous, metrics, format_table(metrics), report, "shared"
    )


def _manifest_extra(
    metrics: pd.DataFrame, *, summary: dict[str, Any], calibration: Calibration | None
) -> dict[str, Any]:
    """The manifest's training keys; ``calibration`` (a, b, horizon_days) only when fitted,
    its fit statistics go into the summary."""
    if calibration is not None:
        summary = {**summary, "calibration": calibration.diagnostics()}
    extra = {
        "evaluation": metrics.to_dict(orient="records"),
        "summary": summary,
        "direction_mode": "shared",
    }
    if calibration is not None:
        extra["calibration"] = calibration.manifest_entry()
    return extra


def _ranker_metrics(metrics: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{direction: {metric: value}}`` of the shared ranker, for the manifest."""
    mine = metrics.loc[metrics["system"].eq(RANKER)]
    return {
        str(d): dict(zip(g["metric"], g["value"].astype(float), strict=True))
        for d, g in mine.groupby("direction", sort=False)
    }


def _importance(scorer: Scorer) -> pd.Series | None:
    fn = getattr(scorer, "feature_importance", None)
    return fn(importance_type="gain") if fn is not None else None


def evaluate_current(
    tables: dict[str, pd.DataFrame],
    *,
    store: Path,
    truth_dir: Path | None,
    progress: bool = False,
    config: TrainConfig = TrainConfig(),
) -> pd.DataFrame:
    """Tidy metrics (system, direction, metric, value) of the CURRENT model and the baselines
    (fitted on the same training windows) on the held-out window."""
    current = load_current(Path(store))
    registry, split, vocab, train, _ = _prepare(tables, config=config, progress=progress)
    baselines = fit_baselines(train)
    evaluation = _evaluate(
        registry,
        tables,
        split,
        systems=[_current_system(current), *baselines],
        vocab=vocab,
        truth_dir=truth_dir,
        config=config,
        progress=progress,
    )
    return evaluation.metrics
