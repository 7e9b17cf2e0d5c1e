"""The `pty` backend: a login shell in a local pseudo-terminal.

Used by simulated devices and by a laptop playing a device. The username and password
of a `connect` are checked against the agent's configured credentials (constant-time);
the shell runs as the agent's own user, in its own session with the PTY as controlling
terminal, so job control, Ctrl-C and SIGWINCH behave as on a real login. Closing kills
every process of that session: nothing outlives the tunnel session.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import hmac
import logging
import os
import re
import shutil
import signal
import struct
import termios
from collections.abc import Iterator, Sequence

from tui.agent.backends.base import LoginFailed

log = logging.getLogger(__name__)

READ_SIZE = 65536
# A read of the master gives at most the tty's 4 KB buffer; one that came back this full
# means the program is streaming: the next reads are gathered into one (see read())
TTY_BUFFER_FULL = 4095
GATHER_SIZE = 16384
GATHER_WAIT = 0.001  # seconds; an interactive echo never waits (its read is short)
HANGUP_GRACE = 1.0  # seconds a shell gets to exit on SIGHUP before SIGKILL
# what a shell may inherit; the agent's own environment holds secrets
_ENV_PASSTHROUGH = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ")


def default_shell() -> list[str]:
    bash = shutil.which("bash")
    if bash:
        return [bash, "--noprofile", "--norc", "-i"]
    return ["/bin/sh", "-i"]


def _prompt_safe(text: str) -> str:
    # PS1 undergoes expansion: a device name must not smuggle in `$(…)` or escapes
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "device"


def shell_env(username: str, device_name: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in _ENV_PASSTHROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("HOME", os.path.expanduser("~"))
    env.setdefault("LANG", "C.UTF-8")
    env["TERM"] = "xterm-256color"
    env["HISTFILE"] = ""  # a tunnel session leaves no history file behind
    env["PS1"] = f"{_prompt_safe(username)}@{_prompt_safe(device_name)}:\\w\\$ "
    return env


def _set_winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _make_controlling_tty() -> None:
    # runs in the child after setsid(): stdin is the PTY slave
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@functools.cache
def _setsid() -> str | None:
    """`setsid` (util-linux, busybox), which can give the shell its controlling terminal."""
    return shutil.which("setsid")


def _spawn_options(argv: Sequence[str]) -> tuple[list[str], dict[str, object]]:
    """How to start `argv` in a new session with the PTY (its stdin) as controlling tty.

    With `setsid -c` the exec'd helper does it, so Python starts the child with vfork:
    the event loop waits microseconds. A `preexec_fn` forces a full fork of the agent,
    and the loop waits until that copy has run Python code and exec'd: ~65 ms for a fleet
    of 1,000 devices (500 MB, a thousand threads), seconds when logins come in a burst on
    a busy machine; the platform's keepalive then dropped every device link at once
    (docs/notes.md, "Many devices in one process").
    """
    setsid = _setsid()
    if setsid is not None:
        # not a process group leader (no start_new_session), so setsid execs in place:
        # the shell keeps the pid we track and leads its own session
        return [setsid, "-c", *argv], {}
    return list(argv), {"start_new_session": True, "preexec_fn": _make_controlling_tty}


def proc_stats() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, the /proc/PID/stat fields after the command name) of every live process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        yield int(entry), stat[stat.rfind(b")") + 2 :].split()


def session_members(sid: int) -> list[int]:
    """Pids of every process whose session id is `sid` (listed from /proc).

    One getsid() a process instead of reading its stat file: a fleet closing its shells
    on a host of ~1,800 processes spent 140 ms a scan this way and 25 ms the other, and a
    closing shell scans two or three times, on the event loop.
    """
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):  # gone meanwhile
                if os.getsid(int(entry)) == sid:
                    members.append(int(entry))
    return members


def _give_up(ready: asyncio.Future[bool]) -> None:
    if not ready.done():
        ready.set_result(False)


class PtySession:
    """A running shell on a PTY master that this object owns."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self._proc = proc
        self._master = master
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()  # input the PTY could not take yet
        self._gathered = b""  # output read while the reader was cancelled (see read())
        self._closed = False
        self._ready: asyncio.Future[None] | None = None
        self._watching = False  # the master fd is registered with the event loop
        self._closing: asyncio.Future[None] | None = None
        self._reaper = asyncio.create_task(self._reap())

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(
        cls, argv: Sequence[str], env: dict[str, str], cols: int, rows: int
    ) -> PtySession:
        master, slave = os.openpty()
        try:
            _set_winsize(slave, cols, rows)
            os.set_blocking(master, False)
            command, session = _spawn_options(argv)
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                cwd=env.get("HOME") or None,
                **session,  # type: ignore[arg-type]
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # only the child holds the slave: EOF comes when it is gone
        log.debug("pty shell %d started (%dx%d)", proc.pid, cols, rows)
        return cls(proc, master)

    async def _reap(self) -> None:
        await self._proc.wait()
        # the shell is gone; whatever it left running still holds the PTY open
        self._signal_session(signal.SIGKILL)

    def _signal_session(self, sig: signal.Signals) -> None:
        for pid in {self._proc.pid, *session_members(self._proc.pid)}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    async def read(self) -> bytes:
        """The shell's next output: what one read of the master gives, or, while a program
        streams (the tty's buffer came back full), what it gives in the next moments too,
        up to `GATHER_SIZE`: one frame batch and one write on the way, not one per 4 KB."""
        if self._gathered:  # read before a caller gave up waiting: theirs first
            data, self._gathered = self._gathered, b""
            return data
        data = await self._read_once()
        if len(data) < TTY_BUFFER_FULL:
            return data
        parts, size = [data], len(data)
        try:
            while size < GATHER_SIZE and await self._readable(GATHER_WAIT):
                more = self._read_ready()
                if more is None:
                    continue
                if more:
                    parts.append(more)
                    size += len(more)
                if len(more) < TTY_BUFFER_FULL:
                    break
        except asyncio.CancelledError:
            self._gathered = b"".join(parts)  # never lost: the next read returns it
            raise
        return b"".join(parts)

    async def _read_once(self) -> bytes:
        while not self._closed:
            # wait for epoll first: a read on an empty PTY master waits in the kernel for
            # the tty flush work, stalling the event loop (measured: 5× less throughput)
            await self._readable()
            data = self._read_ready()
            if data is not None:
                return data
        return b""

    def _read_ready(self) -> bytes | None:
        """Read what epoll said is there: b"" at the end, None when it was not after all."""
        if self._closed:
            return b""
        try:
            return os.read(self._master, READ_SIZE)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno == errno.EIO:  # every slave end is closed: the shell ended
                return b""
            raise

    async def _readable(self, within: float | None = None) -> bool:
        """Wait until the master has output (True), or `within` seconds pass (False)."""
        # the reader stays registered while output streams: no epoll_ctl pair per read
        ready = self._ready = self._loop.create_future()
        if not self._watching and not self._closed:
            self._loop.add_reader(self._master, self._on_readable)
            self._watching = True
        if within is None:
            await ready
            return True
        timer = self._loop.call_later(within, _give_up, ready)
        try:
            return await ready
        finally:
            timer.cancel()

    def _on_readable(self) -> None:
        ready = self._ready
        if ready is not None and not ready.done():
            ready.set_result(True)
        elif self._watching:  # nobody is reading now: stop watching until someone is
            self._loop.remove_reader(self._master)
            self._watching = False

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        had_pending = bool(self._pending)
        self._pending += data
        if not had_pending:
            self._flush()

    def _flush(self) -> None:
        if self._closed:
            return
        try:
            while self._pending:
                n = os.write(self._master, self._pending)
                del self._pending[:n]
        except BlockingIOError:
            self._loop.add_writer(self._master, self._flush)
            return
        except OSError as exc:
            log.debug("pty write failed: %s", exc)
            self._pending.clear()
        self._loop.remove_writer(self._master)

    def resize(self, cols: int, rows: int) -> None:
        if not self._closed:
            _set_winsize(self._master, cols, rows)  # the kernel sends SIGWINCH

    async def close(self) -> None:
        # one closing for all callers: the master fd must be closed exactly once
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        if self._proc.returncode is None:
            self._signal_session(signal.SIGHUP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._proc.wait()), HANGUP_GRACE)
        self._signal_session(signal.SIGKILL)
        await self._proc.wait()
        self._closed = True
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(True)  # a pending read() returns b""
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        os.close(self._master)
        self._reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reaper
        log.debug("pty shell %d closed (exit %s)", self._proc.pid, self._proc.returncode)


