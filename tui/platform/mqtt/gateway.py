"""The platform's MQTT 3.1.1 device gateway, with IoTDA's authentication and topic rules.

Devices talk to the platform, never to each other: a device may only publish and subscribe
inside `$oc/devices/{device_id}/`, and only the platform (`DeviceGateway.publish`) sends to
a device. One connection per device id; a newer one replaces the older without the device
ever being reported OFFLINE in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tui.iotda.errors import ProtocolError
from tui.iotda.mqtt import (
    KEEPALIVE_GRACE,
    KEEPALIVE_MAX,
    KEEPALIVE_MIN,
    TunnelNotify,
    events_down_topic,
    events_up_topic,
    mqtt_password,
    parse_client_id,
)
from tui.platform.mqtt.codec import (
    MAX_PACKET_BYTES,
    PROTOCOL_LEVEL_311,
    SUBACK_FAILURE,
    ConnAck,
    ConnackCode,
    Connect,
    Empty,
    MalformedPacket,
    PacketIdOnly,
    PacketType,
    Publish,
    SubAck,
    Subscribe,
    Unsubscribe,
    encode,
    read_packet,
)
from tui.platform.mqtt.connection import DeviceConnection as _Connection
from tui.platform.mqtt.connection import Violation as _Violation
from tui.platform.mqtt.connection import source_of as _source
from tui.platform.mqtt.connection import who as _who
from tui.platform.mqtt.topics import implicit_filter, in_namespace, is_valid_filter
from tui.platform.ratelimit import AUTH_FAILURES, SourceBuckets

log = logging.getLogger(__name__)

SecretLookup = Callable[[str], str | None]
StatusCallback = Callable[[str, bool], None]
UplinkCallback = Callable[[str, str, bytes], None]

_CLOSE_TIMEOUT = 5.0
MAX_FILTERS = 100  # subscriptions per connection: a device cannot grow the gateway's memory
# before authentication a client gets little: a CONNECT is an id, a name and a password
MAX_CONNECT_BYTES = 4096
MAX_PENDING = 1024  # logins in progress (≤ ~20 KB each); more are dropped at once
_READ_LIMIT = 16 * 1024  # stream buffer per connection (packets are read exactly anyway)


class DeviceGateway:
    """MQTT 3.1.1 server for devices, on asyncio streams (TLS when given a context).

    `keepalive_scale` multiplies the 1.5 × keepalive grace: tests shrink it instead of
    waiting 45 s. `connect_timeout` bounds the wait for CONNECT (and for TLS handshakes).
    An unauthenticated client may hold `max_pending` connections at most, send a CONNECT
    of `MAX_CONNECT_BYTES` at most, and fail its login as often as `auth_failures` lets
    its address (then every CONNECT from there is refused with 0x03 for a while).
    """

    def __init__(
        self,
        secret_for: SecretLookup,
        on_status: StatusCallback,
        on_uplink: UplinkCallback | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        keepalive_scale: float = 1.0,
        connect_timeout: float = 5.0,
        puback_timeout: float = 10.0,
        max_packet_bytes: int = MAX_PACKET_BYTES,
        max_pending: int = MAX_PENDING,
        auth_failures: SourceBuckets | None = None,
    ) -> None:
        self._secret_for = secret_for
        self._on_status = on_status
        self._on_uplink = on_uplink
        self._clock = clock or (lambda: datetime.now(UTC))
        self._keepalive_scale = keepalive_scale
        self._connect_timeout = connect_timeout
        self._puback_timeout = puback_timeout
        self._max_packet_bytes = max_packet_bytes
        self._max_pending = max_pending
        self._pending = 0
        self._auth_failures = auth_failures or SourceBuckets(AUTH_FAILURES)
        self._server: asyncio.Server | None = None
        self._connections: dict[str, _Connection] = {}
        self._status_times: dict[str, datetime] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> int:
        """Listen; returns the bound port (useful with port=0)."""
        self._server = await asyncio.start_server(
            self._serve,
            host,
            port,
            ssl=ssl_context,
            ssl_handshake_timeout=self._connect_timeout if ssl_context else None,
            limit=_READ_LIMIT,
        )
        bound = self._server.sockets[0].getsockname()[1]
        log.info("MQTT gateway on %s:%d%s", host, bound, " (TLS)" if ssl_context else "")
        return int(bound)

    async def stop(self) -> None:
        """Stop listening and close every connection; each online device goes OFFLINE once."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            _, pending = await asyncio.wait(set(self._handlers), timeout=_CLOSE_TIMEOUT)
            for task in pending:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), _CLOSE_TIMEOUT)
            self._server = None

    # -- what the platform asks ------------------------------------------------------

    def is_online(self, device_id: str) -> bool:
        return device_id in self._connections

    def online_devices(self) -> set[str]:
        return set(self._connections)

    def status_changed_at(self, device_id: str) -> datetime | None:
        """When the device last went ONLINE or OFFLINE (`connection_status_update_time`)."""
        return self._status_times.get(device_id)

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int = 0) -> bool:
        """Send to a connected device on a topic it is subscribed to (explicitly or implicitly).

        QoS is the lower of `qos` and the subscription's. At QoS 1 this waits for the PUBACK
        and says whether it came. False when the device is not connected, the topic is
        outside its namespace or nothing it subscribed matches.
        """
        conn = self._connections.get(device_id)
        if conn is None or conn.writer.is_closing():
            return False
        if not in_namespace(device_id, topic) or "+" in topic or "#" in topic:
            log.warning("not publishing to %s: topic %r is outside its namespace", device_id, topic)
            return False
        granted = conn.granted_qos(topic)
        if granted is None:
            log.debug("not publishing to %s: no subscription matches %r", device_id, topic)
            return False
        qos = min(qos, granted)
        packet_id = conn.next_packet_id() if qos else None
        acked: asyncio.Future[bool] | None = None
        if packet_id is not None:
            acked = asyncio.get_running_loop().create_future()
            conn.acks[packet_id] = acked
        try:
            conn.send(Publish(topic, payload, qos, packet_id))
            async with asyncio.timeout(self._puback_timeout):
                await conn.writer.drain()
                return True if acked is None else await acked
        except (ConnectionError, TimeoutError, RuntimeError) as exc:
            log.info("publish to %s on %s failed: %r", device_id, topic, exc)
            return False
        finally:
            if packet_id is not None:
                conn.acks.pop(packet_id, None)

    async def notify_tunnel(self, device_id: str, notify: TunnelNotify) -> bool:
        """Publish `tunnel_notify` on the device's events/down topic (create and re-open)."""
        payload = notify.to_payload(self._clock())
        return await self.publish(device_id, events_down_topic(device_id), payload)

    # -- one connection ----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        peer = writer.get_extra_info("peername")
        if self._pending >= self._max_pending:
            log.warning("MQTT connection %s dropped: %d logins pending", peer, self._pending)
            writer.transport.abort()
            if task is not None:
                self._handlers.discard(task)
            return
        self._writers.add(writer)
        conn: _Connection | None = None
        try:
            self._pending += 1
            try:
                conn = await self._handshake(reader, writer, _source(peer))
            finally:
                self._pending -= 1
            if conn is not None:
                await self._packet_loop(conn, reader)
        except (MalformedPacket, _Violation) as exc:
            log.warning("closing MQTT connection %s (%s): %s", peer, _who(conn), exc)
        except TimeoutError:
            log.info("closing MQTT connection %s (%s): timed out", peer, _who(conn))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError) as exc:
            log.debug("MQTT connection %s (%s) ended: %r", peer, _who(conn), exc)
        except Exception:
            log.exception("MQTT connection %s (%s) failed", peer, _who(conn))
        finally:
            if conn is not None:
                self._drop(conn)
            await self._close_writer(writer)
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)

    async def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await writer.wait_closed()
        except Exception:  # a peer that never acknowledges the close, or a broken TLS shutdown
            writer.transport.abort()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str
    ) -> _Connection | None:
        async with asyncio.timeout(self._connect_timeout):
            packet = await read_packet(reader, min(MAX_CONNECT_BYTES, self._max_packet_bytes))
        if not isinstance(packet, Connect):
            raise _Violation("first packet is not CONNECT")
        if not self._auth_failures.allows(source):
            code = ConnackCode.SERVER_UNAVAILABLE  # guessing from there: nothing is checked
        else:
            code = self._authenticate(packet)
            if code in (ConnackCode.BAD_CREDENTIALS, ConnackCode.IDENTIFIER_REJECTED):
                self._auth_failures.take(source)
        if code is ConnackCode.ACCEPTED:
            device_id = parse_client_id(packet.client_id).device_id
            # a device whose ONLINE cannot be recorded is refused: the state must not lie
            if not self._set_status(device_id, True):
                code = ConnackCode.SERVER_UNAVAILABLE
        if code is not ConnackCode.ACCEPTED:
            log.info("refused MQTT client %r: CONNACK %s", packet.client_id, code.name)
            writer.write(encode(ConnAck(code)))
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await writer.drain()
            return None
        conn = _Connection(device_id, writer, packet.keepalive)
        conn.subscriptions[implicit_filter(device_id)] = 0
        # Only now, authenticated, may the new connection touch the live one.
        old = self._connections.get(device_id)
        self._connections[device_id] = conn
        if old is not None:
            log.info("device %s reconnected: closing its older connection", device_id)
            old.fail_pending()
            old.writer.transport.abort()
        # No await from registration to return: _serve must own `conn` to unregister it.
        conn.send(ConnAck(ConnackCode.ACCEPTED))
        return conn

    def _authenticate(self, packet: Connect) -> ConnackCode:
        if packet.protocol_name != "MQTT" or packet.level != PROTOCOL_LEVEL_311:
            return ConnackCode.UNACCEPTABLE_PROTOCOL
        try:
            client = parse_client_id(packet.client_id)
        except ProtocolError:
            return ConnackCode.IDENTIFIER_REJECTED
        if not KEEPALIVE_MIN <= packet.keepalive <= KEEPALIVE_MAX:
            return ConnackCode.IDENTIFIER_REJECTED
        if packet.username != client.device_id or packet.password is None:
            return ConnackCode.BAD_CREDENTIALS
        try:
            secret = self._secret_for(client.device_id)
        except Exception:
            log.exception("secret lookup for %s failed", client.device_id)
            return ConnackCode.SERVER_UNAVAILABLE
        if secret is None:
            return ConnackCode.BAD_CREDENTIALS
        expected = mqtt_password(secret, client.hour).encode()
        if not hmac.compare_digest(packet.password, expected):
            return ConnackCode.BAD_CREDENTIALS
        if client.check_time and not self._hour_is_current(client.hour):
            return ConnackCode.BAD_CREDENTIALS
        return ConnackCode.ACCEPTED

    def _hour_is_current(self, hour: str) -> bool:
        try:
            stamp = datetime.strptime(hour, "%Y%m%d%H").replace(tzinfo=UTC)
        except ValueError:
            return False
        now = self._clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return abs(stamp - now) <= timedelta(hours=1)

    async def _packet_loop(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        grace = conn.keepalive * KEEPALIVE_GRACE * self._keepalive_scale
        while True:
            try:
                # A device that stops reading is as dead as one that stops sending.
                async with asyncio.timeout(grace):
                    await conn.writer.drain()
                    packet = await read_packet(reader, self._max_packet_bytes)
            except TimeoutError:
                raise _Violation(f"silent for {grace:.1f} s (keepalive {conn.keepalive})") from None
            if isinstance(packet, Publish):
                self._accept_publish(conn, packet)
            elif isinstance(packet, Subscribe):
                conn.send(SubAck(packet.packet_id, self._subscribe(conn, packet)))
            elif isinstance(packet, Unsubscribe):
                for topic_filter in packet.topics:
                    conn.subscriptions.pop(topic_filter, None)
                # System downlinks stay subscribed whatever the device unsubscribes.
                conn.subscriptions.setdefault(implicit_filter(conn.device_id), 0)
                conn.send(PacketIdOnly(PacketType.UNSUBACK, packet.packet_id))
            elif isinstance(packet, PacketIdOnly) and packet.type is PacketType.PUBACK:
                acked = conn.acks.get(packet.packet_id)
                if acked is not None and not acked.done():
                    acked.set_result(True)
            elif isinstance(packet, Empty) and packet.type is PacketType.PINGREQ:
                conn.send(Empty(PacketType.PINGRESP))
            elif isinstance(packet, Empty) and packet.type is PacketType.DISCONNECT:
                log.debug("device %s disconnected", conn.device_id)
                return
            else:
                raise _Violation(f"unexpected {type(packet).__name__} packet")

    def _accept_publish(self, conn: _Connection, packet: Publish) -> None:
        if not in_namespace(conn.device_id, packet.topic):
            raise _Violation(f"publish outside its namespace: {packet.topic!r}")
        if packet.qos > 1:
            raise _Violation("QoS 2 is not supported")
        if packet.packet_id is not None:
            conn.send(PacketIdOnly(PacketType.PUBACK, packet.packet_id))
        size = len(packet.payload)
        level = logging.INFO if packet.topic == events_up_topic(conn.device_id) else logging.DEBUG
        log.log(level, "device %s uplink on %s: %d bytes", conn.device_id, packet.topic, size)
        if self._on_uplink is not None:
            try:
                self._on_uplink(conn.device_id, packet.topic, packet.payload)
            except Exception:
                log.exception("uplink handler failed for %s", conn.device_id)

    def _subscribe(self, conn: _Connection, packet: Subscribe) -> tuple[int, ...]:
        codes = []
        for topic_filter, qos in packet.topics:
            allowed = is_valid_filter(topic_filter) and in_namespace(conn.device_id, topic_filter)
            if allowed and (
                topic_filter in conn.subscriptions or len(conn.subscriptions) < MAX_FILTERS
            ):
                granted = min(qos, 1)  # IoTDA has no QoS 2
                conn.subscriptions[topic_filter] = granted
                codes.append(granted)
            else:
                log.info("device %s may not subscribe to %r", conn.device_id, topic_filter)
                codes.append(SUBACK_FAILURE)
        return tuple(codes)

    def _drop(self, conn: _Connection) -> None:
        conn.fail_pending()
        # A replaced connection is no longer registered: its end is not an OFFLINE.
        if self._connections.get(conn.device_id) is conn:
            del self._connections[conn.device_id]
            self._set_status(conn.device_id, False)

    def _set_status(self, device_id: str, online: bool) -> bool:
        """Tell the platform; False when it could not record the change."""
        try:
            self._on_status(device_id, online)
        except Exception as exc:  # e.g. the platform's disk is full
            log.error("cannot record %s %s: %s", device_id, "ONLINE" if online else "OFFLINE", exc)
            log.debug("status handler failure", exc_info=True)
            return False
        self._status_times[device_id] = self._clock()
        log.info("device %s %s", device_id, "ONLINE" if online else "OFFLINE")
        return True
