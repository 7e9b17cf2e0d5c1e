"""The output queue: small pieces, time-boxed slices, the loop runs in between."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui.terminal.feeder import PIECE_BYTES, OutputQueue
from tui.terminal.pyte_backend import PyteBackend

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"


async def test_a_flood_is_fed_in_pieces_and_the_loop_runs_between_slices() -> None:
    backend = PyteBackend()
    pieces: list[int] = []
    slices = 0

    def feed(data: bytes) -> None:
        pieces.append(len(data))
        backend.feed(data)

    def after_slice() -> None:
        nonlocal slices
        slices += 1

    queue = OutputQueue(feed, after_slice)
    flood = (FIXTURES / "top.raw").read_bytes() * 200  # far more than one slice of work
    queue.append(flood)
    turns_while_pending = 0

    async def other_work() -> None:  # stands for keys and paints
        nonlocal turns_while_pending
        while queue:
            turns_while_pending += 1
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(queue.drain(), other_work()), 120)
    assert sum(pieces) == len(flood) and max(pieces) <= PIECE_BYTES
    assert slices > 1 and turns_while_pending > 1
    assert queue.pending_bytes == 0
    await queue.wait_drained(1)


async def test_flush_feeds_everything_and_reports_low() -> None:
    seen: list[bytes] = []
    states: list[bool] = []
    queue = OutputQueue(seen.append, lambda: None, on_backlog=states.append, high_water=10)
    queue.append(b"0123456789abc")
    queue.flush()
    assert b"".join(seen) == b"0123456789abc" and states == [True, False]
