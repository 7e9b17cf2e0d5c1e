"""One side of a tunnel as the relay drives it: a WebSocket with a bounded outbound queue.

A peer that stops reading must hurt no one else (issue 12). So nothing but the link's own
writer task ever waits on a send to its socket (the relay's hot path sends inline only
while the socket takes data at once), and that wait has a deadline:

- data from the other side queues up to `budget` bytes (and one batch); past it its reader
  waits (a slow app slows its device, TCP does the rest), never the platform as a whole;
- frames the platform originates (pong, disconnect, connect_tunnel) never wait: pong goes
  ahead of queued data, the others after it, in order;
- a frame that cannot be handed to the socket within `stall_timeout` means the peer is
  stuck: the transport is aborted (uvicorn's own close() waits for a buffer that never
  drains, docs/notes.md); a close that takes longer than `close_timeout` is cut the same way;
- the kernel buffers of a tunnel socket are kept small, so a pong or a keepalive ping
  waits behind kilobytes, not megabytes, of relay data;
- frames go in batches: what one read from a side brought (up to one socket buffer) is
  relayed at once, and a batch reaches the peer's socket as one write (`_write_direct`),
  not one system call and one ASGI round per 2 KB frame (docs/notes.md, "The relay's
  cost per frame");
- a side the relay does not read (its peer is over budget), or whose frames keep coming,
  is not dropped because its answer to our keepalive ping is stuck behind its own data
  (`_patient_keepalive`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any

from websockets.protocol import State

log = logging.getLogger(__name__)

# scope key under which the outermost middleware keeps the server's own ASGI send
SERVER_SEND_KEY = "iotunnel.server_send"


@dataclass(frozen=True)
class LinkLimits:
    budget: int = 256 * 1024  # bytes queued for a peer before its source is paused
    stall_timeout: float = 20.0  # a peer that takes no frame for this long is stuck
    close_timeout: float = 2.0  # a closing handshake is cut (aborted) after this long
    socket_buffer: int = 64 * 1024  # SO_SNDBUF / transport high-water mark of a link


def protocol_of(ws: Any) -> Any:
    """uvicorn's WebSocket protocol object under a Starlette WebSocket, or None.

    ASGI hides it; uvicorn's `send` callable (kept in the scope by the outermost
    middleware, before Starlette wraps it) is a method of its protocol, which holds the
    transport. Checked by a test, so a uvicorn upgrade that changes this is noticed.
    """
    return getattr(ws.scope.get(SERVER_SEND_KEY), "__self__", None)


def transport_of(ws: Any) -> asyncio.Transport | None:
    """The asyncio transport under a Starlette WebSocket served by uvicorn."""
    transport = getattr(protocol_of(ws), "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


def direct_protocol(protocol: Any) -> Any:
    """`protocol` when it is uvicorn's websockets-sansio protocol, whose state and framing
    `TunnelLink` can drive itself (a batch of frames in one write); else None.

    These are uvicorn's internals, so they are checked rather than assumed: the attributes
    uvicorn's own `send` relies on, and a websockets sans-I/O connection under them. A
    uvicorn that changes them gets the ASGI path, a frame at a time (a test notices).
    """
    conn = getattr(protocol, "conn", None)
    needed = ("handshake_complete", "close_sent", "disconnected", "initial_response", "queue")
    framing = ("state", "extensions", "expect_continuation_frame", "send_text", "data_to_send")
    if all(hasattr(protocol, name) for name in needed) and all(
        hasattr(conn, name) for name in framing
    ):
        return protocol
    return None


_TEXT_FIN = 0x81  # FIN bit and opcode 1 (text)
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack


def server_text_frame(payload: bytes) -> bytes:
    """One whole text frame as a server sends it (RFC 6455 §5.2: FIN, opcode 1, no mask):
    websockets' `Frame.serialize` gives the same bytes, at several times the cost."""
    size = len(payload)
    if size < 126:
        return bytes((_TEXT_FIN, size)) + payload
    if size < 1 << 16:
        return _HEAD_16(_TEXT_FIN, 126, size) + payload
    return _HEAD_64(_TEXT_FIN, 127, size) + payload


