"""Chaos (issue 12 §1): a real `iotunnel platform` process, an app that stops reading while
its device streams. Close, reconnect, expiry and SIGTERM each finish within seconds.

The stuck app is a raw socket with a small receive buffer that never reads; the device
streams until the platform stops reading it (its buffers toward the app are full). On the
old relay each of these waited on the stuck socket for as long as it stayed stuck.
"""

from __future__ import annotations

import asyncio

from tests.support.device import mqtt_device
from tests.support.platform_process import PlatformProcess, platform_process
from tests.support.raw_ws import RawLink
from tests.support.tunnel_ws import next_frame, open_link
from tui.iotda.frames import Op

DEVICE = "boiler_0001"
PROMPT = 5.0  # "within a few seconds"; the platform's stall timeout (20 s) is far off


async def _stuck(proc: PlatformProcess, client, device):
    created = await client.create_tunnel(DEVICE)
    notice = await device.next_notify()
    app = await RawLink.open(created.tunnel_uri, created.tunnel_access_token)
    dev = await RawLink.open(notice.tunnel_uri, notice.tunnel_access_token, receive_buffer=1 << 20)
    await dev.stream_until_stalled()
    return created, app, dev


async def test_close_with_a_stuck_app(tmp_path):
    async with platform_process(tmp_path) as proc:
        async with proc.client() as client, mqtt_device(proc.mqtt, DEVICE) as device:
            created, app, dev = await _stuck(proc, client, device)
            async with asyncio.timeout(PROMPT):
                await client.close_tunnel(created.tunnel_id)
                await dev.closed()
                shown = await client.show_tunnel(created.tunnel_id)
            assert shown.status == "CLOSED"
            assert shown.device_connect_state.status == "DISCONNECTED"
            app.abort()
        code, err = await proc.stop(60)
        assert code == 0 and b"Traceback" not in err


async def test_reconnect_past_a_stuck_app(tmp_path):
    async with (
        platform_process(tmp_path) as proc,
        proc.client() as client,
        mqtt_device(proc.mqtt, DEVICE) as device,
    ):
        created, stuck, dev = await _stuck(proc, client, device)
        async with asyncio.timeout(PROMPT):
            app = await open_link(created.tunnel_uri, created.tunnel_access_token)
            while (await next_frame(app))["operation_type"] != Op.CONNECT_TUNNEL:
                pass
        await app.close()
        stuck.abort()
        dev.abort()


async def test_expiry_with_a_stuck_app(tmp_path):
    async with (
        platform_process(tmp_path, "--token-ttl", "10") as proc,
        proc.client() as client,
        mqtt_device(proc.mqtt, DEVICE) as device,
    ):
        created, app, dev = await _stuck(proc, client, device)
        await dev.closed(timeout=10 + PROMPT)  # closed when the token ran out, not later
        async with asyncio.timeout(PROMPT):
            shown = await client.show_tunnel(created.tunnel_id)
        assert shown.status == "CLOSED"
        assert shown.source_connect_state.status == "DISCONNECTED"
        assert shown.device_connect_state.status == "DISCONNECTED"
        app.abort()


async def test_sigterm_with_a_stuck_app(tmp_path):
    async with (
        platform_process(tmp_path) as proc,
        proc.client() as client,
        mqtt_device(proc.mqtt, DEVICE) as device,
    ):
        _created, app, dev = await _stuck(proc, client, device)
        code, err = await proc.stop(PROMPT + 5)  # uvicorn's own grace is 5 s
        assert code == 0 and b"Traceback" not in err
        app.abort()
        dev.abort()


async def test_sigterm_with_a_stuck_device(tmp_path):
    async with (
        platform_process(tmp_path) as proc,
        proc.client() as client,
        mqtt_device(proc.mqtt, DEVICE) as device,
    ):
        created = await client.create_tunnel(DEVICE)
        notice = await device.next_notify()
        dev = await RawLink.open(notice.tunnel_uri, notice.tunnel_access_token)
        app = await RawLink.open(
            created.tunnel_uri, created.tunnel_access_token, receive_buffer=1 << 20
        )
        await app.stream_until_stalled()
        code, err = await proc.stop(PROMPT + 5)
        assert code == 0 and b"Traceback" not in err
        app.abort()
        dev.abort()
