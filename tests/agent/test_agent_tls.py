"""MQTTS and wss: certificates are checked by default, against --ca, or not (--insecure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.agent.source import Source
from tests.support.agent import LOGIN, agent_config, running_agent
from tests.support.platform import SEED_FILE, RunningPlatform
from tests.support.tls import client_context, make_certificate
from tui.agent.agent import Agent
from tui.platform.config import PlatformConfig, load_seed
from tui.platform.server import Platform

TIMEOUT = 30.0
DEVICE = "boiler_0001"


@pytest.fixture
async def tls_platform(tmp_path: Path) -> AsyncIterator[tuple[RunningPlatform, Path]]:
    cert, key = make_certificate(tmp_path)
    seed = load_seed(SEED_FILE)
    platform = Platform(PlatformConfig(seed=seed, tls_cert=str(cert), tls_key=str(key)))
    endpoints = await platform.start()
    try:
        yield RunningPlatform(platform, endpoints, seed), cert
    finally:
        await platform.stop()


async def test_ca_file_trusts_the_platform_end_to_end(
    tls_platform: tuple[RunningPlatform, Path],
) -> None:
    p, cert = tls_platform
    assert p.endpoints.mqtt.startswith("mqtts://")
    config = agent_config(p.endpoints.mqtt, p.secrets[DEVICE], ca_file=str(cert))
    async with running_agent(config):
        http = httpx.AsyncClient(verify=client_context(cert))
        async with http, p.client(http=http) as client:
            created = await client.create_tunnel(DEVICE)
        assert created.tunnel_uri.startswith("wss://")
        source = await Source.open(
            created.tunnel_uri, created.tunnel_access_token, ssl=client_context(cert)
        )
        try:
            await source.login(*LOGIN)
            await source.type("echo tls-$((2+2))\r")
            await source.read_until("tls-4")
        finally:
            await source.close()


async def test_unknown_certificate_is_refused_by_default(
    tls_platform: tuple[RunningPlatform, Path],
) -> None:
    p, _ = tls_platform
    agent = Agent(agent_config(p.endpoints.mqtt, p.secrets[DEVICE]))
    await agent.set_online(True)
    try:
        assert agent.mqtt is not None
        await asyncio.wait_for(agent.mqtt.wait_attempts(2), TIMEOUT)
        assert agent.mqtt.connections == 0
    finally:
        await agent.stop()


async def test_insecure_skips_the_check(tls_platform: tuple[RunningPlatform, Path]) -> None:
    p, _ = tls_platform
    async with running_agent(agent_config(p.endpoints.mqtt, p.secrets[DEVICE], insecure=True)):
        pass  # running_agent waits for an accepted MQTT connection
