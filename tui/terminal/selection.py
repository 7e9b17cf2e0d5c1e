"""Text selection in the pane, offered only while the remote does not track the mouse."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from textual.selection import Selection
from textual.strip import Strip

from tui.terminal.backend import MOUSE_OFF, Run, TerminalBackend
from tui.terminal.render import overlay


class SelectionSupport:
    """Mixin for the pane; it provides `_backend`, `_visible_runs` and `refresh`."""

    ALLOW_SELECT: ClassVar[bool] = True
    _backend: TerminalBackend
    _visible_runs: Callable[[int], list[Run]]
    refresh: Callable[..., object]

    @property
    def allow_select(self) -> bool:
        return self.ALLOW_SELECT and self._backend.modes.mouse_tracking == MOUSE_OFF

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        rows = [self._row_text(y) for y in range(self._backend.lines)]
        text = selection.extract("\n".join(rows))
        # Rows are padded to the width: drop the padding from every copied line.
        return "\n".join(line.rstrip() for line in text.split("\n")), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def _row_text(self, y: int) -> str:
        """One character per selection offset, as `Strip.apply_offsets` counts them."""
        return "".join(text for text, _ in self._visible_runs(y))

    def _highlight(self, strip: Strip, y: int, selection: Selection, style: Style) -> Strip:
        """Style the selected part of row y; offsets are characters, cuts are cells."""
        span = selection.get_span(y)
        if span is None:
            return strip
        row_text = self._row_text(y)
        start, end = span
        if end == -1:
            end = len(row_text)
        if end <= start:
            return strip
        cell_start, cell_end = cell_len(row_text[:start]), cell_len(row_text[:end])
        before, middle, after = strip.divide([cell_start, cell_end, strip.cell_length])
        return Strip.join([before, overlay(middle, style), after])
