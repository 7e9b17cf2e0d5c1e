"""Typed-ahead keys go where they were meant, in order.

Over a slow SSH link the terminal hands the app a whole burst of keys in one read. Textual
forwards each key to the widget focused *when the key is read*, while a focus change, a
pushed screen or a filter opened by an earlier key of the same burst only takes effect
later: `/cold` then reaches the device table and `c` closes a tunnel.

The gate takes every key the app reads and hands them on one at a time: the next key
goes out only once the previous one has settled (every message queue of the app and its
screens is drained, so a focus change or a pushed screen it caused has happened), and
only while nothing holds the keys. A hold stands for a target that is on its way (the
login dialog of a tunnel being opened, the shell of a login being checked); when it
ends the held keys go on to what then has the focus, or are dropped with a notice when
the target never came (a key is never handed to whatever had the focus before).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.screen import Screen

log = logging.getLogger(__name__)

# A pushed screen normally takes its focus within a frame or two; one that never focuses
# anything (a help text) must not hold keys for longer than this.
SCREEN_READY_SECONDS = 1.0
# keys that end a hold at once instead of waiting in it (dropping the keys before them)
INTERRUPT_KEYS = frozenset({"escape", "ctrl+q"})
# how often held keys are re-checked when nothing else wakes the gate
POLL_SECONDS = 0.05
# after this many immediate re-checks of a busy app, wait BUSY_SECONDS between checks
# (a key waits at most that long past the moment the app settled)
SPINS_BEFORE_SLEEP = 50
BUSY_SECONDS = 0.002


@dataclass
class Hold:
    """Keys wait until `ready()` is true (then go on) or `failed()` / the deadline (then
    they are dropped, and `on_drop(count)` says so)."""

    reason: str
    ready: Callable[[], bool]
    deadline: float
    failed: Callable[[], bool] = lambda: False
    on_drop: Callable[[int], None] = lambda count: None
    released: bool = field(default=False, init=False)

    def release(self) -> None:
        """End the hold now; the keys go on."""
        self.released = True


def message_pumps_idle(pumps: Iterable[MessagePump]) -> bool:
    """True when none of `pumps` has a message waiting.

    Called from a plain event-loop callback, when every pump is suspended: one whose
    queue is empty is waiting for its next message (our handlers do not await the
    network; workers do that in their own tasks).
    """
    for pump in pumps:
        queue = pump.__dict__.get("_message_queue")  # created lazily: none means idle
        if queue is not None and not queue.empty():
            return False
        if pump._pending_message is not None or pump._next_callbacks:
            return False
    return True


class KeyGate:
    """Holds keys and hands them to `dispatch` one by one, each after the last settled."""

    def __init__(
        self,
        dispatch: Callable[[events.Key], Awaitable[None]],
        settled: Callable[[], bool],
        schedule: Callable[[Callable[[], Awaitable[None]]], object],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dispatch = dispatch
        self._settled = settled
        self._schedule = schedule  # runs a coroutine function as a message of the app
        self._clock = clock
        self._keys: deque[events.Key] = deque()
        self._holds: list[Hold] = []
        self._in_flight = False
        self._check_handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._spins = 0
        self.screen_wait: Callable[[], bool] = lambda: False

    @property
    def pending(self) -> int:
        """Keys read but not handed on yet."""
        return len(self._keys)

    @property
    def holding(self) -> bool:
        return bool(self._holds)

    def passes_now(self) -> bool:
        """True when a key just read may go on at once (the common case: one key typed at
        a time, nothing held, the app settled); it then costs no extra hop."""
        return (
            not self._keys
            and not self._holds
            and not self._in_flight
            and self._check_handle is None
            and not self.screen_wait()
            and self._settled()
        )

    def key_read(self, event: events.Key) -> None:
        if self._holds and event.key in INTERRUPT_KEYS:
            # the person gave up waiting (escape) or quits: what they typed for the
            # awaited target is dropped, this key acts now
            first = self._holds[0]
            log.info("hold ended by %s: %s", event.key, first.reason)
            if self._keys:
                first.on_drop(len(self._keys))
            self._holds.clear()
            self._keys.clear()
        self._keys.append(event)
        self.poke()

    def hold(
        self,
        reason: str,
        ready: Callable[[], bool],
        *,
        timeout: float,
        failed: Callable[[], bool] = lambda: False,
        on_drop: Callable[[int], None] = lambda count: None,
    ) -> Hold:
        """Hold the keys read from now on until `ready()`; see `Hold`."""
        hold = Hold(reason, ready, self._clock() + timeout, failed, on_drop)
        self._holds.append(hold)
        return hold

    def poke(self) -> None:
        """Something changed: look again soon (cheap, call it freely)."""
        if self._check_handle is None and (self._keys or self._holds):
            self._spins = 0
            self._check_handle = asyncio.get_running_loop().call_soon(self._check)

    def close(self) -> None:
        if self._check_handle is not None:
            self._check_handle.cancel()
            self._check_handle = None
        self._keys.clear()
        self._holds.clear()

    def _again(self) -> None:
        loop = asyncio.get_running_loop()
        self._spins += 1
        if self._spins < SPINS_BEFORE_SLEEP:
            self._check_handle = loop.call_soon(self._check)
        else:
            self._check_handle = loop.call_later(BUSY_SECONDS, self._check)

    def _check(self) -> None:
        self._check_handle = None
        if self._in_flight:
            return  # the dispatch pokes again when it is done
        if not self._settled():
            self._again()
            return
        self._end_holds()
        if not self._keys:
            if self._holds:
                self._check_handle = asyncio.get_running_loop().call_later(
                    POLL_SECONDS, self._check
                )
            return
        if self._holds or self.screen_wait():
            self._again()
            return
        self._in_flight = True
        self._schedule(self._send_next)

    def _end_holds(self) -> None:
        now = self._clock()
        for hold in list(self._holds):
            if hold.released or hold.ready():
                self._holds.remove(hold)
            elif hold.failed() or now >= hold.deadline:
                self._holds.remove(hold)
                dropped = len(self._keys)
                self._keys.clear()
                log.info("dropped %d typed-ahead keys: %s", dropped, hold.reason)
                if dropped:
                    hold.on_drop(dropped)

    async def _send_next(self) -> None:
        try:
            if self._keys and not self._holds:
                await self._dispatch(self._keys.popleft())
        finally:
            self._in_flight = False
            self._spins = 0
            if self._check_handle is None:
                self._check_handle = asyncio.get_running_loop().call_soon(self._check)


# --- the gate's glue to a Textual app ----------------------------------------------------


async def dispatch_key(app: App[object], event: events.Key) -> None:
    """What `App.on_event` does with a key read, done when the gate lets the key go."""
    if not app.is_running:
        return
    app.app_focus = True
    if app.screen.maximized is not None and event.key == "escape" and app.escape_to_minimize:
        app.screen.minimize()
        return
    if not await app._check_bindings(event.key, priority=True):
        (app.focused or app.screen)._forward_event(event)


def app_settled(app: App[object]) -> bool:
    """No message of the app or of any node of its screens queued or being handled."""
    if not app.is_running:
        return True
    if not message_pumps_idle((app,)):
        return False
    return all(
        message_pumps_idle(screen.walk_children(with_self=True)) for screen in app.screen_stack
    )


class ScreenOpening:
    """True while a pushed screen (a dialog, the palette) has not taken the focus yet."""

    def __init__(self, app: App[object], clock: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._clock = clock
        self._screen: Screen[object] | None = None
        self._since = 0.0

    def __call__(self) -> bool:
        app = self._app
        if len(app.screen_stack) <= 1:
            return False
        screen = app.screen
        if screen is not self._screen:
            self._screen, self._since = screen, self._clock()
        if self._clock() - self._since > SCREEN_READY_SECONDS:
            return False
        return not (screen.is_mounted and screen.focused is not None)
