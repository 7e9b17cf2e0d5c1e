"""The agent hands the frames of one read to its socket in one write (issue 9)."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from tui.agent.sessions import send_together
from tui.iotda.frames import new_request_id, output_frame_text


async def test_frames_sent_together_arrive_as_separate_messages_from_one_write():
    received: asyncio.Queue[str] = asyncio.Queue()

    async def collect(ws: ServerConnection) -> None:
        async for message in ws:
            await received.put(message)

    texts = [output_frame_text(new_request_id(), f"chunk {i} é €\r\n" * 50) for i in range(8)]
    async with (
        serve(collect, "127.0.0.1", 0, compression=None) as server,
        connect(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", compression=None) as ws,
    ):
        writes: list[int] = []
        write = ws.transport.write
        ws.transport.write = lambda data: (writes.append(len(data)), write(data))[1]
        await send_together(ws, texts)
        await send_together(ws, ["alone"])
        async with asyncio.timeout(10):
            assert [await received.get() for _ in range(9)] == [*texts, "alone"]
        assert len(writes) == 2  # one for the eight frames, one for the single one
