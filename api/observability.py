"""Structured JSON logs carrying the request id, and the Prometheus metrics of one app (or of
every worker of a server, through prometheus_client's multiprocess mode)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
request_id_var: ContextVar[str | None] = ContextVar("tenantmatch_request_id", default=None)

# Latency buckets in seconds: shortlists take milliseconds, planning and imports take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STD_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})))
# prometheus_client's switch: when set as it is imported, every metric of the process lives
# in files of this folder, and one scrape can sum the files of every process
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def accept_request_id(presented: str | None) -> str:
    """The caller's X-Request-ID when it is a short token (<= 128 of ``A-Za-z0-9._:-``), else a
    fresh uuid4 hex; anything else could inject text into the logs."""
    if presented and _REQUEST_ID_SHAPE.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO), level, logger, message, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STD_RECORD_FIELDS and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_json_logging(level: str) -> None:
    """Route the root logger (and uvicorn's) through one JSON handler on stderr; idempotent."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # The middleware writes one structured line per request; uvicorn's own access line would
    # repeat it without the request id.
    logging.getLogger("uvicorn.access").disabled = True


class _ModelCollector(Collector):
    """Reports at scrape time the model version the served state holds (a promotion shows once
    a request has picked it up)."""

    def __init__(self, version_of: Callable[[], str | None]) -> None:
        self._version_of = version_of

    def collect(self) -> Iterator[GaugeMetricFamily | InfoMetricFamily]:
        version = self._version_of()
        info = InfoMetricFamily("tenantmatch_model", "The model version the service serves.")
        info.add_metric([], {"version": version or "none"})
        yield info
        loaded = GaugeMetricFamily("tenantmatch_model_loaded", "1 when a model is loaded.")
        loaded.add_metric([], 1.0 if version else 0.0)
        yield loaded


class _StageOneCollector(Collector):
    """Reports at scrape time how many buildings have their stage 1 kept (the background fill
    after a data or model change, ``matching.precomputed``) out of how many."""

    def __init__(self, kept_of: Callable[[], tuple[int, int] | None]) -> None:
        self._kept_of = kept_of

    def collect(self) -> Iterator[GaugeMetricFamily]:
        kept, total = self._kept_of() or (0, 0)
        for name, text, value in (
            ("tenantmatch_stage1_buildings_kept", "Buildings whose stage 1 is kept.", kept),
            ("tenantmatch_stage1_buildings", "Buildings of the data version served.", total),
        ):
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], float(value))
            yield gauge


Committed = Callable[[], tuple[int, datetime | None]]  # (data_version, when it was written)
_STATE_VERSION = "tenantmatch_state_data_version"


class _FreshnessCollector(Collector):
    """At scrape time: the newest committed data_version and, for each worker, how far the
    state it serves is behind it (issue 20: the lag between a write and the answers)."""

    def __init__(self, committed: Committed, states: Callable[[], dict[str, float]]) -> None:
        self._committed = committed
        self._states = states

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            version, written_at = self._committed()
        except Exception:  # a database that is down must not break the scrape
            log.warning("metrics: the committed data version is unreadable", exc_info=True)
            return
        committed = GaugeMetricFamily(
            "tenantmatch_data_version", "The newest committed data_version of the registry."
        )
        committed.add_metric([], float(version))
        yield committed
        behind = GaugeMetricFamily(
            "tenantmatch_state_lag_versions",
            "Committed writes a worker's serving state does not include yet.", labels=["pid"],
        )
        seconds = GaugeMetricFamily(
            "tenantmatch_state_lag_seconds",
            "Age of the newest committed write while a worker's state does not include it "
            "(0 when the state is current).", labels=["pid"],
        )  # fmt: skip
        age = (datetime.now(UTC) - written_at).total_seconds() if written_at else 0.0
        for pid, served in self._states().items():
            lag = max(0.0, version - served)
            behind.add_metric([pid], lag)
            seconds.add_metric([pid], max(0.0, age) if lag else 0.0)
        yield behind
        yield seconds


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """A private, empty folder for the metric files of the workers this process starts, named
    in ``PROMETHEUS_MULTIPROC_DIR`` (the workers import prometheus_client after it is set);
    the variable restored and the folder removed at the end, when the workers are gone."""
    folder = tempfile.mkdtemp(prefix="tenantmatch-metrics-")  # mode 0700
    before = os.environ.get(MULTIPROC_DIR_ENV)
    os.environ[MULTIPROC_DIR_ENV] = folder
    try:
        yield Path(folder)
    finally:
        if before is None:
            os.environ.pop(MULTIPROC_DIR_ENV, None)
        else:
            os.environ[MULTIPROC_DIR_ENV] = before
        shutil.rmtree(folder, ignore_errors=True)


class Metrics:
    """A private Prometheus registry per app (several apps may live in one test process). Under
    ``PROMETHEUS_MULTIPROC_DIR`` (the workers of ``tenantmatch serve``) the request latencies
    are read from the files of every worker, so one scrape counts every worker's requests; the
    model and stage-1 gauges are those of the worker that answers the scrape."""

    def __init__(
        self,
        *,
        model_version: Callable[[], str | None],
        stage_one_kept: Callable[[], tuple[int, int] | None] = lambda: None,
        served_data_version: Callable[[], int | None] = lambda: None,
        committed: Committed | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._shared_dir = os.environ.get(MULTIPROC_DIR_ENV)
        self.latency = Histogram(
            "tenantmatch_http_request_duration_seconds",
            "Request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            # in multiprocess mode the collector below reports it, from every worker's file
            registry=None if self._shared_dir else self.registry,
        )
        # The data_version of each worker's serving state, set after every request (a state
        # only changes while a request refreshes it); one value per live worker.
        self._served_data_version = served_data_version
        self.state_version = Gauge(
            _STATE_VERSION, "The data_version of the state a worker serves.",
            multiprocess_mode="liveall", registry=None if self._shared_dir else self.registry,
        )  # fmt: skip
        if self._shared_dir:
            multiprocess.MultiProcessCollector(self.registry, path=self._shared_dir)
        self.registry.register(_ModelCollector(model_version))
        self.registry.register(_StageOneCollector(stage_one_kept))
        if committed is not None:
            self.registry.register(_FreshnessCollector(committed, self._worker_states))

    def _worker_states(self) -> dict[str, float]:
        """pid -> the data_version each live worker serves (those that built a state)."""
        if not self._shared_dir:
            served = self._served_data_version()
            return {} if served is None else {str(os.getpid()): float(served)}
        found: dict[str, float] = {}
        for family in multiprocess.MultiProcessCollector(None, path=self._shared_dir).collect():
            if family.name == _STATE_VERSION:
                found |= {s.labels["pid"]: s.value for s in family.samples if s.value >= 0}
        return found

    def close(self) -> None:
        """At the worker's exit: prometheus_client's bookkeeping for a process gone (its files
        of live gauges removed; its counts stay in the sums)."""
        if self._shared_dir:
            multiprocess.mark_process_dead(os.getpid(), self._shared_dir)

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request under its route template (never the raw path), and the
        data_version the worker's state stands on after it."""
        self.latency.labels(method=method, route=route, status=str(status)).observe(seconds)
        served = self._served_data_version()
        self.state_version.set(-1 if served is None else served)
