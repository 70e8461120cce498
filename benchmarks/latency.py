"""In-process shortlist latency and quality: two-stage (the Engine's default) vs the naive full
scan (every feasible candidate scored by LightGBM), measured in the same process and run.

Latency is per single-query call (as an HTTP request makes it), k items with reasons. Quality:
top-k overlap of two-stage with full scan on the same queries, and NDCG@10 of both on the
held-out evaluation window (registry as of the training cut, labels from the 12 months after).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from tenantmatch.features import available_cores
from tenantmatch.matching import Engine, PoolRules
from tenantmatch.matching.shortlist import (
    ScoringState,
    precompute_candidates,
    shortlist_for_buildings,
    shortlist_for_enterprises,
)
from tenantmatch.store import Repository
from tenantmatch.training import make_split, ndcg_at_k, window_labels

logger = logging.getLogger(__name__)

WARMUP = 3


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean in milliseconds, with the sample count."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    if len(ms) == 0:
        return {"n": 0}
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"n": len(ms), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "mean_ms": ms.mean()}


def _cpu_and_wait_ms() -> tuple[float, float]:
    """Process CPU ms so far and ms its threads spent runnable but waiting for a core
    (/proc/self/schedstat; NaN where the kernel does not provide it)."""
    try:
        waited = int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        waited = float("nan")
    return time.process_time() * 1000.0, waited


def _timed(
    fn: Callable[[str], dict[str, Any]], ids: Sequence[str]
) -> tuple[list[float], list[dict[str, Any]], dict[str, float]]:
    """Wall seconds per call, the results, and per call the mean process CPU ms (all threads)
    and the mean ms spent waiting for a core: the machine is shared, so wall time includes
    that wait (schedstat counts the main thread's)."""
    for query in ids[:WARMUP]:
        fn(query)
    times, results = [], []
    cpu, wait = _cpu_and_wait_ms()
    for query in ids:
        start = time.perf_counter()
        results.append(fn(query))
        times.append(time.perf_counter() - start)
    cpu_end, wait_end = _cpu_and_wait_ms()
    n = max(len(ids), 1)
    return (
        times,
        results,
        {"cpu_mean_ms": (cpu_end - cpu) / n, "cpu_wait_mean_ms": (wait_end - wait) / n},
    )


def _items(result: dict[str, Any], key: str) -> list[str]:
    return [item[key] for item in result["items"]]


def overlap(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], *, key: str) -> float:
    """Mean over queries of |top(a) ∩ top(b)| / |top(b)| (queries with an empty b skipped)."""
    shares = [
        len(set(_items(x, key)) & set(_items(y, key))) / len(_items(y, key))
        for x, y in zip(a, b, strict=True)
        if y["items"]
    ]
    return float(np.mean(shares)) if shares else float("nan")


