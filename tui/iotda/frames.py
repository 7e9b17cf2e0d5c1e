"""The tunnel WebSocket envelope of docs/protocol.md §5.

Every frame is one JSON object in a text message of at most 10 KB. The platform relays
frames verbatim; only the ends (app, agent) decode them with `decode_frame`.
"""

from __future__ import annotations

import codecs
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring as scan_json_string  # C-accelerated where it can be
from typing import Any

from tui.iotda.errors import ProtocolError

try:  # the C encoder json.dumps uses for a str with ensure_ascii=False
    from _json import encode_basestring as encode_json_string
except ImportError:  # pragma: no cover - other interpreters
    from json.encoder import py_encode_basestring as encode_json_string

MAX_FRAME_BYTES = 10 * 1024
MAX_OUTPUT_CHUNK = 2048
SERVICE_TYPE = "ssh"
TOKEN_HEADER = "tunnel_access_token"
MAX_TOKEN_LENGTH = 256
MAX_TUNNEL_ID_LENGTH = 128
SSH_TIMEOUT_REQUEST_ID = "SSH_timeout_disconnect"
DEVICE_PING_INTERVAL = 20.0


class Op:
    """`operation_type` values. Kept as plain strings: unknown types must pass through."""

    CONNECT_TUNNEL = "connect_tunnel"
    CONNECT = "connect"
    CONNECT_RESPONSE = "connect_response"
    COMMAND = "command"
    COMMAND_RESPONSE = "command_response"
    DISCONNECT = "disconnect"
    PING = "ping"
    PONG = "pong"
    RESIZE = "resize"  # our extension; a Huawei C-SDK device ignores it


class Extension:
    """Our extensions, listed by a device in its `connect_response` data (PROTOCOL §5.1)."""

    RESIZE = "resize"
    RESUME = "resume"


class CloseCode:
    NORMAL = 1000
    GOING_AWAY = 1001
    AUTH_FAILED = 1002
    TOO_BIG = 1009
    REPLACED = 4000
    NO_RECONNECT = frozenset({NORMAL, AUTH_FAILED, REPLACED})


class DisconnectCode:
    """`status_code` strings of `disconnect` frames."""

    CLOSED_BY_API = "200"  # decided
    LOGIN_FAILED = "400"
    TOKEN_EXPIRED = "401"  # decided
    SHELL_TIMEOUT = "408"
    PEER_GONE = "410"  # decided
    REPLACED = "4000"  # decided


def new_request_id() -> str:
    """A 36-character UUID string: the C SDK reads exactly 36 bytes."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class TunnelFrame:
    operation_type: str
    request_id: str
    data: Any = None
    tunnel_service_type: str = SERVICE_TYPE

    def encode(self) -> str:
        return json.dumps(
            {
                "operation_type": self.operation_type,
                "tunnel_service_type": self.tunnel_service_type,
                "request_id": self.request_id,
                "data": self.data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def __repr__(self) -> str:  # a connect frame carries a password
        data = self.data
        if self.operation_type in (Op.CONNECT, Op.CONNECT_RESPONSE) and isinstance(data, dict):
            data = {k: "***" if k in _SECRET_KEYS else v for k, v in data.items()}
        return f"TunnelFrame({self.operation_type!r}, {self.request_id!r}, {data!r})"


_SECRET_KEYS = frozenset({"password", "resume_ticket"})


def decode_frame(text: str | bytes) -> TunnelFrame:
    """Parse one frame, pretty-printed or compact. Raises ProtocolError on anything else."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("frame is not UTF-8") from exc
    if len(text) > MAX_FRAME_BYTES and len(text.encode("utf-8")) > MAX_FRAME_BYTES:
        raise ProtocolError("frame exceeds 10 KB")
    if text.startswith(_OUTPUT_HEAD):  # the output stream, as our agent writes it
        fast = _decode_output(text)
        if fast is not None:
            return fast
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("frame is not JSON") from exc
    if not isinstance(body, dict):
        raise ProtocolError("frame is not a JSON object")
    operation = body.get("operation_type")
    if not isinstance(operation, str) or not operation:
        raise ProtocolError("frame has no operation_type")
    request_id = body.get("request_id")
    if request_id is None:
        request_id = ""
    if not isinstance(request_id, str):
        raise ProtocolError("request_id must be a string")
    service = body.get("tunnel_service_type") or SERVICE_TYPE
    if not isinstance(service, str):
        raise ProtocolError("tunnel_service_type must be a string")
    return TunnelFrame(operation, request_id, body.get("data"), service)


def connect_frame(username: str, password: str, request_id: str | None = None) -> TunnelFrame:
    return TunnelFrame(
        Op.CONNECT, request_id or new_request_id(), {"username": username, "password": password}
    )


def resume_frame(
    username: str, ticket: str, offset: int, request_id: str | None = None
) -> TunnelFrame:
    """A `connect` that resumes a kept shell (extension `resume`) instead of logging in.

    `resume_offset` counts the characters of output the app received from that shell, so
    the device replays exactly what the app missed."""
    data = {"username": username, "resume_ticket": ticket, "resume_offset": offset}
    return TunnelFrame(Op.CONNECT, request_id or new_request_id(), data)


