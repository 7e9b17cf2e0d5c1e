"""uvicorn's h11 protocol with a deadline on request headers (issue 12: slowloris).

uvicorn bounds the idle time between requests (`timeout_keep_alive`) but not the time a
client takes to send one request's line and headers: 500 sockets trickling a header byte
now and then were each held for as long as they liked. Here every request (the first on a
connection, or the next after a response) must have its headers in within
`header_timeout` seconds, or the connection is dropped. WebSocket upgrades are covered
too: their request is an HTTP request until its headers are in. Bodies have their own
deadline in the REST API (rest.BODY_TIMEOUT).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()  # the next request on this connection gets its own

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:
            return  # closed already, or upgraded to a WebSocket
        if self.conn.their_state is h11.IDLE:  # no complete request line and headers yet
            log.info(
                "HTTP client %s: no request headers in %.0f s: dropped",
                self.client,
                self.header_timeout,
            )
            transport.abort()


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's `http=` option, with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})
