"""What the REST API answers: the wire models of devices and tunnels built from records."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tui.iotda.models import ConnectState, Device, DeviceDetail, NodeType, Tag, Tunnel
from tui.iotda.timefmt import format_compact, format_millis
from tui.platform.store import DeviceRecord, TunnelRecord


def _compact(moment: float | None) -> str | None:
    return None if moment is None else format_compact(datetime.fromtimestamp(moment, UTC))


def _millis(moment: float | None) -> str | None:
    return None if moment is None else format_millis(datetime.fromtimestamp(moment, UTC))


def product_name_of(product_id: str) -> str:
    """A product's name when the seed gives none: "smart_boiler" → "Smart Boiler"."""
    words = re.split(r"[_\-\s]+", product_id)
    return " ".join(word[:1].upper() + word[1:] for word in words if word) or product_id


def device_model(record: DeviceRecord, product_name: str | None = None) -> Device:
    # every local device connects to the platform itself: IoTDA lists such a device as a
    # GATEWAY whose gateway_id is its own id (a child behind it would be an ENDPOINT)
    return Device(
        device_id=record.device_id,
        node_id=record.node_id,
        product_id=record.product_id,
        status=record.status,
        device_name=record.device_name,
        product_name=product_name or product_name_of(record.product_id),
        gateway_id=record.device_id,
        node_type=NodeType.GATEWAY,
        tags=tuple(Tag(key, value) for key, value in record.tags),
    )


def device_detail(record: DeviceRecord, product_name: str | None = None) -> DeviceDetail:
    return DeviceDetail(
        device=device_model(record, product_name),
        auth_info={"auth_type": "SECRET", "secure_access": True, "timeout": 0},
        create_time=_compact(record.create_time),
        connection_status_update_time=_millis(record.status_time),
        active_time=_millis(record.active_time),
    )


def tunnel_model(tunnel: TunnelRecord) -> Tunnel:
    return Tunnel(
        tunnel_id=tunnel.tunnel_id,
        device_id=tunnel.device_id,
        status=tunnel.status,
        create_time=_compact(tunnel.create_time),
        closed_time=_compact(tunnel.update_time),  # TunnelInfo's name for "last update"
        source_connect_state=ConnectState(tunnel.source_state, _compact(tunnel.source_time)),
        device_connect_state=ConnectState(tunnel.device_state, _compact(tunnel.device_time)),
    )


def tunnel_json(tunnel: TunnelRecord) -> dict[str, Any]:
    return tunnel_model(tunnel).to_json()
