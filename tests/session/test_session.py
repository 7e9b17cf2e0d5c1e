"""TunnelSession against a real WebSocket server on 127.0.0.1 speaking docs/protocol.md §5."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from tests.session.relay import PASSWORD, EventLog, FakeRelay
from tui.iotda.frames import MAX_FRAME_BYTES, Op, TunnelFrame
from tui.session import (
    Connecting,
    DeviceReady,
    Ended,
    LoginAccepted,
    Output,
    PeerDisconnected,
    Reconnecting,
    TunnelSession,
    WaitingForDevice,
)

FAST_BACKOFF = (0.05, 0.2)


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelay]:
    async with FakeRelay() as server:
        yield server


def make_session(relay: FakeRelay, log: EventLog, **kwargs: object) -> TunnelSession:
    kwargs.setdefault("backoff", FAST_BACKOFF)
    kwargs.setdefault("jitter", 0.0)  # exact delays; tests/session/test_hold_on.py: jitter
    return TunnelSession(relay.uri, relay.token, on_event=log, **kwargs)  # type: ignore[arg-type]


async def stop(session: TunnelSession, task: asyncio.Task[None]) -> None:
    await session.close()
    await asyncio.wait_for(task, 15)


async def logged_in(
    relay: FakeRelay, **kwargs: object
) -> tuple[TunnelSession, EventLog, asyncio.Task[None]]:
    log = EventLog()
    session = make_session(relay, log, **kwargs)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    return session, log, task


async def test_login_before_device_ready_then_echo(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    assert session.state == "logged_in"
    assert [type(e) for e in log.events[:4]] == [
        Connecting,
        WaitingForDevice,
        DeviceReady,
        LoginAccepted,
    ]
    assert log.events[0] == Connecting(0)
    assert log.of(LoginAccepted)[0].message == "ok"
    session.send_input(b"echo hi\r")
    await log.wait_for(lambda: "echo:echo hi\r" in log.text())
    await stop(session, task)
    assert log.events[-1] == Ended("closed", close_code=1000)
    assert len(log.of(Ended)) == 1
    assert session.state == "ended"
    assert len(relay.connections) == 1


async def test_login_after_device_ready_is_sent_at_once(relay: FakeRelay) -> None:
    log = EventLog()
    session = make_session(relay, log)
    task = asyncio.create_task(session.run())
    await log.wait_kind(DeviceReady)
    assert session.state == "ready"
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    assert relay.ops(Op.CONNECT)[0].data == {"username": "root", "password": PASSWORD}
    await stop(session, task)


async def test_password_never_logged_or_in_repr(
    relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session, log, task = await logged_in(relay)
    assert PASSWORD not in repr(session) and relay.token not in repr(session)
    await stop(session, task)
    assert PASSWORD not in caplog.text
    assert relay.token not in caplog.text
    assert PASSWORD not in repr(log.events)
    assert len(relay.ops(Op.CONNECT)) == 1  # sent once


async def test_wrong_password_reports_400_and_allows_retry(relay: FakeRelay) -> None:
    log = EventLog()
    session = make_session(relay, log)
    task = asyncio.create_task(session.run())
    session.login("root", "wrong")
    failed = await log.wait_kind(PeerDisconnected)
    assert failed == PeerDisconnected("400", "ssh login failed")
    assert session.state == "ready"
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    assert session.state == "logged_in"
    await stop(session, task)
    assert len(relay.connections) == 1  # a bad password never reconnects


async def test_ping_frames_are_sent_and_pongs_ignored(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay, ping_interval=0.05)
    await relay.wait_for(lambda: len(relay.ops(Op.PING)) >= 3)
    ping = relay.ops(Op.PING)[0]
    assert len(ping.request_id) == 36 and ping.tunnel_service_type == "ssh"
    assert session.state == "logged_in"
    assert not log.of(Output)
    await stop(session, task)


async def test_resize_before_and_after_login() -> None:
    relay = await FakeRelay(answer={"extensions": ["resize"]}).start()
    log = EventLog()
    session = make_session(relay, log, allow_extensions=True)
    session.resize(100, 40)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    await relay.wait_for(lambda: relay.ops(Op.RESIZE))
    assert relay.ops(Op.RESIZE)[-1].data == {"cols": 100, "rows": 40}
    session.resize(132, 43)
    session.resize(0, 10)  # nonsense is ignored
    await relay.wait_for(lambda: relay.ops(Op.RESIZE)[-1].data == {"cols": 132, "rows": 43})
    await stop(session, task)
    await relay.stop()


async def test_large_input_is_split_under_10kb(relay: FakeRelay) -> None:
    session, _log, task = await logged_in(relay)
    paste = ("\x1b[A" + "é") * 4000  # escapes inflate JSON: worst case for the limit
    session.send_input(paste)
    await relay.wait_for(lambda: "".join(f.data for f in relay.ops(Op.COMMAND)) == paste)
    assert len(relay.ops(Op.COMMAND)) > 1
    assert all(len(raw.encode()) <= MAX_FRAME_BYTES for raw in relay.raw)
    await stop(session, task)


async def test_split_utf8_input_bytes_survive(relay: FakeRelay) -> None:
    session, _log, task = await logged_in(relay)
    encoded = "ü".encode()
    session.send_input(encoded[:1])
    session.send_input(encoded[1:])
    await relay.wait_for(lambda: relay.ops(Op.COMMAND))
    assert relay.ops(Op.COMMAND)[0].data == "ü"
    await stop(session, task)


async def test_dropped_socket_reconnects_and_needs_a_new_login(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    relay.drop()
    reconnecting = await log.wait_kind(Reconnecting)
    assert reconnecting.attempt == 1 and reconnecting.limit is None  # while the token lasts
    assert reconnecting.delay == pytest.approx(FAST_BACKOFF[0])
    await log.wait_kind(DeviceReady, count=2)
    assert Connecting(1) in log.events
    assert len(relay.connections) == 2
    assert session.state == "ready"  # the old shell is gone: log in again
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted, count=2)
    assert len(relay.ops(Op.CONNECT)) == 2
    await stop(session, task)


async def test_gives_up_after_max_reconnects_with_capped_backoff() -> None:
    relay = await FakeRelay().start()
    try:
        log = EventLog()
        session = make_session(relay, log, max_reconnects=3, backoff=(0.01, 0.02))
        task = asyncio.create_task(session.run())
        await log.wait_kind(WaitingForDevice)
        await relay.stop()  # nothing listens any more: every attempt fails
        relay.drop()
        ended = await log.wait_kind(Ended)
        await asyncio.wait_for(task, 15)
    finally:
        await relay.stop()
    assert ended.reason.startswith("connection lost") and not ended.expired
    attempts = [(e.attempt, e.limit, e.delay) for e in log.of(Reconnecting)]
    assert attempts == [(1, 3, 0.01), (2, 3, 0.02), (3, 3, 0.02)]
    assert log.events[-1] is ended


async def test_token_expiry_disconnect_401_ends_without_reconnect(relay: FakeRelay) -> None:
    _session, log, task = await logged_in(relay)
    await relay.disconnect("401", "tunnel access token expired")
    await relay.current.close(1000)
    ended = await log.wait_kind(Ended)
    await asyncio.wait_for(task, 15)
    assert PeerDisconnected("401", "tunnel access token expired") in log.events
    assert ended.expired and ended.close_code == 1000
    assert not log.of(Reconnecting)
    assert len(relay.connections) == 1


async def test_expired_by_clock_never_connects(relay: FakeRelay) -> None:
    log = EventLog()
    session = make_session(relay, log, expires_at=1000.0, clock=lambda: 2000.0)
    await asyncio.wait_for(session.run(), 15)
    assert log.events == [Ended("token expired", expired=True)]
    assert not relay.connections


async def test_drop_after_expiry_does_not_reconnect(relay: FakeRelay) -> None:
    now = [1000.0]
    _session, log, task = await logged_in(relay, expires_at=1500.0, clock=lambda: now[0])
    now[0] = 1600.0
    relay.drop()
    ended = await log.wait_kind(Ended)
    await asyncio.wait_for(task, 15)
    assert ended.expired and not log.of(Reconnecting)


async def test_device_gone_410_waits_for_new_connect_tunnel(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    await relay.disconnect("410", "device disconnected")
    await log.wait_kind(PeerDisconnected)
    assert session.state == "waiting"
    await relay.send(TunnelFrame(Op.CONNECT_TUNNEL, "r" * 36))
    await log.wait_kind(DeviceReady, count=2)
    assert session.state == "ready"
    assert len(relay.connections) == 1
    await stop(session, task)


@pytest.mark.parametrize(
    ("body", "expired"),
    [
        ({"error_code": "IOTDA.019705", "error_msg": "tunnel access token expired"}, True),
        ({"error_code": "IOTDA.019704", "error_msg": "invalid tunnel access token"}, False),
    ],
)
async def test_refused_upgrade_ends_without_retry(body: dict[str, str], expired: bool) -> None:
    async with FakeRelay(refuse=(401, body)) as relay:
        log = EventLog()
        await asyncio.wait_for(make_session(relay, log).run(), 15)
    ended = log.events[-1]
    assert isinstance(ended, Ended) and ended.expired is expired
    assert body["error_msg"] in ended.reason
    assert relay.refused == 1 and not log.of(Reconnecting)


async def test_server_error_on_upgrade_is_retried() -> None:
    body = {"error_code": "IOTDA.000001", "error_msg": "internal error"}
    async with FakeRelay(refuse=(503, body)) as relay:
        log = EventLog()
        session = make_session(relay, log, max_reconnects=2, backoff=(0.01, 0.01))
        await asyncio.wait_for(session.run(), 15)
    assert relay.refused == 3
    assert log.events[-1].reason.startswith("connection lost")


async def test_replaced_4000_does_not_reconnect(relay: FakeRelay) -> None:
    _session, log, task = await logged_in(relay)
    await relay.disconnect("4000", "replaced by a newer connection")
    await relay.current.close(4000)
    ended = await log.wait_kind(Ended)
    await asyncio.wait_for(task, 15)
    assert ended.close_code == 4000 and "replaced" in ended.reason
    assert not log.of(Reconnecting)


async def test_close_during_backoff_ends_promptly() -> None:
    relay = await FakeRelay().start()
    log = EventLog()
    session = make_session(relay, log, backoff=(30.0, 30.0))
    task = asyncio.create_task(session.run())
    await log.wait_kind(WaitingForDevice)
    await relay.stop()
    relay.drop()
    await log.wait_kind(Reconnecting)
    await asyncio.wait_for(session.close(), 10)
    await asyncio.wait_for(task, 10)
    assert log.events[-1] == Ended("closed")
    assert session.state == "ended"


async def test_close_before_run_emits_ended_once() -> None:
    log = EventLog()
    session = TunnelSession("ws://127.0.0.1:9/x", "t" * 20, on_event=log)
    await session.close()
    await session.close()
    assert log.events == [Ended("closed")]
    session.send_input("x")  # harmless after the end
    session.login("root", "pw")


async def test_malformed_frames_are_dropped(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    for junk in ["not json", "[1, 2]", '{"operation_type": 5}', "{" * 5000, '{"a":1}']:
        await relay.send(junk)
    await relay.send('{\n  "operation_type": "mystery",\n  "data": {"x": 1}\n}')
    pretty = json.dumps(
        {"operation_type": "command_response", "request_id": "r" * 36, "data": "still here"},
        indent=2,
    )
    await relay.send(pretty)
    await log.wait_for(lambda: Output("still here") in log.events)
    assert session.state == "logged_in"
    await stop(session, task)


async def test_a_failing_event_handler_does_not_kill_the_session(relay: FakeRelay) -> None:
    seen = EventLog()

    def handler(event: object) -> None:
        seen(event)
        raise RuntimeError("widget bug")

    session = TunnelSession(relay.uri, relay.token, on_event=handler)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await seen.wait_kind(LoginAccepted)
    await stop(session, task)
    assert isinstance(seen.events[-1], Ended)


async def test_cancelled_run_closes_the_socket_and_ends(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 15)
    assert log.events[-1] == Ended("closed")
    assert session.state == "ended"
    await relay.wait_for(lambda: relay.current.close_code == 1000)


async def test_invalid_uri_and_unreachable_host_end_cleanly() -> None:
    log = EventLog()
    await asyncio.wait_for(TunnelSession("not a uri", "t" * 20, on_event=log).run(), 15)
    assert log.events[-1] == Ended("invalid tunnel URI")
    log = EventLog()
    session = TunnelSession(
        "ws://127.0.0.1:9/v5/iot/tunnels/x/source-connect",  # discard port: refused
        "t" * 20,
        on_event=log,
        max_reconnects=1,
        backoff=(0.01, 0.01),
    )
    await asyncio.wait_for(session.run(), 15)
    assert log.events[-1].reason.startswith("connection lost: cannot connect")


async def test_paused_output_holds_frames_back_and_loses_none(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    session.pause_output()
    frame = TunnelFrame(Op.COMMAND_RESPONSE, "r" * 36, "x" * 2000).encode()

    async def flood() -> None:
        for _ in range(5000):  # ~10 MB: far more than the socket buffers hold
            await relay.current.send(frame)

    sender = asyncio.create_task(flood())
    # while paused, TCP flow control must stop the sender: a bounded negative check
    done, _ = await asyncio.wait({sender}, timeout=1.0)
    assert not done, "the flood went through although the session was paused"
    held = len(log.of(Output))
    assert held < 5000
    session.resume_output()
    await asyncio.wait_for(sender, 30)
    await log.wait_for(lambda: len(log.of(Output)) == 5000)
    assert {event.text for event in log.of(Output)} == {"x" * 2000}
    await stop(session, task)


async def test_close_while_paused_ends_promptly(relay: FakeRelay) -> None:
    session, log, task = await logged_in(relay)
    session.pause_output()
    await relay.send(TunnelFrame(Op.COMMAND_RESPONSE, "r" * 36, "late"))
    await stop(session, task)
    assert log.events[-1].__class__ is Ended
