"""The one way to build the dashboard: the CLI, the demo and the tests all call this."""

from __future__ import annotations

import time
from collections.abc import Callable

from tui.app.app import IoTunnelApp
from tui.app.config import AppConfig
from tui.app.fleet_views import ExecHistory
from tui.app.remembered import RememberedTheme
from tui.app.session_api import SessionFactory
from tui.app.themes import ThemeSet, load_themes
from tui.app.tunnels import DashboardApi, TokenStoreLike
from tui.app.usernames import UsernameStore
from tui.session.audit import AuditContext, AuditLog
from tui.session.events import SessionEvent
from tui.session.tokens import TokenStore
from tui.terminal import set_default_backend, warm_up


def default_session_factory(
    clock: Callable[[], float],
    record: bool = False,
    *,
    client: object | None = None,
    extensions: bool | None = None,
) -> SessionFactory:
    """Real `TunnelSession`s sharing the app's clock for token expiry.

    With `record`, each session's output goes to an asciicast file under
    `$XDG_STATE_HOME/iotunnel/recordings/` (0600) that `iotunnel replay` plays.
    `client` (an IoTDAClient) lets a session ask the REST API whether the device is there
    and tells it whether the platform is iotunnel's own; `extensions` is the profile's key
    (None = auto): together they decide whether our extensions are used (contract 3).
    """
    # a stand-in client (the snapshot tests' fixtures) has no platform header to tell
    state_source = client if hasattr(client, "platform_is_iotunnel") else None
    from tui.session.recorder import Recorder
    from tui.session.session import TunnelSession

    def make(
        tunnel_uri: str,
        token: str,
        *,
        on_event: Callable[[SessionEvent], None],
        expires_at: float | None,
        device_id: str,
    ) -> TunnelSession:
        recorder = Recorder.for_device(device_id, wall_clock=clock) if record else None
        return TunnelSession(
            tunnel_uri,
            token,
            clock=clock,
            on_event=on_event,
            expires_at=expires_at,
            recorder=recorder,
            client=state_source,  # type: ignore[arg-type]
            allow_extensions=extensions,
        )

    return make


def make_app(
    *,
    client: DashboardApi,
    session_factory: SessionFactory | None = None,
    clock: Callable[[], float] = time.time,
    config: AppConfig | None = None,
    token_store: TokenStoreLike | None = None,
    themes: ThemeSet | None = None,
    usernames: UsernameStore | None = None,
    welcome: str | None = None,
    profile_name: str | None = None,
    login_hint: str | None = None,
    remembered_theme: RememberedTheme | None = None,
    audit: AuditLog | None = None,
    exec_history: ExecHistory | None = None,
) -> IoTunnelApp:
    """Build the app with everything outside injected; defaults are the real parts."""
    config = config or AppConfig()
    set_default_backend(config.terminal_backend)
    warm_up()  # Ghostty's core loads in the background: the first tab opens without a pause
    if session_factory is None:
        profile = config.profiles.get(profile_name) if profile_name else None
        session_factory = default_session_factory(
            clock,
            config.record_sessions,
            client=client,
            extensions=profile.extensions if profile else None,
        )
    return IoTunnelApp(
        client=client,
        session_factory=session_factory,
        clock=clock,
        config=config,
        token_store=token_store if token_store is not None else TokenStore(),
        themes=themes if themes is not None else load_themes(),
        usernames=usernames or UsernameStore(),
        welcome=welcome,
        profile_name=profile_name,
        login_hint=login_hint,
        remembered_theme=remembered_theme or RememberedTheme(),
        audit=audit
        or AuditLog(context=AuditContext(endpoint=str(client.endpoint), profile=profile_name)),
        exec_history=exec_history or ExecHistory(),
    )
