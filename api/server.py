"""``tenantmatch serve``: the app on uvicorn, in one process or on worker processes that each
listen on a socket of their own.

uvicorn's multi-worker mode shares one listening socket between its workers, and a worker
woken by a burst of connections accepts every one waiting (asyncio accepts up to the backlog
per wake-up). Keep-alive clients then stay with that worker: one load run split its 32
connections 29/3, so one worker queued nearly every miss while the other core idled. Here each
worker binds its own socket with ``SO_REUSEPORT`` and the kernel spreads new connections over
the listening sockets by a hash of their addresses. A worker's socket starts listening only
once its app has loaded (asyncio calls ``listen`` when uvicorn starts serving), so a worker
still loading gets no connection; a worker that dies takes its socket with it and the others
take the new connections until its replacement listens.

The supervisor answers uvicorn's signals: SIGINT and SIGTERM stop the server, SIGHUP replaces
the workers one by one (a rolling restart: the new workers import the code on disk again),
SIGTTIN and SIGTTOU add and remove a worker. A connection still waiting in the queue of a socket
that closes is reset (the kernel hands it to no other worker): a rolling restart can drop one.

Linux only (elsewhere ``SO_REUSEPORT`` does not balance): other systems, and one worker, run
uvicorn as it is.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from tenantmatch.registry import InputError, TenantmatchError

log = logging.getLogger(__name__)

APP = "tenantmatch.api.app:create_app"
POLL_S = 0.5  # how often the supervisor looks at its workers
STOP_GRACE_S = 30.0  # a worker asked to stop that is still running this long is killed
READY_POLL_S = 0.1  # how often a worker looks whether uvicorn has started serving
_START_FAILED = "the service could not start; the log above says why"


class PortInUseError(InputError):
    """The address to serve on is taken by another program (or another server)."""


class StartupError(TenantmatchError):
    """The app could not start (its log says why): no worker is left serving."""


def serve(*, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve the app until SIGINT or SIGTERM; on Linux with several workers, one socket each
    (:class:`Workers`). PortInUseError when ``host:port`` is served already, StartupError when
    the app cannot start (uvicorn's own exit code would break the CLI's 0/1/2 contract)."""
    check_port_free(host, port)
    options: dict[str, Any] = {"factory": True, "host": host, "port": port,
                               "log_level": log_level}  # fmt: skip
    if workers > 1 and sys.platform.startswith("linux"):
        Workers(options, count=workers).run()
        return
    try:
        # a worker busy scoring answers the supervisor's ping late; 5 s (the default) made
        # uvicorn restart busy workers under load and drop their connections
        uvicorn.run(APP, workers=workers, timeout_worker_healthcheck=30, **options)
    except SystemExit as exc:
        if exc.code == STARTUP_FAILURE:
            raise StartupError(_START_FAILED) from None
        raise


def check_port_free(host: str, port: int) -> None:
    """PortInUseError when a socket listens on ``host:port``. Workers bind with
    ``SO_REUSEPORT``, which would otherwise join a serving server of the same user silently;
    this plain bind fails on any listening socket there (``SO_REUSEADDR`` only lets it past
    connections of an earlier run waiting in TIME_WAIT)."""
    with socket.socket(_family(host)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"cannot serve on {host}:{port}: {exc.strerror}") from exc


def worker_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with ``SO_REUSEPORT``, not listening yet: it joins the
    kernel's balancing group when asyncio calls ``listen`` on it."""
    sock = socket.socket(_family(host))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's rule


def _run_worker(options: dict[str, Any], ready: EventType) -> None:
    """A worker process: its own socket, then uvicorn on it (SIGINT/SIGTERM end it with exit 0);
    ``ready`` is set once it listens."""
    config = uvicorn.Config(APP, **options)
    server = uvicorn.Server(config)
    threading.Thread(target=_report_started, args=(server, ready), daemon=True).start()
    server.run(sockets=[worker_socket(config.host, config.port)])


