"""The pyte-based emulator backend (see `backend.TerminalBackend`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyte import modes as mo
from wcwidth import wcwidth

from tui.terminal.backend import (
    MOUSE_ANY,
    MOUSE_BUTTON,
    MOUSE_NORMAL,
    MOUSE_OFF,
    MOUSE_X10,
    Attrs,
    BellRang,
    Run,
    TerminalEvent,
    TerminalModes,
    TitleChange,
)
from tui.terminal.keys import PASTE_END, encode_key, encode_mouse, encode_paste
from tui.terminal.screen import DECCKM, Cell, FixedScreen, Line
from tui.terminal.xterm import XtermStream

log = logging.getLogger(__name__)

_BRACKETED_PASTE = 2004 << 5
_MOUSE_SGR = 1006 << 5
_FOCUS_EVENTS = 1004 << 5
MAX_CACHED_STYLES = 4096
_MOUSE_MODES = (MOUSE_ANY, MOUSE_BUTTON, MOUSE_NORMAL, MOUSE_X10)


class PyteBackend:
    """pyte `ByteStream` + `FixedScreen`, exposed as styled runs and modes."""

    name = "pyte"
    grid_exact = False  # runs follow wcwidth; the renderer fits them to Rich's widths

    def __init__(
        self,
        columns: int = 80,
        lines: int = 24,
        scrollback: int = 10_000,
        on_reply: Callable[[bytes], None] | None = None,
    ) -> None:
        self.on_reply = on_reply
        self._screen = FixedScreen(columns, lines, scrollback=scrollback)
        self._screen.on_reply = self._reply
        self._screen.on_title = self._title
        self._screen.on_bell = self._bell
        self._stream = XtermStream(self._screen)
        self._events: list[TerminalEvent] = []
        self._attrs: dict[tuple, Attrs] = {}
        self._cursor_row = 0

    # --- input ----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        try:
            self._stream.feed(data)
        except Exception:
            # pyte resets its parser on a handler error; the rest of this chunk is lost,
            # which is what a malformed sequence deserves.
            log.debug("terminal: dropped malformed input", exc_info=True)

    def resize(self, columns: int, lines: int) -> None:
        columns, lines = max(1, columns), max(1, lines)
        if (columns, lines) != (self._screen.columns, self._screen.lines):
            self._screen.resize(lines=lines, columns=columns)

    def reset(self) -> None:
        self._screen.reset()
        self._screen.history.clear()
        self._stream = XtermStream(self._screen)

    # --- state ----------------------------------------------------------------------

    @property
    def columns(self) -> int:
        return self._screen.columns

    @property
    def lines(self) -> int:
        return self._screen.lines

    @property
    def screen(self) -> FixedScreen:
        return self._screen

    def take_dirty(self) -> set[int]:
        screen = self._screen
        dirty = {y for y in screen.dirty if 0 <= y < screen.lines}
        screen.dirty.clear()
        # pyte does not mark rows dirty on cursor moves: the old and new rows must redraw.
        row = min(screen.cursor.y, screen.lines - 1)
        dirty.add(row)
        if self._cursor_row < screen.lines:
            dirty.add(self._cursor_row)
        self._cursor_row = row
        return dirty

    def take_events(self) -> list[TerminalEvent]:
        events, self._events = self._events, []
        return events

    @property
    def cursor(self) -> tuple[int, int]:
        screen = self._screen
        return min(screen.cursor.x, screen.columns - 1), min(screen.cursor.y, screen.lines - 1)

    @property
    def cursor_visible(self) -> bool:
        return mo.DECTCEM in self._screen.mode and not self._screen.cursor.hidden

    @property
    def modes(self) -> TerminalModes:
        mode = self._screen.mode
        tracking = next((m for m in _MOUSE_MODES if (m << 5) in mode), MOUSE_OFF)
        return TerminalModes(
            app_cursor=DECCKM in mode,
            bracketed_paste=_BRACKETED_PASTE in mode,
            mouse_tracking=tracking,
            mouse_sgr=_MOUSE_SGR in mode,
            alt_screen=self._screen.alt_active,
            focus_events=_FOCUS_EVENTS in mode,
        )

    @property
    def title(self) -> str:
        return self._screen.title

    @property
    def history_len(self) -> int:
        return len(self._screen.history)

    @property
    def history_total(self) -> int:
        return self._screen.history_total

    # --- output ---------------------------------------------------------------------

    def row_runs(self, y: int) -> list[Run]:
        return self._runs(self._screen.buffer.get(y))

    def history_runs(self, index: int) -> list[Run]:
        return self._runs(self._screen.history[index])

    def _runs(self, line: Line | None) -> list[Run]:
        columns = self._screen.columns
        if not line:
            blank = self._screen.default_char
            return [(" " * columns, self._attrs_of(blank))]
        runs: list[Run] = []
        texts: list[str] = []
        key: tuple | None = None
        skip_stub = False
        for x in range(columns):
            cell: Cell = line[x]
            data = cell.data
            if data == "":
                if skip_stub:
                    skip_stub = False
                    continue
                data = " "  # an orphaned half of an overwritten wide character
            skip_stub = False
            if x + 1 < columns and line[x + 1].data == "" and data != " ":
                skip_stub = True
            elif x + 1 == columns and data and _is_wide(data):
                data = " "  # a wide character cannot hang over the right edge
            cell_key = cell[1:]
            if cell_key != key:
                if texts:
                    runs.append(("".join(texts), self._attrs_of_key(key)))
                texts = []
                key = cell_key
            texts.append(data)
        if texts:
            runs.append(("".join(texts), self._attrs_of_key(key)))
        return runs

    def _attrs_of(self, cell: Cell) -> Attrs:
        return self._attrs_of_key(cell[1:])

    def _attrs_of_key(self, key: tuple | None) -> Attrs:
        key = key or ()
        attrs = self._attrs.get(key)
        if attrs is None:
            if len(self._attrs) >= MAX_CACHED_STYLES:
                self._attrs.clear()  # bounded: truecolour output has endless styles
            attrs = self._attrs[key] = Attrs(*key)
        return attrs

    def screen_text(self) -> str:
        return "\n".join(self.row_text(y) for y in range(self._screen.lines))

    def row_text(self, y: int) -> str:
        return "".join(text for text, _ in self.row_runs(y)).rstrip()

    def text_lines(self) -> list[str]:
        """History then screen, one string per row (what search looks through)."""
        return self.history_text() + [self.row_text(y) for y in range(self._screen.lines)]

    def history_text(self) -> list[str]:
        return [
            "".join(text for text, _ in self.history_runs(i)).rstrip()
            for i in range(self.history_len)
        ]

    # --- what the pane sends back (hand-written xterm tables in keys.py) -------------

    def encode_key(self, key: str, character: str | None) -> bytes | None:
        return encode_key(key, character, self.modes)

    def encode_mouse(self, button: int, x: int, y: int, **kwargs: bool) -> bytes | None:
        return encode_mouse(button, x, y, modes=self.modes, **kwargs)

    def encode_paste(self, text: str) -> bytes:
        return encode_paste(text, self.modes)

    def paste_is_safe(self, text: str) -> bool:
        return not any(c in text for c in "\r\n") and PASTE_END.decode() not in text

    def encode_focus(self, gained: bool) -> bytes | None:
        if not self.modes.focus_events:
            return None
        return b"\x1b[I" if gained else b"\x1b[O"

    # --- callbacks from the screen --------------------------------------------------

    def _reply(self, data: str) -> None:
        if self.on_reply is not None:
            self.on_reply(data.encode())

    def _title(self, title: str) -> None:
        self._events.append(TitleChange(title))

    def _bell(self) -> None:
        self._events.append(BellRang())


def _is_wide(data: str) -> bool:
    return wcwidth(data[0]) == 2
