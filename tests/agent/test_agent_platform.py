"""Platform + agent (pty backend) + a `websockets` source client, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.agent.helpers import CuttableProxy, alive, children_of, wait_exit
from tests.agent.source import Source
from tests.support.agent import DEVICE, LOGIN, agent_config, running_agent
from tests.support.platform import SEED_FILE, RunningPlatform, running_platform
from tui.agent.agent import Agent
from tui.agent.config import MqttEndpoint
from tui.agent.mqtt_link import MqttLink
from tui.agent.tunnel import DeviceTunnel
from tui.iotda.frames import SSH_TIMEOUT_REQUEST_ID, Op
from tui.iotda.models import TunnelCreated
from tui.iotda.mqtt import TunnelNotify, events_down_topic
from tui.platform.config import PlatformConfig, load_seed
from tui.platform.server import Platform

TIMEOUT = 30.0


async def device_tunnel(agent: Agent, tunnel_id: str) -> DeviceTunnel:
    async with asyncio.timeout(TIMEOUT):
        while tunnel_id not in agent.tunnels:
            agent.tunnel_changed.clear()
            await agent.tunnel_changed.wait()
    return agent.tunnels[tunnel_id]


@pytest.fixture
async def platform() -> AsyncIterator[RunningPlatform]:
    async with running_platform() as p:
        yield p


@pytest.fixture
async def agent(platform: RunningPlatform) -> AsyncIterator[Agent]:
    async with running_agent(agent_config(platform.endpoints.mqtt, platform.secrets[DEVICE])) as a:
        yield a


async def open_tunnel(platform: RunningPlatform) -> tuple[TunnelCreated, Source]:
    async with platform.client() as client:
        created = await client.create_tunnel(DEVICE)
    source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
    return created, source


async def test_login_command_utf8_and_resize(platform: RunningPlatform, agent: Agent) -> None:
    _, source = await open_tunnel(platform)
    try:
        await source.login(*LOGIN)
        request_id = await source.type("echo hello-$((6*7))\r")
        text, frames = await source.read_until("hello-42")
        assert "Boiler_room_1" in text  # the prompt names the device
        assert frames[-1].request_id == request_id
        # 2047 ASCII bytes, then 3-byte characters straddling every 2048-byte boundary
        await source.type(
            "printf 'a%.0s' $(seq 2047); printf '\\u20ac%.0s' $(seq 1500); echo E$((7))N\r"
        )
        text, frames = await source.read_until("E7N")
        assert "a" * 2047 + "€" * 1500 in text
        assert "\ufffd" not in text
        assert all(len(f.data.encode()) <= 2048 for f in frames)
        assert all(len(f.request_id) == 36 for f in frames)
        await source.type("stty size; echo S$((1))Z\r")
        assert "30 128" in (await source.read_until("S1Z"))[0]
        await source.resize(100, 42)
        await source.type("stty size; echo S$((2))Z\r")
        assert "42 100" in (await source.read_until("S2Z"))[0]
    finally:
        await source.close()


async def test_bad_password_gets_400(platform: RunningPlatform, agent: Agent) -> None:
    _, source = await open_tunnel(platform)
    try:
        request_id = await source.login(LOGIN[0], "wrong")
        bye = await source.next_of(Op.DISCONNECT)
        assert bye.data["status_code"] == "400"
        assert bye.request_id == request_id
        await source.login(*LOGIN)  # the tunnel stays usable: a good login works after
        await source.type("echo ok-$((1+1))\r")
        await source.read_until("ok-2")
    finally:
        await source.close()


async def test_shell_exit_gets_408(platform: RunningPlatform, agent: Agent) -> None:
    _, source = await open_tunnel(platform)
    try:
        await source.login(*LOGIN)
        pid = await source.shell_pid(1)
        await source.type("exit\r")
        bye = await source.next_of(Op.DISCONNECT)
        assert (bye.request_id, bye.data["status_code"]) == (SSH_TIMEOUT_REQUEST_ID, "408")
        assert not alive(pid)
    finally:
        await source.close()


async def test_idle_timeout_gets_408(platform: RunningPlatform) -> None:
    config = agent_config(platform.endpoints.mqtt, platform.secrets[DEVICE], idle_timeout=1.0)
    async with running_agent(config):
        _, source = await open_tunnel(platform)
        try:
            await source.login(*LOGIN)
            bye = await source.next_of(Op.DISCONNECT)
            assert (bye.request_id, bye.data["status_code"]) == (SSH_TIMEOUT_REQUEST_ID, "408")
        finally:
            await source.close()


async def test_second_connect_replaces_first(platform: RunningPlatform, agent: Agent) -> None:
    _, source = await open_tunnel(platform)
    try:
        await source.login(*LOGIN)
        first = await source.shell_pid(1)
        await source.login(*LOGIN)
        second = await source.shell_pid(2)
        assert first != second
        assert not alive(first)
    finally:
        await source.close()


@pytest.mark.parametrize("grace", [0.0, 0.5])
async def test_source_leaving_ends_the_shell(platform: RunningPlatform, grace: float) -> None:
    # the shell is kept `grace` seconds for a resume (0: resume off), then ended
    config = agent_config(platform.endpoints.mqtt, platform.secrets[DEVICE], resume_grace=grace)
    async with running_agent(config) as agent:
        created, source = await open_tunnel(platform)
        await source.login(*LOGIN)
        pid = await source.shell_pid(1)
        tunnel = await device_tunnel(agent, created.tunnel_id)
        await source.close()
        await wait_exit(pid)  # the platform's 410 reaches the agent, which ends the shell
        assert tunnel.connected.is_set()  # the device side stays connected
        async with platform.client() as client:
            info = await client.show_tunnel(created.tunnel_id)
        assert info.status == "OPEN"
        source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
        try:  # the app comes back and logs in again over the same device link
            await source.login(*LOGIN)
            assert await source.shell_pid(2) != pid
        finally:
            await source.close()


async def test_source_leaving_a_documented_relay_ends_the_shell_when_idle() -> None:
    # Huawei documents no `disconnect` to the device: the shell ends by the idle timeout
    async with running_platform(relay_mode="documented") as platform:
        config = agent_config(
            platform.endpoints.mqtt, platform.secrets[DEVICE], idle_timeout=1.0, resume_grace=0
        )
        async with running_agent(config), platform.client() as client:
            created = await client.create_tunnel(DEVICE)
            await platform.wait_tunnel(created.tunnel_id, device="CONNECTED")
            # no connect_tunnel comes from this relay to an app that connects late
            token = created.tunnel_access_token
            source = await Source.open(created.tunnel_uri, token, wait_device=False)
            await source.login(*LOGIN)
            pid = await source.shell_pid(1)
            await source.close()
            await wait_exit(pid)


async def test_no_processes_left_after_stop(platform: RunningPlatform) -> None:
    config = agent_config(platform.endpoints.mqtt, platform.secrets[DEVICE])
    async with running_agent(config) as agent:
        _, source = await open_tunnel(platform)
        await source.login(*LOGIN)
        await source.type("sleep 400 & (trap '' HUP; exec sleep 401) & ")
        await source.type("echo P$((9)):$(jobs -p | tr '\\n' ,)Q$((1))Z\r")
        text, _ = await source.read_until("Q1Z")
        jobs = [int(p) for p in text.split("P9:")[-1].split("Q1Z")[0].split(",") if p]
        assert len(jobs) == 2
        pid = await source.shell_pid(2)
        await agent.stop()
        bye = await source.next_of(Op.DISCONNECT)
        assert bye.data["status_code"] == "410"
        await source.close()
    for gone in [pid, *jobs]:  # the shell and what it left in the background, even HUP-proof
        await wait_exit(gone)
    assert children_of(os.getpid()) == []


async def test_reconnects_after_mqtt_drop(platform: RunningPlatform) -> None:
    proxy = CuttableProxy(platform.mqtt_host, platform.mqtt_port)
    port = await proxy.start()
    try:
        config = agent_config(f"mqtt://127.0.0.1:{port}", platform.secrets[DEVICE])
        async with running_agent(config) as agent:
            proxy.cut()
            await asyncio.wait_for(agent.wait_connected(2), TIMEOUT)
            # the new MQTT session still hears tunnel_notify
            _, source = await open_tunnel(platform)
            await source.login(*LOGIN)
            await source.type("echo back-$((5))\r")
            await source.read_until("back-5")
            await source.close()
    finally:
        await proxy.close()


async def test_reconnects_after_platform_restart(tmp_path: Path) -> None:
    seed = load_seed(SEED_FILE)
    state = str(tmp_path / "state.sqlite")
    first = Platform(PlatformConfig(seed=seed, state_path=state))
    endpoints = await first.start()
    second: Platform | None = None
    try:
        running = RunningPlatform(first, endpoints, seed)
        async with running_agent(agent_config(endpoints.mqtt, running.secrets[DEVICE])) as agent:
            created, source = await open_tunnel(running)
            await source.login(*LOGIN)
            first_pid = await source.shell_pid(1)
            await first.stop()  # links close with 1001: the agent keeps retrying
            with contextlib.suppress(Exception):
                await source.close()
            assert alive(first_pid)  # kept for a resume (tests/chaos/test_resume_*.py)
            ports = {
                "rest_port": int(endpoints.rest.rsplit(":", 1)[1]),
                "mqtt_port": int(endpoints.mqtt.rsplit(":", 1)[1]),
                "ws_port": int(endpoints.ws.rsplit(":", 1)[1]),
            }
            second = Platform(PlatformConfig(seed=seed, state_path=state, **ports))
            await second.start()
            await asyncio.wait_for(agent.wait_connected(2), TIMEOUT)
            tunnel = await device_tunnel(agent, created.tunnel_id)
            await asyncio.wait_for(tunnel.connected.wait(), TIMEOUT)
            # the tunnel survived in SQLite: the app reconnects with its token and works
            source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
            try:
                await source.login(*LOGIN)
                await source.type("echo again-$((3))\r")
                await source.read_until("again-3")
                await wait_exit(first_pid)  # a password login starts anew: the kept one ends
            finally:
                await source.close()
    finally:
        if second is not None:
            await second.stop()
        await first.stop()


async def test_malformed_events_are_ignored(platform: RunningPlatform, agent: Agent) -> None:
    gateway = platform.platform._gateway
    assert gateway is not None
    topic = events_down_topic(DEVICE)
    bad_notify = TunnelNotify("http://127.0.0.1:1/x/device-connect", "token", 60).to_payload()
    for payload in (
        b"\xff\xfe not json",
        b"[]",
        b'{"services": 5}',
        b'{"services": [{"service_id": "$tunnel_manager", "event_type": "tunnel_notify"}]}',
        b'{"services": [{"service_id": "$tunnel_manager", "event_type": "tunnel_notify",'
        b' "paras": {"tunnel_uri": 1, "tunnel_access_token": "t", "expires_in": 1}}]}',
        b'{"services": [{"service_id": "other", "event_type": "x", "paras": {}}, 7]}',
        bad_notify,
    ):
        assert await gateway.publish(DEVICE, topic, payload)
    # events arrive in order: once the real tunnel works, every bad one was survived
    created, source = await open_tunnel(platform)
    try:
        await source.login(*LOGIN)
        await source.type("echo fine-$((8))\r")
        await source.read_until("fine-8")
    finally:
        await source.close()
    assert list(agent.tunnels) == [created.tunnel_id]


async def test_closed_tunnel_is_served_again_after_reconnect(
    platform: RunningPlatform, agent: Agent
) -> None:
    created, source = await open_tunnel(platform)
    await source.login(*LOGIN)
    first = await device_tunnel(agent, created.tunnel_id)
    async with platform.client() as client:
        await client.close_tunnel(created.tunnel_id)
    await source.close()
    # the platform closed the device side with 1000: the agent does not retry it
    await asyncio.wait_for(first.finished.wait(), TIMEOUT)
    assert created.tunnel_id not in agent.tunnels or agent.tunnels[created.tunnel_id] is not first
    # a source connecting again re-opens it; the platform re-sends tunnel_notify
    source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
    try:
        await source.login(*LOGIN)
        await source.type("echo reopened-$((6))\r")
        await source.read_until("reopened-6")
    finally:
        await source.close()


async def test_mqtt_password_hour_is_recomputed_on_reconnect(platform: RunningPlatform) -> None:
    hours = iter([datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)])
    last = datetime(2026, 1, 1, 11, tzinfo=UTC)
    endpoint = MqttEndpoint.parse(platform.endpoints.mqtt)
    link = MqttLink(
        DEVICE, platform.secrets[DEVICE], endpoint, lambda _: None,
        backoff_initial=0.1, now=lambda: next(hours, last),
    )  # fmt: skip
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.wait_connections(1), TIMEOUT)
        assert link.client_id == f"{DEVICE}_0_0_2026010110"
        link.drop()
        await asyncio.wait_for(link.wait_connections(2), TIMEOUT)
        assert link.client_id == f"{DEVICE}_0_0_2026010111"
    finally:
        await link.stop()
        await asyncio.wait_for(task, TIMEOUT)
