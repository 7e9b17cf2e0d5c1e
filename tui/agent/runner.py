"""Run an Agent or a Fleet until SIGTERM/SIGINT: sessions get `disconnect`, MQTT
disconnects cleanly, and the process exits 0."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui.agent.fleet import FleetDevice

log = logging.getLogger(__name__)


class Runnable(Protocol):
    async def run(self) -> None: ...

    async def stop(self) -> None: ...


async def run_until_signal(
    target: Runnable, extra_signals: dict[int, Callable[[], Awaitable[object]]] | None = None
) -> int:
    """Run `target` until SIGTERM or SIGINT, then stop it. Returns the exit code (0).

    `extra_signals` maps other signals (e.g. SIGUSR1 for a fleet) to coroutines to run.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    background: set[asyncio.Task[object]] = set()

    def spawn(action: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.ensure_future(action())
        background.add(task)
        task.add_done_callback(background.discard)

    for sig, action in (extra_signals or {}).items():
        loop.add_signal_handler(sig, spawn, action)
    runner = asyncio.create_task(target.run())
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping")
        await target.stop()
        await asyncio.wait_for(runner, 30)
    finally:
        waiter.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT, *(extra_signals or {})):
            loop.remove_signal_handler(sig)
    return 0


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
