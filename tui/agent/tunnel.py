"""The device side of one tunnel WebSocket (PROTOCOL.md §5), behaving as the C SDK does.

`connect` is answered at once with `connect_response`, then the backend logs in; output
flows back in `command_response` frames of at most 2048 UTF-8 bytes that carry the
request id of the latest connect/command. One shell session at a time: a new `connect`
ends the old one. A malformed or unknown frame is logged and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from tui.agent.backends.base import LoginFailed, ShellBackend, ShellSession
from tui.iotda.errors import ProtocolError
from tui.iotda.frames import (
    DEVICE_PING_INTERVAL,
    SSH_TIMEOUT_REQUEST_ID,
    TOKEN_HEADER,
    CloseCode,
    Disconnect,
    DisconnectCode,
    Op,
    OutputChunker,
    Resize,
    TunnelFrame,
    decode_frame,
    disconnect_frame,
)
from tui.iotda.mqtt import TunnelNotify
from tui.iotda.paths import tunnel_id_from_uri
from tui.iotda.redact import quiet_logger

log = logging.getLogger(__name__)
# websockets logs request headers at DEBUG, the device token among them: never that verbose
_WS_LOG = quiet_logger(f"{__name__}.websocket")

MAX_RETRIES = 10
DEFAULT_COLS, DEFAULT_ROWS = 128, 30
# the platform refuses frames over 10 KB; accept bigger ones here so that one bad frame is
# dropped by decode_frame instead of closing the whole tunnel with 1009
MAX_MESSAGE = 1 << 20
_GIVE_UP_STATUS = frozenset({400, 401, 403, 404})


class DeviceTunnel:
    """Connects to `tunnel_uri` with the device token and serves shell sessions over it."""

    def __init__(
        self,
        notify: TunnelNotify,
        backend: ShellBackend,
        *,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 30 * 60.0,
        cols: int = DEFAULT_COLS,
        rows: int = DEFAULT_ROWS,
        retry_step: float = 1.0,
        max_retries: int = MAX_RETRIES,
        ping_interval: float = DEVICE_PING_INTERVAL,
        on_finished: Callable[[DeviceTunnel], None] | None = None,
    ) -> None:
        self.notify = notify
        self.tunnel_id = tunnel_id_from_uri(notify.tunnel_uri)
        self._backend = backend
        self._ssl = ssl_context
        self._idle_timeout = idle_timeout
        self._size = (cols, rows)
        self._retry_step = retry_step
        self._max_retries = max_retries
        self._ping_interval = ping_interval
        self._on_finished = on_finished
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._session: ShellSession | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._request_id = ""
        self._early_input: list[bytes] = []
        self._last_input = 0.0
        self.connected = asyncio.Event()
        self.finished = asyncio.Event()  # run() has returned: no more retries
        self.sessions_started = 0  # shells opened over this tunnel, for tests and stats

    def __repr__(self) -> str:
        return f"DeviceTunnel({self.tunnel_id!r}, connected={self.connected.is_set()})"

    @property
    def has_session(self) -> bool:
        return self._session is not None

    # --- connection and reconnect policy ---------------------------------------------

    async def run(self) -> None:
        """Serve until closed with 1000/1002/4000, retries are used up, or stop()."""
        attempt = 0
        try:
            while not self._stopping:
                outcome = await self._connect_once()
                if self._stopping or outcome is None:
                    return
                if outcome == "opened":  # a fresh series of retries, still 1 s first
                    attempt = 0
                attempt += 1
                if attempt > self._max_retries:
                    log.warning(
                        "tunnel %s: giving up after %d retries", self.tunnel_id, attempt - 1
                    )
                    return
                delay = attempt * self._retry_step  # 1 s, 2 s, … 10 s as the C SDK
                log.info("tunnel %s: reconnecting in %.1f s", self.tunnel_id, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_event.wait(), delay)
        finally:
            await self._end_session()
            self.finished.set()
            if self._on_finished is not None:
                self._on_finished(self)

    async def _connect_once(self) -> str | int | None:
        """One WebSocket connection. Returns "opened" after a connection that should be
        retried, a status (int) for a failed attempt to retry, None to stop for good."""
        uri = self.notify.tunnel_uri
        secure = uri.startswith("wss:")
        try:
            async with connect(
                uri,
                additional_headers={TOKEN_HEADER: self.notify.tunnel_access_token},
                ssl=self._ssl if secure else None,
                compression=None,  # measured: deflate costs far more CPU than it saves
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_interval,
                max_size=MAX_MESSAGE,
                open_timeout=15,
                close_timeout=5,
                logger=_WS_LOG,
            ) as ws:
                if self._stopping:  # stop() came while the handshake was under way
                    await ws.close(CloseCode.NORMAL, "device agent stopped")
                    return None
                self._ws = ws
                self.connected.set()
                log.info("tunnel %s: device side connected", self.tunnel_id)
                try:
                    await self._serve(ws)
                finally:
                    self.connected.clear()
                    self._ws = None
                    await self._end_session()
            code = ws.close_code
        except InvalidStatus as exc:
            status = exc.response.status_code
            log.warning("tunnel %s: refused with HTTP %d", self.tunnel_id, status)
            return None if status in _GIVE_UP_STATUS else status
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else 1006
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            level = logging.WARNING if isinstance(exc, ssl.SSLError) else logging.INFO
            log.log(level, "tunnel %s: cannot connect: %s", self.tunnel_id, exc)
            return -1
        except Exception as exc:  # a bug here must not kill the agent
            # one line on the console; the traceback only in a debug log
            log.error("tunnel %s: unexpected failure: %s", self.tunnel_id, type(exc).__name__)
            log.debug("tunnel %s: traceback", self.tunnel_id, exc_info=True)
            return -1
        log.info("tunnel %s: closed with %s", self.tunnel_id, code)
        if code in CloseCode.NO_RECONNECT:
            return None
        return "opened"

    async def _serve(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                try:
                    frame = decode_frame(message)
                except ProtocolError as exc:
                    log.warning("tunnel %s: dropped a bad frame: %s", self.tunnel_id, exc)
                    continue
                try:
                    await self._handle(frame)
                except ConnectionClosed:
                    raise
                except Exception as exc:  # input never crashes the agent
                    # names only: a command frame may hold a password typed into the shell
                    op, kind = frame.operation_type, type(exc).__name__
                    log.error("tunnel %s: failed to handle %r: %s", self.tunnel_id, op, kind)
                    log.debug("tunnel %s: traceback", self.tunnel_id, exc_info=True)

    async def stop(self, status_msg: str = "device agent stopped") -> None:
        """End the session with a `disconnect`, close the WebSocket with 1000."""
        self._stopping = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None:
            task = self._session_task
            if self._session is not None or (task is not None and not task.done()):
                await self._send(
                    disconnect_frame(DisconnectCode.PEER_GONE, status_msg, self._request_id)
                )
            await self._end_session()
            with contextlib.suppress(Exception):
                await ws.close(CloseCode.NORMAL, "device agent stopped")

    # --- frames ------------------------------------------------------------------------

    async def _handle(self, frame: TunnelFrame) -> None:
        op = frame.operation_type
        if op == Op.CONNECT:
            await self._on_connect(frame)
        elif op == Op.COMMAND:
            self._on_command(frame)
        elif op == Op.RESIZE:
            self._on_resize(frame)
        elif op == Op.DISCONNECT:
            reason = Disconnect.from_frame(frame)
            log.info(
                "tunnel %s: platform disconnect %s %s",
                self.tunnel_id,
                reason.status_code,
                reason.status_msg,
            )
            await self._end_session()
        elif op in (Op.PING, Op.PONG, Op.CONNECT_TUNNEL):
            pass
        else:
            log.debug("tunnel %s: ignored operation %r", self.tunnel_id, op)

    async def _on_connect(self, frame: TunnelFrame) -> None:
        data: Any = frame.data
        username = data.get("username") if isinstance(data, dict) else None
        password = data.get("password") if isinstance(data, dict) else None
        # the C SDK answers before it even tries to log in
        await self._send(TunnelFrame(Op.CONNECT_RESPONSE, frame.request_id, None))
        await self._end_session()
        self._request_id = frame.request_id
        self._early_input = []
        if not isinstance(username, str) or not isinstance(password, str):
            await self._send(
                disconnect_frame(
                    DisconnectCode.LOGIN_FAILED, "login failed: no credentials", frame.request_id
                )
            )
            return
        self._session_task = asyncio.create_task(
            self._run_session(frame.request_id, username, password)
        )

    def _on_command(self, frame: TunnelFrame) -> None:
        if not isinstance(frame.data, str):
            log.warning("tunnel %s: command data is not a string; dropped", self.tunnel_id)
            return
        self._request_id = frame.request_id
        data = frame.data.encode("utf-8", "replace")  # JSON allows lone surrogates
        if self._session is not None:
            self._last_input = asyncio.get_running_loop().time()
            self._session.write(data)
        elif self._session_task is not None and not self._session_task.done():
            # typed while the login is still under way: the shell gets it once it starts
            self._early_input.append(data)
        else:
            log.debug("tunnel %s: command without a session; dropped", self.tunnel_id)

    def _on_resize(self, frame: TunnelFrame) -> None:
        try:
            size = Resize.from_frame(frame)
        except ProtocolError as exc:
            log.warning("tunnel %s: bad resize: %s", self.tunnel_id, exc)
            return
        self._size = (size.cols, size.rows)
        if self._session is not None:
            self._session.resize(size.cols, size.rows)

    # --- one shell session -------------------------------------------------------------

    async def _run_session(self, connect_id: str, username: str, password: str) -> None:
        session: ShellSession | None = None
        try:
            opened_size = self._size
            try:
                session = await self._backend.open(username, password, *opened_size)
            except LoginFailed as exc:
                log.info("tunnel %s: %s", self.tunnel_id, exc)
                await self._send(
                    disconnect_frame(DisconnectCode.LOGIN_FAILED, str(exc), connect_id)
                )
                return
            except Exception as exc:  # odd input or a backend bug: the app still gets 400
                # the type only: an exception's repr may carry the password
                log.error("tunnel %s: login failed: %s", self.tunnel_id, type(exc).__name__)
                log.debug("tunnel %s: traceback", self.tunnel_id, exc_info=True)
                message = "login failed: internal error"
                await self._send(disconnect_frame(DisconnectCode.LOGIN_FAILED, message, connect_id))
                return
            self._session = session
            self.sessions_started += 1
            self._last_input = asyncio.get_running_loop().time()
            if self._size != opened_size:  # a resize came during the login
                session.resize(*self._size)
            early, self._early_input = self._early_input, []
            for data in early:
                session.write(data)
            why = await self._pump(session)
            log.info("tunnel %s: session ended: %s", self.tunnel_id, why)
            await self._send(
                disconnect_frame(DisconnectCode.SHELL_TIMEOUT, why, SSH_TIMEOUT_REQUEST_ID)
            )
        finally:
            if self._session is session:
                self._session = None
            if session is not None:
                await _close_fully(session)

    async def _pump(self, session: ShellSession) -> str:
        """Stream output until the shell ends or idles too long; returns why it stopped."""
        chunker = OutputChunker()
        idle = {"expired": False}
        watchdog = asyncio.create_task(self._idle_watch(session, idle))
        try:
            while True:
                data = await session.read()
                final = not data
                for chunk in chunker.feed(data, final=final):
                    if chunk:
                        frame = TunnelFrame(Op.COMMAND_RESPONSE, self._request_id, chunk)
                        await self._send(frame)
                if final:
                    return "session idle timeout" if idle["expired"] else "shell exited"
        finally:
            watchdog.cancel()

    async def _idle_watch(self, session: ShellSession, idle: dict[str, bool]) -> None:
        # a separate task, so that the hot read loop carries no timer per read
        loop = asyncio.get_running_loop()
        while (remaining := self._last_input + self._idle_timeout - loop.time()) > 0:
            await asyncio.sleep(remaining)
        idle["expired"] = True
        await session.close()  # read() then returns b"" and the pump sends 408

    async def _end_session(self) -> None:
        task, self._session_task = self._session_task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:  # a session opened outside a task (never expected)
            session, self._session = self._session, None
            await _close_fully(session)

    async def _send(self, frame: TunnelFrame) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            await ws.send(frame.encode())
        except ConnectionClosed:
            log.debug("tunnel %s: send after close dropped", self.tunnel_id)


async def _close_fully(session: ShellSession) -> None:
    """Close a session even when the caller is cancelled meanwhile: no orphaned shells."""
    closing = asyncio.ensure_future(session.close())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await closing
        raise
