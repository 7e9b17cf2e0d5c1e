"""Tunnel keepalive: a side whose frames keep coming is alive, even when its pong is late;
a side that sends nothing and answers nothing is still dropped.

The device here is a raw socket that never reads, so it never answers a ping: what a busy
device looks like when its pong waits behind hundreds of kilobytes of its own output (the
1,000-tunnel soak, where the platform dropped hundreds of streaming device links at once).
The app reads every frame at once, so the relay never holds the device side back.
"""

from __future__ import annotations

import asyncio

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.raw_ws import RawLink
from tests.support.tunnel_ws import next_frame, open_link
from tui.iotda.frames import DisconnectCode, Op, TunnelFrame, new_request_id

DEVICE = "boiler_0001"
KEEPALIVE = 0.5  # the platform pings every 0.5 s and expects the pong 0.5 s later
PERIODS = 6  # the device streams this many keepalive periods without a single pong


async def test_a_streaming_device_is_not_dropped_for_late_pongs_and_a_silent_one_is():
    async with (
        running_platform(keepalive=KEEPALIVE) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created = await client.create_tunnel(DEVICE)
        notice = await device.next_notify()
        app = await open_link(created.tunnel_uri, created.tunnel_access_token)
        dev = await RawLink.open(notice.tunnel_uri, notice.tunnel_access_token)
        assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL

        loop = asyncio.get_running_loop()
        streaming_until = loop.time() + PERIODS * KEEPALIVE  # the test's length, not a wait
        sent = 0
        while loop.time() < streaming_until:
            dev.send_text(TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), f"{sent}").encode())
            frame = await next_frame(app)  # relayed: the device link is up
            assert (frame["operation_type"], frame["data"]) == (Op.COMMAND_RESPONSE, f"{sent}")
            sent += 1

        # silent from now on, and still no pong: dropped, and the app is told
        frame = await next_frame(app)
        assert frame["operation_type"] == Op.DISCONNECT
        assert frame["data"]["status_code"] == DisconnectCode.PEER_GONE
        await dev.closed()
        await app.close()
