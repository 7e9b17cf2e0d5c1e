"""A real local platform, real pty agents and the dashboard built by `make_app`.

async with dashboard_env(agents=["boiler_0001"]) as env:
    app = env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from textual.screen import Screen

from tests.support.platform import RunningPlatform, running_platform
from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint
from tui.app.app import IoTunnelApp
from tui.app.config import AppConfig
from tui.app.factory import make_app

LOGIN_USER = "demo"
LOGIN_PASSWORD = "demo"
TIMEOUT = 30.0


@dataclass
class DashboardEnv:
    platform: RunningPlatform
    client: Any
    agents: dict[str, Agent] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def app(self, **kwargs: Any) -> IoTunnelApp:
        kwargs.setdefault("config", AppConfig(refresh_interval=60.0))
        return make_app(client=self.client, **kwargs)

    async def start_agent(self, device_id: str) -> Agent:
        config = AgentConfig(
            device_id=device_id,
            secret=self.platform.secrets[device_id],
            mqtt=MqttEndpoint.parse(self.platform.endpoints.mqtt or ""),
            backend="pty",
            login_user=LOGIN_USER,
            login_password=LOGIN_PASSWORD,
            tunnel_retry_step=0.1,
            mqtt_backoff_initial=0.1,
            mqtt_backoff_max=0.5,
        )
        agent = Agent(config)
        self.agents[device_id] = agent
        # online before run() (which then only waits for stop()), so the link exists
        await agent.set_online(True)
        self.tasks.append(asyncio.create_task(agent.run()))
        await asyncio.wait_for(agent.wait_connected(), TIMEOUT)
        return agent


@contextlib.asynccontextmanager
async def dashboard_env(
    *, agents: tuple[str, ...] = ("boiler_0001",), token_ttl: int = 86_400
) -> AsyncIterator[DashboardEnv]:
    async with running_platform(token_ttl=token_ttl) as platform, platform.client() as client:
        env = DashboardEnv(platform, client)
        try:
            for device_id in agents:
                await env.start_agent(device_id)
            yield env
        finally:
            for agent in env.agents.values():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(agent.stop(), TIMEOUT)
            for task in env.tasks:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, TIMEOUT)


async def wait_for(
    app: IoTunnelApp, predicate: Callable[[], object], timeout: float = TIMEOUT
) -> None:
    await app.wait_until(predicate, timeout)


def dialog_ready(app: IoTunnelApp, kind: type[Screen] | tuple[type[Screen], ...]) -> bool:
    """True once a dialog of `kind` is on top *and composed*: a screen is on the stack
    (and `app.screen`) before its widgets exist, and querying it then raises NoMatches."""
    screen = app.screen
    return isinstance(screen, kind) and screen.is_mounted and bool(screen.query(".dialog"))


async def wait_for_dialog(
    app: IoTunnelApp,
    kind: type[Screen] | tuple[type[Screen], ...],
    timeout: float = TIMEOUT,
) -> Screen:
    await wait_for(app, lambda: dialog_ready(app, kind), timeout)
    return app.screen


def big_fleet_seed(count: int):  # -> tui.platform.config.Seed
    """A seed with `count` devices over a few products and sites (for paging tests)."""
    from tui.platform.config import Credential, Seed, SeedDevice

    products = ("boiler", "pump", "meter", "sensor", "camera", "gateway", "plc", "valve")
    devices = tuple(
        SeedDevice(
            device_id=f"{products[i % 8]}_{i:05d}",
            node_id=f"{i:05d}",
            product_id=products[i % 8],
            secret=f"secret-{i:05d}",
            device_name=f"{products[i % 8].title()} {i:05d}",
            tags=(("site", ("berlin", "hamburg", "munich")[i % 3]),),
        )
        for i in range(count)
    )
    return Seed(
        project_id="fleet",
        region="local-1",
        credentials=(Credential("AKFLEET000000001", "SKFLEETSECRET0001"),),
        devices=devices,
    )


def burst(app: IoTunnelApp, *keys: str) -> None:
    """Hand the app all `keys` in one read, as a slow SSH link or `tmux send-keys -l` does
    (the pilot's `press` waits for the app to be idle after every key; a person on a
    slow link does not). Keys as for `pilot.press`: "a", "enter", "tab", "ctrl+…"."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    driver = app._driver
    assert driver is not None
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        original = REPLACED_KEYS.get(key, key)
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(original))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        driver.send_message(event)


def typed(text: str) -> list[str]:
    """The keys of `text` as typed: "\\t" is tab, "\\r" is enter."""
    names = {"\t": "tab", "\r": "enter", "\n": "enter"}
    return [names.get(c, c) for c in text]
