"""Issue 12 §6: the platform is killed (-9) and restarted during a session; the shell
resumes and the stream it was printing arrives whole: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.agent.helpers import alive
from tests.chaos.resume_rig import (
    DEVICE,
    TIMEOUT,
    agent_process,
    ask_pid,
    checksum,
    device_online,
    expected_checksum,
    logged_in,
    platform_process,
    start_session,
    stream_command,
    stream_lines,
    until,
)
from tests.session.relay import EventLog
from tui.session import NewShell, Resumed


async def test_platform_kill9_and_restart_resumes_the_shell(
    tmp_path: Path, relay_mode: str
) -> None:
    async with (
        platform_process(tmp_path, relay_mode) as platform,
        agent_process(tmp_path, platform.mqtt),
        platform.client() as client,
    ):
        await until(lambda: device_online(client))
        created = await client.create_tunnel(DEVICE)
        log = EventLog()
        session, task = start_session(
            created.tunnel_uri, created.tunnel_access_token, created.expires_in, client, log
        )
        try:
            await logged_in(session, log)
            pid = await ask_pid(session, log, 1)
            session.send_input(stream_command())
            await log.wait_for(lambda: "L40\r" in log.text(), TIMEOUT)
            platform.kill9()
            assert platform.proc is not None
            await platform.proc.wait()
            assert alive(pid)
            await platform.start()
            await log.wait_kind(Resumed, timeout=TIMEOUT)
            await log.wait_for(lambda: "EN1D" in log.text(), TIMEOUT)
            lines = stream_lines(log.text())
            assert checksum(lines) == expected_checksum(), (lines[:3], len(lines))
            assert await ask_pid(session, log, 2) == pid  # the same shell
            assert not log.of(NewShell)
        finally:
            await session.close()
            await asyncio.wait_for(task, TIMEOUT)
