"""Masking of secrets before they reach a log line, a screen or an exception."""

from __future__ import annotations


def mask(secret: str | None) -> str:
    """Show enough of a secret to tell two apart, never enough to use it."""
    if not secret:
        return "<none>"
    if len(secret) <= 8:
        return "***"
    return f"{secret[:4]}…({len(secret)})"