def _report_started(server: uvicorn.Server, ready: EventType) -> None:
    while not server.started:  # uvicorn sets it once the app has loaded and the socket listens
        time.sleep(READY_POLL_S)
    ready.set()


@dataclass(frozen=True)
class _Worker:
    process: BaseProcess
    ready: EventType


class Workers:
    """``count`` worker processes (spawned, so none inherits the supervisor's threads), kept
    running until SIGINT or SIGTERM, with uvicorn's other signals: SIGHUP replaces the workers
    one by one (each old one stops once its replacement listens), SIGTTIN adds a worker and
    SIGTTOU removes one. A worker that fails is replaced; one that ends cleanly was asked to
    (the signal reached it first) and is not; a worker whose app cannot start stops them all
    (StartupError)."""

    def __init__(self, options: dict[str, Any], *, count: int) -> None:
        self.options = options
        self.count = count
        self.stop = threading.Event()
        self._signals: list[int] = []
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def run(self) -> None:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in handled}  # POSIX only
        self._workers = [self._start() for _ in range(self.count)]
        failed = False
        try:
            while not self.stop.wait(POLL_S) and any(w.process.exitcode != 0
                                                     for w in self._workers):  # fmt: skip
                self._handle_signals()
                failed = self._replace_failed()
        finally:
            _stop_all([w.process for w in self._workers])
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        if failed:
            raise StartupError(_START_FAILED)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if signum in (signal.SIGINT, signal.SIGTERM):
            self.stop.set()
        else:
            self._signals.append(signum)

    def _handle_signals(self) -> None:
        while self._signals and not self.stop.is_set():
            signum = self._signals.pop(0)
            if signum == signal.SIGHUP:
                log.info("SIGHUP: replacing the workers one by one")
                self._restart_all()
            elif signum == signal.SIGTTIN:
                self._workers.append(self._start())
                log.info("SIGTTIN: %d workers", len(self._workers))
            elif signum == signal.SIGTTOU and len(self._workers) > 1:
                _stop_all([self._workers.pop().process])
                log.info("SIGTTOU: %d workers", len(self._workers))

    def _replace_failed(self) -> bool:
        """Start a worker in place of each that failed; True when one could not start its app
        (then nothing is replaced and the supervisor stops)."""
        for i, worker in enumerate(self._workers):
            code = worker.process.exitcode
            if code in (None, 0):
                continue
            if code == STARTUP_FAILURE:
                log.error("worker %s could not start its app; stopping", worker.process.pid)
                self.stop.set()
                return True
            log.warning("worker %s exited with code %s; starting another",
                        worker.process.pid, code)  # fmt: skip
            self._workers[i] = self._start()
        return False

    def _restart_all(self) -> None:
        """Each worker replaced by a new one (which imports the code on disk again); the old
        one stops once the new one listens, so the server keeps answering throughout. Should a
        new one not get there, it is stopped and the old ones keep serving."""
        for i, old in enumerate(list(self._workers)):
            new = self._start()
            while not new.ready.wait(POLL_S):
                if self.stop.is_set() or new.process.exitcode is not None:
                    log.error("new worker %s did not start; keeping the others",
                              new.process.pid)  # fmt: skip
                    _stop_all([new.process])
                    return
            _stop_all([old.process])
            self._workers[i] = new

    def _start(self) -> _Worker:
        ready = self._context.Event()
        process = self._context.Process(target=_run_worker, args=(self.options, ready),
                                        name="tenantmatch-worker")  # fmt: skip
        process.start()
        log.info("started worker %s", process.pid)
        return _Worker(process, ready)


def _stop_all(processes: list[BaseProcess]) -> None:
    """SIGTERM to the running workers (uvicorn finishes their open requests), SIGKILL to any
    still running ``STOP_GRACE_S`` later."""
    for process in processes:
        if process.exitcode is None:
            process.terminate()
    for process in processes:
        process.join(STOP_GRACE_S)
        if process.exitcode is None:
            process.kill()
            process.join()
