"""Training and batch scoring on a Dask cluster.

The training set is built on the workers, one task per snapshot date (training window) running
``training.dataset.window_examples``; its (X, y, group) become dask collections with one
partition per window, so every partition holds whole queries, as ``DaskLGBMRanker`` requires.
``batch_shortlists`` scores every building's shortlist on the cluster and writes jsonl.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.registry import MissingExtraError

try:
    import dask.dataframe as dd
    import distributed
except ImportError as exc:  # callers import this module only when --dask is asked for
    raise MissingExtraError(
        "training or scoring on a Dask cluster",
        module=(exc.name or "dask").split(".")[0],
        extra="dask",
    ) from exc

from tenantmatch.features import Vocabulary, categorical_features
from tenantmatch.matching import PoolRules, ScoringState, check_k, shortlist_for_buildings
from tenantmatch.matching.engine import DEFAULT_MAX_SCORED
from tenantmatch.models import BASELINE_MAX_ROWS, DaskLGBMRankerScorer, Scorer
from tenantmatch.registry import InputError, Registry
from tenantmatch.training.dataset import RankingSet, SamplingConfig, window_examples
from tenantmatch.training.hazard import firm_examples, fit_hazard_vocabularies, hazard_windows
from tenantmatch.training.pipeline import (
    FitRun,
    Fitter,
    TrainConfig,
    fit_baselines,
    plan_training,
    ranker_systems,
)
from tenantmatch.training.report import set_sizes
from tenantmatch.training.splits import TemporalSplit, Window

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
BUILDINGS_PER_TASK = 50


@dataclass(frozen=True)
class DaskRankingSet:
    """A ranking set held by the workers: ``X`` (float32 features), ``y`` (grades 0..4) and
    ``group`` (query sizes), each with one partition per window, in window order."""

    X: dd.DataFrame
    y: dd.Series
    group: dd.Series


def connect(address: str, *, timeout_s: float | None = None) -> distributed.Client:
    """A client of the scheduler at ``address`` (``tcp://host:8786``); InputError when it
    cannot be reached within ``timeout_s`` seconds (default ``CONNECT_TIMEOUT_S``)."""
    try:
        return distributed.Client(address, timeout=timeout_s or CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address!r} ({exc}); give the address of a "
            "running scheduler, e.g. tcp://scheduler-host:8786"
        ) from exc


def submit_windows(
    client: distributed.Client,
    registry: Registry,
    windows: Sequence[Window],
    *,
    vocab: Vocabulary,
    config: SamplingConfig | None = None,
) -> list[distributed.Future]:
    """One future per window, in order, holding that window's RankingSet built on a worker;
    the registry is scattered to every worker once."""
    config = config or SamplingConfig()
    shared = client.scatter(registry, broadcast=True, hash=False)
    return [
        client.submit(
            window_examples,
            shared,
            window=w,
            vocab=vocab,
            config=config,
            pure=False,
            workers=[worker],
            allow_other_workers=False,
        )
        for w, worker in zip(windows, placement(client, len(windows)), strict=True)
    ]


def placement(client: distributed.Client, n: int) -> list[str]:
    """The worker of window ``i`` of ``n``: round-robin over the sorted worker addresses, so
    the windows (LightGBM's partitions) spread evenly over the machines and land on the same
    machines on every run; left to the scheduler, one worker could build most of them."""
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise InputError("the Dask cluster has no workers; start at least one")
    return [workers[i % len(workers)] for i in range(n)]


def gather_sets(
    client: distributed.Client, futures: Sequence[distributed.Future]
) -> list[RankingSet]:
    """The RankingSets of ``futures`` fetched to this process, in order."""
    return list(client.gather(list(futures)))


def part_X(ranking: RankingSet, *, directions: tuple[str, ...]) -> pd.DataFrame:
    """Features of one partition's rows of ``directions``."""
    return ranking.only(*directions).X


def part_y(ranking: RankingSet, *, directions: tuple[str, ...]) -> pd.Series:
    """Grades (int64) of one partition's rows of ``directions``."""
    return pd.Series(ranking.only(*directions).y, name="grade")


def part_group(ranking: RankingSet, *, directions: tuple[str, ...]) -> pd.Series:
    """Query sizes (int64) of one partition's rows of ``directions``, in row order."""
    return pd.Series(ranking.only(*directions).group, name="group")


def dask_ranking_set(
    client: distributed.Client,
    futures: Sequence[distributed.Future],
    *,
    directions: tuple[str, ...],
) -> DaskRankingSet:
    """Dask collections of the rows of ``directions`` over the window futures (one partition
    each), computed next to the data."""
    distributed.wait(futures)
    held = client.who_has(futures)
    workers = [sorted(held[f.key])[0] for f in futures]  # each part next to its window's data
    parts = {
        name: [
            client.submit(fn, f, directions=directions, workers=[w], allow_other_workers=False)
            for f, w in zip(futures, workers, strict=True)
        ]
        for name, fn in (("X", part_X), ("y", part_y), ("group", part_group))
    }
    meta_X = client.submit(_empty, parts["X"][0]).result()
    return DaskRankingSet(
        X=dd.from_delayed(parts["X"], meta=meta_X),
        y=dd.from_delayed(parts["y"], meta=pd.Series([], dtype="int64", name="grade")),
        group=dd.from_delayed(parts["group"], meta=pd.Series([], dtype="int64", name="group")),
    )


def _empty(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[:0]


def fit_dask_ranker(
    client: distributed.Client,
    train: DaskRankingSet,
    valid: RankingSet,
    *,
    params: Mapping[str, Any],
) -> DaskLGBMRankerScorer:
    """The lambdarank ranker fitted data-parallel on ``train`` with ``DaskLGBMRanker``, early
    stopping on ``valid``; ``params`` are LGBMRankerScorer settings."""
    settings = {"categorical_features": tuple(categorical_features()), **params}
    ranker = DaskLGBMRankerScorer(client=client, **settings)
    return ranker.fit(
        train.X,
        train.y,
        group=train.group,
        X_valid=valid.X,
        y_valid=valid.y,
        group_valid=valid.group,
    )


def fit_on_cluster(
    client: distributed.Client, tables: dict[str, pd.DataFrame], *, config: TrainConfig
) -> FitRun:
    """The pipeline's preparation and fitting with the training windows built and the
    LightGBM rankers trained on the cluster; the baselines are fitted locally on the same rows,
    exactly as without Dask."""
    registry, split, vocab = plan_training(tables, config=config)
    for_training, vocab = fit_hazard_vocabularies(
        registry, split, vocab=vocab, horizon_months=config.hazard_months,
        examples=hazard_examples(client, registry, split, vocab=vocab, config=config),
    )  # fmt: skip
    futures = submit_windows(
        client, registry, split.fit_windows, vocab=for_training, config=config.sampling
    )
    train_futures, valid = futures[:-1], client.gather(futures[-1])

    def fit(directions: tuple[str, ...]) -> Scorer:
        train = dask_ranking_set(client, train_futures, directions=directions)
        return fit_dask_ranker(client, train, valid.only(*directions), params=config.ranker_params)

    ranker, systems = ranker_systems(fit, config=config)
    train = RankingSet.concat(gather_sets(client, train_futures))
    sizes = {"training": set_sizes(train), "validation": set_sizes(valid)}
    sample = train.sample(max_rows=BASELINE_MAX_ROWS, seed=config.sampling.seed)
    return FitRun(registry, split, vocab, sizes, ranker, [*systems, *fit_baselines(sample)])


def hazard_examples(
    client: distributed.Client,
    registry: Registry,
    split: TemporalSplit,
    *,
    vocab: Vocabulary,
    config: TrainConfig,
) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """The move hazard's firm examples (``training.hazard.firm_examples``), one window per
    task on the cluster's workers (the scattered registry is released on return)."""
    if config.hazard_months <= 0:
        return []
    shared = client.scatter(registry, broadcast=True, hash=False)
    futures = [
        client.submit(
            firm_examples,
            shared,
            window=w,
            vocab=vocab,
            max_firms=config.hazard_max_firms,
            pure=False,
        )
        for w in hazard_windows(split, horizon_months=config.hazard_months)
    ]
    return list(client.gather(futures))


def dask_fitter(address: str) -> Fitter:
    """The pipeline's fitter for the Dask scheduler at ``address`` (``train_and_publish``)."""
    return functools.partial(fit_at, address)


def fit_at(
    address: str,
    tables: dict[str, pd.DataFrame],
    *,
    config: TrainConfig,
    progress: bool = False,
) -> FitRun:
    """:func:`fit_on_cluster` on the scheduler at ``address`` (InputError if unreachable); the
    client is closed afterwards, the fitted models live on in this process."""
    with connect(address) as client:
        log.info("training on the Dask cluster at %s", address)
        return fit_on_cluster(client, tables, config=config)


def _chunks(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield [str(i) for i in ids[start : start + size]]


def batch_shortlists(
    client: distributed.Client,
    state: ScoringState,
    *,
    out: Path,
    building_ids: Sequence[str] | None = None,
    k: int = 20,
    rules: PoolRules | None = None,
    max_scored: int | None = DEFAULT_MAX_SCORED,
    chunk_size: int = BUILDINGS_PER_TASK,
) -> int:
    """Shortlists of ``building_ids`` (default: every building of the state's pool) scored on
    the cluster, written to ``out`` as jsonl in id order (one line per building, the
    interface's object); returns the number of lines. NotFoundError for an unknown id.
    ``max_scored``: M of the two-stage path, as ``Engine(max_scored=...)``; the default is the
    Engine's, so a line equals what the service answers; None scores every feasible candidate
    (the exact full scan, about 100x the work at 1M enterprises)."""
    k, rules = check_k(k), rules or PoolRules()
    if chunk_size < 1:
        raise InputError(f"chunk_size={chunk_size} is not allowed; it must be >= 1")
    ids = list(state.pool.buildings.ids) if building_ids is None else list(building_ids)
    state.pool.buildings.positions(ids, kind="building")  # unknown ids fail before any work
    shared = client.scatter(state, broadcast=True, hash=False)
    score = functools.partial(shortlist_for_buildings, k=k, rules=rules, max_scored=max_scored)
    chunks = _chunks(ids, chunk_size)
    futures = [client.submit(score, shared, chunk, pure=False) for chunk in chunks]
    log.info("batch shortlists: %d buildings in %d tasks", len(ids), len(futures))
    return _write_jsonl(futures, out=Path(out))


def _write_jsonl(futures: Sequence[distributed.Future], *, out: Path) -> int:
    """Write each future's objects in order to ``out`` atomically (temp file, then rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    lines = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for future in futures:
                for obj in future.result():
                    fh.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n")
                    lines += 1
                future.release()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return lines


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a jsonl file written by ``batch_shortlists``, in order."""
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
