"""The app side of one tunnel (docs/protocol.md §5): connect, log in, stream, keep alive,
reconnect while the token is valid, resume the shell, record.

A `TunnelSession` runs as one long-lived task (`run()`); the owner talks to it through
plain methods (`login`, `send_input`, `resize`, `close`) and hears back through
`on_event`, called synchronously on the loop thread. The password is put in exactly one
`connect` frame and never kept after that, logged or recorded. A device's resume ticket
is kept in memory only, for the next reconnect, and never logged.
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

from tui.iotda.frames import (
    TOKEN_HEADER,
    CloseCode,
    Disconnect,
    Op,
    TunnelFrame,
    new_request_id,
)
from tui.iotda.paths import tunnel_id_from_uri
from tui.iotda.redact import quiet_logger
from tui.session.aio import unless_set
from tui.session.device_watch import TunnelStateSource, watch_device
from tui.session.events import (
    Connecting,
    Ended,
    InputRefused,
    Reconnecting,
    SessionEvent,
    WaitingForDevice,
)
from tui.session.handling import SessionFrames
from tui.session.holding import HELD_INPUT_LIMIT, Backoff, HeldInput
from tui.session.outcomes import Dropped, no_reconnect_reason, refused
from tui.session.recorder import Recorder

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
# The library's WebSocket-level pings only detect a dead link; they are answered by any
# server, unlike the protocol's `ping` frames, so they never wrongly end a session.
LINK_PING_TIMEOUT = 20.0

# websockets logs every frame at DEBUG, and a `connect` frame carries the password and the
# handshake the token: its logger for our connections never goes below INFO.
_WIRE_LOG = quiet_logger("tui.session.wire")


class TunnelSession(SessionFrames):
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
        max_reconnects: int | None = None,
        backoff: tuple[float, float] = (0.5, 8.0),
        recorder: Recorder | None = None,
        ssl_context: ssl.SSLContext | None = None,
        client: TunnelStateSource | None = None,
        allow_extensions: bool | None = None,
        jitter: float = 0.5,
        rest_poll: tuple[float, float] = (1.0, 5.0),
        held_input_limit: int = HELD_INPUT_LIMIT,
    ) -> None:
        """`max_reconnects` None: retry while the token is valid (consecutive failures
        otherwise). `client` (an IoTDAClient) lets the session ask the REST API whether
        the device is there. `allow_extensions` None: use our extensions only against
        iotunnel's own platform (the client saw its header); a device must list them too.
        """
        self.tunnel_uri = tunnel_uri
        self._token = token
        self._on_event = on_event
        self.expires_at = expires_at
        self._clock = clock
        self._connect = connect
        self._ping_interval = ping_interval
        self._max_reconnects = max_reconnects
        self._backoff = Backoff(*backoff, jitter=jitter)
        self._recorder = recorder
        self._ssl = ssl_context  # e.g. a CA for a local platform's self-signed wss
        self._client = client
        self._allow_extensions = allow_extensions
        self._rest_poll = rest_poll
        self._state = "connecting"
        self._state_changed = asyncio.Event()
        self._ws: Any = None
        self._outbox: asyncio.Queue[str] | None = None
        self._device_ready = False
        self._pending_login: tuple[str, str] | None = None
        self._size: tuple[int, int] | None = None
        self._input_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = HeldInput(held_input_limit)
        # the shell on the device: what it offers, and how to get it back after a drop
        self._extensions: frozenset[str] = frozenset()
        self._username: str | None = None
        self._ticket: str | None = None  # memory only; never logged or recorded
        self._received = 0  # output characters of the current shell, for a resume
        self._resuming = False
        self._awaiting_replay = False  # output before a resume's answer is replayed after it
        self._shells = 0
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

    def __repr__(self) -> str:  # never the token or the ticket
        return f"TunnelSession({self.tunnel_uri!r}, state={self._state!r})"

    @property
    def state(self) -> str:
        """ "connecting" | "waiting" | "ready" | "resuming" | "logged_in" | "reconnecting"
        | "ended"."""
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
        """Keys or pasted text for the shell: written at once as command frame(s).

        While no shell is reachable (connecting, waiting, logging in, reconnecting) up to
        4 KB are held and sent when it is; what does not fit is refused with an
        `InputRefused` event, never dropped without a word."""
        text = self._input_decoder.decode(data) if isinstance(data, bytes) else data
        if not text or self._ended is not None:
            return
        outbox = self._outbox
        if outbox is None or self._state != "logged_in":
            dropped = self._held.add(text)
            if dropped:
                log.info("input refused: %d bytes over the hold while not connected", dropped)
                self._emit(InputRefused(dropped))
            return
        self._put_input(outbox, text)

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
            self._send_size(self._outbox)

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
        self._ticket = None
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
            limit = self._max_reconnects
            if limit is not None and failures > limit:
                return Ended(f"connection lost: {result.reason}", close_code=result.close_code)
            if self._token_expired():
                return Ended("token expired", expired=True, close_code=result.close_code)
            delay = self._backoff.delay(failures)
            if self.expires_at is not None:  # no point waiting past the token's end
                delay = max(0.0, min(delay, self.expires_at - self._clock()))
            log.info("tunnel dropped (%s); reconnect %d in %.1fs", result.reason, failures, delay)
            self._set_state("reconnecting")
            self._emit(Reconnecting(failures, limit, delay, self._clock() + delay))
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
                    compression=None,  # deflate costs ~8x throughput (docs/notes.md)
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
        self._resuming = False
        self._awaiting_replay = self.can_resume
        self._last_disconnect = None
        self._set_state("waiting")
        self._emit(WaitingForDevice())
        helpers = [
            asyncio.create_task(self._write_frames(ws, outbox)),
            asyncio.create_task(self._send_pings(outbox)),
        ]
        if self._client is not None:
            helpers.append(asyncio.create_task(self._watch_device(self._client)))
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
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            # already closed unless run() itself was cancelled: then say goodbye properly
            await _close_politely(ws)
            self._ws = None
            self._outbox = None
            self._device_ready = False
            self._resuming = False
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

    async def _watch_device(self, client: TunnelStateSource) -> None:
        try:
            tunnel_id = tunnel_id_from_uri(self.tunnel_uri)
        except ValueError:
            return
        await watch_device(
            client,
            tunnel_id,
            waiting=lambda: self._outbox is not None and not self._device_ready,
            on_connected=self._on_device_ready,
            changed=self._state_changed,
            intervals=self._rest_poll,
        )

    async def _drop_socket(self) -> None:
        if self._ws is not None:
            await _close_politely(self._ws)

    # --- helpers -------------------------------------------------------------------------

    def _token_expired(self) -> bool:
        return self.expires_at is not None and self._clock() >= self.expires_at

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._state_changed.set()

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
        self._ticket = None
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
