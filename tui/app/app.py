"""The dashboard: a device table on top, open tunnels as tabs below it.

Everything outside (REST client, session factory, clock, config, token store, themes) is
injected by `tui.app.factory.make_app`; nothing here reads the environment or the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable

from rich.console import RenderableType
from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Footer, Input, Static, TabbedContent

from tui.app.audit_view import AuditScreen
from tui.app.broadcast import Broadcast
from tui.app.commands import DeviceCommands
from tui.app.config import DEFAULT_THEME, AppConfig
from tui.app.countdown import token_notice
from tui.app.device_table import DeviceTable
from tui.app.filter_input import FilterInput
from tui.app.fleet_views import ExecHistory, FleetCommands, FleetResultsScreen
from tui.app.help import HelpScreen, dashboard_help_sections
from tui.app.keygate import KeyGate, ScreenOpening, app_settled, dispatch_key
from tui.app.keys import APP_BINDINGS, TERMINAL_ACTIONS
from tui.app.listing import DeviceListing
from tui.app.navigation import TabNavigation
from tui.app.operations import TunnelOperations
from tui.app.remembered import RememberedTheme
from tui.app.session_api import SessionFactory
from tui.app.themes import APP_VARIABLE_DEFAULTS, ThemeSet
from tui.app.tunnel_tab import TunnelTab
from tui.app.tunnels import DashboardApi, TokenStoreLike, failure_line
from tui.app.usernames import UsernameStore
from tui.iotda.models import Device, DeviceStatus
from tui.session.audit import AuditLog
from tui.terminal import TerminalPane

log = logging.getLogger(__name__)


class IoTunnelApp(TabNavigation, App[None]):
    TITLE = "iotunnel"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {DeviceCommands}
    BINDINGS = APP_BINDINGS

    def __init__(
        self,
        *,
        client: DashboardApi,
        session_factory: SessionFactory,
        clock: Callable[[], float],
        config: AppConfig,
        token_store: TokenStoreLike,
        themes: ThemeSet,
        usernames: UsernameStore,
        welcome: str | None = None,
        profile_name: str | None = None,
        login_hint: str | None = None,
        remembered_theme: RememberedTheme | None = None,
        audit: AuditLog | None = None,
        exec_history: ExecHistory | None = None,
    ) -> None:
        self.client = client
        self.session_factory = session_factory
        self.clock = clock
        self.config = config
        self.token_store = token_store
        self.theme_set = themes
        self.usernames = usernames
        self.welcome = welcome
        self.login_hint = login_hint  # a line under the login fields (the demo's login)
        self.profile_name = profile_name
        self.remembered_theme = remembered_theme
        self.audit = audit or AuditLog()
        self.exec_history = exec_history or ExecHistory()
        super().__init__()
        self.key_gate = KeyGate(self._dispatch_key, self._keys_settled, self.call_later)
        self.key_gate.screen_wait = ScreenOpening(self)
        self.animation_level = "none"
        for spec in themes.themes.values():
            self.register_theme(spec.theme)
        self._changed = asyncio.Event()
        # the platform work: objects the app owns, which see it only as a DashboardHost
        self.listing = DeviceListing(self)
        self.ops = TunnelOperations(self, self.listing, self.audit)
        self.fleet = FleetCommands(self, self.audit, self.exec_history)
        self.broadcast = Broadcast(self, self.audit)

    # --- layout --------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(APP_VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        with Vertical(id="main"):
            yield Static(id="summary")
            yield FilterInput(
                placeholder="/ filter: fuzzy words, !word excludes", id="filter", compact=True
            )
            yield DeviceTable(clock=self.clock, countdown=self.config.countdown, id="devices")
            yield TabbedContent(id="tunnels")
        # 80 columns hold the main keys; ^p is one of them (Textual's own palette hint is
        # pinned over the right end and drew stray characters where the keys overflow)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def device_table(self) -> DeviceTable:
        return self.query_one(DeviceTable)

    @property
    def tunnel_tabs(self) -> TabbedContent:
        return self.query_one("#tunnels", TabbedContent)

    def tabs(self) -> list[TunnelTab]:
        return list(self.query(TunnelTab))

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        theme = self.config.theme
        remembered = self.remembered_theme.get() if self.remembered_theme else None
        if remembered and theme == DEFAULT_THEME and remembered in self.available_themes:
            theme = remembered  # switched to last time; a theme named in the config wins
        self._apply_theme(theme)
        for problem in self.theme_set.problems:
            self.notify(str(problem), title="Theme not loaded", severity="warning", timeout=10)
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        self.tunnel_tabs.display = False
        self.query_one("#filter").display = False
        self.device_table.focus()
        self.update_summary()
        if self.welcome:
            self.notify(self.welcome, title="Welcome", timeout=30)
        self.set_interval(1.0, self.tick)
        self.set_interval(self.config.refresh_interval, self.listing.periodic_refresh)
        self.listing.load_devices(progressive=True)
        self.listing.load_tunnels()

    def on_unmount(self) -> None:
        self.key_gate.close()
        self.listing.thaw_gc()
        self.state_changed()

    # --- the platform work (DeviceListing, TunnelOperations) ---------------------------------

    @property
    def devices_done(self) -> asyncio.Event:
        """Set once the first full device listing is in (tests and the bench wait on it)."""
        return self.listing.devices_done

    def on_device_table_open_requested(self, event: DeviceTable.OpenRequested) -> None:
        self.ops.open_tunnel(event.device)

    def on_tunnel_tab_login_needed(self, event: TunnelTab.LoginNeeded) -> None:
        self.ops.login_needed(event.tab, event.error)

    def on_tunnel_tab_broadcast_toggled(self, event: TunnelTab.BroadcastToggled) -> None:
        self.broadcast.toggle(event.tab)

    def on_tunnel_tab_renew_requested(self, event: TunnelTab.RenewRequested) -> None:
        self.ops.request_renew(event.tab)

    def on_tunnel_tab_phase_changed(self, event: TunnelTab.PhaseChanged) -> None:
        self.broadcast.tab_changed(event.tab)
        self.listing.update_badges()
        self.update_summary()

    def action_refresh(self) -> None:
        self.listing.refresh_all()

    def action_close_tunnel(self) -> None:
        self.ops.close_tunnel()

    def action_delete_tunnel(self) -> None:
        self.ops.delete_tunnel()

    def action_renew_tunnel(self) -> None:
        self.ops.renew_tunnel()

    def open_tunnel(self, device: Device) -> None:
        self.ops.open_tunnel(device)

    def report_error(self, exc: BaseException, doing: str) -> str:
        """Notify the user of a failure in one line (see `failure_line`); returns it."""
        line = failure_line(exc, doing)
        self.notify(line, title=f"Could not {doing}", severity="error", timeout=8)
        return line

    # --- a command on many devices (the exec engine), the audit log ----------------------

    def on_device_table_marks_changed(self, event: DeviceTable.MarksChanged) -> None:
        self.update_summary()

    def action_run_on_marked(self) -> None:
        """x: a command on the marked devices (or the selected one), results live."""
        self.fleet.run_on_marked()

    def on_fleet_results_screen_open_shell(self, event: FleetResultsScreen.OpenShell) -> None:
        device = self.device_table.device(event.device_id)
        if device is not None:
            self.ops.open_tunnel(device)

    def action_audit_log(self) -> None:
        self.push_screen(AuditScreen(self.audit))

    # --- waiting on state (tests, bench) -------------------------------------------------

    def state_changed(self) -> None:
        """Wake whoever waits in `wait_until`: a phase, the output, a screen or the list
        changed (also called after every repaint, see `_display`)."""
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

    # --- keys: every key through the gate (see tui/app/keygate.py) -----------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self.is_mounted:
            if self.key_gate.passes_now():
                await self._dispatch_key(event)
            else:
                self.key_gate.key_read(event)
            return
        await super().on_event(event)

    async def _dispatch_key(self, event: events.Key) -> None:
        await dispatch_key(self, event)

    def _keys_settled(self) -> bool:
        return app_settled(self)

    def _display(self, screen: Screen, renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        # Every repaint may be what a `wait_until` waits for (a dialog composed, a pane
        # drained, the palette filled): waiters re-check on it instead of polling.
        self.state_changed()

    def _apply_theme(self, name: str) -> None:
        if name not in self.available_themes:
            self.notify(f"unknown theme {name!r}", title="Theme", severity="warning")
            name = "iotunnel-dark" if "iotunnel-dark" in self.available_themes else "textual-dark"
        self.theme = name

    def _theme_changed(self, theme: Theme) -> None:
        if self.remembered_theme is not None:
            self.remembered_theme.put(theme.name)
        spec = self.theme_set.themes.get(theme.name)
        if spec is not None:
            if theme.dark:
                self.ansi_theme_dark = spec.terminal
            else:
                self.ansi_theme_light = spec.terminal
        for tab in self.tabs():
            tab.colours = dict(self.theme_variables)
            tab.render_status()
        self.state_changed()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Close all tunnels", "Close every open tunnel", self.ops.close_all)
        yield SystemCommand("Refresh", "Reload devices and tunnels", self.listing.refresh_all)
        yield SystemCommand(
            "Audit log", "Who opened which tunnel and ran what", self.action_audit_log
        )
        yield SystemCommand(
            "Broadcast to all tabs", "Typing goes to every open session", self.broadcast.all_tabs
        )
        if self.broadcast.active:
            yield SystemCommand("Stop broadcast", "Typing goes to one session", self.broadcast.stop)
        for name in sorted(self.theme_set.themes):
            yield SystemCommand(
                f"Switch theme: {name}", "Use this theme", lambda n=name: self._apply_theme(n)
            )

    def ui_ready(self) -> bool:
        """False while starting or shutting down: late session events then change nothing."""
        return self.is_running and bool(self.query("#summary")) and bool(self.query(DeviceTable))

    def update_summary(self) -> None:
        if not self.ui_ready():
            return
        table = self.device_table
        online = sum(1 for d in table.visible_devices() if d.status == DeviceStatus.ONLINE)
        parts = [f" {self.profile_name or 'iotunnel'}"]
        if not self.listing.devices_loaded and table.total == 0:
            parts.append("loading devices…")
        else:
            parts.append(f"{table.shown} of {table.total} devices · {online} online")
        if table.query:
            parts.append(f"filter: {table.query}")
        if table.marked:
            parts.append(f"{len(table.marked)} marked · x runs a command")
        unreachable = self.listing.unreachable
        if unreachable is not None:
            wait = max(0, math.ceil(self.listing.retry_at - self.clock()))
            parts.append(f"{unreachable}, retrying in {wait} s" if wait else unreachable)
        live = sum(1 for tab in self.tabs() if tab.is_live)
        if live:
            parts.append(f"{live} open session{'s' if live != 1 else ''}")
        summary = self.query_one("#summary", Static)
        summary.set_class(unreachable is not None, "-unreachable")
        summary.update(" · ".join(parts), layout=False)  # one fixed line
        self.state_changed()

    # --- filter, refresh, focus -------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", FilterInput)
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.device_table.set_filter(event.value)
        self.update_summary()

    @on(Input.Submitted, "#filter")
    @on(FilterInput.Cleared)
    def _filter_done(self) -> None:
        self.device_table.focus()

    def on_descendant_blur(self) -> None:
        found = self.query("#filter")  # empty while the app is shutting down
        field = found.first(FilterInput) if found else None
        if field is not None and not field.value and not field.has_focus:
            field.display = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        # A focused terminal gets every key, like a real terminal: only these stay ours
        # (and only these show in the footer); ctrl+p, q, /, f5 ... go to the device.
        in_terminal = isinstance(self.focused, TerminalPane)
        if in_terminal and action not in TERMINAL_ACTIONS:
            return False
        if action == "zoom_pane" and not in_terminal:
            return False  # outside the terminal, z zooms; f11 goes to the focused widget
        # tab keys only mean something (and only show in the footer) once a tab exists
        if action in ("switch_tab", "zoom", "zoom_pane"):
            return bool(self.query(TunnelTab))
        if action in ("back_to_session", "renew_tunnel"):
            # shown (as the way back after ctrl+]) only on a device that has a session
            device = self.device_table.selected_device if self.query(DeviceTable) else None
            return device is not None and self.ops.tab_for(device.device_id) is not None
        return True

    async def action_quit_anywhere(self) -> None:
        await self.action_quit()

    def action_help(self) -> None:
        sections = dashboard_help_sections(IoTunnelApp.BINDINGS)
        self.clear_notifications()  # the welcome notice would cover the list it repeats
        self.push_screen(HelpScreen(sections, dict(self._keymap)))

    async def action_quit(self) -> None:
        await self.ops.quit()

    # --- countdown ------------------------------------------------------------------------

    def tick(self) -> None:
        if not self.ui_ready():
            return
        self.listing.retry_if_due()
        if self.listing.unreachable is not None:
            self.update_summary()  # the retry countdown
        for tab in self.tabs():
            reached = tab.tick()
            if reached is None:
                continue
            in_terminal = isinstance(self.focused, TerminalPane)
            title, message, severity = token_notice(
                reached, tab.device.display_name, tab.seconds_left() or 0, in_terminal
            )
            self.notify(message, title=title, severity=severity)
        self.listing.update_badges()
