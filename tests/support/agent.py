"""A device agent (pty backend) running in the test's event loop, for any suite.

    async with running_agent(agent_config(p.endpoints.mqtt, p.secrets[DEVICE])) as agent:
        ...  # the agent is connected to the platform's MQTT gateway here

On leaving, the agent is stopped and nothing it started may outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from tests.agent.helpers import children_of
from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint

TIMEOUT = 30.0
DEVICE = "boiler_0001"
LOGIN = ("demo", "demo-password")


def agent_config(
    mqtt_url: str, secret: str, device_id: str = DEVICE, **extra: object
) -> AgentConfig:
    values: dict[str, object] = {
        "device_id": device_id,
        "secret": secret,
        "mqtt": MqttEndpoint.parse(mqtt_url),
        "backend": "pty",
        "login_user": LOGIN[0],
        "login_password": LOGIN[1],
        "device_name": "Boiler room 1",
        # quick retries: the test waits on events, never on these delays
        "tunnel_retry_step": 0.2,
        "mqtt_backoff_initial": 0.2,
        "mqtt_backoff_max": 1.0,
    }
    values.update(extra)
    return AgentConfig(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_agent(config: AgentConfig, **kwargs: object) -> AsyncIterator[Agent]:
    agent = Agent(config, **kwargs)  # type: ignore[arg-type]
    await agent.set_online(True)
    try:
        await asyncio.wait_for(agent.wait_connected(), TIMEOUT)
        yield agent
    finally:
        await agent.stop()
        # nothing the agent started may outlive it
        assert children_of(os.getpid()) == []
