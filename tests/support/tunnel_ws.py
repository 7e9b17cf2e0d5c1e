"""WebSocket helpers for the platform's tunnel tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tui.iotda.frames import TOKEN_HEADER, Op

TIMEOUT = 15.0


async def open_link(uri: str, token: str, **options: Any) -> ClientConnection:
    """`options`: more keyword arguments of `websockets.connect` (max_queue, ping_interval…)."""
    return await connect(uri, additional_headers={TOKEN_HEADER: token}, compression=None, **options)


async def linked_tunnel(client: Any, device: Any, device_id: str) -> tuple[Any, Any, Any, Any]:
    """A tunnel with both sides linked (app first) and `connect_tunnel` read by the app:
    (created, notice, app, dev). `device` is an MQTT device (tests/support/device.py)."""
    created = await client.create_tunnel(device_id)
    notice = await device.next_notify()
    app = await open_link(created.tunnel_uri, created.tunnel_access_token)
    dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
    assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
    return created, notice, app, dev


async def next_frame(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def frames_until_closed(ws: ClientConnection, timeout: float = TIMEOUT) -> list[dict]:
    """Every frame the server still sends, then the close; returns the frames."""
    frames = []
    async with asyncio.timeout(timeout):
        try:
            while True:
                frames.append(json.loads(await ws.recv()))
        except ConnectionClosed:
            return frames


async def close_code(ws: ClientConnection, timeout: float = TIMEOUT) -> int | None:
    """Wait for the server to close the link; the close code it sent."""
    await frames_until_closed(ws, timeout)
    return ws.close_code
