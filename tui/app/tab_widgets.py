"""The parts of a tunnel tab: its status line, its terminal, and the words for its phases."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Static

from tui.terminal import TerminalPane

__all__ = ["PHASE_WORDS", "DeviceTerminal", "TabStatus"]

# what the device table shows for a tab's phase
PHASE_WORDS = {
    "opening": "opening",
    "connecting": "connecting",
    "waiting": "waiting",
    "late": "no device",
    "login": "login",
    "connected": "connected",
    "gone": "device gone",
    "reconnecting": "reconnect",
    "expired": "expired",
    "ended": "ended",
    "closed": "closed",
}


class TabStatus(Static, can_focus=True):
    """The tab's status line; focusable so the tab's keys work outside the terminal."""


class DeviceTerminal(TerminalPane):
    """The pane with its scrollback keys in the footer: they are among the few keys that
    do not go to the device while it has the focus."""

    # short words: at 80 columns the footer must hold these and the tab keys
    BINDINGS = [
        Binding("ctrl+right_square_bracket", "leave", "Leave", id="terminal.leave"),
        Binding("shift+pageup", "scroll_history(-1)", "Scrollback", id="terminal.scroll_up"),
        Binding(
            "shift+pagedown",
            "scroll_history(1)",
            "Scroll forward",
            show=False,
            id="terminal.scroll_down",
        ),
    ]
