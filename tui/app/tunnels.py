"""Opening, replacing and renewing tunnels: plain async logic, no Textual.

`TunnelOpener` decides how a keypress on a device becomes a usable tunnel: reuse a
tunnel this client created whose token is still valid, else create one; a tunnel this
client cannot use is only replaced (close, delete, create) when the caller says so.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tui.iotda.errors import IoTDAError
from tui.iotda.models import DevicePage, Tunnel, TunnelCreated
from tui.session.tokens import StoredTunnel

log = logging.getLogger(__name__)

# a token this close to its end is not worth reusing: the session would end at once
REUSE_MARGIN_SECONDS = 30.0


class TunnelApi(Protocol):
    endpoint: str
    project_id: str

    async def create_tunnel(self, device_id: str) -> TunnelCreated: ...
    async def list_tunnels(self, device_id: str | None = None) -> list[Tunnel]: ...
    async def show_tunnel(self, tunnel_id: str) -> Tunnel: ...
    async def close_tunnel(self, tunnel_id: str) -> None: ...
    async def delete_tunnel(self, tunnel_id: str) -> None: ...


class TokenStoreLike(Protocol):
    def get_for_device(
        self,
        endpoint: str,
        project_id: str,
        device_id: str,
        *,
        now: float | None = ...,
        margin: float = ...,
    ) -> StoredTunnel | None: ...
    def get(self, endpoint: str, project_id: str, tunnel_id: str) -> StoredTunnel | None: ...
    def put(self, stored: StoredTunnel) -> None: ...
    def prune(self, now: float) -> None: ...
    def remove(self, endpoint: str, project_id: str, tunnel_id: str) -> None: ...
    def entries(self) -> list[StoredTunnel]: ...


class DashboardApi(TunnelApi, Protocol):
    """What the dashboard needs of the platform: the tunnel calls and the device pages
    (`IoTDAClient` and the tests' fixture client both fit)."""

    def list_device_pages(self, **filters: Any) -> AsyncIterator[DevicePage]: ...


@dataclass(frozen=True)
class Ready:
    """A tunnel this client can connect to."""

    stored: StoredTunnel
    reused: bool


@dataclass(frozen=True)
class NeedsReplace:
    """The device has tunnels this client has no token for."""

    device_id: str
    tunnels: tuple[Tunnel, ...]


OpenOutcome = Ready | NeedsReplace


class TunnelOpener:
    def __init__(
        self, client: TunnelApi, store: TokenStoreLike, clock: Callable[[], float]
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock

    @property
    def endpoint(self) -> str:
        return str(self.client.endpoint)

    @property
    def project_id(self) -> str:
        return str(self.client.project_id)

    async def open(self, device_id: str) -> OpenOutcome:
        stored = self.store.get_for_device(
            self.endpoint,
            self.project_id,
            device_id,
            now=self.clock(),
            margin=REUSE_MARGIN_SECONDS,
        )
        if stored is not None:
            try:
                await self.client.show_tunnel(stored.tunnel_id)
            except IoTDAError as exc:
                if exc.status != 404:
                    raise
                log.info("stored tunnel %s is gone; forgetting it", stored.tunnel_id)
                self.forget(stored.tunnel_id)
            else:
                return Ready(stored, reused=True)
        listed = await self.client.list_tunnels(device_id)
        existing = [t for t in listed if t.device_id == device_id]
        if existing and all(self._created_here(t.tunnel_id) for t in existing):
            # our own tunnel whose token ran out: renewing it needs no question
            return Ready(await self.replace(device_id, tuple(existing)), reused=False)
        if existing:
            return NeedsReplace(device_id, tuple(existing))
        return Ready(await self.create(device_id), reused=False)

    def _created_here(self, tunnel_id: str) -> bool:
        return self.store.get(self.endpoint, self.project_id, tunnel_id) is not None

    async def create(self, device_id: str) -> StoredTunnel:
        started = self.clock()
        created = await self.client.create_tunnel(device_id)
        stored = StoredTunnel.from_created(
            self.endpoint, self.project_id, device_id, created, now=started
        )
        self.store.put(stored)
        return stored

    async def remove_tunnel(self, tunnel: Tunnel | str) -> None:
        """Close (if needed) and delete a tunnel, and forget its token."""
        tunnel_id = tunnel if isinstance(tunnel, str) else tunnel.tunnel_id
        is_open = True if isinstance(tunnel, str) else tunnel.is_open
        if is_open:
            await self.close(tunnel_id)
        try:
            await self.client.delete_tunnel(tunnel_id)
        except IoTDAError as exc:
            if exc.status != 404:
                raise
        self.forget(tunnel_id)

    async def close(self, tunnel_id: str) -> None:
        try:
            await self.client.close_tunnel(tunnel_id)
        except IoTDAError as exc:
            # already closed or already gone: the goal is reached either way
            if exc.status not in (400, 404, 409):
                raise
            log.info("close of %s: %s", tunnel_id, exc.error_msg)

    async def replace(self, device_id: str, tunnels: tuple[Tunnel, ...]) -> StoredTunnel:
        for tunnel in tunnels:
            await self.remove_tunnel(tunnel)
        stored = await self.create(device_id)
        self.store.prune(self.clock())
        return stored

    async def renew(self, stored: StoredTunnel) -> StoredTunnel:
        """A fresh tunnel (new token) for the same device: close, delete, create."""
        await self.remove_tunnel(stored.tunnel_id)
        return await self.create(stored.device_id)

    def forget(self, tunnel_id: str) -> None:
        self.store.remove(self.endpoint, self.project_id, tunnel_id)


def failure_line(exc: BaseException, doing: str) -> str:
    """One line for the user about a failed platform call.

    No masking here: an `IoTDAError` carries the platform's `error_msg` (never a
    credential), and the other failures that reach this point (httpx transport errors,
    OS errors) carry URLs and reasons, never headers or request bodies, which is where
    tokens and passwords travel. The traceback goes to the log only.
    """
    if isinstance(exc, IoTDAError):
        status = f" (HTTP {exc.status})" if exc.status else ""
        return f"{exc.error_msg}{status}"
    log.error("%s failed", doing, exc_info=exc)
    return f"{type(exc).__name__}: {str(exc)[:200] or 'no detail'}"
