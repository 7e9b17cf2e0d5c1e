"""What the dashboard needs of a tunnel session, so a tab can run a real `TunnelSession`
or the snapshot tests' replay session alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tui.session.events import SessionEvent


class SessionLike(Protocol):
    """What a tab uses of a `TunnelSession` (the snapshot tests' replay session fits)."""

    async def run(self) -> None: ...
    async def close(self) -> None: ...
    def login(self, username: str, password: str) -> None: ...
    def send_input(self, data: bytes) -> None: ...
    def resize(self, cols: int, rows: int) -> None: ...
    def pause_output(self) -> None: ...
    def resume_output(self) -> None: ...


class SessionFactory(Protocol):
    """Builds the session for a tunnel: `TunnelSession` with the app's clock, or a fake."""

    def __call__(
        self,
        tunnel_uri: str,
        token: str,
        *,
        on_event: Callable[[SessionEvent], None],
        expires_at: float | None,
        device_id: str,
    ) -> SessionLike: ...
