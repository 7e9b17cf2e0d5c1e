"""Issue 12 §5/§6 on the app side: the session holds on while the tunnel is valid, keeps
what the user types meanwhile, and resumes a kept shell with its ticket."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest

from tests.session.relay import PASSWORD, EventLog, FakeRelay
from tui.iotda.frames import Op
from tui.session import (
    DeviceReady,
    Ended,
    InputRefused,
    LoginAccepted,
    NewShell,
    PeerDisconnected,
    Reconnecting,
    Resumed,
    TunnelSession,
    handling,
)
from tui.session.holding import Backoff, HeldInput

RESUMABLE = {"extensions": ["resize", "resume"], "resume_ticket": "ticket-0123456789abcdef"}


def make(relay: FakeRelay, log: EventLog, **kwargs: object) -> TunnelSession:
    kwargs.setdefault("backoff", (0.01, 0.05))
    return TunnelSession(relay.uri, relay.token, on_event=log, **kwargs)  # type: ignore[arg-type]


async def outage(relay: FakeRelay) -> int:
    """Stop the relay (its sockets close); returns its port, to come back on."""
    port = relay.port
    await relay.stop()
    return port


async def test_reconnects_for_as_long_as_the_token_is_valid() -> None:
    # main gave up after 5 consecutive failures (~15 s at its pacing): now it holds on
    relay = await FakeRelay().start()
    log = EventLog()
    session = make(relay, log, expires_at=time.time() + 600)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    port = await outage(relay)
    await log.wait_kind(Reconnecting, count=12)  # more than any fixed limit of old
    assert not log.of(Ended)
    retry = log.of(Reconnecting)[-1]
    assert retry.limit is None and 0 < retry.delay <= 0.05
    assert retry.next_try_at == pytest.approx(time.time() + retry.delay, abs=5)
    await relay.start(port)
    await log.wait_kind(DeviceReady, count=2)
    await session.close()
    await asyncio.wait_for(task, 15)
    assert log.events[-1] == Ended("closed", close_code=1000)


async def test_gives_up_when_the_token_expires_during_an_outage() -> None:
    relay = await FakeRelay().start()
    log = EventLog()
    session = make(relay, log, backoff=(0.05, 10.0), expires_at=time.time() + 1.5)
    task = asyncio.create_task(session.run())
    await log.wait_kind(DeviceReady)
    await outage(relay)
    ended = await log.wait_kind(Ended)
    await asyncio.wait_for(task, 15)
    assert ended.expired
    # no wait runs past the token's end
    assert all(r.next_try_at <= session.expires_at + 0.01 for r in log.of(Reconnecting))


def test_backoff_is_capped_exponential_with_jitter() -> None:
    exact = Backoff(0.5, 8.0, jitter=0.0)
    assert [exact.delay(n) for n in (1, 2, 3, 4, 5, 6, 50)] == [0.5, 1, 2, 4, 8, 8, 8]
    low = Backoff(0.5, 8.0, jitter=0.5, rand=lambda: 0.999999)
    high = Backoff(0.5, 8.0, jitter=0.5, rand=lambda: 0.0)
    assert low.delay(10) == pytest.approx(4.0, rel=1e-3) and high.delay(10) == 8.0
    with pytest.raises(ValueError):
        Backoff(1, 2, jitter=1.5)


def test_held_input_keeps_whole_characters_up_to_the_limit() -> None:
    held = HeldInput(limit=10)
    assert held.add("abcdefgh") == 0
    assert held.add("éé") == 2  # one é fits (2 bytes), the other is refused
    assert held.take() == "abcdefghé" and len(held) == 0


async def test_input_typed_while_down_is_sent_after_reconnect() -> None:
    # main dropped it without a word (send_input while not connected)
    relay = await FakeRelay().start()
    log = EventLog()
    session = make(relay, log)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    port = await outage(relay)
    await log.wait_kind(Reconnecting)
    session.send_input("echo typed-while-down\r")
    await relay.start(port)
    await log.wait_kind(DeviceReady, count=2)
    assert not relay.ops(Op.COMMAND)  # not before a shell is there again
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted, count=2)
    await relay.wait_for(lambda: relay.ops(Op.COMMAND))
    assert [f.data for f in relay.ops(Op.COMMAND)] == ["echo typed-while-down\r"]
    assert NewShell() in log.events  # not the shell the input was typed for: say so
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()


async def test_input_over_4kb_while_down_is_refused_with_an_event() -> None:
    relay = await FakeRelay().start()
    log = EventLog()
    session = make(relay, log)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    port = await outage(relay)
    await log.wait_kind(Reconnecting)
    session.send_input("x" * 3000)
    session.send_input("y" * 2000)
    assert log.of(InputRefused) == [InputRefused(904)]
    await relay.start(port)
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted, count=2)
    sent = "x" * 3000 + "y" * 1096
    await relay.wait_for(lambda: "".join(f.data for f in relay.ops(Op.COMMAND)) == sent)
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()


async def test_resume_with_the_ticket_after_a_drop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    relay = await FakeRelay(answer=dict(RESUMABLE)).start()
    log = EventLog()
    session = make(relay, log, allow_extensions=True)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    assert session.can_resume
    session.send_input("abc")
    await log.wait_for(lambda: "echo:abc" in log.text())
    relay.drop()
    await log.wait_kind(Resumed)
    assert len(log.of(DeviceReady)) == 1  # no login asked for the second time
    resume = relay.ops(Op.CONNECT)[-1].data
    assert resume == {
        "username": "root",
        "resume_ticket": RESUMABLE["resume_ticket"],
        "resume_offset": len("echo:abc"),
    }
    kinds = [type(e) for e in log.events]
    assert kinds.index(Resumed) == kinds.index(LoginAccepted, kinds.index(Resumed)) - 1
    assert not log.of(NewShell)
    relay.drop()  # the fresh ticket works for the next drop
    await log.wait_kind(Resumed, count=2)
    assert relay.ops(Op.CONNECT)[-1].data["resume_ticket"] == RESUMABLE["resume_ticket"] + "+"
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()
    assert RESUMABLE["resume_ticket"] not in caplog.text
    assert RESUMABLE["resume_ticket"] not in repr(log.events) + repr(session)


async def test_refused_resume_asks_for_a_login() -> None:
    relay = await FakeRelay(answer=dict(RESUMABLE)).start()
    log = EventLog()
    session = make(relay, log, allow_extensions=True)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    relay.answer = {**RESUMABLE, "resume_ticket": "another-shell"}  # the device forgot ours
    relay.drop()
    refused = await log.wait_kind(PeerDisconnected)
    assert refused.status_code == "400" and session.state == "ready"
    assert not session.can_resume
    session.login("root", PASSWORD)
    await log.wait_kind(NewShell)
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()


async def test_no_ticket_is_used_when_extensions_are_off() -> None:
    relay = await FakeRelay(answer=dict(RESUMABLE)).start()
    log = EventLog()
    session = make(relay, log, allow_extensions=False)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    relay.drop()
    await log.wait_kind(DeviceReady, count=2)  # as against a C-SDK device: log in again
    assert len(relay.ops(Op.CONNECT)) == 1 and not log.of(Resumed)
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()


async def test_a_device_without_the_extension_gets_a_login_as_before() -> None:
    relay = await FakeRelay(answer=None).start()  # a C-SDK device: no data at all
    log = EventLog()
    session = make(relay, log, allow_extensions=True)
    session.resize(100, 40)
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)
    await log.wait_kind(LoginAccepted)
    assert session.extensions == frozenset() and not session.can_resume
    session.resize(120, 50)
    relay.drop()
    await log.wait_kind(DeviceReady, count=2)  # the owner asks for a login, as today
    assert len(relay.ops(Op.CONNECT)) == 1 and not log.of(Resumed)
    assert not relay.ops(Op.RESIZE)  # never listed: never sent
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()


class DeviceConnected:
    """A REST client stub (the session's TunnelStateSource): the device side is there."""

    platform_is_iotunnel = True

    def __init__(self) -> None:
        self.asked = 0

    async def show_tunnel(self, tunnel_id: str) -> SimpleNamespace:
        self.asked += 1
        return SimpleNamespace(device_connect_state=SimpleNamespace(connected=True))


async def test_an_unanswered_resume_waits_for_the_device_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handling, "RESUME_TIMEOUT", 0.2)
    relay = await FakeRelay(answer=dict(RESUMABLE), device_present=False).start()
    log = EventLog()
    rest = DeviceConnected()
    session = make(relay, log, client=rest, rest_poll=(0.05, 0.1))
    task = asyncio.create_task(session.run())
    session.login("root", PASSWORD)  # sent on the REST answer: no connect_tunnel here
    await log.wait_kind(LoginAccepted)
    relay.ignore_resumes = 1  # the REST state was behind: nobody hears the first resume
    relay.drop()
    await log.wait_kind(Resumed)
    resumes = [f for f in relay.ops(Op.CONNECT) if "resume_ticket" in f.data]
    assert len(resumes) == 2 and resumes[0].data == resumes[1].data  # the ticket unspent
    await session.close()
    await asyncio.wait_for(task, 15)
    await relay.stop()
