"""One authenticated device connection of the MQTT gateway."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tui.platform.mqtt.codec import Packet, encode
from tui.platform.mqtt.topics import matches


class Violation(Exception):
    """A device broke a gateway rule; its connection is closed."""


@dataclass(eq=False)
class DeviceConnection:
    device_id: str
    writer: asyncio.StreamWriter
    keepalive: int
    subscriptions: dict[str, int] = field(default_factory=dict)  # filter -> granted QoS
    acks: dict[int, asyncio.Future[bool]] = field(default_factory=dict)
    last_packet_id: int = 0

    def send(self, packet: Packet) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(packet))

    def granted_qos(self, topic: str) -> int | None:
        """The highest QoS of the filters matching `topic`, None when nothing matches."""
        granted = [qos for flt, qos in self.subscriptions.items() if matches(flt, topic)]
        return max(granted) if granted else None

    def next_packet_id(self) -> int:
        for _ in range(65535):
            self.last_packet_id = self.last_packet_id % 65535 + 1
            if self.last_packet_id not in self.acks:
                return self.last_packet_id
        raise RuntimeError("no free packet id")  # 65535 unacknowledged publishes

    def fail_pending(self) -> None:
        for future in self.acks.values():
            if not future.done():
                future.set_result(False)


def source_of(peer: object) -> str:
    """The address part of a peer name: what rate limits count by."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown"


def who(conn: DeviceConnection | None) -> str:
    return conn.device_id if conn is not None else "not connected"
