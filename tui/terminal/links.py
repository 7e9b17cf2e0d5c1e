"""OSC 8 hyperlinks in the pane: underlined by the backend; the target of the link under
the mouse is shown on the bottom row, and a click copies it (nothing is opened: the
link comes from the remote, and the user decides what to do with it)."""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip

from tui.terminal.backend import MOUSE_OFF, TerminalBackend

LINK_CLASS = "terminal-pane--link"
MAX_SHOWN = 300  # a link longer than this is cut in the status line (copied whole)


class HyperlinkSupport:
    """Mixin for the pane; it provides `_backend`, `_scroll_back`, `refresh`, `app`."""

    _backend: TerminalBackend
    _scroll_back: int
    refresh: Callable[..., object]
    post_message: Callable[[Message], object]
    notify: Callable[..., object]
    get_component_rich_style: Callable[..., Style]

    _hovered_link: str | None = None
    LinkHovered: Callable[[str | None], Message]  # the pane's message class

    @property
    def hovered_link(self) -> str | None:
        """The target of the hyperlink under the mouse, if any."""
        return self._hovered_link

    def _hover(self, x: int, y: int) -> None:
        url = None
        if not self._scroll_back and 0 <= y < self._backend.lines:
            finder = getattr(self._backend, "hyperlink_at", None)
            url = finder(x, y) if finder is not None else None
        if url != self._hovered_link:
            self._hovered_link = url
            self.post_message(self.LinkHovered(url))
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hovered_link is not None:
            self._hovered_link = None
            self.post_message(self.LinkHovered(None))
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        if self._backend.modes.mouse_tracking != MOUSE_OFF or self._hovered_link is None:
            return
        event.stop()
        self.app.copy_to_clipboard(self._hovered_link)  # type: ignore[attr-defined]
        self.notify(f"link copied: {self._hovered_link[:80]}", timeout=3)

    def _with_link_line(self, strip: Strip, y: int, width: int) -> Strip:
        if self._hovered_link is None or y != self._backend.lines - 1:
            return strip
        text = f" ↗ {self._hovered_link[:MAX_SHOWN]}  (click: copy) "
        style = self.get_component_rich_style(LINK_CLASS)
        line = Strip([Segment(text, style)]).crop(0, width)
        return Strip.join([line, strip.crop(line.cell_length, width)])
