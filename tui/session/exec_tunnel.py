"""The tunnel an exec runs over: reuse one this client holds, else create one; give it
back as it was found. REST calls refused by the platform's rate limit are retried.

- A stored tunnel whose token is valid is reused, unless a live session (a dashboard's)
  is connected to it: connecting would replace that session and end its shell.
- Otherwise a tunnel is created; when the platform refuses (400), the device's tunnels
  are listed: ones this client created but whose tokens ran out are replaced, one this
  client holds no token for is someone else's and the exec is refused.
- Release: a tunnel the exec created is closed and deleted (nothing left behind, the
  tenant's tunnel quota untouched); a reused one that was CLOSED is closed again; a
  reused OPEN one is left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tui.iotda.errors import ErrorCode, IoTDAError
from tui.iotda.models import DeviceDetail, Tunnel, TunnelCreated
from tui.session.audit import TUNNEL_CLOSE, TUNNEL_CREATE, TUNNEL_DELETE, AuditLog
from tui.session.tokens import StoredTunnel, TokenStore

log = logging.getLogger(__name__)

T = TypeVar("T")
REUSE_MARGIN_SECONDS = 30.0  # a token this close to its end would end the exec midway
RATE_LIMIT_RETRIES = 8
RATE_LIMIT_BACKOFF = (0.5, 10.0)
RELEASE_TIMEOUT = 15.0


class ExecApi(Protocol):
    """What an exec needs of the platform (`IoTDAClient` fits)."""

    endpoint: str
    project_id: str

    async def show_device(self, device_id: str) -> DeviceDetail: ...
    async def create_tunnel(self, device_id: str) -> TunnelCreated: ...
    async def list_tunnels(self, device_id: str | None = None) -> list[Tunnel]: ...
    async def show_tunnel(self, tunnel_id: str) -> Tunnel: ...
    async def close_tunnel(self, tunnel_id: str) -> None: ...
    async def delete_tunnel(self, tunnel_id: str) -> None: ...


class TunnelUnavailable(Exception):
    """The device has a tunnel this exec must not use or replace (a clear message)."""


def is_rate_limited(exc: IoTDAError) -> bool:
    # IOTDA.021101 is documented (403); a gateway in front may answer 429 instead
    return exc.error_code == ErrorCode.RATE_LIMITED or exc.status == 429


async def with_backoff(
    call: Callable[[], Awaitable[T]],
    *,
    retries: int = RATE_LIMIT_RETRIES,
    backoff: tuple[float, float] = RATE_LIMIT_BACKOFF,
    on_retry: Callable[[float], None] | None = None,
) -> T:
    """`call()`, retried with capped exponential backoff and full jitter while the
    platform answers "rate limited" (so a fleet does not retry in lockstep)."""
    attempt = 0
    while True:
        try:
            return await call()
        except IoTDAError as exc:
            if not is_rate_limited(exc) or attempt >= retries:
                raise
            attempt += 1
            first, cap = backoff
            delay = random.uniform(first / 2, min(cap, first * 2 ** (attempt - 1)))
            log.info(
                "rate limited (%s); retry %d/%d in %.2fs", exc.error_code, attempt, retries, delay
            )
            if on_retry is not None:
                on_retry(delay)
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class HeldTunnel:
    stored: StoredTunnel
    created: bool  # by this exec: closed and deleted afterwards
    was_closed: bool  # reused while CLOSED: closed again afterwards


class ExecTunnels:
    def __init__(
        self,
        client: ExecApi,
        store: TokenStore,
        *,
        clock: Callable[[], float] = time.time,
        backoff: tuple[float, float] = RATE_LIMIT_BACKOFF,
        on_rate_limited: Callable[[float], None] | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.client = client
        self.audit = audit
        self.store = store
        self.clock = clock
        self._backoff = backoff
        self._on_rate_limited = on_rate_limited

    @property
    def endpoint(self) -> str:
        return str(self.client.endpoint).rstrip("/")

    @property
    def project_id(self) -> str:
        return str(self.client.project_id)

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        return await with_backoff(make, backoff=self._backoff, on_retry=self._on_rate_limited)

    async def device_status(self, device_id: str) -> str:
        detail = await self.call(lambda: self.client.show_device(device_id))
        return str(detail.device.status)

    async def acquire(self, device_id: str) -> HeldTunnel:
        stored = self.store.get_for_device(
            self.endpoint, self.project_id, device_id, now=self.clock(), margin=REUSE_MARGIN_SECONDS
        )
        if stored is not None:
            try:
                tunnel = await self.call(lambda: self.client.show_tunnel(stored.tunnel_id))
            except IoTDAError as exc:
                if exc.status != 404:
                    raise
                await self.forget(stored.tunnel_id)
            else:
                if tunnel.source_connect_state.status == "CONNECTED":
                    raise TunnelUnavailable(
                        f"the tunnel {tunnel.tunnel_id} of {device_id} is in use by a live "
                        "session; close that session first"
                    )
                return HeldTunnel(stored, created=False, was_closed=not tunnel.is_open)
        try:  # most devices have no tunnel: try first, look only when refused
            return await self._create_held(device_id)
        except IoTDAError as exc:
            if exc.status != 400:
                raise
            refusal = exc
        listed = await self.call(lambda: self.client.list_tunnels(device_id))
        existing = [t for t in listed if t.device_id == device_id]
        if not existing:
            raise refusal  # refused for another reason (e.g. not online): its own words
        foreign = [t for t in existing if self._stored(t.tunnel_id) is None]
        if foreign:
            raise TunnelUnavailable(
                f"{device_id} already has a tunnel ({foreign[0].tunnel_id}) this client holds "
                "no token for; close and delete it first"
            )
        for tunnel in existing:  # ours, with a token too old to use: replace it
            await self.remove(tunnel.tunnel_id, tunnel.is_open, device_id)
        return await self._create_held(device_id)

    async def _create_held(self, device_id: str) -> HeldTunnel:
        creating = asyncio.ensure_future(self._create(device_id))
        try:
            stored = await asyncio.shield(creating)
        except asyncio.CancelledError:
            # cancelled mid-request: the tunnel may exist already; it must not be left
            await self._drop_if_created(creating)
            raise
        return HeldTunnel(stored, created=True, was_closed=False)

    async def _create(self, device_id: str) -> StoredTunnel:
        started = self.clock()
        created = await self.call(lambda: self.client.create_tunnel(device_id))
        stored = StoredTunnel.from_created(
            self.endpoint, self.project_id, device_id, created, now=started
        )
        self._audit(TUNNEL_CREATE, device_id, created.tunnel_id)
        try:  # in a thread: the store's fsync must not stall every other exec's stream
            await asyncio.to_thread(self.store.put, stored)
        except OSError as exc:  # the tunnel still works; it just cannot be found again
            log.warning("token of %s not stored: %s", created.tunnel_id, exc.strerror)
        return stored

    async def _drop_if_created(self, creating: asyncio.Future[StoredTunnel]) -> None:
        try:
            stored = await asyncio.wait_for(creating, RELEASE_TIMEOUT)
        except Exception:  # it failed, or never answered: nothing to give back
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.remove(stored.tunnel_id, True, stored.device_id), RELEASE_TIMEOUT
            )

    async def release(self, held: HeldTunnel) -> None:
        tunnel_id, device_id = held.stored.tunnel_id, held.stored.device_id
        if held.created:
            await self.remove(tunnel_id, True, device_id)
        elif held.was_closed:
            await self.close(tunnel_id, device_id)

    async def remove(self, tunnel_id: str, is_open: bool, device_id: str | None = None) -> None:
        if is_open:
            await self.close(tunnel_id, device_id)
        try:
            await self.call(lambda: self.client.delete_tunnel(tunnel_id))
        except IoTDAError as exc:
            if exc.status != 404:
                raise
        else:
            self._audit(TUNNEL_DELETE, device_id, tunnel_id)
        await self.forget(tunnel_id)

    async def close(self, tunnel_id: str, device_id: str | None = None) -> None:
        try:
            await self.call(lambda: self.client.close_tunnel(tunnel_id))
        except IoTDAError as exc:
            if exc.status not in (400, 404, 409):  # already closed or gone: goal reached
                raise
            log.info("close of %s: %s", tunnel_id, exc.error_msg)
        else:
            self._audit(TUNNEL_CLOSE, device_id, tunnel_id)

    def _audit(self, action: str, device_id: str | None, tunnel_id: str) -> None:
        if self.audit is not None:
            self.audit.record(action, device_id=device_id, tunnel_id=tunnel_id, outcome="ok")

    async def forget(self, tunnel_id: str) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.store.remove, self.endpoint, self.project_id, tunnel_id)

    def _stored(self, tunnel_id: str) -> Any:
        return self.store.get(self.endpoint, self.project_id, tunnel_id)
