"""The pane's backlog of remote output, consumed in time-boxed slices.

Knows nothing of Textual: the pane gives it the emulator's `feed` and a callback run
after every slice (dirty rows, messages), and runs `drain()` as an asyncio task.

Backpressure: the queue never drops bytes, so a remote that writes faster than the
emulator ingests would grow it without bound. Instead it reports when the backlog
crosses `high_water` (on_backlog(True)) and when it falls back under `low_water`
(on_backlog(False)); the transport pauses reading in between (the pty, the WebSocket),
which pushes the flow control back to the remote like a real terminal does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from time import perf_counter

log = logging.getLogger(__name__)

SLICE_SECONDS = 0.004  # emulator work per loop turn; a key takes ~2 turns to reach on_input
PIECE_BYTES = 2048  # bytes per emulator call; small enough to check the clock often
# About 1 s of pyte's ingest: enough to ride out bursts, little enough to stay responsive
# to ctrl+c once the transport pauses.
HIGH_WATER_BYTES = 1 << 20
LOW_WATER_BYTES = 256 << 10


class OutputQueue:
    """Bytes waiting for the emulator; `drain()` yields to the loop between slices."""

    def __init__(
        self,
        feed: Callable[[bytes], None],
        after_slice: Callable[[], None],
        *,
        on_backlog: Callable[[bool], None] | None = None,
        high_water: int = HIGH_WATER_BYTES,
        low_water: int = LOW_WATER_BYTES,
        piece_bytes: int = PIECE_BYTES,
    ) -> None:
        self._feed = feed
        self.piece_bytes = max(1, piece_bytes)
        self._after_slice = after_slice
        self._on_backlog = on_backlog
        self.high_water = max(1, high_water)
        self.low_water = min(max(0, low_water), self.high_water - 1)
        self.backlog_high = False
        self._pending: deque[bytes | memoryview] = deque()  # a view: the rest of a split
        self.pending_bytes = 0
        self._drained = asyncio.Event()
        self._drained.set()

    def __bool__(self) -> bool:
        return bool(self._pending)

    def append(self, data: bytes) -> None:
        # once per frame: nothing here that is not needed
        if not self._pending:  # else it is clear already: set only once all is fed
            self._drained.clear()
        self._pending.append(data)
        self.pending_bytes += len(data)
        if not self.backlog_high and self.pending_bytes >= self.high_water:
            self._set_backlog(True)

    def clear(self) -> None:
        self._pending.clear()
        self.pending_bytes = 0
        self._drained.set()
        self._check_low()

    def flush(self) -> None:
        """Feed everything now, blocking."""
        while self._pending:
            self._feed(bytes(self._pending.popleft()))
        self.pending_bytes = 0
        self._after_slice()
        self._drained.set()
        self._check_low()

    def _check_low(self) -> None:
        if self.backlog_high and self.pending_bytes <= self.low_water:
            self._set_backlog(False)

    def _set_backlog(self, high: bool) -> None:
        self.backlog_high = high
        if self._on_backlog is None:
            return
        try:
            self._on_backlog(high)
        except Exception:
            log.exception("terminal: on_backlog callback failed")

    async def wait_drained(self, timeout: float) -> None:
        await asyncio.wait_for(self._drained.wait(), timeout)

    def _take(self, limit: int) -> bytes:
        """Up to `limit` bytes from the front of the backlog, in one piece. Output comes
        in WebSocket frames of at most 2 KB, and every call into the emulator has a cost
        of its own (in libghostty-vt, as much as feeding ~1 KB): frames that fit are
        joined, and a larger chunk is split."""
        pending = self._pending
        view = pending.popleft()
        if len(view) >= limit:
            if len(view) > limit:
                view = memoryview(view)  # split without copying the rest
                pending.appendleft(view[limit:])
                view = view[:limit]
            self.pending_bytes -= limit
            return bytes(view)
        parts, size = [view], len(view)
        while pending and size + len(pending[0]) <= limit:
            view = pending.popleft()
            parts.append(view)
            size += len(view)
        self.pending_bytes -= size
        return b"".join(parts)

    async def drain(self) -> None:
        """Feed in slices of about SLICE_SECONDS until the backlog is empty."""
        pending, piece = self._pending, self.piece_bytes
        try:
            while pending:
                deadline = perf_counter() + SLICE_SECONDS
                while pending and perf_counter() < deadline:
                    self._feed(self._take(piece))
                self._after_slice()
                self._check_low()
                await asyncio.sleep(0)  # let keys and paints through
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("terminal: feeding the emulator failed")
            self.clear()
        finally:
            if not pending:
                self._drained.set()
                self._check_low()
