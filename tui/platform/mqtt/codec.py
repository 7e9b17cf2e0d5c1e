"""MQTT 3.1.1 control packets: decode from bytes, encode to bytes (OASIS MQTT 3.1.1 §2–3).

Both directions are covered so that the gateway and the tests' raw clients share one codec.
Anything that does not follow the standard raises MalformedPacket and nothing else.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from tui.iotda.errors import ProtocolError

MAX_PACKET_BYTES = 1024 * 1024  # IoTDA caps a message at 1 MB; larger is refused unread
PROTOCOL_LEVEL_311 = 4


class MalformedPacket(ProtocolError):
    """Bytes that are not a valid MQTT 3.1.1 packet; the connection that sent them is closed."""


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnackCode(IntEnum):
    ACCEPTED = 0x00
    UNACCEPTABLE_PROTOCOL = 0x01
    IDENTIFIER_REJECTED = 0x02
    SERVER_UNAVAILABLE = 0x03
    BAD_CREDENTIALS = 0x04
    NOT_AUTHORIZED = 0x05


SUBACK_FAILURE = 0x80

# Fixed-header flag nibbles the standard requires (§2.2.2); PUBLISH carries its own flags.
_REQUIRED_FLAGS = {t: 0 for t in PacketType}
_REQUIRED_FLAGS.update({PacketType.PUBREL: 2, PacketType.SUBSCRIBE: 2, PacketType.UNSUBSCRIBE: 2})


@dataclass(frozen=True)
class Connect:
    protocol_name: str
    level: int
    client_id: str = ""
    keepalive: int = 0
    clean_session: bool = True
    username: str | None = None
    password: bytes | None = field(default=None, repr=False)  # never in a repr or a log
    will_topic: str | None = None
    will_payload: bytes | None = None
    will_qos: int = 0
    will_retain: bool = False


@dataclass(frozen=True)
class ConnAck:
    code: int
    session_present: bool = False


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes = field(repr=False)  # may carry a tunnel token (tunnel_notify)
    qos: int = 0
    packet_id: int | None = None
    retain: bool = False
    dup: bool = False


@dataclass(frozen=True)
class PacketIdOnly:
    """PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK: a type and a packet id."""

    type: PacketType
    packet_id: int


@dataclass(frozen=True)
class Subscribe:
    packet_id: int
    topics: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SubAck:
    packet_id: int
    codes: tuple[int, ...]


@dataclass(frozen=True)
class Unsubscribe:
    packet_id: int
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Empty:
    """PINGREQ, PINGRESP and DISCONNECT: a fixed header only."""

    type: PacketType


Packet = Connect | ConnAck | Publish | PacketIdOnly | Subscribe | SubAck | Unsubscribe | Empty


class _Reader:
    """Cursor over one packet body; every read checks its bounds."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.remaining():
            raise MalformedPacket("packet is shorter than its fields")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket("string is not UTF-8") from exc
        if "\x00" in text:  # §1.5.3: U+0000 is forbidden
            raise MalformedPacket("string contains U+0000")
        return text

    def rest(self) -> bytes:
        return self.take(self.remaining())

    def end(self) -> None:
        if self.remaining():
            raise MalformedPacket("packet has trailing bytes")


