"""Mouse handling for `TerminalPane`: forwarded to the remote only when it enabled
tracking; otherwise the wheel scrolls the history."""

from __future__ import annotations

from collections.abc import Callable

from textual import events

from tui.terminal.backend import TerminalBackend
from tui.terminal.keys import MOUSE_LEFT, MOUSE_MIDDLE, MOUSE_RIGHT, WHEEL_DOWN, WHEEL_UP

_BUTTONS = {1: MOUSE_LEFT, 2: MOUSE_MIDDLE, 3: MOUSE_RIGHT}
NO_BUTTON = 3
WHEEL_LINES = 3


class MouseForwarding:
    """Mixin for the pane; it provides `_backend`, `_send` and `_scroll_lines`."""

    _backend: TerminalBackend
    _send: Callable[[bytes], None]
    _scroll_lines: Callable[[int], None]
    _hover: Callable[[int, int], None]
    capture_mouse: Callable[..., None]

    def _mouse(self, event: events.MouseEvent, button: int, **kwargs: bool) -> bool:
        data = self._backend.encode_mouse(
            button,
            max(0, event.x),
            max(0, event.y),
            shift=event.shift,
            meta=event.meta,
            ctrl=event.ctrl,
            **kwargs,
        )
        if data is None:
            return False
        event.stop()
        self._send(data)
        return True

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self._mouse(event, _BUTTONS.get(event.button, MOUSE_LEFT), pressed=True):
            self.capture_mouse()  # drags that leave the pane still reach the remote

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self.capture_mouse(False)
        self._mouse(event, _BUTTONS.get(event.button, MOUSE_LEFT), pressed=False)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._backend.modes.mouse_tracking:
            button = _BUTTONS.get(event.button, NO_BUTTON) if event.button else NO_BUTTON
            self._mouse(event, button, motion=True)
        else:
            self._hover(event.x, event.y)  # a hyperlink under the mouse shows its target

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, WHEEL_UP, "up", -WHEEL_LINES)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, WHEEL_DOWN, "down", WHEEL_LINES)

    def _wheel(self, event: events.MouseEvent, button: int, arrow: str, lines: int) -> None:
        if self._mouse(event, button):
            return
        event.stop()
        modes = self._backend.modes
        if modes.alt_screen:
            # xterm's alternateScroll: less, man and vim get arrow keys, as in most terminals.
            self._send((self._backend.encode_key(arrow, None) or b"") * WHEEL_LINES)
        else:
            self._scroll_lines(lines)
