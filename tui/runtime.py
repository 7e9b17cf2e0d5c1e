"""Run a long-lived service until SIGTERM/SIGINT (the platform, an agent, a fleet); record a crash.

Neutral ground: the platform and the agent must not import each other, and signal
handling belongs to neither the wire contract (tui/iotda) nor one part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

from tui.iotda.localstate import open_private, state_dir, touch_private

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

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


def record_crash(exc: BaseException) -> str:
    """Append the traceback to the private log file; return where it went."""
    import traceback

    try:
        path = touch_private(state_dir() / "iotunnel.log")
        with os.fdopen(open_private(path, "a"), "a", encoding="utf-8") as log_file:
            log_file.write("".join(traceback.format_exception(exc)))
        return str(path)
    except OSError:
        return "nowhere (the state directory is not writable)"


def configure_logging(verbose: int, log_file: str | None = None) -> None:
    """-v: INFO, -vv: DEBUG, to stderr; a --log-file gets DEBUG and is the user's only."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler: logging.Handler
    if log_file:
        # a debug log may hold device names, user names, request ids: the user's eyes only
        handler = logging.FileHandler(touch_private(Path(log_file)))
        level = logging.DEBUG
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def log_to_state_file() -> None:
    """Send log lines to `$XDG_STATE_HOME/iotunnel/iotunnel.log` (0600), keeping the level."""
    handler = logging.FileHandler(touch_private(state_dir() / "iotunnel.log"))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=logging.getLogger().level, handlers=[handler], force=True)
