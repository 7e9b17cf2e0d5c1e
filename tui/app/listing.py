"""The device list and the tunnel badges, kept up to date from the platform.

Every platform call runs in a worker of the app; an endpoint that does not answer becomes
one line in the header with a capped backoff, any other failure one notice.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from tui.app.device_table import TunnelBadge
from tui.app.host import DashboardHost
from tui.app.tab_widgets import PHASE_WORDS
from tui.iotda.errors import ErrorCode, IoTDAError
from tui.iotda.models import Device, Tunnel
from tui.session.tokens import StoredTunnel

log = logging.getLogger(__name__)

# while the first listing streams in, repaint at most this often
PROGRESSIVE_PAINT_SECONDS = 0.2
FREEZE_AFTER_DEVICES = 2_000
# past this many pages a periodic re-list waits longer, in step with the fleet's size:
# an open dashboard stays far below IoTDA's rate limit (f5 re-lists at once)
PAGES_PER_REFRESH = 10
# an endpoint that does not answer is tried again after 2, 4, 8 ... at most 60 seconds
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 60.0


class DeviceListing:
    """Devices, tunnels and their badges; owned by the app, which it knows as `host`."""

    def __init__(self, host: DashboardHost) -> None:
        self.host = host
        self.devices_loaded = False
        self.devices_done = asyncio.Event()
        self.first_paint_at: float | None = None
        self.tunnels_by_device: dict[str, Tunnel] = {}
        self.stored_by_device: dict[str, StoredTunnel] = {}
        self.listing_now = False  # a device listing is running
        self._froze_gc = False
        self._listed_at: float | None = None
        self._listed_pages = 0
        # the endpoint did not answer: one line in the header, retried with capped backoff
        self.unreachable: str | None = None
        self.retry_at = 0.0
        self._retry_delay = 0.0
        self._refresh_round = 0
        self.failed_tries = 0  # tries that found the endpoint away (tests wait on it)
        self._failed_round = -1

    # --- an endpoint that does not answer ------------------------------------------------

    def _network_failure(self, exc: BaseException) -> bool:
        """Record an unreachable endpoint (True), instead of a toast on every refresh."""
        if not (isinstance(exc, IoTDAError) and exc.error_code == ErrorCode.CLIENT_NETWORK):
            return False
        if self.unreachable is not None and self._failed_round == self._refresh_round:
            return True  # devices and tunnels of the same try: one failure
        self._failed_round = self._refresh_round
        self.failed_tries += 1
        # "cannot reach HOST:PORT: <reason>": the header keeps the part a person acts on
        self.unreachable = exc.error_msg.split(": ", 1)[0]
        self._retry_delay = min(RETRY_MAX_SECONDS, max(RETRY_FIRST_SECONDS, self._retry_delay * 2))
        self.retry_at = self.host.clock() + self._retry_delay
        log.warning("%s; retrying in %.0f s", exc.error_msg, self._retry_delay)
        self.host.update_summary()
        return True

    def _reached(self) -> None:
        if self.unreachable is not None:
            self.unreachable = None
            self._retry_delay = 0.0
            self.host.update_summary()

    def retry_if_due(self) -> None:
        """Called every second: an unreachable endpoint is tried again when its time came."""
        if self.unreachable is not None and self.host.clock() >= self.retry_at:
            self.retry_at = self.host.clock() + self._retry_delay  # one try at a time
            self.refresh_all()

    # --- devices and tunnels -----------------------------------------------------------

    def refresh_all(self) -> None:
        self._refresh_round += 1
        # a listing slower than the refresh interval must finish, not be restarted forever
        if not self.listing_now:
            self.load_devices(progressive=False)
        self.load_tunnels()

    def periodic_refresh(self) -> None:
        """The refresh timer: tunnels every time, devices paced by the fleet's size."""
        if self.unreachable is not None:
            return  # `retry_if_due` paces the tries while the endpoint is away
        pause = self.host.config.refresh_interval * max(1.0, self._listed_pages / PAGES_PER_REFRESH)
        if self._listed_at is None or self.host.clock() - self._listed_at >= pause:
            self.refresh_all()
        else:
            self.load_tunnels()

    def load_devices(self, progressive: bool) -> None:
        """List every page of devices in a worker (a newer listing replaces a running one)."""
        self.host.run_worker(
            self._load_devices(progressive), group="devices", exclusive=True, exit_on_error=False
        )

    async def _load_devices(self, progressive: bool) -> None:
        table = self.host.device_table
        collected: list[Device] = []
        pending: list[Device] = []
        last_paint = 0.0
        self.listing_now = True
        pages = 0
        try:
            async for page in self.host.client.list_device_pages():
                pages += 1
                collected.extend(page.devices)
                if not progressive:
                    continue
                pending.extend(page.devices)
                now = time.monotonic()  # paint pacing only; never shown
                if self.first_paint_at is None or now - last_paint >= PROGRESSIVE_PAINT_SECONDS:
                    table.add_devices(pending)
                    pending = []
                    last_paint = now
                    self._first_paint()
        except Exception as exc:
            if not self._network_failure(exc):
                self.host.report_error(exc, "list devices")
            return
        finally:
            self.devices_loaded = True
            self.listing_now = False
        self._listed_at, self._listed_pages = self.host.clock(), pages
        self._reached()
        table.set_devices(collected)
        self._first_paint()
        self.host.update_summary()
        self.update_badges()
        if not self.devices_done.is_set() and len(collected) >= FREEZE_AFTER_DEVICES:
            # A big fleet lives as long as the app: keep it (and the widgets) out of the
            # cyclic GC's full scans, which otherwise stall a keystroke for 50-150 ms now
            # and then. Collect first so no garbage is frozen; unfrozen again on unmount.
            gc.collect()
            gc.freeze()
            self._froze_gc = True
        self.devices_done.set()

    def _first_paint(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()
        self.host.update_summary()

    def load_tunnels(self) -> None:
        self.host.run_worker(
            self._load_tunnels(), group="tunnels", exclusive=True, exit_on_error=False
        )

    async def _load_tunnels(self) -> None:
        try:
            tunnels = await self.host.client.list_tunnels()
        except Exception as exc:
            if not self._network_failure(exc):
                self.host.report_error(exc, "list tunnels")
            return
        self._reached()
        self.tunnels_by_device = {t.device_id: t for t in tunnels}
        self._reload_stored()
        self.update_badges()

    def _reload_stored(self) -> None:
        endpoint = str(self.host.client.endpoint).rstrip("/")
        project_id = str(self.host.client.project_id)
        now = self.host.clock()
        self.stored_by_device = {
            entry.device_id: entry
            for entry in self.host.token_store.entries()
            if entry.endpoint.rstrip("/") == endpoint
            and entry.project_id == project_id
            and entry.is_valid(now)
        }

    def update_badges(self) -> None:
        if not self.host.ui_ready():
            return
        badges: dict[str, TunnelBadge] = {}
        for device_id, tunnel in self.tunnels_by_device.items():
            stored = self.stored_by_device.get(device_id)
            if stored is not None and stored.tunnel_id == tunnel.tunnel_id:
                badges[device_id] = TunnelBadge(str(tunnel.status).lower(), stored.expires_at)
            else:
                badges[device_id] = TunnelBadge("other client")
        for tab in self.host.tabs():
            expires = tab.stored.expires_at if tab.stored else None
            badges[tab.device.device_id] = TunnelBadge(PHASE_WORDS[tab.phase], expires)
        self.host.device_table.set_badges(badges)
        self.host.state_changed()

    def thaw_gc(self) -> None:
        """Hand what `gc.freeze` kept back to the collector (the app is going away)."""
        if self._froze_gc:
            gc.unfreeze()
            self._froze_gc = False
