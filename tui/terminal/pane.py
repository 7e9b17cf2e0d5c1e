"""`TerminalPane`: a focusable Textual widget that shows a VT emulator's screen.

Bytes from the remote go in through `feed()`, which only queues them: a task feeds the
emulator in slices of a few milliseconds and yields, so a flood never blocks the UI loop
and keystrokes go out immediately. Only dirty rows are refreshed, at most 60 times a
second (20 while output floods in), through the line API with cached strips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from time import perf_counter

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from tui.terminal.backend import Attrs, BellRang, TerminalBackend, TitleChange
from tui.terminal.backends import make_backend
from tui.terminal.feeder import HIGH_WATER_BYTES, LOW_WATER_BYTES, PIECE_BYTES, OutputQueue
from tui.terminal.links import LINK_CLASS, HyperlinkSupport
from tui.terminal.mouse import MouseForwarding
from tui.terminal.pane_input import KeyboardInput
from tui.terminal.pane_render import RowRendering
from tui.terminal.pyte_backend import PyteBackend
from tui.terminal.scrollback import INDICATOR_CLASS, ScrollbackView
from tui.terminal.search import CURRENT_MATCH_CLASS, MATCH_CLASS, PROMPT_CLASS, ScrollbackSearch
from tui.terminal.selection import SelectionSupport

log = logging.getLogger(__name__)

FRAME_SECONDS = 1 / 60
FLOOD_FRAME_SECONDS = 1 / 20  # while output floods in (see _schedule_paint)
# ... and at most this share of a flood's time goes to painting it: a frame that took
# 10 ms to draw (a screen of fresh colours) waits 80 ms for the next one
FLOOD_PAINT_SHARE = 1 / 8
FLOOD_BYTES = 64 << 10  # output since the last frame that makes it a flood
RESIZE_DEBOUNCE_SECONDS = 0.15


class TerminalPane(
    KeyboardInput,
    ScrollbackView,
    ScrollbackSearch,
    SelectionSupport,
    HyperlinkSupport,
    MouseForwarding,
    RowRendering,
    Widget,
    can_focus=True,
):
    """A terminal emulator pane: bytes in through `feed`, key bytes out through `on_input`."""

    DEFAULT_CSS = """
    TerminalPane {
        width: 1fr;
        height: 1fr;
        background: $background;
        color: $foreground;
    }
    TerminalPane > .terminal-pane--scrollback {
        text-style: bold reverse;
    }
    TerminalPane > .terminal-pane--match {
        background: $warning 50%;
    }
    TerminalPane > .terminal-pane--match-current {
        background: $warning;
        color: $background;
        text-style: bold;
    }
    TerminalPane > .terminal-pane--prompt {
        background: $panel;
        color: $foreground;
    }
    TerminalPane > .terminal-pane--link {
        background: $panel;
        color: $accent;
    }
    """

    COMPONENT_CLASSES = {  # the "[lines back/history]" label, search, the link line
        INDICATOR_CLASS,
        MATCH_CLASS,
        CURRENT_MATCH_CLASS,
        PROMPT_CLASS,
        LINK_CLASS,
    }

    BINDINGS = [
        Binding("ctrl+right_square_bracket", "leave", "Leave terminal", id="terminal.leave"),
        Binding(
            "shift+pageup", "scroll_history(-1)", "Scroll back", id="terminal.scroll_up", show=False
        ),
        Binding(
            "shift+pagedown",
            "scroll_history(1)",
            "Scroll fwd",
            id="terminal.scroll_down",
            show=False,
        ),
    ]

    class TitleChanged(Message):
        """The remote set the window title (OSC 0/2)."""

        def __init__(self, title: str) -> None:
            super().__init__()
            self.title = title

    class Bell(Message):
        """The remote rang the bell (BEL)."""

    class LeaveRequested(Message):
        """The user pressed the leave key (binding id `terminal.leave`)."""

    class LinkHovered(Message):
        """The mouse moved onto an OSC 8 hyperlink (`url`) or off one (`url` is None)."""

        def __init__(self, url: str | None) -> None:
            super().__init__()
            self.url = url

    def __init__(
        self,
        *,
        cols: int = 80,
        rows: int = 24,
        scrollback: int = 10_000,
        on_input: Callable[[bytes], None] | None = None,
        on_resize: Callable[[int, int], None] | None = None,
        on_backlog: Callable[[bool], None] | None = None,
        high_water: int = HIGH_WATER_BYTES,
        low_water: int = LOW_WATER_BYTES,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        backend: TerminalBackend | None = None,
        backend_name: str | None = None,
    ) -> None:
        """`on_input(bytes)`: key, paste, mouse and reply bytes for the remote.
        `on_resize(cols, rows)`: the emulator's new size, debounced.
        `on_backlog(high)`: True once `high_water` bytes wait for the emulator, False when
        the backlog is back under `low_water`; pause reading the transport in between.
        Nothing is ever dropped: `feed` keeps accepting bytes while the backlog is high.
        Callbacks run on the app's event loop and must not block.
        `backend_name`: "auto" (Ghostty's core where it loads, else pyte), "ghostty" or
        "pyte"; None = the default set by `backends.set_default_backend` (see there).
        """
        super().__init__(name=name, id=id, classes=classes)
        self._input_callback = on_input
        self._resize_callback = on_resize
        self._backend: TerminalBackend = backend or make_backend(
            cols, rows, scrollback, name=backend_name
        )
        self._backend.on_reply = self._send
        self._scrollback_lines = scrollback
        self._queue = OutputQueue(
            self._feed_backend,
            self._after_feed,
            on_backlog=on_backlog,
            high_water=high_water,
            low_water=low_water,
            # A fast emulator takes bigger pieces: each call has a fixed cost.
            piece_bytes=getattr(self._backend, "piece_bytes", PIECE_BYTES),
        )
        self._drain_task: asyncio.Task[None] | None = None
        self._dirty: set[int] = set()
        self._strips: dict[int, Strip] = {}
        self._styles: dict[int, tuple[Attrs, Style]] = {}
        self._base_style: Style | None = None
        self._scroll_back = 0
        self._history_seen = 0
        self._last_paint = 0.0
        self._paint_timer: Timer | None = None
        self._paint_due = 0.0
        self._fed = False  # output reached the emulator since its dirty rows were read
        self._fed_bytes = 0  # bytes fed since the last frame
        self._resize_timer: Timer | None = None
        self._reported_size: tuple[int, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- public API -----------------------------------------------------------------

    @property
    def backend(self) -> TerminalBackend:
        return self._backend

    @property
    def pending_bytes(self) -> int:
        """Bytes fed but not yet processed by the emulator."""
        return self._queue.pending_bytes

    @property
    def backlog_high(self) -> bool:
        """True between `on_backlog(True)` and `on_backlog(False)` (see __init__)."""
        return self._queue.backlog_high

    def feed(self, data: bytes | str) -> None:
        """Queue output from the remote; returns at once, the work is done in slices.

        Safe to call from another thread once mounted: it hops to the app's loop.
        """
        if self._loop is not None and _running_loop() is not self._loop:
            self._loop.call_soon_threadsafe(self.feed, data)
            return
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        self._queue.append(data)
        if self.is_mounted:  # else processed once mounted (see on_mount)
            self._start_draining()

    def flush(self) -> None:
        """Process everything queued now, blocking (for tests and `replay --screen`)."""
        self._queue.flush()

    async def wait_drained(self, timeout: float = 30.0) -> None:
        """Wait until every queued byte has reached the emulator."""
        await self._queue.wait_drained(timeout)

    def reset(self) -> None:
        """Forget queued output, scrollback and screen: a fresh terminal."""
        self._queue.clear()
        self._backend.reset()
        self._scroll_back = 0
        self._history_seen = self._backend.history_total
        self._strips.clear()
        self._dirty.update(range(self._backend.lines))
        self.refresh()

    def screen_text(self) -> str:
        """Plain text of the emulator's visible screen, trailing spaces stripped per row."""
        return self._backend.screen_text()

    @property
    def terminal_title(self) -> str:
        return self._backend.title

    # --- feeding --------------------------------------------------------------------

    def _start_draining(self) -> None:
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.get_running_loop().create_task(self._queue.drain())

    def _feed_backend(self, data: bytes) -> None:
        self._fed_bytes += len(data)
        try:
            self._backend.feed(data)
        except Exception as exc:
            self._backend_failed(exc)

    def _backend_failed(self, exc: Exception) -> None:
        """A native emulator call failed: log it, say so in the pane, and go on with
        the portable backend (the screen starts afresh; nothing crashes)."""
        log.error("terminal: %s backend failed", getattr(self._backend, "name", "?"), exc_info=exc)
        if isinstance(self._backend, PyteBackend):
            return
        backend = PyteBackend(self._backend.columns, self._backend.lines, self._scrollback_lines)
        backend.on_reply = self._send
        self._backend = backend
        self._strips.clear()
        self._dirty.update(range(backend.lines))
        backend.feed(
            f"\x1b[0;1;31m[terminal: the emulator failed ({type(exc).__name__}); "
            "continuing with the pyte backend]\x1b[0m\r\n".encode()
        )

    def _after_feed(self) -> None:
        try:
            self._take_updates()
        except Exception as exc:
            self._backend_failed(exc)
            self._take_updates()

    def _take_updates(self) -> None:
        backend = self._backend
        for event in backend.take_events():
            if isinstance(event, TitleChange):
                self.post_message(self.TitleChanged(event.title))
            elif isinstance(event, BellRang):
                self.post_message(self.Bell())
        self._fed = True
        if not self._flooding():
            self._take_dirty()  # caught up: strips are fresh for whoever draws next
        if self._follow_history():
            self._dirty.update(range(backend.lines))
        self._schedule_paint()

    def _take_dirty(self) -> None:
        """The emulator's changed rows since the last look (once per frame in a flood:
        reading them costs a render-state update)."""
        self._fed = False
        dirty = self._backend.take_dirty()
        for y in dirty:
            self._strips.pop(y, None)
        self._dirty |= dirty

    def _schedule_paint(self) -> None:
        if not self.is_mounted or not (self._dirty or self._fed):
            return
        # While a flood is still queued, paint less often: a frame of Textual's
        # compositor costs as much as megabytes of emulation, and nobody reads text
        # scrolling past at 60 frames a second; a frame that is slow to draw comes less
        # often still, so the emulator keeps most of the time. Caught up, the next paint
        # is at once.
        if self._flooding():
            frame = max(FLOOD_FRAME_SECONDS, self._paint_seconds / FLOOD_PAINT_SHARE)
        else:
            frame = FRAME_SECONDS
        due = self._last_paint + frame
        now = perf_counter()
        if due <= now:
            self._paint()
        elif self._paint_timer is None or due < self._paint_due:
            if self._paint_timer is not None:
                self._paint_timer.stop()
            self._paint_due = due
            self._paint_timer = self.set_timer(due - now, self._paint)

    def _flooding(self) -> bool:
        """Output is arriving faster than anyone reads it (queued, or a lot since the
        last frame)."""
        return bool(self._queue.pending_bytes) or self._fed_bytes >= FLOOD_BYTES

    def _paint(self) -> None:
        if self._paint_timer is not None:
            self._paint_timer.stop()
        self._paint_timer = None
        self._last_paint = perf_counter()
        self._fed_bytes = 0
        if self._fed:
            try:
                self._take_dirty()
            except Exception as exc:
                self._backend_failed(exc)
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        if len(dirty) * 2 >= self._backend.lines:
            self.refresh()
            return
        width = self.size.width
        self.refresh(*(Region(0, y, width, 1) for y in dirty))

    # --- size -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._queue:
            self._start_draining()

    def on_unmount(self) -> None:
        if self._drain_task is not None:
            self._drain_task.cancel()

    def on_resize(self, event: events.Resize) -> None:
        cols, rows = self.content_size.width, self.content_size.height
        if cols <= 0 or rows <= 0:
            return
        self.resize_emulator(cols, rows)

    def resize_emulator(self, cols: int, rows: int) -> None:
        """Give the emulator a new size now (the widget's own size follows on layout)."""
        held = self._backend.history_len
        self._backend.resize(cols, rows)
        self._strips.clear()
        # Growing pulls lines back from history: the scrolled-back view follows them.
        pulled = max(0, held - self._backend.history_len)
        self._scroll_back = max(0, min(self._scroll_back - pulled, self._backend.history_len))
        self._after_feed()
        self.refresh()
        if self._resize_timer is not None:
            self._resize_timer.stop()
        self._resize_timer = self.set_timer(RESIZE_DEBOUNCE_SECONDS, self._report_size)

    def _report_size(self) -> None:
        self._resize_timer = None
        size = (self._backend.columns, self._backend.lines)
        if size != self._reported_size and self._resize_callback is not None:
            self._reported_size = size
            try:
                self._resize_callback(*size)
            except Exception:
                log.exception("terminal: on_resize callback failed")

    def action_leave(self) -> None:
        self.post_message(self.LeaveRequested())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
