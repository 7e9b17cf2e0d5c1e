"""A tunnel side that stops reading hurts no one else (issue 12, findings 1 and 2).

The stuck peer is a raw socket with a small receive buffer that never reads; its peer
streams until the platform stops reading it. Then every operation that used to wait on
the stuck socket must finish: the bounds below are hang guards, generous on purpose.
"""

from __future__ import annotations

import asyncio
import json

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.raw_ws import RawLink
from tests.support.tunnel_ws import close_code, frames_until_closed, next_frame, open_link
from tui.iotda.frames import CloseCode, DisconnectCode, Op, TunnelFrame, command_frame
from tui.platform.links import LinkLimits

DEVICE = "boiler_0001"
PROMPT = 5.0  # "within a few seconds"
# stall detection far away: these tests show that nothing waits for it
PATIENT = LinkLimits(stall_timeout=120.0, close_timeout=1.0)


async def _raw_tunnel(p, client, device, *, app_buffer=4096, dev_buffer=4096):
    """(created, app, dev): a tunnel with both sides raw sockets (they read only when told,
    and never answer a close frame), `*_buffer` their kernel receive buffers."""
    created = await client.create_tunnel(DEVICE)
    notice = await device.next_notify()
    app = await RawLink.open(
        created.tunnel_uri, created.tunnel_access_token, receive_buffer=app_buffer
    )
    dev = await RawLink.open(
        notice.tunnel_uri, notice.tunnel_access_token, receive_buffer=dev_buffer
    )
    await p.wait_tunnel(created.tunnel_id, source="CONNECTED", device="CONNECTED")
    return created, app, dev


async def _stuck_app(p, client, device):
    """(created, app, dev): the app reads nothing, the device streamed until stalled."""
    created, app, dev = await _raw_tunnel(p, client, device, dev_buffer=1 << 20)
    # a uvicorn upgrade that hid the transport would leave links unabortable
    assert all(link.transport for link in p.platform.tunnels.links(created.tunnel_id))
    await dev.stream_until_stalled()
    return created, app, dev


