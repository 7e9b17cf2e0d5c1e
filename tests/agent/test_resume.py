"""Extension `resume` on the device side (docs/protocol.md §5.1): the agent keeps a shell
across a drop, for a grace period, and gives it back once for a valid ticket."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.agent.helpers import alive, wait_exit
from tests.agent.test_tunnel_protocol import (  # noqa: F401
    Peer,
    next_of,
    peer,
    recv_frame,
    recv_until,
)
from tests.support.tls import make_certificate
from tui.agent.backends.pty import PtyBackend
from tui.agent.shell import KeptShell
from tui.agent.tunnel import DeviceTunnel
from tui.iotda.frames import (
    ConnectAnswer,
    TunnelFrame,
    command_frame,
    connect_frame,
    disconnect_frame,
    resume_frame,
)
from tui.iotda.mqtt import TunnelNotify

TIMEOUT = 20.0


@pytest.fixture
async def start_tunnel(peer: Peer) -> AsyncIterator:  # noqa: F811
    running: list[tuple[DeviceTunnel, asyncio.Task[None]]] = []

    def start(**options: object) -> DeviceTunnel:
        options.setdefault("retry_step", 0.05)
        backend = PtyBackend("demo", "demo", device_name="dev-1")
        notify = TunnelNotify(peer.uri, "device-token-0123456789", 3600)
        tunnel = DeviceTunnel(notify, backend, **options)  # type: ignore[arg-type]
        running.append((tunnel, asyncio.create_task(tunnel.run())))
        return tunnel

    yield start
    for tunnel, task in running:
        await tunnel.stop()
        await asyncio.wait_for(task, TIMEOUT)


async def answer_of(ws: ServerConnection, request_id: str) -> ConnectAnswer:
    while True:
        frame = await next_of(ws, "connect_response")
        if frame.request_id == request_id:
            return ConnectAnswer.from_frame(frame)


async def logged_in(ws: ServerConnection) -> tuple[ConnectAnswer, int, str]:
    """Log in; returns the answer, the shell's pid and the output text so far."""
    frame = connect_frame("demo", "demo")
    await ws.send(frame.encode())
    answer = await answer_of(ws, frame.request_id)
    await ws.send(command_frame("echo PID=$$:$((1))Z\r").encode())
    text, _ = await recv_until(ws, ":1Z")
    pid = int(text.split("PID=")[-1].split(":")[0])
    return answer, pid, text


async def test_login_lists_extensions_and_a_ticket(peer: Peer, start_tunnel) -> None:  # noqa: F811
    start_tunnel()
    ws = await peer.next_connection()
    answer, _, _ = await logged_in(ws)
    assert answer.extensions == {"resize", "resume"}
    ticket = answer.resume_ticket
    assert ticket is not None and len(ticket) >= 22  # ≥128 bits, URL-safe
    assert set(ticket) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


async def test_no_resume_offered_with_grace_zero(peer: Peer, start_tunnel) -> None:  # noqa: F811
    start_tunnel(resume_grace=0)
    ws = await peer.next_connection()
    answer, _, _ = await logged_in(ws)
    assert answer.extensions == {"resize"} and answer.resume_ticket is None


async def test_source_gone_then_resume_replays_what_was_missed(
    peer: Peer,  # noqa: F811
    start_tunnel,
) -> None:
    tunnel = start_tunnel()
    ws = await peer.next_connection()
    answer, pid, text = await logged_in(ws)
    received = len(text)  # everything the app has seen of this shell
    await ws.send(command_frame("sleep 0.3; echo MISSED-$((2+2))\r").encode())
    await ws.send(disconnect_frame("410", "source side disconnected", "x" * 36).encode())
    await asyncio.sleep(0)  # nothing to wait for: the shell must simply still be there
    assert alive(pid) and tunnel.has_session
    # a wrong ticket, the right ticket for another user: 400, the shell stays
    for user, ticket in (("demo", "not-the-ticket"), ("root", answer.resume_ticket)):
        bad = resume_frame(user, ticket, received)
        await ws.send(bad.encode())
        bye = await next_of(ws, "disconnect")
        assert (bye.request_id, bye.data["status_code"]) == (bad.request_id, "400")
    assert alive(pid)
    good = resume_frame("demo", answer.resume_ticket, received)
    await ws.send(good.encode())
    resumed = await answer_of(ws, good.request_id)
    assert resumed.resumed and resumed.resume_ticket not in (None, answer.resume_ticket)
    replay, _ = await recv_until(ws, "MISSED-4")
    # exactly from the offset: the command's echo (never seen by the app), then its output
    # (the prompt may come first: it was on its way when the app left; a line typed before
    # the prompt is echoed by the tty, then again by readline: that is the shell's output)
    assert "sleep 0.3; echo MISSED-" in replay and replay.count("MISSED-4") == 1
    await ws.send(command_frame("echo PID=$$:$((5))Z\r").encode())
    after, _ = await recv_until(ws, ":5Z")
    assert f"PID={pid}:5Z" in after  # the same shell
    again = resume_frame("demo", answer.resume_ticket, 0)  # a ticket works once
    await ws.send(again.encode())
    assert (await next_of(ws, "disconnect")).data["status_code"] == "400"


