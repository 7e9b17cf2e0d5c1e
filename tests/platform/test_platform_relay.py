"""Two WebSocket clients relaying through a tunnel of the platform (docs/protocol.md §5)."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.tunnel_ws import (
    close_code,
    frames_until_closed,
    linked_tunnel,
    next_frame,
    open_link,
)
from tui.iotda.frames import (
    CloseCode,
    DisconnectCode,
    Op,
    TunnelFrame,
    command_frame,
    connect_frame,
    new_request_id,
)

DEVICE = "boiler_0001"


async def _tunnel(device, client):
    created = await client.create_tunnel(DEVICE)
    notice = await device.next_notify()
    return created, notice


async def _states(client, tunnel_id):
    tunnel = await client.show_tunnel(tunnel_id)
    return tunnel.status, tunnel.source_connect_state.status, tunnel.device_connect_state.status


async def _wait_states(p, client, tunnel_id, expected):
    """The platform updates states right after a socket event: wait for it, then check REST."""
    status, source, device = expected
    await p.wait_tunnel(tunnel_id, status=status, source=source, device=device)
    assert await _states(client, tunnel_id) == expected


async def test_relay_verbatim_both_ways_with_connect_tunnel_and_states(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, notice = await _tunnel(device, client)
        assert notice.tunnel_uri.endswith(f"/v5/iot/tunnels/{created.tunnel_id}/device-connect")
        assert notice.tunnel_access_token != created.tunnel_access_token
        assert await _states(client, created.tunnel_id) == ("OPEN", "DISCONNECTED", "DISCONNECTED")

        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        await _wait_states(p, client, created.tunnel_id, ("OPEN", "CONNECTED", "DISCONNECTED"))
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
        assert await _states(client, created.tunnel_id) == ("OPEN", "CONNECTED", "CONNECTED")

        login = connect_frame("root", "secret-pw").encode()
        await app.send(login)
        assert await dev.recv() == login  # verbatim
        pretty = json.dumps(json.loads(command_frame("ls\r").encode()), indent=2)
        await app.send(pretty)
        assert await dev.recv() == pretty
        answer = TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), "é" * 1000).encode()
        await dev.send(answer)
        assert await app.recv() == answer

        await app.close()
        await dev.close()
        await _wait_states(p, client, created.tunnel_id, ("OPEN", "DISCONNECTED", "DISCONNECTED"))


async def test_connect_tunnel_at_once_when_device_was_first_and_peer_gone_410():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        created, notice = await _tunnel(device, client)
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
        await dev.close()
        frame = await next_frame(app)
        assert frame["operation_type"] == Op.DISCONNECT
        assert frame["data"]["status_code"] == DisconnectCode.PEER_GONE
        await _wait_states(p, client, created.tunnel_id, ("OPEN", "CONNECTED", "DISCONNECTED"))
        # the device comes back: a new connect_tunnel
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
        # the app leaves: the device is told, with the envelope a C-SDK device needs
        await app.close()
        frame = await next_frame(dev)
        assert frame["operation_type"] == Op.DISCONNECT
        assert frame["tunnel_service_type"] == "ssh"
        assert len(frame["request_id"]) == 36
        assert frame["data"]["status_code"] == DisconnectCode.PEER_GONE
        await dev.close()


async def test_ping_is_answered_never_relayed(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        _created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        ping = TunnelFrame(Op.PING, new_request_id())
        await app.send(ping.encode())
        pong = await next_frame(app)
        assert pong["operation_type"] == Op.PONG
        assert pong["request_id"] == ping.request_id
        marker = command_frame("after-ping").encode()
        await app.send(marker)
        assert await dev.recv() == marker  # the ping never reached the device
        await app.close()
        await dev.close()


@pytest.mark.parametrize("token", ["", "wrong-token", "x" * 300])
async def test_bad_token_refused_at_upgrade_with_401_body(token):
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        created, notice = await _tunnel(device, client)
        for uri in (created.tunnel_uri, notice.tunnel_uri):
            with pytest.raises(InvalidStatus) as info:
                await open_link(uri, token)
            assert info.value.response.status_code == 401
            body = json.loads(info.value.response.body)
            assert body["error_code"] == "IOTDA.019704"
        # each token is valid only on its own side
        with pytest.raises(InvalidStatus):
            await open_link(created.tunnel_uri, notice.tunnel_access_token)
        with pytest.raises(InvalidStatus):
            await open_link(notice.tunnel_uri, created.tunnel_access_token)


async def test_newer_link_replaces_older_with_4000():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        created, notice = await _tunnel(device, client)
        first = await open_link(created.tunnel_uri, created.tunnel_access_token)
        second = await open_link(created.tunnel_uri, created.tunnel_access_token)
        frames = await frames_until_closed(first)
        assert first.close_code == CloseCode.REPLACED
        assert frames[-1]["data"]["status_code"] == DisconnectCode.REPLACED
        dev1 = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        assert (await next_frame(second))["operation_type"] == Op.CONNECT_TUNNEL
        dev2 = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        assert await close_code(dev1) == CloseCode.REPLACED
        assert (await next_frame(second))["operation_type"] == Op.CONNECT_TUNNEL
        await _wait_states(p, client, created.tunnel_id, ("OPEN", "CONNECTED", "CONNECTED"))
        await dev2.send(command_frame("still-relayed").encode())
        assert json.loads(await second.recv())["data"] == "still-relayed"
        await second.close()
        await dev2.close()


async def test_oversize_frame_closes_with_1009_and_bad_frames_are_dropped():
    async with (
        running_platform() as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        _created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        await app.send(b"\x00\x01binary")
        await app.send("not json at all")
        await app.send(command_frame("x" * 9000).encode())  # under 10 KB: relayed
        assert json.loads(await dev.recv())["data"] == "x" * 9000
        await app.send(command_frame("x" * 11000).encode())
        assert await close_code(app) == CloseCode.TOO_BIG
        frame = await next_frame(dev)
        assert frame["data"]["status_code"] == DisconnectCode.PEER_GONE
        await dev.close()


async def test_close_api_ends_live_session_and_reconnect_reopens(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, notice, app, dev = await linked_tunnel(client, device, DEVICE)
        await client.close_tunnel(created.tunnel_id)
        frames = await frames_until_closed(app)
        assert frames[-1]["operation_type"] == Op.DISCONNECT
        assert frames[-1]["data"]["status_code"] == DisconnectCode.CLOSED_BY_API
        assert app.close_code == CloseCode.NORMAL
        assert await close_code(dev) == CloseCode.NORMAL
        assert await _states(client, created.tunnel_id) == (
            "CLOSED",
            "DISCONNECTED",
            "DISCONNECTED",
        )
        # a closed tunnel can be connected again: OPEN, and the device is notified again
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        again = await device.next_notify()
        assert again.tunnel_uri == notice.tunnel_uri
        dev = await open_link(again.tunnel_uri, again.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
        assert await _states(client, created.tunnel_id) == ("OPEN", "CONNECTED", "CONNECTED")
        await app.close()
        await dev.close()


async def test_delete_ends_live_links_and_tokens_stop_working():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        created, _ = await _tunnel(device, client)
        await client.close_tunnel(created.tunnel_id)
        await client.delete_tunnel(created.tunnel_id)
        with pytest.raises(InvalidStatus) as info:
            await open_link(created.tunnel_uri, created.tunnel_access_token)
        assert info.value.response.status_code == 401


async def test_expiry_sends_401_closes_both_and_marks_closed():
    async with (
        running_platform(token_ttl=3) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, notice = await _tunnel(device, client)
        assert created.expires_in == 3
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        await next_frame(app)
        frames = await frames_until_closed(app, timeout=30)
        assert frames[-1]["data"]["status_code"] == DisconnectCode.TOKEN_EXPIRED
        assert app.close_code == CloseCode.NORMAL
        assert await close_code(dev, timeout=30) == CloseCode.NORMAL
        assert await _states(client, created.tunnel_id) == (
            "CLOSED",
            "DISCONNECTED",
            "DISCONNECTED",
        )
        with pytest.raises(InvalidStatus) as info:
            await open_link(created.tunnel_uri, created.tunnel_access_token)
        assert info.value.response.status_code == 401
        assert json.loads(info.value.response.body)["error_code"] == "IOTDA.019705"


async def test_platform_stop_closes_links_with_1001():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        created, _ = await _tunnel(device, client)
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        await _wait_states(p, client, created.tunnel_id, ("OPEN", "CONNECTED", "DISCONNECTED"))
        await p.platform.tunnels.stop()
        assert await close_code(app) == CloseCode.GOING_AWAY


async def test_mqtt_login_and_logout_drive_device_status():
    async with running_platform() as p, p.client() as client:
        assert (await client.show_device(DEVICE)).device.status == "INACTIVE"
        async with mqtt_device(p, DEVICE):
            assert (await client.show_device(DEVICE)).device.status == "ONLINE"
        await p.wait_device(DEVICE, "OFFLINE")
        detail = await client.show_device(DEVICE)
        assert detail.device.status == "OFFLINE"
        assert detail.active_time is not None


async def test_a_restarted_device_is_called_back_to_an_open_tunnel_its_app_waits_on():
    async with running_platform() as p, p.client() as client:
        async with mqtt_device(p, DEVICE) as device:
            created, notice = await _tunnel(device, client)
            dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
            app = await open_link(created.tunnel_uri, created.tunnel_access_token)
            assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
            await dev.close()
        frame = await next_frame(app)
        assert frame["data"]["status_code"] == DisconnectCode.PEER_GONE
        await p.wait_device(DEVICE, "OFFLINE")
        # the agent restarts: coming online again, it is told about the waiting tunnel
        async with mqtt_device(p, DEVICE) as device:
            again = await device.next_notify()
            assert again.tunnel_uri == notice.tunnel_uri
            dev = await open_link(again.tunnel_uri, again.tunnel_access_token)
            assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
            await dev.close()
        await app.close()


async def test_an_app_connecting_right_after_create_does_not_call_the_device_twice():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        _created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        assert device.notifications.empty()
        await app.close()
        await dev.close()


async def test_an_app_reconnecting_to_an_open_tunnel_calls_the_device_again():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        p.platform.tunnels.renotify_after = 0  # as if the first call were long ago
        created, notice = await _tunnel(device, client)
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        again = await device.next_notify()  # the device never came: ask it again
        assert again.tunnel_uri == notice.tunnel_uri
        dev = await open_link(again.tunnel_uri, again.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
        await app.close()
        await dev.close()
