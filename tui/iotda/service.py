"""Run a long-lived service until SIGTERM/SIGINT: the platform, an agent, a fleet.

Here, below every part, because the platform and the agent both run as services and
must not import each other (nor reach up into the command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_TIMEOUT = 30.0

SignalActions = dict[int, Callable[[], Awaitable[object]]]


class Runnable(Protocol):
    async def run(self) -> None: ...

    async def stop(self) -> None: ...


@contextlib.asynccontextmanager
async def stop_on_signal(
    extra_signals: SignalActions | None = None,
) -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs.

    `extra_signals` maps other signals (e.g. SIGUSR1 for a fleet) to coroutines to run.
    Install this before announcing readiness: a signal sent right after the announcement
    must stop the service cleanly, not kill the process.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    background: set[asyncio.Task[object]] = set()

    def spawn(action: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.ensure_future(action())
        background.add(task)
        task.add_done_callback(background.discard)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    for sig, action in (extra_signals or {}).items():
        loop.add_signal_handler(sig, spawn, action)
    try:
        yield stop
    finally:
        for sig in (*STOP_SIGNALS, *(extra_signals or {})):
            loop.remove_signal_handler(sig)


async def run_until_signal(target: Runnable, extra_signals: SignalActions | None = None) -> int:
    """Run `target` until SIGTERM or SIGINT (or its own end), then stop it. Returns 0."""
    async with stop_on_signal(extra_signals) as stop:
        runner = asyncio.create_task(target.run())
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
            log.info("stopping")
            await target.stop()
            await asyncio.wait_for(runner, STOP_TIMEOUT)
        finally:
            waiter.cancel()
    return 0
