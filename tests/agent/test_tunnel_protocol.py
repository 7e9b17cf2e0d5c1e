"""DeviceTunnel against a scripted WebSocket peer on 127.0.0.1 (the platform side of
docs/protocol.md §5, played by the test), with the real pty backend behind it."""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from tests.agent.helpers import alive, children_of, wait_exit
from tui.agent.backends.pty import PtyBackend
from tui.agent.tunnel import DeviceTunnel
from tui.iotda.frames import (
    SSH_TIMEOUT_REQUEST_ID,
    TOKEN_HEADER,
    TunnelFrame,
    command_frame,
    connect_frame,
    decode_frame,
    disconnect_frame,
    resize_frame,
)
from tui.iotda.mqtt import TunnelNotify

TIMEOUT = 20.0


@dataclass
class Peer:
    """What the scripted platform side sees: every device connection, in order."""

    server: Server | None = None
    connections: asyncio.Queue[ServerConnection] = field(default_factory=asyncio.Queue)
    tokens: list[str] = field(default_factory=list)
    close_code: int = 1000

    @property
    def uri(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/v5/iot/tunnels/tun-1/device-connect"

    async def next_connection(self) -> ServerConnection:
        return await asyncio.wait_for(self.connections.get(), TIMEOUT)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()

    async def handler(ws: ServerConnection) -> None:
        state.tokens.append(ws.request.headers.get(TOKEN_HEADER, ""))
        await state.connections.put(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        state.server = server
        yield state


async def recv_frame(ws: ServerConnection) -> TunnelFrame:
    return decode_frame(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def recv_until(ws: ServerConnection, marker: str) -> tuple[str, list[TunnelFrame]]:
    """Collect command_response text until `marker` shows; returns text and the frames."""
    text, frames = "", []
    while marker not in text:
        frame = await recv_frame(ws)
        frames.append(frame)
        if frame.operation_type == "command_response":
            text += frame.data
        elif frame.operation_type == "disconnect":
            raise AssertionError(f"unexpected disconnect {frame.data}")
    return text, frames


async def next_of(ws: ServerConnection, op: str) -> TunnelFrame:
    while True:
        frame = await recv_frame(ws)
        if frame.operation_type == op:
            return frame


@pytest.fixture
async def tunnel(peer: Peer) -> AsyncIterator[DeviceTunnel]:
    backend = PtyBackend("demo", "demo", device_name="dev-1")
    notify = TunnelNotify(peer.uri, "device-token-0123456789", 3600)
    tunnel = DeviceTunnel(notify, backend, retry_step=0.05, idle_timeout=600)
    task = asyncio.create_task(tunnel.run())
    try:
        yield tunnel
    finally:
        await tunnel.stop()
        await asyncio.wait_for(task, TIMEOUT)


async def login(ws: ServerConnection) -> str:
    frame = connect_frame("demo", "demo")
    await ws.send(frame.encode())
    response = await recv_frame(ws)
    # output the old shell sent before the connect arrived (e.g. its prompt) may come first
    while response.operation_type == "command_response":
        response = await recv_frame(ws)
    assert response.operation_type == "connect_response"
    assert response.request_id == frame.request_id
    return frame.request_id


async def test_connect_command_and_output_request_ids(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    assert peer.tokens == ["device-token-0123456789"]
    await login(ws)
    cmd = command_frame("echo hi-$((40+2))\r")
    await ws.send(cmd.encode())
    _, frames = await recv_until(ws, "hi-42")
    assert frames[-1].request_id == cmd.request_id
    assert all(len(f.encode().encode()) <= 10 * 1024 for f in frames)


async def test_bad_password_gets_400_with_connect_request_id(
    peer: Peer, tunnel: DeviceTunnel
) -> None:
    ws = await peer.next_connection()
    frame = connect_frame("demo", "nope")
    await ws.send(frame.encode())
    assert (await recv_frame(ws)).operation_type == "connect_response"
    bye = await next_of(ws, "disconnect")
    assert bye.request_id == frame.request_id
    assert bye.data["status_code"] == "400"
    assert "nope" not in json.dumps(bye.data)


async def test_malformed_and_unknown_frames_are_ignored(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    for junk in [
        "not json",
        "[]",
        "{}",
        '{"operation_type": 5}',
        "{" * 5000,
        '{"operation_type":"x"}',
        '{"operation_type":"command","data":{"a":1}}',
        '{"operation_type":"resize","data":[1]}',
        '{"operation_type":"connect","data":"str"}',
        b"\xff\xfe binary",
    ]:
        await ws.send(junk)
    # the agent is still there and answers a proper pretty-printed connect
    frame = connect_frame("demo", "demo")
    await ws.send(json.dumps(json.loads(frame.encode()), indent=2))
    while (await next_of(ws, "connect_response")).request_id != frame.request_id:
        pass  # the data-less connect above was answered too (then refused with 400)
    await ws.send(command_frame("echo ok-$((1+1))\r").encode())
    await recv_until(ws, "ok-2")


async def test_utf8_split_across_chunks_arrives_whole(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    await login(ws)
    # 2047 ASCII bytes then a 3-byte character: the character straddles the 2048 boundary
    await ws.send(
        command_frame(
            "printf 'a%.0s' $(seq 2047); printf '\\u20ac%.0s' $(seq 3000); echo E$((7))N\r"
        ).encode()
    )
    text, frames = await recv_until(ws, "E7N")
    assert "a" * 2047 + "€" * 3000 in text
    assert all(
        len(f.data.encode()) <= 2048 for f in frames if f.operation_type == "command_response"
    )
    assert "\ufffd" not in text


async def test_resize_and_shell_exit_408(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    await login(ws)
    await ws.send(resize_frame(111, 33).encode())
    await ws.send(command_frame("stty size; echo S$((5))Z\r").encode())
    text, _ = await recv_until(ws, "S5Z")
    assert "33 111" in text
    await ws.send(command_frame("exit\r").encode())
    bye = await next_of(ws, "disconnect")
    assert bye.request_id == SSH_TIMEOUT_REQUEST_ID
    assert bye.data["status_code"] == "408"
    assert not tunnel.has_session


async def test_idle_timeout_408(peer: Peer) -> None:
    backend = PtyBackend("demo", "demo")
    tunnel = DeviceTunnel(TunnelNotify(peer.uri, "tok", 60), backend, idle_timeout=0.5)
    task = asyncio.create_task(tunnel.run())
    try:
        ws = await peer.next_connection()
        await login(ws)
        bye = await next_of(ws, "disconnect")
        assert (bye.request_id, bye.data["status_code"]) == (SSH_TIMEOUT_REQUEST_ID, "408")
    finally:
        await tunnel.stop()
        await asyncio.wait_for(task, TIMEOUT)


async def test_second_connect_replaces_first(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    await login(ws)
    await ws.send(command_frame("echo $$ > /dev/null; echo PID=$$:$((1))\r").encode())
    text, _ = await recv_until(ws, ":1")
    first_pid = int(text.split("PID=")[-1].split(":")[0])
    await login(ws)
    await ws.send(command_frame("echo PID=$$:$((2))\r").encode())
    text, _ = await recv_until(ws, ":2")
    second_pid = int(text.split("PID=")[-1].split(":")[0])
    assert second_pid != first_pid
    assert not alive(first_pid)
    assert tunnel.sessions_started == 2


async def test_platform_disconnect_410_ends_shell_keeps_socket(
    peer: Peer, tunnel: DeviceTunnel
) -> None:
    ws = await peer.next_connection()
    await login(ws)
    await ws.send(command_frame("echo PID=$$:$((3))\r").encode())
    text, _ = await recv_until(ws, ":3")
    pid = int(text.split("PID=")[-1].split(":")[0])
    await ws.send(disconnect_frame("410", "source gone", "x" * 36).encode())
    await ws.send(command_frame("echo after\r").encode())  # no session: dropped
    await login(ws)  # the socket is still open: a new login works
    await ws.send(command_frame("echo again-$((4))\r").encode())
    await recv_until(ws, "again-4")
    assert not alive(pid)


@pytest.mark.parametrize("code", [1000, 1002, 4000])
async def test_no_reconnect_after_final_close_codes(peer: Peer, code: int) -> None:
    tunnel = DeviceTunnel(TunnelNotify(peer.uri, "tok", 60), PtyBackend("u", "p"), retry_step=0.05)
    task = asyncio.create_task(tunnel.run())
    ws = await peer.next_connection()
    await ws.close(code)
    await asyncio.wait_for(task, TIMEOUT)  # run() returns: no retry
    assert peer.connections.empty()


async def test_reconnects_after_abnormal_close(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    await ws.close(1011)
    ws2 = await peer.next_connection()
    await login(ws2)
    await ws2.send(command_frame("echo back-$((9))\r").encode())
    await recv_until(ws2, "back-9")


async def test_stop_sends_disconnect_and_kills_shell(peer: Peer) -> None:
    tunnel = DeviceTunnel(TunnelNotify(peer.uri, "tok", 60), PtyBackend("demo", "demo"))
    task = asyncio.create_task(tunnel.run())
    ws = await peer.next_connection()
    await login(ws)
    await ws.send(command_frame("echo PID=$$:$((5))\r").encode())
    text, _ = await recv_until(ws, ":5")
    pid = int(text.split("PID=")[-1].split(":")[0])
    await tunnel.stop()
    bye = await next_of(ws, "disconnect")
    assert bye.data["status_code"] == "410"
    await asyncio.wait_for(task, TIMEOUT)
    assert ws.close_code == 1000
    assert not alive(pid)


async def test_rapid_connects_leave_one_shell(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    for _ in range(6):  # each replaces the one before, some while their shell is spawning
        await ws.send(connect_frame("demo", "demo").encode())
    await ws.send(command_frame("echo PID=$$:$((8))\r").encode())
    text, _ = await recv_until(ws, ":8")
    pid = int(text.split("PID=")[-1].split(":")[0])
    for child in children_of(os.getpid()):
        if child != pid:
            await wait_exit(child)
    assert children_of(os.getpid()) == [pid]


def _junk_frames(count: int, seed: int = 20261126) -> list[str]:
    """Deterministic nonsense in and around the envelope: every kind of bad input."""
    rng = random.Random(seed)
    ops = ["connect", "command", "resize", "disconnect", "ping", "pong", "connect_tunnel", "x", ""]
    values: list[object] = [
        None, 0, -1, 2**70, 1.5, True, "", "é" * 3000, [], {}, [1, {"a": None}],
        {"cols": 0, "rows": 5}, {"cols": 10**9, "rows": 10}, {"cols": "80", "rows": 24},
        {"username": 1, "password": None}, {"username": "demo"}, {"status_code": 5},
    ]  # fmt: skip
    frames = []
    for _ in range(count):
        body: dict[str, object] = {}
        if rng.random() < 0.9:
            body["operation_type"] = rng.choice([*ops, rng.choice(values)])
        if rng.random() < 0.8:
            body["request_id"] = rng.choice(["", "x" * 36, 7, None, "é" * 40])
        if rng.random() < 0.7:
            body["data"] = rng.choice(values)
        if rng.random() < 0.3:
            body["tunnel_service_type"] = rng.choice(["ssh", 3, None, "telnet"])
        text = json.dumps(body)
        if rng.random() < 0.1:
            text = text[: rng.randrange(len(text) + 1)]  # truncated
        frames.append(text)
    return frames


async def test_fuzzed_frames_never_break_the_agent(peer: Peer, tunnel: DeviceTunnel) -> None:
    ws = await peer.next_connection()
    for text in _junk_frames(400):
        await ws.send(text)
    frame = connect_frame("demo", "demo")
    await ws.send(frame.encode())
    while (await next_of(ws, "connect_response")).request_id != frame.request_id:
        pass
    await ws.send(command_frame("stty size; echo alive-$((6*7))\r").encode())
    await recv_until(ws, "alive-42")
    assert tunnel.connected.is_set()
