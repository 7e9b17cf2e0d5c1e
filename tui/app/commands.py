"""Command palette entries: open a tunnel to a device, close all, switch theme."""

from __future__ import annotations

from functools import partial
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.app.device_table import DeviceTable
from tui.iotda.models import Device

# the palette lists at most this many devices: a fleet of 10,000 must stay instant
MAX_DEVICE_HITS = 50


class TunnelOpening(Protocol):
    """What the palette needs of the app: the device list and a way to open a tunnel."""

    @property
    def device_table(self) -> DeviceTable: ...
    def open_tunnel(self, device: Device) -> None: ...


class DeviceCommands(Provider):
    """`Open tunnel to <device>` for the devices the table currently shows."""

    @property
    def _app(self) -> TunnelOpening:
        return cast(TunnelOpening, self.app)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        found = 0
        for device in self._app.device_table.visible_devices():
            command = f"Open tunnel to {device.display_name}"
            score = matcher.match(f"{command} {device.device_id}")
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command),
                    partial(self._app.open_tunnel, device),
                    help=device.device_id,
                )
                found += 1
                if found >= MAX_DEVICE_HITS:
                    return

    async def discover(self) -> Hits:
        for device in self._app.device_table.visible_devices()[:MAX_DEVICE_HITS]:
            yield DiscoveryHit(
                f"Open tunnel to {device.display_name}",
                partial(self._app.open_tunnel, device),
                help=device.device_id,
            )
