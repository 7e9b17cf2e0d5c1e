"""Records of docs/protocol.md §2 and their JSON codecs, shared by every side.

`from_json` is strict about the fields a side relies on and tolerant of fields it does
not know: the real cloud adds fields over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tui.iotda.errors import ProtocolError
from tui.iotda.redact import mask

DEFAULT_MARKER = "f" * 24
DEVICE_PAGE_LIMIT_MAX = 50
DEVICE_OFFSET_MAX = 500
TUNNEL_LIST_MAX = 100
TENANT_TUNNEL_QUOTA = 1000
DEFAULT_TOKEN_TTL = 86_400


class DeviceStatus(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    ABNORMAL = "ABNORMAL"
    INACTIVE = "INACTIVE"
    FROZEN = "FROZEN"


class NodeType(StrEnum):
    ENDPOINT = "ENDPOINT"
    GATEWAY = "GATEWAY"
    UNKNOWN = "UNKNOWN"


class TunnelStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class LinkStatus(StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


def _str(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"missing field {key!r}")
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"field {key!r} must be a string")
    return value


def _req(body: Mapping[str, Any], key: str) -> str:
    value = _str(body, key)
    assert value is not None
    return value


def _mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ProtocolError(f"{what} must be a JSON object")
    return body


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


@dataclass(frozen=True)
class Tag:
    tag_key: str
    tag_value: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none({"tag_key": self.tag_key, "tag_value": self.tag_value})

    @classmethod
    def from_json(cls, body: Any) -> Tag:
        body = _mapping(body, "tag")
        return cls(_req(body, "tag_key"), _str(body, "tag_value", required=False))


@dataclass(frozen=True)
class Device:
    """A device as the list API returns it."""

    device_id: str
    node_id: str
    product_id: str
    status: str = DeviceStatus.INACTIVE
    device_name: str | None = None
    product_name: str | None = None
    app_id: str | None = None
    app_name: str | None = None
    gateway_id: str | None = None
    node_type: str = NodeType.ENDPOINT
    description: str | None = None
    fw_version: str | None = None
    sw_version: str | None = None
    device_sdk_version: str | None = None
    tags: tuple[Tag, ...] = ()

    @property
    def display_name(self) -> str:
        return self.device_name or self.node_id

    def tag_dict(self) -> dict[str, str]:
        return {tag.tag_key: tag.tag_value or "" for tag in self.tags}

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "node_id": self.node_id,
            "device_name": self.device_name,
            "product_id": self.product_id,
            "product_name": self.product_name,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "gateway_id": self.gateway_id,
            "node_type": str(self.node_type),
            "status": str(self.status),
            "description": self.description,
            "fw_version": self.fw_version,
            "sw_version": self.sw_version,
            "device_sdk_version": self.device_sdk_version,
            "tags": [tag.to_json() for tag in self.tags],
        }

    @classmethod
    def from_json(cls, body: Any) -> Device:
        body = _mapping(body, "device")
        tags = body.get("tags") or []
        if not isinstance(tags, list):
            raise ProtocolError("field 'tags' must be a list")
        return cls(
            device_id=_req(body, "device_id"),
            node_id=_str(body, "node_id", required=False) or "",
            product_id=_str(body, "product_id", required=False) or "",
            status=_str(body, "status", required=False) or DeviceStatus.INACTIVE,
            device_name=_str(body, "device_name", required=False),
            product_name=_str(body, "product_name", required=False),
            app_id=_str(body, "app_id", required=False),
            app_name=_str(body, "app_name", required=False),
            gateway_id=_str(body, "gateway_id", required=False),
            node_type=_str(body, "node_type", required=False) or NodeType.ENDPOINT,
            description=_str(body, "description", required=False),
            fw_version=_str(body, "fw_version", required=False),
            sw_version=_str(body, "sw_version", required=False),
            device_sdk_version=_str(body, "device_sdk_version", required=False),
            tags=tuple(Tag.from_json(tag) for tag in tags),
        )


@dataclass(frozen=True)
class DeviceDetail:
    """A device as the show API returns it: the list fields and its times and auth info."""

    device: Device
    # may hold the device secret: never in a repr, masked in to_json unless asked for
    auth_info: dict[str, Any] = field(default_factory=dict, repr=False)
    create_time: str | None = None
    connection_status_update_time: str | None = None
    active_time: str | None = None

    def to_json(self, show_secret: bool = False) -> dict[str, Any]:
        auth_info = dict(self.auth_info)
        if not show_secret and auth_info.get("secret"):
            auth_info["secret"] = mask(str(auth_info["secret"]))
        body = self.device.to_json()
        body.update(
            auth_info=auth_info,
            create_time=self.create_time,
            connection_status_update_time=self.connection_status_update_time,
            active_time=self.active_time,
        )
        return body

    @classmethod
    def from_json(cls, body: Any) -> DeviceDetail:
        body = _mapping(body, "device")
        auth_info = body.get("auth_info") or {}
        if not isinstance(auth_info, dict):
            raise ProtocolError("field 'auth_info' must be an object")
        return cls(
            device=Device.from_json(body),
            auth_info=auth_info,
            create_time=_str(body, "create_time", required=False),
            connection_status_update_time=_str(
                body, "connection_status_update_time", required=False
            ),
            active_time=_str(body, "active_time", required=False),
        )


@dataclass(frozen=True)
class Page:
    count: int
    marker: str | None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "marker": self.marker}

    @classmethod
    def from_json(cls, body: Any) -> Page:
        body = _mapping(body, "page")
        count = body.get("count", 0)
        if not isinstance(count, int):
            raise ProtocolError("field 'count' must be an integer")
        return cls(count, _str(body, "marker", required=False))


@dataclass(frozen=True)
class DevicePage:
    devices: tuple[Device, ...]
    page: Page

    def to_json(self) -> dict[str, Any]:
        return {"devices": [d.to_json() for d in self.devices], "page": self.page.to_json()}

    @classmethod
    def from_json(cls, body: Any) -> DevicePage:
        body = _mapping(body, "device page")
        devices = body.get("devices") or []
        if not isinstance(devices, list):
            raise ProtocolError("field 'devices' must be a list")
        return cls(
            tuple(Device.from_json(d) for d in devices),
            Page.from_json(body.get("page") or {}),
        )


@dataclass(frozen=True)
class ConnectState:
    status: str = LinkStatus.DISCONNECTED
    last_update_time: str | None = None

    @property
    def connected(self) -> bool:
        return self.status == LinkStatus.CONNECTED

    def to_json(self) -> dict[str, Any]:
        return {"status": str(self.status), "last_update_time": self.last_update_time}

    @classmethod
    def from_json(cls, body: Any) -> ConnectState:
        if body is None:
            return cls()
        body = _mapping(body, "connect state")
        return cls(
            _str(body, "status", required=False) or LinkStatus.DISCONNECTED,
            _str(body, "last_update_time", required=False),
        )


@dataclass(frozen=True)
class Tunnel:
    """TunnelInfo: `closed_time` is really the time of the last update."""

    tunnel_id: str
    device_id: str
    status: str
    create_time: str | None = None
    closed_time: str | None = None
    source_connect_state: ConnectState = field(default_factory=ConnectState)
    device_connect_state: ConnectState = field(default_factory=ConnectState)

    @property
    def is_open(self) -> bool:
        return self.status == TunnelStatus.OPEN

    def to_json(self) -> dict[str, Any]:
        return {
            "tunnel_id": self.tunnel_id,
            "device_id": self.device_id,
            "create_time": self.create_time,
            "closed_time": self.closed_time,
            "status": str(self.status),
            "source_connect_state": self.source_connect_state.to_json(),
            "device_connect_state": self.device_connect_state.to_json(),
        }

    @classmethod
    def from_json(cls, body: Any) -> Tunnel:
        body = _mapping(body, "tunnel")
        return cls(
            tunnel_id=_req(body, "tunnel_id"),
            device_id=_req(body, "device_id"),
            status=_req(body, "status"),
            create_time=_str(body, "create_time", required=False),
            closed_time=_str(body, "closed_time", required=False),
            source_connect_state=ConnectState.from_json(body.get("source_connect_state")),
            device_connect_state=ConnectState.from_json(body.get("device_connect_state")),
        )


@dataclass(frozen=True)
class TunnelCreated:
    """The answer to `POST …/tunnels`: the source side's token and URI."""

    tunnel_id: str
    tunnel_access_token: str
    expires_in: int
    tunnel_uri: str

    def __repr__(self) -> str:  # the token never reaches a log through repr
        return (
            f"TunnelCreated(tunnel_id={self.tunnel_id!r}, "
            f"tunnel_access_token={mask(self.tunnel_access_token)!r}, "
            f"expires_in={self.expires_in}, tunnel_uri={self.tunnel_uri!r})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tunnel_id": self.tunnel_id,
            "tunnel_access_token": self.tunnel_access_token,
            "expires_in": self.expires_in,
            "tunnel_uri": self.tunnel_uri,
        }

    @classmethod
    def from_json(cls, body: Any) -> TunnelCreated:
        body = _mapping(body, "tunnel")
        expires_in = body.get("expires_in")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool):
            raise ProtocolError("field 'expires_in' must be an integer")
        return cls(
            _req(body, "tunnel_id"),
            _req(body, "tunnel_access_token"),
            expires_in,
            _req(body, "tunnel_uri"),
        )


def default_device_id(product_id: str, node_id: str) -> str:
    return f"{product_id}_{node_id}"


def is_valid_device_id(device_id: str) -> bool:
    return 0 < len(device_id) <= 128 and all(
        c.isascii() and (c.isalnum() or c in "_-") for c in device_id
    )
