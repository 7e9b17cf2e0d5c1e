"""Fakes for the snapshot tests ONLY: a client answering with recorded platform JSON and
a session replaying recorded shell output. Behaviour tests use the real platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tui.iotda.errors import IoTDAError
from tui.iotda.models import DevicePage, Tunnel, TunnelCreated
from tui.session.events import (
    Connecting,
    DeviceReady,
    Ended,
    LoginAccepted,
    Output,
    PeerDisconnected,
    Reconnecting,
    SessionEvent,
    WaitingForDevice,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXED_NOW = 1_795_000_000.0  # 2026-11-18T…Z, any fixed moment will do


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class FixedClock:
    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FixtureClient:
    """Answers like the platform did when the fixtures were recorded."""

    endpoint = "http://127.0.0.1:9"
    project_id = "demo-project"

    def __init__(self) -> None:
        self.page = DevicePage.from_json(fixture("devices.json"))
        self.created = TunnelCreated.from_json(fixture("tunnel_created.json"))
        self.recorded_tunnels = [Tunnel.from_json(t) for t in fixture("tunnels.json")["tunnels"]]
        self.tunnels: list[Tunnel] = []

    async def list_device_pages(self, **filters: Any) -> AsyncIterator[DevicePage]:
        yield self.page

    async def list_tunnels(self, device_id: str | None = None) -> list[Tunnel]:
        return [t for t in self.tunnels if device_id in (None, t.device_id)]

    async def show_tunnel(self, tunnel_id: str) -> Tunnel:
        for tunnel in self.tunnels:
            if tunnel.tunnel_id == tunnel_id:
                return tunnel
        raise IoTDAError(404, "IOTDA.019701", "tunnel not found")

    async def create_tunnel(self, device_id: str) -> TunnelCreated:
        self.tunnels = list(self.recorded_tunnels)
        return self.created

    async def close_tunnel(self, tunnel_id: str) -> None:
        return None

    async def delete_tunnel(self, tunnel_id: str) -> None:
        self.tunnels = []


class ReplaySession:
    """Plays the recorded session: waiting, device ready, login, recorded output."""

    def __init__(
        self,
        tunnel_uri: str,
        token: str,
        *,
        on_event: Callable[[SessionEvent], None],
        expires_at: float | None = None,
        device_comes: bool = True,
        device_id: str = "",
    ) -> None:
        self.on_event = on_event
        self.expires_at = expires_at
        self.device_comes = device_comes
        self.outputs: list[str] = fixture("session.json")["outputs"]
        self._closed = asyncio.Event()
        self.state = "connecting"

    async def run(self) -> None:
        self.on_event(Connecting(0))
        self.on_event(WaitingForDevice())
        if self.device_comes:
            self.on_event(DeviceReady())
        await self._closed.wait()
        self.on_event(Ended("closed"))

    def login(self, username: str, password: str) -> None:
        self.on_event(LoginAccepted(None))
        for text in self.outputs:
            self.on_event(Output(text))

    def send_input(self, data: bytes | str) -> None:
        return None

    def resize(self, cols: int, rows: int) -> None:
        return None

    def pause_output(self) -> None:
        return None

    def resume_output(self) -> None:
        return None

    def drop(self) -> None:
        self.on_event(Reconnecting(1, 5, 0.5))
        self.on_event(Connecting(1))

    def expire(self) -> None:
        self.on_event(PeerDisconnected("401", "tunnel access token expired"))
        self.on_event(Ended("token expired", expired=True, close_code=1000))

    async def close(self) -> None:
        self._closed.set()


class ReplayFactory:
    def __init__(self, *, device_comes: bool = True) -> None:
        self.device_comes = device_comes
        self.sessions: list[ReplaySession] = []

    def __call__(self, tunnel_uri: str, token: str, **kwargs: Any) -> ReplaySession:
        session = ReplaySession(tunnel_uri, token, device_comes=self.device_comes, **kwargs)
        self.sessions.append(session)
        return session


async def settle(pilot: Any) -> None:
    """Wait for the listing and stop blinking cursors, for a deterministic picture."""
    app = pilot.app
    await asyncio.wait_for(app.devices_done.wait(), 10)
    await pilot.pause()
    for node in app.screen.query("Input"):
        node.cursor_blink = False
    await finish(pilot)


async def finish(pilot: Any) -> None:
    """Let the footer catch up with the last focus change before the picture is taken."""
    pilot.app.refresh_bindings()
    await pilot.pause()
    await pilot.pause()