def shrink_buffers(transport: asyncio.Transport | None, size: int) -> None:
    """Small kernel and user-space send buffers: keepalive frames wait behind little."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    with contextlib.suppress(Exception):
        transport.set_write_buffer_limits(high=size, low=size // 4)


def _patient_keepalive(protocol: Any, link: TunnelLink) -> None:
    """Keep uvicorn from dropping a peer whose pong waits behind its own data.

    A peer's answer to our ping travels behind everything it sent before: while the relay
    holds a side (its peer is over budget), or while a busy peer works through a backlog
    (a fleet of 1,000 streaming shells on two cores: hundreds of kilobytes a link, a few
    kilobytes a second each), the pong comes after uvicorn's deadline and the link would be
    dropped with 1011 "keepalive ping timeout" although both ends are fine. So when the
    deadline comes while (or shortly after) the side was held, or when frames came from it
    since the last deadline (any frame shows the peer alive, as an MQTT broker counts any
    packet; docs/notes.md, "A pong waits behind its sender's data"), the deadline is moved
    on. A side that is not held and sends nothing for a whole deadline is dropped as before.
    (uvicorn reads `keepalive_timeout` from the instance when it arms the timer; checked by
    a chaos test.)
    """
    original = getattr(protocol, "keepalive_timeout", None)
    if original is None or not hasattr(protocol, "pong_timer"):
        return

    def keepalive_timeout() -> None:
        timeout = getattr(protocol, "ping_timeout", None) or 0.0
        heard, link.heard = link.heard, False
        if timeout > 0 and link.alive and (heard or link.reading_held_lately(timeout)):
            protocol.pong_timer = protocol.loop.call_later(timeout, keepalive_timeout)
            return
        # the cause of a 1011 the peer sees, which uvicorn logs only at its TRACE level
        log.warning("%s: no pong to a keepalive ping in %.0f s: link dropped", link.name, timeout)
        original()

    protocol.keepalive_timeout = keepalive_timeout


def _watch_socket(protocol: Any) -> asyncio.Event | None:
    """An event set when uvicorn's protocol loses its connection (None: not uvicorn's)."""
    original = getattr(protocol, "connection_lost", None)
    if original is None:
        return None
    closed = asyncio.Event()

    def connection_lost(exc: Exception | None) -> None:
        try:
            original(exc)
        finally:
            closed.set()

    protocol.connection_lost = connection_lost  # the transport calls it on the instance
    return closed


class TunnelLink:
    """A tunnel side's WebSocket; every send goes through its one writer task."""

    def __init__(self, ws: Any, limits: LinkLimits, name: str = "link") -> None:
        self.ws = ws
        self.limits = limits
        self.name = name
        self.transport = transport_of(ws)
        shrink_buffers(self.transport, limits.socket_buffer)
        protocol = protocol_of(ws)
        # uvicorn's own send and its "writable" flag: a send while it is set never waits
        self._server_send = ws.scope.get(SERVER_SEND_KEY) if protocol else None
        self._writable: asyncio.Event | None = getattr(protocol, "writable", None)
        self._direct = direct_protocol(protocol) if self._writable is not None else None
        # uvicorn's receive, under Starlette's wrapper that only checks states we keep
        self._receive = getattr(ws, "_receive", ws.receive)
        self._sending_since: float | None = None  # loop time the pending send began
        self._loop = asyncio.get_running_loop()
        self._watchdog = self._loop.call_later(limits.stall_timeout / 4, self._check_stall)
        self._held = False  # the relay does not read this side: its peer is over budget
        self._held_at = -1e9  # loop time reading was last held
        self.heard = False  # a frame came from this side since the last keepalive deadline
        _patient_keepalive(protocol, self)
        self._batch_bytes = limits.socket_buffer  # at most this much relayed in one write
        self._urgent: deque[str] = deque()
        self._frames: deque[tuple[str, bool]] = deque()  # (text, counts against the budget)
        self._queued = 0
        self._ready = asyncio.Event()  # something to write
        self._space = asyncio.Event()  # the queue is under budget
        self._space.set()
        self.saturated = asyncio.Event()  # the queue reached its budget once (tests, logs)
        self.lost = asyncio.Event()  # the socket is gone (set by the relay's reader)
        # The socket itself is closed. `lost` is not enough after our own close frame:
        # uvicorn reports "disconnect" as soon as it sends one, then keeps the socket for
        # up to 10 s waiting for the peer's answer.
        self._socket_closed = _watch_socket(protocol) or self.lost
        self._close_code: int | None = None
        self._dead = False
        self._idle = False
        self._writer = asyncio.ensure_future(self._write_loop())

    @property
    def alive(self) -> bool:
        return not self._dead

    @property
    def queued_bytes(self) -> int:
        return self._queued

    # --- sending --------------------------------------------------------------------------

    async def receive(self) -> list[dict[str, Any]]:
        """The next messages from this side: at least one, and with it every message the
        same read brought (up to `socket_buffer` bytes), so that they travel on together."""
        messages = [await self._receive()]
        queue = self._direct.queue if self._direct is not None else None
        size = len(messages[0].get("text") or "")
        while queue is not None and queue.qsize() and size < self._batch_bytes:
            message = await self._receive()  # returns at once: the message is there
            messages.append(message)
            size += len(message.get("text") or "")
        return messages

    async def relay(self, texts: list[str], source: TunnelLink | None = None) -> bool:
        """Send frames from the other side (`source`) in order, waiting while this peer is
        over budget; meanwhile `source` is not read, and knows it (see
        `_patient_keepalive`)."""
        if (
            self._writer_idle
            and self._writable is not None
            and self._writable.is_set()
            and not self._dead
            and self._close_code is None
            and self._can_write_direct()
        ):
            # the hot path: nothing queued, the socket takes it now (this cannot wait)
            try:
                self._write_direct(texts)
                return True
            except Exception:
                log.debug("%s: send failed, link aborted", self.name, exc_info=True)
                self.abort()
                return False
        if self._queued >= self.limits.budget and not self._dead:
            if source is not None:
                source.hold_reading(True)
            try:
                while self._queued >= self.limits.budget and not self._dead:
                    self._space.clear()
                    self.saturated.set()
                    await self._space.wait()
            finally:
                if source is not None:
                    source.hold_reading(False)
        return all([self._put(text, counted=True) for text in texts])

    def _can_write_direct(self) -> bool:
        """uvicorn's protocol is where its own `send` would write a frame now."""
        p = self._direct
        return (
            p is not None
            and p.handshake_complete
            and p.initial_response is None
            and not p.close_sent
            and not p.disconnected
        )

    def _write_direct(self, texts: list[str]) -> None:
        """Frame `texts` and hand them to the socket in one write, as uvicorn's `send` would
        one by one. While the connection is plainly open (no extension, no fragmented
        message under way: the relay sends neither) the frames are built here, a header
        each; otherwise websockets' protocol frames them, or raises what `send` would."""
        conn = self._direct.conn
        if conn.state is State.OPEN and not conn.extensions and not conn.expect_continuation_frame:
            self.transport.write(b"".join([server_text_frame(text.encode()) for text in texts]))
            return
        for text in texts:
            conn.send_text(text.encode())
        self.transport.write(b"".join(conn.data_to_send()))

    def hold_reading(self, held: bool) -> None:
        self._held = held
        self._held_at = self._loop.time()

    def reading_held_lately(self, within: float) -> bool:
        """Is this side unread now, or was it within the last `within` seconds?"""
        return self._held or self._loop.time() - self._held_at < within

    def post(self, text: str) -> bool:
        """Queue a frame the platform originates, after what is queued; never waits."""
        return self._put(text, counted=False)

    def post_urgent(self, text: str) -> bool:
        """Queue a frame ahead of relay data (pong): keepalive is not held up by data."""
        if self._dead or self._close_code is not None:
            return False
        self._urgent.append(text)
        self._ready.set()
        return True

    def _put(self, text: str, *, counted: bool) -> bool:
        if self._dead or self._close_code is not None:
            return False
        self._frames.append((text, counted))
        if counted:
            self._queued += len(text)
        self._ready.set()
        return True

    async def _send(self, texts: list[str]) -> None:
        self._sending_since = self._loop.time()
        if self._direct is not None:
            await self._writable.wait()  # as uvicorn's send waits, then writes
            if self._can_write_direct():
                self._write_direct(texts)
                texts = []
        for text in texts:  # not uvicorn's protocol, or one that raises now
            if self._server_send is not None:
                await self._server_send({"type": "websocket.send", "text": text})
            else:
                await self.ws.send_text(text)
        self._sending_since = None

    def _check_stall(self) -> None:
        """A send pending for longer than `stall_timeout`: the peer is stuck; cut it."""
        if self._dead:
            return
        since, stall = self._sending_since, self.limits.stall_timeout
        if since is not None and self._loop.time() - since > stall:
            log.warning("%s: the peer took nothing for %.0f s: link aborted", self.name, stall)
            self.abort()
            return
        self._watchdog = self._loop.call_later(stall / 4, self._check_stall)

    @property
    def _writer_idle(self) -> bool:
        return self._idle and not self._frames and not self._urgent

    def _next_batch(self) -> list[str]:
        """Urgent frames first, then queued ones, up to `_batch_bytes`; [] when none."""
        if self._urgent:
            batch = list(self._urgent)
            self._urgent.clear()
            return batch
        batch, size, frames = [], 0, self._frames
        while frames and size < self._batch_bytes:
            text, counted = frames.popleft()
            batch.append(text)
            size += len(text)
            if counted:
                self._queued -= len(text)
        if self._queued < self.limits.budget:
            self._space.set()
        return batch

    async def _write_loop(self) -> None:
        stall = self.limits.stall_timeout
        try:
            while True:
                batch = self._next_batch()
                if batch:
                    await self._send(batch)
                elif self._close_code is not None:
                    await asyncio.wait_for(self.ws.close(self._close_code), stall)
                    return
                else:
                    self._ready.clear()
                    self._idle = True
                    await self._ready.wait()
                    self._idle = False
        except TimeoutError:
            log.warning("%s: the peer took nothing for %.0f s: link aborted", self.name, stall)
            self.abort()
        except asyncio.CancelledError:
            raise
        except Exception:  # a socket closing under us raises several types
            log.debug("%s: send failed, link aborted", self.name, exc_info=True)
            self.abort()

    # --- ending ---------------------------------------------------------------------------

    async def close(self, code: int) -> None:
        """Send what is queued, then a close frame; cut the link if that takes too long."""
        if self._dead:
            return
        if self._close_code is None:
            self._close_code = code
            self._ready.set()
        try:
            async with asyncio.timeout(self.limits.close_timeout):
                await asyncio.shield(self._writer)
                await self._socket_closed.wait()  # the peer answered our close frame
        except TimeoutError:
            log.info("%s: close not completed in time: link aborted", self.name)
        except Exception:
            log.debug("%s: close failed", self.name, exc_info=True)
        self.abort()
        if self.transport is not None and not self._socket_closed.is_set():
            self.transport.abort()  # no answer in time: cut it, whatever uvicorn reported

    def abort(self) -> None:
        """Drop the socket at once, buffers and all; whoever waits on this link goes on."""
        if self._dead:
            return
        self._dead = True
        self._watchdog.cancel()
        self._frames.clear()
        self._urgent.clear()
        self._queued = 0
        self._space.set()
        if not self._writer.done() and asyncio.current_task() is not self._writer:
            self._writer.cancel()
        if self.transport is not None and not self.lost.is_set():
            self.transport.abort()

    def finished(self) -> None:
        """The relay saw the socket end: stop the writer, release a waiting source."""
        self.lost.set()
        self.abort()
