"""IoTDA error bodies, codes and the typed exception every side raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ErrorCode:
    """Codes of docs/protocol.md §2. Clients show `error_msg`, never branch on a decided code."""

    INTERNAL = "IOTDA.000001"
    STORAGE_UNAVAILABLE = "IOTDA.000002"  # decided: the local platform's store failed (503)
    INVALID_ACCESS_TOKEN = "IOTDA.000004"
    INVALID_INPUT = "IOTDA.000006"
    BAD_JSON = "IOTDA.000008"
    START_AFTER_END = "IOTDA.000010"  # Huawei: start time must be earlier than end time
    LIMIT_OUT_OF_RANGE = "IOTDA.000017"
    MARKER_OUT_OF_RANGE = "IOTDA.000018"
    NOT_ALLOWED = "IOTDA.000021"
    RATE_LIMITED = "IOTDA.021101"
    DEVICE_NOT_FOUND = "IOTDA.014000"  # decided
    DEVICE_NOT_ONLINE = "IOTDA.014016"  # decided
    TUNNEL_NOT_FOUND = "IOTDA.019701"  # decided
    TUNNEL_EXISTS = "IOTDA.019702"  # decided
    TUNNEL_NOT_CLOSED = "IOTDA.019703"  # decided
    TUNNEL_TOKEN_INVALID = "IOTDA.019704"  # decided
    TUNNEL_TOKEN_EXPIRED = "IOTDA.019705"
    TUNNEL_QUOTA = "IOTDA.019706"  # decided
    EDITION_NOT_SUPPORTED = "IOTDA.019707"  # decided (not 000010: Huawei's time-range code)
    APIGW_BAD_SIGNATURE = "APIGW.0301"
    # raised by this client itself, never sent by a platform
    CLIENT_CONFIG = "CLIENT.CONFIG"
    CLIENT_NETWORK = "CLIENT.NETWORK"
    CLIENT_BAD_RESPONSE = "CLIENT.BAD_RESPONSE"


@dataclass(frozen=True)
class ErrorBody:
    error_code: str
    error_msg: str
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.error_code, "error_msg": self.error_msg}
        if self.request_id:
            body["request_id"] = self.request_id
        return body

    @classmethod
    def from_json(cls, body: Any) -> ErrorBody | None:
        if not isinstance(body, dict):
            return None
        code, msg = body.get("error_code"), body.get("error_msg")
        if not isinstance(code, str) or not isinstance(msg, str):
            return None
        request_id = body.get("request_id")
        return cls(code, msg, request_id if isinstance(request_id, str) else None)


class IoTDAError(Exception):
    """A platform (or transport) failure, carrying what the platform said."""

    def __init__(
        self,
        status: int,
        error_code: str,
        error_msg: str,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status else ""
        return f"{self.error_msg} [{self.error_code}]{where}"


class ProtocolError(ValueError):
    """A frame, payload or record that does not follow docs/protocol.md."""