async def test_close_api_answers_at_once_with_a_stuck_app():
    async with (
        running_platform(link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, app, dev = await _stuck_app(p, client, device)
        async with asyncio.timeout(PROMPT):
            await client.close_tunnel(created.tunnel_id)
            await dev.closed()
            await p.wait_tunnel(
                created.tunnel_id, status="CLOSED", source="DISCONNECTED", device="DISCONNECTED"
            )
        app.abort()


async def test_a_stuck_device_does_not_hold_up_close_either():
    async with (
        running_platform(link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, app, dev = await _raw_tunnel(p, client, device, app_buffer=1 << 20)
        await app.stream_until_stalled()
        async with asyncio.timeout(PROMPT):
            await client.close_tunnel(created.tunnel_id)
            await app.closed()
        dev.abort()


async def test_an_app_reconnecting_past_its_stuck_link_gets_connect_tunnel():
    async with (
        running_platform(link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, stuck, dev = await _stuck_app(p, client, device)
        async with asyncio.timeout(PROMPT):
            app = await open_link(created.tunnel_uri, created.tunnel_access_token)
            frames = []
            while not frames or frames[-1]["operation_type"] != Op.CONNECT_TUNNEL:
                frames.append(await next_frame(app))
        await app.close()
        stuck.abort()
        dev.abort()


async def test_expiry_ends_both_sides_on_time_with_a_stuck_app():
    async with (
        running_platform(token_ttl=8, link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, app, dev = await _stuck_app(p, client, device)
        await dev.closed(timeout=8 + PROMPT)
        async with asyncio.timeout(PROMPT):
            await p.wait_tunnel(
                created.tunnel_id, status="CLOSED", source="DISCONNECTED", device="DISCONNECTED"
            )
        app.abort()


async def test_platform_stop_is_prompt_with_a_stuck_app():
    async with (
        running_platform(link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        _created, app, dev = await _stuck_app(p, client, device)
        async with asyncio.timeout(PROMPT):
            await p.platform.tunnels.stop()
            await dev.closed()
        app.abort()


async def test_a_stalled_peer_is_cut_and_its_device_told():
    limits = LinkLimits(stall_timeout=1.0, close_timeout=1.0)
    async with (
        running_platform(link_limits=limits) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created = await client.create_tunnel(DEVICE)
        notice = await device.next_notify()
        app = await RawLink.open(created.tunnel_uri, created.tunnel_access_token)
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
        await p.wait_tunnel(created.tunnel_id, source="CONNECTED", device="CONNECTED")
        disconnects: asyncio.Queue[dict] = asyncio.Queue()

        async def read() -> None:
            async for message in dev:
                frame = json.loads(message)
                if frame["operation_type"] == Op.DISCONNECT:
                    disconnects.put_nowait(frame)

        async def stream() -> None:
            chunk = TunnelFrame(Op.COMMAND_RESPONSE, "r" * 36, "y" * 2000).encode()
            while True:
                await dev.send(chunk)

        tasks = [asyncio.create_task(read()), asyncio.create_task(stream())]
        try:
            gone = await asyncio.wait_for(disconnects.get(), 30)
        finally:
            for task in tasks:
                task.cancel()
        assert gone["data"]["status_code"] == DisconnectCode.PEER_GONE
        await p.wait_tunnel(created.tunnel_id, status="OPEN", source="DISCONNECTED")
        assert dev.close_code is None  # the device's link stays up
        await dev.close()
        app.abort()


async def test_pings_of_a_stuck_app_do_not_block_its_commands():
    async with (
        running_platform(link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created = await client.create_tunnel(DEVICE)
        notice = await device.next_notify()
        app = await RawLink.open(created.tunnel_uri, created.tunnel_access_token)
        dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token, max_queue=None)
        await p.wait_tunnel(created.tunnel_id, source="CONNECTED", device="CONNECTED")
        chunk = TunnelFrame(Op.COMMAND_RESPONSE, "r" * 36, "y" * 2000).encode()
        stalled = False
        async with asyncio.timeout(30):
            while not stalled:  # until the platform stops reading the device
                try:
                    await asyncio.wait_for(dev.send(chunk), 0.5)
                except TimeoutError:
                    stalled = True
        # the app's ping is answered into its (full) socket, its next command still flows
        app.send_text(TunnelFrame(Op.PING, "p" * 36).encode())
        marker = command_frame("after-ping").encode()
        app.send_text(marker)
        async with asyncio.timeout(PROMPT):
            while (frame := await next_frame(dev))["operation_type"] != Op.COMMAND:
                pass
        assert frame == json.loads(marker)
        app.abort()
        dev.transport.abort()


async def test_close_code_of_a_replaced_link_still_4000():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        created = await client.create_tunnel(DEVICE)
        await device.next_notify()
        first = await open_link(created.tunnel_uri, created.tunnel_access_token)
        second = await open_link(created.tunnel_uri, created.tunnel_access_token)
        frames = await frames_until_closed(first)
        assert frames[-1]["data"]["status_code"] == DisconnectCode.REPLACED
        assert first.close_code == CloseCode.REPLACED
        await second.close()
        assert await close_code(second) == CloseCode.NORMAL


async def test_a_peer_that_never_answers_our_close_frame_is_cut_at_the_close_deadline():
    """uvicorn reports "disconnect" as soon as it sends our close frame, then holds the
    socket up to 10 s for the peer's answer: main took that echo for the socket's end and
    left both sockets open (seen as a flaky stuck-app test in CI)."""
    async with (
        running_platform(link_limits=PATIENT) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, app, dev = await _raw_tunnel(p, client, device)
        async with asyncio.timeout(PROMPT):  # PATIENT closes within 1 s
            await client.close_tunnel(created.tunnel_id)
            await dev.closed()
            await app.closed()
