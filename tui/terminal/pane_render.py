"""How `TerminalPane` draws a row: the backend's runs as Rich segments with the
widget's theme, the cursor, and the selection offsets Textual reads from the styles.

Strips are cached per row until the emulator marks the row dirty; styles are cached
per look, so a row costs one Style copy per run (for its selection offset).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from time import perf_counter

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip

from tui.terminal.backend import Attrs, Run, TerminalBackend
from tui.terminal.pyte_backend import MAX_CACHED_STYLES
from tui.terminal.render import fit_text, row_segments, runs_to_segments, style_for, with_meta


class RowRendering:
    """Mixin for the pane; it provides `_backend`, the caches and the overlays."""

    _backend: TerminalBackend
    _strips: dict[int, Strip]
    _styles: dict[int, tuple[Attrs, Style]]
    _base_style: Style | None
    _scroll_back: int
    rich_style: Style
    _backend_failed: Callable[[Exception], None]
    _visible_runs: Callable[[int], list[Run]]
    _painting = False  # inside `render_lines`: rows without selection offsets
    _paint_seconds = 0.0  # what drawing the last frame of the pane's rows took

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_styles()

    def _forget_styles(self) -> None:
        self._styles.clear()
        self._strips.clear()
        self._base_style = None

    @property
    def _base(self) -> Style:
        """The widget's own style (theme colours), computed once per style change."""
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def _style(self, attrs: Attrs) -> Style:
        # Keyed by identity (backends share one Attrs per look; hashing the 10-field
        # tuple per segment costs more than the lookup). The entry keeps `attrs` alive,
        # so its id cannot be reused while the entry exists.
        entry = self._styles.get(id(attrs))
        if entry is None or entry[0] is not attrs:
            if len(self._styles) >= MAX_CACHED_STYLES:
                self._styles.clear()
            entry = self._styles[id(attrs)] = (attrs, self._base + style_for(attrs))
        return entry[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        # Textual paints through here. Alone, `render_line` answers the compositor's
        # question of which character is under the mouse (selection), which needs the
        # offset meta on every segment: a Style copy per run. Painted rows go without.
        self._painting = True
        start = perf_counter()
        try:
            return super().render_lines(crop)  # type: ignore[misc]
        finally:
            self._painting = False
            self._paint_seconds = perf_counter() - start

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= self._backend.lines:
            return Strip.blank(width, self._base)
        try:
            strip = self._render_row(y, width)
        except Exception as exc:
            self._backend_failed(exc)
            strip = self._render_row(y, width)
        selection = self.text_selection
        if selection is not None:
            style = self.screen.get_component_rich_style("screen--selection")
            strip = self._highlight(strip, y, selection, style)
        if self._search is not None:
            strip = self._with_matches(strip, y, self._row_text(y))
        strip = self._with_indicator(strip, y, width)
        strip = self._with_link_line(strip, y, width)
        return self._with_prompt(strip, y, width)

    def _render_row(self, y: int, width: int) -> Strip:
        backend = self._backend
        placed = not self._painting
        if self._scroll_back:
            return self._strip(self._visible_runs(y), width, y, placed=placed)
        cursor_x, cursor_y = backend.cursor
        if y == cursor_y and self.has_focus and backend.cursor_visible:
            return self._strip(backend.row_runs(y), width, y, cursor_x, placed=placed)
        if placed:
            return self._strip(backend.row_runs(y), width, y, placed=True)
        strip = self._strips.get(y)
        if strip is None or strip.cell_length != width:
            strip = self._strips[y] = self._strip(backend.row_runs(y), width, y)
        return strip

    def _strip(
        self,
        runs: list[Run],
        width: int,
        y: int,
        cursor_x: int | None = None,
        *,
        placed: bool = False,
    ) -> Strip:
        """Row y's strip; `placed` adds the selection offsets Textual reads from each
        segment's style (what `Strip.apply_offsets` adds), on copies of cached styles."""
        fit = getattr(self._backend, "display_text", fit_text)
        style = self._style
        segments: list[Segment]
        if placed:

            def style_at(attrs: Attrs, offset: int) -> Style:
                return with_meta(style(attrs), _offset_meta(offset, y))

            segments = row_segments(runs, style_at, cursor_x, fit=fit)
        else:
            segments = runs_to_segments(runs, style, cursor_x, fit=fit)
        strip = Strip(segments)
        if strip.cell_length != width:
            pad = self._base
            if placed:
                pad = pad + _offset_meta(sum(len(segment.text) for segment in segments), y)
            strip = strip.adjust_cell_length(width, pad)
        return strip


@lru_cache(maxsize=1 << 14)
def _offset_meta(offset: int, y: int) -> Style:
    return Style.from_meta({"offset": (offset, y)})
