"""Real processes for the resume chaos tests: `iotunnel platform` and `iotunnel agent`
(pty backend) as children that a test can kill -9, plus a TunnelSession in the test's
loop and a shell stream whose output is checked end to end.

    async with platform_process(tmp_path, relay_mode) as platform:
        async with agent_process(tmp_path, platform.mqtt) as agent: ...
        platform.kill9(); await platform.start()    # same ports, same SQLite state
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.session.relay import EventLog
from tests.support.platform import SEED_FILE
from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.platform.config import load_seed
from tui.session import LoginAccepted, TunnelSession

TIMEOUT = 60.0
DEVICE = "boiler_0001"
LOGIN = ("chaos", "chaos-password-0123")
SEED = load_seed(SEED_FILE)


def _port(url: str) -> int:
    return urlsplit(url).port or 0


@dataclass
class PlatformProcess:
    """`iotunnel platform` on fixed ports after its first start, state in a SQLite file."""

    state: Path
    relay_mode: str
    proc: asyncio.subprocess.Process | None = None
    endpoints: dict[str, str] = field(default_factory=dict)

    @property
    def mqtt(self) -> str:
        return self.endpoints["mqtt"]

    async def start(self) -> None:
        ports = (
            {k: str(_port(self.endpoints[k])) for k in ("rest", "mqtt", "ws")}
            if (self.endpoints)
            else {"rest": "0", "mqtt": "0", "ws": "0"}
        )
        seed = self.state.with_name("seed.toml")  # a seed holds secrets: 0600, like theirs
        if not seed.exists():
            seed.write_bytes(SEED_FILE.read_bytes())
            seed.chmod(0o600)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui", "platform", "--seed", str(seed),
            "--state", str(self.state), "--relay", self.relay_mode,
            "--rest-port", ports["rest"], "--mqtt-port", ports["mqtt"], "--ws-port", ports["ws"],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        ready = json.loads(line)
        assert ready["event"] == "ready", ready
        self.endpoints = {k: ready[k] for k in ("rest", "mqtt", "ws")}

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), TIMEOUT)
            except TimeoutError:
                self.proc.kill()
        if self.proc is not None:
            await self.proc.wait()

    def client(self) -> IoTDAClient:
        auth = AkSkAuth(SEED.credentials[0].ak, SEED.credentials[0].sk, region=SEED.region)
        return IoTDAClient(self.endpoints["rest"], SEED.project_id, auth, retries=1)


@contextlib.asynccontextmanager
async def platform_process(tmp_path: Path, relay_mode: str) -> AsyncIterator[PlatformProcess]:
    platform = PlatformProcess(tmp_path / "state.sqlite", relay_mode)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


def _private(path: Path, text: str) -> str:
    path.write_text(text + "\n")
    os.chmod(path, 0o600)
    return str(path)


@contextlib.asynccontextmanager
async def agent_process(tmp_path: Path, mqtt: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui", "agent", "--device-id", DEVICE, "--mqtt", mqtt,
        "--secret-file", _private(tmp_path / "secret", SEED.devices[0].secret),
        "--backend", "pty", "--login-user", LOGIN[0],
        "--login-password-file", _private(tmp_path / "login", LOGIN[1]),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def start_session(
    uri: str, token: str, expires_in: int, client: IoTDAClient, log: EventLog
) -> tuple[TunnelSession, asyncio.Task[None]]:
    session = TunnelSession(
        uri,
        token,
        on_event=log,
        expires_at=time.time() + expires_in,
        client=client,
        backoff=(0.2, 2.0),
        rest_poll=(0.5, 2.0),
    )
    return session, asyncio.create_task(session.run())


async def logged_in(session: TunnelSession, log: EventLog) -> None:
    session.login(*LOGIN)
    await log.wait_kind(LoginAccepted, timeout=TIMEOUT)


# a stream the test can check line by line: numbered, paced, ended by a marker that the
# typed command line itself does not contain (the shell computes it)
STREAM_LINES = 300


def stream_command(lines: int = STREAM_LINES, pace: float = 0.01) -> str:
    return f"for i in $(seq 1 {lines}); do echo L$i; sleep {pace}; done; echo EN$((1))D\r"


def stream_lines(text: str) -> list[str]:
    """The numbered lines of the stream, in the order they arrived."""
    # bash may put `ESC[?2004l CR` before a command's first output line
    return re.findall(r"(?:^|[\r\n])(L\d+)(?=\r?\n)", text)


def checksum(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def expected_checksum(lines: int = STREAM_LINES) -> str:
    return checksum([f"L{i}" for i in range(1, lines + 1)])


async def until(predicate, timeout: float = TIMEOUT, every: float = 0.1):
    """Ask an async `predicate` until it is truthy (for state only a REST API can tell)."""
    async with asyncio.timeout(timeout):
        while not (result := await predicate()):
            await asyncio.sleep(every)
        return result


async def device_online(client: IoTDAClient) -> bool:
    return (await client.show_device(DEVICE)).device.status == "ONLINE"


def shell_pid(text: str, tag: int) -> int | None:
    found = re.findall(rf"PID=(\d+):{tag}Z", text)
    return int(found[-1]) if found else None


async def ask_pid(session: TunnelSession, log: EventLog, tag: int) -> int:
    session.send_input(f"echo PID=$$:$(({tag}+0))Z\r")
    return await log.wait_for(lambda: shell_pid(log.text(), tag), TIMEOUT)
