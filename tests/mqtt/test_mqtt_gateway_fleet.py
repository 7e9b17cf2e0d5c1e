"""Many devices at once: 200 concurrent logins, a downlink to each, a clean OFFLINE for each."""

from __future__ import annotations

import asyncio

from mqtt_gateway_support import NOW, RawClient, Recorder, credentials

from tui.iotda.mqtt import events_down_topic, events_up_topic
from tui.platform.mqtt import DeviceGateway
from tui.platform.mqtt.codec import Publish

FLEET = {f"prod_node{n:04d}": f"secret-{n:04d}" for n in range(200)}


async def test_two_hundred_devices_at_once() -> None:
    recorder = Recorder()
    gateway = DeviceGateway(FLEET.get, recorder.on_status, recorder.on_uplink, clock=lambda: NOW)
    port = await gateway.start()
    clients: dict[str, RawClient] = {}
    try:

        async def login(device_id: str) -> None:
            client = clients[device_id] = await RawClient.open(port)
            assert (await client.connect(credentials(device_id, FLEET[device_id]))).code == 0
            await client.send(Publish(events_up_topic(device_id), device_id.encode(), 1, 1))

        await asyncio.gather(*(login(device_id) for device_id in FLEET))
        assert gateway.online_devices() == set(FLEET)
        delivered = await asyncio.gather(
            *(gateway.publish(d, events_down_topic(d), d.encode()) for d in FLEET)
        )
        assert all(delivered)
        for device_id, client in clients.items():
            first = await client.recv()  # the PUBACK of its uplink
            second = await client.recv()
            down = second if isinstance(second, Publish) else first
            assert isinstance(down, Publish) and down.payload == device_id.encode()
        await recorder.wait_for(lambda: len(recorder.uplinks) == len(FLEET))
        await asyncio.gather(*(client.close() for client in clients.values()))
        await recorder.wait_for(lambda: not gateway.online_devices())
        assert sorted(d for d, online in recorder.status if not online) == sorted(FLEET)
    finally:
        await asyncio.gather(*(client.close() for client in clients.values()))
        await gateway.stop()
