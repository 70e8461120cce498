"""Train -> evaluate -> register -> promotion gate.

The published model is the one evaluated: trained on windows before the cut T, so the
current and the new model are compared on the same held-out window (T, T+12m] without leakage.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tenantmatch.features import (
    ALL_SET,
    RANKER_SET,
    Vocabulary,
    categorical_features,
    feature_names,
    feature_spec_fingerprint,
)
from tenantmatch.matching import FIRST_STAGE_KEY
from tenantmatch.models import (
    BASELINE_MAX_ROWS,
    FEATURE_SET_KEY,
    LoadedModel,
    ModelStoreError,
    Scorer,
    current_version,
    feature_set_of,
    hazard_attachments,
    load_current,
    load_version,
    make_scorer,
    model_vocabulary,
    promote,
    reject,
    save_version,
)
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.blend import BLEND, blend_of
from tenantmatch.training.calibration import Calibration
from tenantmatch.training.config import CANDIDATES, RANKER, TrainConfig
from tenantmatch.training.dataset import RankingSet, data_fingerprint
from tenantmatch.training.evaluate import STAGE_LIMITS, System, format_table, metric_value
from tenantmatch.training.holdout import (
    Evaluation,
    ceiling_system,
    evaluate_holdout,
    holdout_calibration,
)
from tenantmatch.training.labels import BUILDING_TO_ENTERPRISE, DIRECTIONS
from tenantmatch.training.plain import PLAIN_RECIPE, WIDE
from tenantmatch.training.refit import (
    Fitted,
    fit_plain_candidate,
    fit_spooled_ranker,
    ranker_spool,
    refit_candidate,
    serving_parts,
)
from tenantmatch.training.report import training_summary, write_report
from tenantmatch.training.selection import Candidate, choose_system
from tenantmatch.training.splits import TemporalSplit, make_split
from tenantmatch.training.spool import SpoolView

log = logging.getLogger(__name__)

PER_DIRECTION = "lightgbm_per_direction"
ALL_QUERIES = "lightgbm_all_queries"
CURRENT = "current"
BASELINES = ("random", "popularity", "hand_rule", "logistic")
GATE_METRIC = "ndcg@10"
GATE_TOLERANCE = 1e-9


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
    system: str = RANKER  # the system stored (and served if promoted)
    validated_version: str | None = None  # the version fitted up to the cut, when refit


def _scorer_system(
    name: str, scorer: Scorer, *, vocab: Vocabulary | None = None, features: str = RANKER_SET
) -> System:
    return System(name, lambda X, pairs, d: scorer.score(X), vocab, features=features)


def _per_direction_system(
    name: str, scorers: dict[str, Scorer], *, features: str = RANKER_SET
) -> System:
    return System(name, lambda X, pairs, d: scorers[d].score(X), features=features)


def _fit_ranker(
    train: SpoolView, valid: SpoolView, config: TrainConfig, *, directions: tuple[str, ...]
) -> Scorer:
    """The ranker trained on and early-stopped on ``directions``' queries, its training rows
    read from the spool."""
    categorical = tuple(categorical_features(config.ranker_features))
    params = {"categorical_features": categorical, **config.ranker_params}
    return fit_spooled_ranker(
        train.only(*directions), valid.only(*directions), name=RANKER, **params
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
    features = config.ranker_features
    systems = [_scorer_system(RANKER, ranker, features=features)]
    if config.compare_directions:
        every = ranker_on(tuple(d.name for d in DIRECTIONS))
        one_each = {d.name: ranker_on((d.name,)) for d in DIRECTIONS}
        systems += [_scorer_system(ALL_QUERIES, every, features=features),
                    _per_direction_system(PER_DIRECTION, one_each, features=features)]  # fmt: skip
    return ranker, systems


def fit_baselines(train: RankingSet, *, features: str = RANKER_SET) -> list[System]:
    """The four baselines fitted on the training set (X of the feature set ``features``);
    popularity gets one scorer per direction (its count column depends on the query side)."""
    systems = []
    for name in BASELINES:
        if name == "popularity":
            fitted = {
                d.name: make_scorer(name, query_side=d.query.removesuffix("_id")).fit(
                    train.X, train.y, group=train.group
                )
                for d in DIRECTIONS
            }
            systems.append(_per_direction_system(name, fitted, features=features))
        else:
            scorer = make_scorer(name).fit(train.X, train.y, group=train.group)
            systems.append(_scorer_system(name, scorer, features=features))
    return systems


def fit_systems(
    train: SpoolView, valid: SpoolView, *, config: TrainConfig
) -> tuple[Scorer, list[System]]:
    """The served ranker and the systems to evaluate (see :func:`ranker_systems`), then the
    baselines, fitted on at most :data:`BASELINE_MAX_ROWS` training rows."""

    def fit(directions: tuple[str, ...]) -> Scorer:
        return _fit_ranker(train, valid, config, directions=directions)

    ranker, systems = ranker_systems(fit, config=config)
    sample = train.sample(max_rows=BASELINE_MAX_ROWS, seed=config.sampling.seed)
    return ranker, [*systems, *fit_baselines(sample, features=config.ranker_features)]


VALIDATED_KEY = "validated_version"  # manifest key of a refit model: its twin fitted up to the cut


def _held_out_model(model: LoadedModel, *, store: Path, cut: pd.Timestamp) -> LoadedModel:
    """``model`` as it is measured on the held-out window after ``cut``: a refit model whose
    data reaches past the cut has seen that window's labels, so its twin fitted up to its own
    cut (``validated_version``) stands in; a model trained through the cut or earlier (say,
    graded on the year after its registry ended) is measured as served."""
    twin = model.manifest.get(VALIDATED_KEY)
    through = model.manifest.get("fit", {}).get("trained_through")
    if not twin or (through is not None and pd.Timestamp(through) <= cut):
        return model
    return load_version(store, str(twin))


def _compatible_current(store: Path, *, cut: pd.Timestamp) -> LoadedModel | None:
    """The CURRENT model as the gate scores it (:func:`_held_out_model`), if there is one
    built on today's spec of its feature set."""
    if not Path(store).is_dir() or current_version(store) is None:
        return None
    try:
        current = _held_out_model(load_current(store), store=store, cut=cut)
    except ModelStoreError as exc:
        log.warning("current model's validated twin unusable (%s); not re-scored", exc)
        return None
    features = feature_set_of(current.manifest)
    fingerprint = feature_spec_fingerprint(features)
    same_spec = current.manifest.get("feature_spec_fingerprint") == fingerprint
    if not same_spec or current.manifest.get("feature_names") != feature_names(features):
        log.warning("current model %s uses another feature spec; not re-scored", current.version)
        return None
    return current


