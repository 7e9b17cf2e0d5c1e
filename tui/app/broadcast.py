"""Broadcast input (issue 11 §3): what is typed in one marked tab goes to every marked
session at once, like tmux's synchronize-panes. Every receiving tab says so in its status
line; ctrl+] ends it; a session that ends drops out with a notice."""

from __future__ import annotations

from tui.app.host import DashboardHost
from tui.app.tunnel_tab import TunnelTab
from tui.session.audit import AuditLog


class Broadcast:
    def __init__(self, host: DashboardHost, audit: AuditLog) -> None:
        self.host = host
        self.audit = audit
        self.members: set[str] = set()  # tab ids

    @property
    def active(self) -> bool:
        return bool(self.members)

    def _tabs(self) -> list[TunnelTab]:
        return [tab for tab in self.host.tabs() if tab.id in self.members]

    def toggle(self, tab: TunnelTab) -> None:
        """`b` on a tab: in or out of the broadcast."""
        if not tab.is_live or tab.id is None:
            return
        was = self._devices()
        self.members ^= {tab.id}
        self._changed(was)

    def all_tabs(self) -> None:
        """The palette's "Broadcast to all tabs": every live session."""
        was = self._devices()
        self.members = {tab.id for tab in self.host.tabs() if tab.is_live and tab.id}
        self._changed(was)

    def stop(self) -> None:
        if self.active:
            was = self._devices()
            self.members = set()
            self._changed(was)

    def send(self, origin: TunnelTab, data: bytes) -> None:
        for tab in self._tabs():
            tab.send_input(data)

    def tab_changed(self, tab: TunnelTab) -> None:
        """A session that ended (or a closed tab) leaves the broadcast, with a notice."""
        if tab.id in self.members and (not tab.is_live or not tab.is_attached):
            was = self._devices()
            self.members.discard(tab.id)
            self.host.notify(
                f"{tab.device.display_name} left the broadcast (its session ended)",
                title="Broadcast",
                severity="warning",
            )
            self._changed(was)

    def _devices(self) -> list[str]:
        return [tab.device.device_id for tab in self._tabs()]

    def _changed(self, before: list[str]) -> None:
        """Tell every tab its part, audit on/off (naming the sessions), say it once."""
        was_active = bool(before)
        size = len(self.members)
        for tab in self.host.tabs():
            member = tab.id in self.members
            tab.broadcast = self.send if member else None
            tab.broadcast_size = size if member else 0
            tab.render_status()
        if self.active:
            self.audit.broadcast_event(True, self._devices())
        elif was_active:
            self.audit.broadcast_event(False, before)
        if self.active:
            self.host.notify(
                f"typing in a marked tab goes to {size} session{'s' if size != 1 else ''}"
                " · ctrl+] ends it",
                title="Broadcast on",
            )
        elif was_active:
            self.host.notify("input goes to one session again", title="Broadcast off")
