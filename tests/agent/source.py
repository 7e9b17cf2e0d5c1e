"""The app side of a tunnel for agent tests and the benchmark: a bare `websockets` client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from ssl import SSLContext

from websockets.asyncio.client import ClientConnection, connect

from tui.iotda.frames import (
    TOKEN_HEADER,
    Op,
    TunnelFrame,
    command_frame,
    connect_frame,
    decode_frame,
    resize_frame,
)

TIMEOUT = 30.0


@dataclass
class Source:
    ws: ClientConnection

    @classmethod
    async def open(
        cls, uri: str, token: str, *, wait_device: bool = True, ssl: SSLContext | None = None
    ) -> Source:
        headers = {TOKEN_HEADER: token}
        ws = await connect(uri, additional_headers=headers, compression=None, ssl=ssl)
        source = cls(ws)
        if wait_device:
            await source.next_of(Op.CONNECT_TUNNEL)
        return source

    async def close(self) -> None:
        await self.ws.close()

    async def recv(self, timeout: float = TIMEOUT) -> TunnelFrame:
        return decode_frame(await asyncio.wait_for(self.ws.recv(), timeout))

    async def next_of(self, op: str, timeout: float = TIMEOUT) -> TunnelFrame:
        while True:
            frame = await self.recv(timeout)
            if frame.operation_type == op:
                return frame

    async def login(self, username: str, password: str) -> str:
        frame = connect_frame(username, password)
        await self.ws.send(frame.encode())
        answer = await self.next_of(Op.CONNECT_RESPONSE)
        assert answer.request_id == frame.request_id
        return frame.request_id

    async def type(self, keys: str) -> str:
        frame = command_frame(keys)
        await self.ws.send(frame.encode())
        return frame.request_id

    async def resize(self, cols: int, rows: int) -> None:
        await self.ws.send(resize_frame(cols, rows).encode())

    async def read_until(
        self, marker: str, timeout: float = TIMEOUT
    ) -> tuple[str, list[TunnelFrame]]:
        """Output text up to and including `marker`; a `disconnect` on the way fails."""
        text, frames = "", []
        async with asyncio.timeout(timeout):
            while marker not in text:
                frame = await self.recv(timeout)
                if frame.operation_type == Op.COMMAND_RESPONSE and isinstance(frame.data, str):
                    frames.append(frame)
                    text += frame.data
                elif frame.operation_type == Op.DISCONNECT:
                    raise AssertionError(f"disconnect while waiting for {marker!r}: {frame.data}")
        return text, frames

    async def shell_pid(self, tag: int) -> int:
        """The pid of the remote shell (`tag` makes the answer unique in the output)."""
        await self.type(f"echo PID=$$:$(({tag}+0))Z\r")
        text, _ = await self.read_until(f":{tag}Z")
        return int(text.split("PID=")[-1].split(":")[0])
