"""A local platform with simulated devices (real pty agents) for the exec tests.

    async with exec_rig() as rig:          # every seed device online except pump_0002
        result = await exec_command(rig.client, "boiler_0001", ["true"], rig.login, ...)

Leaving the block stops the agents and the platform; nothing they started outlives it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.agent.helpers import children_of
from tests.support.platform import RunningPlatform, running_platform
from tests.support.tls import client_context
from tui.agent.config import MqttEndpoint
from tui.agent.fleet import Fleet, FleetDevice
from tui.iotda.client import IoTDAClient
from tui.session.exec import ExecLogin
from tui.session.tokens import TokenStore

LOGIN = ExecLogin("operator", "exec-test-password")
OFFLINE_DEVICE = "pump_0002"
TIMEOUT = 60.0


@dataclass
class ExecRig:
    platform: RunningPlatform
    fleet: Fleet
    client: IoTDAClient
    store: TokenStore = field(default_factory=TokenStore)
    login: ExecLogin = LOGIN

    @property
    def online(self) -> list[str]:
        return self.fleet.online_devices()

    def tunnels(self) -> list[Any]:
        """Every tunnel the platform holds (any status)."""
        assert self.platform.platform.store is not None
        return self.platform.platform.store.all_tunnels()


@contextlib.asynccontextmanager
async def exec_rig(
    offline: tuple[str, ...] = (OFFLINE_DEVICE,),
    relay_mode: str = "iotunnel",
    tls: tuple[Path, Path] | None = None,
) -> AsyncIterator[ExecRig]:
    """With `tls` (cert, key) the platform speaks https/mqtts/wss and everyone trusts it."""
    before = set(children_of(os.getpid()))  # e.g. an sshd the test started
    async with running_platform(relay_mode=relay_mode, tls=tls) as platform:
        if platform.endpoints.mqtt is None:
            pytest.skip("the platform has no MQTT gateway here")
        devices = [
            FleetDevice(device_id, secret)
            for device_id, secret in platform.secrets.items()
            if device_id not in offline
        ]
        fleet = Fleet(
            devices,
            MqttEndpoint.parse(platform.endpoints.mqtt),
            username=LOGIN.username,
            password=LOGIN.password,
            tunnel_retry_step=0.2,
            mqtt_backoff_initial=0.2,
            mqtt_backoff_max=1.0,
            ca_file=str(tls[0]) if tls else None,
        )
        try:
            await fleet.start()
            await fleet.wait_connected()
            for device in devices:
                await platform.wait_device(device.device_id, "ONLINE")
            verify = client_context(tls[0]) if tls else True
            async with platform.client(verify=verify) as client:
                yield ExecRig(platform, fleet, client)
        finally:
            await fleet.stop()
    assert set(children_of(os.getpid())) <= before  # nothing the fleet started is left
