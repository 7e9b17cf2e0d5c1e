"""Issue 10 §4: the host a platform advertises, and `--tls-self-signed` for C-SDK devices.

Everything listens on 127.0.0.1 and every byte goes there; the advertised name is checked
where it appears (ready line, tunnel_uri, tunnel_notify), not dialled.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import sys
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.device import mqtt_device
from tests.support.platform import private_seed, running_platform
from tests.support.tunnel_ws import open_link
from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.frames import Op
from tui.platform.server import advertised_host

DEVICE = "boiler_0001"


@pytest.mark.parametrize(
    ("bind", "given", "expected"),
    [
        ("127.0.0.1", None, "127.0.0.1"),
        ("0.0.0.0", None, socket.gethostname()),
        ("::", None, socket.gethostname()),
        ("0.0.0.0", "gw.example.test", "gw.example.test"),
        ("127.0.0.1", "10.0.0.7", "10.0.0.7"),
    ],
)
def test_the_advertised_host_is_what_a_device_can_dial(bind, given, expected):
    assert advertised_host(bind, given) == expected


def _loopback(url: str) -> str:
    """The same URL with its host replaced by 127.0.0.1, where the platform really listens."""
    parts = urlsplit(url)
    return parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl()


async def test_uris_and_notices_carry_the_advertised_host():
    async with running_platform(advertise_host="gw.example.test") as p:
        for url in (p.endpoints.rest, p.endpoints.mqtt, p.endpoints.ws):
            assert urlsplit(url).hostname == "gw.example.test"
        auth = AkSkAuth(p.ak, p.sk, region=p.region)
        loopback = SimpleNamespace(mqtt_host="127.0.0.1", mqtt_port=p.mqtt_port, secrets=p.secrets)
        async with (
            IoTDAClient(_loopback(p.endpoints.rest), p.project_id, auth) as client,
            mqtt_device(loopback, DEVICE) as device,
        ):
            created = await client.create_tunnel(DEVICE)
            notice = await device.next_notify()
            assert urlsplit(created.tunnel_uri).hostname == "gw.example.test"
            assert urlsplit(notice.tunnel_uri).hostname == "gw.example.test"
            assert created.tunnel_uri.startswith(p.endpoints.ws + "/v5/iot/tunnels/")


async def test_self_signed_tls_serves_https_mqtts_and_wss(tmp_path):
    folder = tmp_path / "tls"
    async with running_platform(tls_self_signed=str(folder)) as p:
        ca = p.endpoints.ca
        assert ca == str(folder / "ca.pem")
        assert p.endpoints.rest.startswith("https://127.0.0.1:")
        assert p.endpoints.mqtt.startswith("mqtts://") and p.endpoints.ws.startswith("wss://")
        assert folder.stat().st_mode & 0o777 == 0o700
        for key in ("ca.key", "server.key"):
            assert (folder / key).stat().st_mode & 0o777 == 0o600
        trust = ssl.create_default_context(cafile=ca)  # verifying, host name checked
        async with httpx.AsyncClient(verify=trust) as raw:
            answer = await raw.get(f"{p.endpoints.rest}/openapi.json")
        assert answer.status_code == 200
        auth = AkSkAuth(p.ak, p.sk, region=p.region)
        async with (
            IoTDAClient(p.endpoints.rest, p.project_id, auth, verify=trust) as client,
            mqtt_device(p, DEVICE, ssl=trust) as device,
        ):
            created = await client.create_tunnel(DEVICE)
            notice = await device.next_notify()
            assert notice.tunnel_uri.startswith("wss://")
            app = await open_link(created.tunnel_uri, created.tunnel_access_token, ssl=trust)
            dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token, ssl=trust)
            assert json.loads(await app.recv())["operation_type"] == Op.CONNECT_TUNNEL
            await app.close()
            await dev.close()
    first_ca = (folder / "ca.pem").read_bytes()
    async with running_platform(tls_self_signed=str(folder)):
        pass
    assert (folder / "ca.pem").read_bytes() == first_ca  # devices keep trusting it


async def test_cli_self_signed_and_advertised_host_in_the_ready_line(tmp_path):
    seed = private_seed(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tui.cli", "platform", "--seed", str(seed), "--state", ":memory:"],
        *["--tls-self-signed", str(tmp_path / "tls"), "--advertise-host", "localhost"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert ready["ca"] == str(tmp_path / "tls" / "ca.pem")
        assert ready["rest"].startswith("https://localhost:")
        assert ready["ws"].startswith("wss://localhost:")
        trust = ssl.create_default_context(cafile=ready["ca"])
        async with httpx.AsyncClient(verify=trust) as raw:
            answer = await raw.get(_loopback(ready["rest"]) + "/openapi.json")
        assert answer.status_code == 200  # the certificate names 127.0.0.1 too
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
