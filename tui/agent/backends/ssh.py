"""The `ssh` backend: log in to the device's own SSH server, as the C SDK does.

The username and password of a `connect` frame go to the SSH server unchanged; the
agent checks nothing itself. The server is the device's own (loopback by default), so
its host key is not checked: there is no known_hosts to check it against on a device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncssh

from tui.agent.backends.base import LoginFailed

log = logging.getLogger(__name__)

READ_SIZE = 65536
TERM_TYPE = "xterm-256color"


class SshSession:
    """A shell channel of an asyncssh client connection that this object owns."""

    def __init__(
        self, conn: asyncssh.SSHClientConnection, process: asyncssh.SSHClientProcess
    ) -> None:
        self._conn = conn
        self._process = process
        self._closed = False

    async def read(self) -> bytes:
        if self._closed:
            return b""
        try:
            data = await self._process.stdout.read(READ_SIZE)
        except (asyncssh.Error, OSError) as exc:
            log.debug("ssh read ended: %s", exc)
            return b""
        return data if isinstance(data, bytes) else data.encode()

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        try:
            self._process.stdin.write(data)
        except (asyncssh.Error, OSError, BrokenPipeError) as exc:
            log.debug("ssh write failed: %s", exc)

    def resize(self, cols: int, rows: int) -> None:
        if self._closed:
            return
        try:
            self._process.change_terminal_size(cols, rows)
        except (asyncssh.Error, OSError) as exc:
            log.debug("ssh resize failed: %s", exc)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._process.close()
        self._conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.wait_closed(), 5.0)


class SshBackend:
    """Opens a shell on an SSH server with the credentials of a `connect` frame."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 22, *, login_timeout: float = 20.0
    ) -> None:
        self._host = host
        self._port = port
        self._login_timeout = login_timeout

    def __repr__(self) -> str:
        return f"SshBackend({self._host}:{self._port})"

    async def open(self, username: str, password: str, cols: int, rows: int) -> SshSession:
        try:
            conn = await asyncssh.connect(
                self._host,
                self._port,
                username=username,
                password=password,
                known_hosts=None,
                # only the tunnel's credentials: never the agent user's keys or agent
                client_keys=None,
                agent_path=None,
                preferred_auth="password,keyboard-interactive",
                login_timeout=self._login_timeout,
                connect_timeout=self._login_timeout,
            )
        except asyncssh.PermissionDenied as exc:
            raise LoginFailed("login failed: bad username or password") from exc
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            log.warning("ssh to %s:%d failed: %s", self._host, self._port, exc)
            raise LoginFailed(
                f"login failed: ssh server unavailable ({type(exc).__name__})"
            ) from exc
        try:
            process = await conn.create_process(
                term_type=TERM_TYPE, term_size=(cols, rows), encoding=None
            )
        except (asyncssh.Error, OSError) as exc:
            conn.close()
            log.warning("ssh shell on %s:%d refused: %s", self._host, self._port, exc)
            raise LoginFailed("login failed: the ssh server refused a shell") from exc
        except BaseException:  # cancelled: the connection must not outlive the attempt
            conn.close()
            raise
        return SshSession(conn, process)
