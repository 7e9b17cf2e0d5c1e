"""xterm sequences pyte 0.8.2 does not know, which real programs send to xterm-256color.

- REP (CSI n b): ncurses repeats a character with it (htop, nano, mc, dialog); pyte
  dropped it, leaving gaps where lines and blank runs should be.
- SU/SD (CSI n S / CSI n T), SCOSC/SCORC (CSI s / CSI u), CHT/CBT (CSI n I / CSI n Z).
- Line drawing (ESC ( 0, SI/SO): pyte ignores charset designations in UTF-8 mode, so
  every ncurses box (htop, mc, dialog, raspi-config) came out as "lqqqk" and "x". xterm
  and tmux honour them in UTF-8 too; this stream always decodes UTF-8 and lets the
  parser see them.
- CSI with a `<`, `=` or `>` prefix (kitty keyboard push/pop, modifyOtherKeys, XTVERSION,
  secondary DA): pyte skips the prefix and runs the rest as a plain sequence, so
  `CSI > 4;2 m` underlined the text and `CSI < u` printed "u". They are taken out before
  pyte sees them; secondary DA is answered.
"""

from __future__ import annotations

import re
from typing import Any

import pyte
from pyte.screens import Margins

# A VT220-class terminal: claiming an xterm version would promise xterm-only features.
SECONDARY_DA_REPLY = "\x1b[>1;10;0c"
MAX_REPEAT = 65_535
_PREFIXED = re.compile(rb"\x1b\[[<=>]")
_BODY = re.compile(rb"[0-9;:]*[ -/]*")
_MAX_CARRY = 256  # a split prefixed sequence is short; anything longer is garbage


class XtermSequences:
    """Mixin for `FixedScreen` (a pyte `Screen`): the handlers `XtermStream` adds."""

    cursor: Any
    lines: int
    margins: Margins | None
    tabstops: set[int]
    _last_char: str

    def repeat_last_character(self, count: int = 1, *args: int, **kwargs: Any) -> None:
        if self._last_char and not kwargs.get("private"):
            self.draw(self._last_char * min(max(count, 1), MAX_REPEAT))  # type: ignore[attr-defined]

    def scroll_up(self, count: int = 1, *args: int, **kwargs: Any) -> None:
        """SU: the region's content moves up; the cursor stays."""
        if args or kwargs.get("private"):
            return
        top, bottom = self.margins or Margins(0, self.lines - 1)
        x, y = self.cursor.x, self.cursor.y
        self.cursor.y = bottom
        for _ in range(min(max(count, 1), bottom - top + 1)):
            self.index()  # type: ignore[attr-defined]
        self.cursor.x, self.cursor.y = x, y

    def scroll_down(self, count: int = 1, *args: int, **kwargs: Any) -> None:
        """SD: the region's content moves down; the cursor stays. (CSI T with five
        parameters is xterm's mouse highlight tracking, not a scroll.)"""
        if args or kwargs.get("private"):
            return
        top, bottom = self.margins or Margins(0, self.lines - 1)
        x, y = self.cursor.x, self.cursor.y
        self.cursor.y = top
        for _ in range(min(max(count, 1), bottom - top + 1)):
            self.reverse_index()  # type: ignore[attr-defined]
        self.cursor.x, self.cursor.y = x, y

    def save_cursor_sco(self, *args: int, **kwargs: Any) -> None:
        if not any(args) and not kwargs.get("private"):  # pyte passes 0 for "no param"
            self.save_cursor()  # type: ignore[attr-defined]

    def restore_cursor_sco(self, *args: int, **kwargs: Any) -> None:
        if not any(args) and not kwargs.get("private"):  # CSI ? u is kitty's query
            self.restore_cursor()  # type: ignore[attr-defined]

    def forward_tab(self, count: int = 1, *args: int, **kwargs: Any) -> None:
        for _ in range(min(max(count, 1), MAX_REPEAT)):
            self.tab()  # type: ignore[attr-defined]

    def back_tab(self, count: int = 1, *args: int, **kwargs: Any) -> None:
        for _ in range(min(max(count, 1), MAX_REPEAT)):
            x = self.cursor.x
            self.cursor.x = max((stop for stop in self.tabstops if stop < x), default=0)


class XtermStream(pyte.ByteStream):
    """pyte's byte stream with the sequences above; split sequences survive."""

    csi = {
        **pyte.ByteStream.csi,
        "b": "repeat_last_character",
        "S": "scroll_up",
        "T": "scroll_down",
        "s": "save_cursor_sco",
        "u": "restore_cursor_sco",
        "I": "forward_tab",
        "Z": "back_tab",
    }
    events = pyte.ByteStream.events | frozenset(csi.values())

    def __init__(self, screen: pyte.Screen) -> None:
        self._carry = b""
        super().__init__(screen)
        # pyte's parser skips ESC ( / ESC ) and SI/SO while use_utf8 is set; the
        # decoding below is done here instead, always UTF-8, as in xterm.
        self.use_utf8 = False

    def select_other_charset(self, code: str) -> None:
        pass  # ESC % @ (ISO 8859-1) is not followed: the pane always speaks UTF-8

    def _feed_text(self, data: bytes) -> None:
        if data:
            pyte.Stream.feed(self, self.utf8_decoder.decode(data))

    def feed(self, data: bytes) -> None:  # type: ignore[override]
        if self._carry:
            data, self._carry = self._carry + data, b""
        position = 0
        for match in _PREFIXED.finditer(data):
            start = match.start()
            if start < position:
                continue  # inside a sequence already taken out
            end = _BODY.match(data, match.end()).end()  # type: ignore[union-attr]
            if end >= len(data):  # the rest comes in the next chunk
                self._feed_text(data[position:start])
                self._carry = data[start:] if len(data) - start <= _MAX_CARRY else b""
                return
            self._feed_text(data[position:start])
            final = data[end]
            if 0x40 <= final <= 0x7E:
                self._prefixed(data[start + 2], data[match.end() : end], final)
                position = end + 1
            else:
                position = end  # aborted (e.g. by ESC): drop the introducer only
        tail = data[position:]
        for partial in (b"\x1b[", b"\x1b"):  # may be the start of a prefixed sequence
            if tail.endswith(partial):
                tail, self._carry = tail[: -len(partial)], partial
                break
        self._feed_text(tail)

    def _prefixed(self, prefix: int, params: bytes, final: int) -> None:
        if prefix == ord(">") and final == ord("c") and params.strip(b"0") == b"":
            self.listener.write_process_input(SECONDARY_DA_REPLY)  # type: ignore[union-attr]
