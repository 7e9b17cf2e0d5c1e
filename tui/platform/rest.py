"""The REST API of PROTOCOL.md §2 and the IAM token endpoint, as Starlette routes.

Every answer carries `X-Request-Id`; every failure is an IoTDA error body with a 4xx
(a 500 only for a bug, and then without details).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tui.iotda.auth import SUBJECT_TOKEN_HEADER
from tui.iotda.errors import ErrorBody, ErrorCode, IoTDAError
from tui.iotda.models import (
    DEFAULT_MARKER,
    DEVICE_OFFSET_MAX,
    DEVICE_PAGE_LIMIT_MAX,
    ConnectState,
    Device,
    DeviceDetail,
    Page,
    Tag,
    Tunnel,
    is_valid_device_id,
)
from tui.iotda.paths import REST_BASE
from tui.iotda.timefmt import format_compact, format_millis, parse_compact
from tui.platform.auth import RestAuth
from tui.platform.store import DeviceFilter, DeviceRecord, Store, TunnelRecord, record_marker
from tui.platform.tunnels import TunnelService

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
REQUEST_ID_KEY = "iotunnel.request_id"
# tells a client it talks to this local platform, not to Huawei's (PROTOCOL.md §5.1)
PLATFORM_HEADER = "X-Iotunnel-Platform"
_MARKER = re.compile(r"^[0-9a-fA-F]{24}$")
_STRING_FILTERS = ("product_id", "node_id", "device_name", "gateway_id", "app_id")

Handler = Callable[[Request], Awaitable[Response]]


class RequestIdMiddleware:
    """Gives every HTTP response an `X-Request-Id` (known to error bodies too) and says
    that the answer comes from the local platform (`X-Iotunnel-Platform: 1`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    (PLATFORM_HEADER.lower().encode(), b"1"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


def error_response(request: Request, status: int, code: str, msg: str) -> JSONResponse:
    body = ErrorBody(code, msg, request.scope.get(REQUEST_ID_KEY)).to_json()
    return JSONResponse(body, status_code=status)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(request, 405, ErrorCode.INVALID_INPUT, "method not allowed")
    return error_response(
        request, exc.status_code, ErrorCode.INVALID_INPUT, "the API does not exist"
    )


def _bad(msg: str, code: str = ErrorCode.INVALID_INPUT) -> IoTDAError:
    return IoTDAError(400, code, msg)


def _bad_device_id() -> IoTDAError:
    return _bad("device_id must be ≤128 characters of [A-Za-z0-9_-]")


def _require_json_media_type(request: Request) -> None:
    """A body must be declared JSON, as IoTDA demands (`charset` and the like may follow)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise _bad("Content-Type must be application/json", ErrorCode.BAD_JSON)


def _int_param(request: Request, name: str, default: int, low: int, high: int, code: str) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _bad(f"{name} must be an integer from {low} to {high}", code) from None
    if not low <= value <= high:
        raise _bad(f"{name} must be an integer from {low} to {high}", code)
    return value


def _time_param(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        return parse_compact(text).timestamp()
    except ValueError:
        raise _bad(f"{name} must look like 20261126T045300Z") from None


def _compact(moment: float | None) -> str | None:
    return None if moment is None else format_compact(datetime.fromtimestamp(moment, UTC))


def _millis(moment: float | None) -> str | None:
    return None if moment is None else format_millis(datetime.fromtimestamp(moment, UTC))


def device_model(record: DeviceRecord) -> Device:
    return Device(
        device_id=record.device_id,
        node_id=record.node_id,
        product_id=record.product_id,
        status=record.status,
        device_name=record.device_name,
        product_name=record.product_id,
        tags=tuple(Tag(key, value) for key, value in record.tags),
    )


def device_detail(record: DeviceRecord) -> DeviceDetail:
    return DeviceDetail(
        device=device_model(record),
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


class RestApi:
    def __init__(
        self, project_id: str, store: Store, auth: RestAuth, tunnels: TunnelService
    ) -> None:
        self.project_id = project_id
        self.store = store
        self.auth = auth
        self.tunnels = tunnels

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise _bad("request body too large", ErrorCode.BAD_JSON)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _bad("request body too large", ErrorCode.BAD_JSON)
        return body

    def _guard(
        self, handler: Callable[[Request, bytes], Awaitable[Response]], *, authed: bool = True
    ) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                body = await self._body(request)
                if authed:
                    self.auth.check(
                        request.method,
                        request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                        request.query_params.multi_items(),
                        dict(request.headers),
                        body,
                    )
                    if request.path_params.get("project_id") != self.project_id:
                        raise IoTDAError(
                            403, ErrorCode.NOT_ALLOWED, "project not allowed for these credentials"
                        )
                if request.method == "POST":
                    _require_json_media_type(request)
                return await handler(request, body)
            except IoTDAError as exc:
                return error_response(request, exc.status, exc.error_code, exc.error_msg)
            except Exception:
                log.exception("REST %s %s failed", request.method, request.url.path)
                return error_response(request, 500, ErrorCode.INTERNAL, "internal error")

        return endpoint

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise _bad("the body is not valid JSON", ErrorCode.BAD_JSON) from None

    async def issue_token(self, request: Request, body: bytes) -> Response:
        token, answer = self.auth.issue_token(self._json(body))
        return JSONResponse(answer, status_code=201, headers={SUBJECT_TOKEN_HEADER: token})

    async def list_devices(self, request: Request, body: bytes) -> Response:
        limit = _int_param(
            request, "limit", 10, 1, DEVICE_PAGE_LIMIT_MAX, ErrorCode.LIMIT_OUT_OF_RANGE
        )
        offset = _int_param(request, "offset", 0, 0, DEVICE_OFFSET_MAX, ErrorCode.INVALID_INPUT)
        marker = request.query_params.get("marker", DEFAULT_MARKER)
        if not _MARKER.match(marker):
            raise _bad("marker must be 24 hexadecimal digits", ErrorCode.MARKER_OUT_OF_RANGE)
        strings = {name: request.query_params.get(name) for name in _STRING_FILTERS}
        flt = DeviceFilter(
            **strings,
            start_time=_time_param(request, "start_time"),
            end_time=_time_param(request, "end_time"),
        )
        # record ids are SQLite integers: any marker above them all means "from the newest"
        below = min(int(marker, 16), 2**63 - 1)
        records, count = self.store.query_devices(flt, below, offset, limit)
        page = Page(count, record_marker(records[-1].record_id) if records else None)
        body_out = {"devices": [device_model(r).to_json() for r in records], "page": page.to_json()}
        return JSONResponse(body_out)

    async def show_device(self, request: Request, body: bytes) -> Response:
        device_id = request.path_params["device_id"]
        if not is_valid_device_id(device_id):
            raise _bad_device_id()
        record = self.store.get_device(device_id)
        if record is None:
            raise IoTDAError(404, ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} not found")
        return JSONResponse(device_detail(record).to_json())

    async def create_tunnel(self, request: Request, body: bytes) -> Response:
        payload = self._json(body)
        device_id = payload.get("device_id") if isinstance(payload, dict) else None
        if not isinstance(device_id, str) or not is_valid_device_id(device_id):
            raise _bad_device_id()
        created = await self.tunnels.create(device_id)
        return JSONResponse(created.to_json(), status_code=201)

    async def list_tunnels(self, request: Request, body: bytes) -> Response:
        device_id = request.query_params.get("device_id")
        if device_id is not None and not is_valid_device_id(device_id):
            raise _bad_device_id()
        tunnels = self.tunnels.list_tunnels(device_id)
        return JSONResponse({"tunnels": [tunnel_json(t) for t in tunnels]})

    async def show_tunnel(self, request: Request, body: bytes) -> Response:
        return JSONResponse(tunnel_json(self.tunnels.get(request.path_params["tunnel_id"])))

    async def close_tunnel(self, request: Request, body: bytes) -> Response:
        await self.tunnels.close(request.path_params["tunnel_id"])
        return Response(status_code=204)

    async def delete_tunnel(self, request: Request, body: bytes) -> Response:
        await self.tunnels.delete(request.path_params["tunnel_id"])
        return Response(status_code=204)

    def routes(self, openapi: dict[str, Any]) -> list[Route]:
        async def serve_openapi(request: Request) -> Response:
            return JSONResponse(openapi)

        base = REST_BASE
        g = self._guard
        return [
            Route("/openapi.json", serve_openapi, methods=["GET"]),
            Route("/v3/auth/tokens", g(self.issue_token, authed=False), methods=["POST"]),
            Route(f"{base}/devices", g(self.list_devices), methods=["GET"]),
            Route(f"{base}/devices/{{device_id}}", g(self.show_device), methods=["GET"]),
            Route(f"{base}/tunnels", g(self.create_tunnel), methods=["POST"]),
            Route(f"{base}/tunnels", g(self.list_tunnels), methods=["GET"]),
            Route(f"{base}/tunnels/{{tunnel_id}}", g(self.show_tunnel), methods=["GET"]),
            Route(f"{base}/tunnels/{{tunnel_id}}", g(self.close_tunnel), methods=["PUT"]),
            Route(f"{base}/tunnels/{{tunnel_id}}", g(self.delete_tunnel), methods=["DELETE"]),
        ]
