"""Keys, paste and focus for `TerminalPane`: encoded by the backend (Ghostty's encoders
or the xterm tables of the pyte fallback) and sent through the pane's `on_input`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from textual import events

from tui.terminal.backend import TerminalBackend
from tui.terminal.paste import PasteConfirm

log = logging.getLogger(__name__)


class KeyboardInput:
    """Mixin for the pane; it provides `_backend`, `_input_callback` and the views."""

    _backend: TerminalBackend
    _input_callback: Callable[[bytes], None] | None
    _dirty: set[int]
    _schedule_paint: Callable[[], None]
    _back_to_live: Callable[[], None]
    _search_key: Callable[[events.Key], bool]

    def _send(self, data: bytes) -> None:
        if self._input_callback is None or not data:
            return
        try:
            self._input_callback(data)
        except Exception:
            log.exception("terminal: on_input callback failed")

    def _own_binding(self, key: str) -> bool:
        active = self.screen.active_bindings.get(key) if self.is_mounted else None
        return active is not None and active.node is self

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Printable keys only (like Input): claiming ctrl keys here would also hide the
        # App's priority bindings (ctrl+q, ctrl+p) from the binding chain.
        return character is not None and character.isprintable()

    def on_key(self, event: events.Key) -> None:
        if self._own_binding(event.key):
            return  # let the binding (leave, scrollback) fire
        if self._search_key(event):  # the scrollback view's own keys (/, n, N, escape)
            event.stop()
            event.prevent_default()
            return
        if event.key == "ctrl+c" and self.text_selection is not None:
            return  # the screen's copy binding takes it while text is selected
        data = self._backend.encode_key(event.key, event.character)
        if data is None:
            return
        event.stop()
        event.prevent_default()
        self._back_to_live()
        self._send(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self._back_to_live()
        text = event.text
        if self._backend.modes.bracketed_paste or self._backend.paste_is_safe(text):
            self._send(self._backend.encode_paste(text))
            return
        # Lines pasted into a shell run as they arrive: ask first, as Ghostty does.
        self.app.push_screen(PasteConfirm(text), lambda ok: self._paste_answered(text, ok))

    def _paste_answered(self, text: str, ok: bool | None) -> None:
        if ok:
            self._send(self._backend.encode_paste(text))
        self.focus()

    def on_focus(self) -> None:
        self._focus_changed(True)

    def on_blur(self) -> None:
        self._focus_changed(False)

    def _focus_changed(self, gained: bool) -> None:
        report = self._backend.encode_focus(gained)  # vim's autoread, tmux on the device
        if report:
            self._send(report)
        self._dirty.add(self._backend.cursor[1])  # the cursor shows only when focused
        self._schedule_paint()
