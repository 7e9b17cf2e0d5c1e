"""Run one command on one device over a tunnel: the engine of `iotunnel exec`, fleet
exec and the dashboard's "run on marked devices" (issue 11).

`exec_command` opens (or reuses) a tunnel, logs in, types one line that brackets the
command with markers (tui/session/exec_marker.py), streams the output between them and
returns an `ExecResult` with the command's own exit status. Everything it opened it
gives back, on success, failure, timeout and cancellation alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from tui.iotda.errors import IoTDAError
from tui.iotda.redact import mask
from tui.session.audit import EXEC_END, EXEC_START, AuditLog
from tui.session.events import (
    Ended,
    LoginAccepted,
    Output,
    PeerDisconnected,
    SessionEvent,
)
from tui.session.exec_marker import MarkerScanner, command_line, new_nonce, quote_argv
from tui.session.exec_tunnel import ExecApi, ExecTunnels, HeldTunnel, TunnelUnavailable
from tui.session.session import TunnelSession
from tui.session.tokens import TokenStore

log = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
OFFLINE = "offline"
LOGIN_FAILED = "login_failed"
TIMEOUT = "timeout"
ERROR = "error"
STATUSES = (OK, FAILED, OFFLINE, LOGIN_FAILED, TIMEOUT, ERROR)

DEFAULT_TIMEOUT = 60.0
# a shell that prints nothing at login (no banner, empty prompt) still gets the command
QUIET_SHELL_WAIT = 2.0
RELEASE_TIMEOUT = 15.0


@dataclass(frozen=True)
class ExecLogin:
    """The device account an exec logs in with; the password is never shown."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"ExecLogin(username={self.username!r}, password={mask(self.password)!r})"


@dataclass(frozen=True)
class ExecResult:
    device_id: str
    status: str  # one of STATUSES
    exit_code: int | None
    duration_ms: int
    output: bytes
    error: str | None = None
    tunnel_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_json(self) -> dict[str, Any]:
        """The `--json` object: output as text (UTF-8; invalid bytes replaced)."""
        body: dict[str, Any] = {
            "device_id": self.device_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "output": self.output.decode("utf-8", "replace"),
        }
        if self.error:
            body["error"] = self.error
        return body

    def last_line(self) -> str:
        text = self.output.decode("utf-8", "replace").rstrip("\r\n")
        return text.rsplit("\n", 1)[-1].strip()


OutputCallback = Callable[[bytes], None]


class _Run:
    """One command over one session: events in, markers found, a result out."""

    def __init__(self, nonce: str, on_output: OutputCallback | None) -> None:
        self.nonce = nonce
        self.scanner = MarkerScanner(nonce)
        self.on_output = on_output
        self.output = bytearray()
        self.logged_in = asyncio.Event()
        self.shell_spoke = asyncio.Event()
        self.done = asyncio.Event()
        self.status: str | None = None
        self.error: str | None = None

    def on_event(self, event: SessionEvent) -> None:
        if isinstance(event, Output):
            self.shell_spoke.set()
            self._take(self.scanner.feed(event.text))
            if self.scanner.finished is not None:
                code = self.scanner.finished.exit_code
                self._finish(OK if code == 0 else FAILED)
        elif isinstance(event, LoginAccepted):
            self.logged_in.set()
        elif isinstance(event, PeerDisconnected):
            if event.status_code == "400" and not self.scanner.started:
                self._finish(LOGIN_FAILED, event.status_msg or "login failed")
            else:  # the shell or the tunnel is gone: the markers will never come
                self._finish(ERROR, _disconnect_words(event))
        elif isinstance(event, Ended):
            self._finish(ERROR, f"tunnel session ended: {event.reason}")

    def _take(self, text: str) -> None:
        if not text:
            return
        data = text.encode("utf-8", "replace")
        self.output += data
        if self.on_output is not None:
            try:
                self.on_output(data)
            except Exception:  # a consumer's bug must not lose the exec
                log.exception("exec output callback failed")

    def flush_pending(self) -> None:
        self._take(self.scanner.pending())

    def _finish(self, status: str, error: str | None = None) -> None:
        if self.status is None:
            self.status, self.error = status, error
        self.done.set()


def _disconnect_words(event: PeerDisconnected) -> str:
    words = {
        "408": "the shell ended before the command finished",
        "410": "the device disconnected",
        "401": "the tunnel token expired",
        "200": "the tunnel was closed",
        "4000": "replaced by a newer connection",
    }.get(event.status_code, f"disconnected ({event.status_code})")
    return f"{words}: {event.status_msg}" if event.status_msg else words


