"""The shortlist ``Engine`` the CLI and the API hold: data, model, snapshot, candidate pool and
pre-score arrays, rebuilt only when the data version or the CURRENT model changes (checked on
every request). Shortlists are two-stage by default (see ``matching.shortlist``)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tenantmatch.features import (
    FeatureError,
    Vocabulary,
    available_cores,
    context_for,
    feature_names,
    feature_spec_fingerprint,
    patched_context_for,
)
from tenantmatch.matching.candidates import CandidatePool, PoolRules
from tenantmatch.matching.first_stage import served_building_m
from tenantmatch.matching.freshness import Freshness, registry_freshness
from tenantmatch.matching.precomputed import BuildingCandidates, lowest_priority
from tenantmatch.matching.shortlist import (
    ScoringState,
    precompute_candidates,
    shortlist_for_buildings,
    shortlist_for_enterprises,
)
from tenantmatch.models import (
    PRESCORER_FILE,
    CompiledModel,
    IncompatibleModelError,
    LoadedModel,
    ModelStoreError,
    PathExplainer,
    Prescorer,
    check_compatible,
    compiled_model,
    current_version,
    feature_set_of,
    load_current,
    model_vocabulary,
    path_explainer,
    unfitted_prescorer,
)
from tenantmatch.registry import (
    FIRST_YEAR,
    LAST_YEAR,
    InputError,
    Registry,
    Snapshot,
    TenantmatchError,
)
from tenantmatch.store import Repository

logger = logging.getLogger(__name__)

# M: enterprises per building query the ranker scores. At 1M enterprises (40 queries) M = 750 /
# 1,000 / 1,500 / 3,000 kept 0.995 / 0.998 / 0.999 / 1.000 of the full scan's top 50 with the
# current 200k model (0.961 / 0.970 / 0.978 / 0.988 with the one before), and NDCG@10 on the
# evaluation year equal to the full scan's at every M (benchmarks/results/m-study-1000000.json).
DEFAULT_MAX_SCORED = 1000
# M: buildings per enterprise query. Buildings grow with the registry (25,000 at 1M
# enterprises): there M = 500 kept 0.922 of the full scan's top 50, M = 1,000 0.967, for about
# 1 ms more per query (p50 7.4 -> 8.3 ms; benchmarks/results/scale-1m-model200k.json, m_sweep).
# Quality holds (200k, evaluation year, 200 queries): M = 250 / 500 / 1,000 / 2,000 reach
# 0.48 / 0.54 / 0.65 / 0.73 of the moves, and the model's NDCG@10 stays 0.91 / 0.95 / 0.94 / 0.95
# of the ceiling's on the same pools. NDCG@10 itself falls with M (0.368 / 0.324 / 0.271 /
# 0.250, the ceiling's alike) because it averages over the queries whose move is in the pool,
# and a larger pool adds the harder ones; NDCG@10 times coverage stays flat (0.177 / 0.175 /
# 0.177 / 0.181).
DEFAULT_MAX_SCORED_BUILDINGS = 1000
# Engine(max_scored=...): the M the served model's manifest records (training plans it)
FROM_MODEL: Literal["model"] = "model"
FILL_CHUNK = 64  # buildings the background fill computes between checks that its state is current
Refresh = Literal["sync", "background"]
REFRESH_RETRY_S = 30.0  # a failed background refresh of one target is retried after this long


class ModelNotReadyError(InputError):
    """No usable model is in the store (none promoted yet, or trained on other features)."""


class StateBehindError(TenantmatchError):
    """The serving state has not reached a data version a caller waits for (yet)."""


class Engine:
    """Shortlists as of ``as_of`` from the data in ``repo`` and the CURRENT model in ``store``.

    Thread safe: one lock guards the freshness check and rebuilds; a request then works on an
    immutable state, so a rebuild never changes a shortlist half-way.
    """

    def __init__(
        self,
        repo: Repository,
        store: Path,
        *,
        as_of: date | Callable[[], date],
        max_scored: int | Literal["model"] | None = FROM_MODEL,
        max_scored_buildings: int | None = DEFAULT_MAX_SCORED_BUILDINGS,
        compile_trees: bool = False,
        threads: int | None = None,
        precompute_candidates: bool = False,
        refresh: Refresh = "sync",
    ) -> None:
        """``max_scored`` / ``max_scored_buildings``: M, the candidates per building /
        enterprise query the ranker scores after the pre-score; None scores all (full scan).
        ``max_scored`` "model" (the default): the M the served model's manifest records
        (``first_stage``, fixed at training), :data:`DEFAULT_MAX_SCORED` if it records none.
        ``compile_trees``: compile the model's trees (lleaves): ~6x cheaper scoring for tens of
        seconds once per model, worth it in a long-running server, not in a one-off CLI call.
        ``as_of``: the snapshot date, or a function giving it (a server passes "today", so the
        snapshot moves on at midnight without a restart).
        ``threads``: threads one query's scoring is split over (same results); None: every
        core of the machine (one process alone on it: a CLI call, a benchmark). A server with
        several worker processes passes its share (``api.Settings.threads_per_query``).
        ``refresh``: when the data or the model changed, "sync" builds the new state before
        answering (a CLI call, a batch job); "background" answers from the state it has while
        one thread builds the next (a server: a write never stalls a read; the answer carries
        the data version it stands on, and :meth:`wait_for` lets a caller wait for its write).
        Either way a write's state is patched from the rows it touched (``store.changes``)
        rather than reloaded, unless the change log says too much changed."""
        if threads is not None and threads < 1:
            raise InputError(f"threads={threads!r} invalid; allowed: an integer >= 1, or None")
        if refresh not in ("sync", "background"):
            raise InputError(f"refresh={refresh!r} invalid; allowed: 'sync', 'background'")
        self.refresh: Refresh = refresh
        self.threads = available_cores() if threads is None else int(threads)
        self.compile_trees = compile_trees
        self.precompute_candidates = precompute_candidates
        self.repo = repo
        self._max_scored = max_scored
        self.max_scored_buildings = max_scored_buildings
        self.store = Path(store)
        self._as_of = as_of if callable(as_of) else (lambda: as_of)
        self._lock = threading.Lock()
        self._state: ScoringState | None = None
        self._refresher: threading.Thread | None = None  # the background refresh, if running
        self._refreshed = threading.Condition(self._lock)  # notified when a state is swapped in
        self._failed: tuple[tuple[int, str, pd.Timestamp], float] | None = None  # target, when
        # One state on another date (``state(as_of=...)``), for admins' dated shortlists: built
        # on demand beside the current one (as much memory again), replaced by the next date.
        self._dated_lock = threading.Lock()
        self._dated: tuple[tuple[int | None, str, pd.Timestamp], ScoringState] | None = None
        self._freshness: weakref.WeakKeyDictionary[ScoringState, Freshness] = (
            weakref.WeakKeyDictionary()
        )
        self._freshness_lock = threading.Lock()
        # Scoring is CPU-bound: one at a time per engine. More threads would only contend for
        # the GIL and the cores; waiting requests sleep. Finished answers are cached by the
        # server, as rendered JSON (api.answer_cache), not here.
        self._scoring = threading.Lock()

    def shortlist_for_buildings(
        self, building_ids: Sequence[str], *, k: int = 20, rules: PoolRules | None = None,
        state: ScoringState | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """One jsonl object per building id (see ``matching.shortlist``), in query order;
        ``state``: one :meth:`state` returned (the caller checked freshness already), else
        the current one."""
        state = state or self.state()
        return self._shortlists(shortlist_for_buildings, building_ids, k=k, rules=rules,
                                max_scored=self._building_m(state.model), state=state)  # fmt: skip

    def shortlist_for_enterprises(
        self, enterprise_ids: Sequence[str], *, k: int = 20, rules: PoolRules | None = None,
        state: ScoringState | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """One jsonl object per enterprise id, in query order; ``state`` as for buildings."""
        return self._shortlists(shortlist_for_enterprises, enterprise_ids, k=k, rules=rules,
                                max_scored=self.max_scored_buildings, state=state)  # fmt: skip

    def _shortlists(
        self,
        fn: Callable[..., list[dict[str, Any]]],
        ids: Sequence[str],
        *,
        k: int,
        rules: PoolRules | None,
        max_scored: int | None,
        state: ScoringState | None,
    ) -> list[dict[str, Any]]:
        """Both directions, scored one call at a time."""
        state, rules = state or self.state(), rules or PoolRules()
        with self._scoring:
            return fn(state, [str(i) for i in ids], k=k, rules=rules, max_scored=max_scored,
                      threads=self.threads)  # fmt: skip

    @property
    def max_scored(self) -> int | None:
        """M of building queries for the state served now (without refreshing it): the
        setting, or with "model" the served model's (the default before any state)."""
        state = self._state
        if state is None:
            return DEFAULT_MAX_SCORED if self._max_scored == FROM_MODEL else self._max_scored  # type: ignore[return-value]
        return self._building_m(state.model)

    def _building_m(self, model: LoadedModel) -> int | None:
        if self._max_scored == FROM_MODEL:
            return served_building_m(model.manifest, default=DEFAULT_MAX_SCORED)
        return self._max_scored  # type: ignore[return-value]

    @property
    def model_version(self) -> str:
        """The version id of the model now serving (refreshing first)."""
        return self.state().model.version

    def candidates_kept(self) -> tuple[int, int] | None:
        """(buildings whose stage 1 is kept, buildings) of the state now served, without
        refreshing it (for monitoring); None before a state is built or if it keeps none."""
        state = self._state
        if state is None or state.candidates is None:
            return None
        return state.candidates.filled, len(state.candidates)

    @property
    def served_model_version(self) -> str | None:
        """The model version of the state served now, without refreshing it (for monitoring: a
        scrape must never rebuild); None before a state is built."""
        state = self._state
        return None if state is None else state.model.version

    @property
    def served_data_version(self) -> int | None:
        """The data_version of the state served now, without refreshing it (for monitoring);
        None before a state is built."""
        state = self._state
        return None if state is None else state.data_version

    @property
    def as_of(self) -> pd.Timestamp:
        """The date the snapshot stands on now."""
        return pd.Timestamp(self._as_of())

    def state(self, *, as_of: date | pd.Timestamp | None = None) -> ScoringState:
        """The current scoring state, rebuilt if the data or the CURRENT model changed;
        ModelNotReadyError when no usable model is stored. ``as_of``: the registry as it
        stood that day instead (tenancies and events after it ignored, tenure-like features
        computed at it); None or the engine's own date: the current state."""
        current = self._current_state()
        if as_of is None:
            return current
        if not FIRST_YEAR <= as_of.year <= LAST_YEAR:
            raise InputError(
                f"as_of={as_of.isoformat()} is out of range; allowed: a date in the years "
                f"{FIRST_YEAR} to {LAST_YEAR}"
            )
        day = pd.Timestamp(as_of).normalize()
        if day == current.snapshot.as_of:
            return current
        return self._dated_state(day, current)

    def freshness(self, *, as_of: date | pd.Timestamp | None = None) -> Freshness:
        """How current the registry is on the state's date (see ``matching.freshness``);
        computed once per state."""
        state = self.state(as_of=as_of)
        with self._freshness_lock:
            found = self._freshness.get(state)
        if found is None:
            found = registry_freshness(state.snapshot)
            with self._freshness_lock:
                self._freshness[state] = found
        return found

    def _dated_state(self, day: pd.Timestamp, current: ScoringState) -> ScoringState:
        """The state of the registry on ``day`` with the current model (the last one asked for
        is kept while the data and the model stay the same)."""
        with self._dated_lock:
            key = (current.data_version, current.model.version, day)
            if self._dated is not None and self._dated[0] == key:
                return self._dated[1]
            self._dated = None  # free the old date's arrays before building the new
            registry = current.registry
            if registry is None:
                registry = _registry_of(self.repo.load_tables())
            state = self._build(Snapshot.at(registry, day), previous=None,
                                parts=_ModelParts.of(current), data_version=current.data_version,
                                registry=None)  # fmt: skip
            self._dated = (key, state)
            return state

    def wait_for(self, data_version: int | None = None, *, timeout_s: float) -> ScoringState:
        """The current state once it stands on ``data_version`` or a later one (a caller's own
        write; one above the newest written counts as the newest), waiting up to ``timeout_s``
        for the background refresh; None: once it stands on the newest data, the CURRENT model
        and today's date. StateBehindError on timeout."""
        if data_version is not None:
            data_version = min(data_version, self.repo.data_version())
        deadline = time.monotonic() + timeout_s
        while True:
            state = self._current_state()  # starts the refresh if it is needed
            with self._refreshed:
                state = self._state or state
                if data_version is None:
                    done = self._serves(state, self._target())
                else:
                    done = (state.data_version or 0) >= data_version
                if done:
                    return state
                left = deadline - time.monotonic()
                if left <= 0:
                    wanted = "the newest data" if data_version is None else data_version
                    raise StateBehindError(
                        f"the shortlists still stand on data version {state.data_version} after "
                        f"{timeout_s:g} s, not yet on {wanted}; retry shortly"
                    )
                self._refreshed.wait(min(left, 1.0))

    def _target(self) -> tuple[int, str, pd.Timestamp]:
        """What the current state must stand on: (data_version, CURRENT model, date)."""
        return self.repo.data_version(), self._current_model_version(), self.as_of

    @staticmethod
    def _serves(state: ScoringState | None, target: tuple[int, str, pd.Timestamp]) -> bool:
        data_version, model, as_of = target
        return (state is not None and state.data_version == data_version
                and state.model.version == model and state.snapshot.as_of == as_of)  # fmt: skip

    def _current_state(self) -> ScoringState:
        with self._lock:
            target = self._target()
            state = self._state
            if self._serves(state, target):
                return state  # type: ignore[return-value]
            if state is not None and self.refresh == "background":
                self._start_refresh(target)
                return state
            del state  # _next_state may let the old data go before loading the new
            self._swap(self._next_state(self._state, target[2], drop_old=True))
            return self._state  # type: ignore[return-value]

    def _start_refresh(self, target: tuple[int, str, pd.Timestamp]) -> None:
        """Start the background refresh unless it runs, or failed on this target lately."""
        if self._refresher is not None and self._refresher.is_alive():
            return
        failed = self._failed
        if failed is not None and failed[0] == target and (
            time.monotonic() - failed[1] < REFRESH_RETRY_S
        ):
            return
        self._refresher = threading.Thread(target=self._refresh, name="tenantmatch-refresh",
                                           daemon=True)  # fmt: skip
        self._refresher.start()

    def _refresh(self) -> None:
        """Background: build states until one stands on the newest data and model; the old
        state answers meanwhile. A failure is logged and leaves the old state serving."""
        while True:
            with self._lock:
                state = self._state
                try:
                    target = self._target()
                except Exception:  # no usable model, the database unreachable: requests say so
                    logger.exception("background refresh: cannot tell what to serve; serving "
                                     "the state it has")  # fmt: skip
                    return
                if self._serves(state, target):
                    return
            start = time.perf_counter()
            try:
                new = self._next_state(state, target[2], drop_old=False)
            except Exception:
                logger.exception("background refresh to data version %d failed; serving %s",
                                 target[0], getattr(state, "data_version", None))  # fmt: skip
                with self._lock:
                    self._failed = (target, time.monotonic())
                return
            with self._lock:
                if self._state is state:
                    self._swap(new)
            logger.info("refreshed to data version %s in %.2f s", new.data_version,
                        time.perf_counter() - start)  # fmt: skip
            del state, new

    def _swap(self, state: ScoringState) -> None:
        """Serve ``state`` from now on (the lock is held)."""
        self._state = state
        self._refreshed.notify_all()
        if self.precompute_candidates and state.candidates is not None:
            threading.Thread(target=self._fill_candidates, args=(weakref.ref(state),),
                             name="tenantmatch-candidates", daemon=True).start()  # fmt: skip

    def _next_state(
        self, state: ScoringState | None, as_of: pd.Timestamp, *, drop_old: bool
    ) -> ScoringState:
        """The state after ``state`` for the data stored now, the CURRENT model and ``as_of``:
        its registry patched with the rows the change log names since its data version, or
        every table reloaded when the log cannot say (``drop_old``: the old state's data is
        let go first; holding both peaked at 5.8 GB instead of 3.1 GB at 1M enterprises)."""
        parts = _ModelParts.of(state)
        registry, version, touched = None, None, None
        if state is not None and state.registry is not None and state.data_version is not None:
            delta, rows = self.repo.changes_since(state.data_version)
            if not delta.full:
                registry, version = state.registry, delta.until
                touched = delta.buildings, delta.enterprises
                if not delta.empty:
                    registry = registry.patched(rows, buildings=delta.buildings,
                                                enterprises=delta.enterprises)  # fmt: skip
                logger.info("data version %d -> %d: %d building(s), %d enterprise(s) re-read",
                            delta.since, delta.until, len(delta.buildings),
                            len(delta.enterprises))  # fmt: skip
        if registry is None or version is None:
            if drop_old and state is not None:
                self._state = None
                state = None
            version, tables = self.repo.versioned_tables()
            registry = _registry_of(tables)
        if state is not None and state.registry is registry and state.snapshot.as_of == as_of:
            snapshot = state.snapshot  # only the model changed
        else:
            snapshot = Snapshot.at(registry, as_of)
            logger.info("snapshot as of %s: %d buildings, %d enterprises", as_of.date(),
                        len(snapshot.buildings), len(snapshot.enterprises))  # fmt: skip
        return self._build(snapshot, previous=state, parts=parts, data_version=version,
                           registry=registry, touched=touched)  # fmt: skip

    def _fill_candidates(self, ref: weakref.ref[ScoringState]) -> None:
        """Background: stage 1 of every building of the state ``ref`` names that has none yet,
        a few buildings at a time, until all are kept or the state is no longer the engine's
        (between chunks it holds no reference that would keep an old state's arrays alive)."""
        lowest_priority()
        start = time.perf_counter()
        state = ref()
        if state is None or state.candidates is None:
            return
        todo = state.candidates.missing()
        del state
        for first in range(0, len(todo), FILL_CHUNK):
            state = ref()
            if state is None or state is not self._state:
                return
            try:
                precompute_candidates(state, todo[first : first + FILL_CHUNK])
            except Exception:  # an optimisation: queries compute what is missing themselves
                logger.exception("precomputing stage-1 candidates failed after %d", first)
                return
            del state
        state = ref()
        if state is not None and state.candidates is not None:
            logger.info("stage-1 candidates of %d buildings kept (%.0f MB) in %.1f s",
                        len(state.candidates), state.candidates.nbytes / 2**20,
                        time.perf_counter() - start)  # fmt: skip

    def _current_model_version(self) -> str:
        try:
            version = current_version(self.store)
        except ModelStoreError as exc:
            raise _not_ready(self.store, str(exc)) from exc
        if version is None:
            raise _not_ready(self.store, "no model has been promoted")
        return version

    def _build(
        self, snapshot: Snapshot, *, previous: ScoringState | None, parts: _ModelParts | None,
        data_version: int | None, registry: Registry | None,
        touched: tuple[frozenset[str], frozenset[str]] | None = None,
    ) -> ScoringState:
        """State for ``snapshot`` with the CURRENT model; reuses the pool of ``previous`` on the
        same snapshot (the feature context is cached on the snapshot per vocabulary) and the
        model's ``parts`` when the model is unchanged; ``touched``: the (buildings, enterprises)
        a write changed since ``previous``, whose feature context is then patched, not built."""
        model = self._load_model(previous=parts.model if parts else None)
        same_model = parts is not None and parts.model is model
        vocab = parts.vocab if same_model else model_vocabulary(model)  # type: ignore[union-attr]
        if touched is not None and previous is not None and previous.ctx.vocab is vocab:
            ctx = patched_context_for(snapshot, previous.ctx, buildings=touched[0],
                                      enterprises=touched[1])  # fmt: skip
        else:
            ctx = context_for(snapshot, vocab=vocab)
        if previous is not None and previous.snapshot is snapshot:
            pool = previous.pool
        else:
            same = None
            if touched is not None and previous is not None and _same_rows(
                previous.snapshot.enterprises, snapshot.enterprises, touched[1]
            ):
                same = previous.pool
            pool = CandidatePool.from_snapshot(snapshot, need_m2=ctx.enterprises["space_need_m2"],
                                               same_enterprises=same)  # fmt: skip
        prescorer = _prescorer_of(model, previous=parts)
        reuse = previous is not None and previous.ctx is ctx and previous.prescorer is prescorer
        index = previous.prescore if reuse else prescorer.build_index(ctx)  # type: ignore[union-attr]
        fitted = "fitted" if prescorer.fitted else "unfitted"
        logger.info("serving model %s on data as of %s (%s pre-score)", model.version,
                    snapshot.as_of.date(), fitted)  # fmt: skip
        explainer = parts.explainer if same_model else path_explainer(model.scorer)  # type: ignore[union-attr]
        compiled = parts.compiled if same_model else self._compiled(model)  # type: ignore[union-attr]
        kept, m = None, self._building_m(model)
        if m is not None and index is not None:
            kept = BuildingCandidates(pool, index, rules=PoolRules(), m=m)
        return ScoringState(snapshot=snapshot, ctx=ctx, vocab=vocab, model=model, pool=pool,
                            prescorer=prescorer, prescore=index, explainer=explainer,
                            compiled=compiled, candidates=kept, data_version=data_version,
                            registry=registry)  # fmt: skip

    def _compiled(self, model: LoadedModel) -> CompiledModel | None:
        if not self.compile_trees:
            return None
        return compiled_model(model.scorer, feature_names=model.manifest["feature_names"])

    def _load_model(self, *, previous: LoadedModel | None) -> LoadedModel:
        try:
            model = load_current(self.store, previous=previous)
            features = feature_set_of(model.manifest)
            fingerprint = feature_spec_fingerprint(features)
            check_compatible(model.manifest, feature_names=feature_names(features),
                             feature_spec_fingerprint=fingerprint)  # fmt: skip
        except IncompatibleModelError as exc:
            raise _not_ready(self.store, f"{exc}") from exc
        except ModelStoreError as exc:
            raise _not_ready(self.store, str(exc)) from exc
        except FeatureError as exc:
            raise _not_ready(self.store, f"its vocabulary is unusable: {exc}") from exc
        return model


