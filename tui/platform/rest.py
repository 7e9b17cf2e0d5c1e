"""The REST API of docs/protocol.md §2 and the IAM token endpoint, as Starlette routes.

Every answer carries `X-Request-Id`; every failure is an IoTDA error body with a 4xx
(a 500 only for a bug, and then without details).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
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
    Page,
    is_valid_device_id,
)
from tui.iotda.paths import REST_BASE
from tui.platform.answers import device_detail, device_model, tunnel_json
from tui.platform.auth import RestAuth
from tui.platform.links import SERVER_SEND_KEY
from tui.platform.openapi import COMPACT_TIME_PATTERN
from tui.platform.ratelimit import AUTH_FAILURES, REST_REQUESTS, SourceBuckets
from tui.platform.store import DeviceFilter, Store, record_marker
from tui.platform.tunnels import TunnelService

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT = 10.0  # a body that trickles in slower than this holds no connection
COMPACT_TIME = re.compile(COMPACT_TIME_PATTERN)
REQUEST_ID_KEY = "iotunnel.request_id"
# tells a client it talks to this local platform, not to Huawei's (docs/protocol.md §5.1)
PLATFORM_HEADER = "X-Iotunnel-Platform"
_MARKER = re.compile(r"[0-9a-fA-F]{24}")  # fullmatch: "$" would let a newline through
_STRING_FILTERS = ("product_id", "node_id", "device_name", "gateway_id", "app_id")

Handler = Callable[[Request], Awaitable[Response]]


class RequestIdMiddleware:
    """Gives every HTTP response an `X-Request-Id` (known to error bodies too) and says
    that the answer comes from the local platform (`X-Iotunnel-Platform: 1`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # the server's own send: uvicorn's protocol, whose transport a stuck link aborts
            scope[SERVER_SEND_KEY] = send
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
    request_id = request.scope.get(REQUEST_ID_KEY)
    # the only trace of a refused request (uvicorn's access log is off); DEBUG, so that a
    # client hammering with bad requests cannot flood the console
    log.debug(
        "%s %r answered %d %s: %s (request %s)",  # %r: a path cannot forge log lines
        request.method,
        request.url.path,
        status,
        code,
        msg,
        request_id,
    )
    return JSONResponse(ErrorBody(code, msg, request_id).to_json(), status_code=status)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        answer = error_response(request, 405, ErrorCode.INVALID_INPUT, "method not allowed")
        answer.headers.update(exc.headers or {})  # Allow: what the path does accept
        return answer
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
    # ASCII digits only: int() would also take "٣", "5_0", " 7" and "+7"
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise _bad(f"{name} must be an integer from {low} to {high}", code)
    value = int(text)
    if not low <= value <= high:
        raise _bad(f"{name} must be an integer from {low} to {high}", code)
    return value


def _time_param(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    match = COMPACT_TIME.fullmatch(text)
    if match is None:
        raise _bad(f"{name} must look like 20261126T045300Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    # every value the published pattern allows is a time: day 31 of a short month runs on
    first = datetime(max(year, 1), month, 1, hour, minute, second, tzinfo=UTC)
    return (first + timedelta(days=day - 1)).timestamp()


def _bool_param(request: Request, name: str) -> bool | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if text not in ("true", "false"):
        raise _bad(f"{name} must be true or false")
    return text == "true"


class RestApi:
    def __init__(
        self,
        project_id: str,
        store: Store,
        auth: RestAuth,
        tunnels: TunnelService,
        *,
        product_names: dict[str, str] | None = None,
        requests: SourceBuckets | None = None,
        auth_failures: SourceBuckets | None = None,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self.project_id = project_id
        self.store = store
        self.auth = auth
        self.tunnels = tunnels
        self.product_names = product_names or {}
        self.requests = requests or SourceBuckets(REST_REQUESTS)
        self.auth_failures = auth_failures or SourceBuckets(AUTH_FAILURES)
        self.body_timeout = body_timeout

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise _bad("request body too large", ErrorCode.BAD_JSON)
        body = b""
        try:
            async with asyncio.timeout(self.body_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise _bad("request body too large", ErrorCode.BAD_JSON)
        except TimeoutError:
            raise IoTDAError(
                408, ErrorCode.INVALID_INPUT, "request body not received in time"
            ) from None
        return body

    def _admit(self, source: str) -> None:
        """IoTDA's rate limit: per source, on every call and harder on failed logins."""
        if not self.requests.take(source) or not self.auth_failures.allows(source):
            raise IoTDAError(
                403, ErrorCode.RATE_LIMITED, "the request rate limit is exceeded; retry later"
            )

    def _guard(
        self, handler: Callable[[Request, bytes], Awaitable[Response]], *, authed: bool = True
    ) -> Handler:
        async def endpoint(request: Request) -> Response:
            source = request.client.host if request.client else "unknown"
            try:
                self._admit(source)
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
                if exc.status == 401:  # a wrong password or signature: one guess spent
                    self.auth_failures.take(source)
                return error_response(request, exc.status, exc.error_code, exc.error_msg)
            except sqlite3.Error as exc:  # e.g. a full disk: the operator's problem, no bug
                log.error("REST %s %s: storage failed: %s", request.method, request.url.path, exc)
                log.debug("storage failure", exc_info=True)
                return error_response(
                    request, 503, ErrorCode.STORAGE_UNAVAILABLE, "storage unavailable; retry later"
                )
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
        _bool_param(request, "is_cascade_query")  # no child devices here: nothing to cascade
        marker = request.query_params.get("marker", DEFAULT_MARKER)
        if not _MARKER.fullmatch(marker):
            raise _bad("marker must be 24 hexadecimal digits", ErrorCode.MARKER_OUT_OF_RANGE)
        strings = {name: request.query_params.get(name) for name in _STRING_FILTERS}
        flt = DeviceFilter(
            **strings,
            start_time=_time_param(request, "start_time"),
            end_time=_time_param(request, "end_time"),
        )
        if (
            flt.start_time is not None
            and flt.end_time is not None
            and flt.start_time > flt.end_time
        ):
            raise _bad("start_time must be earlier than end_time", ErrorCode.START_AFTER_END)
        # record ids are SQLite integers: any marker above them all means "from the newest"
        below = min(int(marker, 16), 2**63 - 1)
        records, count = self.store.query_devices(flt, below, offset, limit)
        page = Page(count, record_marker(records[-1].record_id) if records else None)
        devices = [device_model(r, self.product_names.get(r.product_id)) for r in records]
        body_out = {"devices": [d.to_json() for d in devices], "page": page.to_json()}
        return JSONResponse(body_out)

    async def show_device(self, request: Request, body: bytes) -> Response:
        device_id = request.path_params["device_id"]
        if not is_valid_device_id(device_id):
            raise _bad_device_id()
        record = self.store.get_device(device_id)
        if record is None:
            raise IoTDAError(404, ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} not found")
        body_out = device_detail(record, self.product_names.get(record.product_id)).to_json()
        # ShowDeviceResponse's other fields: no software modules or extensions reported here
        body_out.update(modules=[], extension_info={})
        return JSONResponse(body_out)

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
            _route("/v3/auth/tokens", POST=g(self.issue_token, authed=False)),
            _route(f"{base}/devices", GET=g(self.list_devices)),
            _route(f"{base}/devices/{{device_id}}", GET=g(self.show_device)),
            _route(f"{base}/tunnels", POST=g(self.create_tunnel), GET=g(self.list_tunnels)),
            _route(
                f"{base}/tunnels/{{tunnel_id}}",
                GET=g(self.show_tunnel),
                PUT=g(self.close_tunnel),
                DELETE=g(self.delete_tunnel),
            ),
        ]


def _route(path: str, **handlers: Handler) -> Route:
    """One route per path, so a 405 names every method the path takes in `Allow`."""
    if "GET" in handlers:
        handlers["HEAD"] = handlers["GET"]

    async def by_method(request: Request) -> Response:
        return await handlers[request.method](request)

    return Route(path, by_method, methods=list(handlers))
