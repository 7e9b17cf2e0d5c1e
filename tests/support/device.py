"""A minimal MQTT 3.1.1 device for tests: logs in like an IoTDA device and collects
`tunnel_notify` events, so a test gets the device side's tunnel URI and token.

    async with mqtt_device(p, "boiler_0001") as device:   # p: RunningPlatform
        created = await client.create_tunnel("boiler_0001")
        notice = await device.next_notify()                # TunnelNotify
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ssl import SSLContext

from tui.iotda.mqtt import TunnelNotify, client_id, hour_stamp, mqtt_password
from tui.platform.mqtt.codec import ConnAck, Connect, Publish, encode, read_packet

log = logging.getLogger(__name__)


class MqttDevice:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.notifications: asyncio.Queue[TunnelNotify] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                packet = await read_packet(self._reader)
                if isinstance(packet, Publish):
                    for notice in TunnelNotify.find_in(packet.payload):
                        self.notifications.put_nowait(notice)

    async def next_notify(self, timeout: float = 15.0) -> TunnelNotify:
        return await asyncio.wait_for(self.notifications.get(), timeout)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


@contextlib.asynccontextmanager
async def mqtt_device(
    running, device_id: str, *, timeout: float = 15.0, ssl: SSLContext | None = None
) -> AsyncIterator[MqttDevice]:
    """Connect `device_id` of a RunningPlatform over MQTT; it is ONLINE inside the block.

    Pass `ssl` (tests/support/tls.py: client_context) when the platform runs with TLS.
    """
    hour = hour_stamp(datetime.now(UTC))
    reader, writer = await asyncio.open_connection(running.mqtt_host, running.mqtt_port, ssl=ssl)
    packet = Connect(
        "MQTT",
        4,
        client_id(device_id, hour),
        keepalive=120,
        username=device_id,
        password=mqtt_password(running.secrets[device_id], hour).encode(),
    )
    writer.write(encode(packet))
    await writer.drain()
    answer = await asyncio.wait_for(read_packet(reader), timeout)
    if not isinstance(answer, ConnAck) or answer.code != 0:
        writer.close()
        raise ConnectionError(f"MQTT login of {device_id} refused: {answer!r}")
    device = MqttDevice(reader, writer)
    try:
        yield device
    finally:
        await device.close()
