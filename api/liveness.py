"""A worker's liveness: its event loop must keep running, or the worker exits and uvicorn's
manager starts another.

uvicorn's manager pings each worker over a pipe (``worker_timeout_s``) and replaces one that
does not answer: that catches a stopped or dead process (SIGSTOP, SIGKILL). But the answer
comes from a thread of its own, so a worker whose event loop is stuck (a blocking call on the
loop, a deadlock) keeps answering while taking connections it never serves. The watchdog here
closes that gap: a task on the loop stamps the time every second; a thread exits the process
(code :data:`HUNG_EXIT_CODE`) when the stamp is older than ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

HUNG_EXIT_CODE = 70  # EX_SOFTWARE
TICK_S = 1.0


class LoopWatchdog:
    """Stamps the loop's last tick and exits the process when it is older than ``timeout_s``."""

    def __init__(
        self, *, timeout_s: float, on_hung: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.timeout_s = timeout_s
        self.clock = clock
        self.on_hung = on_hung or _exit_hung
        self.last_tick = clock()
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking on the running loop and watching from a daemon thread."""
        self.last_tick = self.clock()
        self._task = asyncio.get_running_loop().create_task(self._tick())
        threading.Thread(target=self._watch, name="loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()

    async def _tick(self) -> None:
        while True:
            self.last_tick = self.clock()
            await asyncio.sleep(TICK_S)

    def stalled_for(self) -> float:
        """Seconds since the loop last ticked."""
        return self.clock() - self.last_tick

    def _watch(self) -> None:
        while not self._stop.wait(TICK_S):
            if self.stalled_for() > self.timeout_s:
                self.on_hung()
                return


def _exit_hung() -> None:
    log.critical("the event loop has not run for too long: this worker exits to be replaced")
    os._exit(HUNG_EXIT_CODE)  # no cleanup can run on a stuck loop
