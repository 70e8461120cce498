"""Refused attempts (401, 403, 404) in the audit log, without letting a caller flood it.

Each refusal is keyed by who (the key id, or the client address for a caller without a valid
key), the status and the route template. The first refusal of a key in a window of
``window_s`` seconds is written at once (queued on the AuditWriter, action ``refused.<status>``);
the repeats in that window are only counted and the count is written with the next row of that
key (detail ``repeats_before``), or at shutdown. At most ``max_rows`` rows are written per window
in all; beyond, refusals are counted in a row of their own when the window turns. So an attacker
costs at most ``max_rows`` rows a minute, and none of their attempts goes uncounted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenantmatch.store import AuditWriter, Principal, parse_key

REFUSED_STATUSES = frozenset({401, 403, 404})
OVERFLOW_ACTION = "refused.overflow"


@dataclass(frozen=True)
class Refusal:
    """One refused request: status, method, route template, who and from where."""

    status: int
    method: str
    route: str
    principal: Principal | None
    client: str | None
    presented_key_id: str | None = None  # the id part of a well-formed but refused key


class RefusalLog:
    """Aggregating writer of refusals (see the module docstring)."""

    def __init__(
        self,
        audit: AuditWriter,
        *,
        window_s: float = 60.0,
        max_rows: int = 600,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit = audit
        self.window_s = window_s
        self.max_rows = max_rows
        self._timer = timer
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [first, repeats]
        self._window_start = timer()
        self._rows = 0
        self._overflow = 0

    def record(self, refusal: Refusal) -> None:
        """Count ``refusal``; queue its audit row when it is the first of its key this window."""
        who = refusal.principal.key_id if refusal.principal else f"client:{refusal.client}"
        bucket = (who, refusal.status, refusal.route)
        now = self._timer()
        with self._lock:
            overflow = self._turn_window(now)
            state = self._seen.get(bucket)
            if state is not None and now - state[0] < self.window_s:
                state[1] += 1
                write = False
            elif self._rows >= self.max_rows:
                self._overflow += 1
                write = False
            else:
                repeats = 0 if state is None else int(state[1])
                self._seen[bucket] = [now, 0]
                self._rows += 1
                write = True
        if overflow:
            self.audit.add(None, action=OVERFLOW_ACTION, detail={"refusals_not_itemised": overflow})
        if write:
            self._write(refusal, repeats)

    def _turn_window(self, now: float) -> int:
        if now - self._window_start < self.window_s:
            return 0
        self._window_start, self._rows = now, 0
        overflow, self._overflow = self._overflow, 0
        # keys idle for a whole window are forgotten (their repeats are written first)
        for bucket, (first, repeats) in list(self._seen.items()):
            if now - first >= 2 * self.window_s:
                del self._seen[bucket]
                if repeats:
                    overflow += int(repeats)
        return overflow

    def _write(self, refusal: Refusal, repeats: int) -> None:
        detail: dict[str, Any] = {"status": refusal.status, "method": refusal.method,
                                  "client": refusal.client}  # fmt: skip
        if refusal.presented_key_id:
            detail["presented_key_id"] = refusal.presented_key_id
        if repeats:
            detail["repeats_before"] = repeats
        self.audit.add(refusal.principal, action=f"refused.{refusal.status}",
                       target=refusal.route, detail=detail)  # fmt: skip

    def close(self) -> None:
        """Queue the counts not written yet (call before the AuditWriter closes)."""
        with self._lock:
            repeats = sum(int(r) for _, r in self._seen.values()) + self._overflow
            self._seen.clear()
            self._overflow = 0
        if repeats:
            self.audit.add(None, action=OVERFLOW_ACTION, detail={"refusals_not_itemised": repeats})


def presented_key_id(presented: str | None) -> str | None:
    """The key id of a well-formed key (never its secret), None for anything else."""
    parsed = parse_key(presented)
    return None if parsed is None else parsed[0]
