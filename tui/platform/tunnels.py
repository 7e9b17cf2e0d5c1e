"""Tunnel rules and live links of the local platform (docs/protocol.md §2 and §5).

`TunnelService` owns the truth about tunnels: the REST routes and the WebSocket relay
both call it, so TunnelInfo states stay true at every step. Rule violations raise
IoTDAError, which the edges turn into error bodies.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from tui.iotda.errors import ErrorCode, IoTDAError
from tui.iotda.frames import (
    MAX_TOKEN_LENGTH,
    MAX_TUNNEL_ID_LENGTH,
    CloseCode,
    DisconnectCode,
    Op,
    TunnelFrame,
    disconnect_frame,
    new_request_id,
)
from tui.iotda.models import TENANT_TUNNEL_QUOTA, DeviceStatus, TunnelCreated, TunnelStatus
from tui.iotda.mqtt import TunnelNotify
from tui.platform.config import RELAY_DOCUMENTED, RELAY_IOTUNNEL
from tui.platform.links import LinkLimits, TunnelLink
from tui.platform.store import Store, TunnelRecord, token_hash, with_link, with_status

log = logging.getLogger(__name__)

SOURCE = "source"
DEVICE = "device"
RENOTIFY_AFTER = 5.0

# publish(device_id, notify) -> delivered; the server wires it to the MQTT gateway
Notifier = Callable[[str, TunnelNotify], Awaitable[bool]]


@dataclass
class LiveTunnel:
    """What exists only while the platform runs: links, the expiry timer, the device token."""

    source: TunnelLink | None = None
    device: TunnelLink | None = None
    device_token: str | None = None  # memory only; SQLite keeps its hash
    timer: asyncio.TimerHandle | None = None
    notified_at: float | None = None  # time.monotonic() of the last tunnel_notify


def post(link: TunnelLink | None, text: str) -> bool:
    """Queue a platform frame on a link that may be gone; never waits."""
    return link is not None and link.post(text)


async def close_links(*links: TunnelLink | None, code: int) -> None:
    """Close links at once, each bounded by its close deadline: none waits on another."""
    closing = [link.close(code) for link in links if link is not None]
    if closing:
        await asyncio.gather(*closing)


class TunnelService:
    def __init__(
        self,
        store: Store,
        *,
        token_ttl: int,
        edition: str,
        source_uri: Callable[[str], str],
        device_uri: Callable[[str], str],
        notify: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        relay_mode: str = RELAY_IOTUNNEL,
        limits: LinkLimits | None = None,
    ) -> None:
        self.store = store
        self.relay_mode = relay_mode
        self.limits = limits or LinkLimits()
        self.token_ttl = token_ttl
        self.edition = edition
        self._source_uri = source_uri
        self._device_uri = device_uri
        self.notify = notify
        self._clock = clock
        # a device is not called twice for one tunnel within this many seconds
        self.renotify_after = RENOTIFY_AFTER
        self._live: dict[str, LiveTunnel] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Arm expiry timers of stored tunnels; close those that expired while we were down."""
        now = self._clock()
        for tunnel in self.store.all_tunnels():
            if tunnel.expires_at <= now:
                if tunnel.status == TunnelStatus.OPEN:
                    self.store.save_tunnel(with_status(tunnel, TunnelStatus.CLOSED, now))
            else:
                self._arm(tunnel)

    async def stop(self) -> None:
        """Close every live link with 1001 (going away), all at once, and cancel the timers."""
        closing: list[TunnelLink] = []
        for tunnel_id, live in list(self._live.items()):
            if live.timer:
                live.timer.cancel()
            for side in (SOURCE, DEVICE):
                link = self._take(live, side)
                if link is not None:
                    closing.append(link)
                    self._mark_link(tunnel_id, side, connected=False)
        self._live.clear()
        await close_links(*closing, code=CloseCode.GOING_AWAY)
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _live_of(self, tunnel_id: str) -> LiveTunnel:
        live = self._live.get(tunnel_id)
        if live is None:
            live = self._live[tunnel_id] = LiveTunnel()
        return live

    def _arm(self, tunnel: TunnelRecord) -> None:
        live = self._live_of(tunnel.tunnel_id)
        if live.timer:
            live.timer.cancel()
        delay = max(0.0, tunnel.expires_at - self._clock())
        loop = asyncio.get_running_loop()
        live.timer = loop.call_later(delay, self._on_expiry, tunnel.tunnel_id)

    def _on_expiry(self, tunnel_id: str) -> None:
        self._spawn(self._expire(tunnel_id))

    # --- REST operations -------------------------------------------------------------------

    def _check_edition(self) -> None:
        if self.edition == "basic":
            raise IoTDAError(
                403,
                ErrorCode.EDITION_NOT_SUPPORTED,
                "tunnels are not available on the basic edition",
            )

    def get(self, tunnel_id: str) -> TunnelRecord:
        self._check_edition()
        tunnel = self.store.get_tunnel(tunnel_id)
        if tunnel is None:
            # an error body never echoes kilobytes of whatever a client put in the path
            shown = tunnel_id if len(tunnel_id) <= MAX_TUNNEL_ID_LENGTH else tunnel_id[:32] + "…"
            raise IoTDAError(404, ErrorCode.TUNNEL_NOT_FOUND, f"tunnel {shown} not found")
        return tunnel

    def list_tunnels(self, device_id: str | None) -> list[TunnelRecord]:
        self._check_edition()
        return self.store.list_tunnels(device_id)

    async def create(self, device_id: str) -> TunnelCreated:
        self._check_edition()
        device = self.store.get_device(device_id)
        if device is None:
            raise IoTDAError(404, ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} not found")
        if device.status != DeviceStatus.ONLINE:
            raise IoTDAError(400, ErrorCode.DEVICE_NOT_ONLINE, f"device {device_id} is not online")
        if self.store.tunnel_of_device(device_id) is not None:
            raise IoTDAError(
                400, ErrorCode.TUNNEL_EXISTS, f"device {device_id} already has a tunnel"
            )
        if self.store.count_tunnels() >= TENANT_TUNNEL_QUOTA:
            raise IoTDAError(403, ErrorCode.TUNNEL_QUOTA, "the tenant's tunnel quota is reached")
        now = self._clock()
        source_token = secrets.token_urlsafe(32)
        device_token = secrets.token_urlsafe(32)
        tunnel = TunnelRecord(
            tunnel_id=str(uuid.uuid4()),
            device_id=device_id,
            status=TunnelStatus.OPEN,
            create_time=now,
            update_time=now,
            expires_at=now + self.token_ttl,
            source_state="DISCONNECTED",
            source_time=now,
            device_state="DISCONNECTED",
            device_time=now,
            source_token_hash=token_hash(source_token),
            device_token_hash=token_hash(device_token),
        )
        self.store.add_tunnel(tunnel)
        self._live_of(tunnel.tunnel_id).device_token = device_token
        self._arm(tunnel)
        await self._notify_device(tunnel, device_token)
        log.info("tunnel %s created for %s", tunnel.tunnel_id, device_id)
        return TunnelCreated(
            tunnel.tunnel_id, source_token, self.token_ttl, self._source_uri(tunnel.tunnel_id)
        )

    async def close(self, tunnel_id: str) -> None:
        tunnel = self.get(tunnel_id)
        now = self._clock()
        self.store.save_tunnel(with_status(tunnel, TunnelStatus.CLOSED, now))
        await self._end_links(tunnel_id, DisconnectCode.CLOSED_BY_API, "tunnel closed by the API")
        log.info("tunnel %s closed", tunnel_id)

    async def delete(self, tunnel_id: str) -> None:
        tunnel = self.get(tunnel_id)
        if tunnel.status != TunnelStatus.CLOSED:
            raise IoTDAError(
                400, ErrorCode.TUNNEL_NOT_CLOSED, "close the tunnel before deleting it"
            )
        await self._end_links(tunnel_id, DisconnectCode.CLOSED_BY_API, "tunnel deleted")
        live = self._live.pop(tunnel_id, None)
        if live and live.timer:
            live.timer.cancel()
        self.store.delete_tunnel(tunnel_id)
        log.info("tunnel %s deleted", tunnel_id)

    async def _expire(self, tunnel_id: str) -> None:
        tunnel = self.store.get_tunnel(tunnel_id)
        if tunnel is None:
            return
        log.info("tunnel %s: token expired", tunnel_id)
        try:
            self.store.save_tunnel(with_status(tunnel, TunnelStatus.CLOSED, self._clock()))
        except sqlite3.Error as exc:  # the links end anyway; a restart closes it (start())
            log.error("tunnel %s: cannot record its expiry: %s", tunnel_id, exc)
        await self._end_links(
            tunnel_id, DisconnectCode.TOKEN_EXPIRED, "tunnel access token expired"
        )

    async def _end_links(self, tunnel_id: str, code: str, msg: str) -> None:
        """Tell the app why, then close both sides with 1000; states become DISCONNECTED."""
        live = self._live.get(tunnel_id)
        if live is None:
            return
        source, device = self._take(live, SOURCE), self._take(live, DEVICE)
        if source is not None:
            post(source, disconnect_frame(code, msg, new_request_id()).encode())
            self._mark_link(tunnel_id, SOURCE, connected=False)
        if device is not None:
            self._mark_link(tunnel_id, DEVICE, connected=False)
        await close_links(source, device, code=CloseCode.NORMAL)

    async def _notify_device(self, tunnel: TunnelRecord, device_token: str) -> None:
        if self.notify is None:
            log.warning("no device gateway: tunnel_notify for %s not sent", tunnel.device_id)
            return
        remaining = max(1, int(tunnel.expires_at - self._clock()))
        self._live_of(tunnel.tunnel_id).notified_at = time.monotonic()
        notice = TunnelNotify(self._device_uri(tunnel.tunnel_id), device_token, remaining)
        try:
            delivered = await self.notify(tunnel.device_id, notice)
        except Exception:
            log.exception("tunnel_notify to %s failed", tunnel.device_id)
            return
        if not delivered:
            log.warning("tunnel_notify to %s not delivered: device offline", tunnel.device_id)

    # --- WebSocket links -------------------------------------------------------------------

    def authorize(self, tunnel_id: str, side: str, token: str | None) -> TunnelRecord:
        """Check a WebSocket upgrade; raises IoTDAError (401) for a bad or expired token."""
        if not token or len(token) > MAX_TOKEN_LENGTH or len(tunnel_id) > MAX_TUNNEL_ID_LENGTH:
            raise IoTDAError(401, ErrorCode.TUNNEL_TOKEN_INVALID, "invalid tunnel access token")
        tunnel = self.store.get_tunnel(tunnel_id)
        if tunnel is None or self.edition == "basic":
            raise IoTDAError(401, ErrorCode.TUNNEL_TOKEN_INVALID, "invalid tunnel access token")
        expected = tunnel.source_token_hash if side == SOURCE else tunnel.device_token_hash
        if not hmac.compare_digest(token_hash(token), expected):
            raise IoTDAError(401, ErrorCode.TUNNEL_TOKEN_INVALID, "invalid tunnel access token")
        if tunnel.expires_at <= self._clock():
            raise IoTDAError(401, ErrorCode.TUNNEL_TOKEN_EXPIRED, "tunnel access token expired")
        return tunnel

    def peer(self, tunnel_id: str, side: str) -> TunnelLink | None:
        live = self._live.get(tunnel_id)
        if live is None:
            return None
        return live.device if side == SOURCE else live.source

    @staticmethod
    def _take(live: LiveTunnel, side: str) -> TunnelLink | None:
        link = live.source if side == SOURCE else live.device
        if side == SOURCE:
            live.source = None
        else:
            live.device = None
        return link

    def _mark_link(self, tunnel_id: str, side: str, *, connected: bool) -> TunnelRecord | None:
        tunnel = self.store.get_tunnel(tunnel_id)
        if tunnel is not None:
            tunnel = with_link(tunnel, side, connected, self._clock())
            try:
                self.store.save_tunnel(tunnel)
            except sqlite3.Error as exc:  # a full disk: the link itself goes on
                log.error("tunnel %s: cannot record the %s side's state: %s", tunnel_id, side, exc)
        return tunnel

    def links(self, tunnel_id: str) -> tuple[TunnelLink | None, TunnelLink | None]:
        """(source, device) links of a tunnel, for tests and diagnostics."""
        live = self._live.get(tunnel_id)
        return (None, None) if live is None else (live.source, live.device)

    async def attach(self, tunnel_id: str, side: str, link: TunnelLink) -> None:
        """A side connected: replace an older link (4000), re-open, announce connect_tunnel."""
        live = self._live_of(tunnel_id)
        old = self._take(live, side)
        if side == SOURCE:
            live.source = link
        else:
            live.device = link
        if old is not None:
            if side == SOURCE:
                frame = disconnect_frame(
                    DisconnectCode.REPLACED, "replaced by a newer connection", new_request_id()
                )
                post(old, frame.encode())
            # in the background: a stuck old link must not hold up its replacement
            self._spawn(old.close(CloseCode.REPLACED))
        tunnel = self._mark_link(tunnel_id, side, connected=True)
        if tunnel is None:
            return
        reopened = tunnel.status == TunnelStatus.CLOSED
        if reopened:
            tunnel = with_status(tunnel, TunnelStatus.OPEN, self._clock())
            self.store.save_tunnel(tunnel)
            log.info("tunnel %s re-opened by the %s side", tunnel_id, side)
        # a re-opened tunnel, or one whose device gave up its link, calls the device (again);
        # not right after create, when the device is on its way already
        if side == SOURCE and live.device is None and (reopened or not self._notified_lately(live)):
            await self._notify_device(tunnel, self._device_token(live, tunnel))
        # Huawei documents connect_tunnel when the device connects; repeating it to an app
        # that comes after the device is our relay's addition (docs/protocol.md §5.1)
        late_app = side == SOURCE and self.relay_mode == RELAY_DOCUMENTED
        if live.source is not None and live.device is not None and not late_app:
            connect = TunnelFrame(Op.CONNECT_TUNNEL, new_request_id()).encode()
            post(live.source, connect)

    def _notified_lately(self, live: LiveTunnel) -> bool:
        return (
            live.notified_at is not None
            and time.monotonic() - live.notified_at < self.renotify_after
        )

    async def device_online(self, device_id: str) -> None:
        """A device came (back) online: re-announce its open tunnels whose app side waits."""
        for tunnel_id, live in list(self._live.items()):
            if live.source is None or live.device is not None:
                continue
            tunnel = self.store.get_tunnel(tunnel_id)
            if tunnel is None or tunnel.device_id != device_id:
                continue
            if tunnel.status == TunnelStatus.OPEN:
                await self._notify_device(tunnel, self._device_token(live, tunnel))

    def _device_token(self, live: LiveTunnel, tunnel: TunnelRecord) -> str:
        """The device token to re-notify; after a restart only its hash is left, so mint one."""
        if live.device_token is None:
            live.device_token = secrets.token_urlsafe(32)
            self.store.save_tunnel(replace(tunnel, device_token_hash=token_hash(live.device_token)))
        return live.device_token

    async def detach(self, tunnel_id: str, side: str, link: TunnelLink) -> None:
        """A side's socket ended; if it was still the current link, tell the peer (410)."""
        live = self._live.get(tunnel_id)
        current = None if live is None else (live.source if side == SOURCE else live.device)
        if live is None or current is not link:
            return  # replaced, closed by the API, or expired: already accounted for
        self._take(live, side)
        self._mark_link(tunnel_id, side, connected=False)
        peer = live.device if side == SOURCE else live.source
        if side == SOURCE and self.relay_mode == RELAY_DOCUMENTED:
            return  # Huawei documents disconnect as platform → app only
        gone = "source side disconnected" if side == SOURCE else "device side disconnected"
        post(peer, disconnect_frame(DisconnectCode.PEER_GONE, gone, new_request_id()).encode())