def encode_length(n: int) -> bytes:
    if not 0 <= n <= 268_435_455:
        raise ValueError("remaining length out of range")
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def _binary(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_length(len(body)) + body


def _packet_id(reader: _Reader) -> int:
    pid = reader.u16()
    if pid == 0:
        raise MalformedPacket("packet id 0")
    return pid


def _decode_connect(r: _Reader) -> Connect:
    name = r.string()
    level = r.byte()
    if name not in ("MQTT", "MQIsdp"):
        raise MalformedPacket("unknown protocol name")
    if level != PROTOCOL_LEVEL_311 or name != "MQTT":
        # The rest may be MQTT 5 (properties) or 3.1; the caller only needs the level.
        return Connect(name, level)
    flags = r.byte()
    keepalive = r.u16()
    if flags & 0x01:
        raise MalformedPacket("reserved connect flag set")
    has_will, will_qos, will_retain = bool(flags & 0x04), (flags >> 3) & 0x03, bool(flags & 0x20)
    has_user, has_password = bool(flags & 0x80), bool(flags & 0x40)
    if will_qos == 3 or (not has_will and (will_qos or will_retain)):
        raise MalformedPacket("bad will flags")
    if has_password and not has_user:
        raise MalformedPacket("password flag without username flag")
    client = r.string()
    will_topic = r.string() if has_will else None
    will_payload = r.binary() if has_will else None
    username = r.string() if has_user else None
    password = r.binary() if has_password else None
    r.end()
    return Connect(
        name,
        level,
        client,
        keepalive,
        bool(flags & 0x02),
        username,
        password,
        will_topic,
        will_payload,
        will_qos,
        will_retain,
    )


def _decode_publish(flags: int, r: _Reader) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("publish QoS 3")
    dup = bool(flags & 0x08)
    if qos == 0 and dup:
        raise MalformedPacket("DUP on a QoS 0 publish")
    topic = r.string()
    if not topic or "+" in topic or "#" in topic:
        raise MalformedPacket("publish topic is empty or has a wildcard")
    pid = _packet_id(r) if qos else None
    return Publish(topic, r.rest(), qos, pid, bool(flags & 0x01), dup)


def _decode_subscribe(r: _Reader) -> Subscribe:
    pid = _packet_id(r)
    topics = []
    while r.remaining():
        topic = r.string()
        qos = r.byte()
        if qos & 0xFC or qos == 3:
            raise MalformedPacket("bad requested QoS")
        topics.append((topic, qos))
    if not topics:
        raise MalformedPacket("subscribe without topics")
    return Subscribe(pid, tuple(topics))


def _decode_unsubscribe(r: _Reader) -> Unsubscribe:
    pid = _packet_id(r)
    topics = []
    while r.remaining():
        topics.append(r.string())
    if not topics:
        raise MalformedPacket("unsubscribe without topics")
    return Unsubscribe(pid, tuple(topics))


def decode_packet(first: int, body: bytes) -> Packet:
    """One packet from its first byte and its body (the bytes after the remaining length)."""
    kind, flags = first >> 4, first & 0x0F
    try:
        ptype = PacketType(kind)
    except ValueError as exc:
        raise MalformedPacket(f"packet type {kind} is reserved") from exc
    if ptype is not PacketType.PUBLISH and flags != _REQUIRED_FLAGS[ptype]:
        raise MalformedPacket(f"bad fixed-header flags for {ptype.name}")
    r = _Reader(body)
    packet: Packet
    if ptype is PacketType.CONNECT:
        return _decode_connect(r)  # checks its own end: MQTT 5 bodies are left unread
    if ptype is PacketType.PUBLISH:
        return _decode_publish(flags, r)
    if ptype is PacketType.CONNACK:
        ack_flags, code = r.byte(), r.byte()
        if ack_flags & 0xFE:
            raise MalformedPacket("reserved connack flags set")
        packet = ConnAck(code, bool(ack_flags & 0x01))
    elif ptype is PacketType.SUBSCRIBE:
        packet = _decode_subscribe(r)
    elif ptype is PacketType.SUBACK:
        pid = _packet_id(r)
        packet = SubAck(pid, tuple(r.rest()))
    elif ptype is PacketType.UNSUBSCRIBE:
        packet = _decode_unsubscribe(r)
    elif ptype in (PacketType.PINGREQ, PacketType.PINGRESP, PacketType.DISCONNECT):
        packet = Empty(ptype)
    else:  # PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK
        packet = PacketIdOnly(ptype, _packet_id(r))
    r.end()
    return packet


def decode_buffer(data: bytes) -> tuple[Packet, int] | None:
    """The first packet in `data` and the bytes it used, or None when more bytes are needed."""
    if not data:
        return None
    length, pos = 0, 1
    for shift in range(4):
        if pos >= len(data):
            return None
        digit = data[pos]
        pos += 1
        length |= (digit & 0x7F) << (7 * shift)
        if not digit & 0x80:
            break
    else:
        raise MalformedPacket("remaining length longer than 4 bytes")
    if length > MAX_PACKET_BYTES:
        raise MalformedPacket("packet too large")
    if len(data) < pos + length:
        return None
    return decode_packet(data[0], data[pos : pos + length]), pos + length


async def read_packet(reader: asyncio.StreamReader, max_bytes: int = MAX_PACKET_BYTES) -> Packet:
    """The next packet from a stream; raises IncompleteReadError at EOF."""
    first = (await reader.readexactly(1))[0]
    length = 0
    for shift in range(4):
        digit = (await reader.readexactly(1))[0]
        length |= (digit & 0x7F) << (7 * shift)
        if not digit & 0x80:
            break
    else:
        raise MalformedPacket("remaining length longer than 4 bytes")
    if length > max_bytes:
        raise MalformedPacket(f"packet of {length} bytes is over the limit")
    body = await reader.readexactly(length) if length else b""
    return decode_packet(first, body)


def encode(packet: Packet) -> bytes:
    """The wire bytes of a packet."""
    if isinstance(packet, Publish):
        return _encode_publish(packet)
    if isinstance(packet, Empty):
        return bytes([packet.type << 4, 0])
    if isinstance(packet, PacketIdOnly):
        first = packet.type << 4 | _REQUIRED_FLAGS[packet.type]
        return _packet(first, struct.pack("!H", packet.packet_id))
    if isinstance(packet, ConnAck):
        return bytes([0x20, 2, int(packet.session_present), packet.code])
    if isinstance(packet, SubAck):
        return _packet(0x90, struct.pack("!H", packet.packet_id) + bytes(packet.codes))
    if isinstance(packet, Subscribe):
        body = b"".join(_string(t) + bytes([q]) for t, q in packet.topics)
        return _packet(0x82, struct.pack("!H", packet.packet_id) + body)
    if isinstance(packet, Unsubscribe):
        body = b"".join(_string(t) for t in packet.topics)
        return _packet(0xA2, struct.pack("!H", packet.packet_id) + body)
    return _encode_connect(packet)


def _encode_publish(p: Publish) -> bytes:
    first = 0x30 | (0x08 if p.dup else 0) | p.qos << 1 | (0x01 if p.retain else 0)
    pid = struct.pack("!H", p.packet_id or 0) if p.qos else b""
    return _packet(first, _string(p.topic) + pid + p.payload)


def _encode_connect(c: Connect) -> bytes:
    flags = (0x02 if c.clean_session else 0) | (0x80 if c.username is not None else 0)
    flags |= 0x40 if c.password is not None else 0
    if c.will_topic is not None:
        flags |= 0x04 | c.will_qos << 3 | (0x20 if c.will_retain else 0)
    body = _string(c.protocol_name) + bytes([c.level, flags]) + struct.pack("!H", c.keepalive)
    body += _string(c.client_id)
    if c.will_topic is not None:
        body += _string(c.will_topic) + _binary(c.will_payload or b"")
    if c.username is not None:
        body += _string(c.username)
    if c.password is not None:
        body += _binary(c.password)
    return _packet(0x10, body)
