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


async def test_frames_are_joined_into_pieces_in_order() -> None:
    """2 KB frames from the WebSocket reach the emulator in as few calls as fit a piece
    (each call has a fixed cost); a larger chunk is still split; nothing is reordered."""
    calls: list[bytes] = []
    queue = OutputQueue(calls.append, lambda: None, piece_bytes=8192)
    frames = [bytes([65 + n % 26]) * 2048 for n in range(9)]
    big = b"z" * 20000
    for frame in frames:
        queue.append(frame)
    queue.append(big)
    queue.append(b"tail")
    await asyncio.wait_for(queue.drain(), 10)
    assert b"".join(calls) == b"".join(frames) + big + b"tail"
    assert [len(c) for c in calls] == [8192, 8192, 2048, 8192, 8192, 3620]
    assert queue.pending_bytes == 0
