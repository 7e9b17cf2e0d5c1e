"""What every `iotunnel` sub-command shares: exit codes and the usage error."""

from __future__ import annotations

import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOGIN_PASSWORD_ENV = "IOTUNNEL_LOGIN_PASSWORD"


class UsageError(Exception):
    """A bad option or configuration: printed as one line, exit 2."""


def require_terminal(command: str) -> None:
    """Full-screen commands need a terminal on both ends: with output going to a pipe or
    a file, the UI would draw into it and wait on keys that never come."""
    ends = (("stdin", sys.stdin), ("stdout", sys.stdout))
    missing = [name for name, stream in ends if not _is_terminal(stream)]
    if missing:
        raise UsageError(
            f"{command} draws a full-screen UI and needs a terminal, but {' and '.join(missing)}"
            f" {'is' if len(missing) == 1 else 'are'} not one; run it in a terminal (over SSH:"
            " `ssh -t`), or use `iotunnel devices`, `iotunnel tunnels` or `iotunnel exec` in"
            " scripts"
        )


def _is_terminal(stream: object) -> bool:
    try:
        return os.isatty(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
