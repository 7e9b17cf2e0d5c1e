"""WebSocket helpers for the platform's tunnel tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tui.iotda.frames import TOKEN_HEADER

TIMEOUT = 15.0


async def open_link(uri: str, token: str, **options: Any) -> ClientConnection:
    """`options`: more keyword arguments of `websockets.connect` (max_queue, ping_interval…)."""
    return await connect(uri, additional_headers={TOKEN_HEADER: token}, compression=None, **options)


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