async def test_resume_over_a_new_link_after_a_drop(peer: Peer, start_tunnel) -> None:  # noqa: F811
    start_tunnel()
    ws = await peer.next_connection()
    answer, pid, text = await logged_in(ws)
    await ws.send(command_frame("sleep 0.3; echo GAP-$((3*3))\r").encode())
    await ws.close(1011)  # the relay link drops (not a final close): the agent reconnects
    ws2 = await peer.next_connection()
    frame = resume_frame("demo", answer.resume_ticket, len(text))
    await ws2.send(frame.encode())
    assert (await answer_of(ws2, frame.request_id)).resumed
    replay, _ = await recv_until(ws2, "GAP-9")
    assert "sleep 0.3; echo GAP-" in replay and replay.count("GAP-9") == 1
    assert alive(pid)


async def test_kept_shell_ends_after_the_grace_period(peer: Peer, start_tunnel) -> None:  # noqa: F811
    tunnel = start_tunnel(resume_grace=0.3)
    ws = await peer.next_connection()
    answer, pid, text = await logged_in(ws)
    await ws.send(disconnect_frame("410", "source side disconnected", "x" * 36).encode())
    await wait_exit(pid)
    frame = resume_frame("demo", answer.resume_ticket, len(text))
    await ws.send(frame.encode())
    assert (await next_of(ws, "disconnect")).data["status_code"] == "400"
    assert not tunnel.has_session


async def test_a_password_login_replaces_a_kept_shell(peer: Peer, start_tunnel) -> None:  # noqa: F811
    start_tunnel()
    ws = await peer.next_connection()
    _, pid, _ = await logged_in(ws)
    await ws.send(disconnect_frame("410", "source side disconnected", "x" * 36).encode())
    _, second, _ = await logged_in(ws)
    assert second != pid
    await wait_exit(pid)


@pytest.fixture
async def tls_peer(tmp_path: Path) -> AsyncIterator[tuple[Peer, Path]]:
    cert, key = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    state = Peer()

    async def handler(ws: ServerConnection) -> None:
        await state.connections.put(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=context, compression=None) as server:
        state.server = server
        yield state, cert


async def test_wss_is_verified_with_the_default_context(
    tls_peer: tuple[Peer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # an agent whose MQTT is plain mqtt:// has no TLS context; IoTDA's URIs are wss:// all
    # the same (main: "ssl=None is incompatible with a wss:// URI", retries, gives up)
    server, cert = tls_peer
    uri = server.uri.replace("ws://", "wss://")
    notify = TunnelNotify(uri, "device-token-0123456789", 3600)
    untrusted = DeviceTunnel(notify, PtyBackend("demo", "demo"), retry_step=0.01, max_retries=2)
    await asyncio.wait_for(untrusted.run(), TIMEOUT)  # certificate refused: no connection
    assert server.connections.empty()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system's trust store, as it were
    tunnel = DeviceTunnel(notify, PtyBackend("demo", "demo"), retry_step=0.05)
    task = asyncio.create_task(tunnel.run())
    try:
        ws = await server.next_connection()
        frame = connect_frame("demo", "demo")
        await ws.send(frame.encode())
        await answer_of(ws, frame.request_id)
        await ws.send(command_frame("echo tls-$((2+2))\r").encode())
        await recv_until(ws, "tls-4")
    finally:
        await tunnel.stop()
        await asyncio.wait_for(task, TIMEOUT)


def test_frames_never_show_a_ticket() -> None:
    frame = resume_frame("demo", "secret-ticket-value", 7)
    answer = TunnelFrame("connect_response", "r", {"resume_ticket": "secret-ticket-value"})
    assert "secret-ticket-value" not in repr(frame) + repr(answer) + repr(os.environ.get("X"))


async def test_a_detached_shell_blocks_instead_of_losing_output() -> None:
    session = await PtyBackend("demo", "demo").open("demo", "demo", 80, 24)
    shell = KeptShell(session, "demo", None, ticket=None, idle_timeout=600, history_chars=8192)
    try:
        received: list[str] = []
        arrived = asyncio.Event()

        async def sink(chunks: list[str]) -> None:
            received.extend(chunks)
            if "END" in "".join(received[-3:]):
                arrived.set()

        # 100,000 characters while nobody listens: far more than the history holds
        shell.write(b"stty -echo; head -c 100000 /dev/zero | tr '\\0' a; echo E$(true)ND\r")
        async with asyncio.timeout(TIMEOUT):  # reading stops once the history is full
            while shell.produced < 8192:
                await asyncio.sleep(0.01)
        assert 8192 <= shell.produced < 100_000
        await shell.attach(sink, 0)
        await asyncio.wait_for(arrived.wait(), TIMEOUT)
        text = "".join(received)
        assert "a" * 100_000 + "END" in text and shell.produced == len(text)
        assert "head -c 100000" in text[:300]  # from the shell's very first output on
    finally:
        await shell.close()
