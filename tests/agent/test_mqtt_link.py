"""MqttLink: capped backoff with jitter, the one-line messages a user sees, and a clean
DISCONNECT when the agent stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from tests.agent.test_agent_platform import agent_config, running_agent
from tests.support.platform import RunningPlatform, running_platform
from tui.agent.config import MqttEndpoint
from tui.agent.mqtt_link import MqttLink

TIMEOUT = 30.0
DEVICE = "boiler_0001"


@pytest.fixture
async def platform() -> AsyncIterator[RunningPlatform]:
    async with running_platform() as p:
        yield p


@contextlib.asynccontextmanager
async def running_link(link: MqttLink) -> AsyncIterator[MqttLink]:
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        await link.stop()
        await asyncio.wait_for(task, TIMEOUT)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_backoff_grows_capped_with_jitter_and_says_so(
    unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = MqttEndpoint("127.0.0.1", unused_tcp_port, False)
    link = MqttLink(
        DEVICE, "s3cret-device", endpoint, lambda _: None, backoff_initial=0.02, backoff_max=0.16
    )
    async with running_link(link):
        await asyncio.wait_for(link.wait_attempts(7), TIMEOUT)
    delays = list(link.retry_delays)[:6]
    for failures, delay in enumerate(delays, start=1):
        ceiling = min(0.16, 0.02 * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling  # exponential, capped, with jitter
    lines = warnings(caplog)
    assert len(lines) >= 6
    # one line per failed attempt, saying what failed and what happens next
    assert all("cannot connect to mqtt://127.0.0.1" in line for line in lines)
    assert all("retrying in" in line for line in lines)
    assert not any("s3cret-device" in line for line in lines)


async def test_wrong_secret_is_reported_as_refused_login(
    platform: RunningPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = MqttEndpoint.parse(platform.endpoints.mqtt)
    link = MqttLink(DEVICE, "not-the-secret", endpoint, lambda _: None, backoff_initial=0.02)
    async with running_link(link):
        await asyncio.wait_for(link.wait_attempts(2), TIMEOUT)
    assert link.connections == 0
    refused = [line for line in warnings(caplog) if "refused the login" in line]
    assert refused and "check the device id and secret" in refused[0]
    assert "not-the-secret" not in caplog.text


async def test_two_agents_with_one_device_id_back_off(
    platform: RunningPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    # the gateway hands the session to the newest connection: two links take it from each
    # other; each short-lived connection must count as a failure, or they fight at 1 Hz
    endpoint = MqttEndpoint.parse(platform.endpoints.mqtt)
    secret = platform.secrets[DEVICE]
    links = [
        MqttLink(DEVICE, secret, endpoint, lambda _: None, backoff_initial=0.05, backoff_max=0.4)
        for _ in range(2)
    ]
    async with running_link(links[0]), running_link(links[1]):
        await asyncio.wait_for(links[0].wait_attempts(4), TIMEOUT)
    assert max(links[0].retry_delays) > 0.05  # the backoff grew
    assert any("another agent" in line for line in warnings(caplog))


async def test_stop_sends_a_clean_disconnect(
    platform: RunningPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tui.platform.mqtt.gateway")
    config = agent_config(platform.endpoints.mqtt, platform.secrets[DEVICE])
    async with running_agent(config):
        await platform.wait_device(DEVICE, "ONLINE")
    await platform.wait_device(DEVICE, "OFFLINE")
    # the gateway logs this only for a DISCONNECT packet, not for a dropped socket
    assert f"device {DEVICE} disconnected" in caplog.text
