"""A pyte `Screen` that fixes what pyte 0.8.2 gets wrong (see docs/notes.md).

- alternate screen (private modes 1049/1047/47) with its own buffer;
- zero-width joiners and variation selectors join the previous cell instead of
  dropping the rest of the chunk; control characters are skipped, not fatal;
- wide characters wrap as a whole and never overflow the last column;
- SGR 2 (dim) and colour names that Rich understands;
- bounded scrollback kept in a deque (pyte's `HistoryScreen` costs 4x);
- DSR/CPR/DA replies, title and bell go to the owner instead of nowhere;
- the xterm sequences of `xterm.XtermSequences` (REP, SU/SD, CSI s/u, ...).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, NamedTuple

import pyte
from pyte import modes as mo
from pyte.screens import Margins, StaticDefaultDict
from wcwidth import wcwidth

from tui.terminal.xterm import XtermSequences

ALT_SCREEN_MODES = frozenset({47, 1047, 1049})
MAX_GLYPH_STYLES = 1024
DECCKM = 1 << 5

_ANSI = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_BRIGHT = tuple(f"bright_{name}" for name in _ANSI)
_FG = {30 + i: name for i, name in enumerate(_ANSI)} | {39: "default"}
_BG = {40 + i: name for i, name in enumerate(_ANSI)} | {49: "default"}
_FG_BRIGHT = {90 + i: name for i, name in enumerate(_BRIGHT)}
_BG_BRIGHT = {100 + i: name for i, name in enumerate(_BRIGHT)}
_PALETTE_256 = (*_ANSI, *_BRIGHT, *(f"color({n})" for n in range(16, 256)))
# SGR number -> (field, value); 22 clears both bold and dim.
_FLAGS: dict[int, tuple[tuple[str, bool], ...]] = {
    1: (("bold", True),),
    2: (("dim", True),),
    3: (("italics", True),),
    4: (("underscore", True),),
    5: (("blink", True),),
    7: (("reverse", True),),
    9: (("strikethrough", True),),
    21: (("underscore", True),),
    22: (("bold", False), ("dim", False)),
    23: (("italics", False),),
    24: (("underscore", False),),
    25: (("blink", False),),
    27: (("reverse", False),),
    29: (("strikethrough", False),),
}


class Cell(NamedTuple):
    """pyte's `Char` plus `dim`; the fields after `data` line up with `Attrs`."""

    data: str
    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    dim: bool = False


Line = StaticDefaultDict[int, Cell]
_BLANK = Cell(" ")
_BLANK_REVERSE = Cell(" ", reverse=True)


