"""One open tunnel: a tab with a status line (state and token countdown) and a terminal.

The tab owns its `TunnelSession` (a long-lived worker) and turns session events into
what the user sees. Decisions that need the platform (login prompt, renew, close) go up
to the app as messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import TabPane

from tui.app.config import Countdown
from tui.app.countdown import TokenLevel, format_countdown, seconds_left, token_level
from tui.app.session_api import SessionFactory, SessionLike
from tui.app.tab_widgets import DeviceTerminal, TabStatus
from tui.iotda.frames import DisconnectCode
from tui.iotda.models import Device
from tui.session.events import (
    Connecting,
    DeviceReady,
    Ended,
    InputRefused,
    LoginAccepted,
    NewShell,
    Output,
    PeerDisconnected,
    Reconnecting,
    SessionEvent,
    WaitingForDevice,
)
from tui.session.tokens import StoredTunnel
from tui.terminal import TerminalPane

log = logging.getLogger(__name__)


def tab_id_for(device_id: str) -> str:
    return "tab-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in device_id)


class TunnelTab(TabPane):
    """A tab per device tunnel."""

    BINDINGS = [
        Binding("l", "login", "Log in", id="tab.login"),
        Binding("r", "renew", "Renew token", id="tab.renew"),
        Binding("i", "focus_terminal", "Terminal", id="tab.terminal"),
        # in the help and the palette; the footer of a tab is full at 80 columns
        Binding("b", "broadcast", "Broadcast", show=False, id="tab.broadcast"),
    ]

    class BroadcastToggled(Message):
        """`b`: this tab in or out of the broadcast of typed input."""

        def __init__(self, tab: TunnelTab) -> None:
            self.tab = tab
            super().__init__()

    class LoginNeeded(Message):
        def __init__(self, tab: TunnelTab, error: str | None = None) -> None:
            self.tab = tab
            self.error = error
            super().__init__()

    class RenewRequested(Message):
        def __init__(self, tab: TunnelTab) -> None:
            self.tab = tab
            super().__init__()

    class PhaseChanged(Message):
        def __init__(self, tab: TunnelTab, previous: str = "") -> None:
            self.tab = tab
            self.previous = previous
            super().__init__()

    def __init__(
        self,
        device: Device,
        *,
        session_factory: SessionFactory,
        clock: Callable[[], float],
        countdown: Countdown,
        connect_timeout: float,
        on_change: Callable[[], None] = lambda: None,
        on_phase: Callable[[TunnelTab, str], None] = lambda tab, previous: None,
        colours: dict[str, str] | None = None,
    ) -> None:
        super().__init__(device.display_name, id=tab_id_for(device.device_id))
        self.device = device
        # the theme's variables (token-ok, token-expiring ...): the app sets them here and
        # again on a theme change, so the tab never reaches up for them
        self.colours: dict[str, str] = dict(colours or {})
        self.stored: StoredTunnel | None = None
        self.session: SessionLike | None = None
        self.phase = "opening"
        self.detail = "opening the tunnel…"
        self.notified_level = TokenLevel.OK
        self.user_closed = False
        self._session_factory = session_factory
        self._clock = clock
        self._countdown = countdown
        self._connect_timeout = connect_timeout
        self._late_timer: Timer | None = None
        self._generation = 0
        self._on_change = on_change
        self._on_phase = on_phase  # called at once (the audit must not miss a quit's end)
        self._reconnect_text = "reconnecting"
        self._shell_boundary = False
        self._refused_notice = False
        # set by the app while this tab is in a broadcast: (tab, bytes) -> sends to all;
        # `broadcast_size` is shown in the status line of every receiving tab
        self.broadcast: Callable[[TunnelTab, bytes], None] | None = None
        self.broadcast_size = 0

    def compose(self) -> ComposeResult:
        yield TabStatus(id="tab-status", classes="tab-status")
        yield DeviceTerminal(
            on_input=self._send_input,
            on_resize=self._resize,
            on_backlog=self._backlog,
            id="terminal",
        )

    def on_mount(self) -> None:
        self.render_status()

    @property
    def pane(self) -> TerminalPane:
        return self.query_one(TerminalPane)

    @property
    def logged_in(self) -> bool:
        return self.phase == "connected"

    @property
    def is_live(self) -> bool:
        return self.phase not in ("expired", "ended", "closed")

    # --- the session -----------------------------------------------------------------------

    def start(self, stored: StoredTunnel) -> None:
        """Connect to a (new or reused) tunnel; a previous session must be closed first."""
        if self._generation:
            self._shell_boundary = True  # the next login starts a new shell in this pane
        self.stored = stored
        self.user_closed = False
        self.notified_level = TokenLevel.OK
        self._generation += 1
        generation = self._generation

        def on_event(event: SessionEvent) -> None:
            if generation == self._generation:  # a replaced session's last words are ignored
                self._on_event(event)

        self.session = self._session_factory(
            stored.tunnel_uri,
            stored.token,
            on_event=on_event,
            expires_at=stored.expires_at,
            device_id=stored.device_id,
        )
        self.set_phase("connecting", "connecting to the tunnel…")
        self.run_worker(self._run(self.session), group=self.id or "tab", exit_on_error=False)

    async def _run(self, session: SessionLike) -> None:
        try:
            await session.run()
        except Exception:  # the session reports its own end; this is a bug, not a state
            log.exception("tunnel session for %s failed", self.device.device_id)
            if session is self.session:
                self.set_phase("ended", "session failed (see the log)")

    async def stop(self) -> None:
        """The user closed the tab's session: no reconnect."""
        self.user_closed = True
        self._cancel_late_timer()
        session, self.session = self.session, None
        self._generation += 1
        if session is not None:
            try:
                await session.close()
            except Exception:
                log.exception("closing session of %s", self.device.device_id)
        self.set_phase("closed", "tunnel closed")

    def login(self, username: str, password: str) -> None:
        if self.session is not None:
            self.set_phase("login", f"logging in as {username}…")
            self.session.login(username, password)

    def _send_input(self, data: bytes) -> None:
        if self.broadcast is not None:
            self.broadcast(self, data)  # typed once, sent to every tab in the broadcast
            return
        self.send_input(data)

    def send_input(self, data: bytes) -> None:
        """Bytes typed for this tab's shell (by its pane, or a broadcast)."""
        if self.session is not None and self.phase not in ("expired", "ended", "closed"):
            self.session.send_input(data)  # the session holds what it cannot send yet
            return
        # nothing will ever carry these keys: say so in place, once until it reconnects
        if not self._refused_notice:
            self._refused_notice = True
            why = "the token expired" if self.phase == "expired" else "the session ended"
            self.say_in_pane(f"input not sent: {why} · ctrl+] then r renews")

    def _resize(self, cols: int, rows: int) -> None:
        if self.session is not None:
            self.session.resize(cols, rows)

    def _backlog(self, high: bool) -> None:
        # the pane cannot keep up: stop reading the socket so TCP slows the device down
        if self.session is not None:
            if high:
                self.session.pause_output()
            else:
                self.session.resume_output()

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, Output):
            panes = self.query(TerminalPane)
            if panes:  # none once the tab is being removed: late output is dropped
                panes.first().feed(event.text)
                self._on_change()
        elif isinstance(event, Connecting):
            if self.phase == "reconnecting":  # keep "reconnecting (n/5)" in sight
                self.set_phase("reconnecting", f"{self._reconnect_text} · connecting…")
            else:
                self.set_phase("connecting", "connecting to the tunnel…")
        elif isinstance(event, WaitingForDevice):
            self.set_phase("waiting", "waiting for the device to connect…")
            self._start_late_timer()
        elif isinstance(event, DeviceReady):
            self._cancel_late_timer()
            self.set_phase("login", "device connected: log in")
            self.post_message(self.LoginNeeded(self))
        elif isinstance(event, LoginAccepted):
            if self._shell_boundary:
                self._shell_boundary = False
                self.mark_new_shell()
            self._refused_notice = False
            self.set_phase("connected", "connected")
            self.pane.focus()
        elif isinstance(event, NewShell):  # after a reconnect that could not resume
            self.mark_new_shell()
        elif isinstance(event, InputRefused):
            self.say_in_pane(f"{event.bytes_dropped} bytes typed while not connected were not sent")
        elif isinstance(event, PeerDisconnected):
            self._on_disconnect(event)
        elif isinstance(event, Reconnecting):
            self._cancel_late_timer()
            # no limit: the session retries while the token is valid
            count = f"{event.attempt}/{event.limit}" if event.limit else f"attempt {event.attempt}"
            self._reconnect_text = f"reconnecting ({count})"
            self.set_phase("reconnecting", f"{self._reconnect_text} in {event.delay:g} s")
        elif isinstance(event, Ended):
            self._on_ended(event)

    def say_in_pane(self, line: str) -> None:
        """A line of ours in the terminal, dim and set apart, so it is read where the eyes
        are (and never mistaken for the device's output)."""
        panes = self.query(TerminalPane)
        if panes:
            panes.first().feed(f"\r\n\x1b[0;2;7m iotunnel: {line} \x1b[0m\r\n")
            self._on_change()

    def mark_new_shell(self) -> None:
        """A rule with the time: an old prompt above it is never taken for the new one."""
        at = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        panes = self.query(TerminalPane)
        if panes:
            panes.first().feed(f"\r\n\x1b[0;2m──── new shell · {at} ────\x1b[0m\r\n")
            self._on_change()

    def _on_disconnect(self, event: PeerDisconnected) -> None:
        code, message = event.status_code, event.status_msg or "no reason given"
        if code == DisconnectCode.LOGIN_FAILED:
            # agents often say "login failed: ..." themselves: do not prefix it twice
            if not message.lower().startswith("login failed"):
                message = f"login failed: {message}"
            self.set_phase("login", message)
            self.post_message(self.LoginNeeded(self, error=message[:1].upper() + message[1:]))
        elif code == DisconnectCode.PEER_GONE:
            self.set_phase("gone", "device disconnected, waiting")
            self._start_late_timer()
        elif code == DisconnectCode.SHELL_TIMEOUT:
            self.set_phase("login", f"shell ended: {message} · press l to log in again")
        elif code == DisconnectCode.TOKEN_EXPIRED:
            self.set_phase("expired", "token expired · press r to renew")
        else:
            self.set_phase(self.phase, f"disconnect {code}: {message}")

    def _on_ended(self, event: Ended) -> None:
        self._cancel_late_timer()
        if self.user_closed:
            self.set_phase("closed", "tunnel closed")
        elif event.expired:
            self.set_phase("expired", "token expired · press r to renew")
        else:
            self.set_phase("ended", f"session ended: {event.reason}")

    def _start_late_timer(self) -> None:
        self._cancel_late_timer()
        self._late_timer = self.set_timer(self._connect_timeout, self._device_late)

    def _cancel_late_timer(self) -> None:
        if self._late_timer is not None:
            self._late_timer.stop()
            self._late_timer = None

    def _device_late(self) -> None:
        self._late_timer = None
        if self.phase in ("waiting", "gone"):
            self.set_phase(
                "late",
                f"the device did not connect within {self._connect_timeout:g} s: it may be "
                "offline or its agent is not running · still waiting, r renews the tunnel",
            )

    # --- display ---------------------------------------------------------------------------

    def set_phase(self, phase: str, detail: str) -> None:
        previous = self.phase
        self.phase, self.detail = phase, detail
        if self.is_mounted:
            self.render_status()
        if phase != previous:
            self._on_phase(self, previous)
            self.post_message(self.PhaseChanged(self, previous))

    def seconds_left(self) -> int | None:
        if self.stored is None:
            return None
        return seconds_left(self.stored.expires_at, self._clock())

    def level(self) -> TokenLevel:
        left = self.seconds_left()
        return TokenLevel.OK if left is None else token_level(left, self._countdown)

    def render_status(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.broadcast_size:
            text.append(
                f" BROADCAST to {self.broadcast_size} · ctrl+] ends it ",
                style=f"bold reverse {self.colours.get('warning', '')}",
            )
        text.append(f" {self.device.display_name} ", style="bold")
        text.append(f"· {self.detail} ")
        left = self.seconds_left()
        if left is not None and not (left <= 0 and "expired" in self.detail):
            text.append("· token ")
            text.append(format_countdown(left), style=f"bold {self._level_colour()}")
        found = self.query(TabStatus)
        if not found:
            return  # mounting or already gone
        status = found.first()
        status.update(text, layout=False)  # a fixed one-line bar: no relayout
        for level in TokenLevel:
            status.set_class(level == self.level(), f"-token-{level}")

    def _level_colour(self) -> str:
        name = {
            TokenLevel.OK: "token-ok",
            TokenLevel.WARNING: "token-expiring",
            TokenLevel.CRITICAL: "token-critical",
            TokenLevel.EXPIRED: "token-expired",
        }[self.level()]
        return self.colours.get(name, "")

    def tick(self) -> TokenLevel | None:
        """Once a second: redraw the countdown; returns a level newly reached, if any."""
        if self.stored is None or not self.is_mounted:
            return None
        level = self.level()
        self.render_status()
        if level == TokenLevel.EXPIRED and self.phase not in ("expired", "closed"):
            self.set_phase("expired", "token expired · press r to renew")
            self.say_in_pane("tunnel token expired · ctrl+] then r renews")
        order = list(TokenLevel)
        if order.index(level) > order.index(self.notified_level):
            self.notified_level = level
            return level
        return None

    # --- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # l, r, i are letters: in the terminal they are typed on the device
        focused = self.app.focused if self.is_mounted else None
        return not isinstance(focused, TerminalPane)

    def action_login(self) -> None:
        if self.session is not None and self.phase in ("login", "late", "gone", "waiting"):
            self.post_message(self.LoginNeeded(self))

    def action_broadcast(self) -> None:
        self.post_message(self.BroadcastToggled(self))

    def action_renew(self) -> None:
        self.post_message(self.RenewRequested(self))

    def action_focus_terminal(self) -> None:
        self.pane.focus()

    def focus_best(self) -> None:
        """The terminal once logged in, else the status line (where l, r, c, D work).

        A tab added a moment ago may not be composed yet (two enters in one burst): then
        it focuses once it is."""
        target = self.query(TerminalPane if self.phase == "connected" else TabStatus)
        if target:
            target.first().focus()
        elif self.is_attached:
            self.call_after_refresh(self.focus_best)
