"""DeviceTunnel at the edges (docs/protocol.md §5): ten retries then stop, no retry after a
refused token, a dead link found by the WebSocket ping, and odd logins still get 400."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from tests.agent.helpers import CuttableProxy
from tests.agent.test_tunnel_protocol import (  # noqa: F401
    Peer,
    login,
    next_of,
    peer,
    recv_frame,
    recv_until,
    tunnel,  # the fixture
)
from tui.agent.backends.pty import PtyBackend
from tui.agent.tunnel import DeviceTunnel
from tui.iotda.frames import TunnelFrame, command_frame
from tui.iotda.mqtt import TunnelNotify

TIMEOUT = 30.0


class Refusing:
    """A WebSocket server that answers every upgrade with one HTTP status, and counts."""

    def __init__(self, status: HTTPStatus) -> None:
        self.status = status
        self.requests = 0
        self.port = 0

    def process_request(self, connection: ServerConnection, _request: Request) -> Response:
        self.requests += 1
        return connection.respond(self.status, "no\n")

    @property
    def uri(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/iot/tunnels/tun-9/device-connect"


async def _never(_ws: ServerConnection) -> None:
    raise AssertionError("no upgrade is ever accepted")


@pytest.fixture
async def refusing(request: pytest.FixtureRequest) -> AsyncIterator[Refusing]:
    server_state = Refusing(request.param)
    async with serve(_never, "127.0.0.1", 0, process_request=server_state.process_request) as srv:
        server_state.port = srv.sockets[0].getsockname()[1]
        yield server_state


@pytest.mark.parametrize("refusing", [HTTPStatus.BAD_GATEWAY], indirect=True)
async def test_gives_up_after_ten_retries(refusing: Refusing) -> None:
    notify = TunnelNotify(refusing.uri, "tok", 60)
    device = DeviceTunnel(notify, PtyBackend("u", "p"), retry_step=0.01)
    await asyncio.wait_for(device.run(), TIMEOUT)
    assert refusing.requests == 11  # the first attempt and ten retries
    assert device.finished.is_set()


@pytest.mark.parametrize("refusing", [HTTPStatus.UNAUTHORIZED], indirect=True)
async def test_refused_token_is_not_retried(refusing: Refusing) -> None:
    notify = TunnelNotify(refusing.uri, "tok", 60)
    device = DeviceTunnel(notify, PtyBackend("u", "p"), retry_step=0.01)
    await asyncio.wait_for(device.run(), TIMEOUT)
    assert refusing.requests == 1


async def test_silent_link_is_found_by_ping_and_reconnected(peer: Peer) -> None:  # noqa: F811
    assert peer.server is not None
    proxy = CuttableProxy("127.0.0.1", peer.server.sockets[0].getsockname()[1])
    port = await proxy.start()
    try:
        uri = f"ws://127.0.0.1:{port}/v5/iot/tunnels/tun-1/device-connect"
        device = DeviceTunnel(
            TunnelNotify(uri, "tok", 60),
            PtyBackend("demo", "demo"),
            retry_step=0.05,
            ping_interval=0.5,
        )
        task = asyncio.create_task(device.run())
        try:
            await peer.next_connection()
            proxy.freeze()  # no pong will ever come back on this link
            ws = await peer.next_connection()  # the agent noticed and connected again
            await login(ws)
            await ws.send(command_frame("echo live-$((2+3))\r").encode())
            await recv_until(ws, "live-5")
        finally:
            await device.stop()
            await asyncio.wait_for(task, TIMEOUT)
    finally:
        await proxy.close()


@pytest.mark.usefixtures("tunnel")
async def test_lone_surrogates_get_400_and_are_survived(peer: Peer) -> None:  # noqa: F811
    ws = await peer.next_connection()
    request_id = "r" * 36
    # JSON may escape a lone surrogate, which Python strings hold but UTF-8 cannot encode
    odd = {"username": "\ud800", "password": "\udfff"}
    body = {"operation_type": "connect", "tunnel_service_type": "ssh", "request_id": request_id}
    await ws.send(json.dumps({**body, "data": odd}))
    bye = await next_of(ws, "disconnect")
    assert (bye.request_id, bye.data["status_code"]) == (request_id, "400")
    await login(ws)
    await ws.send(json.dumps({**body, "operation_type": "command", "data": "\ud800"}))
    # the shell got a replacement character: Ctrl-U clears that line first
    await ws.send(command_frame("\x15echo still-$((3*3))\r").encode())
    await recv_until(ws, "still-9")


class BrokenBackend:
    async def open(self, username: str, password: str, cols: int, rows: int) -> None:
        raise RuntimeError(f"backend bug with {password}")


async def test_backend_failure_still_answers_400(peer: Peer) -> None:  # noqa: F811
    notify = TunnelNotify(peer.uri, "tok", 60)
    device = DeviceTunnel(notify, BrokenBackend(), retry_step=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(device.run())
    try:
        ws = await peer.next_connection()
        frame = TunnelFrame("connect", "c" * 36, {"username": "u", "password": "pw-secret"})
        await ws.send(frame.encode())
        assert (await recv_frame(ws)).operation_type == "connect_response"
        bye = await next_of(ws, "disconnect")
        assert (bye.request_id, bye.data["status_code"]) == ("c" * 36, "400")
        assert "pw-secret" not in bye.encode()
    finally:
        await device.stop()
        await asyncio.wait_for(task, TIMEOUT)
