"""`iotunnel demo`: the local platform, a simulated fleet and the dashboard, in one process.

Everything listens on 127.0.0.1 (free ports) and keeps its state in a temporary
directory; quitting stops the agents (and their shells), the platform and its sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tui.agent.agent import Agent
from tui.agent.config import MqttEndpoint
from tui.agent.fleet import DEMO_PASSWORD, DEMO_USER, Fleet, FleetDevice
from tui.app.app import IoTunnelApp
from tui.app.config import AppConfig, load_config
from tui.app.factory import make_app
from tui.app.usernames import UsernameStore
from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.platform.config import Credential, PlatformConfig, Seed, SeedDevice
from tui.platform.server import Platform
from tui.session.tokens import TokenStore

log = logging.getLogger(__name__)

DEMO_PROJECT = "demo-project"
DEMO_REGION = "local-1"

# (node_id, product_id, device name, tags)
DEMO_FLEET: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("0001", "boiler", "Boiler room 1", {"site": "berlin", "floor": "-1"}),
    ("0002", "boiler", "Boiler room 2", {"site": "berlin", "floor": "-1"}),
    ("a17", "heat-pump", "Heat pump A17", {"site": "hamburg"}),
    ("a18", "heat-pump", "Heat pump A18", {"site": "hamburg"}),
    ("gw-1", "edge-gateway", "Edge gateway north", {"site": "berlin", "role": "gateway"}),
    ("gw-2", "edge-gateway", "Edge gateway south", {"site": "munich", "role": "gateway"}),
    ("m-104", "meter", "Water meter 104", {"site": "munich"}),
    ("m-105", "meter", "Water meter 105", {"site": "munich"}),
    ("cam-3", "camera", "Loading dock camera", {"site": "hamburg"}),
    ("s-11", "sensor", "Cold store sensor", {"site": "berlin", "zone": "cold"}),
    ("s-12", "sensor", "Server room sensor", {"site": "berlin", "zone": "it"}),
    ("plc-9", "plc", "Packaging line PLC", {"site": "munich"}),
)
OFFLINE = frozenset({"meter_m-105", "camera_cam-3"})
FLAPPING = "sensor_s-12"
FLAP_PERIOD_SECONDS = 45.0  # a pace for the show: live status has something to change

WELCOME = (
    f"Demo fleet on 127.0.0.1. Device login: username {DEMO_USER}, password {DEMO_PASSWORD}.\n"
    "enter/t open a tunnel · / filter · ctrl+] leave the terminal · c close · "
    "D delete · ? help · ctrl+p commands (outside the terminal) · q quit"
)
LOGIN_HINT = f"demo devices: username {DEMO_USER}, password {DEMO_PASSWORD}"


def demo_seed(ak: str, sk: str) -> Seed:
    devices = tuple(
        SeedDevice(
            device_id=f"{product}_{node}",
            node_id=node,
            product_id=product,
            secret=secrets.token_hex(12),
            device_name=name,
            tags=tuple(tags.items()),
        )
        for node, product, name, tags in DEMO_FLEET
    )
    return Seed(
        project_id=DEMO_PROJECT,
        region=DEMO_REGION,
        credentials=(Credential(ak, sk),),
        devices=devices,
    )


@dataclass
class DemoEnvironment:
    platform: Platform
    client: IoTDAClient
    fleet: Fleet
    state: Path

    @property
    def agents(self) -> list[Agent]:
        return list(self.fleet.agents.values())

    def app(self, config: AppConfig | None = None) -> IoTunnelApp:
        return make_app(
            client=self.client,
            config=config or AppConfig(refresh_interval=5.0),
            token_store=TokenStore(self.state / "tokens.json"),
            usernames=UsernameStore(self.state / "usernames.json"),
            welcome=WELCOME,
            profile_name="demo",
            login_hint=LOGIN_HINT,
        )


@contextlib.asynccontextmanager
async def demo_environment(*, flap: bool = True) -> AsyncIterator[DemoEnvironment]:
    """Platform + agents on loopback with temporary state; all stopped on the way out."""
    ak, sk = "DEMO" + secrets.token_hex(8).upper(), secrets.token_hex(20)
    seed = demo_seed(ak, sk)
    with tempfile.TemporaryDirectory(prefix="iotunnel-demo-") as temp:
        state = Path(temp)
        platform = Platform(PlatformConfig(seed=seed, state_path=str(state / "platform.db")))
        endpoints = await platform.start()
        online = [d for d in seed.devices if d.device_id not in OFFLINE]
        fleet = Fleet(
            (FleetDevice(d.device_id, d.secret, d.device_name) for d in online),
            MqttEndpoint.parse(endpoints.mqtt or ""),
            username=DEMO_USER,
            password=DEMO_PASSWORD,
        )
        try:
            for device_id in OFFLINE:
                platform.set_device_online(device_id, False)
            await fleet.start()
            if flap:
                fleet.start_flap(FLAPPING, FLAP_PERIOD_SECONDS)
            auth = AkSkAuth(ak, sk, region=DEMO_REGION)
            async with IoTDAClient(endpoints.rest, DEMO_PROJECT, auth) as client:
                yield DemoEnvironment(platform, client, fleet, state)
        finally:
            # the fleet stops its flapping and every agent (their shells end with them)
            try:
                await fleet.stop()
            finally:
                await platform.stop()


# A closed terminal (an SSH drop, a killed tmux) sends SIGHUP; its default action would
# end the process at once and leave the temporary state (tunnel tokens) behind.
QUIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


async def run_demo(config: AppConfig | None = None) -> int:
    """Run the whole demo until the user quits or a SIGHUP/SIGTERM; returns the exit code.

    Either way the fleet and the platform stop and the temporary directory goes."""
    async with demo_environment() as env:
        app = env.app(config)
        loop = asyncio.get_running_loop()

        def quit_on(signum: int) -> None:
            log.info("signal %d: the demo quits", signum)
            app.exit(return_code=128 + signum)

        for signum in QUIT_SIGNALS:
            loop.add_signal_handler(signum, quit_on, signum)
        try:
            await app.run_async()
        finally:
            for signum in QUIT_SIGNALS:
                loop.remove_signal_handler(signum)
        return int(app.return_code or 0)


def main_demo(record: bool = False) -> int:
    """Entry point for the CLI: the user's theme, keys and thresholds apply to the demo too."""
    user = load_config()
    config = AppConfig(
        theme=user.theme,
        refresh_interval=min(user.refresh_interval, 5.0),
        connect_timeout=user.connect_timeout,
        countdown=user.countdown,
        keymap=user.keymap,
        record_sessions=record or user.record_sessions,
        confirm=user.confirm,
    )
    return asyncio.run(run_demo(config))