def _current_system(current: LoadedModel, *, vocab: Vocabulary | None = None) -> System:
    """The CURRENT model as a system, its X built with ``vocab`` (default: the model's own,
    read from its version) for its feature set."""
    own = model_vocabulary(current) if vocab is None else vocab
    scorer = current.scorer
    return System(CURRENT, lambda X, pairs, d: scorer.score(X), own,
                  features=feature_set_of(current.manifest))  # fmt: skip


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
    system: str = RANKER,
) -> tuple[bool, str]:
    """Promote ``version`` (fitted as ``system``) unless the compatible current model has a
    higher NDCG@10 (b->e) on the same window."""
    if previous == version:
        return True, f"version {version} is already current (identical content)"
    if current is None:
        promote(store, version)
        why = "no current model" if previous is None else f"current {previous} has another spec"
        return True, f"promoted: {why}"
    d = BUILDING_TO_ENTERPRISE.name
    new = metric_value(metrics, system=system, direction=d, metric=GATE_METRIC)
    old = metric_value(metrics, system=CURRENT, direction=d, metric=GATE_METRIC)
    if new >= old - GATE_TOLERANCE:
        promote(store, version)
        return True, f"promoted: {system} {d} {GATE_METRIC} {new:.4f} >= current {old:.4f}"
    reason = (
        f"{system} {d} {GATE_METRIC} {new:.4f} is worse than current {current.version} "
        f"{old:.4f} on the same evaluation window; required >= current - {GATE_TOLERANCE}"
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
        seed=config.sampling.seed, progress=progress, limits=evaluation_limits(registry, config),
    )  # fmt: skip


