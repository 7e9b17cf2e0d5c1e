"""The one way to build the dashboard: the CLI, the demo and the tests all call this."""

from __future__ import annotations

import time
from collections.abc import Callable

from tui.app.app import IoTunnelApp
from tui.app.config import AppConfig
from tui.app.session_api import SessionFactory
from tui.app.themes import ThemeSet, load_themes
from tui.app.tunnels import DashboardApi, TokenStoreLike
from tui.app.usernames import UsernameStore
from tui.session.events import SessionEvent
from tui.session.tokens import TokenStore


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
            client=client,  # type: ignore[arg-type]
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
) -> IoTunnelApp:
    """Build the app with everything outside injected; defaults are the real parts."""
    config = config or AppConfig()
    if session_factory is None:
        profile = config.profiles.get(profile_name) if profile_name else None
        session_factory = default_session_factory(
            clock,
            config.record_sessions,
            # a test's fake API has no platform header to tell: then no client at all
            client=client if hasattr(client, "platform_is_iotunnel") else None,
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
    )
