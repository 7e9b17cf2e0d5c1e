"""The app side of one tunnel (PROTOCOL.md §5): connect, log in, stream, keep alive,
reconnect while the token is valid, record.

A `TunnelSession` runs as one long-lived task (`run()`); the owner talks to it through
plain methods (`login`, `send_input`, `resize`, `close`) and hears back through
`on_event`, called synchronously on the loop thread. The password is put in exactly one
`connect` frame and never kept after that, logged or recorded.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from tui.iotda.errors import ProtocolError
from tui.iotda.frames import (
    TOKEN_HEADER,
    CloseCode,
    Disconnect,
    DisconnectCode,
    Op,
    TunnelFrame,
    command_frame,
    connect_frame,
    decode_frame,
    new_request_id,
    resize_frame,
)
from tui.iotda.redact import quiet_logger
from tui.session.aio import unless_set
from tui.session.events import (
    Connecting,
    DeviceReady,
    Ended,
    LoginAccepted,
    Output,
    PeerDisconnected,
    Reconnecting,
    SessionEvent,
    WaitingForDevice,
)
from tui.session.outcomes import Dropped, no_reconnect_reason, refused
from tui.session.recorder import Recorder

log = logging.getLogger(__name__)

# A command frame's data is JSON-escaped: a control character costs 6 bytes ("\u001b"),
# so 1536 characters stay under the 10 KB frame limit with room for the envelope.
MAX_INPUT_CHARS = 1536
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
# The library's WebSocket-level pings only detect a dead link; they are answered by any
# server, unlike the protocol's `ping` frames, so they never wrongly end a session.
LINK_PING_TIMEOUT = 20.0

# websockets logs every frame at DEBUG, and a `connect` frame carries the password and the
# handshake the token: its logger for our connections never goes below INFO.
_WIRE_LOG = quiet_logger("tui.session.wire")


class TunnelSession:
    def __init__(
        self,
        tunnel_uri: str,
        token: str,
        *,
        on_event: Callable[[SessionEvent], None],
        expires_at: float | None = None,
        clock: Callable[[], float] = time.time,
        connect: Callable[..., Any] = websockets.connect,
        ping_interval: float = 20.0,
        max_reconnects: int = 5,
        backoff: tuple[float, float] = (0.5, 8.0),
        recorder: Recorder | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.tunnel_uri = tunnel_uri
        self._token = token
        self._on_event = on_event
        self.expires_at = expires_at
        self._clock = clock
        self._connect = connect
        self._ping_interval = ping_interval
        self._max_reconnects = max_reconnects
        self._backoff = backoff
        self._recorder = recorder
        self._ssl = ssl_context  # e.g. a CA for a local platform's self-signed wss
        self._state = "connecting"
        self._ws: Any = None
        self._outbox: asyncio.Queue[str] | None = None
        self._device_ready = False
        self._pending_login: tuple[str, str] | None = None
        self._size: tuple[int, int] | None = None
        self._input_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._closing = False
        self._close_event = asyncio.Event()
        self._expired = False
        self._last_disconnect: Disconnect | None = None
        self._running = False
        self._ended: Ended | None = None
        self._done = asyncio.Event()
        # backpressure: while cleared, frames stay in the socket and TCP slows the device
        self._output_open = asyncio.Event()
        self._output_open.set()

    def __repr__(self) -> str:  # never the token
        return f"TunnelSession({self.tunnel_uri!r}, state={self._state!r})"

    @property
    def state(self) -> str:
        """ "connecting" | "waiting" | "ready" | "logged_in" | "reconnecting" | "ended"."""
        return self._state

    @property
    def ended(self) -> Ended | None:
        return self._ended

    # --- the owner's side ----------------------------------------------------------------

    async def run(self) -> None:
        """Run until the session ends; the last event emitted is always `Ended`."""
        if self._running or self._ended is not None:
            raise RuntimeError("a TunnelSession runs once")
        self._running = True
        ended = Ended("closed")
        try:
            ended = await self._run_connections()  # a cancel keeps Ended("closed")
        except Exception as exc:  # a bug must end the session, not the app
            log.exception("tunnel session failed")
            ended = Ended(f"internal error: {type(exc).__name__}")
        finally:
            await self._drop_socket()
            self._finish(ended)

    def login(self, username: str, password: str) -> None:
        """Send `connect` now if the device is there, else as soon as it is."""
        if self._ended is not None or self._closing:
            return
        if self._outbox is not None and self._device_ready:
            self._send_login(username, password)
        else:
            self._pending_login = (username, password)

    def send_input(self, data: bytes | str) -> None:
        """Keys or pasted text for the shell: written at once as command frame(s)."""
        text = self._input_decoder.decode(data) if isinstance(data, bytes) else data
        if not text:
            return
        outbox = self._outbox
        if outbox is None:
            log.debug("input dropped: tunnel not connected")
            return
        if len(text) <= MAX_INPUT_CHARS:  # the keystroke path: one frame, no copies
            outbox.put_nowait(command_frame(text).encode())
            return
        for start in range(0, len(text), MAX_INPUT_CHARS):
            outbox.put_nowait(command_frame(text[start : start + MAX_INPUT_CHARS]).encode())

    def resize(self, cols: int, rows: int) -> None:
        """Resize the remote pty (our `resize` extension); remembered for the next login."""
        if not (1 <= cols <= 1000 and 1 <= rows <= 1000):
            log.debug("ignoring resize to %sx%s", cols, rows)
            return
        if self._size == (cols, rows):
            return
        self._size = (cols, rows)
        if self._recorder is not None:
            self._recorder.resize(cols, rows)
        if self._outbox is not None and self._state == "logged_in":
            self._outbox.put_nowait(resize_frame(cols, rows).encode())

    def pause_output(self) -> None:
        """Stop reading frames until `resume_output`: the consumer has a backlog.

        Nothing is dropped: unread frames wait in the socket buffers, and TCP flow
        control slows the platform and then the device's shell down.
        """
        self._output_open.clear()

    def resume_output(self) -> None:
        self._output_open.set()

    async def close(self) -> None:
        """The user closed the session: no reconnect; `Ended("closed")` follows."""
        self._closing = True
        self._output_open.set()
        self._pending_login = None
        self._close_event.set()
        if self._ws is not None:
            await _close_politely(self._ws)
        if self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._done.wait()), CLOSE_TIMEOUT * 2)
        elif self._ended is None:
            self._finish(Ended("closed"))

    # --- connection loop -----------------------------------------------------------------

    async def _run_connections(self) -> Ended:
        failures = 0
        while True:
            if self._closing:
                return Ended("closed")
            if self._token_expired():
                return Ended("token expired", expired=True)
            self._set_state("connecting")
            self._emit(Connecting(failures))
            result = await self._one_connection()
            if isinstance(result, Ended):
                return result
            failures = 1 if result.progressed else failures + 1
            if failures > self._max_reconnects:
                return Ended(f"connection lost: {result.reason}", close_code=result.close_code)
            if self._token_expired():
                return Ended("token expired", expired=True, close_code=result.close_code)
            low, high = self._backoff
            delay = min(low * 2 ** (failures - 1), high)
            why, limit = result.reason, self._max_reconnects
            log.info("tunnel dropped (%s); reconnect %d/%d in %.1fs", why, failures, limit, delay)
            self._set_state("reconnecting")
            self._emit(Reconnecting(failures, self._max_reconnects, delay))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._close_event.wait(), delay)

    async def _one_connection(self) -> Ended | Dropped:
        options: dict[str, Any] = {"ssl": self._ssl} if self._ssl is not None else {}
        try:
            ws = await unless_set(
                self._close_event,
                self._connect(
                    self.tunnel_uri,
                    **options,
                    additional_headers={TOKEN_HEADER: self._token},
                    compression=None,  # deflate costs ~8x throughput (PITFALLS.md)
                    open_timeout=OPEN_TIMEOUT,
                    ping_interval=max(self._ping_interval, 1.0),
                    ping_timeout=LINK_PING_TIMEOUT,
                    close_timeout=CLOSE_TIMEOUT,
                    logger=_WIRE_LOG,
                ),
            )
        except InvalidStatus as exc:
            return refused(exc, token_expired=self._token_expired())
        except InvalidURI:
            return Ended("invalid tunnel URI")
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
            return Dropped(f"cannot connect: {type(exc).__name__}", None, progressed=False)
        if ws is not None and self._closing:
            await _close_politely(ws)
        if ws is None or self._closing:
            return Ended("closed")
        return await self._serve(ws)

    async def _serve(self, ws: Any) -> Ended | Dropped:
        self._ws = ws
        self._outbox = outbox = asyncio.Queue()
        self._device_ready = False
        self._last_disconnect = None
        self._set_state("waiting")
        self._emit(WaitingForDevice())
        writer = asyncio.create_task(self._write_frames(ws, outbox))
        pinger = asyncio.create_task(self._send_pings(outbox))
        progressed = False
        try:
            async for message in ws:
                progressed = True
                self._handle(message)
                if not self._output_open.is_set():
                    await self._output_open.wait()
        except ConnectionClosed:
            pass
        finally:
            for task in (writer, pinger):
                task.cancel()
            for task in (writer, pinger):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            # already closed unless run() itself was cancelled: then say goodbye properly
            await _close_politely(ws)
            self._ws = None
            self._outbox = None
            self._device_ready = False
        code = ws.close_code
        if self._closing:
            return Ended("closed", close_code=code)
        if self._expired or self._token_expired():
            return Ended("token expired", expired=True, close_code=code)
        if code in CloseCode.NO_RECONNECT:
            return Ended(no_reconnect_reason(code, self._last_disconnect), close_code=code)
        return Dropped(f"connection closed ({code})", code, progressed)

    async def _write_frames(self, ws: Any, outbox: asyncio.Queue[str]) -> None:
        while True:
            text = await outbox.get()
            try:
                await ws.send(text)
            except ConnectionClosed:
                return

    async def _send_pings(self, outbox: asyncio.Queue[str]) -> None:
        while True:
            await asyncio.sleep(self._ping_interval)  # a period, not a wait for state
            outbox.put_nowait(TunnelFrame(Op.PING, new_request_id()).encode())

    async def _drop_socket(self) -> None:
        if self._ws is not None:
            await _close_politely(self._ws)

    # --- frames from the platform and the device -----------------------------------------

    def _handle(self, message: str | bytes) -> None:
        try:
            frame = decode_frame(message)
        except ProtocolError as exc:
            log.warning("dropping a malformed frame: %s", exc)
            return
        op = frame.operation_type
        if op == Op.COMMAND_RESPONSE:
            if isinstance(frame.data, str) and frame.data:
                if self._recorder is not None:
                    self._recorder.output(frame.data)
                self._emit(Output(frame.data))
        elif op == Op.CONNECT_TUNNEL:
            self._device_ready = True
            self._set_state("ready")
            self._emit(DeviceReady())
            pending, self._pending_login = self._pending_login, None
            if pending is not None:
                self._send_login(*pending)
        elif op == Op.CONNECT_RESPONSE:
            self._set_state("logged_in")
            self._emit(LoginAccepted(frame.data if isinstance(frame.data, str) else None))
            if self._size is not None and self._outbox is not None:
                self._outbox.put_nowait(resize_frame(*self._size).encode())
        elif op == Op.DISCONNECT:
            self._on_disconnect(Disconnect.from_frame(frame))
        elif op != Op.PONG:
            log.debug("ignoring a %r frame", op)

    def _on_disconnect(self, disconnect: Disconnect) -> None:
        self._last_disconnect = disconnect
        code = disconnect.status_code
        if code == DisconnectCode.TOKEN_EXPIRED:
            self._expired = True
        elif code == DisconnectCode.PEER_GONE:
            self._device_ready = False
            self._set_state("waiting")
        elif self._device_ready and self._state != "ended":
            # a failed login (400) or an ended shell (408): the device is still there
            self._set_state("ready")
        self._emit(PeerDisconnected(code, disconnect.status_msg))

    def _send_login(self, username: str, password: str) -> None:
        assert self._outbox is not None
        self._outbox.put_nowait(connect_frame(username, password).encode())
        log.info("login sent for user %r", username)
        if self._size is not None:  # lets an agent size the pty it is about to open
            self._outbox.put_nowait(resize_frame(*self._size).encode())

    # --- helpers -------------------------------------------------------------------------

    def _token_expired(self) -> bool:
        return self.expires_at is not None and self._clock() >= self.expires_at

    def _set_state(self, state: str) -> None:
        self._state = state

    def _emit(self, event: SessionEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # the owner's bug must not kill the tunnel
            log.exception("session event handler failed on %s", type(event).__name__)

    def _finish(self, ended: Ended) -> None:
        if self._ended is not None:
            return
        self._ended = ended
        self._pending_login = None
        self._set_state("ended")
        if self._recorder is not None:
            self._recorder.close()
        log.info("tunnel session ended: %s", ended.reason)
        self._emit(ended)
        self._done.set()


async def _close_politely(ws: Any) -> None:
    """Close with 1000 unless the socket is already gone; never raises."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(CloseCode.NORMAL), CLOSE_TIMEOUT)
