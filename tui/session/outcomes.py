"""How one tunnel connection ended: a final `Ended`, or a `Dropped` link to reconnect."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from websockets.exceptions import InvalidStatus

from tui.iotda.errors import ErrorBody, ErrorCode
from tui.iotda.frames import CloseCode, Disconnect, DisconnectCode
from tui.session.events import Ended


@dataclass(frozen=True)
class Dropped:
    """One connection ended in a way that allows a reconnect."""

    reason: str
    close_code: int | None
    progressed: bool  # the peer spoke: the consecutive-failure count starts again


def refused(exc: InvalidStatus, *, token_expired: bool) -> Ended | Dropped:
    """The upgrade was refused: expired and bad tokens end the session, 5xx retries."""
    status = exc.response.status_code
    body: ErrorBody | None = None
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = ErrorBody.from_json(json.loads(exc.response.body or b"null"))
    message = body.error_msg if body else f"HTTP {status}"
    # the expired code is documented (not decided), so branching on it is allowed
    if token_expired or (body is not None and body.error_code == ErrorCode.TUNNEL_TOKEN_EXPIRED):
        return Ended(f"token expired: {message}", expired=True)
    if status >= 500 or status == 429:
        return Dropped(f"refused: {message}", None, progressed=False)
    return Ended(f"refused (HTTP {status}): {message}")


def no_reconnect_reason(code: int | None, last: Disconnect | None) -> str:
    """Words for a close that must not be retried (1000, 1002, 4000)."""
    if code == CloseCode.AUTH_FAILED:
        return "authentication failed"
    if code == CloseCode.REPLACED or (last and last.status_code == DisconnectCode.REPLACED):
        return "replaced by a newer connection"
    if last is not None and last.status_msg:
        return f"tunnel closed: {last.status_msg}"
    return "tunnel closed"
