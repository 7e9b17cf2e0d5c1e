"""With a certificate the platform speaks https, mqtts and wss (what Huawei's C SDK needs)."""

from __future__ import annotations

from websockets.asyncio.client import connect

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.tls import client_context, make_certificate
from tests.support.tunnel_ws import next_frame
from tui.iotda.frames import TOKEN_HEADER, Op, command_frame


async def test_tls_everywhere(tmp_path):
    cert, key = make_certificate(tmp_path)
    context = client_context(cert)
    async with running_platform(tls=(cert, key)) as p, p.client(verify=context) as client:
        assert p.endpoints.rest.startswith("https://")
        assert p.endpoints.mqtt.startswith("mqtts://")
        assert p.endpoints.ws.startswith("wss://")
        async with mqtt_device(p, "boiler_0001", ssl=context) as device:
            created = await client.create_tunnel("boiler_0001")
            assert created.tunnel_uri.startswith("wss://")
            notice = await device.next_notify()
            assert notice.tunnel_uri.startswith("wss://")

            def link(uri, token):
                return connect(uri, additional_headers={TOKEN_HEADER: token}, ssl=context)

            async with (
                link(created.tunnel_uri, created.tunnel_access_token) as app,
                link(notice.tunnel_uri, notice.tunnel_access_token) as dev,
            ):
                assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
                frame = command_frame("over tls").encode()
                await app.send(frame)
                assert await dev.recv() == frame
