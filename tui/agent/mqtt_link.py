"""The agent's MQTT connection (docs/protocol.md §4) with paho-mqtt 2.x.

Every connection attempt builds a fresh paho client, so the client id and password carry
the current hour; paho's own reconnect is off and this module backs off exponentially,
capped, with jitter. Each attempt runs paho's loop in its own thread; callbacks hand
`tunnel_notify` events to the asyncio loop with `call_soon_threadsafe`. Nothing is
subscribed: IoTDA delivers `sys/events/down` implicitly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from tui.agent.config import MqttEndpoint
from tui.iotda.errors import ProtocolError
from tui.iotda.mqtt import (
    KEEPALIVE_DEFAULT,
    TunnelNotify,
    client_id,
    events_down_topic,
    hour_stamp,
    mqtt_password,
)
from tui.iotda.redact import mask

log = logging.getLogger(__name__)

# a connection lost sooner than this does not reset the backoff: two agents with the same
# device id take the session from each other, and must not fight at 1 Hz forever
STABLE_AFTER = 10.0


class MqttLink:
    """Keeps one device connected to the MQTT gateway until stop()."""

    def __init__(
        self,
        device_id: str,
        secret: str,
        endpoint: MqttEndpoint,
        on_notify: Callable[[TunnelNotify], None],
        *,
        ssl_context: ssl.SSLContext | None = None,
        insecure: bool = False,
        keepalive: int = KEEPALIVE_DEFAULT,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.device_id = device_id
        self._secret = secret
        self._endpoint = endpoint
        self._on_notify = on_notify
        self._ssl = ssl_context
        self._insecure = insecure
        self._keepalive = keepalive
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._now = now
        self._topic = events_down_topic(device_id)
        self._client: mqtt.Client | None = None
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections = 0  # accepted CONNACKs so far; tests wait on it growing
        self.attempts = 0  # connection attempts that have ended, accepted or not
        self.client_id = ""  # of the latest attempt: it carries the hour of that attempt
        self.retry_delays: deque[float] = deque(maxlen=32)  # latest waits, for tests
        self._changed = asyncio.Condition()

    def __repr__(self) -> str:
        return f"MqttLink({self.device_id!r}, {self._endpoint}, secret={mask(self._secret)})"

    async def wait_connections(self, count: int) -> None:
        """Wait until `count` connections have been accepted in total."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.connections >= count)

    async def wait_attempts(self, count: int) -> None:
        """Wait until `count` connection attempts have ended (refused, failed or lost)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.attempts >= count)

    async def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            outcome = await self._attempt()
            if self._stop.is_set():
                break
            stable = outcome.get("lasted", 0.0) >= STABLE_AFTER
            failures = 0 if stable else failures + 1
            delay = min(self._backoff_max, self._backoff_initial * 2 ** max(0, failures - 1))
            delay *= random.uniform(0.5, 1.0)  # jitter: a fleet must not reconnect in step
            self.retry_delays.append(delay)
            self._report(outcome, delay)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass

    def _report(self, outcome: dict[str, Any], delay: float) -> None:
        """One line a user can act on for each attempt that ended, with the next wait."""
        where = f"mqtt {self.device_id}"
        retry = f"retrying in {delay:.1f} s"
        if "refused" in outcome:
            log.warning(
                "%s: %s refused the login: %s (check the device id and secret); %s",
                where, self._endpoint, outcome["refused"], retry,
            )  # fmt: skip
        elif "error" in outcome:
            log.warning("%s: cannot connect to %s: %s; %s", where, self._endpoint,
                        outcome["error"], retry)  # fmt: skip
        elif outcome.get("lasted", 0.0) < STABLE_AFTER:
            log.warning(
                "%s: connection to %s lost after %.1f s (%s; is another agent using this "
                "device id?); %s",
                where, self._endpoint, outcome.get("lasted", 0.0), outcome.get("lost"), retry,
            )  # fmt: skip
        else:
            log.warning("%s: connection to %s lost (%s); %s", where, self._endpoint,
                        outcome.get("lost"), retry)  # fmt: skip

    async def stop(self) -> None:
        """Send DISCONNECT and end the link."""
        self._stop.set()
        client = self._client
        if client is not None:
            client.disconnect()

    def drop(self) -> None:
        """Cut the TCP connection without DISCONNECT, as a network failure would (tests)."""
        client = self._client
        sock = client.socket() if client is not None else None
        if sock is not None:
            import socket

            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    async def _attempt(self) -> dict[str, Any]:
        """One connection, from TCP connect to its end. The outcome has `refused` (CONNACK
        said no), `error` (no connection) or `lasted` (seconds it was up) and `lost`."""
        loop = asyncio.get_running_loop()
        hour = hour_stamp(self._now())
        self.client_id = client_id(self.device_id, hour)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.username_pw_set(self.device_id, mqtt_password(self._secret, hour))
        if self._endpoint.tls:
            client.tls_set_context(self._ssl or ssl.create_default_context())
            if self._insecure:
                client.tls_insecure_set(True)
        finished = asyncio.Event()
        outcome: dict[str, Any] = {}

        def post(callback: Callable[..., None], *args: Any) -> None:
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # the event loop is closed: the agent is gone
                pass

        def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            post(self._connack, reason, outcome)

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            post(self._lost, reason, outcome)

        def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            if message.topic != self._topic:
                log.debug("mqtt %s: ignored message on %s", self.device_id, message.topic)
                return
            try:
                notifies = TunnelNotify.find_in(message.payload)
            except ProtocolError as exc:
                log.warning("mqtt %s: dropped a bad event: %s", self.device_id, exc)
                return
            except Exception as exc:  # paho would end the connection on an exception here
                kind = type(exc).__name__  # not its repr: that may quote the payload
                log.error("mqtt %s: dropped an unparsable event: %s", self.device_id, kind)
                return
            for notify in notifies:
                post(self._deliver, notify)

        def network() -> None:
            try:
                client.connect(self._endpoint.host, self._endpoint.port, self._keepalive)
                client.loop_forever()
            except (OSError, ValueError) as exc:
                outcome["error"] = str(exc) or type(exc).__name__  # run() reports it
            except Exception as exc:  # one line on the console, the traceback at debug
                outcome["error"] = f"network thread failed: {exc!r}"
                log.debug("mqtt %s: traceback", self.device_id, exc_info=True)
            finally:
                post(finished.set)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        self._client = client
        thread = threading.Thread(target=network, name=f"mqtt-{self.device_id}", daemon=True)
        thread.start()
        try:
            await finished.wait()
        finally:
            if not finished.is_set():  # cancelled: the thread must not stay connected
                client.disconnect()
            self._client = None
            self.connected.clear()
        if "since" in outcome:
            outcome["lasted"] = loop.time() - outcome["since"]
        async with self._changed:
            self.attempts += 1
            self._changed.notify_all()
        return outcome

    def _connack(self, reason: Any, outcome: dict[str, Any]) -> None:
        if getattr(reason, "is_failure", False):
            # paho reports 3.1.1 codes as MQTT 5 reason codes: 0x04 → 134, 0x02 → 133
            outcome["refused"] = str(reason)
            client = self._client
            if client is not None:
                client.disconnect()
            return
        outcome["since"] = asyncio.get_running_loop().time()
        self.connected.set()
        # after a reported failure, the user also learns that it is over
        level = logging.WARNING if self.retry_delays else logging.INFO
        log.log(level, "mqtt %s: connected to %s", self.device_id, self._endpoint)
        asyncio.get_running_loop().create_task(self._bump())
        if self._stop.is_set() and self._client is not None:
            self._client.disconnect()

    async def _bump(self) -> None:
        async with self._changed:
            self.connections += 1
            self._changed.notify_all()

    def _lost(self, reason: Any, outcome: dict[str, Any]) -> None:
        self.connected.clear()
        outcome.setdefault("lost", str(reason))

    def _deliver(self, notify: TunnelNotify) -> None:
        try:
            self._on_notify(notify)
        except Exception as exc:
            log.error("mqtt %s: tunnel_notify handler failed: %r", self.device_id, exc)
            log.debug("mqtt %s: traceback", self.device_id, exc_info=True)
