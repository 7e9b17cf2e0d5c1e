"""The small interface between a tunnel and a shell: log in, write, read, resize, close."""

from __future__ import annotations

from typing import Protocol


class LoginFailed(Exception):
    """Bad username or password, or the login service could not be reached.

    The message is safe to send to the app: it never contains the password.
    """


class ShellSession(Protocol):
    """One logged-in shell with a terminal."""

    async def read(self) -> bytes:
        """The next output bytes; b"" once the shell has ended."""
        ...

    def write(self, data: bytes) -> None:
        """Input for the shell, as typed."""
        ...

    def resize(self, cols: int, rows: int) -> None: ...

    async def close(self) -> None:
        """End the shell and everything it started. Safe to call twice."""
        ...


class ShellBackend(Protocol):
    """Opens shell sessions for the credentials a `connect` frame carries."""

    async def open(self, username: str, password: str, cols: int, rows: int) -> ShellSession:
        """Log in and start a shell; raises LoginFailed."""
        ...
