"""The pty backend on a real PTY: login check, I/O, resize, and no orphaned processes."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from tests.agent.helpers import open_fds, read_until, wait_exit
from tui.agent.backends.base import LoginFailed
from tui.agent.backends.pty import GATHER_SIZE, READ_SIZE, TTY_BUFFER_FULL, PtyBackend

TIMEOUT = 20.0

# interpreter forks in this process (os.fork, or subprocess with a preexec_fn); a hook
# cannot be unregistered, so one for the whole module
_forks: list[int] = []
os.register_at_fork(before=lambda: _forks.append(os.getpid()))


@pytest.fixture
def backend() -> PtyBackend:
    return PtyBackend("demo", "s3cret", device_name="dev-1")


async def test_bad_credentials_are_refused(backend: PtyBackend) -> None:
    with pytest.raises(LoginFailed):
        await backend.open("demo", "wrong", 80, 24)
    with pytest.raises(LoginFailed):
        await backend.open("root", "s3cret", 80, 24)


async def test_command_output_prompt_and_environment(
    backend: PtyBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOTUNNEL_DEVICE_SECRET", "do-not-leak")
    session = await backend.open("demo", "s3cret", 80, 24)
    try:
        session.write(b"echo $TERM-$((6*7)); echo ${IOTUNNEL_DEVICE_SECRET:-none}XX\r")
        out = await read_until(session, b"noneXX")
        assert b"xterm-256color-42" in out
        assert b"dev-1" in out  # the prompt names the device
    finally:
        await session.close()


async def test_resize_shows_in_stty_size(backend: PtyBackend) -> None:
    session = await backend.open("demo", "s3cret", 128, 30)
    try:
        session.write(b"stty size; echo D$((1+1))X\r")
        assert b"30 128" in await read_until(session, b"D2X")
        session.resize(100, 40)
        session.write(b"stty size; echo D$((2+1))X\r")
        assert b"40 100" in await read_until(session, b"D3X")
    finally:
        await session.close()


async def test_shell_exit_ends_the_stream(backend: PtyBackend) -> None:
    session = await backend.open("demo", "s3cret", 80, 24)
    try:
        session.write(b"sleep 300 & exit\r")
        out = await read_until(session, b"\x00never")  # runs until EOF
        assert out is not None
        await wait_exit(session.pid)
    finally:
        await session.close()


async def test_close_kills_the_whole_session(backend: PtyBackend) -> None:
    before = open_fds()
    session = await backend.open("demo", "s3cret", 80, 24)
    session.write(b"sleep 301 & (trap '' HUP; exec sleep 302) & ")
    session.write(b"echo P$((6*7)):$(jobs -p | tr '\\n' ,)E$((1))\r")
    out = await read_until(session, b"E1\r")
    listed = out.split(b"P42:")[-1].split(b"E1")[0]
    pids = [int(p) for p in listed.split(b",") if p.strip()]
    assert len(pids) == 2
    shell = session.pid
    await session.close()
    for pid in [shell, *pids]:
        await wait_exit(pid)
    assert open_fds() == before


def stat_fields(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    return stat[stat.rfind(b")") + 2 :].split()  # state ppid pgrp session tty_nr tpgid …


async def test_shell_leads_its_session_with_its_pty_as_controlling_terminal(
    backend: PtyBackend,
) -> None:
    session = await backend.open("demo", "s3cret", 80, 24)
    try:
        session.write(b"echo R$((1+1))Y\r")
        await read_until(session, b"R2Y")  # at its prompt: job control is set up
        pid = session.pid
        _, pgrp, sid, tty_nr, tpgid = (int(f) for f in stat_fields(pid)[1:6])
        assert sid == pid == pgrp
        assert tty_nr == os.stat(f"/proc/{pid}/fd/0").st_rdev  # the PTY, as controlling tty
        assert tpgid == pgrp  # the shell holds the terminal's foreground
    finally:
        await session.close()


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid (util-linux)")
async def test_starting_a_shell_does_not_fork_the_agent(backend: PtyBackend) -> None:
    # a fork copies the whole agent and the event loop waits until the copy has exec'd:
    # ~65 ms a shell in a fleet of 1,000, which starved the loop when logins came at once
    before = len(_forks)
    session = await backend.open("demo", "s3cret", 80, 24)
    try:
        session.write(b"echo F$((2+2))Z\r")
        await read_until(session, b"F4Z")
        assert len(_forks) == before
    finally:
        await session.close()


async def test_streaming_output_comes_in_gathered_reads_and_an_echo_alone(
    backend: PtyBackend, tmp_path
) -> None:
    # a streaming program fills the tty's 4 KB buffer read after read: those reads are
    # gathered (one frame batch, one write on the way), every byte intact and in order
    text = tmp_path / "lines.txt"
    lines = b"".join(b"line %06d \xc3\xa4\xe2\x82\xac\n" % i for i in range(20_000))
    text.write_bytes(lines)
    session = await backend.open("demo", "s3cret", 80, 24)
    try:
        session.write(b"stty -echo; echo R$((1+1))Y\r")
        await read_until(session, b"R2Y")
        session.write(f"cat {text}; echo C$((2+2))D\r".encode())
        reads: list[bytes] = []
        while b"C4D" not in b"".join(reads[-2:]):
            reads.append(await asyncio.wait_for(session.read(), TIMEOUT))
            assert reads[-1], "the shell ended"
        out = b"".join(reads)
        assert lines.replace(b"\n", b"\r\n") in out  # the tty turns \n into \r\n
        gathered = sum(len(r) for r in reads if len(r) > 2 * TTY_BUFFER_FULL)
        assert gathered > len(out) / 2  # most of it came several tty buffers at a time
        assert all(len(r) <= GATHER_SIZE + READ_SIZE for r in reads)
        # a short output is handed on as it is: nothing waits for more to come
        session.write(b"echo E$((3+3))F\r")
        echo = await read_until(session, b"E6F")
        assert len(echo) < TTY_BUFFER_FULL
    finally:
        await session.close()


async def test_a_read_cancelled_while_gathering_loses_no_output(
    backend: PtyBackend, tmp_path
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 300_000)  # no newline: the tty passes it on byte for byte
    session = await backend.open("demo", "s3cret", 80, 24)
    try:
        session.write(b"stty -echo; echo R$((1+1))Y\r")
        await read_until(session, b"R2Y\r\n")
        readable = session._readable
        cancels = 0

        async def cancel_the_first_gathering(within: float | None = None) -> bool:
            nonlocal cancels
            if within is not None and not cancels:  # output already read, more awaited
                cancels += 1
                asyncio.current_task().cancel()
            return await readable(within)

        session._readable = cancel_the_first_gathering
        session.write(f"cat {blob}; echo; echo C$((2+2))D\r".encode())
        out = b""
        async with asyncio.timeout(TIMEOUT):
            while b"C4D" not in out:
                reading = asyncio.ensure_future(session.read())
                try:
                    out += await reading
                except asyncio.CancelledError:
                    assert reading.cancelled()  # the read, not this test
        assert cancels == 1
        assert b"x" * 300_000 in out  # all of it, in one piece
        assert out.count(b"x") == 300_000
    finally:
        await session.close()
