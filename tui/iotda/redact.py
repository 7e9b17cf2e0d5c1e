"""Masking of secrets before they reach a log line, a screen or an exception."""

from __future__ import annotations

import logging


def mask(secret: str | None) -> str:
    """Show enough of a secret to tell two apart, never enough to use it."""
    if not secret:
        return "<none>"
    if len(secret) <= 8:
        return "***"
    return f"{secret[:4]}…({len(secret)})"


def quiet_logger(name: str) -> logging.Logger:
    """The logger `name`, never below INFO whatever level the root logger has.

    For the loggers of wire libraries (websockets, uvicorn): at DEBUG they log handshake
    headers (tunnel tokens) and whole frames (a `connect` carries a password).
    """
    logger = logging.getLogger(name)
    if logger.level < logging.INFO:  # NOTSET (0) too: it would inherit the root's DEBUG
        logger.setLevel(logging.INFO)
    return logger
