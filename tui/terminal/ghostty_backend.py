"""The emulator backend on Ghostty's VT core (libghostty-vt through pyghostty).

Same interface as `PyteBackend` (see `backend.TerminalBackend`), plus what the library
does for the pane: key, mouse, paste and focus encoding from the terminal's own modes
(`ghostty_input.InputEncoder`), hyperlinks and search.

Rows come from a render state: `take_dirty` updates it (the pane asks once per frame in
a flood) and reads the dirty rows; rows become runs lazily, all missing rows in one
pass. Scrollback rows are read by moving the library's viewport, a screen at a time.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from pyghostty import ffi, lib

from tui.terminal.backend import (
    DEFAULT_ATTRS,
    MOUSE_ANY,
    MOUSE_BUTTON,
    MOUSE_NORMAL,
    MOUSE_OFF,
    MOUSE_X10,
    BellRang,
    Run,
    TerminalEvent,
    TerminalModes,
    TitleChange,
)
from tui.terminal.ghostty_input import InputEncoder
from tui.terminal.ghostty_native import RowReader, check, display_text, scroll_viewport
from tui.terminal.ghostty_query import format_rows, hyperlink_at

log = logging.getLogger(__name__)

_MOUSE_MODES = (MOUSE_ANY, MOUSE_BUTTON, MOUSE_NORMAL, MOUSE_X10)
_MODE_NUMBERS = (1, 66, 2004, 1006, 1004, *_MOUSE_MODES)


def _free_all(terminal: object, state: object, reader: RowReader) -> None:
    reader.free()
    lib.ghostty_render_state_free(state)
    lib.ghostty_terminal_free(terminal)


# Native handles of backends the garbage collector took, freed at the next safe point.
# A finalizer runs wherever a collection starts: inside cffi's own (non-reentrant) lock,
# while it parses a type, where resolving a library function would hang the process for
# good; or in another thread, while this one is inside the library. So it only queues.
_RELEASED: list[tuple[object, object, RowReader]] = []


def _release(terminal: object, state: object, reader: RowReader) -> None:
    _RELEASED.append((terminal, state, reader))  # atomic; no native call, no lock


def free_released() -> None:
    """Free what the collector released (called from ordinary code, never a finalizer)."""
    while _RELEASED:
        _free_all(*_RELEASED.pop())


class GhosttyBackend:
    """libghostty-vt terminal + render state, exposed as styled runs and modes."""

    name = "ghostty"
    display_text = staticmethod(display_text)  # how the renderer draws a run's text
    # Bytes per feed call the pane's feeder uses: 0.05-0.5 ms of work here (colour-heavy
    # output ingests at ~65 MB/s, full-screen redraws at ~750), as 2 KB is for pyte. Each
    # call has a fixed cost of its own in the library: 2 KB calls ran at 0.7-0.9 of one
    # big write, 32 KB calls with the feeder's own work at 0.82-0.96 (bench/terminal.py).
    piece_bytes = 32768

    def __init__(
        self,
        columns: int = 80,
        lines: int = 24,
        scrollback: int = 10_000,
        on_reply: Callable[[bytes], None] | None = None,
    ) -> None:
        self.on_reply = on_reply
        free_released()
        columns, lines = max(1, columns), max(1, lines)
        handle = ffi.new("GhosttyTerminal*")
        check(lib.ghostty_terminal_new(ffi.NULL, handle, columns, lines), "terminal_new")
        self._t = handle[0]
        self._write = lib.ghostty_terminal_vt_write  # the hot call, looked up once
        state = ffi.new("GhosttyRenderState*")
        check(lib.ghostty_render_state_new(ffi.NULL, state), "render_state_new")
        self._state = state[0]
        self._reader = RowReader(self._t)
        self._release = weakref.finalize(self, _release, self._t, self._state, self._reader)
        self._scrollback = scrollback
        self._limit_scrollback(scrollback, columns)
        # cffi callbacks must stay referenced for as long as they are installed.
        self._callbacks = (
            ffi.callback("GhosttyTerminalWritePtyFn", self._on_write_pty, onerror=self._cb_error),
            ffi.callback("GhosttyTerminalBellFn", self._on_bell, onerror=self._cb_error),
            ffi.callback("GhosttyTerminalTitleChangedFn", self._on_title, onerror=self._cb_error),
        )
        self._set(lib.GHOSTTY_TERMINAL_OPT_WRITE_PTY, self._callbacks[0])
        self._set(lib.GHOSTTY_TERMINAL_OPT_BELL, self._callbacks[1])
        self._set(lib.GHOSTTY_TERMINAL_OPT_TITLE_CHANGED, self._callbacks[2])
        self.input = InputEncoder(self._t)
        self._columns, self._lines = columns, lines
        self._events: list[TerminalEvent] = []
        self._rows: dict[int, list[Run]] = {}  # runs of live screen rows, by y
        self._history: dict[int, list[Run]] = {}  # runs of scrollback rows, by index
        self._pending_dirty: set[int] = set()
        self._stale = True  # the render state is older than the terminal
        self._stale_history = True  # the history counts too
        self._viewport_top: int | None = None  # None: viewport at the bottom (live)
        self._modes: TerminalModes | None = None
        self._cursor: tuple[int, int] | None = None
        self._cursor_row = 0
        self._history_len = 0
        self._history_total = 0
        self._title = ""
        self._u16 = ffi.new("uint16_t*")
        self._bool = ffi.new("bool*")
        self._size = ffi.new("size_t*")
        self._mode = ffi.new("GhosttyTerminalModeConfig*")
        self._scrollbar = ffi.new("GhosttyTerminalScrollbar*")
        self._screen = ffi.new("GhosttyTerminalScreen*")

    def close(self) -> None:
        """Free the native terminal now (the finalizer queues it otherwise)."""
        detached = self._release.detach()  # (self, func, args, kwargs) or None
        if detached is not None:
            _free_all(*detached[2])
        free_released()

    # --- input ----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if b"\x7f" in data:
            # DEL is a no-op for xterm and tmux; libghostty-vt 0.1 draws it in a cell.
            data = data.replace(b"\x7f", b"")
        self._write(self._t, data, len(data))
        self._stale = self._stale_history = True
        self._modes = self._cursor = None
        if self._history:
            self._history.clear()

    def resize(self, columns: int, lines: int) -> None:
        columns, lines = max(1, columns), max(1, lines)
        if (columns, lines) == (self._columns, self._lines):
            return
        check(lib.ghostty_terminal_resize(self._t, columns, lines, 8, 16), "resize")
        self._columns, self._lines = columns, lines
        self._limit_scrollback(self._scrollback, columns)
        self._invalidate()

    def reset(self) -> None:
        lib.ghostty_terminal_reset(self._t)
        # A full reset keeps scrollback in Ghostty; a fresh terminal forgets it.
        self._limit_scrollback(0, self._columns)
        self._limit_scrollback(self._scrollback, self._columns)
        self._history_len = 0
        self._invalidate()

    def _limit_scrollback(self, lines: int, columns: int) -> None:
        """Keep about `lines` of history. The library caps it by bytes (10 kB by default:
        a few hundred lines) and by lines; pruning by the line cap is 4-5x slower on
        scrolling output (measured: 70 against 330 MB/s), so the byte cap, sized for
        `lines` rows of this width, decides, and the line cap only bounds it. Whole
        pages are pruned: the count held is within a page (~10%) of `lines`."""
        row_bytes = columns * 8 + 100  # a page row: 8 bytes per cell, plus its share
        self._set(
            lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_BYTES, ffi.new("size_t*", lines * row_bytes)
        )
        self._set(lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_LINES, ffi.new("size_t*", lines * 2))

    def _invalidate(self) -> None:
        self._stale = self._stale_history = True
        self._modes = self._cursor = None
        self._rows.clear()
        self._history.clear()
        self._pending_dirty.update(range(self._lines))

    def _set(self, option: int, value: object) -> None:
        check(lib.ghostty_terminal_set(self._t, option, value), f"terminal_set {option}")

    # --- state ----------------------------------------------------------------------

    @property
    def columns(self) -> int:
        return self._columns

    @property
    def lines(self) -> int:
        return self._lines

    def _get(self, key: int, out: object) -> object:
        check(lib.ghostty_terminal_get(self._t, key, out), f"terminal_get {key}")
        return out[0]

    def _refresh(self) -> None:
        """Bring the render state up to date with the live screen."""
        if self._viewport_top is not None:
            scroll_viewport(self._t, lib.GHOSTTY_SCROLL_VIEWPORT_BOTTOM)
            self._viewport_top = None
            self._stale = True
            self._rows.clear()
        if not self._stale:
            return
        self._update_state()
        dirty = self._reader.dirty_rows(self._state)
        check(lib.ghostty_render_state_clean(self._state), "render_state_clean")
        for y in dirty:
            self._rows.pop(y, None)
        self._pending_dirty.update(dirty)
        self._stale = False

    def _update_state(self) -> None:
        check(lib.ghostty_render_state_update(self._state, self._t), "render_state_update")
        self._reader.new_update()

    def take_dirty(self) -> set[int]:
        self._refresh()
        dirty = {y for y in self._pending_dirty if 0 <= y < self._lines}
        self._pending_dirty.clear()
        # A moved cursor must redraw its old and new rows.
        row = self.cursor[1]
        dirty.add(row)
        if self._cursor_row < self._lines:
            dirty.add(self._cursor_row)
        self._cursor_row = row
        return dirty

    def take_events(self) -> list[TerminalEvent]:
        events, self._events = self._events, []
        return events

    @property
    def cursor(self) -> tuple[int, int]:
        # Asked for every row drawn: read once per change of the terminal.
        if self._cursor is None:
            x = self._get(lib.GHOSTTY_TERMINAL_DATA_CURSOR_X, self._u16)
            y = self._get(lib.GHOSTTY_TERMINAL_DATA_CURSOR_Y, self._u16)
            self._cursor = min(x, self._columns - 1), min(y, self._lines - 1)
        return self._cursor

    @property
    def cursor_visible(self) -> bool:
        return bool(self._get(lib.GHOSTTY_TERMINAL_DATA_CURSOR_VISIBLE, self._bool))

    def mode(self, number: int) -> bool:
        self._mode.mode = number & 0x7FFF
        self._get(lib.GHOSTTY_TERMINAL_DATA_MODE, self._mode)
        return bool(self._mode.value)

    @property
    def modes(self) -> TerminalModes:
        if self._modes is None:
            on = {n for n in _MODE_NUMBERS if self.mode(n)}
            self._modes = TerminalModes(
                app_cursor=1 in on,
                app_keypad=66 in on,
                bracketed_paste=2004 in on,
                mouse_tracking=next((m for m in _MOUSE_MODES if m in on), MOUSE_OFF),
                mouse_sgr=1006 in on,
                alt_screen=self._on_alt_screen(),
                focus_events=1004 in on,
            )
        return self._modes

    def _on_alt_screen(self) -> bool:
        screen = self._get(lib.GHOSTTY_TERMINAL_DATA_ACTIVE_SCREEN, self._screen)
        return screen == lib.GHOSTTY_TERMINAL_SCREEN_ALTERNATE

    @property
    def title(self) -> str:
        return self._title

    def _count_history(self) -> None:
        """Lines held, and ever pushed (monotonic, for the pane's view to follow). The
        alternate screen has no history of its own: the main screen's counts stand."""
        if self._stale_history:
            self._stale_history = False
            if self._on_alt_screen():  # one query, not every mode: this runs per feed
                return
            bar = self._get(lib.GHOSTTY_TERMINAL_DATA_SCROLLBAR, self._scrollbar)
            held = int(bar.total - bar.len)
            if held > self._history_len:
                self._history_total += held - self._history_len
            self._history_len = held

    @property
    def history_len(self) -> int:
        self._count_history()
        return self._history_len

    @property
    def history_total(self) -> int:
        self._count_history()
        return self._history_total

    # --- output ---------------------------------------------------------------------

    def row_runs(self, y: int) -> list[Run]:
        self._refresh()
        runs = self._rows.get(y)
        if runs is None:
            missing = {row for row in range(self._lines) if row not in self._rows}
            self._rows.update(self._reader.read_rows(self._state, missing))
            runs = self._rows.get(y)
        return runs if runs is not None else [(" " * self._columns, DEFAULT_ATTRS)]

    def history_runs(self, index: int) -> list[Run]:
        runs = self._history.get(index)
        if runs is not None:
            return runs
        self._refresh()
        held = self.history_len
        top = max(0, min(index, held))
        scroll_viewport(self._t, lib.GHOSTTY_SCROLL_VIEWPORT_TOP)
        scroll_viewport(self._t, lib.GHOSTTY_SCROLL_VIEWPORT_DELTA, top)
        self._viewport_top = top
        self._update_state()
        for y, row in self._reader.read_rows(self._state, None).items():
            if top + y < held:
                self._history[top + y] = row
        return self._history.get(index) or [(" " * self._columns, DEFAULT_ATTRS)]

    def screen_text(self) -> str:
        return "\n".join(self.row_text(y) for y in range(self._lines))

    def row_text(self, y: int) -> str:
        return "".join(text for text, _ in self.row_runs(y)).rstrip()

    def text_lines(self) -> list[str]:
        """History then screen, one string per row (what search looks through), in one
        call to the library's formatter."""
        self._refresh()
        expected = self.history_len + self._lines
        lines = format_rows(self._t, self._columns, self._lines)
        if len(lines) > expected:  # never expected; keep line numbers honest anyway
            lines = lines[len(lines) - expected :]
        return lines + [""] * (expected - len(lines))  # the formatter trims blank rows

    def hyperlink_at(self, x: int, y: int) -> str | None:
        """The OSC 8 target of the cell at (x, y) of the live screen, if any."""
        if not (0 <= x < self._columns and 0 <= y < self._lines):
            return None
        return hyperlink_at(self._t, x, y)

    def history_text(self) -> list[str]:
        return [
            "".join(text for text, _ in self.history_runs(i)).rstrip()
            for i in range(self.history_len)
        ]

    # --- what the pane sends back, encoded by the library ----------------------------

    def encode_key(self, key: str, character: str | None) -> bytes | None:
        return self.input.encode_key(key, character)

    def encode_mouse(self, button: int, x: int, y: int, **kwargs: bool) -> bytes | None:
        if self.modes.mouse_tracking == MOUSE_OFF:
            return None
        return self.input.encode_mouse(
            button, x, y, columns=self._columns, lines=self._lines, **kwargs
        )

    def encode_paste(self, text: str) -> bytes:
        # A pasted CRLF is one line end, as in the pyte backend (Ghostty would send CR CR).
        text = text.replace("\r\n", "\n")
        return self.input.encode_paste(text, self.modes.bracketed_paste)

    def paste_is_safe(self, text: str) -> bool:
        return self.input.paste_is_safe(text)

    def encode_focus(self, gained: bool) -> bytes | None:
        return self.input.encode_focus(gained) if self.modes.focus_events else None

    # --- callbacks from the library ---------------------------------------------------

    def _cb_error(self, exc_type: type, value: BaseException, tb: object) -> None:
        log.error("terminal: callback failed", exc_info=(exc_type, value, tb))

    def _on_write_pty(self, terminal: object, userdata: object, data: object, n: int) -> None:
        if self.on_reply is not None and n:
            self.on_reply(ffi.buffer(data, n)[:])

    def _on_bell(self, terminal: object, userdata: object) -> None:
        self._events.append(BellRang())

    def _on_title(self, terminal: object, userdata: object) -> None:
        title = ffi.new("GhosttyString*")
        if lib.ghostty_terminal_get(self._t, lib.GHOSTTY_TERMINAL_DATA_TITLE, title):
            return
        self._title = ffi.buffer(title.ptr, title.len)[:].decode("utf-8", "replace")
        self._events.append(TitleChange(self._title))