def evaluation_limits(registry: Registry, config: TrainConfig) -> dict[str, int] | None:
    """The first stage the held-out pools go through, as served: the engine's limits on a
    registry of at least ``config.full_scan_below`` enterprises, every feasible pair below
    (where the served model scores every pair too, see ``matching.first_stage``)."""
    small = len(registry.enterprises) < config.full_scan_below
    return STAGE_LIMITS if config.staged_evaluation and not small else None


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
    registry, split, _ = plan_training(tables, config=config)
    current = _held_out_model(load_current(Path(store)), store=Path(store), cut=split.cut)
    vocab = model_vocabulary(current)  # one object: one feature context serves every pool
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
    systems = []
    with _prepared(tables, config=config, progress=False) as (registry, split, vocab,
                                                              train, valid):  # fmt: skip
        for seed in seeds:
            seeded = replace(config, ranker_params={**config.ranker_params, "seed": int(seed)})
            ranker = _fit_ranker(train, valid, seeded, directions=config.ranker_directions)
            systems.append(
                _scorer_system(f"seed{seed}", ranker, vocab=vocab, features=config.ranker_features)
            )
    evaluation = evaluate_holdout(
        registry, split, systems=[*systems, ceiling_system(tables, split, Path(truth_dir))],
        vocab=vocab, max_queries=config.max_queries, seed=config.sampling.seed,
        limits=_stage_limits(building_limit), progress=False,
    )  # fmt: skip
    return evaluation.metrics


def _calibration(
    chosen: Candidate, evaluation: Evaluation, *, registry: Registry, split: TemporalSplit,
    vocab: Vocabulary, config: TrainConfig,
) -> Calibration | None:  # fmt: skip
    if not config.calibrate:
        return None
    return holdout_calibration(
        chosen.scorer, evaluation, registry=registry, split=split, vocab=vocab,
        column=chosen.name, seed=config.sampling.seed, features=chosen.features,
    )  # fmt: skip


@dataclass(frozen=True)
class FitRun:
    """What a training run prepares and fits, locally or on a cluster; ``sizes``: the
    ``training`` and ``validation`` sets' rows, queries and positives."""

    registry: Registry
    split: TemporalSplit
    vocab: Vocabulary
    sizes: dict[str, dict[str, int]]
    ranker: Scorer
    systems: list[System]


class Fitter(Protocol):
    """Prepares the training sets and fits the candidate systems (one interface for the local
    fitter and the Dask one, so the pipeline imports neither's internals)."""

    def __call__(
        self, tables: dict[str, pd.DataFrame], *, config: TrainConfig, progress: bool
    ) -> FitRun: ...


@contextlib.contextmanager
def _prepared(
    tables: dict[str, pd.DataFrame], *, config: TrainConfig, progress: bool
) -> Iterator[tuple[Registry, TemporalSplit, Vocabulary, SpoolView, SpoolView]]:
    """The registry, split, served vocabulary (with the move hazard) and the ranker's
    training and validation windows (the last fit window), built by joblib and spooled to
    disk one at a time (their e__move_hazard comes from the cross-fitted hazard)."""
    registry, split, vocab = plan_training(tables, config=config)
    with ranker_spool(registry, split, vocab=vocab, config=config,
                      progress=progress) as (served, spool):  # fmt: skip
        windows = [str(w) for w in split.fit_windows]
        train, valid = spool.select(windows=windows[:-1]), spool.select(windows=windows[-1:])
        yield registry, split, served, train, valid


def local_fit(
    tables: dict[str, pd.DataFrame], *, config: TrainConfig, progress: bool = False
) -> FitRun:
    """The sets built and the systems fitted in this process (:func:`_prepared`)."""
    with _prepared(tables, config=config, progress=progress) as (registry, split, vocab,
                                                                 train, valid):  # fmt: skip
        ranker, systems = fit_systems(train, valid, config=config)
        sizes = {"training": train.sizes(), "validation": valid.sizes()}
    return FitRun(registry, split, vocab, sizes, ranker, systems)


