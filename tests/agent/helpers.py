"""Process checks shared by the agent tests: nothing may outlive a session."""

from __future__ import annotations

import asyncio
import contextlib
import os

from tui.agent.backends.base import ShellSession
from tui.agent.backends.pty import proc_stats


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is `pid`."""
    return [child for child, fields in proc_stats() if int(fields[1]) == pid and fields[0] != b"Z"]


def open_fds() -> set[str]:
    """This process's open descriptors that point at a pty (what a leak would be)."""
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "ptmx" in target or "/dev/pts/" in target:
            fds.add(f"{fd}->{target}")
    return fds


async def wait_exit(pid: int, timeout: float = 30.0) -> None:
    """Wait until `pid` has terminated: a pidfd turns readable at exit (no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(fd, lambda: done.done() or done.set_result(None))
    try:
        if alive(pid):
            await asyncio.wait_for(done, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 whose live connections the test can cut (a network drop)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._writers: list[asyncio.StreamWriter] = []
        self._flows: list[list[bool]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]
        flowing = [True]
        self._flows.append(flowing)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if flowing[0]:
                        dst.write(data)
                        await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def freeze(self) -> None:
        """Live connections stay open but carry nothing more: a link gone silent."""
        for flowing in self._flows:
            flowing[0] = False
        self._flows.clear()

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def read_until(session: ShellSession, marker: bytes, timeout: float = 30.0) -> bytes:
    """A shell session's output up to and including `marker` (or up to its end)."""
    seen = b""

    async def loop() -> bytes:
        nonlocal seen
        while marker not in seen:
            data = await session.read()
            if not data:
                break
            seen += data
        return seen

    return await asyncio.wait_for(loop(), timeout)
