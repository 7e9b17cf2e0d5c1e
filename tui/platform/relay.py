"""The tunnel WebSocket endpoints: `source-connect` and `device-connect` (PROTOCOL.md §5).

Text frames are relayed verbatim; the platform reads a frame to answer an app's `ping`
with `pong`, to drop what a device may not send (frames only the platform originates)
and, in the "documented" relay mode, operations Huawei does not document. Frames over
10 KB are refused by the server (close 1009, uvicorn's `ws_max_size`); binary and
non-JSON frames are logged and dropped.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from tui.iotda.errors import ErrorBody, ErrorCode, IoTDAError
from tui.iotda.frames import TOKEN_HEADER, DisconnectCode, Op, TunnelFrame
from tui.iotda.paths import DEVICE_SIDE, SOURCE_SIDE, tunnel_ws_path
from tui.platform.config import RELAY_DOCUMENTED
from tui.platform.rest import PLATFORM_HEADER
from tui.platform.tunnels import DEVICE, SOURCE, TunnelService, send_quietly

log = logging.getLogger(__name__)


# what Huawei documents; in the "documented" relay mode every other operation is dropped
DOCUMENTED_OPS = frozenset(
    {
        Op.CONNECT_TUNNEL,
        Op.CONNECT,
        Op.CONNECT_RESPONSE,
        Op.COMMAND,
        Op.COMMAND_RESPONSE,
        Op.DISCONNECT,
        Op.PING,
        Op.PONG,
    }
)
# disconnect codes only the platform sends: a device sending one could fake "token expired"
PLATFORM_DISCONNECTS = frozenset(
    {DisconnectCode.CLOSED_BY_API, DisconnectCode.TOKEN_EXPIRED, DisconnectCode.REPLACED}
)


def parse_frame(text: str) -> dict[str, Any] | None:
    """The frame's JSON object, or None when it is not one (such frames are dropped)."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def platform_only(body: dict[str, Any]) -> bool:
    """True for a frame only the platform may originate (PROTOCOL.md §5.1)."""
    operation = body.get("operation_type")
    if operation in (Op.CONNECT_TUNNEL, Op.PONG, Op.PING):
        return True
    if operation != Op.DISCONNECT:
        return False
    data = body.get("data")
    return isinstance(data, dict) and str(data.get("status_code")) in PLATFORM_DISCONNECTS


def _pong_for(body: dict[str, Any]) -> str:
    request_id = body.get("request_id")
    return TunnelFrame(Op.PONG, request_id if isinstance(request_id, str) else "").encode()


async def _relay(service: TunnelService, tunnel_id: str, side: str, ws: WebSocket) -> None:
    documented = service.relay_mode == RELAY_DOCUMENTED
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            log.debug("tunnel %s: %s side closed (%s)", tunnel_id, side, message.get("code"))
            return
        text = message.get("text")
        if text is None:
            log.warning("tunnel %s: binary frame from the %s side dropped", tunnel_id, side)
            continue
        body = parse_frame(text)
        if body is None:
            log.warning("tunnel %s: non-JSON frame from the %s side dropped", tunnel_id, side)
            continue
        operation = body.get("operation_type")
        if side == SOURCE and operation == Op.PING:
            await send_quietly(ws, _pong_for(body))
            continue
        if side == DEVICE and platform_only(body):
            log.warning(
                "tunnel %s: device sent %r, which only the platform may send: dropped",
                tunnel_id,
                operation,
            )
            continue
        if documented and operation not in DOCUMENTED_OPS:
            log.warning("tunnel %s: unknown operation from the %s side dropped", tunnel_id, side)
            continue
        peer = service.peer(tunnel_id, side)
        if peer is None:
            log.debug("tunnel %s: frame from the %s side dropped, no peer", tunnel_id, side)
            continue
        await send_quietly(peer, text)


async def _deny(ws: WebSocket, exc: IoTDAError) -> None:
    """Refuse an upgrade with an HTTP error and an IoTDA error body, as REST answers."""
    request_id = uuid.uuid4().hex
    body = ErrorBody(exc.error_code, exc.error_msg, request_id).to_json()
    headers = {"X-Request-Id": request_id, PLATFORM_HEADER: "1"}
    await ws.send_denial_response(JSONResponse(body, exc.status, headers=headers))


async def _no_such_link(ws: WebSocket) -> None:
    # without this route Starlette refuses unknown upgrades with a bare 403 and no body
    await _deny(ws, IoTDAError(404, ErrorCode.INVALID_INPUT, "the API does not exist"))


def _endpoint(service: TunnelService, side: str):
    async def tunnel_link(ws: WebSocket) -> None:
        tunnel_id = ws.path_params["tunnel_id"]
        try:
            service.authorize(tunnel_id, side, ws.headers.get(TOKEN_HEADER))
        except IoTDAError as exc:
            log.info("tunnel %r: %s side refused: %s", tunnel_id, side, exc.error_msg)
            await _deny(ws, exc)
            return
        await ws.accept()
        await service.attach(tunnel_id, side, ws)
        try:
            await _relay(service, tunnel_id, side, ws)
        except Exception:  # a socket torn down mid-receive: the link simply ends
            log.debug("tunnel %s: %s link ended abruptly", tunnel_id, side, exc_info=True)
        finally:
            await service.detach(tunnel_id, side, ws)

    return tunnel_link


def relay_routes(service: TunnelService) -> list[WebSocketRoute]:
    return [
        WebSocketRoute(tunnel_ws_path("{tunnel_id}", SOURCE_SIDE), _endpoint(service, SOURCE)),
        WebSocketRoute(tunnel_ws_path("{tunnel_id}", DEVICE_SIDE), _endpoint(service, DEVICE)),
        WebSocketRoute("/{path:path}", _no_such_link),  # last: every other upgrade
    ]
