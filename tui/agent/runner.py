"""Run an Agent or a Fleet until SIGTERM/SIGINT: sessions get `disconnect`, MQTT
disconnects cleanly, and the process exits 0."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tui.iotda.service import run_until_signal

if TYPE_CHECKING:
    from tui.agent.fleet import FleetDevice

log = logging.getLogger(__name__)


def agent_main(options: dict[str, object]) -> int:
    """`iotunnel agent`: options by TOML/option name (see config.build_config).

    Raises ConfigError for bad options; other failures are logged, one line, exit 1.
    """
    from tui.agent.agent import Agent
    from tui.agent.config import build_config

    config = build_config(options)
    log.info("agent: %s", config.describe())

    async def main() -> int:
        return await run_until_signal(Agent(config))

    return _run(main)


def fleet_main(
    devices: list[FleetDevice],
    mqtt_url: str,
    *,
    username: str,
    password: str,
    flaps: list[tuple[str, float]] | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
) -> int:
    """`iotunnel fleet`: SIGUSR1 takes a random device offline, SIGUSR2 brings all back."""
    from tui.agent.config import ConfigError, MqttEndpoint
    from tui.agent.fleet import Fleet

    if not devices:
        raise ConfigError("the fleet has no devices")
    endpoint = MqttEndpoint.parse(mqtt_url)

    async def main() -> int:
        options = {"ca_file": ca_file, "insecure": insecure}
        fleet = Fleet(devices, endpoint, username=username, password=password, **options)
        for device_id, _ in flaps or []:
            if device_id not in fleet.agents:
                raise ConfigError(f"--flap: no device {device_id!r} in the fleet")
        await fleet.start()
        for device_id, period in flaps or []:
            fleet.start_flap(device_id, period)
        log.info("fleet: %d devices against %s", len(fleet.agents), endpoint)
        extra = {signal.SIGUSR1: fleet.take_random_offline, signal.SIGUSR2: fleet.all_online}
        return await run_until_signal(fleet, extra)

    return _run(main)


def _run(main: Callable[[], Awaitable[int]]) -> int:
    from tui.agent.config import ConfigError

    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except ConfigError:
        raise
    except Exception as exc:  # one line for the user; the traceback only in a debug log
        log.debug("agent failed", exc_info=True)
        log.error("failed: %s", exc)
        return 1
