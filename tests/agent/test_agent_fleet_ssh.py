"""The Fleet API against the platform (status changes), and the ssh backend end to end."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from tests.agent.helpers import children_of
from tests.agent.source import Source
from tests.agent.sshd import ssh_server
from tests.support.agent import agent_config, running_agent
from tests.support.platform import SEED_FILE, RunningPlatform
from tui.agent.backends.ssh import SshBackend
from tui.agent.config import MqttEndpoint
from tui.agent.fleet import Fleet, FleetDevice
from tui.iotda.frames import Op
from tui.platform.config import PlatformConfig, load_seed
from tui.platform.server import Platform

TIMEOUT = 30.0


class Watched:
    """A platform whose device status changes the test can wait for."""

    def __init__(self, platform: Platform, running: RunningPlatform) -> None:
        self.running = running
        self.status: dict[str, bool] = {}
        self._changed = asyncio.Condition()
        real = platform.set_device_online

        def observe(device_id: str, online: bool) -> None:  # the gateway's real callback, seen
            real(device_id, online)
            self.status[device_id] = online
            asyncio.get_running_loop().create_task(self._notify())

        platform.set_device_online = observe  # type: ignore[method-assign]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_status(self, device_id: str, online: bool) -> None:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: self.status.get(device_id) is online)


@pytest.fixture
async def watched() -> AsyncIterator[Watched]:
    seed = load_seed(SEED_FILE)
    platform = Platform(PlatformConfig(seed=seed))
    watched = Watched(platform, None)  # type: ignore[arg-type]
    endpoints = await platform.start()
    watched.running = RunningPlatform(platform, endpoints, seed)
    try:
        yield watched
    finally:
        await platform.stop()


async def test_fleet_set_online_and_flap(watched: Watched) -> None:
    p = watched.running
    devices = [FleetDevice(d, p.secrets[d], d.upper()) for d in p.device_ids[:3]]
    fleet = Fleet(devices, MqttEndpoint.parse(p.endpoints.mqtt), mqtt_backoff_initial=0.2)
    await fleet.start()
    try:
        await asyncio.wait_for(fleet.wait_connected(), TIMEOUT)
        for device in devices:
            await watched.wait_status(device.device_id, True)
        first = devices[0].device_id
        await fleet.set_online(first, False)
        await watched.wait_status(first, False)
        async with p.client() as client:
            assert (await client.show_device(first)).device.status == "OFFLINE"
        await fleet.set_online(first, True)
        await watched.wait_status(first, True)
        flapping = devices[2].device_id
        fleet.start_flap(flapping, 0.3)
        await watched.wait_status(flapping, False)
        await watched.wait_status(flapping, True)
        gone = await fleet.take_random_offline()
        assert gone is not None
        await fleet.all_online()
    finally:
        await fleet.stop()
    for device in devices:
        await watched.wait_status(device.device_id, False)
    assert children_of(os.getpid()) == []


async def test_ssh_backend_through_the_platform(watched: Watched) -> None:
    p = watched.running
    device = p.device_ids[0]
    async with ssh_server() as port:
        config = agent_config(p.endpoints.mqtt, p.secrets[device], device, backend="ssh")
        async with running_agent(config, backend=SshBackend("127.0.0.1", port)):
            async with p.client() as client:
                created = await client.create_tunnel(device)
            source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
            try:
                request_id = await source.login("field", "wrong horse")
                bye = await source.next_of(Op.DISCONNECT)
                assert (bye.request_id, bye.data["status_code"]) == (request_id, "400")
                await source.login("field", "correct horse")
                await source.read_until("welcome field on xterm-256color")
                await source.type("size\r")
                await source.read_until("size=128x30")
                await source.resize(80, 25)
                await source.type("size\r")
                await source.read_until("size=80x25")
                await source.type("exit\r")
                bye = await source.next_of(Op.DISCONNECT)
                assert bye.data["status_code"] == "408"
            finally:
                await source.close()
