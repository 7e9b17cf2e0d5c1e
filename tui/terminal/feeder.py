"""The pane's backlog of remote output, consumed in time-boxed slices.

Knows nothing of Textual: the pane gives it the emulator's `feed` and a callback run
after every slice (dirty rows, messages), and runs `drain()` as an asyncio task.
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


class OutputQueue:
    """Bytes waiting for the emulator; `drain()` yields to the loop between slices."""

    def __init__(self, feed: Callable[[bytes], None], after_slice: Callable[[], None]) -> None:
        self._feed = feed
        self._after_slice = after_slice
        self._pending: deque[memoryview] = deque()
        self.pending_bytes = 0
        self._drained = asyncio.Event()
        self._drained.set()

    def __bool__(self) -> bool:
        return bool(self._pending)

    def append(self, data: bytes) -> None:
        self._pending.append(memoryview(data))
        self.pending_bytes += len(data)
        self._drained.clear()

    def clear(self) -> None:
        self._pending.clear()
        self.pending_bytes = 0
        self._drained.set()

    def flush(self) -> None:
        """Feed everything now, blocking."""
        while self._pending:
            self._feed(bytes(self._pending.popleft()))
        self.pending_bytes = 0
        self._after_slice()
        self._drained.set()

    async def wait_drained(self, timeout: float) -> None:
        await asyncio.wait_for(self._drained.wait(), timeout)

    async def drain(self) -> None:
        """Feed in slices of about SLICE_SECONDS until the backlog is empty."""
        pending = self._pending
        try:
            while pending:
                deadline = perf_counter() + SLICE_SECONDS
                while pending and perf_counter() < deadline:
                    view = pending.popleft()
                    if len(view) > PIECE_BYTES:
                        pending.appendleft(view[PIECE_BYTES:])
                        view = view[:PIECE_BYTES]
                    self.pending_bytes -= len(view)
                    self._feed(bytes(view))
                self._after_slice()
                await asyncio.sleep(0)  # let keys and paints through
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("terminal: feeding the emulator failed")
            self.clear()
        finally:
            if not pending:
                self._drained.set()
