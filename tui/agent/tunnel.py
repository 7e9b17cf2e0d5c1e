"""The device side of one tunnel WebSocket (docs/protocol.md §5), behaving as the C SDK does.

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

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from tui.agent.backends.base import ShellBackend
from tui.agent.sessions import ShellService
from tui.agent.shell import DEFAULT_GRACE, KeptShell
from tui.iotda.errors import ProtocolError
from tui.iotda.frames import (
    DEVICE_PING_INTERVAL,
    TOKEN_HEADER,
    CloseCode,
    Disconnect,
    DisconnectCode,
    Op,
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
# output may run this far ahead of the relay before the shell is slowed down: the agent
# and the platform then work in parallel instead of in step (websockets' default: 32 KiB)
WRITE_LIMIT = 256 * 1024
_GIVE_UP_STATUS = frozenset({400, 401, 403, 404})


class DeviceTunnel(ShellService):
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
        resume_grace: float = DEFAULT_GRACE,
        shell: KeptShell | None = None,
    ) -> None:
        """`resume_grace`: seconds a shell is kept for a resume after its link drops (0:
        never, and the `resume` extension is not offered); `shell`: one kept from an
        earlier link of this tunnel, offered for a resume."""
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
        self._keep_shell = False  # retire(): the shell goes on over the next link
        self._final = False  # closed for good by the platform: no resume either
        self._stop_event = asyncio.Event()
        self._resume_grace = resume_grace
        self._shell: KeptShell | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._session_task: asyncio.Task[None] | None = None
        self._request_id = ""
        self._early_input: list[bytes] = []
        self.connected = asyncio.Event()
        self.finished = asyncio.Event()  # run() has returned: no more retries
        self.sessions_started = 0  # shells opened over this tunnel, for tests and stats
        if shell is not None:
            self.adopt(shell)

    def __repr__(self) -> str:
        return f"DeviceTunnel({self.tunnel_id!r}, connected={self.connected.is_set()})"

    @property
    def has_session(self) -> bool:
        return self._shell is not None

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
            if self._keep_shell or not (self._stopping or self._final):
                await self._source_gone()  # kept for a resume over the next link
            else:
                await self._end_session()
            self.finished.set()
            if self._on_finished is not None:
                self._on_finished(self)

    async def _connect_once(self) -> str | int | None:
        """One WebSocket connection. Returns "opened" after a connection that should be
        retried, a status (int) for a failed attempt to retry, None to stop for good."""
        uri = self.notify.tunnel_uri
        # wss always verifies (IoTDA hands out wss:// whatever the MQTT port): the default
        # context unless --ca / --insecure gave one; ws:// must get no ssl argument at all
        tls = {"ssl": self._ssl or _default_tls()} if uri.startswith("wss:") else {}
        try:
            async with connect(
                uri,
                additional_headers={TOKEN_HEADER: self.notify.tunnel_access_token},
                **tls,
                compression=None,  # measured: deflate costs far more CPU than it saves
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_interval,
                max_size=MAX_MESSAGE,
                write_limit=WRITE_LIMIT,
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
                    await self._source_gone()
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
            self._final = True  # the tunnel is over (closed, expired, replaced)
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

    async def retire(self) -> KeptShell | None:
        """Stop this link for a newer one of the same tunnel (a new device token) and
        hand over the shell, kept for a resume."""
        self._stopping = self._keep_shell = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(CloseCode.NORMAL, "device agent reconnecting")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished.wait(), 10.0)
        return self.take_shell()

    async def stop(self, status_msg: str = "device agent stopped") -> None:
        """End the session with a `disconnect`, close the WebSocket with 1000."""
        self._stopping = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None:
            task = self._session_task
            if self._shell is not None or (task is not None and not task.done()):
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
            await self._source_gone()
        elif op in (Op.PING, Op.PONG, Op.CONNECT_TUNNEL):
            pass
        else:
            log.debug("tunnel %s: ignored operation %r", self.tunnel_id, op)

    async def _send(self, frame: TunnelFrame) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            await ws.send(frame.encode())
        except ConnectionClosed:
            log.debug("tunnel %s: send after close dropped", self.tunnel_id)


def _default_tls() -> ssl.SSLContext:
    return ssl.create_default_context()
