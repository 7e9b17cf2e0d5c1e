"""The one way to build the dashboard: the CLI, the demo and the tests all call this."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tui.app.app import IoTunnelApp
from tui.app.config import AppConfig
from tui.app.themes import ThemeSet, load_themes
from tui.app.usernames import UsernameStore
from tui.session.tokens import TokenStore


def default_session_factory(clock: Callable[[], float]) -> Callable[..., Any]:
    """Real `TunnelSession`s sharing the app's clock for token expiry."""
    from tui.session.session import TunnelSession

    def make(tunnel_uri: str, token: str, **kwargs: Any) -> TunnelSession:
        return TunnelSession(tunnel_uri, token, clock=clock, **kwargs)

    return make


def make_app(
    *,
    client: Any,
    session_factory: Callable[..., Any] | None = None,
    clock: Callable[[], float] = time.time,
    config: AppConfig | None = None,
    token_store: Any = None,
    themes: ThemeSet | None = None,
    usernames: UsernameStore | None = None,
    welcome: str | None = None,
    profile_name: str | None = None,
    login_hint: str | None = None,
) -> IoTunnelApp:
    """Build the app with everything outside injected; defaults are the real parts."""
    return IoTunnelApp(
        client=client,
        session_factory=session_factory or default_session_factory(clock),
        clock=clock,
        config=config or AppConfig(),
        token_store=token_store if token_store is not None else TokenStore(),
        themes=themes if themes is not None else load_themes(),
        usernames=usernames or UsernameStore(),
        welcome=welcome,
        profile_name=profile_name,
        login_hint=login_hint,
    )
