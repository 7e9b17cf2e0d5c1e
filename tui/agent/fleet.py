"""Many simulated devices in one process: one Agent each, pty backend, one event loop.

For the demo and for load. Devices can be taken offline and back (`set_online`, `flap`)
so that a dashboard's status colours have something to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint

log = logging.getLogger(__name__)

# the one login every simulated shell accepts (the demo prints it: not a secret)
DEMO_USER = "demo"
DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class FleetDevice:
    device_id: str
    secret: str = field(repr=False)
    name: str | None = None


class Fleet:
    """Runs simulated agents; every shell accepts the same demo login."""

    def __init__(
        self,
        devices: Iterable[FleetDevice],
        mqtt: MqttEndpoint,
        *,
        username: str = DEMO_USER,
        password: str = DEMO_PASSWORD,
        **agent_options: Any,
    ) -> None:
        self.agents: dict[str, Agent] = {}
        for device in devices:
            config = AgentConfig(
                device_id=device.device_id,
                secret=device.secret,
                mqtt=mqtt,
                backend="pty",
                login_user=username,
                login_password=password,
                device_name=device.name,
                **agent_options,
            )
            self.agents[device.device_id] = Agent(config)
        self._flaps: dict[str, asyncio.Task[None]] = {}
        self._stopped = asyncio.Event()

    def __repr__(self) -> str:
        return f"Fleet({len(self.agents)} devices, {len(self.online_devices())} online)"

    def online_devices(self) -> list[str]:
        return [device_id for device_id, agent in self.agents.items() if agent.online]

    async def start(self) -> None:
        """Bring every device online (their MQTT links connect concurrently)."""
        for agent in self.agents.values():
            await agent.set_online(True)

    async def wait_connected(self) -> None:
        """Wait until every online device's MQTT link has been accepted once."""
        await asyncio.gather(
            *(agent.wait_connected() for agent in self.agents.values() if agent.online)
        )

    async def run(self) -> None:
        await self.start()
        await self._stopped.wait()

    async def stop(self) -> None:
        for task in self._flaps.values():
            task.cancel()
        for task in self._flaps.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._flaps.clear()
        await asyncio.gather(*(agent.stop() for agent in self.agents.values()))
        self._stopped.set()

    async def set_online(self, device_id: str, online: bool) -> None:
        agent = self.agents.get(device_id)
        if agent is None:
            raise KeyError(f"no device {device_id!r} in this fleet")
        await agent.set_online(online)

    async def take_random_offline(self) -> str | None:
        """A random online device goes offline; returns its id (None if none was online)."""
        online = self.online_devices()
        if not online:
            return None
        device_id = random.choice(online)
        await self.set_online(device_id, False)
        log.info("fleet: %s taken offline", device_id)
        return device_id

    async def all_online(self) -> None:
        for device_id, agent in self.agents.items():
            if not agent.online:
                await agent.set_online(True)
                log.info("fleet: %s back online", device_id)

    async def flap(self, device_id: str, period: float) -> None:
        """Toggle a device offline and online every `period` seconds, until cancelled."""
        if device_id not in self.agents:
            raise KeyError(f"no device {device_id!r} in this fleet")
        while True:
            await asyncio.sleep(period)
            agent = self.agents[device_id]
            await agent.set_online(not agent.online)

    def start_flap(self, device_id: str, period: float) -> asyncio.Task[None]:
        if device_id not in self.agents:
            raise KeyError(f"no device {device_id!r} in this fleet")
        old = self._flaps.pop(device_id, None)
        if old is not None:
            old.cancel()
        task = asyncio.create_task(self.flap(device_id, period), name=f"flap-{device_id}")
        self._flaps[device_id] = task
        return task
