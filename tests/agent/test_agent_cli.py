"""`iotunnel agent` and `iotunnel fleet` as real processes against an in-process platform."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.agent.source import Source
from tests.support.platform import SEED_FILE, RunningPlatform, private_seed, running_platform
from tui.iotda.frames import ConnectAnswer, Op, connect_frame

TIMEOUT = 30.0
DEVICE = "boiler_0001"


class Proc:
    """A child `iotunnel` process whose stderr log the test reads line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, *args: str) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui", *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def wait_line(self, text: str, count: int = 1) -> None:
        """Read the log until `text` has appeared `count` times in all."""
        assert self.proc.stderr is not None
        async with asyncio.timeout(TIMEOUT):
            while sum(text in line for line in self.lines) < count:
                line = await self.proc.stderr.readline()
                if not line:
                    raise AssertionError(f"exited before {text!r}: {self.lines[-5:]}")
                self.lines.append(line.decode(errors="replace"))

    async def finish(self) -> int:
        assert self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), TIMEOUT)
        self.lines += rest.decode(errors="replace").splitlines()
        return await asyncio.wait_for(self.proc.wait(), TIMEOUT)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest.fixture
async def platform() -> AsyncIterator[RunningPlatform]:
    async with running_platform() as p:
        yield p


def private_file(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> str:
    path = tmp_path / name
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return str(path)


async def test_agent_serves_a_tunnel_and_exits_0_on_sigterm(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    secret = platform.secrets[DEVICE]
    args = [
        "-vv", "agent", "--device-id", DEVICE, "--mqtt", platform.endpoints.mqtt,
        "--secret-file", private_file(tmp_path, "secret", secret),
        "--backend", "pty", "--login-user", "field",
        "--login-password-file", private_file(tmp_path, "login", "pw-123456789"),
        "--keepalive", "30", "--resume-grace", "60",
    ]  # fmt: skip
    agent = await Proc.start(*args)
    try:
        await agent.wait_line("connected to")
        gateway = platform.platform._gateway
        assert gateway is not None and gateway._connections[DEVICE].keepalive == 30
        async with platform.client() as client:
            created = await client.create_tunnel(DEVICE)
        source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
        frame = connect_frame("field", "pw-123456789")
        await source.ws.send(frame.encode())
        answer = ConnectAnswer.from_frame(await source.next_of(Op.CONNECT_RESPONSE))
        assert answer.resume_ticket is not None and "resume" in answer.extensions
        await source.type("echo cli-$((2*21))\r")
        await source.read_until("cli-42")
        agent.proc.send_signal(signal.SIGTERM)
        bye = await source.next_of(Op.DISCONNECT)
        assert bye.data["status_code"] == "410"
        assert await agent.finish() == 0
        await source.close()
    finally:
        await agent.kill()
    log = "".join(agent.lines)
    assert " DEBUG " in log  # the most verbose log there is, and still no secret in it
    assert secret not in log and "pw-123456789" not in log
    assert created.tunnel_access_token not in log
    assert answer.resume_ticket not in log
    assert "Traceback" not in log


async def test_insecure_warns_once_at_start(unused_tcp_port: int) -> None:
    args = [
        "agent", "--device-id", DEVICE, "--mqtt", f"mqtts://127.0.0.1:{unused_tcp_port}",
        "--insecure",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "IOTUNNEL_DEVICE_SECRET": "from-env-secret"},
    )  # fmt: skip
    agent = Proc(proc)
    try:
        await agent.wait_line("retrying in", 2)
        proc.send_signal(signal.SIGTERM)
        assert await agent.finish() == 0
    finally:
        await agent.kill()
    warnings = [line for line in agent.lines if "NOT checked" in line]
    assert len(warnings) == 1 and "--insecure" in warnings[0]


async def test_agent_refuses_a_readable_secret_file(tmp_path: Path) -> None:
    loose = private_file(tmp_path, "secret", "s3cret-value", 0o644)
    agent = await Proc.start(
        "agent", "--device-id", DEVICE, "--mqtt", "mqtt://127.0.0.1:1", "--secret-file", loose
    )
    assert await agent.finish() == 2
    assert len(agent.lines) == 1 and "chmod 600" in agent.lines[0]
    assert "s3cret-value" not in agent.lines[0]


async def test_agent_from_toml_unreachable_broker_exits_0_on_sigint(
    unused_tcp_port: int, tmp_path: Path
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[agent]\ndevice_id = "{DEVICE}"\nmqtt = "mqtt://127.0.0.1:{unused_tcp_port}"\n'
        'backend = "ssh"\nidle_timeout = 120\n'
    )
    env_secret = {"IOTUNNEL_DEVICE_SECRET": "from-env-secret"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui", "agent", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env_secret},
    )  # fmt: skip
    agent = Proc(proc)
    try:
        # without -v too, the user learns that it retries, and when
        await agent.wait_line("retrying in", 2)
        assert f"cannot connect to mqtt://127.0.0.1:{unused_tcp_port}" in agent.lines[0]
        proc.send_signal(signal.SIGINT)
        assert await agent.finish() == 0
    finally:
        await agent.kill()
    assert "from-env-secret" not in "".join(agent.lines)


async def test_fleet_runs_devices_and_takes_them_offline(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    args = [
        "-v",
        "fleet",
        "--seed",
        str(private_seed(tmp_path)),
        "--mqtt",
        platform.endpoints.mqtt,
        "--count",
        "3",
    ]
    fleet = await Proc.start(*args)
    try:
        await fleet.wait_line("connected to", 3)
        fleet.proc.send_signal(signal.SIGUSR1)
        await fleet.wait_line("taken offline")
        fleet.proc.send_signal(signal.SIGUSR2)
        await fleet.wait_line("back online")
        await fleet.wait_line("connected to", 4)
        # a fleet device answers a tunnel with the demo login
        async with platform.client() as client:
            created = await client.create_tunnel(platform.device_ids[1])
        source = await Source.open(created.tunnel_uri, created.tunnel_access_token)
        await source.login("demo", "demo")
        await source.type("echo fleet-$((3*3))\r")
        await source.read_until("fleet-9")
        await source.close()
        fleet.proc.send_signal(signal.SIGTERM)
        assert await fleet.finish() == 0
    finally:
        await fleet.kill()
    assert "Traceback" not in "".join(fleet.lines)


async def test_fleet_bad_options_exit_2(tmp_path: Path) -> None:
    bad_seed = tmp_path / "seed.toml"
    bad_seed.write_text("devices = [")
    loose = tmp_path / "password"
    loose.write_text("pw-on-a-shared-disk\n")
    loose.chmod(0o644)
    (tmp_path / "good").mkdir()
    seed = private_seed(tmp_path / "good")
    base = ["fleet", "--seed", str(seed), "--mqtt", "mqtt://127.0.0.1:1"]
    for args in (
        ["fleet", "--seed", str(SEED_FILE), "--mqtt", "mqtt://127.0.0.1:1"],  # 0644: secrets
        ["fleet", "--seed", str(bad_seed), "--mqtt", "mqtt://127.0.0.1:1"],
        [*base, "--flap", "x"],
        ["fleet", "--seed", str(seed), "--mqtt", "http://nope"],
        [*base, "--password-file", str(loose)],  # readable by others: refused
        [*base, "--password", "pw-in-ps-output"],  # a secret flag would show in `ps`
    ):
        proc = await Proc.start(*args)
        assert await proc.finish() == 2, proc.lines
        output = "".join(proc.lines)
        assert "Traceback" not in output and "pw-in-ps-output" not in output


async def test_fleet_prints_one_ready_line_and_exits_130_on_sigint(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    # issue 8 §5: main printed nothing on stdout and exited 0 when interrupted
    args = [
        "fleet",
        "--seed",
        str(private_seed(tmp_path)),
        "--mqtt",
        platform.endpoints.mqtt,
        "--count",
        "3",
    ]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        assert line.decode().startswith("iotunnel: fleet ready: 3 devices online")
        for device_id in platform.device_ids[:3]:
            await platform.wait_device(device_id, "ONLINE")
        proc.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(proc.stdout.read(), TIMEOUT)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 130
        assert rest == b""  # one line, and nothing else on stdout
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