def _fit_candidates(
    tables: dict[str, pd.DataFrame], *, config: TrainConfig, progress: bool,
    fitter: Fitter | None,
) -> tuple[Registry, TemporalSplit, Vocabulary, dict[str, dict[str, int]], list[System],
           dict[str, tuple[Candidate, Fitted]]]:  # fmt: skip
    """The registry, split, served vocabulary, the sizes of the ranker's sets, the systems to
    evaluate and the candidates the gate may serve (each with what it was fitted on), fitted
    up to the cut."""
    run = (fitter or local_fit)(tables, config=config, progress=progress)
    registry, split, vocab, sizes = run.registry, run.split, run.vocab, run.sizes
    ranker, systems = run.ranker, run.systems
    windows = tuple(str(w) for w in split.fit_windows)
    features = config.ranker_features
    fitted = {RANKER: (Candidate(RANKER, ranker, features),
                       Fitted(ranker, features, vocab, windows, split.cut))}  # fmt: skip
    needed = set(config.candidates) | ({WIDE} if BLEND in config.candidates else set())
    for name in (n for n in PLAIN_RECIPE if n in needed):
        fitted[name] = fit_plain_candidate(registry, split, tables=tables, vocab=vocab,
                                           config=config, system=name)  # fmt: skip
        systems.append(fitted[name][0].system())
    if BLEND in config.candidates:
        parts = (fitted[RANKER][0], fitted[WIDE][0])
        blend = blend_of([p.scorer for p in parts], registry=registry, at=split.cut,
                         vocab=vocab, seed=config.sampling.seed)  # fmt: skip
        both = tuple(dict.fromkeys([*windows, *fitted[WIDE][1].windows]))
        fitted[BLEND] = (Candidate(BLEND, blend, ALL_SET, parts=parts),
                         Fitted(blend, ALL_SET, vocab, both, split.cut))  # fmt: skip
        systems.append(fitted[BLEND][0].system())
    return registry, split, vocab, sizes, systems, fitted


def _store(
    store: Path, fitted: Fitted, *, system: str, created: datetime, tables: dict[str, pd.DataFrame],
    metrics: pd.DataFrame, extra: dict[str, Any], attachments: dict[str, bytes],
) -> str:  # fmt: skip
    """Save one fitted system as a version (manifest: its system, feature set, fit record)."""
    return save_version(
        store, fitted.scorer, created=created, vocabulary=fitted.vocab.to_dict(),
        feature_spec_fingerprint=feature_spec_fingerprint(fitted.features),
        data_fingerprint=data_fingerprint(tables), metrics=_system_metrics(metrics, system),
        manifest_extra={**extra, "system": system, FEATURE_SET_KEY: fitted.features},
        attachments=attachments,
    )  # fmt: skip


def _publish(
    store: Path, chosen: tuple[Candidate, Fitted], *, registry: Registry,
    tables: dict[str, pd.DataFrame], split: TemporalSplit, metrics: pd.DataFrame,
    extra: dict[str, Any], created: datetime, config: TrainConfig, progress: bool,
) -> tuple[str, str | None, Fitted, dict[str, Any]]:  # fmt: skip
    """Store the chosen system: with ``config.refit`` first as fitted up to the cut (the
    twin the next gate measures), then refitted to the data's end; the served version holds
    its pre-scorer and first-stage plan. Returns (served version, twin or None, the served
    fit, its manifest ``fit`` record)."""
    candidate, validated = chosen
    kw: dict[str, Any] = {"system": candidate.name, "created": created, "tables": tables,
                          "metrics": metrics}  # fmt: skip
    twin, served = None, validated
    if config.refit:
        record = {**extra, "fit": validated.record(refit=False), "role": "validated"}
        twin = _store(store, validated, extra=record,
                      attachments=hazard_attachments(validated.vocab), **kw)  # fmt: skip
        served = refit_candidate(candidate, registry=registry, tables=tables, split=split,
                                 config=config, progress=progress)  # fmt: skip
    attachments, plan = serving_parts(served, registry=registry, config=config)
    fit = {**served.record(refit=config.refit), "validated_windows": list(validated.windows),
           VALIDATED_KEY: twin}  # fmt: skip
    extra = {**extra, "fit": fit, "role": "served"}
    if twin is not None:
        extra[VALIDATED_KEY] = twin
    if plan is not None:
        extra[FIRST_STAGE_KEY] = plan
    version = _store(store, served, extra=extra, attachments=attachments, **kw)
    return version, twin, served, fit