class PtyBackend:
    """Checks the agent's configured credentials, then starts a local login shell."""

    def __init__(
        self,
        username: str,
        password: str,
        *,
        device_name: str = "device",
        argv: Sequence[str] | None = None,
    ) -> None:
        self._username = username.encode("utf-8", "surrogatepass")
        self._password = password.encode("utf-8", "surrogatepass")
        self._device_name = device_name
        self._argv = list(argv) if argv else default_shell()

    def __repr__(self) -> str:
        return f"PtyBackend(user={self._username.decode()!r}, device={self._device_name!r})"

    async def open(self, username: str, password: str, cols: int, rows: int) -> PtySession:
        # compare both, always: the time taken says nothing about which one was wrong
        # surrogatepass: JSON can carry lone surrogates, which plain encode() rejects
        user_ok = hmac.compare_digest(username.encode("utf-8", "surrogatepass"), self._username)
        password_ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), self._password)
        if not (user_ok and password_ok):
            raise LoginFailed("login failed: bad username or password")
        starting = asyncio.ensure_future(
            PtySession.start(self._argv, shell_env(username, self._device_name), cols, rows)
        )
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            # cancelled while the shell was being spawned: it must not live on unowned
            starting.add_done_callback(_close_when_started)
            raise
        except OSError as exc:
            log.warning("cannot start shell %s: %s", self._argv[0], exc)
            raise LoginFailed("login failed: cannot start a shell") from exc


_abandoned: set[asyncio.Task[None]] = set()


def _close_when_started(starting: asyncio.Future[PtySession]) -> None:
    if starting.cancelled() or starting.exception() is not None:
        return
    task = asyncio.ensure_future(starting.result().close())
    _abandoned.add(task)
    task.add_done_callback(_abandoned.discard)