def _direction(
    state: ScoringState,
    ids: Sequence[str],
    *,
    n_full: int,
    k: int,
    m: int,
    building: bool,
    threads: int,
) -> dict[str, Any]:
    """Latency of both paths and the top-k overlap, for one direction; the two-stage path
    splits each query over ``threads`` (the full scan: LightGBM on its own threads)."""
    run = functools.partial(
        shortlist_for_buildings if building else shortlist_for_enterprises, threads=threads
    )
    key = "enterprise_id" if building else "building_id"
    two_t, two, two_cpu = _timed(lambda q: run(state, [q], k=k, max_scored=m)[0], ids)
    live = None
    if building and state.kept_candidates(PoolRules(), m) is not None:
        # the same queries with stage 1 computed per query (as under other rules)
        no_kept = dataclasses.replace(state, candidates=None)
        live_t, live_res, live_cpu = _timed(lambda q: run(no_kept, [q], k=k, max_scored=m)[0], ids)
        live = {**percentiles(live_t), **live_cpu, "same_results": live_res == two}
    naive = dataclasses.replace(state, compiled=None)  # the baseline: LightGBM on every pair
    full_t, full, full_cpu = _timed(
        lambda q: run(naive, [q], k=k, max_scored=None)[0], ids[:n_full]
    )
    two_stats = {**percentiles(two_t), **two_cpu}
    full_stats = {**percentiles(full_t), **full_cpu}
    sweep = {}
    for m_try in (m // 4, m // 2, m * 2):
        times, res, _ = _timed(
            lambda q, m_try=m_try: run(state, [q], k=k, max_scored=m_try)[0], ids[:n_full]
        )
        sweep[str(m_try)] = {"overlap": overlap(res, full, key=key),
                             "p50_ms": percentiles(times).get("p50_ms")}  # fmt: skip
    out = {
        "m": m,
        "two_stage_threads": threads,
        "full_scan_threads": _lightgbm_threads(state),
        "two_stage": two_stats,
        "full_scan": full_stats,
        "speedup_p50": full_stats["p50_ms"] / two_stats["p50_ms"],
        "speedup_mean": full_stats["mean_ms"] / two_stats["mean_ms"],
        "speedup_cpu": full_cpu["cpu_mean_ms"] / two_cpu["cpu_mean_ms"],
        f"top{k}_overlap": overlap(two[:n_full], full, key=key),
        "m_sweep": sweep,
    }
    if live is not None:
        out["two_stage_stage1_live"] = live
        out["speedup_mean_stage1_live"] = full_stats["mean_ms"] / live["mean_ms"]
    return out


def _lightgbm_threads(state: ScoringState) -> int | None:
    """The threads LightGBM predicts with (its booster's ``num_threads``; 0: OpenMP's default,
    every core), None for another scorer."""
    booster = getattr(state.model.scorer, "booster_", None)
    threads = booster.params.get("num_threads") if booster is not None else None
    return None if threads is None else int(threads) or available_cores()


def breakdown(
    state: ScoringState, ids: Sequence[str], *, k: int, m: int, threads: int
) -> dict[str, Any]:
    """Mean wall and CPU ms per building query of each two-stage step (stage 1, X for M rows,
    the ranker on M rows, contributions for k rows) on ``threads``: where the time goes, and
    how much of the wall time is waiting for a core on a shared machine (CPU ms count every
    thread's)."""
    from tenantmatch.matching.shortlist import _features, _model_scores, _staged_for_buildings

    names = ("stage1", "stage1_live", "features", "predict", "reasons")
    live = dataclasses.replace(state, candidates=None)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    explain = (functools.partial(state.explainer.contributions, threads=threads)
               if state.explainer else None)  # fmt: skip
    for b in state.pool.buildings.positions(list(ids), kind="building"):
        marks = [(time.perf_counter(), time.process_time())]
        pairs = _staged_for_buildings(state, np.array([b]), rules=PoolRules(), m=m, threads=threads)
        marks.append((time.perf_counter(), time.process_time()))
        _staged_for_buildings(live, np.array([b]), rules=PoolRules(), m=m, threads=threads)
        marks.append((time.perf_counter(), time.process_time()))
        if len(pairs) == 0:
            continue
        X = _features(state, pairs, threads=threads)
        marks.append((time.perf_counter(), time.process_time()))
        _model_scores(state, X, threads=threads)
        marks.append((time.perf_counter(), time.process_time()))
        if explain is not None:
            explain(X.iloc[:k])
        marks.append((time.perf_counter(), time.process_time()))
        for name, (a, z) in zip(names, itertools.pairwise(marks), strict=True):
            wall[name].append(z[0] - a[0])
            cpu[name].append(z[1] - a[1])
    out = {f"{n}_mean_ms": float(np.mean(v)) * 1000.0 for n, v in wall.items() if v}
    return out | {f"{n}_cpu_mean_ms": float(np.mean(v)) * 1000.0 for n, v in cpu.items() if v}


def _sample(ids: Sequence[str], n: int, *, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        str(x)
        for x in rng.choice(np.asarray(ids, dtype=object), size=min(n, len(ids)), replace=False)
    ]


def ndcg_by_m(
    state: ScoringState,
    labels: Any,
    *,
    n_queries: int,
    k: int,
    ms: Sequence[int | None],
    seed: int,
) -> dict[str, Any]:
    """Mean NDCG@10 of building shortlists at each M of ``ms`` (None: the full scan) over the
    same evaluation queries with a positive; a labelled pair missing from a top-k list counts
    as ranked below it."""
    positives = labels[labels["grade"] >= 1]
    known = set(state.pool.buildings.ids)
    queries = [b for b in sorted(positives["building_id"].unique()) if b in known]
    queries = _sample(queries, n_queries, seed=seed)
    out: dict[int | None, list[float]] = {m: [] for m in ms}
    for b in queries:
        grades = labels[labels["building_id"] == b].set_index("enterprise_id")["grade"]
        for m in ms:
            ranked = _items(shortlist_for_buildings(state, [b], k=k, max_scored=m)[0],
                            "enterprise_id")  # fmt: skip
            missing = [e for e in grades.index if e not in set(ranked)]
            g = np.array([grades.get(e, 0) for e in ranked + missing], dtype=float)
            scores = np.r_[np.arange(len(ranked), 0, -1), np.full(len(missing), -1.0)]
            out[m].append(ndcg_at_k(g, scores, k=10))
    return {"queries": len(queries), "ndcg@10": {m: float(np.mean(v)) for m, v in out.items()}}


def ndcg_both(
    state: ScoringState, labels: Any, *, n_queries: int, k: int, m: int, seed: int
) -> dict[str, Any]:
    """:func:`ndcg_by_m` of the two-stage path at ``m`` and of the full scan."""
    result = ndcg_by_m(state, labels, n_queries=n_queries, k=k, ms=(m, None), seed=seed)
    ndcg = result["ndcg@10"]
    return {"queries": result["queries"], "ndcg@10_two_stage": ndcg[m],
            "ndcg@10_full_scan": ndcg[None]}  # fmt: skip


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """The latency stage: args db, store, as_of, k, m, m_buildings, queries, full_queries,
    e_queries, ndcg_queries."""
    repo = Repository(f"sqlite:///{Path(args['db']).resolve()}")
    k, seed = int(args.get("k", 50)), int(args.get("seed", 0))
    start = time.perf_counter()
    engine = Engine(
        repo,
        Path(args["store"]),
        as_of=date.fromisoformat(args["as_of"]),
        max_scored=int(args["m"]),
        max_scored_buildings=int(args["m_buildings"]),
        compile_trees=True,
        threads=args.get("threads"),  # None: every core, as a CLI call
    )
    state = engine.state()
    compiled_wait = time.perf_counter()
    compiled = state.compiled is not None and state.compiled.ready.wait(timeout=900)
    out: dict[str, Any] = {
        "compiled_trees": bool(compiled and state.compiled.available),  # type: ignore[union-attr]
        "compile_wait_s": time.perf_counter() - compiled_wait,
        "engine_build_s": time.perf_counter() - start,
        "prescorer_fitted": bool(state.prescorer and state.prescorer.fitted),
    }
    # stage 1 of every building under the default rules, kept as a server keeps it
    fill = time.perf_counter()
    out["candidates_filled"] = precompute_candidates(state, threads=engine.threads)
    out["candidates_fill_s"] = time.perf_counter() - fill
    b_ids = _sample(state.pool.buildings.ids, int(args["queries"]), seed=seed)
    e_ids = _sample(state.pool.enterprises.ids, int(args["e_queries"]), seed=seed)
    threads = engine.threads
    out["threads_per_query"] = threads
    n_full, m, m_e = int(args["full_queries"]), int(args["m"]), int(args["m_buildings"])
    out["building_to_enterprise"] = _direction(
        state, b_ids, n_full=n_full, k=k, m=m, building=True, threads=threads
    )
    out["building_breakdown"] = breakdown(state, b_ids[:30], k=k, m=m, threads=threads)
    out["enterprise_to_building"] = _direction(
        state, e_ids, n_full=len(e_ids), k=k, m=m_e, building=False, threads=threads
    )
    del engine, state
    gc.collect()
    out["evaluation"] = _evaluation(repo, args, k=k, seed=seed)
    return out


def engine_at_cut(repo: Repository, store: Path, **engine_args: Any) -> tuple[Engine, Any, Any]:
    """An Engine as of the training cut, the evaluation window's labels and the split: what
    NDCG on the held-out year is measured with."""
    tables = repo.load_tables()
    split = make_split(tables)
    labels = window_labels(tables, window=split.evaluation)
    del tables
    return Engine(repo, store, as_of=split.cut.date(), **engine_args), labels, split


def _evaluation(repo: Repository, args: dict[str, Any], *, k: int, seed: int) -> dict[str, Any]:
    """NDCG@10 of both paths on the evaluation window, with an Engine as of the training cut."""
    engine, labels, split = engine_at_cut(repo, Path(args["store"]), max_scored=int(args["m"]))
    result = ndcg_both(
        engine.state(),
        labels,
        n_queries=int(args["ndcg_queries"]),
        k=k,
        m=int(args["m"]),
        seed=seed,
    )
    return {"cut": str(split.cut.date()), "window": str(split.evaluation), **result}
