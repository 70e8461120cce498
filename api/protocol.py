"""uvicorn's httptools protocol with the limits it lacks: request-head size and header count,
and a read deadline for each request (head and body), so idle connections and slowloris drips
are closed instead of held.

uvicorn's ``h11_max_incomplete_event_size`` bounds the head only under h11; its keep-alive
timer is cancelled by any byte, so a drip of one byte every few seconds held a connection
forever. Configured through :class:`GuardedConfig` (picklable: the workers are spawned).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADERS = 100  # header lines per request
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 31\r\nconnection: close\r\n\r\nrequest header fields too large"
)


class GuardedConfig(uvicorn.Config):
    """``uvicorn.Config`` plus the read deadline (s) of :class:`GuardedProtocol`."""

    def __init__(self, app: Any, *, read_timeout_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.read_timeout_s = read_timeout_s


class GuardedProtocol(HttpToolsProtocol):
    """Closes a connection whose request (head and body) is not read within the deadline from
    the moment the server waits for it, answers 431 to a head over
    ``h11_max_incomplete_event_size`` bytes and 400 to more than ``MAX_HEADERS`` headers."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.max_head = config.h11_max_incomplete_event_size or 64 * 1024
        self.read_timeout_s = float(getattr(config, "read_timeout_s", 30.0))
        self._read_timer: asyncio.TimerHandle | None = None
        self._head_done = False
        self._head_bytes = 0
        self._header_count = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _await_request(self) -> None:
        self._head_done, self._head_bytes, self._header_count = False, 0, 0
        self._disarm()
        self._read_timer = self.loop.call_later(self.read_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._head_done:
            self._head_bytes += len(data)
        super().data_received(data)
        too_large = not self._head_done and self._head_bytes > self.max_head
        if too_large and not self.transport.is_closing():
            self.transport.write(_431)
            self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS:  # data_received answers 400 and closes
            raise httptools.HttpParserError(f"more than {MAX_HEADERS} headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # the request is read; its answer may take as long as it takes
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_request()
