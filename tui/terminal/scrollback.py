"""Scrollback view for `TerminalPane`: shift+pageup/pagedown and the wheel move the view
into the emulator's history; typing returns to the live screen."""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.terminal.backend import Run, TerminalBackend

INDICATOR_CLASS = "terminal-pane--scrollback"


class ScrollbackView:
    """Mixin for the pane; it provides `_backend`, `refresh` and the component class
    INDICATOR_CLASS (Textual reads COMPONENT_CLASSES from widget classes only)."""

    _backend: TerminalBackend
    _scroll_back: int
    _history_seen: int
    refresh: Callable[..., object]
    _send: Callable[[bytes], None]
    get_component_rich_style: Callable[..., Style]
    _search_label: Callable[[], str]
    _search: object
    _match_lines: object

    @property
    def scroll_back(self) -> int:
        """How many lines the view is scrolled into the history (0 = live screen)."""
        return self._scroll_back

    def _visible_runs(self, y: int) -> list[Run]:
        backend = self._backend
        if not self._scroll_back:
            return backend.row_runs(y)
        index = backend.history_len - self._scroll_back + y
        if index < backend.history_len:
            return backend.history_runs(max(0, index))
        return backend.row_runs(index - backend.history_len)

    def _follow_history(self) -> bool:
        """After output: keep the lines the user reads in place. True if the view moved."""
        backend = self._backend
        grown = backend.history_total - self._history_seen
        self._history_seen = backend.history_total
        if not (self._scroll_back and grown):
            return False
        self._scroll_back = min(self._scroll_back + grown, backend.history_len)
        return True

    def _with_indicator(self, strip: Strip, y: int, width: int) -> Strip:
        """Row 0 says how far back the view is, like tmux's copy mode: the live screen
        is not on show, and the user must be able to tell. A search adds its needle and
        which match is selected."""
        search = self._search_label()
        if y or not (self._scroll_back or search):
            return strip
        label = f" [{self._scroll_back}/{self._backend.history_len}]{search} "
        if len(label) >= width:
            return strip
        style = self.get_component_rich_style(INDICATOR_CLASS)
        return Strip.join([strip.crop(0, width - len(label)), Strip([Segment(label, style)])])

    def _back_to_live(self) -> None:
        if self._scroll_back or self._search is not None:
            self._scroll_back = 0
            self._search = None
            self._match_lines = None
            self.refresh()

    def action_scroll_history(self, pages: int) -> None:
        modes = self._backend.modes
        if modes.alt_screen and not self._scroll_back:
            # Full-screen apps keep no history here (as in tmux and VTE): the key is
            # theirs, e.g. vim pages with shift+pageup.
            key = "shift+pageup" if pages < 0 else "shift+pagedown"
            self._send(self._backend.encode_key(key, None) or b"")
            return
        self._scroll_lines(pages * max(1, self._backend.lines - 1))

    def _scroll_lines(self, delta: int) -> None:
        """Negative delta scrolls back into history."""
        new = min(max(0, self._scroll_back - delta), self._backend.history_len)
        if new != self._scroll_back:
            self._scroll_back = new
            self.refresh()
