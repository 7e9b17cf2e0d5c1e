"""The ssh backend against a real asyncssh server on 127.0.0.1 started by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.agent.helpers import read_until
from tests.agent.sshd import ssh_server
from tui.agent.backends.base import LoginFailed
from tui.agent.backends.ssh import SshBackend

TIMEOUT = 20.0


@pytest.fixture
async def ssh_port() -> AsyncIterator[int]:
    async with ssh_server() as port:
        yield port


async def test_good_password_runs_a_shell_with_resize(ssh_port: int) -> None:
    session = await SshBackend("127.0.0.1", ssh_port).open("field", "correct horse", 128, 30)
    try:
        assert b"welcome field on xterm-256color" in await read_until(session, b"$ ")
        session.write("héllo\r".encode())
        assert "echo:héllo".encode() in await read_until(session, "echo:héllo".encode())
        session.write(b"size\r")
        assert b"size=128x30" in await read_until(session, b"size=128x30")
        session.resize(90, 20)
        session.write(b"size\r")
        assert b"size=90x20" in await read_until(session, b"size=90x20")
        session.write(b"exit\r")
        await read_until(session, b"\x00never")  # EOF ends the read loop
        assert await session.read() == b""
    finally:
        await session.close()
        await session.close()  # twice is fine


async def test_bad_password_is_login_failed(ssh_port: int) -> None:
    with pytest.raises(LoginFailed) as info:
        await SshBackend("127.0.0.1", ssh_port).open("field", "wrong horse", 80, 24)
    assert "wrong horse" not in str(info.value)


async def test_unknown_user_is_login_failed(ssh_port: int) -> None:
    with pytest.raises(LoginFailed):
        await SshBackend("127.0.0.1", ssh_port).open("nobody", "correct horse", 80, 24)


async def test_no_server_is_login_failed(unused_tcp_port: int) -> None:
    with pytest.raises(LoginFailed):
        await SshBackend("127.0.0.1", unused_tcp_port).open("field", "correct horse", 80, 24)
