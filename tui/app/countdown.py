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
