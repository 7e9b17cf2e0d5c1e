"""The dashboard's platform work (a mixin of `IoTunnelApp`): every platform call runs in
a worker and every failure ends in `report_error`, never a traceback on screen."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work

from tui.app.device_table import DeviceTable, TunnelBadge
from tui.app.dialogs import ConfirmScreen, Credentials, LoginScreen
from tui.app.tunnel_tab import PHASE_WORDS, TunnelTab, tab_id_for
from tui.app.tunnels import NeedsReplace, TunnelOpener
from tui.iotda.errors import ErrorCode, IoTDAError
from tui.iotda.models import Device
from tui.session.tokens import StoredTunnel

if TYPE_CHECKING:
    from tui.app.app import IoTunnelApp

    _Base = IoTunnelApp
else:
    _Base = object

log = logging.getLogger(__name__)

# while the first listing streams in, repaint at most this often
PROGRESSIVE_PAINT_SECONDS = 0.2
FREEZE_AFTER_DEVICES = 2_000
# past this many pages a periodic re-list waits longer, in step with the fleet's size:
# an open dashboard stays far below IoTDA's rate limit (f5 re-lists at once)
PAGES_PER_REFRESH = 10
# an endpoint that does not answer is tried again after 2, 4, 8 ... at most 60 seconds
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 60.0


class TunnelOperations(_Base):
    def init_operations(self) -> None:
        self.opener = TunnelOpener(self.client, self.token_store, self.clock)
        self._login_open: set[str] = set()
        self.devices_done = asyncio.Event()
        self._changed = asyncio.Event()
        self._listing_devices = False
        self._froze_gc = False
        self._listed_at: float | None = None
        self._listed_pages = 0
        # the endpoint did not answer: one line in the header, retried with capped backoff
        self.unreachable: str | None = None
        self.retry_at = 0.0
        self._retry_delay = 0.0
        self._refresh_round = 0
        self.failed_tries = 0  # tries that found the endpoint away (tests wait on it)
        self._failed_round = -1

    # --- waiting on state (tests, bench) -------------------------------------------------

    def state_changed(self) -> None:
        """Wake whoever waits in `wait_until`: a phase, the output, a screen or the list
        changed (the app also calls this after every repaint, see `IoTunnelApp._display`)."""
        self._changed.set()
        self._changed = asyncio.Event()
        gate = getattr(self, "key_gate", None)
        if gate is not None:
            gate.poke()  # a screen, a phase or the focus changed: held keys may go on

    async def wait_until(self, predicate: Callable[[], object], timeout: float = 30.0) -> None:
        """Wait until `predicate()` is true, re-checking only when the state changed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError("condition not reached")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    # --- errors ------------------------------------------------------------------------

    def report_error(self, exc: BaseException, doing: str) -> str:
        """Notify the user of a failure in one line; returns that line.

        No masking here: an `IoTDAError` carries the platform's `error_msg` (never a
        credential), and the other failures that reach this point (httpx transport
        errors, OS errors) carry URLs and reasons, never headers or request bodies,
        which is where tokens and passwords travel.
        """
        if isinstance(exc, IoTDAError):
            status = f" (HTTP {exc.status})" if exc.status else ""
            line = f"{exc.error_msg}{status}"
        else:
            log.error("%s failed", doing, exc_info=exc)
            line = f"{type(exc).__name__}: {str(exc)[:200] or 'no detail'}"
        self.notify(line, title=f"Could not {doing}", severity="error", timeout=8)
        return line

    # --- an endpoint that does not answer ------------------------------------------------

    def _network_failure(self, exc: BaseException) -> bool:
        """Record an unreachable endpoint (True), instead of a toast on every refresh."""
        if not (isinstance(exc, IoTDAError) and exc.error_code == ErrorCode.CLIENT_NETWORK):
            return False
        if self.unreachable is not None and self._failed_round == self._refresh_round:
            return True  # devices and tunnels of the same try: one failure
        self._failed_round = self._refresh_round
        self.failed_tries += 1
        # "cannot reach HOST:PORT: <reason>": the header keeps the part a person acts on
        self.unreachable = exc.error_msg.split(": ", 1)[0]
        self._retry_delay = min(RETRY_MAX_SECONDS, max(RETRY_FIRST_SECONDS, self._retry_delay * 2))
        self.retry_at = self.clock() + self._retry_delay
        log.warning("%s; retrying in %.0f s", exc.error_msg, self._retry_delay)
        self.update_summary()
        return True

    def _reached(self) -> None:
        if self.unreachable is not None:
            self.unreachable = None
            self._retry_delay = 0.0
            self.update_summary()

    def retry_if_due(self) -> None:
        """Called every second: an unreachable endpoint is tried again when its time came."""
        if self.unreachable is not None and self.clock() >= self.retry_at:
            self.retry_at = self.clock() + self._retry_delay  # one try at a time
            self.refresh_all()

    # --- devices and tunnels -----------------------------------------------------------

    def refresh_all(self) -> None:
        self._refresh_round += 1
        # a listing slower than the refresh interval must finish, not be restarted forever
        if not self._listing_devices:
            self.load_devices(progressive=False)
        self.load_tunnels()

    def action_refresh(self) -> None:
        self.refresh_all()

    def periodic_refresh(self) -> None:
        """The refresh timer: tunnels every time, devices paced by the fleet's size."""
        if self.unreachable is not None:
            return  # `retry_if_due` paces the tries while the endpoint is away
        pause = self.config.refresh_interval * max(1.0, self._listed_pages / PAGES_PER_REFRESH)
        if self._listed_at is None or self.clock() - self._listed_at >= pause:
            self.refresh_all()
        else:
            self.load_tunnels()

    @work(exclusive=True, group="devices", exit_on_error=False)
    async def load_devices(self, progressive: bool) -> None:
        table = self.query_one(DeviceTable)
        collected: list[Device] = []
        pending: list[Device] = []
        last_paint = 0.0
        self._listing_devices = True
        pages = 0
        try:
            async for page in self.client.list_device_pages():
                pages += 1
                collected.extend(page.devices)
                if not progressive:
                    continue
                pending.extend(page.devices)
                now = time.monotonic()  # paint pacing only; never shown
                if self.first_paint_at is None or now - last_paint >= PROGRESSIVE_PAINT_SECONDS:
                    table.add_devices(pending)
                    pending = []
                    last_paint = now
                    self._first_paint()
        except Exception as exc:
            if not self._network_failure(exc):
                self.report_error(exc, "list devices")
            return
        finally:
            self.devices_loaded = True
            self._listing_devices = False
        self._listed_at, self._listed_pages = self.clock(), pages
        self._reached()
        table.set_devices(collected)
        self._first_paint()
        self.update_summary()
        self.update_badges()
        if not self.devices_done.is_set() and len(collected) >= FREEZE_AFTER_DEVICES:
            # A big fleet lives as long as the app: keep it (and the widgets) out of the
            # cyclic GC's full scans, which otherwise stall a keystroke for 50-150 ms now
            # and then. Collect first so no garbage is frozen; unfrozen again on unmount.
            gc.collect()
            gc.freeze()
            self._froze_gc = True
        self.devices_done.set()

    def _first_paint(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()
        self.update_summary()

    @work(exclusive=True, group="tunnels", exit_on_error=False)
    async def load_tunnels(self) -> None:
        try:
            tunnels = await self.client.list_tunnels()
        except Exception as exc:
            if not self._network_failure(exc):
                self.report_error(exc, "list tunnels")
            return
        self._reached()
        self.tunnels_by_device = {t.device_id: t for t in tunnels}
        self._reload_stored()
        self.update_badges()

    def _reload_stored(self) -> None:
        endpoint = self.opener.endpoint.rstrip("/")
        now = self.clock()
        self.stored_by_device = {
            entry.device_id: entry
            for entry in self.token_store.entries()
            if entry.endpoint.rstrip("/") == endpoint
            and entry.project_id == self.opener.project_id
            and entry.is_valid(now)
        }

    def update_badges(self) -> None:
        if not self.ui_ready():
            return
        badges: dict[str, TunnelBadge] = {}
        for device_id, tunnel in self.tunnels_by_device.items():
            stored = self.stored_by_device.get(device_id)
            if stored is not None and stored.tunnel_id == tunnel.tunnel_id:
                badges[device_id] = TunnelBadge(str(tunnel.status).lower(), stored.expires_at)
            else:
                badges[device_id] = TunnelBadge("other client")
        for tab in self.tabs():
            expires = tab.stored.expires_at if tab.stored else None
            badges[tab.device.device_id] = TunnelBadge(PHASE_WORDS[tab.phase], expires)
        self.query_one(DeviceTable).set_badges(badges)
        self.state_changed()

    # --- opening -------------------------------------------------------------------------

    def on_device_table_open_requested(self, event: DeviceTable.OpenRequested) -> None:
        self.open_tunnel(event.device)

    def open_tunnel(self, device: Device) -> None:
        """Show the device's tab, opening (or re-opening) its tunnel when needed."""
        tab = self._tab_for(device.device_id)
        if tab is not None and tab.is_live:
            self.activate_tab(tab)
            return
        if tab is None:
            tab = TunnelTab(
                device,
                session_factory=self.session_factory,
                clock=self.clock,
                countdown=self.config.countdown,
                connect_timeout=self.config.connect_timeout,
                on_change=self.state_changed,
                colours=self.theme_variables,
            )
            self.tunnel_tabs.display = True
            self.tunnel_tabs.add_pane(tab)
            self.call_after_refresh(self.refresh_bindings)
        else:
            tab.set_phase("opening", "opening the tunnel…")
        self.call_after_refresh(self.activate_tab, tab)
        self._hold_keys_for_login(tab)
        self.run_worker(self._open(tab), group=f"open-{tab.id}", exit_on_error=False)
        self.update_summary()

    async def _open(self, tab: TunnelTab) -> None:
        device_id = tab.device.device_id
        try:
            stored = await self._open_or_replace(tab)
        except Exception as exc:
            line = self.report_error(exc, f"open a tunnel to {tab.device.display_name}")
            tab.set_phase("ended", f"not opened: {line}")
            return
        if stored is None:
            tab.set_phase("ended", "not opened: the device has another client's tunnel")
            return
        self.stored_by_device[device_id] = stored
        tab.start(stored)
        self.load_tunnels()

    async def _open_or_replace(self, tab: TunnelTab) -> StoredTunnel | None:
        """Reuse or create the device's tunnel; a foreign one is replaced only after the
        user said yes (None when they said no). Opening and renewing both come here."""
        device_id = tab.device.device_id
        outcome = await self.opener.open(device_id)
        if not isinstance(outcome, NeedsReplace):
            return outcome.stored
        question = (
            f"{tab.device.display_name} already has a tunnel this client cannot use.\n"
            "Replace it (close, delete, create a new one)?"
        )
        if not await self.push_screen_wait(ConfirmScreen(question, "Replace")):
            return None
        tab.set_phase("opening", "replacing the existing tunnel…")
        return await self.opener.replace(device_id, outcome.tunnels)

    def _tab_for(self, device_id: str) -> TunnelTab | None:
        found = self.tunnel_tabs.query(f"#{tab_id_for(device_id)}")
        return found.first(TunnelTab) if found else None

    # --- login ---------------------------------------------------------------------------

    def _hold_keys_for_login(self, tab: TunnelTab) -> None:
        """Keys typed after enter on a device are for its login dialog, which opens only
        when the device answers: hold them until then, drop them if it never comes."""
        name = tab.device.display_name
        self.key_gate.hold(
            f"opening a tunnel to {name}",
            # or any question (replace a foreign tunnel?): the keys were typed for it
            ready=lambda: (
                tab.id in self._login_open or tab.phase == "connected" or len(self.screen_stack) > 1
            ),
            failed=lambda: (
                tab.phase in ("late", "gone", "expired", "ended", "closed") or not tab.is_attached
            ),
            timeout=self.config.connect_timeout + 15,
            on_drop=lambda count: self._dropped_keys(count, f"{name} did not ask for a login"),
        )

    def _hold_keys_for_shell(self, tab: TunnelTab) -> None:
        """Keys typed after the login dialog's enter are for the shell: hold them until
        the login is accepted and the terminal has the focus."""
        name = tab.device.display_name
        self.key_gate.hold(
            f"logging in to {name}",
            ready=lambda: tab.phase == "connected" and tab.pane.has_focus,
            failed=lambda: (
                tab.phase in ("late", "gone", "expired", "ended", "closed")
                or tab.id in self._login_open
                or not tab.is_attached
            ),
            timeout=self.config.connect_timeout + 15,
            on_drop=lambda count: self._dropped_keys(count, f"the login to {name} failed"),
        )

    def _dropped_keys(self, count: int, why: str) -> None:
        # typed-ahead keys may hold a password: say how many, never which
        self.notify(
            f"{count} key{'s' if count != 1 else ''} typed ahead not sent: {why}",
            title="Typed ahead",
            severity="warning",
        )

    def on_tunnel_tab_login_needed(self, event: TunnelTab.LoginNeeded) -> None:
        tab = event.tab
        if tab.id in self._login_open or tab.session is None:
            return
        self._login_open.add(tab.id or "")
        self.activate_tab(tab)
        device = tab.device

        def answered(credentials: Credentials | None) -> None:
            self._login_open.discard(tab.id or "")
            if credentials is None:
                tab.set_phase(tab.phase, "not logged in · press l to log in")
                return
            self.usernames.put(device.device_id, credentials.username)
            self._hold_keys_for_shell(tab)
            tab.login(credentials.username, credentials.password)

        # the modal shows the error itself; notices behind it (the welcome, an earlier
        # failure) would only cover it, so they go
        self.clear_notifications()
        username = self.usernames.get(device.device_id)
        screen = LoginScreen(device.display_name, username, event.error, self.login_hint)
        self.push_screen(screen, answered)

    def on_tunnel_tab_phase_changed(self, event: TunnelTab.PhaseChanged) -> None:
        self.update_badges()
        self.update_summary()

    # --- close, delete, renew ------------------------------------------------------------

    def _target_device(self) -> Device | None:
        """The active tab's device when the focus is in the tunnel tabs, else the table's."""
        focused = self.focused
        if focused is not None and any(isinstance(n, TunnelTab) for n in focused.ancestors):
            tab = next(n for n in focused.ancestors if isinstance(n, TunnelTab))
            return tab.device
        if focused is not None and self.tunnel_tabs in focused.ancestors_with_self:
            active = self.tunnel_tabs.active_pane
            if isinstance(active, TunnelTab):
                return active.device
        return self.query_one(DeviceTable).selected_device

    def connected_tabs(self, devices: list[Device] | None = None) -> list[TunnelTab]:
        """Tabs with a logged-in shell (of `devices`, or all): what a question protects."""
        wanted = None if devices is None else {d.device_id for d in devices}
        return [
            tab
            for tab in self.tabs()
            if tab.logged_in and (wanted is None or tab.device.device_id in wanted)
        ]

    def ask_first(
        self, tabs: list[TunnelTab], question: str, yes_label: str, then: Callable[[], None]
    ) -> None:
        """Run `then` at once, or after a yes when it would end the shells of `tabs`
        (unless the config turned the questions off)."""
        if not tabs or not self.config.confirm:
            then()
            return
        names = ", ".join(tab.device.display_name for tab in tabs)

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        shells = "its shell ends" if len(tabs) == 1 else f"{len(tabs)} shells end"
        self.push_screen(ConfirmScreen(f"{question}\n{names}: {shells}.", yes_label), answered)

    def action_close_tunnel(self) -> None:
        device = self._target_device()
        if device is None:
            return
        self.ask_first(
            self.connected_tabs([device]),
            f"Close the tunnel to {device.display_name}?",
            "Close",
            lambda: self.run_worker(
                self._end_tunnels(device, delete=False), group="close", exit_on_error=False
            ),
        )

    def action_delete_tunnel(self) -> None:
        device = self._target_device()
        if device is None:
            return

        def delete() -> None:
            self.run_worker(
                self._end_tunnels(device, delete=True), group="delete", exit_on_error=False
            )

        if not self.config.confirm:
            delete()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                delete()

        # deleting is never undone: asked even when no shell is open
        question = f"Delete the tunnel of {device.display_name}? Its session ends."
        self.push_screen(ConfirmScreen(question, "Delete"), answered)

    def action_renew_tunnel(self) -> None:
        """`r` on the device list (ctrl+] then r from a session): renew that device's tab."""
        device = self._target_device()
        tab = self._tab_for(device.device_id) if device is not None else None
        if tab is not None:
            self.request_renew(tab)

    async def _end_tunnels(self, device: Device, *, delete: bool) -> None:
        """Close (or delete) the device's tunnels and the tab that shows its session."""
        verb, name = ("delete" if delete else "close"), device.display_name
        tab = self._tab_for(device.device_id)
        if tab is not None:
            await tab.stop()
        try:
            tunnels = await self.client.list_tunnels(device.device_id)
            found = [t for t in tunnels if t.device_id == device.device_id]
            if not delete:
                found = [t for t in found if t.is_open]
            for tunnel in found:
                if delete:
                    await self.opener.remove_tunnel(tunnel)
                else:
                    await self.opener.close(tunnel.tunnel_id)
        except Exception as exc:
            self.report_error(exc, f"{verb} the tunnel of {name}")
            return
        if tab is not None:
            await self._remove_tab(tab)
        if delete:
            self.stored_by_device.pop(device.device_id, None)
        if found or (tab is not None and not delete):
            self.notify(f"Tunnel to {name} {verb}d", title="Tunnel")
        else:
            what = "no tunnel to delete" if delete else "no open tunnel"
            self.notify(f"{name} has {what}", title="Tunnel")
        self.load_tunnels()

    def on_tunnel_tab_renew_requested(self, event: TunnelTab.RenewRequested) -> None:
        self.request_renew(event.tab)

    def request_renew(self, tab: TunnelTab) -> None:
        self.ask_first(
            self.connected_tabs([tab.device]),
            f"Renew the tunnel token of {tab.device.display_name}? A new shell starts.",
            "Renew",
            lambda: self.run_worker(self._renew(tab), group=f"open-{tab.id}", exit_on_error=False),
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
        except Exception as exc:
            line = self.report_error(exc, f"renew the tunnel of {tab.device.display_name}")
            tab.set_phase("ended", f"not renewed: {line}")
            return
        if stored is None:
            tab.set_phase("ended", "not renewed: the device has another client's tunnel")
            return
        self.stored_by_device[tab.device.device_id] = stored
        self.notify(f"New token for {tab.device.display_name}", title="Tunnel renewed")
        tab.start(stored)
        self.load_tunnels()

    def close_all(self) -> None:
        def close() -> None:
            for tab in self.tabs():
                self.run_worker(
                    self._end_tunnels(tab.device, delete=False), group="close", exit_on_error=False
                )

        self.ask_first(self.connected_tabs(), "Close every open tunnel?", "Close all", close)

    async def _remove_tab(self, tab: TunnelTab) -> None:
        if tab.id:
            await self.tunnel_tabs.remove_pane(tab.id)
            self.refresh_bindings()
        if not self.tabs():
            self.tunnel_tabs.display = False
            self.screen.remove_class("-zoomed")
            self.query_one(DeviceTable).focus()
        self.update_summary()

    def thaw_gc(self) -> None:
        """Hand what `gc.freeze` kept back to the collector (the app is going away)."""
        if self._froze_gc:
            gc.unfreeze()
            self._froze_gc = False
