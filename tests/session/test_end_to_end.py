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
async def rig(token_ttl: int = 86_400) -> AsyncIterator[Rig]:
    async with running_platform(token_ttl=token_ttl) as platform:
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


async def test_login_echo_resize_and_close() -> None:
    async with rig() as r:
        created = await r.create_tunnel()
        log = EventLog()
        session, task = start(created, log, client=r.client)
        session.resize(100, 40)
        session.login(LOGIN_USER, LOGIN_PASSWORD)
        await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
        session.send_input("echo hi-$((40+2))\r")
        await log.wait_for(lambda: "hi-42" in log.text(), TIMEOUT)
        session.send_input("stty size\r")
        await log.wait_for(lambda: "40 100" in log.text(), TIMEOUT)
        await session.close()
        await asyncio.wait_for(task, TIMEOUT)
        assert log.events[-1] == Ended("closed", close_code=1000)
        assert not log.of(Reconnecting)


async def test_wrong_password_is_reported_then_retry_works() -> None:
    async with rig() as r:
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


async def test_token_expiry_ends_the_session_as_expired() -> None:
    async with rig(token_ttl=3) as r:
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


async def test_device_gone_shows_410_and_session_waits() -> None:
    async with rig() as r:
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
