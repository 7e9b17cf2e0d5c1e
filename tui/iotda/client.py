"""IoTDAClient: the REST API of docs/protocol.md §2 on httpx.AsyncClient.

Idempotent calls retry on 5xx and connection errors with capped exponential backoff.
`create_tunnel` retries only when the request provably never left (connect failures):
a blind retry could create a second tunnel.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx

from tui.iotda.auth import error_from_response
from tui.iotda.errors import ErrorCode, IoTDAError, ProtocolError
from tui.iotda.models import (
    DEFAULT_MARKER,
    DEVICE_PAGE_LIMIT_MAX,
    Device,
    DeviceDetail,
    DevicePage,
    Tunnel,
    TunnelCreated,
)
from tui.iotda.paths import rest_base

log = logging.getLogger(__name__)

_DEVICE_FILTERS = (
    "product_id",
    "node_id",
    "device_name",
    "gateway_id",
    "app_id",
    "start_time",
    "end_time",
)
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# the local platform says so on every REST answer (docs/protocol.md §5.1): extensions are safe
PLATFORM_HEADER = "X-Iotunnel-Platform"
T = TypeVar("T")


def _decoded(parse: Callable[[Any], T], body: Any) -> T:
    """A record from a 2xx body; an answer off the API's shapes is an IoTDAError too."""
    try:
        return parse(body)
    except ProtocolError as exc:
        raise IoTDAError(
            0, ErrorCode.CLIENT_BAD_RESPONSE, f"unexpected answer from the platform: {exc}"
        ) from None


class IoTDAClient:
    def __init__(
        self,
        endpoint: str,
        project_id: str,
        auth: httpx.Auth | None,
        *,
        instance_id: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: tuple[float, float] = (0.2, 2.0),
        verify: bool | str = True,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project_id = project_id
        self.instance_id = instance_id
        self._retries = retries
        self._backoff = backoff
        headers = {"Content-Type": "application/json", "X-Project-Id": project_id}
        if instance_id:
            headers["Instance-Id"] = instance_id
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, verify=verify)
        self._auth = auth
        self._headers = headers
        self._platform_is_iotunnel: bool | None = None

    @property
    def platform_is_iotunnel(self) -> bool | None:
        """Whether the last REST answer came from iotunnel's local platform; None before one."""
        return self._platform_is_iotunnel

    async def __aenter__(self) -> IoTDAClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # --- devices ------------------------------------------------------------------------

    async def list_device_pages(
        self,
        *,
        limit: int = DEVICE_PAGE_LIMIT_MAX,
        marker: str | None = None,
        offset: int | None = None,
        **filters: str | None,
    ) -> AsyncIterator[DevicePage]:
        """Every page of devices, newest first, following `page.marker`."""
        unknown = set(filters) - set(_DEVICE_FILTERS)
        if unknown:
            raise TypeError(f"unknown device filter(s): {', '.join(sorted(unknown))}")
        base = {key: value for key, value in filters.items() if value is not None}
        marker = marker or DEFAULT_MARKER
        while True:
            params: dict[str, Any] = {**base, "limit": limit, "marker": marker}
            if offset:
                params["offset"] = offset
            page = _decoded(DevicePage.from_json, await self._call("GET", "devices", params=params))
            yield page
            next_marker = page.page.marker
            if len(page.devices) < limit or not next_marker or next_marker == marker:
                return
            marker, offset = next_marker, None

    async def list_devices(self, **filters: Any) -> AsyncIterator[Device]:
        async for page in self.list_device_pages(**filters):
            for device in page.devices:
                yield device

    async def show_device(self, device_id: str) -> DeviceDetail:
        return _decoded(DeviceDetail.from_json, await self._call("GET", f"devices/{device_id}"))

    # --- tunnels ------------------------------------------------------------------------

    async def create_tunnel(self, device_id: str) -> TunnelCreated:
        body = await self._call("POST", "tunnels", json={"device_id": device_id}, idempotent=False)
        return _decoded(TunnelCreated.from_json, body)

    async def list_tunnels(self, device_id: str | None = None) -> list[Tunnel]:
        params = {"device_id": device_id} if device_id else None
        body = await self._call("GET", "tunnels", params=params)
        tunnels = body.get("tunnels") if isinstance(body, dict) else None
        if not isinstance(tunnels, list):
            tunnels = []
        return [_decoded(Tunnel.from_json, t) for t in tunnels]

    async def show_tunnel(self, tunnel_id: str) -> Tunnel:
        return _decoded(Tunnel.from_json, await self._call("GET", f"tunnels/{tunnel_id}"))

    async def close_tunnel(self, tunnel_id: str) -> None:
        await self._call("PUT", f"tunnels/{tunnel_id}")

    async def delete_tunnel(self, tunnel_id: str) -> None:
        await self._call("DELETE", f"tunnels/{tunnel_id}")

    # --- transport ----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.endpoint}{rest_base(self.project_id)}/{path}"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        url = self._url(path)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers=self._headers, auth=self._auth
                )
            except httpx.HTTPError as exc:
                retryable = idempotent or isinstance(exc, _NEVER_SENT)
                if retryable and attempt < self._retries:
                    attempt += 1
                    await self._pause(attempt, f"{method} {path}: {type(exc).__name__}")
                    continue
                raise IoTDAError(
                    0,
                    ErrorCode.CLIENT_NETWORK,
                    f"cannot reach {httpx.URL(url).netloc.decode()}: {exc}",
                ) from None
            self._platform_is_iotunnel = response.headers.get(PLATFORM_HEADER) == "1"
            if response.status_code >= 500 and idempotent and attempt < self._retries:
                attempt += 1
                await self._pause(attempt, f"{method} {path}: HTTP {response.status_code}")
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise IoTDAError(
                    response.status_code, ErrorCode.CLIENT_BAD_RESPONSE, "response is not JSON"
                ) from None

    async def _pause(self, attempt: int, why: str) -> None:
        first, cap = self._backoff
        delay = min(cap, first * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        log.info("retrying %s in %.2fs (attempt %d/%d)", why, delay, attempt, self._retries)
        await asyncio.sleep(delay)
