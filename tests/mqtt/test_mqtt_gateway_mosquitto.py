"""The gateway against Debian's mosquitto clients: a second, independent MQTT implementation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass

import pytest
from mqtt_gateway_support import SECRETS, WAIT, Credentials, LiveGateway, credentials

from tui.iotda.mqtt import events_down_topic, events_up_topic

DEV1 = "prod_dev1"
_MISSING = [name for name in ("mosquitto_sub", "mosquitto_pub") if shutil.which(name) is None]

pytestmark = pytest.mark.skipif(
    bool(_MISSING) and not os.environ.get("CI"),
    reason=f"{', '.join(_MISSING)} not installed (apt-get install mosquitto-clients); "
    "required when CI is set",
)


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


def mosquitto_args(
    tool: str, port: int, creds: Credentials, *extra: str, keepalive: int = 60
) -> list[str]:
    path = shutil.which(tool)
    if path is None:  # only reached under CI, where the clients are required
        pytest.fail(f"{tool} is required under CI (apt-get install mosquitto-clients)")
    return [
        path, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311",
        "-i", creds.client_id, "-u", creds.username, "-P", creds.password,
        "-k", str(keepalive), *extra,
    ]  # fmt: skip


async def start(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def finish(proc: asyncio.subprocess.Process) -> Finished:
    try:
        async with asyncio.timeout(WAIT):
            out, err = await proc.communicate()
        assert proc.returncode is not None
        return Finished(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def test_mosquitto_sub_receives_a_downlink(live: LiveGateway) -> None:
    creds = credentials(DEV1, SECRETS[DEV1])
    topic = events_down_topic(DEV1)
    proc = await start(
        mosquitto_args(
            "mosquitto_sub", live.port, creds, "-t", topic, "-q", "1", "-C", "1", "-W", "60"
        )
    )
    try:
        await live.recorder.wait_for(lambda: live.gateway.is_online(DEV1))
        # events/down is implicit, so delivery does not race the SUBSCRIBE.
        assert await live.gateway.publish(DEV1, topic, b'{"services":[]}')
        result = await finish(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '{"services":[]}'
    await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)


@pytest.mark.parametrize("qos", ["0", "1"])
async def test_mosquitto_pub_sends_an_uplink(live: LiveGateway, qos: str) -> None:
    creds = credentials(DEV1, SECRETS[DEV1])
    topic = events_up_topic(DEV1)
    result = await finish(
        await start(
            mosquitto_args("mosquitto_pub", live.port, creds, "-t", topic, "-m", "hello", "-q", qos)
        )
    )
    assert result.returncode == 0, result.stderr
    await live.recorder.wait_for(lambda: bool(live.recorder.uplinks))
    assert live.recorder.uplinks == [(DEV1, topic, b"hello")]
    await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)
    assert live.recorder.status == [(DEV1, True), (DEV1, False)]


async def test_mosquitto_pub_with_a_bad_password_is_refused(live: LiveGateway) -> None:
    good = credentials(DEV1, SECRETS[DEV1])
    creds = Credentials(good.client_id, DEV1, "f" * 64)
    result = await finish(
        await start(
            mosquitto_args(
                "mosquitto_pub", live.port, creds, "-t", events_up_topic(DEV1), "-m", "x"
            )
        )
    )
    assert result.returncode != 0
    assert "bad user name or password" in result.stderr.lower()
    assert live.recorder.status == [] and live.recorder.uplinks == []


async def test_mosquitto_pub_with_a_short_keepalive_is_refused(live: LiveGateway) -> None:
    creds = credentials(DEV1, SECRETS[DEV1])
    args = mosquitto_args(
        "mosquitto_pub", live.port, creds, "-t", events_up_topic(DEV1), "-m", "x", keepalive=10
    )
    result = await finish(await start(args))
    assert result.returncode != 0
    assert "identifier rejected" in result.stderr.lower()


async def test_mosquitto_sub_outside_its_namespace_is_denied(live: LiveGateway) -> None:
    creds = credentials(DEV1, SECRETS[DEV1])
    args = mosquitto_args(
        "mosquitto_sub",
        live.port,
        creds,
        "-t",
        "$oc/devices/prod_dev2/sys/events/down",
        "-E",
        "-W",
        "60",
    )
    result = await finish(await start(args))
    assert "denied" in (result.stdout + result.stderr).lower()
