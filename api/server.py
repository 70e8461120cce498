"""``tenantmatch serve``: the app on uvicorn, with uvicorn's own worker manager for several workers.

With ``workers > 1`` the server process binds one listening socket and runs uvicorn's
``Multiprocess`` manager over it: it starts the workers (spawned), replaces one that dies or
does not answer its health check in time (``worker_timeout_s``), and answers SIGINT/SIGTERM (stop),
SIGHUP (replace the workers one by one, each old one stopping once its replacement has loaded),
SIGTTIN and SIGTTOU (add or remove a worker). Every worker accepts from the shared socket once its
app has loaded. What this module adds is the CLI's exit-code contract: a taken port is bad input
(exit 2) and an app that cannot start is an error (exit 1), where uvicorn would exit with its own
3 (one worker) or 0 (several). A same-run benchmark against the socket-per-worker supervisor this
replaced is in ``benchmarks/results/http-supervisor-5000.json``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from tenantmatch.api.observability import metrics_folder
from tenantmatch.api.protocol import GuardedConfig
from tenantmatch.registry import InputError, TenantmatchError

APP = "tenantmatch.api.app:create_app"
PROTOCOL = "tenantmatch.api.protocol:GuardedProtocol"
_START_FAILED = "the service could not start; the log above says why"


class PortInUseError(InputError):
    """The address to serve on is taken by another program (or another server)."""


class StartupError(TenantmatchError):
    """The app could not start (its log says why): no worker is left serving."""


@dataclass(frozen=True)
class ConnectionLimits:
    """What one worker holds per connection (Settings: max_header_kb, keep_alive_s,
    max_connections, read_timeout_s; see api.protocol)."""

    max_header_kb: int = 64
    keep_alive_s: int = 5
    max_connections: int = 500
    read_timeout_s: float = 30.0


def serve(
    *, host: str, port: int, workers: int, worker_timeout_s: int, log_level: str = "info",
    limits: ConnectionLimits = ConnectionLimits(),
) -> None:  # fmt: skip
    """Serve the app until SIGINT or SIGTERM, with ``/metrics`` covering every worker
    (:func:`api.observability.metrics_folder`). A worker not answering the manager's ping for
    ``worker_timeout_s`` is replaced, and a SIGHUP waits as long for each new worker to load.
    PortInUseError when ``host:port`` is taken, StartupError when the app cannot start."""
    check_port_free(host, port)
    config = GuardedConfig(APP, factory=True, host=host, port=port, workers=workers,
                           log_level=log_level, http=PROTOCOL,
                           timeout_worker_healthcheck=worker_timeout_s,
                           h11_max_incomplete_event_size=limits.max_header_kb * 1024,
                           timeout_keep_alive=limits.keep_alive_s,
                           limit_concurrency=limits.max_connections,
                           read_timeout_s=limits.read_timeout_s)  # fmt: skip
    if workers == 1:  # this process serves: its metrics are all there is
        _serve_one(config)
        return
    with metrics_folder():
        _serve_many(config)


def _serve_one(config: uvicorn.Config) -> None:
    try:
        uvicorn.Server(config).run()
    except SystemExit as exc:  # uvicorn exits 3 when the app (or the bind) fails
        if exc.code == STARTUP_FAILURE:
            raise StartupError(_START_FAILED) from None
        raise


def _serve_many(config: uvicorn.Config) -> None:
    """uvicorn's manager over one socket (what ``uvicorn.run`` does with ``workers > 1``,
    which then exits 0 even when the app could not start)."""
    with _bound(config) as sock:
        manager = Multiprocess(config, sockets=[sock])
        manager.run()
    if any(worker.exitcode == STARTUP_FAILURE for worker in manager.processes):
        raise StartupError(_START_FAILED)


@contextmanager
def _bound(config: uvicorn.Config) -> Iterator[socket.socket]:
    try:
        sock = config.bind_socket()
    except SystemExit as exc:  # another program took the port since check_port_free
        raise PortInUseError(f"cannot serve on {config.host}:{config.port}") from exc
    with sock:
        yield sock


def check_port_free(host: str, port: int) -> None:
    """PortInUseError when a socket listens on ``host:port`` (uvicorn's own bind would exit
    with its code 3 and only a log line)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's rule
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"cannot serve on {host}:{port}: {exc.strerror}") from exc
