"""A `TerminalPane` on a local pty running a real shell: the pane as a user meets it.

Run it by hand (e.g. inside tmux) to try vim, top, less, paste, resize and scrollback:

    python -m tests.terminal.shell_harness [--shell bash] [--scrollback N]

The tests use `ShellApp` directly. It also shows the embedding contract: `on_input`
writes to the transport, `on_resize` reports the size (here TIOCSWINSZ, in a session the
`resize` extension) and `on_backlog` pauses reading while the emulator is behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Sequence
from typing import Any

from textual.app import App, ComposeResult

from tui.terminal import TerminalPane

log = logging.getLogger(__name__)
READ_BYTES = 65536
# A transport hands over whatever it has buffered at once (a WebSocket yields many
# frames per loop turn): read greedily, up to this much per wake-up, so a flood can
# outrun the emulator and the backpressure is what keeps memory bounded.
BURST_BYTES = 1 << 20


class PtyShell:
    """A child process on a pseudo-terminal; the parent keeps the master fd."""

    def __init__(self, argv: Sequence[str], cols: int = 80, rows: int = 24) -> None:
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        pid, fd = pty.fork()
        if pid == 0:  # the child: exec the shell, never return into Python's test code
            try:
                os.execvpe(argv[0], list(argv), env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        os.set_blocking(fd, False)
        self.resize(cols, rows)

    def resize(self, cols: int, rows: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # a big paste can exceed the pty buffer: finish the write
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)  # the shell reads it soon
            except OSError:
                return  # the shell is gone

    def close(self, grace: float = 5.0) -> None:
        """Hang up like a closed terminal window; kill the shell if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGHUP)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        deadline = time.monotonic() + grace
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.01)  # teardown only: a few ms for the shell to exit


class ShellApp(App[None]):
    """One full-size pane wired to a `PtyShell`; ctrl+] (leave) quits."""

    TITLE = "iotunnel terminal harness"
    CSS = "TerminalPane { width: 1fr; height: 1fr; }"

    def __init__(self, argv: Sequence[str] = ("bash", "--norc", "-i"), **pane_kwargs: Any) -> None:
        super().__init__()
        self.argv = list(argv)
        self.pane_kwargs = pane_kwargs
        self.shell: PtyShell | None = None
        self.pane: TerminalPane | None = None
        # What tests wait on instead of sleeping: set on every read and every resize.
        self.received = asyncio.Event()
        self.resized = asyncio.Event()
        self.exited = asyncio.Event()
        self.sizes: list[tuple[int, int]] = []
        self.paused_reads = 0  # how often backpressure stopped reading the pty
        self.peak_backlog = 0  # most bytes ever waiting for the emulator

    def compose(self) -> ComposeResult:
        yield TerminalPane(
            on_input=self._to_shell,
            on_resize=self._resize,
            on_backlog=self._backlog,
            **self.pane_kwargs,
        )

    def on_mount(self) -> None:
        self.pane = pane = self.query_one(TerminalPane)
        pane.focus()
        self.shell = PtyShell(self.argv, pane.backend.columns, pane.backend.lines)
        asyncio.get_running_loop().add_reader(self.shell.fd, self._from_shell)

    def _from_shell(self) -> None:
        assert self.shell is not None and self.pane is not None
        chunks: list[bytes] = []
        size, closed = 0, False
        while size < BURST_BYTES:
            try:
                chunk = os.read(self.shell.fd, READ_BYTES)
            except BlockingIOError:
                break
            except OSError:  # EIO: the shell and every child closed the pty
                chunk = b""
            if not chunk:
                closed = True
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        if data:
            self.pane.feed(data)
            self.peak_backlog = max(self.peak_backlog, self.pane.pending_bytes)
            self.received.set()
        if closed:
            asyncio.get_running_loop().remove_reader(self.shell.fd)
            self.exited.set()
            self.received.set()

    def _backlog(self, high: bool) -> None:
        if self.shell is None or self.exited.is_set():
            return
        loop = asyncio.get_running_loop()
        if high:
            self.paused_reads += 1
            loop.remove_reader(self.shell.fd)
        else:
            loop.add_reader(self.shell.fd, self._from_shell)
        self.received.set()

    def _to_shell(self, data: bytes) -> None:
        if self.shell is not None:
            self.shell.write(data)

    def _resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))
        if self.shell is not None:
            self.shell.resize(cols, rows)
        self.resized.set()

    def on_terminal_pane_leave_requested(self) -> None:
        self.exit()

    def on_unmount(self) -> None:
        if self.shell is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self.shell.fd)
            self.shell.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shell", default="bash")
    parser.add_argument("--scrollback", type=int, default=10_000)
    parser.add_argument("--log-file", help="debug log (never the screen)")
    args = parser.parse_args()
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.DEBUG)
    ShellApp([args.shell, "--norc", "-i"], scrollback=args.scrollback).run()


if __name__ == "__main__":
    main()
