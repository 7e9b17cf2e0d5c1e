"""tui.session: the app side of one tunnel (WebSocket, login, stream, reconnect, record)."""

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
from tui.session.recorder import Recorder
from tui.session.session import TunnelSession
from tui.session.tokens import StoredTunnel, TokenStore

__all__ = [
    "Connecting",
    "DeviceReady",
    "Ended",
    "LoginAccepted",
    "Output",
    "PeerDisconnected",
    "Reconnecting",
    "Recorder",
    "SessionEvent",
    "StoredTunnel",
    "TokenStore",
    "TunnelSession",
    "WaitingForDevice",
]