@dataclass(frozen=True)
class _ModelParts:
    """What a state built from the same model reuses, whatever the data."""

    model: LoadedModel
    vocab: Vocabulary  # with the model's move hazard: contexts are cached per vocabulary
    prescorer: Prescorer | None
    explainer: PathExplainer | None
    compiled: CompiledModel | None

    @classmethod
    def of(cls, state: ScoringState | None) -> _ModelParts | None:
        if state is None:
            return None
        return cls(state.model, state.vocab, state.prescorer, state.explainer, state.compiled)


def _same_rows(old: pd.DataFrame, new: pd.DataFrame, touched: frozenset[str]) -> bool:
    """Do the two enterprise tables hold the same rows in the same order, given that only the
    ``touched`` ids can differ."""
    if not old.index.equals(new.index):
        return False
    ids = pd.Index(sorted(touched), dtype=object)
    ids = ids[new.index.get_indexer(ids) >= 0]
    return old.loc[ids].equals(new.loc[ids])


def _registry_of(tables: dict[str, pd.DataFrame]) -> Registry:
    try:
        return Registry.from_tables(tables)
    except FeatureError as exc:
        raise InputError(f"the stored data cannot be used for shortlists: {exc}") from exc


def _prescorer_of(model: LoadedModel, *, previous: _ModelParts | None) -> Prescorer:
    """The model's stored pre-scorer (read once per model version), else the unfitted one."""
    if previous is not None and previous.model is model and previous.prescorer is not None:
        return previous.prescorer
    data = model.attachments.get(PRESCORER_FILE)
    if data is None:
        logger.warning("model %s stores no pre-scorer; using the unfitted pre-score "
                       "(retrain to fit one)", model.version)  # fmt: skip
        return unfitted_prescorer()
    return Prescorer.from_bytes(data)


def _not_ready(store: Path, why: str) -> ModelNotReadyError:
    return ModelNotReadyError(
        f"no usable model in the model store {store} ({why}); run `tenantmatch train` first"
    )
