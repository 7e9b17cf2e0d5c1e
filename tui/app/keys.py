"""The dashboard's own keys, one table: the footer, the help screen and the user's keymap
(`[keymap]` in the config, by binding id) all read it."""

from __future__ import annotations

from textual.binding import Binding

# app actions that still work while the terminal pane has the focus
TERMINAL_ACTIONS = frozenset({"quit_anywhere", "switch_tab", "zoom_pane"})

APP_BINDINGS = [
    Binding("ctrl+q", "quit_anywhere", "Quit", show=False, priority=True, id="app.force_quit"),
    # ours rather than Textual's, so it has an id (remappable) and can step aside for
    # the terminal: there ctrl+p is the shell's "previous command"
    Binding(
        "ctrl+p",
        "command_palette",
        "palette",
        priority=True,
        key_display="^p",
        tooltip="Command palette (outside the terminal)",
        id="app.palette",
    ),
    Binding("q", "quit", "Quit", id="app.quit"),
    Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
    Binding("slash", "filter", "Filter", key_display="/", id="devices.filter"),
    # refreshing is automatic: f5 stays out of the footer so 80 columns hold the rest
    Binding("f5", "refresh", "Refresh", show=False, id="devices.refresh"),
    Binding("c", "close_tunnel", "Close", id="tunnel.close"),
    Binding("D", "delete_tunnel", "Delete", id="tunnel.delete"),
    Binding("ctrl+pagedown", "switch_tab(1)", "Next tab", priority=True, id="tab.next"),
    Binding("ctrl+pageup", "switch_tab(-1)", "Prev tab", priority=True, id="tab.previous"),
    Binding("z", "zoom", "Zoom", id="tab.zoom"),
    Binding("f11", "zoom_pane", "Zoom", priority=True, id="terminal.zoom"),
    Binding("escape", "focus_devices", "Devices", show=False, id="app.devices"),
    Binding("i", "back_to_session", "Session", id="tab.back"),
    Binding("r", "renew_tunnel", "Renew", id="tunnel.renew"),
    Binding("x", "run_on_marked", "Run", id="fleet.run"),
]
