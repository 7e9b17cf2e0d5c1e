"""Command palette entries: open a tunnel to a device, close all, switch theme."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app.app import IoTunnelApp

# the palette lists at most this many devices: a fleet of 10,000 must stay instant
MAX_DEVICE_HITS = 50


class DeviceCommands(Provider):
    """`Open tunnel to <device>` for the devices the table currently shows."""

    @property
    def _app(self) -> IoTunnelApp:
        return cast("IoTunnelApp", self.app)

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