def train_and_publish(
    tables: dict[str, pd.DataFrame],
    *,
    store: Path,
    truth_dir: Path | None,
    created: datetime,
    progress: bool,
    config: TrainConfig = TrainConfig(),
    fitter: Fitter | None = None,
) -> TrainResult:
    """Fit the candidate systems (the ranker, the plain baseline) and the baselines, evaluate
    them (and the current model) on the held-out window, choose the best candidate on
    building->enterprise NDCG@10, store it as fitted up to the cut and, with ``config.refit``,
    refitted on every window up to the data's end (the version served, with its distilled
    pre-scorer and first-stage plan), then run the promotion gate on the chosen system's
    held-out figures. ``fitter`` prepares the ranker's sets and fits: :func:`local_fit` by
    default, or ``training.distributed.dask_fitter(address)`` on a Dask cluster; the rest runs
    here."""
    store = Path(store)
    registry, split, vocab, sizes, systems, fitted = _fit_candidates(
        tables, config=config, progress=progress, fitter=fitter
    )
    previous = current_version(store) if store.is_dir() else None
    current = _compatible_current(store, cut=split.cut)
    if current is not None:
        systems.append(_current_system(current))
    evaluation = _evaluate(registry, tables, split, systems=systems, vocab=vocab,
                           truth_dir=truth_dir, config=config, progress=progress)  # fmt: skip
    metrics = evaluation.metrics
    chosen, selection = choose_system(
        metrics, [c for c in CANDIDATES if c in fitted and c in config.candidates]
    )
    candidate = fitted[chosen][0]
    comparison = _direction_comparison(metrics, config=config)
    summary = training_summary(tables, split, sizes, evaluation.pools, comparison)
    summary = {**summary, "selection": selection}
    calibration = _calibration(candidate, evaluation, registry=registry, split=split,
                               vocab=vocab, config=config)  # fmt: skip
    extra = _manifest_extra(metrics, summary=summary, calibration=calibration)
    version, validated_version, served, fit = _publish(
        store, fitted[chosen], registry=registry, tables=tables, split=split, metrics=metrics,
        extra=extra, created=created, config=config, progress=progress,
    )  # fmt: skip
    promoted, reason = promotion_gate(store, version, metrics=metrics, current=current,
                                      previous=previous, system=chosen)  # fmt: skip
    report = write_report(
        store / "versions" / version,
        title=f"tenantmatch model {version} ({chosen})",
        metrics=metrics,
        importance=_importance(served.scorer),
        summary={"gate": reason, "system": selection["why"], "fit": fit, **summary},
    )
    reason = f"{selection['why']}; {reason}"  # which system and why, then the gate's word
    log.info("model %s (%s): %s", version, chosen, reason)
    return TrainResult(version, promoted, reason, previous, metrics, format_table(metrics),
                       report, "shared", chosen, validated_version)  # fmt: skip


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


def _system_metrics(metrics: pd.DataFrame, system: str) -> dict[str, dict[str, float]]:
    """``{direction: {metric: value}}`` of one system on the held-out window, for the
    manifest."""
    mine = metrics.loc[metrics["system"].eq(system)]
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
    """Tidy metrics (system, direction, metric, value) of the CURRENT model, the plain
    baseline and the other baselines (fitted on the same training windows) on the held-out
    window. A refit current model whose data reaches past the cut is measured by its twin
    fitted up to its own cut (the refit has seen the window's labels)."""
    with _prepared(tables, config=config, progress=progress) as (registry, split, vocab,
                                                                 train, _):  # fmt: skip
        sample = train.sample(max_rows=BASELINE_MAX_ROWS, seed=config.sampling.seed)
    current = _held_out_model(load_current(Path(store)), store=Path(store), cut=split.cut)
    systems = [_current_system(current), *fit_baselines(sample, features=config.ranker_features)]
    for name in (n for n in PLAIN_RECIPE if n in config.candidates):
        plain, _ = fit_plain_candidate(registry, split, tables=tables, vocab=vocab, config=config,
                                       system=name)  # fmt: skip
        systems.append(plain.system())
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
    return evaluation.metrics
