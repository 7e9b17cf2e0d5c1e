"""The tunnel WebSocket endpoints: `source-connect` and `device-connect` (docs/protocol.md §5).

Text frames are relayed verbatim; the platform reads a frame to answer an app's `ping`
with `pong`, to drop what a device may not send (frames only the platform originates)
and, in the "documented" relay mode, operations Huawei does not document. Frames over
10 KB are refused by the server (close 1009, uvicorn's `ws_max_size`); binary and
non-JSON frames are logged and dropped.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from tui.iotda.errors import ErrorBody, ErrorCode, IoTDAError
from tui.iotda.frames import TOKEN_HEADER, DisconnectCode, Op, TunnelFrame
from tui.iotda.paths import DEVICE_SIDE, SOURCE_SIDE, tunnel_ws_path
from tui.platform.config import RELAY_DOCUMENTED
from tui.platform.links import TunnelLink
from tui.platform.rest import PLATFORM_HEADER
from tui.platform.tunnels import DEVICE, SOURCE, TunnelService

log = logging.getLogger(__name__)

INTERNAL_ERROR = 1011  # WebSocket close code: the server cannot go on with this link


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


# The hot path reads the operation from the envelope's first key, as our agent, our app and
# the C SDK write it, without decoding 2 KB of output (json.loads of escaped terminal
# output costs more than the rest of the relay). It is only trusted when no other key can
# be "operation_type" too: the literal appears once, and no escape spells a letter.
_LEADING_OPERATION = re.compile(
    r'\{\s*"operation_type"\s*:\s*"(command_response|command|connect_response|connect)"\s*,'
)
# JSON spells an escape "\\u" (lowercase u, either case of hex); printable ASCII is
# U+0020..U+007F. One search, only when there is an escape at all: terminal output is full
# of "\\u001b" (ESC), and six substring scans per frame cost more than the whole relay
_ESCAPED_PRINTABLE = re.compile(r"\\u00[2-7]")
_KEY = '"operation_type"'


def fast_operation(text: str) -> str | None:
    """The frame's operation when its envelope alone says so for sure; None: parse it."""
    match = _LEADING_OPERATION.match(text)
    if match is None or text.find(_KEY, match.end()) != -1:
        return None
    if "\\u00" in text and _ESCAPED_PRINTABLE.search(text):
        return None
    return match.group(1)


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
    """True for a frame only the platform may originate (docs/protocol.md §5.1)."""
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


class _DropLog:
    """Logs dropped frames: the first few of a link at WARNING, then one in a thousand, so
    a peer sending nothing but junk cannot flood the log."""

    LOUD = 10

    def __init__(self, tunnel_id: str, side: str) -> None:
        self.where = f"tunnel {tunnel_id}: {side} side"
        self.count = 0

    def __call__(self, why: str) -> None:
        self.count += 1
        if self.count <= self.LOUD or self.count % 1000 == 0:
            log.warning("%s: frame dropped (%s; %d so far)", self.where, why, self.count)
        else:
            log.debug("%s: frame dropped (%s)", self.where, why)


async def _relay(service: TunnelService, tunnel_id: str, side: str, link: TunnelLink) -> None:
    """Read one side and pass its frames on to the other, a read's worth at a time; this
    side's own sends are not here."""
    documented = service.relay_mode == RELAY_DOCUMENTED
    dropped = _DropLog(tunnel_id, side)
    while True:
        messages = await link.receive()
        link.heard = True  # the peer is alive, whether or not its pong is through yet
        onward: list[str] = []
        ended = False
        for message in messages:
            if message["type"] == "websocket.disconnect":
                log.debug("tunnel %s: %s side closed (%s)", tunnel_id, side, message.get("code"))
                ended = True
                break
            text = message.get("text")
            if text is None:
                dropped("binary")
            elif fast_operation(text) is not None:  # output and keystrokes: as they are
                onward.append(text)
            else:
                text = _checked(text, side, documented, link, dropped)
                if text is not None:
                    onward.append(text)
        if onward:
            peer = service.peer(tunnel_id, side)
            if peer is not None:
                await peer.relay(onward, link)
            else:
                why = "%d frame(s) from the %s side dropped, no peer"
                log.debug("tunnel %s: " + why, tunnel_id, len(onward), side)
        if ended:
            return


def _checked(
    text: str, side: str, documented: bool, link: TunnelLink, dropped: _DropLog
) -> str | None:
    """A frame the fast path could not vouch for, read in full: the text to relay, or
    None when it was answered here (an app's ping) or dropped."""
    body = parse_frame(text)
    if body is None:
        dropped("not a JSON object")
        return None
    operation = body.get("operation_type")
    if side == SOURCE and operation == Op.PING:
        link.post_urgent(_pong_for(body))
        return None
    if side == DEVICE and platform_only(body):
        dropped(f"{str(operation)[:40]!r} only the platform may send")
        return None
    if documented and operation not in DOCUMENTED_OPS:
        dropped(f"operation {str(operation)[:40]!r} is not documented")
        return None
    return text


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
        link = TunnelLink(ws, service.limits, f"tunnel {tunnel_id} {side}")
        try:
            await service.attach(tunnel_id, side, link)
            await _relay(service, tunnel_id, side, link)
        except sqlite3.Error as exc:  # e.g. a full disk: this link cannot be accounted for
            log.error("tunnel %s: %s side: storage failed: %s", tunnel_id, side, exc)
            await link.close(INTERNAL_ERROR)
        except Exception:  # a socket torn down mid-receive: the link simply ends
            log.debug("tunnel %s: %s link ended abruptly", tunnel_id, side, exc_info=True)
        finally:
            link.finished()
            await service.detach(tunnel_id, side, link)

    return tunnel_link


def relay_routes(service: TunnelService) -> list[WebSocketRoute]:
    return [
        WebSocketRoute(tunnel_ws_path("{tunnel_id}", SOURCE_SIDE), _endpoint(service, SOURCE)),
        WebSocketRoute(tunnel_ws_path("{tunnel_id}", DEVICE_SIDE), _endpoint(service, DEVICE)),
        WebSocketRoute("/{path:path}", _no_such_link),  # last: every other upgrade
    ]
