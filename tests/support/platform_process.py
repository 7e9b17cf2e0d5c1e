"""`iotunnel platform` as a real process, for chaos tests (tests/chaos/test_platform_*.py).

    async with platform_process(tmp_path, "--token-ttl", "8") as proc:
        proc.ready["rest"], proc.ready["ws"], proc.mqtt      # from its ready line
        async with proc.client() as client, mqtt_device(proc.mqtt, "boiler_0001") as device:
            ...
        proc.rss_kb()                                        # VmRSS of the process

The process is killed at the end of the block if it is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

from tests.support.platform import private_seed
from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.platform.config import Seed, load_seed


@dataclass
class PlatformProcess:
    proc: asyncio.subprocess.Process
    ready: dict[str, str]
    seed: Seed

    @property
    def mqtt(self) -> SimpleNamespace:
        """What tests/support/device.py's mqtt_device needs (host, port, secrets)."""
        parts = urlsplit(self.ready["mqtt"])
        secrets = {d.device_id: d.secret for d in self.seed.devices}
        return SimpleNamespace(mqtt_host=parts.hostname, mqtt_port=parts.port, secrets=secrets)

    def client(self) -> IoTDAClient:
        cred = self.seed.credentials[0]
        auth = AkSkAuth(cred.ak, cred.sk, region=self.seed.region)
        return IoTDAClient(self.ready["rest"], self.seed.project_id, auth, retries=0)

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    async def stop(self, timeout: float) -> tuple[int, bytes]:
        """SIGTERM; the exit code and stderr, raising TimeoutError past `timeout`."""
        if self.proc.returncode is None:
            self.proc.terminate()
        _, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        return self.proc.returncode or 0, err


@contextlib.asynccontextmanager
async def platform_process(folder: Path, *options: str) -> AsyncIterator[PlatformProcess]:
    seed_path = private_seed(folder)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tui.cli", "platform", "--seed", str(seed_path)],
        *(options if "--state" in options else (*options, "--state", ":memory:")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            err = await proc.stderr.read()
            raise RuntimeError(f"platform did not start: {err.decode(errors='replace')}")
        yield PlatformProcess(proc, json.loads(line), load_seed(seed_path))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
