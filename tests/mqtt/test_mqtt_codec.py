"""The packet codec: round trips, the rules it enforces, and fuzzing (decoder and live server)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mqtt_gateway_support import SECRETS, LiveGateway, RawClient, credentials

from tui.iotda.mqtt import events_down_topic
from tui.platform.mqtt.codec import (
    MAX_PACKET_BYTES,
    ConnAck,
    Connect,
    Empty,
    MalformedPacket,
    PacketIdOnly,
    PacketType,
    Publish,
    SubAck,
    Subscribe,
    Unsubscribe,
    decode_buffer,
    encode,
    encode_length,
)

DEV1, DEV2 = "prod_dev1", "prod_dev2"

PACKETS = [
    Connect("MQTT", 4, "dev_0_0_2026112605", 120, True, "dev", b"pw"),
    Connect("MQTT", 4, "c", 30, False, None, None, "will/t", b"bye", 1, True),
    ConnAck(0),
    ConnAck(4, session_present=True),
    Publish("a/b", b"payload"),
    Publish("a/b", b"\x00" * 300, qos=1, packet_id=65535, retain=True, dup=True),
    PacketIdOnly(PacketType.PUBACK, 1),
    PacketIdOnly(PacketType.PUBREL, 2),
    PacketIdOnly(PacketType.UNSUBACK, 3),
    Subscribe(9, (("a/+/c", 1), ("x/#", 0))),
    SubAck(9, (1, 0x80)),
    Unsubscribe(10, ("a/+/c",)),
    Empty(PacketType.PINGREQ),
    Empty(PacketType.PINGRESP),
    Empty(PacketType.DISCONNECT),
]


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_round_trip(packet: object) -> None:
    data = encode(packet)  # type: ignore[arg-type]
    decoded = decode_buffer(data + b"\xc0")  # a following packet is left alone
    assert decoded == (packet, len(data))
    assert decode_buffer(data[:-1]) is None  # incomplete: ask for more


def test_password_never_in_repr() -> None:
    assert "hunter2" not in repr(Connect("MQTT", 4, "c", 60, True, "u", b"hunter2"))


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1\x00",  # PINGREQ with flags
        b"\x80\x00",  # SUBSCRIBE without its 0b0010 flags
        b"\x82\x02\x00\x01",  # SUBSCRIBE with no topics
        b"\x36\x05\x00\x01a\x00\x01",  # PUBLISH QoS 3
        b"\x30\x03\x00\x01#",  # wildcard in a PUBLISH topic
        b"\x32\x05\x00\x01a\x00\x00",  # packet id 0
        b"\x30\x05\x00\x02\xc3\x28x",  # topic not UTF-8
        b"\x30\x04\x00\x02a\x00",  # topic with U+0000
        b"\x40\x03\x00\x01\x00",  # PUBACK with a trailing byte
        b"\x30\xff\xff\xff\xff\x01",  # remaining length of 5 bytes
        b"\x10\x0c\x00\x04MQTT\x04\x01\x00\x3c\x00\x00",  # reserved connect flag
        b"\x10\x0c\x00\x04MQTT\x04\x42\x00\x3c\x00\x00",  # password without username
        b"\x10\x0c\x00\x04MQTT\x04\x1a\x00\x3c\x00\x00",  # will QoS 3 without the will flag
        b"\x10\x08\x00\x04XXXX\x04\x02",  # unknown protocol name
    ],
)
def test_malformed_packets_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedPacket):
        decode_buffer(data)


def test_oversized_packet_is_refused_before_reading_it() -> None:
    with pytest.raises(MalformedPacket):
        decode_buffer(b"\x30" + encode_length(MAX_PACKET_BYTES + 1))


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes_only_raise_malformed(data: bytes) -> None:
    try:
        while (result := decode_buffer(data)) is not None:
            data = data[result[1] :]
    except MalformedPacket:
        pass


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from([encode(p) for p in PACKETS]),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
)
def test_fuzz_mutated_packets_only_raise_malformed(
    data: bytes, flips: list[tuple[int, int]]
) -> None:
    # Mutating valid packets reaches deeper into the field parsers than random bytes do.
    mutated = bytearray(data)
    for index, value in flips:
        if mutated:
            mutated[index % len(mutated)] = value
    try:
        decode_buffer(bytes(mutated))
    except MalformedPacket:
        pass


async def test_random_blobs_close_only_their_connection(live: LiveGateway) -> None:
    bystander = await RawClient.open(live.port)
    try:
        assert (await bystander.connect(credentials(DEV2, SECRETS[DEV2]))).code == 0
        rng = random.Random(20261126)
        blobs = [rng.randbytes(rng.randint(1, 400)) for _ in range(12)]
        blobs += [b"\x10\xff\xff\xff\x7f", b"\x10\x7f" + b"\x00" * 127, b"GET / HTTP/1.1\r\n\r\n"]
        for index, blob in enumerate(blobs):
            client = await RawClient.open(live.port)
            try:
                if index % 2:  # half of them after a successful login
                    assert (await client.connect(credentials(DEV1, SECRETS[DEV1]))).code == 0
                await client.send(blob)
                client.writer.write_eof()  # an incomplete packet must not wait for more
                await client.wait_closed()
            finally:
                await client.close()
        await live.recorder.wait_for(lambda: not live.gateway.is_online(DEV1))
        # The server still serves: the bystander is online and gets its downlink.
        assert live.gateway.is_online(DEV2)
        assert await live.gateway.publish(DEV2, events_down_topic(DEV2), b"ok")
        received = await bystander.recv()
        assert isinstance(received, Publish) and received.payload == b"ok"
        fresh = await RawClient.open(live.port)
        assert (await fresh.connect(credentials(DEV1, SECRETS[DEV1]))).code == 0
        await fresh.close()
    finally:
        await bystander.close()
