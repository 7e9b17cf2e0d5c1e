"""A real asyncssh server on 127.0.0.1 for the ssh backend tests, with a tiny shell."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncssh

USERS = {"field": "correct horse"}


class PasswordServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return USERS.get(username) == password


async def line_shell(process: asyncssh.SSHServerProcess) -> None:
    """A tiny shell: `size` prints the terminal size, `exit` ends, anything else echoes."""
    term = process.get_terminal_type()
    process.stdout.write(f"welcome {process.get_extra_info('username')} on {term}\r\n$ ")
    line = ""
    try:
        while True:
            try:
                data = await process.stdin.read(1024)
            except asyncssh.TerminalSizeChanged:
                continue  # get_terminal_size() has the new size
            if not data:
                break
            for ch in data:
                if ch != "\r":
                    line += ch
                    continue
                if line == "exit":
                    process.exit(0)
                    return
                if line == "size":
                    cols, rows, *_ = process.get_terminal_size()
                    process.stdout.write(f"\r\nsize={cols}x{rows}\r\n$ ")
                else:
                    process.stdout.write(f"\r\necho:{line}\r\n$ ")
                line = ""
    except asyncssh.BreakReceived:
        pass
    process.exit(0)


@contextlib.asynccontextmanager
async def ssh_server() -> AsyncIterator[int]:
    """Serve until the block ends; yields the port. Users: USERS."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        PasswordServer,
        "127.0.0.1",
        0,
        server_host_keys=[key],
        process_factory=line_shell,
        line_editor=False,
    )
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
