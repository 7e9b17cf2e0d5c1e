"""A tunnel WebSocket client at the byte level, for faults a library client hides.

    peer = await RawLink.open(uri, token)        # small receive buffer; reads nothing
    await peer.stream_until_stalled()            # sends frames until the platform stops reading
    peer.abort()

A `RawLink` never reads unless asked: it is the stuck peer of issue 12. Its receive buffer
is small, so the platform's sends to it stall after a few hundred kilobytes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from urllib.parse import urlsplit

from websockets.frames import Frame, Opcode

from tui.iotda.frames import TOKEN_HEADER, Op, TunnelFrame, new_request_id

TIMEOUT = 15.0


class RawLink:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sent_bytes = 0

    @classmethod
    async def open(cls, uri: str, token: str, *, receive_buffer: int = 4096) -> RawLink:
        parts = urlsplit(uri)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{TOKEN_HEADER}: {token}\r\n\r\n"
        )
        writer.write(request.encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(head.decode(errors="replace").splitlines()[0])
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        data = Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[])
        self.writer.write(data)
        self.sent_bytes += len(data)

    async def stream_until_stalled(self, *, chunk: int = 2000, quiet: float = 0.5) -> None:
        """Send output frames until the platform stops reading us (its peer is stuck): our
        buffer stays full for `quiet` seconds. Returns then, leaving the frames queued."""
        transport = self.writer.transport
        transport.set_write_buffer_limits(high=256 * 1024)
        frame = TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), "x" * chunk).encode()
        async with asyncio.timeout(TIMEOUT * 4):
            while True:
                self.send_text(frame)
                if transport.is_closing():
                    raise ConnectionError("the platform closed the link")
                if transport.get_write_buffer_size() > 256 * 1024:
                    try:
                        await asyncio.wait_for(self.writer.drain(), quiet)
                    except TimeoutError:
                        return  # no progress: the platform does not read us any more

    async def closed(self, timeout: float = TIMEOUT) -> None:
        """Read (and discard) until the platform ends the connection."""
        async with asyncio.timeout(timeout):
            while await self.reader.read(65536):
                pass

    def abort(self) -> None:
        self.writer.transport.abort()
