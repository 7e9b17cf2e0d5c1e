"""Moving about the dashboard: the device list, the tunnel tabs, zoom, and back.

A mixin of `IoTunnelApp`, kept apart so that the app reads as what it is made of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.app.filter_input import FilterInput
from tui.app.tunnel_tab import TabStatus, TunnelTab
from tui.terminal import TerminalPane

if TYPE_CHECKING:
    from textual.widgets import TabbedContent

    from tui.app.broadcast import Broadcast
    from tui.app.device_table import DeviceTable
    from tui.app.operations import TunnelOperations


class TabNavigation:
    """Focus moves of the app; it provides the widgets and `ops` named below."""

    if TYPE_CHECKING:  # what the app provides
        broadcast: Broadcast
        ops: TunnelOperations

        @property
        def device_table(self) -> DeviceTable: ...
        @property
        def tunnel_tabs(self) -> TabbedContent: ...
        def tabs(self) -> list[TunnelTab]: ...

    def action_focus_devices(self) -> None:
        self.device_table.focus()

    def on_terminal_pane_leave_requested(self, event: TerminalPane.LeaveRequested) -> None:
        """ctrl+]: to the device list, on the device of the session left (so that `r`,
        `c`, `/` act at once); enter or `i` goes back into the session."""
        event.stop()
        self.broadcast.stop()  # ctrl+] always ends a broadcast
        focused = self.focused
        ancestors = focused.ancestors if focused is not None else []
        tab = next((n for n in ancestors if isinstance(n, TunnelTab)), None)
        table = self.device_table
        if tab is not None and not table.select(tab.device.device_id):
            field = self.query_one("#filter", FilterInput)
            field.value = ""  # the filter hid the device: show everything again
            table.set_filter("")
            table.select(tab.device.device_id)
        self.screen.set_focus(table)  # now: keys read in the same burst follow it

    def action_back_to_session(self) -> None:
        device = self.device_table.selected_device
        tab = self.ops.tab_for(device.device_id) if device is not None else None
        if tab is not None:
            self.activate_tab(tab)

    def action_zoom_pane(self) -> None:
        self.action_zoom()

    def action_zoom(self) -> None:
        if not self.tabs():
            return
        self.screen.toggle_class("-zoomed")
        focused = self.focused
        if self.screen.has_class("-zoomed") and (
            focused is None or focused in self.query("#main > *")
        ):
            # the device list is hidden now: the focus goes to the status line of the
            # active tab, where `z` unzooms (the terminal would take `z` as text)
            active = self.tunnel_tabs.active_pane
            if isinstance(active, TunnelTab):
                status = active.query(TabStatus)
                if status:
                    self.screen.set_focus(status.first())

    def action_switch_tab(self, step: int) -> None:
        tabs = self.tabs()
        if not tabs:
            return
        ids = [tab.id for tab in tabs]
        active = self.tunnel_tabs.active
        index = ids.index(active) if active in ids else -1
        self.activate_tab(tabs[(index + step) % len(tabs)])

    def activate_tab(self, tab: TunnelTab) -> None:
        self.tunnel_tabs.display = True
        if tab.id:
            self.tunnel_tabs.active = tab.id
        tab.focus_best()
