"""Run an Agent or a Fleet until SIGTERM/SIGINT: sessions get `disconnect`, MQTT
disconnects cleanly, and the process exits 0."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tui.iotda.service import STOP_TIMEOUT, run_until_signal, stop_on_signal

if TYPE_CHECKING:
    from tui.agent.config import MqttEndpoint
    from tui.agent.fleet import Fleet, FleetDevice

EXIT_INTERRUPTED = 130  # as tui.cli's: a command stopped by SIGINT (the agent imports no cli)

log = logging.getLogger(__name__)

INSECURE_WARNING = "--insecure: TLS certificates of MQTT and tunnels are NOT checked"


def agent_main(options: dict[str, object]) -> int:
    """`iotunnel agent`: options by TOML/option name (see config.build_config).

    Raises ConfigError for bad options; other failures are logged, one line, exit 1.
    """
    from tui.agent.agent import Agent
    from tui.agent.config import build_config

    config = build_config(options)
    log.info("agent: %s", config.describe())
    if config.insecure:
        log.warning(INSECURE_WARNING)

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
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """`iotunnel fleet`: SIGUSR1 takes a random device offline, SIGUSR2 brings all back.

    `on_ready` gets one line once every device is connected. Exits 0 on SIGTERM, 130 on
    SIGINT (an interrupted command)."""
    from tui.agent.config import ConfigError, MqttEndpoint
    from tui.agent.fleet import Fleet

    if not devices:
        raise ConfigError("the fleet has no devices")
    endpoint = MqttEndpoint.parse(mqtt_url)
    if insecure:
        log.warning(INSECURE_WARNING)

    async def main() -> int:
        options = {"ca_file": ca_file, "insecure": insecure}
        fleet = Fleet(devices, endpoint, username=username, password=password, **options)
        for device_id, _ in flaps or []:
            if device_id not in fleet.agents:
                raise ConfigError(f"--flap: no device {device_id!r} in the fleet")
        extra = {signal.SIGUSR1: fleet.take_random_offline, signal.SIGUSR2: fleet.all_online}
        async with stop_on_signal(extra) as stop:  # before anything: a prompt signal is clean
            interrupted = False

            def interrupt() -> None:
                nonlocal interrupted
                interrupted = True
                stop.set()

            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupt)
            await fleet.start()
            for device_id, period in flaps or []:
                fleet.start_flap(device_id, period)
            log.info("fleet: %d devices against %s", len(fleet.agents), endpoint)
            ready = asyncio.create_task(_announce(fleet, endpoint, on_ready))
            try:
                await stop.wait()
            finally:
                ready.cancel()
                log.info("stopping")
                await asyncio.wait_for(fleet.stop(), STOP_TIMEOUT)
        return EXIT_INTERRUPTED if interrupted else 0

    return _run(main)


async def _announce(
    fleet: Fleet, endpoint: MqttEndpoint, on_ready: Callable[[str], None] | None
) -> None:
    await fleet.wait_connected()
    line = f"iotunnel: fleet ready: {len(fleet.agents)} devices online via {endpoint}"
    log.info("%s", line.removeprefix("iotunnel: "))
    if on_ready is not None:
        on_ready(line)


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
