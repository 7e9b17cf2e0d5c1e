"""What every `iotunnel` sub-command shares: exit codes and the usage error."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOGIN_PASSWORD_ENV = "IOTUNNEL_LOGIN_PASSWORD"


class UsageError(Exception):
    """A bad option or configuration: printed as one line, exit 2."""
