"""Run `iotunnel …` as a separate process against a test's platform (the platform keeps
serving in the test's event loop while the command runs)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.exec.rig import TIMEOUT, ExecRig

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    returncode: int
    stdout: bytes
    stderr: str


def cli_env(rig: ExecRig, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        IOTUNNEL_ENDPOINT=rig.platform.endpoints.rest,
        IOTUNNEL_PROJECT_ID=rig.platform.project_id,
        IOTUNNEL_AK=rig.platform.ak,
        IOTUNNEL_REGION=rig.platform.region,
        IOTUNNEL_SK=rig.platform.sk,
        IOTUNNEL_LOGIN_USER=rig.login.username,
        IOTUNNEL_LOGIN_PASSWORD=rig.login.password,
    )
    env.update(extra)
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


async def start_cli(rig: ExecRig, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *cli_argv(*args),
        env=cli_env(rig, **env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(rig: ExecRig, *args: str, **env: str) -> Ran:
    process = await start_cli(rig, *args, **env)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.send_signal(signal.SIGKILL)
        await process.wait()
        raise
    assert process.returncode is not None
    return Ran(process.returncode, stdout, stderr.decode("utf-8", "replace"))
