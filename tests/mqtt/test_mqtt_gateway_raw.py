"""The gateway against a raw socket client: protocol levels, keepalive, violations, stop, TLS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from mqtt_gateway_support import (
    SECRETS,
    LiveGateway,
    PahoDevice,
    RawClient,
    Recorder,
    credentials,
    start_gateway,
)

from tests.support.tls import client_context, make_certificate
from tui.iotda.mqtt import events_down_topic
from tui.platform.mqtt import ConnackCode, DeviceGateway
from tui.platform.mqtt.codec import (
    ConnAck,
    Connect,
    Empty,
    PacketIdOnly,
    PacketType,
    Publish,
    SubAck,
    Subscribe,
)

DEV1, DEV2 = "prod_dev1", "prod_dev2"


def mqtt5_connect(creds_client_id: str) -> bytes:
    # CONNECT "MQTT" level 5, flags clean, keepalive 60, empty properties, client id.
    cid = creds_client_id.encode()
    body = b"\x00\x04MQTT\x05\x02\x00\x3c\x00" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


@pytest.mark.parametrize(
    "connect",
    [
        mqtt5_connect("prod_dev1_0_0_2026112605"),
        # MQTT 3.1 ("MQIsdp", level 3) and 3.1.1's name with a future level.
        bytes([0x10, 12]) + b"\x00\x06MQIsdp\x03\x02\x00\x3c",
        bytes([0x10, 10]) + b"\x00\x04MQTT\x06\x02\x00\x3c",
    ],
)
async def test_unsupported_protocol_level_answers_0x01(live: LiveGateway, connect: bytes) -> None:
    client = await RawClient.open(live.port)
    try:
        await client.send(connect)
        assert await client.recv() == ConnAck(ConnackCode.UNACCEPTABLE_PROTOCOL)
        await client.wait_closed()
    finally:
        await client.close()
    assert live.recorder.status == []


async def test_silent_device_is_dropped_after_its_keepalive_grace() -> None:
    # Scaled: keepalive 30 s × 1.5 × 0.01 = 0.45 s of silence.
    live = await start_gateway(keepalive_scale=0.01)
    client = await RawClient.open(live.port)
    try:
        assert (await client.connect(credentials(DEV1, SECRETS[DEV1]), keepalive=30)).code == 0
        await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)
        await client.wait_closed()
        assert live.recorder.status == [(DEV1, True), (DEV1, False)]
    finally:
        await client.close()
        await live.gateway.stop()


async def test_pings_keep_a_device_online() -> None:
    live = await start_gateway(keepalive_scale=0.01)
    client = await RawClient.open(live.port)
    try:
        assert (await client.connect(credentials(DEV1, SECRETS[DEV1]), keepalive=30)).code == 0
        for _ in range(3):
            await client.send(Empty(PacketType.PINGREQ))
            assert await client.recv() == Empty(PacketType.PINGRESP)
        await client.send(Empty(PacketType.DISCONNECT))
        await client.wait_closed()
        await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)
    finally:
        await client.close()
        await live.gateway.stop()


async def test_qos1_publish_gets_a_puback_and_qos2_closes(live: LiveGateway) -> None:
    client = await RawClient.open(live.port)
    try:
        assert (await client.connect(credentials(DEV1, SECRETS[DEV1]))).code == 0
        topic = f"$oc/devices/{DEV1}/sys/events/up"
        await client.send(Publish(topic, b"one", qos=1, packet_id=7))
        assert await client.recv() == PacketIdOnly(PacketType.PUBACK, 7)
        await client.send(Publish(topic, b"two", qos=2, packet_id=8))
        await client.wait_closed()
        await live.recorder.wait_for(lambda: (DEV1, False) in live.recorder.status)
        assert live.recorder.uplinks == [(DEV1, topic, b"one")]
    finally:
        await client.close()


@pytest.mark.parametrize(
    "first",
    [
        Empty(PacketType.PINGREQ),  # anything before CONNECT
        b"\x10\x00",  # CONNECT with no body
        b"\xf0\x00",  # reserved packet type 15
    ],
)
async def test_bad_first_packet_closes_without_connack(live: LiveGateway, first: object) -> None:
    client = await RawClient.open(live.port)
    try:
        await client.send(first)  # type: ignore[arg-type]
        assert await client.wait_closed() == b""  # closed without a CONNACK or anything else
    finally:
        await client.close()


async def test_second_connect_closes_the_connection(live: LiveGateway) -> None:
    client = await RawClient.open(live.port)
    creds = credentials(DEV1, SECRETS[DEV1])
    try:
        assert (await client.connect(creds)).code == 0
        await client.send(
            Connect("MQTT", 4, creds.client_id, 60, True, DEV1, creds.password.encode())
        )
        await client.wait_closed()
        await live.recorder.wait_for(lambda: not live.gateway.is_online(DEV1))
    finally:
        await client.close()


async def test_qos1_downlink_unacknowledged_is_false() -> None:
    live = await start_gateway(puback_timeout=0.5)
    client = await RawClient.open(live.port)
    try:
        assert (await client.connect(credentials(DEV1, SECRETS[DEV1]))).code == 0
        topic = f"$oc/devices/{DEV1}/user/cmd"
        await client.send(Subscribe(1, ((topic, 1),)))
        assert await client.recv() == SubAck(1, (1,))
        # The raw client never sends PUBACK: the gateway gives up and says so.
        assert not await live.gateway.publish(DEV1, topic, b"x", qos=1)
        received = await client.recv()
        assert isinstance(received, Publish) and received.qos == 1
        # Implicit subscription is QoS 0: a QoS 1 request is delivered at QoS 0.
        assert await live.gateway.publish(DEV1, events_down_topic(DEV1), b"y", qos=1)
        received = await client.recv()
        assert isinstance(received, Publish) and received.qos == 0 and received.packet_id is None
    finally:
        await client.close()
        await live.gateway.stop()


async def test_stop_closes_every_connection_and_reports_offline() -> None:
    live = await start_gateway()
    clients = [await RawClient.open(live.port) for _ in range(2)]
    idle = await RawClient.open(live.port)  # connected at TCP level, never sent CONNECT
    try:
        for client, device_id in zip(clients, (DEV1, DEV2), strict=True):
            assert (await client.connect(credentials(device_id, SECRETS[device_id]))).code == 0
        await live.gateway.stop()
        for client in [*clients, idle]:
            await client.wait_closed()
        assert sorted(live.recorder.status) == sorted(
            [(DEV1, True), (DEV2, True), (DEV1, False), (DEV2, False)]
        )
        assert live.gateway.online_devices() == set()
    finally:
        for client in [*clients, idle]:
            await client.close()


async def test_tls_with_paho(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = client_context(cert)  # the certificate names 127.0.0.1 too
    recorder = Recorder()
    gateway = DeviceGateway(SECRETS.get, recorder.on_status, recorder.on_uplink)
    port = await gateway.start(ssl_context=server_ctx)
    device = PahoDevice(port, credentials(DEV1, SECRETS[DEV1]), tls=client_ctx)
    try:
        assert not (await device.connect()).is_failure
        assert await gateway.publish(DEV1, events_down_topic(DEV1), b"over tls")
        assert (await device.next_message()).payload == b"over tls"
        # A plain-text client on the TLS port is closed, nothing else is disturbed.
        plain = await RawClient.open(port)
        creds = credentials(DEV2, SECRETS[DEV2])
        await plain.send(Connect("MQTT", 4, creds.client_id, 60, True, DEV2, b"x" * 64))
        await plain.wait_closed()
        await plain.close()
        assert gateway.is_online(DEV1)
    finally:
        device.close()
        await gateway.stop()


async def test_slow_reader_does_not_block_others(live: LiveGateway) -> None:
    # A connection that opens and sends half a packet must not stall another device's login.
    half = await RawClient.open(live.port)
    client = await RawClient.open(live.port)
    try:
        await half.send(b"\x10\x20\x00\x04MQ")
        assert (await client.connect(credentials(DEV2, SECRETS[DEV2]))).code == 0
        assert live.gateway.is_online(DEV2)
    finally:
        await half.close()
        await client.close()
    await asyncio.wait_for(
        live.recorder.wait_for(lambda: not live.gateway.is_online(DEV2)), timeout=30
    )
