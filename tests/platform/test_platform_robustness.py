"""Bad input of any kind never takes the platform down: garbage is refused, service goes on."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.platform import running_platform
from tests.support.tunnel_ws import open_link

GARBAGE = [
    b"\x00\xff\x10garbage\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"A" * 70000 + b"\r\n\r\n",
    b"GET /v5/iot/tunnels/x/source-connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
]


async def _poke(url: str, payload: bytes) -> bytes:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(payload)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(4096), 15)
    except (ConnectionError, TimeoutError):
        return b""
    finally:
        writer.close()


async def test_garbage_on_every_port_is_refused_and_service_continues():
    async with running_platform() as p, p.client() as client:
        for url in (p.endpoints.rest, p.endpoints.ws, p.endpoints.mqtt):
            for payload in GARBAGE:
                answer = await _poke(url, payload)
                assert b" 500 " not in answer.split(b"\r\n", 1)[0]
        assert len([d async for d in client.list_devices()]) == len(p.device_ids)


@pytest.mark.parametrize("tunnel_id", ["unknown", "x" * 200, "%00", "a" * 128])
async def test_websocket_to_unknown_or_odd_tunnel_ids_is_401(tunnel_id):
    async with running_platform() as p:
        with pytest.raises(InvalidStatus) as info:
            await open_link(f"{p.endpoints.ws}/v5/iot/tunnels/{tunnel_id}/source-connect", "t")
        assert info.value.response.status_code == 401
        assert info.value.response.headers["X-Request-Id"]
        assert json.loads(info.value.response.body)["error_code"].startswith("IOTDA.")


async def test_websocket_without_token_header_is_401():
    async with running_platform() as p:
        p.set_online("boiler_0001")
        async with p.client() as client:
            created = await client.create_tunnel("boiler_0001")
        with pytest.raises(InvalidStatus) as info:
            await connect(created.tunnel_uri)
        assert info.value.response.status_code == 401


async def test_text_frame_that_is_not_utf8_closes_that_link_quietly(caplog):
    from tests.support.device import mqtt_device
    from tests.support.tunnel_ws import close_code, next_frame

    caplog.set_level(logging.INFO)
    async with (
        running_platform() as p,
        p.client() as client,
        mqtt_device(p, "boiler_0001") as device,
    ):
        created = await client.create_tunnel("boiler_0001")
        notice = await device.next_notify()
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        await next_frame(app)
        await app.send(b'{"operation_type": "command", "data": "\xff"}', text=True)
        assert await close_code(app) == 1007
        assert (await next_frame(dev))["data"]["status_code"] == "410"  # app side gone
        await p.wait_tunnel(created.tunnel_id, status="OPEN", source="DISCONNECTED")
        await dev.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
