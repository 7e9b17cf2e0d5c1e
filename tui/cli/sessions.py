"""Tunnel sessions for a profile: the wiring of contract 3 (extensions) and of the REST
check that the device is there (docs/protocol.md §5.1, §5.2).

The app's own `default_session_factory` knows neither the REST client nor the profile;
the command line knows both, so it builds the sessions the dashboard opens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tui.session.events import SessionEvent


def profile_session_factory(
    client: Any,
    extensions: bool | None,
    *,
    clock: Callable[[], float] = time.time,
    record: bool = False,
) -> Callable[..., Any]:
    """A session factory for the dashboard (tui.app.session_api.SessionFactory).

    `client` (an IoTDAClient) lets a session ask the REST API whether the device side is
    connected, for relays that do not repeat `connect_tunnel`, and tells it whether the
    platform is iotunnel's own; `extensions` is the profile's key: None = auto.
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
            client=client,
            allow_extensions=extensions,
        )

    return make
