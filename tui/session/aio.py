"""Small asyncio helpers of the session."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any


async def unless_set(event: asyncio.Event, awaitable: Awaitable[Any]) -> Any:
    """Await `awaitable` unless `event` is set first: then cancel it and return None."""
    task = asyncio.ensure_future(awaitable)
    waiter = asyncio.create_task(event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()  # the caller was cancelled: leave no orphan behind
        raise
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None
