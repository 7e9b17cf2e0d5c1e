"""Issue 12 §6: a WebSocket drop on either side of the relay, or a cut MQTT link, during a
session: the shell goes on and the stream it prints arrives whole, nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from tests.agent.helpers import CuttableProxy, alive
from tests.chaos.resume_rig import (
    DEVICE,
    LOGIN,
    TIMEOUT,
    ask_pid,
    checksum,
    expected_checksum,
    stream_command,
    stream_lines,
)
from tests.session.relay import EventLog
from tests.support.platform import RunningPlatform, running_platform
from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint
from tui.session import LoginAccepted, NewShell, Resumed, TunnelSession


@contextlib.asynccontextmanager
async def rig(relay_mode: str) -> AsyncIterator[tuple[RunningPlatform, Agent, CuttableProxy]]:
    """Platform, and an agent (pty backend) whose MQTT goes through a cuttable proxy."""
    async with running_platform(relay_mode=relay_mode) as platform:
        mqtt = CuttableProxy(platform.mqtt_host, platform.mqtt_port)
        port = await mqtt.start()
        config = AgentConfig(
            device_id=DEVICE,
            secret=platform.secrets[DEVICE],
            mqtt=MqttEndpoint.parse(f"mqtt://127.0.0.1:{port}"),
            backend="pty",
            login_user=LOGIN[0],
            login_password=LOGIN[1],
            tunnel_retry_step=0.2,
            mqtt_backoff_initial=0.2,
            mqtt_backoff_max=1.0,
        )
        agent = Agent(config)
        await agent.set_online(True)
        try:
            await asyncio.wait_for(agent.wait_connected(), TIMEOUT)
            yield platform, agent, mqtt
        finally:
            await agent.stop()
            await mqtt.close()


@contextlib.asynccontextmanager
async def session_via(
    platform: RunningPlatform, proxy: CuttableProxy | None
) -> AsyncIterator[tuple[TunnelSession, EventLog, str]]:
    """A logged-in session (through `proxy` to the relay, when given); yields it, its
    events and the tunnel id."""
    async with platform.client() as client:
        created = await client.create_tunnel(DEVICE)
        uri = created.tunnel_uri
        if proxy is not None:
            port = urlsplit(platform.endpoints.ws).port
            uri = uri.replace(f":{port}/", f":{await proxy.start()}/")
        log = EventLog()
        session = TunnelSession(
            uri,
            created.tunnel_access_token,
            on_event=log,
            expires_at=time.time() + created.expires_in,
            client=client,
            backoff=(0.1, 1.0),
            rest_poll=(0.3, 1.0),
        )
        task = asyncio.create_task(session.run())
        try:
            session.login(*LOGIN)
            await log.wait_kind(LoginAccepted, timeout=TIMEOUT)
            yield session, log, created.tunnel_id
        finally:
            await session.close()
            await asyncio.wait_for(task, TIMEOUT)


async def stream_through(session: TunnelSession, log: EventLog, fault) -> int:
    """Start the stream, call `fault()` mid-way, wait for its end; checks the lines and
    returns the shell's pid (asked before and after: the same shell)."""
    pid = await ask_pid(session, log, 1)
    session.send_input(stream_command())
    await log.wait_for(lambda: "L40\r" in log.text(), TIMEOUT)
    await fault()
    assert alive(pid)
    await log.wait_for(lambda: "EN1D" in log.text(), TIMEOUT)
    lines = stream_lines(log.text())
    twice = sorted({line for line in lines if lines.count(line) > 1})
    assert checksum(lines) == expected_checksum(), (len(lines), twice, log.text()[-3000:])
    assert await ask_pid(session, log, 2) == pid
    assert not log.of(NewShell)
    return pid


async def test_source_side_websocket_drop(relay_mode: str) -> None:
    async with rig(relay_mode) as (platform, _agent, _mqtt):
        proxy = CuttableProxy("127.0.0.1", urlsplit(platform.endpoints.ws).port or 0)
        async with session_via(platform, proxy) as (session, log, _):

            async def cut() -> None:
                proxy.cut()
                await log.wait_kind(Resumed, timeout=TIMEOUT)

            await stream_through(session, log, cut)
        await proxy.close()


async def test_device_side_websocket_drop(relay_mode: str) -> None:
    async with (
        rig(relay_mode) as (platform, agent, _mqtt),
        session_via(platform, None) as (session, log, tunnel_id),
    ):

        async def cut() -> None:
            link = agent.tunnels[tunnel_id]._ws
            assert link is not None
            link.transport.abort()  # the device's TCP connection to the relay is gone
            await log.wait_kind(Resumed, timeout=TIMEOUT)

        await stream_through(session, log, cut)


async def test_mqtt_cut_leaves_the_session_alone(relay_mode: str) -> None:
    async with (
        rig(relay_mode) as (platform, agent, mqtt),
        session_via(platform, None) as (session, log, _),
    ):

        async def cut() -> None:
            mqtt.cut()
            assert agent.mqtt is not None
            await asyncio.wait_for(agent.wait_connected(2), TIMEOUT)  # MQTT came back
            await platform.wait_device(DEVICE, "ONLINE")

        await stream_through(session, log, cut)
        assert not log.of(Resumed)  # the tunnel never noticed
