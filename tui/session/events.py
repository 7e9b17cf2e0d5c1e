"""What a tunnel session tells its owner (the dashboard), as frozen dataclasses.

Events are delivered synchronously on the asyncio loop thread, in order; `Ended` is
always the last one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Connecting:
    """Opening the WebSocket; attempt 0 is the first connection."""

    attempt: int


@dataclass(frozen=True)
class WaitingForDevice:
    """The socket is open but the device side has not connected (no `connect_tunnel`)."""


@dataclass(frozen=True)
class DeviceReady:
    """`connect_tunnel` arrived: the device is there and a login can be sent."""


@dataclass(frozen=True)
class LoginAccepted:
    """`connect_response` arrived; `message` is its data when the device sent a string."""

    message: str | None = None


@dataclass(frozen=True)
class Output:
    """Shell output from one `command_response` frame."""

    text: str


@dataclass(frozen=True)
class PeerDisconnected:
    """A `disconnect` frame: 400 bad login, 408 shell ended, 410 device gone, 401 expired…"""

    status_code: str
    status_msg: str


@dataclass(frozen=True)
class Reconnecting:
    """The socket dropped; the next attempt starts after `delay` seconds, at `next_try_at`
    (the session's clock). `limit` is None: retries go on while the token is valid."""

    attempt: int
    limit: int | None
    delay: float
    next_try_at: float = 0.0


@dataclass(frozen=True)
class InputRefused:
    """Input typed while the shell was not reachable overflowed the hold (4 KB): dropped."""

    bytes_dropped: int


@dataclass(frozen=True)
class Resumed:
    """The device kept the shell across a drop: same shell, missed output replayed.

    `LoginAccepted` follows, as after any login."""


@dataclass(frozen=True)
class NewShell:
    """A shell other than the one before started (after a reconnect or a new login).

    The old shell and its work are gone; `LoginAccepted` follows."""


@dataclass(frozen=True)
class Ended:
    """Final event: the session is over and will not reconnect."""

    reason: str
    expired: bool = False
    close_code: int | None = None


SessionEvent = (
    Connecting
    | WaitingForDevice
    | DeviceReady
    | LoginAccepted
    | Output
    | PeerDisconnected
    | Reconnecting
    | InputRefused
    | Resumed
    | NewShell
    | Ended
)

__all__ = [
    "Connecting",
    "DeviceReady",
    "Ended",
    "InputRefused",
    "LoginAccepted",
    "NewShell",
    "Output",
    "PeerDisconnected",
    "Reconnecting",
    "Resumed",
    "SessionEvent",
    "WaitingForDevice",
]
