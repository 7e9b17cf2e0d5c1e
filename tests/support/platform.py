"""Run the local IoTDA platform in-process for a test, on free ports of 127.0.0.1.

    from tests.support.platform import running_platform

    async def test_something():
        async with running_platform() as p:
            p.endpoints.rest          # "http://127.0.0.1:PORT" (also the IAM endpoint)
            p.endpoints.mqtt          # "mqtt://127.0.0.1:PORT"
            p.endpoints.ws            # "ws://127.0.0.1:PORT"
            p.project_id, p.region    # "test-project", "cn-north-4"
            p.ak, p.sk                # AK/SK accepted by the REST API
            p.user                    # IamUser(name, password, domain)
            p.secrets                 # {device_id: secret} for MQTT logins
            p.device_ids              # seed order
            p.mqtt_host, p.mqtt_port  # for paho-mqtt
            p.set_online("boiler_0001")   # mark ONLINE without MQTT (REST-only tests)
            await p.wait_device("boiler_0001", "ONLINE")   # e.g. after an agent's MQTT login
            await p.wait_tunnel(tunnel_id, status="OPEN", source="CONNECTED", device="CONNECTED")
            async with p.client() as client:  # IoTDAClient with AK/SK auth
                ...

Options: `running_platform(seed=PATH_OR_Seed, token_ttl=86400, state_path=":memory:",
tls=(cert_path, key_path), relay_mode="iotunnel"|"documented")`; with `tls` the URLs are
https/mqtts/wss (see tests/support/tls.py). The platform is stopped (sockets closed) when
the block ends, even on failure.

Both relay behaviours (docs/protocol.md §5.1): a test that takes the `relay_mode` fixture runs
once per behaviour (registered for the whole suite in tests/conftest.py):

    async def test_login(relay_mode):
        async with running_platform(relay_mode=relay_mode) as p:
            ...
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tui.platform.config import RELAY_MODES, IamUser, PlatformConfig, Seed, load_seed
from tui.platform.server import Endpoints, Platform

SEED_FILE = Path(__file__).with_name("seed.toml")


def private_seed(directory: Path, source: Path = SEED_FILE) -> Path:
    """A copy of a seed file that only its owner may read, as `iotunnel platform` demands
    of a file holding secrets (git keeps tests/support/seed.toml at 0644)."""
    copy = directory / source.name
    copy.write_bytes(source.read_bytes())
    copy.chmod(0o600)
    return copy


@pytest.fixture(params=RELAY_MODES)
def relay_mode(request: pytest.FixtureRequest) -> str:
    """Each relay behaviour in turn: "iotunnel" (ours) and "documented" (Huawei's)."""
    return request.param


@dataclass
class RunningPlatform:
    platform: Platform
    endpoints: Endpoints
    seed: Seed

    @property
    def project_id(self) -> str:
        return self.seed.project_id

    @property
    def region(self) -> str:
        return self.seed.region

    @property
    def ak(self) -> str:
        return self.seed.credentials[0].ak

    @property
    def sk(self) -> str:
        return self.seed.credentials[0].sk

    @property
    def user(self) -> IamUser:
        return self.seed.users[0]

    @property
    def secrets(self) -> dict[str, str]:
        return {device.device_id: device.secret for device in self.seed.devices}

    @property
    def device_ids(self) -> list[str]:
        return [device.device_id for device in self.seed.devices]

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.endpoints.mqtt).hostname or "127.0.0.1"

    @property
    def mqtt_port(self) -> int:
        return urlsplit(self.endpoints.mqtt).port or 0

    def set_online(self, device_id: str, online: bool = True) -> None:
        """Mark a device ONLINE/OFFLINE as the MQTT gateway would (for REST-only tests)."""
        self.platform.set_device_online(device_id, online)

    async def wait_device(
        self, device_id: str, status: str = "ONLINE", timeout: float = 15.0
    ) -> None:
        """Wait until the platform holds `device_id` in `status` (e.g. after an MQTT login)."""

        def reached() -> bool:
            record = self.platform.store.get_device(device_id) if self.platform.store else None
            return record is not None and record.status == status

        await self.platform.wait_until(reached, timeout)

    async def wait_tunnel(
        self,
        tunnel_id: str,
        *,
        status: str | None = None,
        source: str | None = None,
        device: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        """Wait until a tunnel's status / source / device connect state are as given."""

        def reached() -> bool:
            tunnel = self.platform.store.get_tunnel(tunnel_id) if self.platform.store else None
            return tunnel is not None and all(
                want is None or got == want
                for want, got in (
                    (status, tunnel.status),
                    (source, tunnel.source_state),
                    (device, tunnel.device_state),
                )
            )

        await self.platform.wait_until(reached, timeout)

    def client(self, **kwargs):  # -> IoTDAClient
        """An IoTDAClient on this platform with the seed's AK/SK (standard signing)."""
        from tui.iotda.auth import AkSkAuth
        from tui.iotda.client import IoTDAClient

        if "auth" in kwargs:  # auth=None is a client without credentials
            auth = kwargs.pop("auth")
        else:
            auth = AkSkAuth(self.ak, self.sk, region=self.region)
        return IoTDAClient(self.endpoints.rest, self.project_id, auth, **kwargs)


@contextlib.asynccontextmanager
async def running_platform(
    seed: str | Path | Seed | None = None,
    *,
    token_ttl: int = 86_400,
    state_path: str | Path = ":memory:",
    tls: tuple[str | Path, str | Path] | None = None,
    relay_mode: str = "iotunnel",
    **options: Any,
) -> AsyncIterator[RunningPlatform]:
    """`options`: any other PlatformConfig field (keepalive, link_limits, …)."""
    loaded = seed if isinstance(seed, Seed) else load_seed(seed or SEED_FILE)
    config = PlatformConfig(
        seed=loaded,
        state_path=str(state_path),
        token_ttl=token_ttl,
        relay_mode=relay_mode,
        **options,
    )
    if tls is not None:
        config.tls_cert, config.tls_key = str(tls[0]), str(tls[1])
    platform = Platform(config)
    endpoints = await platform.start()
    try:
        yield RunningPlatform(platform, endpoints, loaded)
    finally:
        await platform.stop()
