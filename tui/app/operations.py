"""Opening, logging in to, closing, deleting and renewing tunnels from the dashboard.

`TunnelOperations` is owned by the app (which it knows as `host`, through the narrow
`DashboardHost` interface) and does the platform work in the app's workers: every
failure ends in `host.report_error`, never a traceback on screen. Whatever would end a
live shell asks first; keys typed ahead for a dialog or a shell on its way are held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tui.app.dialogs import ConfirmScreen, Credentials, LoginScreen
from tui.app.host import DashboardHost
from tui.app.listing import DeviceListing
from tui.app.tunnel_tab import TunnelTab, tab_id_for
from tui.app.tunnels import NeedsReplace, TunnelOpener
from tui.iotda.models import Device
from tui.session.audit import (
    SESSION_END,
    SESSION_LOGIN,
    TUNNEL_CLOSE,
    TUNNEL_CREATE,
    TUNNEL_DELETE,
    TUNNEL_RENEW,
    AuditLog,
)
from tui.session.tokens import StoredTunnel

log = logging.getLogger(__name__)


class TunnelOperations:
    def __init__(
        self, host: DashboardHost, listing: DeviceListing, audit: AuditLog | None = None
    ) -> None:
        self.host = host
        self.listing = listing
        self.audit = audit
        self.opener = TunnelOpener(host.client, host.token_store, host.clock)
        self._login_open: set[str] = set()

    # --- opening -------------------------------------------------------------------------

    def open_tunnel(self, device: Device) -> None:
        """Show the device's tab, opening (or re-opening) its tunnel when needed."""
        tab = self.tab_for(device.device_id)
        if tab is not None and tab.is_live:
            self.host.activate_tab(tab)
            return
        if tab is None:
            tab = TunnelTab(
                device,
                session_factory=self.host.session_factory,
                clock=self.host.clock,
                countdown=self.host.config.countdown,
                connect_timeout=self.host.config.connect_timeout,
                on_change=self.host.state_changed,
                on_phase=self.phase_changed,
                colours=self.host.theme_variables,
            )
            self.host.tunnel_tabs.display = True
            self.host.tunnel_tabs.add_pane(tab)
            self.host.call_after_refresh(self.host.refresh_bindings)
        else:
            tab.set_phase("opening", "opening the tunnel…")
        self.host.call_after_refresh(self.host.activate_tab, tab)
        self._hold_keys_for_login(tab)
        self.host.run_worker(self._open(tab), group=f"open-{tab.id}", exit_on_error=False)
        self.host.update_summary()

    async def _open(self, tab: TunnelTab) -> None:
        device_id = tab.device.device_id
        try:
            stored = await self._open_or_replace(tab)
        except Exception as exc:
            line = self.host.report_error(exc, f"open a tunnel to {tab.device.display_name}")
            tab.set_phase("ended", f"not opened: {line}")
            return
        if stored is None:
            tab.set_phase("ended", "not opened: the device has another client's tunnel")
            return
        self.listing.stored_by_device[device_id] = stored
        tab.start(stored)
        self.listing.load_tunnels()

    def phase_changed(self, tab: TunnelTab, previous: str) -> None:
        """Session login and end go to the audit log (the device account, never more)."""
        if self.audit is None:
            return
        tunnel_id = tab.stored.tunnel_id if tab.stored else None
        device_id = tab.device.device_id
        if tab.phase == "connected":
            user = self.host.usernames.get(device_id) or None
            self.audit.session_event(SESSION_LOGIN, device_id, tunnel_id, login_user=user)
        elif previous == "connected" and not tab.is_live:
            self.audit.session_event(SESSION_END, device_id, tunnel_id, outcome=tab.phase)

    def _audit(
        self, action: str, device_id: str, tunnel_id: str | None, outcome: str = "ok"
    ) -> None:
        if self.audit is not None:
            self.audit.tunnel_event(action, device_id, tunnel_id, outcome)

    async def _open_or_replace(self, tab: TunnelTab) -> StoredTunnel | None:
        """Reuse or create the device's tunnel; a foreign one is replaced only after the
        user said yes (None when they said no). Opening and renewing both come here."""
        device_id = tab.device.device_id
        outcome = await self.opener.open(device_id)
        if not isinstance(outcome, NeedsReplace):
            if not outcome.reused:
                self._audit(TUNNEL_CREATE, device_id, outcome.stored.tunnel_id)
            return outcome.stored
        question = (
            f"{tab.device.display_name} already has a tunnel this client cannot use.\n"
            "Replace it (close, delete, create a new one)?"
        )
        if not await self.host.push_screen_wait(ConfirmScreen(question, "Replace")):
            return None
        tab.set_phase("opening", "replacing the existing tunnel…")
        stored = await self.opener.replace(device_id, outcome.tunnels)
        for tunnel in outcome.tunnels:
            self._audit(TUNNEL_DELETE, device_id, tunnel.tunnel_id)
        self._audit(TUNNEL_CREATE, device_id, stored.tunnel_id)
        return stored

    def tab_for(self, device_id: str) -> TunnelTab | None:
        found = self.host.tunnel_tabs.query(f"#{tab_id_for(device_id)}")
        return found.first(TunnelTab) if found else None

    # --- login ---------------------------------------------------------------------------

    def _hold_keys_for_login(self, tab: TunnelTab) -> None:
        """Keys typed after enter on a device are for its login dialog, which opens only
        when the device answers: hold them until then, drop them if it never comes."""
        name = tab.device.display_name
        self.host.key_gate.hold(
            f"opening a tunnel to {name}",
            # or any question (replace a foreign tunnel?): the keys were typed for it
            ready=lambda: (
                tab.id in self._login_open
                or tab.phase == "connected"
                or len(self.host.screen_stack) > 1
            ),
            failed=lambda: (
                tab.phase in ("late", "gone", "expired", "ended", "closed") or not tab.is_attached
            ),
            timeout=self.host.config.connect_timeout + 15,
            on_drop=lambda count: self._dropped_keys(count, f"{name} did not ask for a login"),
        )

    def _hold_keys_for_shell(self, tab: TunnelTab) -> None:
        """Keys typed after the login dialog's enter are for the shell: hold them until
        the login is accepted and the terminal has the focus."""
        name = tab.device.display_name
        self.host.key_gate.hold(
            f"logging in to {name}",
            ready=lambda: tab.phase == "connected" and tab.pane.has_focus,
            failed=lambda: (
                tab.phase in ("late", "gone", "expired", "ended", "closed")
                or tab.id in self._login_open
                or not tab.is_attached
            ),
            timeout=self.host.config.connect_timeout + 15,
            on_drop=lambda count: self._dropped_keys(count, f"the login to {name} failed"),
        )

    def _dropped_keys(self, count: int, why: str) -> None:
        # typed-ahead keys may hold a password: say how many, never which
        self.host.notify(
            f"{count} key{'s' if count != 1 else ''} typed ahead not sent: {why}",
            title="Typed ahead",
            severity="warning",
        )

    def login_needed(self, tab: TunnelTab, error: str | None) -> None:
        """The device asks for a login (again, with `error`, after a failed one)."""
        if tab.id in self._login_open or tab.session is None:
            return
        self._login_open.add(tab.id or "")
        self.host.activate_tab(tab)
        device = tab.device

        def answered(credentials: Credentials | None) -> None:
            self._login_open.discard(tab.id or "")
            if credentials is None:
                tab.set_phase(tab.phase, "not logged in · press l to log in")
                return
            self.host.usernames.put(device.device_id, credentials.username)
            self._hold_keys_for_shell(tab)
            tab.login(credentials.username, credentials.password)

        # the modal shows the error itself; notices behind it (the welcome, an earlier
        # failure) would only cover it, so they go
        self.host.clear_notifications()
        username = self.host.usernames.get(device.device_id)
        screen = LoginScreen(device.display_name, username, error, self.host.login_hint)
        self.host.push_screen(screen, answered)

    # --- close, delete, renew ------------------------------------------------------------

    def target_device(self) -> Device | None:
        """The active tab's device when the focus is in the tunnel tabs, else the table's."""
        focused = self.host.focused
        if focused is not None and any(isinstance(n, TunnelTab) for n in focused.ancestors):
            tab = next(n for n in focused.ancestors if isinstance(n, TunnelTab))
            return tab.device
        if focused is not None and self.host.tunnel_tabs in focused.ancestors_with_self:
            active = self.host.tunnel_tabs.active_pane
            if isinstance(active, TunnelTab):
                return active.device
        return self.host.device_table.selected_device

    def connected_tabs(self, devices: list[Device] | None = None) -> list[TunnelTab]:
        """Tabs with a logged-in shell (of `devices`, or all): what a question protects."""
        wanted = None if devices is None else {d.device_id for d in devices}
        return [
            tab
            for tab in self.host.tabs()
            if tab.logged_in and (wanted is None or tab.device.device_id in wanted)
        ]

    def ask_first(
        self, tabs: list[TunnelTab], question: str, yes_label: str, then: Callable[[], None]
    ) -> None:
        """Run `then` at once, or after a yes when it would end the shells of `tabs`
        (unless the config turned the questions off)."""
        if not tabs or not self.host.config.confirm:
            then()
            return
        names = ", ".join(tab.device.display_name for tab in tabs)

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        shells = "its shell ends" if len(tabs) == 1 else f"{len(tabs)} shells end"
        self.host.push_screen(ConfirmScreen(f"{question}\n{names}: {shells}.", yes_label), answered)

    def close_tunnel(self) -> None:
        device = self.target_device()
        if device is None:
            return
        self.ask_first(
            self.connected_tabs([device]),
            f"Close the tunnel to {device.display_name}?",
            "Close",
            lambda: self.host.run_worker(
                self._end_tunnels(device, delete=False), group="close", exit_on_error=False
            ),
        )

    def delete_tunnel(self) -> None:
        device = self.target_device()
        if device is None:
            return

        def delete() -> None:
            self.host.run_worker(
                self._end_tunnels(device, delete=True), group="delete", exit_on_error=False
            )

        if not self.host.config.confirm:
            delete()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                delete()

        # deleting is never undone: asked even when no shell is open
        question = f"Delete the tunnel of {device.display_name}? Its session ends."
        self.host.push_screen(ConfirmScreen(question, "Delete"), answered)

    def renew_tunnel(self) -> None:
        """`r` on the device list (ctrl+] then r from a session): renew that device's tab."""
        device = self.target_device()
        tab = self.tab_for(device.device_id) if device is not None else None
        if tab is not None:
            self.request_renew(tab)

    async def _end_tunnels(self, device: Device, *, delete: bool) -> None:
        """Close (or delete) the device's tunnels and the tab that shows its session."""
        verb, name = ("delete" if delete else "close"), device.display_name
        tab = self.tab_for(device.device_id)
        if tab is not None:
            await tab.stop()
        try:
            tunnels = await self.host.client.list_tunnels(device.device_id)
            found = [t for t in tunnels if t.device_id == device.device_id]
            if not delete:
                found = [t for t in found if t.is_open]
            for tunnel in found:
                if delete:
                    await self.opener.remove_tunnel(tunnel)
                else:
                    await self.opener.close(tunnel.tunnel_id)
                self._audit(
                    TUNNEL_DELETE if delete else TUNNEL_CLOSE, device.device_id, tunnel.tunnel_id
                )
        except Exception as exc:
            line = self.host.report_error(exc, f"{verb} the tunnel of {name}")
            self._audit(TUNNEL_DELETE if delete else TUNNEL_CLOSE, device.device_id, None, "error")
            log.info("%s of %s failed: %s", verb, device.device_id, line)
            return
        if tab is not None:
            await self._remove_tab(tab)
        if delete:
            self.listing.stored_by_device.pop(device.device_id, None)
        if found or (tab is not None and not delete):
            self.host.notify(f"Tunnel to {name} {verb}d", title="Tunnel")
        else:
            what = "no tunnel to delete" if delete else "no open tunnel"
            self.host.notify(f"{name} has {what}", title="Tunnel")
        self.listing.load_tunnels()

    def request_renew(self, tab: TunnelTab) -> None:
        self.ask_first(
            self.connected_tabs([tab.device]),
            f"Renew the tunnel token of {tab.device.display_name}? A new shell starts.",
            "Renew",
            lambda: self.host.run_worker(
                self._renew(tab), group=f"open-{tab.id}", exit_on_error=False
            ),
        )

    async def _renew(self, tab: TunnelTab) -> None:
        old = tab.stored
        await tab.stop()
        tab.set_phase("opening", "renewing the tunnel token…")
        try:
            if old is None:
                # no tunnel of ours: open as `o` does, asking before replacing a foreign one
                stored = await self._open_or_replace(tab)
            else:
                stored = await self.opener.renew(old)
                self._audit(TUNNEL_RENEW, old.device_id, stored.tunnel_id)
        except Exception as exc:
            line = self.host.report_error(exc, f"renew the tunnel of {tab.device.display_name}")
            tab.set_phase("ended", f"not renewed: {line}")
            return
        if stored is None:
            tab.set_phase("ended", "not renewed: the device has another client's tunnel")
            return
        self.listing.stored_by_device[tab.device.device_id] = stored
        self.host.notify(f"New token for {tab.device.display_name}", title="Tunnel renewed")
        tab.start(stored)
        self.listing.load_tunnels()

    def close_all(self) -> None:
        def close() -> None:
            for tab in self.host.tabs():
                self.host.run_worker(
                    self._end_tunnels(tab.device, delete=False), group="close", exit_on_error=False
                )

        self.ask_first(self.connected_tabs(), "Close every open tunnel?", "Close all", close)

    async def _remove_tab(self, tab: TunnelTab) -> None:
        if tab.id:
            await self.host.tunnel_tabs.remove_pane(tab.id)
            self.host.refresh_bindings()
        if not self.host.tabs():
            self.host.tunnel_tabs.display = False
            self.host.screen.remove_class("-zoomed")
            self.host.device_table.focus()
        self.host.update_summary()

    async def quit(self) -> None:
        """Quit; live sessions are closed first, after a question naming them."""
        live = [tab for tab in self.host.tabs() if tab.is_live]
        if not live:
            self.host.exit()
            return

        async def close_and_quit() -> None:
            for tab in live:
                await tab.stop()
            self.host.exit()

        if not self.host.config.confirm:
            await close_and_quit()
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await close_and_quit()

        count = len(live)
        names = ", ".join(tab.device.display_name for tab in live)
        question = (
            f"{count} session{'s are' if count != 1 else ' is'} open ({names}). Close and quit?"
        )
        self.host.push_screen(ConfirmScreen(question, "Quit"), answered)
