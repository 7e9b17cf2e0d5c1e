"""Token countdown: hh:mm:ss and the warning level of a tunnel token."""

from __future__ import annotations

import math
from enum import StrEnum

from tui.app.config import Countdown


class TokenLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    EXPIRED = "expired"


def seconds_left(expires_at: float, now: float) -> int:
    """Whole seconds left, rounded up so that 00:00:00 means expired."""
    return max(0, math.ceil(expires_at - now))


def format_countdown(seconds: int) -> str:
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def token_level(seconds: int, thresholds: Countdown) -> TokenLevel:
    if seconds <= 0:
        return TokenLevel.EXPIRED
    if seconds <= thresholds.critical_seconds:
        return TokenLevel.CRITICAL
    if seconds <= thresholds.warning_seconds:
        return TokenLevel.WARNING
    return TokenLevel.OK


def token_notice(
    level: TokenLevel, name: str, left: int, in_terminal: bool
) -> tuple[str, str, str]:
    """(title, message, severity) of the notice for a newly reached level; it names the
    keys that renew from where the focus is (in the terminal `r` is text)."""
    renew = "ctrl+] then r renews" if in_terminal else "r renews"
    if level == TokenLevel.WARNING:
        return (
            "Token expiring",
            f"Tunnel token of {name} expires in {left // 60} min · {renew}",
            "warning",
        )
    if level == TokenLevel.CRITICAL:
        return "Token expiring", f"Tunnel token of {name} expires in {left} s · {renew}", "error"
    return "Token expired", f"Tunnel token of {name} expired · {renew}", "error"
