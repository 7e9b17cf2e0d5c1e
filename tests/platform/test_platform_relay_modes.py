"""The two relay behaviours (docs/protocol.md §5.1) and the frames a device may not send.

`iotunnel` (default) repeats `connect_tunnel` to a late app, tells the device when its app
left and relays our extensions; `documented` does only what Huawei documents. In both, a
device cannot send what only the platform originates. Absence is checked by order: a
marker frame sent after the dropped one is the next frame the other side sees.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.device import mqtt_device
from tests.support.platform import SEED_FILE, running_platform
from tests.support.tunnel_ws import linked_tunnel, next_frame, open_link
from tui.iotda.frames import (
    DisconnectCode,
    Op,
    TunnelFrame,
    command_frame,
    disconnect_frame,
    new_request_id,
    resize_frame,
)
from tui.platform.config import PlatformConfig, load_seed

DEVICE = "boiler_0001"


async def _device_first(p, client, device):
    """A tunnel whose device linked before the app: (created, notice, app, dev)."""
    created = await client.create_tunnel(DEVICE)
    notice = await device.next_notify()
    dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
    await p.wait_tunnel(created.tunnel_id, device="CONNECTED")
    app = await open_link(created.tunnel_uri, created.tunnel_access_token)
    await p.wait_tunnel(created.tunnel_id, source="CONNECTED")
    return created, notice, app, dev


async def test_a_late_app_gets_connect_tunnel_only_from_our_relay(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        _created, notice, app, dev = await _device_first(p, client, device)
        marker = TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), "marker").encode()
        await dev.send(marker)
        first = await next_frame(app)
        if relay_mode == "iotunnel":
            assert first["operation_type"] == Op.CONNECT_TUNNEL
            first = await next_frame(app)
        assert first == json.loads(marker)
        # the device (re)connecting while the app waits is documented: connect_tunnel
        await dev.close()
        assert (await next_frame(app))["data"]["status_code"] == DisconnectCode.PEER_GONE
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
        await app.close()
        await dev.close()


async def test_the_device_is_told_the_app_left_only_by_our_relay(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, _notice, app, dev = await _device_first(p, client, device)
        await app.close()
        await p.wait_tunnel(created.tunnel_id, source="DISCONNECTED")
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        await p.wait_tunnel(created.tunnel_id, source="CONNECTED")
        marker = command_frame("marker").encode()
        await app.send(marker)
        first = await next_frame(dev)
        if relay_mode == "iotunnel":
            assert first["operation_type"] == Op.DISCONNECT
            assert first["data"]["status_code"] == DisconnectCode.PEER_GONE
            first = await next_frame(dev)
        assert first == json.loads(marker)
        await app.close()
        await dev.close()


async def test_extensions_and_unknown_operations_pass_only_our_relay(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        _created, _notice, app, dev = await _device_first(p, client, device)
        resize = resize_frame(120, 40).encode()
        await app.send(resize)
        future = TunnelFrame("future_op", new_request_id(), {"x": 1}).encode()
        await dev.send(future)
        marker_in, marker_out = command_frame("in").encode(), command_frame("out").encode()
        await app.send(marker_in)
        await dev.send(marker_out)
        to_device = [await next_frame(dev)]
        frames_app = [await next_frame(app)]
        if relay_mode == "iotunnel":
            to_device.append(await next_frame(dev))
            frames_app.append(await next_frame(app))
            frames_app.append(await next_frame(app))
            assert frames_app[0]["operation_type"] == Op.CONNECT_TUNNEL
            assert to_device == [json.loads(resize), json.loads(marker_in)]
            assert frames_app[1:] == [json.loads(future), json.loads(marker_out)]
        else:
            assert to_device == [json.loads(marker_in)]
            assert frames_app == [json.loads(marker_out)]
        await app.close()
        await dev.close()


PLATFORM_ONLY = [
    TunnelFrame(Op.CONNECT_TUNNEL, new_request_id()),
    TunnelFrame(Op.PONG, new_request_id()),
    TunnelFrame(Op.PING, new_request_id()),
    disconnect_frame(DisconnectCode.TOKEN_EXPIRED, "fake expiry", new_request_id()),
    disconnect_frame(DisconnectCode.CLOSED_BY_API, "fake close", new_request_id()),
    disconnect_frame(DisconnectCode.REPLACED, "fake replace", new_request_id()),
    TunnelFrame(Op.DISCONNECT, new_request_id(), {"status_code": 401, "status_msg": "int"}),
]


@pytest.mark.parametrize("fake", PLATFORM_ONLY, ids=lambda f: f"{f.operation_type}-{f.data}")
async def test_a_device_cannot_send_what_only_the_platform_sends(relay_mode, fake):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        _created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        await dev.send(fake.encode())
        # the device's own disconnects (login failed, shell ended) are relayed
        login_failed = disconnect_frame(DisconnectCode.LOGIN_FAILED, "bad login", new_request_id())
        await dev.send(login_failed.encode())
        assert await next_frame(app) == json.loads(login_failed.encode())
        await app.close()
        await dev.close()


async def test_every_rest_answer_says_it_comes_from_the_local_platform():
    async with running_platform() as p:
        async with httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
            answers = [
                await raw.get("/openapi.json"),
                await raw.get(f"/v5/iot/{p.project_id}/devices"),  # 401, no credentials
                await raw.get("/no/such/api"),  # 404
                await raw.delete(f"/v5/iot/{p.project_id}/devices"),  # 405
            ]
        assert [a.status_code for a in answers] == [200, 401, 404, 405]
        for answer in answers:
            assert answer.headers["X-Iotunnel-Platform"] == "1"


def test_relay_mode_is_checked():
    seed = load_seed(SEED_FILE)
    with pytest.raises(ValueError, match="relay_mode"):
        PlatformConfig(seed=seed, relay_mode="huawei")


DISGUISED = [
    # the relay reads the first key on its hot path; a later or escaped key must not fool it
    '{"operation_type":"command_response","request_id":"r","data":"x",'
    '"operation_type":"disconnect","data":{"status_code":"401","status_msg":"fake"}}',
    '{"operation_type":"command_response","request_id":"r","data":"x",'
    '"operat\\u0069on_type":"disconnect","data":{"status_code":"401","status_msg":"fake"}}',
    '{"operation_type":"command_response","request_id":"r","data":"x",'
    '"\\u006fperation_type":"pong"}',
    # among the escapes of terminal output (ESC), and in upper-case hex
    '{"operation_type":"command_response","request_id":"r","data":"\\u001b[0m\\u001b[1m",'
    '"\\u006Fperation_type":"pong"}',
]


@pytest.mark.parametrize("text", DISGUISED)
async def test_a_disguised_platform_frame_is_dropped_too(text):
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        _created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        assert json.loads(text)["operation_type"] in (Op.DISCONNECT, Op.PONG)  # as apps read it
        await dev.send(text)
        marker = TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), "marker").encode()
        await dev.send(marker)
        assert await next_frame(app) == json.loads(marker)
        await app.close()
        await dev.close()


def test_dropped_frames_cannot_flood_the_log(caplog):
    from tui.platform.relay import _DropLog

    dropped = _DropLog("t-1", "device")
    with caplog.at_level("DEBUG", logger="tui.platform.relay"):
        for _ in range(2000):
            dropped("not a JSON object")
    loud = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(loud) == _DropLog.LOUD + 2  # the first ten, then the 1000th and the 2000th
    assert "2000 so far" in loud[-1].getMessage()
