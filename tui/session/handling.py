"""How a tunnel session reads the frames of the platform and the device, and what it
sends back: login or resume, the extensions in use, the output counted for a resume.

A mixin of `TunnelSession` (tui/session/session.py), which owns the socket, the state
and the events; kept apart so that each reads at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tui.iotda.errors import ProtocolError
from tui.iotda.frames import (
    ConnectAnswer,
    Disconnect,
    DisconnectCode,
    Extension,
    Op,
    command_frame,
    connect_frame,
    decode_frame,
    resize_frame,
    resume_frame,
)
from tui.session.device_watch import TunnelStateSource
from tui.session.events import (
    DeviceReady,
    LoginAccepted,
    NewShell,
    Output,
    PeerDisconnected,
    Resumed,
    SessionEvent,
)
from tui.session.holding import HeldInput
from tui.session.recorder import Recorder

log = logging.getLogger("tui.session.session")

# A command frame's data is JSON-escaped: a control character costs 6 bytes ("\u001b"),
# so 1536 characters stay under the 10 KB frame limit with room for the envelope.
MAX_INPUT_CHARS = 1536
# a device answers `connect` at once (the C SDK does, before it even logs in)
RESUME_TIMEOUT = 10.0


class SessionFrames:
    """Frame handling and the shell's login/resume state of a TunnelSession."""

    # set up by TunnelSession.__init__
    _client: TunnelStateSource | None
    _allow_extensions: bool | None
    _outbox: asyncio.Queue[str] | None
    _recorder: Recorder | None
    _state: str
    _device_ready: bool
    _pending_login: tuple[str, str] | None
    _size: tuple[int, int] | None
    _held: HeldInput
    _extensions: frozenset[str]
    _username: str | None
    _ticket: str | None
    _received: int
    _resuming: bool
    _awaiting_replay: bool
    _shells: int
    _expired: bool
    _last_disconnect: Disconnect | None
    _set_state: Callable[[str], None]
    _emit: Callable[[SessionEvent], None]

    @property
    def extensions(self) -> frozenset[str]:
        """The extensions in use: listed by the device and allowed by the policy."""
        return self._extensions if self.extensions_allowed else frozenset()

    @property
    def extensions_allowed(self) -> bool:
        if self._allow_extensions is not None:
            return self._allow_extensions
        return bool(self._client is not None and self._client.platform_is_iotunnel)

    @property
    def can_resume(self) -> bool:
        """A reconnect now would get the same shell back (our agent's `resume`)."""
        return self._ticket is not None and Extension.RESUME in self.extensions

    # --- frames from the platform and the device -----------------------------------------

    def _handle(self, message: str | bytes) -> None:
        try:
            frame = decode_frame(message)
        except ProtocolError as exc:
            log.warning("dropping a malformed frame: %s", exc)
            return
        op = frame.operation_type
        if op == Op.COMMAND_RESPONSE:
            # before a resume is answered, output on a new link is what the device replays
            # from our offset (the relay dropped some in between): shown once, from there
            if isinstance(frame.data, str) and frame.data and not self._awaiting_replay:
                self._received += len(frame.data)
                if self._recorder is not None:
                    self._recorder.output(frame.data)
                self._emit(Output(frame.data))
        elif op == Op.CONNECT_TUNNEL:
            if self._state == "logged_in":
                # the device came back without a 410 first: its shell waits for a resume
                self._device_ready = False
                self._awaiting_replay = self.can_resume
            # else once per device link: a REST answer may have told us first, and a
            # second resume would spend a ticket that is already spent
            self._on_device_ready()
        elif op == Op.CONNECT_RESPONSE:
            self._on_connect_response(ConnectAnswer.from_frame(frame))
        elif op == Op.DISCONNECT:
            self._on_disconnect(Disconnect.from_frame(frame))
        elif op != Op.PONG:
            log.debug("ignoring a %r frame", op)

    def _on_device_ready(self) -> None:
        """`connect_tunnel`, or the REST API says the device side is connected."""
        if self._device_ready or self._outbox is None:
            return
        self._device_ready = True
        pending, self._pending_login = self._pending_login, None
        if pending is not None:
            self._set_state("ready")
            self._emit(DeviceReady())
            self._send_login(*pending)
        elif self.can_resume and self._username is not None:
            assert self._ticket is not None
            self._resuming = True
            self._set_state("resuming")
            self._outbox.put_nowait(
                resume_frame(self._username, self._ticket, self._received).encode()
            )
            log.info("resuming the shell of user %r", self._username)
            outbox = self._outbox
            loop = asyncio.get_running_loop()
            loop.call_later(RESUME_TIMEOUT, self._resume_overdue, outbox)
        else:
            self._set_state("ready")
            self._emit(DeviceReady())

    def _resume_overdue(self, outbox: asyncio.Queue[str]) -> None:
        """No answer to a resume: the device was not there after all (a REST state that
        was behind). Wait for it again; the ticket was not spent."""
        if self._resuming and self._outbox is outbox:
            log.info("no answer to the resume: waiting for the device again")
            self._resuming = False
            self._device_ready = False
            self._set_state("waiting")

    def _on_connect_response(self, answer: ConnectAnswer) -> None:
        if self._resuming and not answer.resumed:
            return  # a device that did not take the ticket: its 400 follows
        self._extensions = answer.extensions
        resumed, self._resuming = self._resuming, False
        self._awaiting_replay = False
        self._ticket = answer.resume_ticket if Extension.RESUME in self.extensions else None
        self._set_state("logged_in")
        if resumed:
            log.info("shell resumed")
            self._emit(Resumed())
        else:
            self._received = 0
            self._shells += 1
            if self._shells > 1:
                self._emit(NewShell())
        self._emit(LoginAccepted(answer.message))
        if self._outbox is not None:
            if self._size is not None:
                self._send_size(self._outbox)
            held = self._held.take()
            if held:
                self._put_input(self._outbox, held)

    def _on_disconnect(self, disconnect: Disconnect) -> None:
        self._last_disconnect = disconnect
        code = disconnect.status_code
        if code == DisconnectCode.TOKEN_EXPIRED:
            self._expired = True
        elif code == DisconnectCode.PEER_GONE:
            self._device_ready = False  # the shell may live on: the ticket is kept
            self._resuming = False
            self._set_state("waiting")
        else:
            # a failed login or resume (400) or an ended shell (408): that shell is gone
            self._ticket = None
            self._resuming = self._awaiting_replay = False
            if self._device_ready and self._state != "ended":
                self._set_state("ready")
        self._emit(PeerDisconnected(code, disconnect.status_msg))

    def _send_login(self, username: str, password: str) -> None:
        assert self._outbox is not None
        self._ticket = None  # a password login starts a new shell
        self._resuming = self._awaiting_replay = False
        self._username = username
        self._outbox.put_nowait(connect_frame(username, password).encode())
        log.info("login sent for user %r", username)

    def _send_size(self, outbox: asyncio.Queue[str]) -> None:
        # only once the device listed `resize` (and the policy allows it): a relay that
        # checks operation_type may drop an unknown frame, or the session with it
        if self._size is not None and Extension.RESIZE in self.extensions:
            outbox.put_nowait(resize_frame(*self._size).encode())

    @staticmethod
    def _put_input(outbox: asyncio.Queue[str], text: str) -> None:
        if len(text) <= MAX_INPUT_CHARS:  # the keystroke path: one frame, no copies
            outbox.put_nowait(command_frame(text).encode())
            return
        for start in range(0, len(text), MAX_INPUT_CHARS):
            outbox.put_nowait(command_frame(text[start : start + MAX_INPUT_CHARS]).encode())
