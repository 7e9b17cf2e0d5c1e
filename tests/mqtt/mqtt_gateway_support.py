"""Test support for the MQTT gateway: a live gateway, a recorder, paho and raw clients."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tui.iotda.mqtt import client_id, hour_stamp, mqtt_password
from tui.platform.mqtt import DeviceGateway
from tui.platform.mqtt.codec import ConnAck, Connect, Packet, encode, read_packet

NOW = datetime(2026, 11, 26, 5, 30, tzinfo=UTC)
HOUR = hour_stamp(NOW)
WAIT = 30.0  # generous: the machine is shared and noisy


@dataclass(frozen=True)
class Credentials:
    client_id: str
    username: str
    password: str


def credentials(
    device_id: str, secret: str, hour: str = HOUR, *, check_time: bool = False
) -> Credentials:
    return Credentials(
        client_id(device_id, hour, check_time=check_time), device_id, mqtt_password(secret, hour)
    )


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int


@dataclass
class PahoDevice:
    """A paho-mqtt 2.x client; its callbacks only set thread-safe events and queues."""

    port: int
    creds: Credentials
    keepalive: int = 60
    protocol: int = paho.MQTTv311
    tls: ssl.SSLContext | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    unsubscribed: threading.Event = field(default_factory=threading.Event)
    messages: queue.Queue[Received] = field(default_factory=queue.Queue)
    reason: ReasonCode | None = None
    suback: list[ReasonCode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.creds.client_id,
            protocol=self.protocol,
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(self.creds.username, self.creds.password)
        if self.tls is not None:
            self.client.tls_set_context(self.tls)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = lambda *args: self.unsubscribed.set()

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self.reason = reason
        self.connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.disconnected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.messages.put(Received(message.topic, message.payload, message.qos))

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        self.suback = list(codes)
        self.subscribed.set()

    async def connect(self) -> ReasonCode:
        """Connect and wait for the CONNACK (or for the connection to end)."""
        self.client.connect_async("127.0.0.1", self.port, self.keepalive)
        self.client.loop_start()
        await wait_thread_event(self.connected)
        assert self.reason is not None
        return self.reason

    async def subscribe(self, topic: str, qos: int = 0) -> list[ReasonCode]:
        self.subscribed.clear()
        self.client.subscribe(topic, qos)
        await wait_thread_event(self.subscribed)
        return self.suback

    async def unsubscribe(self, topic: str) -> None:
        self.unsubscribed.clear()
        self.client.unsubscribe(topic)
        await wait_thread_event(self.unsubscribed)

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        info = self.client.publish(topic, payload, qos)
        await asyncio.to_thread(info.wait_for_publish, WAIT)

    async def next_message(self) -> Received:
        return await asyncio.to_thread(self.messages.get, True, WAIT)

    async def wait_disconnected(self) -> None:
        await wait_thread_event(self.disconnected)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


async def wait_thread_event(event: threading.Event, timeout: float = WAIT) -> None:
    if not await asyncio.to_thread(event.wait, timeout):
        raise TimeoutError("event not set in time")


class RawClient:
    """Bytes on a socket: for what paho will not send (MQTT 5 levels, silence, garbage)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: Packet | bytes) -> None:
        self.writer.write(data if isinstance(data, bytes) else encode(data))
        await self.writer.drain()

    async def recv(self) -> Packet:
        async with asyncio.timeout(WAIT):
            return await read_packet(self.reader)

    async def connect(self, creds: Credentials, keepalive: int = 60) -> ConnAck:
        await self.send(
            Connect(
                "MQTT", 4, creds.client_id, keepalive, True, creds.username, creds.password.encode()
            )
        )
        ack = await self.recv()
        assert isinstance(ack, ConnAck)
        return ack

    async def wait_closed(self) -> bytes:
        """Until the server closes the connection; returns whatever it sent before that."""
        received = bytearray()
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    chunk = await self.reader.read(65536)
                except ConnectionError:
                    return bytes(received)
                if not chunk:
                    return bytes(received)
                received += chunk

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


SECRETS = {"prod_dev1": "secret-one-123", "prod_dev2": "secret-two-456"}


@dataclass
class Recorder:
    """What the gateway told the platform; tests wait on it instead of sleeping."""

    status: list[tuple[str, bool]] = field(default_factory=list)
    uplinks: list[tuple[str, str, bytes]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_status(self, device_id: str, online: bool) -> None:
        self.status.append((device_id, online))
        self.changed.set()

    def on_uplink(self, device_id: str, topic: str, payload: bytes) -> None:
        self.uplinks.append((device_id, topic, payload))
        self.changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        # Callbacks run on this loop, so nothing can slip between the check and the clear.
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class LiveGateway:
    gateway: DeviceGateway
    port: int
    recorder: Recorder


async def start_gateway(**options: object) -> LiveGateway:
    recorder = Recorder()
    gateway = DeviceGateway(
        SECRETS.get, recorder.on_status, recorder.on_uplink, clock=lambda: NOW, **options
    )
    port = await gateway.start()
    return LiveGateway(gateway, port, recorder)
