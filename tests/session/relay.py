"""A small real WebSocket server on 127.0.0.1 that plays the platform + device part of
docs/protocol.md §5 for unit-level session tests (the full platform is tested end to end
elsewhere). It speaks the real protocol: token header, connect_tunnel, connect /
connect_response / disconnect 400, command echo, ping/pong, resize.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tui.iotda.frames import (
    TOKEN_HEADER,
    Op,
    TunnelFrame,
    decode_frame,
    disconnect_frame,
)

PASSWORD = "s3cret-pass"
_QUIET = logging.getLogger("tests.session.relay.wire")
_QUIET.setLevel(logging.INFO)
TIMEOUT = 15.0  # generous: the machine is shared and noisy


class Waitable:
    """A value holder whose readers wait for a predicate, with a timeout, no polling."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                result = predicate()
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()


class EventLog(Waitable):
    """Collects session events (the `on_event` callback)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self.changed()

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_kind(self, kind: type, count: int = 1, timeout: float = TIMEOUT) -> Any:
        await self.wait_for(lambda: len(self.of(kind)) >= count, timeout)
        return self.of(kind)[count - 1]

    def text(self) -> str:
        return "".join(getattr(event, "text", "") for event in self.events)


class FakeRelay(Waitable):
    def __init__(
        self,
        token: str = "source-token-0123456789",
        *,
        device_present: bool = True,
        refuse: tuple[int, dict[str, str]] | None = None,
        answer: Any = "ok",
    ) -> None:
        super().__init__()
        self.answer = answer  # connect_response data: our agent lists its extensions
        self.ignore_resumes = 0  # resumes to leave unanswered (a device not there yet)
        self.token = token
        self.device_present = device_present
        self.refuse = refuse
        self.connections: list[ServerConnection] = []
        self.frames: list[TunnelFrame] = []
        self.raw: list[str] = []
        self.refused = 0
        self._server: Server | None = None
        self.port = 0

    @property
    def uri(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/iot/tunnels/tun-1/source-connect"

    @property
    def current(self) -> ServerConnection:
        return self.connections[-1]

    def ops(self, operation: str) -> list[TunnelFrame]:
        return [frame for frame in self.frames if frame.operation_type == operation]

    async def start(self, port: int = 0) -> FakeRelay:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            port,
            process_request=self._check_token,
            compression=None,
            logger=_QUIET,  # frames carry the password: keep them out of caplog
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeRelay:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- test controls -----------------------------------------------------------------

    async def send(self, frame: TunnelFrame | str) -> None:
        await self.current.send(frame if isinstance(frame, str) else frame.encode())

    async def disconnect(self, code: str, msg: str = "") -> None:
        await self.send(disconnect_frame(code, msg, "x" * 36))

    def drop(self) -> None:
        """Cut the TCP connection without a close frame (a network failure)."""
        self.current.transport.abort()

    # --- the server ----------------------------------------------------------------------

    def _check_token(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse is not None:
            self.refused += 1
            status, body = self.refuse
            return connection.respond(status, json.dumps(body))
        if request.headers.get(TOKEN_HEADER) != self.token:
            self.refused += 1
            body = {"error_code": "IOTDA.019704", "error_msg": "invalid tunnel access token"}
            return connection.respond(401, json.dumps(body))
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        self.changed()
        if self.device_present:
            await ws.send(TunnelFrame(Op.CONNECT_TUNNEL, "r" * 36).encode())
        try:
            async for message in ws:
                assert isinstance(message, str)
                self.raw.append(message)
                frame = decode_frame(message)
                self.frames.append(frame)
                self.changed()
                await self._answer(ws, frame)
        finally:
            self.changed()  # waiters on close_code wake up

    async def _answer(self, ws: ServerConnection, frame: TunnelFrame) -> None:
        op = frame.operation_type
        if op == Op.PING:
            await ws.send(TunnelFrame(Op.PONG, frame.request_id).encode())
        elif op == Op.CONNECT:
            data = frame.data or {}
            if "resume_ticket" in data and self.ignore_resumes:
                self.ignore_resumes -= 1
            elif "resume_ticket" in data:  # our agent's `resume`, when `answer` lists it
                ticket = self.answer.get("resume_ticket") if isinstance(self.answer, dict) else None
                if ticket is None or data["resume_ticket"] != ticket:
                    await ws.send(
                        disconnect_frame("400", "resume refused", frame.request_id).encode()
                    )
                    return
                self.answer = {**self.answer, "resume_ticket": ticket + "+", "resumed": True}
                reply = TunnelFrame(Op.CONNECT_RESPONSE, frame.request_id, self.answer)
                await ws.send(reply.encode())
            elif data.get("password") == PASSWORD:
                reply = TunnelFrame(Op.CONNECT_RESPONSE, frame.request_id, self.answer)
                await ws.send(reply.encode())
            else:
                await ws.send(
                    disconnect_frame("400", "ssh login failed", frame.request_id).encode()
                )
        elif op == Op.COMMAND:
            reply = TunnelFrame(Op.COMMAND_RESPONSE, frame.request_id, f"echo:{frame.data}")
            await ws.send(reply.encode())
