"""TunnelSession end to end: local platform (REST, MQTT, relay) + a real agent with the
pty backend, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.session.relay import EventLog
from tests.support.platform import RunningPlatform, running_platform
from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint
from tui.iotda.client import IoTDAClient
from tui.iotda.models import TunnelCreated
from tui.session import (
    DeviceReady,
    Ended,
    LoginAccepted,
    PeerDisconnected,
    Reconnecting,
    TunnelSession,
)

DEVICE = "pump_0001"
LOGIN_USER = "demo"
LOGIN_PASSWORD = "demo-password-e2e"
TIMEOUT = 30.0


@dataclass
class Rig:
    platform: RunningPlatform
    agent: Agent
    client: IoTDAClient  # as the app has one: the session asks it about the device

    async def create_tunnel(self) -> TunnelCreated:
        return await self.client.create_tunnel(DEVICE)


@contextlib.asynccontextmanager
async def rig(relay_mode: str, token_ttl: int = 86_400) -> AsyncIterator[Rig]:
    async with running_platform(token_ttl=token_ttl, relay_mode=relay_mode) as platform:
        if platform.endpoints.mqtt is None:
            pytest.skip("the platform has no MQTT gateway here")
        config = AgentConfig(
            device_id=DEVICE,
            secret=platform.secrets[DEVICE],
            mqtt=MqttEndpoint.parse(platform.endpoints.mqtt),
            backend="pty",
            login_user=LOGIN_USER,
            login_password=LOGIN_PASSWORD,
            tunnel_retry_step=0.1,
            mqtt_backoff_initial=0.1,
        )
        agent = Agent(config)
        await agent.set_online(True)
        try:
            assert agent.mqtt is not None
            await asyncio.wait_for(agent.mqtt.connected.wait(), TIMEOUT)
            async with platform.client() as client:
                yield Rig(platform, agent, client)
        finally:
            await asyncio.wait_for(agent.stop(), TIMEOUT)


Started = tuple[TunnelSession, asyncio.Task[None]]


def start(
    created: TunnelCreated, log: EventLog, **kwargs: object
) -> tuple[TunnelSession, asyncio.Task[None]]:
    session = TunnelSession(
        created.tunnel_uri,
        created.tunnel_access_token,
        on_event=log,
        expires_at=time.time() + created.expires_in,
        **kwargs,  # type: ignore[arg-type]
    )
    return session, asyncio.create_task(session.run())


async def test_login_echo_resize_and_close(relay_mode: str) -> None:
    async with rig(relay_mode) as r:
        created = await r.create_tunnel()
        log = EventLog()
        session, task = start(created, log, client=r.client)
        session.resize(100, 40)
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        session.send_input("echo hi-$((40+2))\r")
        await log.wait_for(lambda: "hi-42" in log.text(), TIMEOUT)
        assert session.extensions == {"resize", "resume"}  # listed, and a local platform
        session.send_input("stty size\r")
        # a documented relay drops our `resize`: the pane works at the device's default size
        size = "40 100" if relay_mode == "iotunnel" else "30 128"
        await log.wait_for(lambda: size in log.text(), TIMEOUT)
        await session.close()
        await asyncio.wait_for(task, TIMEOUT)
        assert log.events[-1] == Ended("closed", close_code=1000)
        assert not log.of(Reconnecting)


async def test_login_without_a_repeated_connect_tunnel(relay_mode: str) -> None:
    # the device joins right after the notice, before the app: a documented relay does not
    # repeat connect_tunnel, so the session learns from the REST API that the device is there
    async with rig(relay_mode) as r:
        created = await r.create_tunnel()
        await r.platform.wait_tunnel(created.tunnel_id, device="CONNECTED", timeout=TIMEOUT)
        log = EventLog()
        session, task = start(created, log, client=r.client)
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        session.send_input("echo late-$((6*7))\r")
        await log.wait_for(lambda: "late-42" in log.text(), TIMEOUT)
        await session.close()
        await asyncio.wait_for(task, TIMEOUT)


async def test_extensions_off_sends_no_resize(relay_mode: str) -> None:
    async with rig(relay_mode) as r:
        created = await r.create_tunnel()
        log = EventLog()
        session, task = start(created, log, client=r.client, allow_extensions=False)
        session.resize(100, 40)
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        assert session.extensions == frozenset() and not session.can_resume
        session.send_input("stty size; echo S$((1))Z\r")
        await log.wait_for(lambda: "S1Z" in log.text(), TIMEOUT)
        assert "30 128" in log.text()  # the agent's default: nothing resized it
        await session.close()
        await asyncio.wait_for(task, TIMEOUT)


async def test_wrong_password_is_reported_then_retry_works(relay_mode: str) -> None:
    async with rig(relay_mode) as r:
        log = EventLog()
        session, task = start(await r.create_tunnel(), log, client=r.client)
        await log.wait_kind(DeviceReady, timeout=TIMEOUT)
        session.login(LOGIN_USER, "wrong-password")
        failed = await log.wait_kind(PeerDisconnected, timeout=TIMEOUT)
        assert failed.status_code == "400" and failed.status_msg
        assert "wrong-password" not in failed.status_msg
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        session.send_input("echo ok-$((1+1))\r")
        await log.wait_for(lambda: "ok-2" in log.text(), TIMEOUT)
        await session.close()
        await asyncio.wait_for(task, TIMEOUT)


async def test_token_expiry_ends_the_session_as_expired(relay_mode: str) -> None:
    async with rig(relay_mode, token_ttl=3) as r:
        log = EventLog()
        session, task = start(await r.create_tunnel(), log, client=r.client)
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        ended = await log.wait_kind(Ended, timeout=TIMEOUT)
        await asyncio.wait_for(task, TIMEOUT)
        assert ended.expired
        assert [e.status_code for e in log.of(PeerDisconnected)] == ["401"]
        assert not log.of(Reconnecting)
        assert session.state == "ended"


async def test_device_gone_shows_410_and_session_waits(relay_mode: str) -> None:
    async with rig(relay_mode) as r:
        log = EventLog()
        session, task = start(await r.create_tunnel(), log, client=r.client)
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        await r.agent.set_online(False)
        gone = await log.wait_kind(PeerDisconnected, timeout=TIMEOUT)
        assert gone.status_code == "410"
        assert session.state == "waiting"
        assert not log.of(Ended) and not log.of(Reconnecting)
        await session.close()
        await asyncio.wait_for(task, TIMEOUT)
        assert log.events[-1].reason == "closed"
