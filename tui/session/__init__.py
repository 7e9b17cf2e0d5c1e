"""tui.session: the app side of one tunnel (WebSocket, login, stream, reconnect, record)."""

from tui.session.events import (
    Connecting,
    DeviceReady,
    Ended,
    InputRefused,
    LoginAccepted,
    NewShell,
    Output,
    PeerDisconnected,
    Reconnecting,
    Resumed,
    SessionEvent,
    WaitingForDevice,
)
from tui.session.recorder import Recorder
from tui.session.session import TunnelSession
from tui.session.tokens import StoredTunnel, TokenStore

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
    "Recorder",
    "Resumed",
    "SessionEvent",
    "StoredTunnel",
    "TokenStore",
    "TunnelSession",
    "WaitingForDevice",
]