async def exec_command(
    client: ExecApi,
    device_id: str,
    argv: Sequence[str],
    login: ExecLogin,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token_store: TokenStore | None = None,
    on_output: OutputCallback | None = None,
    device_status: str | None = None,
    audit: AuditLog | None = None,
    ssl_context: ssl.SSLContext | None = None,
    tunnels: ExecTunnels | None = None,
    on_tunnel: Callable[[str, bool], None] | None = None,
) -> ExecResult:
    """Run `argv` on `device_id`; never raises for a platform or device failure.

    `device_status`: the device's status when the caller already listed it (a fleet),
    else it is asked for. `on_tunnel(tunnel_id, held)` tells a fleet runner which
    tunnels are in use (held=True) and given back (False). Cancellation gives back the
    tunnel before it propagates.
    """
    started = time.monotonic()
    tunnels = tunnels or ExecTunnels(client, token_store or TokenStore(), audit=audit)
    command = quote_argv(argv)
    if audit is not None:
        audit.record(EXEC_START, device_id=device_id, command=command)
    run = _Run(new_nonce(), on_output)
    held: HeldTunnel | None = None
    status, error = ERROR, None
    try:
        async with asyncio.timeout(timeout):
            if device_status is None:
                device_status = await tunnels.device_status(device_id)
            if device_status != "ONLINE":
                status, error = OFFLINE, f"device is {device_status}"
            else:
                held = await tunnels.acquire(device_id)
                if on_tunnel is not None:
                    on_tunnel(held.stored.tunnel_id, True)
                status, error = await _run_over(client, held, argv, login, run, ssl_context)
    except TimeoutError:
        run.flush_pending()
        status, error = TIMEOUT, f"no result within {timeout:g}s"
    except TunnelUnavailable as exc:
        status, error = ERROR, str(exc)
    except IoTDAError as exc:
        status, error = ERROR, _platform_words(exc)
    except asyncio.CancelledError:
        if audit is not None:
            audit.record(EXEC_END, device_id=device_id, command=command, outcome="interrupted")
        raise
    finally:
        if held is not None:
            await _give_back(tunnels, held)
            if on_tunnel is not None:
                on_tunnel(held.stored.tunnel_id, False)
    code = run.scanner.finished.exit_code if run.scanner.finished else None
    result = ExecResult(
        device_id=device_id,
        status=status,
        exit_code=code,
        duration_ms=int((time.monotonic() - started) * 1000),
        output=bytes(run.output),
        error=error,
        tunnel_id=held.stored.tunnel_id if held else None,
    )
    if audit is not None:
        audit.record(
            EXEC_END,
            device_id=device_id,
            tunnel_id=result.tunnel_id,
            command=command,
            outcome=status,
            exit_status=code,
            detail=error,
        )
    return result


async def _run_over(
    client: ExecApi,
    held: HeldTunnel,
    argv: Sequence[str],
    login: ExecLogin,
    run: _Run,
    ssl_context: ssl.SSLContext | None,
) -> tuple[str, str | None]:
    stored = held.stored
    session = TunnelSession(
        stored.tunnel_uri,
        stored.token,
        on_event=run.on_event,
        expires_at=stored.expires_at,
        max_reconnects=0,  # a new connection means a new shell: the exec would be lost
        ssl_context=ssl_context,
        # a relay that does only what Huawei documents does not repeat connect_tunnel to
        # a source that comes after the device: the REST tunnel state says it is there
        client=client if hasattr(client, "platform_is_iotunnel") else None,
    )
    task = asyncio.create_task(session.run(), name=f"exec-{stored.device_id}")
    try:
        session.login(login.username, login.password)
        if not await _first(run.logged_in, run.done):
            return run.status or ERROR, run.error
        # wait for the shell's first words (banner, prompt) so a device that drops input
        # typed before its shell is up still gets the line
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(QUIET_SHELL_WAIT):
                await _first(run.shell_spoke, run.done)
        if run.done.is_set():
            return run.status or ERROR, run.error
        session.send_input(command_line(argv, run.nonce))
        await run.done.wait()
        return run.status or ERROR, run.error
    finally:
        await _end_session(session, task)


async def _first(wanted: asyncio.Event, done: asyncio.Event) -> bool:
    """Wait until `wanted` or `done` is set; True if `wanted` came (and not `done`)."""
    waiters = {asyncio.create_task(wanted.wait()), asyncio.create_task(done.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return wanted.is_set() and not done.is_set()


async def _end_session(session: TunnelSession, task: asyncio.Task[None]) -> None:
    await _finish_even_if_cancelled(_close_session(session, task))


async def _close_session(session: TunnelSession, task: asyncio.Task[None]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(session.close(), RELEASE_TIMEOUT)
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _give_back(tunnels: ExecTunnels, held: HeldTunnel) -> None:
    await _finish_even_if_cancelled(_release_quietly(tunnels, held))


async def _finish_even_if_cancelled(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run a (time-bounded) clean-up to its end however often the caller is cancelled
    meanwhile (ctrl+c must not leak a tunnel), then re-raise the cancellation."""
    running = asyncio.ensure_future(cleanup)
    cancelled = False
    while not running.done():
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _release_quietly(tunnels: ExecTunnels, held: HeldTunnel) -> None:
    try:
        await asyncio.wait_for(tunnels.release(held), RELEASE_TIMEOUT)
    except (IoTDAError, TimeoutError) as exc:
        log.warning("could not give back tunnel %s: %s", held.stored.tunnel_id, exc)


def _platform_words(exc: IoTDAError) -> str:
    where = f"HTTP {exc.status}" if exc.status else "no response"
    return f"{exc.error_msg} ({where}, {exc.error_code})"