class FixedScreen(XtermSequences, pyte.Screen):
    """pyte's screen with the fixes listed in the module docstring."""

    def __init__(self, columns: int, lines: int, scrollback: int = 10_000) -> None:
        self.history: deque[Line] = deque(maxlen=max(0, scrollback))
        self.history_total = 0
        self.alt_active = False
        self.on_reply: Callable[[str], None] | None = None
        self.on_title: Callable[[str], None] | None = None
        self.on_bell: Callable[[], None] | None = None
        self._main_buffer: Any = None
        # One shared Cell per (attrs, char): building a NamedTuple per drawn char is
        # what makes bare pyte slow.
        self._glyphs: dict[Cell, dict[str, Cell]] = {}
        self._last_char = ""  # for REP (see xterm.py)
        super().__init__(columns, lines)

    # --- attributes -----------------------------------------------------------------

    @property
    def default_char(self) -> Cell:  # type: ignore[override]
        return _BLANK_REVERSE if mo.DECSCNM in self.mode else _BLANK

    def reset(self) -> None:
        self._main_buffer = None
        self.alt_active = False
        super().reset()
        self.cursor.attrs = self.default_char

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return  # CSI > ... m (xterm modifyOtherKeys) is not a style change
        if not attrs or attrs == (0,):
            self.cursor.attrs = self.default_char
            return
        replace: dict[str, Any] = {}
        params = list(reversed(attrs))
        while params:
            attr = params.pop()
            if attr == 0:
                replace.update(self.default_char._asdict())
                del replace["data"]
            elif attr in _FG:
                replace["fg"] = _FG[attr]
            elif attr in _BG:
                replace["bg"] = _BG[attr]
            elif attr in _FLAGS:
                replace.update(_FLAGS[attr])
            elif attr in _FG_BRIGHT:
                replace["fg"] = _FG_BRIGHT[attr]
            elif attr in _BG_BRIGHT:
                replace["bg"] = _BG_BRIGHT[attr]
            elif attr in (38, 48):
                key = "fg" if attr == 38 else "bg"
                try:
                    kind = params.pop()
                    if kind == 5:
                        replace[key] = _PALETTE_256[params.pop() % 256]
                    elif kind == 2:
                        r, g, b = params.pop(), params.pop(), params.pop()
                        replace[key] = f"#{r % 256:02x}{g % 256:02x}{b % 256:02x}"
                except IndexError:
                    pass
        self.cursor.attrs = self.cursor.attrs._replace(**replace)

    # --- drawing --------------------------------------------------------------------

    def _wrap(self) -> None:
        self.dirty.add(self.cursor.y)
        self.carriage_return()
        self.linefeed()

    def draw(self, data: str) -> None:
        data = data.translate(self.g1_charset if self.charset else self.g0_charset)
        if data:
            self._last_char = data[-1]
        cursor = self.cursor
        if data.isascii() and data.isprintable() and mo.IRM not in self.mode:
            self._draw_narrow(data)
        else:
            for char in data:
                self._draw_char(char)
        self.dirty.add(cursor.y)

    def _draw_narrow(self, data: str) -> None:
        """Fast path: printable ASCII, one cell per character, no insert mode."""
        cursor = self.cursor
        columns = self.columns
        autowrap = mo.DECAWM in self.mode
        attrs = cursor.attrs
        glyphs = self._glyphs.get(attrs)
        if glyphs is None:
            if len(self._glyphs) >= MAX_GLYPH_STYLES:
                self._glyphs.clear()  # truecolour gradients must not grow it forever
            glyphs = self._glyphs[attrs] = {}
        offset, length = 0, len(data)
        while offset < length:
            if cursor.x >= columns:
                if autowrap:
                    self._wrap()
                else:
                    cursor.x = columns - 1
            line = self.buffer[cursor.y]
            x = cursor.x
            take = min(columns - x, length - offset)
            for char in data[offset : offset + take]:
                cell = glyphs.get(char)
                if cell is None:
                    cell = glyphs[char] = attrs._replace(data=char)
                line[x] = cell
                x += 1
            offset += take
            cursor.x = x
            self.dirty.add(cursor.y)

    def _draw_char(self, char: str) -> None:
        cursor = self.cursor
        width = wcwidth(char)
        if width <= 0:
            if width == 0 and char:
                self._join_previous(char)
            return  # control characters take no cell and must not stop the chunk
        if cursor.x + width > self.columns:
            if mo.DECAWM in self.mode:
                if cursor.x < self.columns:
                    self.buffer[cursor.y][cursor.x] = cursor.attrs._replace(data=" ")
                self._wrap()
            else:
                cursor.x = max(0, self.columns - width)
        if mo.IRM in self.mode:
            self.insert_characters(width)
        line = self.buffer[cursor.y]
        line[cursor.x] = cursor.attrs._replace(data=char)
        if width == 2:
            line[cursor.x + 1] = cursor.attrs._replace(data="")
        cursor.x = min(cursor.x + width, self.columns)
        self.dirty.add(cursor.y)

    def _join_previous(self, char: str) -> None:
        """Attach a zero-width character (combining, ZWJ, VS16) to the cell before."""
        cursor = self.cursor
        y, x = cursor.y, cursor.x - 1
        if x < 0:
            if not y:
                return
            y, x = y - 1, self.columns - 1
        line = self.buffer[y]
        if x > 0 and line[x].data == "":
            x -= 1  # the previous cell is the stub of a wide character
        last = line[x]
        joined = last.data + char
        if unicodedata.combining(char):
            joined = unicodedata.normalize("NFC", joined)
        line[x] = last._replace(data=joined)
        self.dirty.add(y)

    # --- scrolling and scrollback ---------------------------------------------------

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0 and not self.alt_active and self.history.maxlen:
            self.history.append(self.buffer.get(0) or StaticDefaultDict(self.default_char))
            self.history_total += 1
        super().index()

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        super().erase_in_display(how, *args, **kwargs)
        if how == 3 and not self.alt_active:
            self.history.clear()

    # --- alternate screen -----------------------------------------------------------

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            for mode in modes:
                if mode in ALT_SCREEN_MODES:
                    self._enter_alt(save_cursor=mode == 1049)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            for mode in modes:
                if mode in ALT_SCREEN_MODES:
                    self._leave_alt(restore_cursor=mode == 1049)
        super().reset_mode(*modes, **kwargs)

    def _new_buffer(self) -> defaultdict[int, Line]:
        return defaultdict(lambda: StaticDefaultDict(self.default_char))

    def _enter_alt(self, save_cursor: bool) -> None:
        if self.alt_active:
            return
        if save_cursor:
            self.save_cursor()
        self._main_buffer = self.buffer
        self.buffer = self._new_buffer()
        self.alt_active = True
        self.dirty.update(range(self.lines))

    def _leave_alt(self, restore_cursor: bool) -> None:
        if not self.alt_active:
            return
        self.buffer = self._main_buffer
        self._main_buffer = None
        self.alt_active = False
        if restore_cursor:
            self.restore_cursor()
        self.dirty.update(range(self.lines))

    # --- size -----------------------------------------------------------------------

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        lines = lines or self.lines
        columns = columns or self.columns
        if lines < self.lines:
            self._shrink_rows(lines)
        elif lines > self.lines and not self.alt_active:
            self._grow_rows(lines)
        if columns < self.columns and self._main_buffer is not None:
            for line in self._main_buffer.values():
                for x in range(columns, self.columns):
                    line.pop(x, None)
        super().resize(lines, columns)
        self.tabstops = {stop for stop in range(8, columns, 8)}
        self.cursor.x = min(self.cursor.x, columns)
        self.cursor.y = min(self.cursor.y, lines - 1)

    def _grow_rows(self, lines: int) -> None:
        """Pull lines back from history into the new top rows, as xterm and tmux do,
        so making the window taller shows more of what scrolled off, not blank rows."""
        pulled = min(lines - self.lines, len(self.history))
        if not pulled:
            return
        moved = {y + pulled: line for y, line in self.buffer.items() if y < self.lines}
        self.buffer.clear()
        self.buffer.update(moved)
        for y in range(pulled - 1, -1, -1):
            self.buffer[y] = self.history.pop()
        self.cursor.y += pulled
        self.dirty.update(range(lines))

    def _shrink_rows(self, lines: int) -> None:
        """Drop blank rows below the cursor first, then scroll the top into history."""
        excess = self.lines - lines
        below = max(0, self.lines - 1 - self.cursor.y)
        from_bottom = min(excess, below)
        from_top = excess - from_bottom
        buffers = [self.buffer] if self._main_buffer is None else [self.buffer, self._main_buffer]
        for buffer in buffers:
            keep_main = buffer is not self.buffer or not self.alt_active
            for y in range(from_top):
                line = buffer.pop(y, None)
                if keep_main and self.history.maxlen:
                    self.history.append(line or StaticDefaultDict(self.default_char))
                    self.history_total += 1
            moved = {
                y - from_top: line for y, line in buffer.items() if from_top <= y < lines + from_top
            }
            buffer.clear()
            buffer.update(moved)
        self.cursor.y = max(0, self.cursor.y - from_top)
        self.lines = lines
        self.margins = None
        self.dirty.update(range(lines))

    # --- replies and notifications --------------------------------------------------

    def write_process_input(self, data: str) -> None:
        if self.on_reply is not None:
            self.on_reply(data)

    def set_title(self, param: str) -> None:
        super().set_title(param)
        if self.on_title is not None:
            self.on_title(param)

    def bell(self, *args: Any) -> None:
        if self.on_bell is not None:
            self.on_bell()
