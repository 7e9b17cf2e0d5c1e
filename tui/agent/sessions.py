"""The shells a device tunnel serves (docs/protocol.md §5, §5.1): a `connect` logs in (or,
with a valid ticket, resumes a kept shell), `command` and `resize` go to the shell, its
output comes back in `command_response` frames, and a shell that ends says `408`.

A mixin of `DeviceTunnel` (tui/agent/tunnel.py), which owns the WebSocket and the
reconnect policy; kept apart so that each reads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tui.agent.backends.base import LoginFailed, ShellBackend, ShellSession
from tui.agent.shell import KeptShell, new_ticket
from tui.iotda.errors import ProtocolError
from tui.iotda.frames import (
    SSH_TIMEOUT_REQUEST_ID,
    ConnectAnswer,
    ConnectRequest,
    DisconnectCode,
    Extension,
    Op,
    Resize,
    TunnelFrame,
    disconnect_frame,
    output_frame_text,
)

log = logging.getLogger("tui.agent.tunnel")


class ShellService:
    """Login, resume and the shell of one DeviceTunnel."""

    # set up by DeviceTunnel.__init__
    tunnel_id: str
    sessions_started: int
    _backend: ShellBackend
    _ws: ClientConnection | None
    _idle_timeout: float
    _size: tuple[int, int]
    _resume_grace: float
    _shell: KeptShell | None
    _watchers: set[asyncio.Task[None]]
    _session_task: asyncio.Task[None] | None
    _request_id: str
    _early_input: list[bytes]
    _send: Callable[[TunnelFrame], Awaitable[None]]

    async def _on_connect(self, frame: TunnelFrame) -> None:
        request = ConnectRequest.from_frame(frame)
        if request.resume_ticket is not None and request.password is None:
            await self._on_resume(frame.request_id, request)
            return
        # a new login: the C SDK answers before it even tries to log in
        ticket = new_ticket() if self._resumable else None
        answer = ConnectAnswer(self._extensions, ticket)
        await self._send(TunnelFrame(Op.CONNECT_RESPONSE, frame.request_id, answer.to_data()))
        await self._end_session()
        self._request_id = frame.request_id
        self._early_input = []
        if request.username is None or request.password is None:
            await self._send(
                disconnect_frame(
                    DisconnectCode.LOGIN_FAILED, "login failed: no credentials", frame.request_id
                )
            )
            return
        self._session_task = asyncio.create_task(
            self._run_session(frame.request_id, request.username, request.password, ticket)
        )

    async def _on_resume(self, request_id: str, request: ConnectRequest) -> None:
        shell = self._shell
        assert request.resume_ticket is not None
        if shell is None or not shell.redeem(request.username or "", request.resume_ticket):
            log.info("tunnel %s: resume refused", self.tunnel_id)
            message = "resume refused: log in again"
            await self._send(disconnect_frame(DisconnectCode.LOGIN_FAILED, message, request_id))
            return
        self._request_id = request_id
        answer = ConnectAnswer(self._extensions, shell.issue_ticket(), resumed=True)
        await self._send(TunnelFrame(Op.CONNECT_RESPONSE, request_id, answer.to_data()))
        log.info("tunnel %s: shell resumed", self.tunnel_id)
        await shell.attach(self._send_output, request.resume_offset)

    def _on_command(self, frame: TunnelFrame) -> None:
        if not isinstance(frame.data, str):
            log.warning("tunnel %s: command data is not a string; dropped", self.tunnel_id)
            return
        self._request_id = frame.request_id
        data = frame.data.encode("utf-8", "replace")  # JSON allows lone surrogates
        shell = self._shell
        if shell is not None and shell.attached:
            shell.write(data)
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
        if self._shell is not None:
            self._shell.resize(size.cols, size.rows)

    # --- one shell session -------------------------------------------------------------

    @property
    def _extensions(self) -> frozenset[str]:
        if self._resumable:
            return frozenset({Extension.RESIZE, Extension.RESUME})
        return frozenset({Extension.RESIZE})

    @property
    def _resumable(self) -> bool:
        return self._resume_grace > 0

    async def _run_session(
        self, connect_id: str, username: str, password: str, ticket: str | None
    ) -> None:
        opened_size = self._size
        try:
            session = await self._backend.open(username, password, *opened_size)
        except LoginFailed as exc:
            log.info("tunnel %s: %s", self.tunnel_id, exc)
            await self._send(disconnect_frame(DisconnectCode.LOGIN_FAILED, str(exc), connect_id))
            return
        except Exception as exc:  # odd input or a backend bug: the app still gets 400
            # the type only: an exception's repr may carry the password
            log.error("tunnel %s: login failed: %s", self.tunnel_id, type(exc).__name__)
            log.debug("tunnel %s: traceback", self.tunnel_id, exc_info=True)
            message = "login failed: internal error"
            await self._send(disconnect_frame(DisconnectCode.LOGIN_FAILED, message, connect_id))
            return
        try:
            shell = KeptShell(
                session,
                username,
                self._send_output if self._ws is not None else None,
                ticket=ticket,
                idle_timeout=self._idle_timeout,
                grace=self._resume_grace,
            )
        except BaseException:
            await _close_fully(session)
            raise
        self.sessions_started += 1
        if self._size != opened_size:  # a resize came during the login
            shell.resize(*self._size)
        early, self._early_input = self._early_input, []
        for data in early:
            shell.write(data)
        self.adopt(shell)

    def adopt(self, shell: KeptShell) -> None:
        """Serve `shell` (just opened, or kept from an earlier link of this tunnel)."""
        self._shell = shell
        watcher = asyncio.create_task(self._watch_exit(shell), name="shell-exit")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    def take_shell(self) -> KeptShell | None:
        """Hand a kept shell over (to the next link of this tunnel); None if there is none."""
        shell, self._shell = self._shell, None
        if shell is not None and shell.exited.is_set():
            return None
        return shell

    async def _watch_exit(self, shell: KeptShell) -> None:
        await shell.exited.wait()
        if self._shell is not shell:
            return  # replaced or handed over: its new owner reports
        self._shell = None
        why = "session idle timeout" if shell.idle_expired else "shell exited"
        log.info("tunnel %s: session ended: %s", self.tunnel_id, why)
        if shell.attached:
            await self._send(
                disconnect_frame(DisconnectCode.SHELL_TIMEOUT, why, SSH_TIMEOUT_REQUEST_ID)
            )
        await shell.close()

    async def _send_output(self, chunks: list[str]) -> None:
        ws = self._ws
        if ws is None:
            return
        request_id = self._request_id
        try:
            await send_together(ws, [output_frame_text(request_id, chunk) for chunk in chunks])
        except ConnectionClosed:
            log.debug("tunnel %s: send after close dropped", self.tunnel_id)

    async def _source_gone(self) -> None:
        """The app left (the relay's 410) or the link dropped: keep the shell for a resume."""
        task, self._session_task = self._session_task, None
        if task is not None and not task.done():  # a login under way: nobody to serve
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        shell = self._shell
        if shell is None:
            return
        if self._resumable:
            shell.detach()
        else:
            await self._end_session()

    async def _end_session(self) -> None:
        task, self._session_task = self._session_task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        shell, self._shell = self._shell, None
        if shell is not None:
            await shell.close()


async def send_together(ws: ClientConnection, texts: list[str]) -> None:
    """Send each of `texts` as a message of its own, handed to the socket in one write.

    `ws.send` writes every message by itself: a system call here, and a wake-up and a read
    at the relay, per 2 KB frame. websockets' way to write from user code is its
    `send_context` around the sans-I/O `protocol` (how `send` itself works); the frames are
    taken out of the protocol here and joined, so its flush on leaving finds nothing left,
    while its state checks and flow control (drain) apply as to `send`. Frames alone are
    taken: a text frame never asks for the end of the stream, which only closing does.
    (`send` would also wait for a fragmented message under way; the agent sends none.)
    """
    if len(texts) == 1:
        await ws.send(texts[0])
        return
    async with ws.send_context():
        protocol = ws.protocol
        for text in texts:
            protocol.send_text(text.encode())
        ws.transport.write(b"".join(protocol.data_to_send()))


async def _close_fully(session: ShellSession) -> None:
    """Close a session even when the caller is cancelled meanwhile: no orphaned shells."""
    closing = asyncio.ensure_future(session.close())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await closing
        raise
