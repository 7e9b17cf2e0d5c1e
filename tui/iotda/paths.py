"""Where IoTDA's resources live on the wire (docs/protocol.md §2 and §5), in one place.

The REST API sits under `/v5/iot/{project_id}`; a tunnel has two WebSocket endpoints,
`/v5/iot/tunnels/{tunnel_id}/source-connect` (the app) and `…/device-connect` (the device).
"""

from __future__ import annotations

from urllib.parse import urlsplit

REST_BASE = "/v5/iot/{project_id}"
SOURCE_SIDE = "source-connect"
DEVICE_SIDE = "device-connect"
TUNNEL_SIDES = (SOURCE_SIDE, DEVICE_SIDE)
_TUNNEL_WS = "/v5/iot/tunnels/{tunnel_id}/{side}"


def rest_base(project_id: str) -> str:
    """`/v5/iot/<project_id>`: the prefix of every REST path of one project."""
    return REST_BASE.format(project_id=project_id)


def tunnel_ws_path(tunnel_id: str, side: str) -> str:
    """The WebSocket path of one side ("source-connect" or "device-connect") of a tunnel.

    A route template passes `"{tunnel_id}"` itself as the id.
    """
    if side not in TUNNEL_SIDES:
        raise ValueError(f"unknown tunnel side {side!r}")
    return _TUNNEL_WS.format(tunnel_id=tunnel_id, side=side)


def tunnel_id_from_uri(uri: str) -> str:
    """The tunnel id in a tunnel URI (`…/tunnels/<id>/<side>`); the URI itself otherwise."""
    parts = [part for part in urlsplit(uri).path.split("/") if part]
    return parts[-2] if len(parts) >= 2 else uri
