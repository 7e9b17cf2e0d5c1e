"""Is the device side of a tunnel connected? Asked of the REST API (docs/protocol.md §5.1).

Huawei documents `connect_tunnel` only as "the device is connected": a relay need not
repeat it to an app that connects after the device. So the session also asks the
tunnel's `device_connect_state` when its socket opens, and then now and then while it
waits, and logs in on whichever answer comes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from tui.iotda.errors import IoTDAError

log = logging.getLogger(__name__)


class TunnelStateSource(Protocol):
    """What the session needs of an IoTDAClient."""

    @property
    def platform_is_iotunnel(self) -> bool | None: ...

    async def show_tunnel(self, tunnel_id: str) -> Any: ...


async def watch_device(
    client: TunnelStateSource,
    tunnel_id: str,
    *,
    waiting: Callable[[], bool],
    on_connected: Callable[[], None],
    changed: asyncio.Event,
    intervals: tuple[float, float] = (1.0, 5.0),
) -> None:
    """Until cancelled: while `waiting()`, ask the REST API and call `on_connected` when
    the device side is CONNECTED. Polls every `intervals[0]` s, slowing to `[1]`; a set
    `changed` (the session's state moved) asks again at once."""
    first, cap = intervals
    pause = first
    while True:
        if waiting():
            try:
                tunnel = await client.show_tunnel(tunnel_id)
            except IoTDAError as exc:  # the platform may be restarting: ask again later
                log.debug("tunnel %s: device state unknown: %s", tunnel_id, exc.error_msg)
            else:
                if tunnel.device_connect_state.connected and waiting():
                    log.info("tunnel %s: the REST API says the device is connected", tunnel_id)
                    on_connected()
            pause = min(pause * 1.5, cap)
        else:
            pause = first
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), pause)
        except TimeoutError:
            pass
