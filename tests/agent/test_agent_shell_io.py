"""Big input and big output through platform + agent (pty): a paste of more than 10 KB
arrives whole, and Ctrl-C still interrupts a command that floods the tunnel."""

from __future__ import annotations

import asyncio
import hashlib
import random
import string

from tests.agent.source import TIMEOUT, Source
from tests.agent.test_agent_platform import LOGIN, agent, open_tunnel, platform  # noqa: F401
from tests.support.platform import RunningPlatform
from tui.agent.agent import Agent
from tui.iotda.frames import Op

# the app splits pasted text into frames of this many characters (tui.session)
PASTE_FRAME_CHARS = 1536


def pasted_text(size: int) -> str:
    rng = random.Random(size)
    alphabet = string.ascii_letters + string.digits + " éü€中"
    lines = []
    while sum(len(line.encode()) + 1 for line in lines) < size:
        lines.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200))))
    return "\n".join(lines) + "\n"


async def read_tail_until(source: Source, marker: str, timeout: float = TIMEOUT * 2) -> str:
    """Like Source.read_until, but keeps only the tail: the output may be huge."""
    tail = ""
    async with asyncio.timeout(timeout):
        while marker not in tail:
            frame = await source.recv(timeout)
            if frame.operation_type == Op.COMMAND_RESPONSE and isinstance(frame.data, str):
                tail = (tail + frame.data)[-8192:]
            elif frame.operation_type == Op.DISCONNECT:
                raise AssertionError(f"disconnect while waiting for {marker!r}: {frame.data}")
    return tail


async def test_big_paste_reaches_the_shell_whole(
    platform: RunningPlatform,  # noqa: F811
    agent: Agent,  # noqa: F811
    tmp_path: object,
) -> None:
    text = pasted_text(24_000)
    assert len(text.encode()) > 10 * 1024
    target = f"{tmp_path}/pasted.txt"
    _, source = await open_tunnel(platform)
    try:
        await source.login(*LOGIN)
        # paste only once the command runs: bytes typed ahead while the shell's line
        # editor still has the terminal in raw mode would reach cat as raw CRs
        await source.type(f"echo R$((1))Z; cat > {target}\r")
        await read_tail_until(source, "R1Z")
        typed = text.replace("\n", "\r")  # a terminal sends Enter as CR
        for start in range(0, len(typed), PASTE_FRAME_CHARS):
            await source.type(typed[start : start + PASTE_FRAME_CHARS])
        await source.type("\x04")  # end of input for cat
        await source.type(f"md5sum < {target}; echo M$((4))Z\r")
        tail = await read_tail_until(source, "M4Z")
    finally:
        await source.close()
    assert hashlib.md5(text.encode()).hexdigest() in tail


async def test_ctrl_c_interrupts_a_flood(
    platform: RunningPlatform,  # noqa: F811
    agent: Agent,  # noqa: F811
) -> None:
    _, source = await open_tunnel(platform)
    try:
        await source.login(*LOGIN)
        await source.type("yes flood\r")
        await read_tail_until(source, "flood\r\n" * 100)
        await source.type("\x03")
        await source.type("echo after-$((6*7))\r")
        tail = await read_tail_until(source, "after-42")
        assert "^C" in tail
        # the shell is usable again: nothing is still flooding
        await source.type("echo calm-$((1))\r")
        tail = await read_tail_until(source, "calm-1")
        assert "flood" not in tail.split("calm-$((1))")[-1]
    finally:
        await source.close()