@dataclass(frozen=True)
class ConnectRequest:
    """A `connect` frame's data: a password login, or a resume ticket (our extension)."""

    username: str | None
    password: str | None = field(default=None, repr=False)
    resume_ticket: str | None = field(default=None, repr=False)
    resume_offset: int = 0

    @classmethod
    def from_frame(cls, frame: TunnelFrame) -> ConnectRequest:
        data = frame.data if isinstance(frame.data, dict) else {}

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        offset = data.get("resume_offset")
        offset = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
        return cls(text("username"), text("password"), text("resume_ticket"), max(offset, 0))


@dataclass(frozen=True)
class ConnectAnswer:
    """A `connect_response` frame's data: a C-SDK device sends none (or a string); ours
    lists its extensions, a resume ticket, and whether a kept shell was resumed."""

    extensions: frozenset[str] = frozenset()
    resume_ticket: str | None = field(default=None, repr=False)
    resumed: bool = False
    message: str | None = None

    @classmethod
    def from_frame(cls, frame: TunnelFrame) -> ConnectAnswer:
        data = frame.data
        if isinstance(data, str):
            return cls(message=data)
        if not isinstance(data, dict):
            return cls()
        listed = data.get("extensions")
        names = (
            frozenset(x for x in listed if isinstance(x, str))
            if isinstance(listed, list)
            else frozenset()
        )
        ticket = data.get("resume_ticket")
        return cls(
            names,
            ticket if isinstance(ticket, str) and ticket else None,
            data.get("resumed") is True,
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"extensions": sorted(self.extensions)}
        if self.resume_ticket is not None:
            data["resume_ticket"] = self.resume_ticket
        if self.resumed:
            data["resumed"] = True
        return data


def command_frame(keys: str, request_id: str | None = None) -> TunnelFrame:
    return TunnelFrame(Op.COMMAND, request_id or new_request_id(), keys)


def resize_frame(cols: int, rows: int, request_id: str | None = None) -> TunnelFrame:
    return TunnelFrame(Op.RESIZE, request_id or new_request_id(), {"cols": cols, "rows": rows})


_OUTPUT_HEAD = '{"operation_type":"command_response","tunnel_service_type":"ssh","request_id":'


def _decode_output(text: str) -> TunnelFrame | None:
    """A frame exactly as `output_frame_text` writes it, read with the C string scanner
    alone (no dict, no generic parse); None for anything else: the full parse decides."""
    try:
        request_id, end = scan_json_string(text, len(_OUTPUT_HEAD) + 1)
        if text[len(_OUTPUT_HEAD)] != '"' or not text.startswith(',"data":"', end):
            return None
        data, end = scan_json_string(text, end + 9)
    except (ValueError, IndexError):  # JSONDecodeError is a ValueError
        return None
    if end != len(text) - 1 or text[end] != "}":
        return None
    return TunnelFrame(Op.COMMAND_RESPONSE, request_id, data)


def output_frame_text(request_id: str, chunk: str) -> str:
    """`TunnelFrame(Op.COMMAND_RESPONSE, request_id, chunk).encode()`, the same text,
    built without a dict and a JSON encoder per frame (the agent's hot path)."""
    return f'{_OUTPUT_HEAD}{encode_json_string(request_id)},"data":{encode_json_string(chunk)}}}'


def disconnect_frame(status_code: str, status_msg: str, request_id: str) -> TunnelFrame:
    return TunnelFrame(
        Op.DISCONNECT, request_id, {"status_code": status_code, "status_msg": status_msg}
    )


@dataclass(frozen=True)
class Disconnect:
    status_code: str
    status_msg: str

    @classmethod
    def from_frame(cls, frame: TunnelFrame) -> Disconnect:
        data = frame.data if isinstance(frame.data, dict) else {}
        return cls(str(data.get("status_code", "")), str(data.get("status_msg", "")))


@dataclass(frozen=True)
class Resize:
    cols: int
    rows: int

    @classmethod
    def from_frame(cls, frame: TunnelFrame) -> Resize:
        data = frame.data
        if not isinstance(data, dict):
            raise ProtocolError("resize data must be an object")
        cols, rows = data.get("cols"), data.get("rows")
        if not isinstance(cols, int) or not isinstance(rows, int):
            raise ProtocolError("resize needs integer cols and rows")
        if not (1 <= cols <= 1000 and 1 <= rows <= 1000):
            raise ProtocolError("resize out of range")
        return cls(cols, rows)


class OutputChunker:
    """Turns a byte stream into text chunks of at most 2048 UTF-8 bytes each.

    A multi-byte character is never split across two chunks, even when the bytes it is
    made of arrive in two reads; invalid bytes become U+FFFD.
    """

    def __init__(self, limit: int = MAX_OUTPUT_CHUNK) -> None:
        self._limit = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes, final: bool = False) -> Iterator[str]:
        text = self._decoder.decode(data, final)
        yield from split_utf8(text, self._limit)


def split_utf8(text: str, limit: int = MAX_OUTPUT_CHUNK) -> Iterator[str]:
    """Cut text into pieces of at most `limit` UTF-8 bytes, on character boundaries."""
    if text.isascii():  # one byte a character: cut the text itself, no copies through bytes
        for start in range(0, len(text), limit):
            yield text[start : start + limit]
        return
    encoded = text.encode("utf-8")
    start = 0
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        # back up to the start of a character: continuation bytes are 0b10xxxxxx
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1
        yield encoded[start:end].decode("utf-8")
        start = end
