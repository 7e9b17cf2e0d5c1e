"""A TCP proxy on 127.0.0.1 that behaves like a slow link: every byte is delayed by
`latency` seconds each way, and what arrived within one `tick` leaves in one write (so
keys typed one by one reach the far end as a burst, as over a mobile link).

    with LatencyProxy(target_port, latency=0.1) as proxy:
        proxy.port      # connect here instead of target_port

It runs its own event loop in a thread, so plain (sync) tests can use it; every socket
it opened is closed when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from types import TracebackType

TICK_SECONDS = 0.05


class LatencyProxy:
    def __init__(self, target_port: int, *, latency: float = 0.1, tick: float = TICK_SECONDS):
        self.target_port = target_port
        self.latency = latency
        self.tick = tick
        self.port = 0
        self.bursts = 0  # writes made (each may carry many reads' worth of bytes)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        self._spawn(self._pipe(reader, up_writer))
        self._spawn(self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pending: deque[tuple[float, bytes]] = deque()
        arrived = asyncio.Event()
        sender = asyncio.ensure_future(self._send_later(pending, arrived, writer))
        try:
            while data := await reader.read(65536):
                pending.append((time.monotonic() + self.latency, data))
                arrived.set()
        except (ConnectionError, OSError):
            pass
        finally:
            pending.append((time.monotonic() + self.latency, b""))  # the end, after the rest
            arrived.set()
            with contextlib.suppress(BaseException):
                await sender

    async def _send_later(
        self,
        pending: deque[tuple[float, bytes]],
        arrived: asyncio.Event,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            while True:
                while not pending:
                    arrived.clear()
                    await arrived.wait()
                # wait for the first byte's time, rounded up to the next tick
                wait = max(0.0, pending[0][0] - time.monotonic())
                await asyncio.sleep(wait + self.tick - (wait % self.tick))
                now, chunks, done = time.monotonic(), [], False
                while pending and pending[0][0] <= now:  # all that is due: one write
                    _, data = pending.popleft()
                    if data == b"":
                        done = True
                        break
                    chunks.append(data)
                if chunks:
                    writer.write(b"".join(chunks))
                    self.bursts += 1
                    await writer.drain()
                if done:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
