"""A logged-in shell that can outlive the tunnel link it was opened on (extension
`resume`, docs/protocol.md §5.1).

The shell's output is pumped into a bounded history (with absolute offsets) and to
whichever link is attached. When the link drops or the app leaves, the shell is detached
and kept for a grace period; an app that comes back in time with the one-time resume
ticket is attached again and gets what it missed, from the offset it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable

from tui.agent.backends.base import ShellSession
from tui.iotda.frames import OutputChunker

log = logging.getLogger(__name__)

# output kept for a replay, in characters; while detached, reading stops at this much
# unsent output, so the shell blocks instead of anything being lost
HISTORY_CHARS = 256 * 1024
DEFAULT_GRACE = 120.0

# gets the output chunks of one read at once: they go out in one write (PROTOCOL frames
# of ≤2048 bytes each), which halves the syscalls here and the wake-ups at the relay
Sink = Callable[[list[str]], Awaitable[None]]
REPLAY_BATCH = 16


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates


def new_ticket() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class KeptShell:
    """One shell session, its output history, its resume ticket, its idle and grace timers."""

    def __init__(
        self,
        session: ShellSession,
        username: str,
        sink: Sink | None,
        *,
        ticket: str | None,
        idle_timeout: float,
        grace: float = DEFAULT_GRACE,
        history_chars: int = HISTORY_CHARS,
    ) -> None:
        self.session = session
        self.username = username
        self._ticket = ticket
        self._sink = sink
        self._idle_timeout = idle_timeout
        self._grace = grace
        self._history: deque[tuple[int, str]] = deque()  # (offset, chunk)
        self._history_chars = 0
        self._history_limit = history_chars
        self.produced = 0  # characters of output so far: the offset of the next chunk
        self._detached_at = 0 if sink is None else -1  # `produced` when the link went
        self._attached = asyncio.Event()
        if sink is not None:
            self._attached.set()
        self._loop = asyncio.get_running_loop()
        self._last_input = self._loop.time()
        self.idle_expired = False
        self.exited = asyncio.Event()  # the shell's output ended (exit, idle, grace, close)
        self._closed = False
        self._detaches = 0
        self._pump = asyncio.create_task(self._run_pump(), name="shell-pump")
        self._watch = asyncio.create_task(self._idle_watch(), name="shell-idle")
        self._grace_timer: asyncio.Task[None] | None = None
        if sink is None:
            self.detach()

    def __repr__(self) -> str:  # never the ticket
        return f"KeptShell(user={self.username!r}, attached={self.attached})"

    @property
    def attached(self) -> bool:
        return self._sink is not None

    # --- the ticket ---------------------------------------------------------------------

    def issue_ticket(self) -> str:
        self._ticket = new_ticket()
        return self._ticket

    def redeem(self, username: str, ticket: str) -> bool:
        """True once for the current ticket and its user: then the ticket is spent."""
        expected = self._ticket
        if expected is None or self.exited.is_set():
            return False
        # compare both, always, as bytes: a ticket from the wire may hold anything
        ticket_ok = hmac.compare_digest(_utf8(ticket), _utf8(expected))
        user_ok = hmac.compare_digest(_utf8(username), _utf8(self.username))
        if not (ticket_ok and user_ok):
            return False
        self._ticket = None
        return True

    def exited_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the shell has ended (at once if it has)."""
        self._pump.add_done_callback(lambda _task: callback())

    # --- input --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self._last_input = self._loop.time()
        self.session.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.session.resize(cols, rows)

    # --- attach and detach --------------------------------------------------------------

    def detach(self) -> None:
        """The link to the app is gone: keep the shell for the grace period."""
        if self._sink is None and self._grace_timer is not None:
            return
        self._sink = None
        self._detaches += 1
        self._attached.clear()
        self._detached_at = self.produced
        if self._grace_timer is None and not self.exited.is_set():
            self._grace_timer = asyncio.create_task(self._expire(), name="shell-grace")
        log.info("shell detached; kept for %.0f s", self._grace)

    async def attach(self, sink: Sink, offset: int) -> None:
        """Send what the app missed since `offset`, then stream to `sink` live."""
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        # the app may come back over the link we still stream to (a relay that never said
        # it had left): from here on only the replay below sends, until it has caught up
        self._sink = None
        detaches = self._detaches
        sent = min(max(offset, 0), self.produced)
        oldest = self._history[0][0] if self._history else self.produced
        if sent < oldest:
            log.warning("resume: %d characters of output were lost", oldest - sent)
            sent = oldest
        while sent < self.produced:  # the pump may add more while replaying: catch up
            batch: list[str] = []
            for start, chunk in list(self._history):
                end = start + len(chunk)
                if end <= sent:
                    continue
                batch.append(chunk[sent - start :] if start < sent else chunk)
                sent = end
                if len(batch) == REPLAY_BATCH:
                    await sink(batch)
                    batch = []
            if batch:
                await sink(batch)
        if self._detaches != detaches:
            return  # that link went while replaying: the shell stays kept for the next
        # no await since the last check: nothing produced can slip between
        self._sink = sink
        self._attached.set()

    # --- output -------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        chunker = OutputChunker()
        try:
            while True:
                data = await self.session.read()
                final = not data
                chunks = [chunk for chunk in chunker.feed(data, final=final) if chunk]
                if chunks:
                    await self._emit(chunks)
                if final:
                    return
        except Exception as exc:  # a backend fault ends this shell, never the agent
            log.error("shell output failed: %s", type(exc).__name__)
            log.debug("shell output traceback", exc_info=True)
        finally:
            self.exited.set()

    async def _emit(self, chunks: list[str]) -> None:
        history = self._history
        for chunk in chunks:
            history.append((self.produced, chunk))
            self.produced += len(chunk)
            self._history_chars += len(chunk)
        while self._history_chars > self._history_limit and len(history) > 1:
            start, oldest = history[0]
            if self._sink is None and start + len(oldest) > self._detached_at:
                break  # never sent: kept until an app is back (reading stops meanwhile)
            self._history_chars -= len(oldest)
            history.popleft()
        sink = self._sink
        if sink is not None:
            await sink(chunks)
            return
        # detached: read on until the history would lose unsent output, then let the
        # shell block on its full pty until an app is back (or the grace period ends)
        while (
            self._sink is None
            and not self._closed
            and self.produced - self._detached_at >= self._history_limit
        ):
            await self._attached.wait()

    # --- timers and the end -------------------------------------------------------------

    async def _idle_watch(self) -> None:
        # a separate task, so that the hot read loop carries no timer per read
        while (remaining := self._last_input + self._idle_timeout - self._loop.time()) > 0:
            await asyncio.sleep(remaining)
        self.idle_expired = True
        await self.session.close()  # read() then returns b"" and the pump ends

    async def _expire(self) -> None:
        await asyncio.sleep(self._grace)
        log.info("shell not resumed within %.0f s: closed", self._grace)
        await self.close()

    async def close(self) -> None:
        """End the shell and everything it started; safe to call twice, even cancelled."""
        self._ticket = None
        self._closed = True
        self._attached.set()  # a pump waiting for an app lets go
        current = asyncio.current_task()
        for task in (self._watch, self._grace_timer):
            if task is not None and task is not current:
                task.cancel()
        closing = asyncio.ensure_future(self.session.close())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await closing
            raise
        if self._pump is not current:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._pump), 5.0)
            if not self._pump.done():
                self._pump.cancel()
