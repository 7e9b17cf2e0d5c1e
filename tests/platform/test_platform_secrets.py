"""No secret reaches the platform's log, even at DEBUG: not the SK, the IAM password or
token, the tunnel tokens, the device secret or MQTT password, nor a relayed SSH password.

uvicorn's WebSocket protocol logs handshake headers and frames at DEBUG on its own
loggers; the platform keeps those at INFO (tui/platform/server.py: quiet_wire_logs).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.tunnel_ws import next_frame, open_link
from tui.iotda.auth import IamPasswordAuth
from tui.iotda.frames import Op, command_frame, connect_frame
from tui.iotda.mqtt import hour_stamp, mqtt_password

SSH_PASSWORD = "ssh-password-never-logged"


async def test_debug_log_carries_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    async with running_platform() as p:
        iam = IamPasswordAuth(
            p.endpoints.rest,
            username=p.user.name,
            password=p.user.password,
            domain=p.user.domain,
            project_id=p.project_id,
        )
        iam_token = await iam.token()
        async with p.client(auth=iam) as by_token, p.client() as by_signature:
            await by_token.show_device("boiler_0001")
            async with mqtt_device(p, "boiler_0001") as device:
                created = await by_signature.create_tunnel("boiler_0001")
                notice = await device.next_notify()
                app = await open_link(created.tunnel_uri, created.tunnel_access_token)
                dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
                assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
                await app.send(connect_frame("root", SSH_PASSWORD).encode())
                assert SSH_PASSWORD in (await next_frame(dev))["data"]["password"]
                await app.send(command_frame("ls\r").encode())
                await next_frame(dev)
                with pytest.raises(InvalidStatus):  # a refused token is not logged either
                    await open_link(created.tunnel_uri, created.tunnel_access_token + "x")
                await by_signature.close_tunnel(created.tunnel_id)
                await app.wait_closed()
                await dev.wait_closed()
                await by_signature.delete_tunnel(created.tunnel_id)

    hour = hour_stamp(datetime.now(UTC))
    secrets = {
        "sk": p.sk,
        "iam password": p.user.password,
        "iam token": iam_token,
        "source token": created.tunnel_access_token,
        "device token": notice.tunnel_access_token,
        "device secret": p.secrets["boiler_0001"],
        "mqtt password": mqtt_password(p.secrets["boiler_0001"], hour),
        "ssh password": SSH_PASSWORD,
    }
    # the test's own clients (websockets, httpcore) log their wire at DEBUG: not ours
    ours = [r for r in caplog.records if r.name.startswith(("tui.", "uvicorn"))]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours)
    assert any(r.levelno == logging.DEBUG for r in ours)  # DEBUG was on
    assert "tunnel" in text and "IAM token" in text  # and the platform did log
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_refused_upgrades_log_no_error(caplog):
    """uvicorn logs a spurious ERROR after every denial response; the platform drops it."""
    caplog.set_level(logging.INFO)
    async with running_platform() as p:
        for path in ("tunnels/unknown/source-connect", "no/such/path"):
            with pytest.raises(InvalidStatus) as info:
                await open_link(f"{p.endpoints.ws}/v5/iot/{path}", "some-token")
            assert info.value.response.status_code in (401, 404)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
