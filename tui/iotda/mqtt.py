"""Device-side MQTT rules of docs/protocol.md §4: credentials, topics, tunnel_notify."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tui.iotda.errors import ProtocolError
from tui.iotda.redact import mask
from tui.iotda.timefmt import format_compact

KEEPALIVE_MIN = 30
KEEPALIVE_MAX = 1200
KEEPALIVE_DEFAULT = 120
KEEPALIVE_GRACE = 1.5  # the platform drops a device silent for 1.5 × keepalive
TUNNEL_SERVICE_ID = "$tunnel_manager"
TUNNEL_NOTIFY = "tunnel_notify"

_CLIENT_ID = re.compile(r"^(?P<device>[A-Za-z0-9_-]{1,128})_0_(?P<sign>[01])_(?P<hour>\d{10})$")


def hour_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H")


def mqtt_password(secret: str, hour: str) -> str:
    """hex(HMAC-SHA256(key=YYYYMMDDHH, msg=secret))."""
    return hmac.new(hour.encode(), secret.encode(), hashlib.sha256).hexdigest()


def client_id(device_id: str, hour: str, *, check_time: bool = False) -> str:
    return f"{device_id}_0_{1 if check_time else 0}_{hour}"


@dataclass(frozen=True)
class ClientId:
    device_id: str
    check_time: bool
    hour: str


def parse_client_id(text: str) -> ClientId:
    match = _CLIENT_ID.match(text)
    if not match:
        raise ProtocolError("client id is not {device_id}_0_{0|1}_{YYYYMMDDHH}")
    return ClientId(match["device"], match["sign"] == "1", match["hour"])


def device_topic_prefix(device_id: str) -> str:
    return f"$oc/devices/{device_id}/"


def events_down_topic(device_id: str) -> str:
    return f"$oc/devices/{device_id}/sys/events/down"


def events_up_topic(device_id: str) -> str:
    return f"$oc/devices/{device_id}/sys/events/up"


@dataclass(frozen=True)
class TunnelNotify:
    """The `tunnel_notify` event: the device side's URI and token."""

    tunnel_uri: str
    tunnel_access_token: str
    expires_in: int
    event_time: str = ""

    def __repr__(self) -> str:
        return (
            f"TunnelNotify(tunnel_uri={self.tunnel_uri!r}, "
            f"tunnel_access_token={mask(self.tunnel_access_token)!r}, expires_in={self.expires_in})"
        )

    def to_payload(self, now: datetime | None = None) -> bytes:
        event_time = self.event_time or format_compact(now or datetime.now(UTC))
        body = {
            "services": [
                {
                    "service_id": TUNNEL_SERVICE_ID,
                    "event_type": TUNNEL_NOTIFY,
                    "event_time": event_time,
                    "paras": {
                        "tunnel_uri": self.tunnel_uri,
                        "tunnel_access_token": self.tunnel_access_token,
                        "expires_in": self.expires_in,
                    },
                }
            ]
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def find_in(cls, payload: bytes | str) -> list[TunnelNotify]:
        """Every tunnel_notify event in an events/down payload; other events are ignored.

        Raises ProtocolError when the payload is not the events JSON at all.
        """
        try:
            body: Any = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("events payload is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("services"), list):
            raise ProtocolError("events payload has no services list")
        found = []
        for service in body["services"]:
            if not isinstance(service, dict):
                continue
            if service.get("service_id") != TUNNEL_SERVICE_ID:
                continue
            if service.get("event_type") != TUNNEL_NOTIFY:
                continue
            paras = service.get("paras")
            if not isinstance(paras, dict):
                raise ProtocolError("tunnel_notify has no paras")
            uri, token, ttl = (
                paras.get("tunnel_uri"),
                paras.get("tunnel_access_token"),
                paras.get("expires_in"),
            )
            if not isinstance(uri, str) or not isinstance(token, str):
                raise ProtocolError("tunnel_notify needs tunnel_uri and tunnel_access_token")
            if not isinstance(ttl, int) or isinstance(ttl, bool):
                raise ProtocolError("tunnel_notify needs an integer expires_in")
            event_time = service.get("event_time")
            found.append(cls(uri, token, ttl, event_time if isinstance(event_time, str) else ""))
        return found
