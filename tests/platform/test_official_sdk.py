"""Conformance: Huawei's official IoTDA SDK (huaweicloudsdkiotda 3.1.219) against the local
platform. Issue 2: the platform must behave closely enough that this SDK cannot tell.

The SDK is synchronous (requests): every call goes through `asyncio.to_thread` so the
platform, which runs on this test's event loop, keeps serving. The project id is always
given, so the SDK never asks an IAM endpoint for it and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkiotda.v5 import (
    AddTunnelDto,
    AddTunnelRequest,
    CloseDeviceTunnelRequest,
    DeleteDeviceTunnelRequest,
    IoTDAClient,
    ListDevicesRequest,
    ListDeviceTunnelsRequest,
    ShowDeviceRequest,
    ShowDeviceTunnelRequest,
)

from tests.support.device import mqtt_device
from tests.support.platform import RunningPlatform, running_platform
from tests.support.tls import make_certificate
from tests.support.tunnel_ws import open_link
from tui.iotda.errors import ErrorCode, IoTDAError

DEVICE = "boiler_0001"
OFFLINE_DEVICE = "pump_0002"
# The local platform does not check Instance-Id; sending it proves the SDK's signed header
# (it is part of SignedHeaders) is accepted.
INSTANCE_ID = "5fd2b9c8-0000-4000-8000-00000000a1b2"
PAGE_LIMIT = 2

# The derived (V11-HMAC-SHA256) signature is what the SDK picks by default for a host that is
# not a regional *.myhuaweicloud.com host, as 127.0.0.1 is; the standard one needs a predicate
# that always says "not derived".
SIGNING: dict[str, Callable[[Any], bool]] = {
    "standard": lambda request: False,
    "derived": BasicCredentials.get_default_derived_predicate(),
}
AUTH_PREFIX = {"standard": "SDK-HMAC-SHA256 ", "derived": "V11-HMAC-SHA256 "}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests honours *_PROXY variables: loopback traffic must never go through a proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@dataclass
class SentRequests:
    """Headers of every request the SDK sent (after signing), to check what it put on the wire."""

    headers: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> None:
        self.headers.append(dict(kwargs["request"].header_params))


@contextlib.asynccontextmanager
async def sdk_client(
    p: RunningPlatform,
    signing: str,
    *,
    sk: str | None = None,
    sent: SentRequests | None = None,
    ca_cert: Path | None = None,
) -> AsyncIterator[IoTDAClient]:
    """The official SDK client on the platform's REST endpoint, with the seed's AK/SK.

    Its keep-alive connections are closed on exit, so the platform can stop at once.
    """
    credentials = BasicCredentials(p.ak, sk or p.sk, p.project_id).with_derived_predicate(
        SIGNING[signing]
    )
    # generous timeouts: the machine is shared and noisy
    config = HttpConfig(timeout=(15, 60), ssl_ca_cert=str(ca_cert) if ca_cert else None)
    handler = HttpHandler()
    if sent is not None:
        handler.add_request_handler(sent)
    client = (
        IoTDAClient.new_builder()
        .with_credentials(credentials)
        # the region gives the derived signature its scope ({day}/{region}/iotdm)
        .with_region(Region(p.region, p.endpoints.rest))
        .with_http_config(config)
        .with_http_handler(handler)
        .build()
    )
    try:
        yield client
    finally:
        client.get_http_client().close()


async def call(method: Callable[[Any], Any], request: Any) -> Any:
    return await asyncio.to_thread(method, request)


async def sdk_error(method: Callable[[Any], Any], request: Any) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as caught:
        await call(method, request)
    return caught.value


async def sdk_device_ids(sdk: IoTDAClient) -> tuple[list[str], int]:
    """Every device id, page by page (limit + marker); also how many pages had devices."""
    ids: list[str] = []
    pages = 0
    marker = None
    while True:
        request = ListDevicesRequest(instance_id=INSTANCE_ID, limit=PAGE_LIMIT, marker=marker)
        page = await call(sdk.list_devices, request)
        assert page.status_code == 200
        if not page.devices:
            return ids, pages
        pages += 1
        ids += [device.device_id for device in page.devices]
        assert len(page.devices) <= PAGE_LIMIT
        if len(page.devices) < PAGE_LIMIT:
            return ids, pages
        marker = page.page.marker


@pytest.mark.parametrize("signing", ["standard", "derived"])
async def test_sdk_lists_and_shows_devices(signing: str) -> None:
    sent = SentRequests()
    async with (
        running_platform() as p,
        mqtt_device(p, DEVICE),
        sdk_client(p, signing, sent=sent) as sdk,
    ):
        await p.wait_device(DEVICE, "ONLINE")

        ids, pages = await sdk_device_ids(sdk)
        assert sorted(ids) == sorted(p.device_ids)
        assert pages >= 3  # 5 seed devices, 2 a page
        async with p.client() as ours:
            assert ids == [device.device_id async for device in ours.list_devices()]

        first = await call(sdk.list_devices, ListDevicesRequest(limit=PAGE_LIMIT))
        assert first.page.count == len(p.device_ids)
        assert len(first.page.marker) == 24

        shown = await call(sdk.show_device, ShowDeviceRequest(INSTANCE_ID, DEVICE))
        assert shown.status_code == 200
        assert (shown.device_id, shown.node_id, shown.product_id) == (DEVICE, "0001", "boiler")
        assert shown.device_name == "Boiler room 1"
        assert shown.status == "ONLINE"
        assert [(tag.tag_key, tag.tag_value) for tag in shown.tags] == [("site", "berlin")]
        assert shown.create_time and shown.connection_status_update_time

        for headers in sent.headers:
            assert headers["Authorization"].startswith(AUTH_PREFIX[signing])
            assert headers["X-Project-Id"] == p.project_id
        if signing == "derived":
            scope = f"Credential={p.ak}/"
            assert all(scope in h["Authorization"] for h in sent.headers)
            assert all(f"/{p.region}/iotdm," in h["Authorization"] for h in sent.headers)
        assert any(h.get("Instance-Id") == INSTANCE_ID for h in sent.headers)


@pytest.mark.parametrize("signing", ["standard", "derived"])
async def test_sdk_tunnel_lifecycle(signing: str) -> None:
    async with (
        running_platform() as p,
        mqtt_device(p, DEVICE) as device,
        sdk_client(p, signing) as sdk,
    ):
        await p.wait_device(DEVICE, "ONLINE")

        created = await call(
            sdk.add_tunnel,
            AddTunnelRequest(instance_id=INSTANCE_ID, body=AddTunnelDto(device_id=DEVICE)),
        )
        assert created.status_code == 201
        tunnel_id = created.tunnel_id
        assert created.expires_in > 0 and created.tunnel_access_token
        assert created.tunnel_uri.endswith(f"/v5/iot/tunnels/{tunnel_id}/source-connect")
        notice = await device.next_notify()
        assert notice.tunnel_uri.endswith(f"/v5/iot/tunnels/{tunnel_id}/device-connect")

        # the token the SDK handed back opens the source side of the tunnel
        link = await open_link(created.tunnel_uri, created.tunnel_access_token)
        try:
            await p.wait_tunnel(tunnel_id, source="CONNECTED")
            shown = await call(
                sdk.show_device_tunnel, ShowDeviceTunnelRequest(INSTANCE_ID, tunnel_id)
            )
            assert (shown.tunnel_id, shown.device_id, shown.status) == (tunnel_id, DEVICE, "OPEN")
            assert shown.source_connect_state.status == "CONNECTED"
            assert shown.device_connect_state.status == "DISCONNECTED"
            assert shown.create_time and shown.source_connect_state.last_update_time
        finally:
            await link.close()

        listed = await call(
            sdk.list_device_tunnels,
            ListDeviceTunnelsRequest(instance_id=INSTANCE_ID, device_id=DEVICE),
        )
        assert [(t.tunnel_id, t.device_id, t.status) for t in listed.tunnels] == [
            (tunnel_id, DEVICE, "OPEN")
        ]
        everything = await call(sdk.list_device_tunnels, ListDeviceTunnelsRequest())
        assert [t.tunnel_id for t in everything.tunnels] == [tunnel_id]

        closed = await call(
            sdk.close_device_tunnel, CloseDeviceTunnelRequest(INSTANCE_ID, tunnel_id)
        )
        assert closed.status_code == 204
        shown = await call(sdk.show_device_tunnel, ShowDeviceTunnelRequest(tunnel_id=tunnel_id))
        assert shown.status == "CLOSED"

        deleted = await call(
            sdk.delete_device_tunnel, DeleteDeviceTunnelRequest(INSTANCE_ID, tunnel_id)
        )
        assert deleted.status_code == 204
        gone = await sdk_error(sdk.show_device_tunnel, ShowDeviceTunnelRequest(tunnel_id=tunnel_id))
        assert (gone.status_code, gone.error_code) == (404, ErrorCode.TUNNEL_NOT_FOUND)
        after = await call(sdk.list_device_tunnels, ListDeviceTunnelsRequest(device_id=DEVICE))
        assert after.tunnels == []


@pytest.mark.parametrize("signing", ["standard", "derived"])
async def test_sdk_sees_platform_errors(signing: str) -> None:
    wrong_sk = "SKWRONGSECRET-not-the-seed-0001"
    async with (
        running_platform() as p,
        mqtt_device(p, DEVICE),
        sdk_client(p, signing) as sdk,
        sdk_client(p, signing, sk=wrong_sk) as impostor,
    ):
        await p.wait_device(DEVICE, "ONLINE")

        missing = await sdk_error(sdk.show_device, ShowDeviceRequest(device_id="nobody_0000"))
        assert (missing.status_code, missing.error_code) == (404, ErrorCode.DEVICE_NOT_FOUND)
        assert "nobody_0000" in missing.error_msg
        assert missing.request_id  # from the X-Request-Id header
        async with p.client() as ours:
            with pytest.raises(IoTDAError) as seen_by_ours:
                await ours.show_device("nobody_0000")
        assert missing.error_msg == seen_by_ours.value.error_msg

        offline = await sdk_error(
            sdk.add_tunnel, AddTunnelRequest(body=AddTunnelDto(device_id=OFFLINE_DEVICE))
        )
        assert (offline.status_code, offline.error_code) == (400, ErrorCode.DEVICE_NOT_ONLINE)

        bad_limit = await sdk_error(sdk.list_devices, ListDevicesRequest(limit=51))
        assert (bad_limit.status_code, bad_limit.error_code) == (
            400,
            ErrorCode.LIMIT_OUT_OF_RANGE,
        )

        created = await call(sdk.add_tunnel, AddTunnelRequest(body=AddTunnelDto(device_id=DEVICE)))
        twice = await sdk_error(sdk.add_tunnel, AddTunnelRequest(body=AddTunnelDto(DEVICE)))
        assert (twice.status_code, twice.error_code) == (400, ErrorCode.TUNNEL_EXISTS)
        early = await sdk_error(
            sdk.delete_device_tunnel, DeleteDeviceTunnelRequest(tunnel_id=created.tunnel_id)
        )
        assert (early.status_code, early.error_code) == (400, ErrorCode.TUNNEL_NOT_CLOSED)
        async with p.client() as ours:
            with pytest.raises(IoTDAError) as seen_by_ours:
                await ours.delete_tunnel(created.tunnel_id)
        assert early.error_msg == seen_by_ours.value.error_msg

        refused = await sdk_error(impostor.list_devices, ListDevicesRequest())
        assert (refused.status_code, refused.error_code) == (401, ErrorCode.APIGW_BAD_SIGNATURE)
        assert refused.request_id
        for secret in (wrong_sk, p.sk):
            assert secret not in refused.error_msg
        not_closed = await sdk_error(
            impostor.close_device_tunnel, CloseDeviceTunnelRequest(tunnel_id=created.tunnel_id)
        )
        assert (not_closed.status_code, not_closed.error_code) == (
            401,
            ErrorCode.APIGW_BAD_SIGNATURE,
        )
        # the refused close changed nothing: the tunnel is still OPEN
        still = await call(
            sdk.show_device_tunnel, ShowDeviceTunnelRequest(tunnel_id=created.tunnel_id)
        )
        assert still.status == "OPEN"


async def test_sdk_over_https_trusting_the_certificate(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    # the SDK verifies the platform's certificate against this CA file (no verify=False)
    async with (
        running_platform(tls=(cert, key)) as p,
        sdk_client(p, "derived", ca_cert=cert) as sdk,
    ):
        assert p.endpoints.rest.startswith("https://")
        ids, _ = await sdk_device_ids(sdk)
        assert sorted(ids) == sorted(p.device_ids)
        shown = await call(sdk.show_device, ShowDeviceRequest(device_id=DEVICE))
        assert (shown.device_id, shown.status) == (DEVICE, "INACTIVE")


# the SDK's method for each operation of the platform's OpenAPI document: the same names
SDK_OPERATIONS = {
    "ListDevices": "list_devices",
    "ShowDevice": "show_device",
    "AddTunnel": "add_tunnel",
    "ListDeviceTunnels": "list_device_tunnels",
    "ShowDeviceTunnel": "show_device_tunnel",
    "CloseDeviceTunnel": "close_device_tunnel",
    "DeleteDeviceTunnel": "delete_device_tunnel",
}


async def test_sdk_fidelity_fields_and_operation_names() -> None:
    """Issue 10 §4: what the SDK's models say a real IoTDA answers, the platform answers."""
    from huaweicloudsdkiotda.v5 import ShowDeviceResponse

    from tests.support.platform import SEED_FILE
    from tui.platform.answers import product_name_of
    from tui.platform.config import load_seed, parse_seed

    base = load_seed(SEED_FILE)
    named = parse_seed(
        {
            "project_id": base.project_id,
            "region": base.region,
            "credentials": [{"ak": base.credentials[0].ak, "sk": base.credentials[0].sk}],
            "devices": [
                {
                    "node_id": "0001",
                    "product_id": "boiler",
                    "product_name": "Boiler Controller X2",
                    "secret": "s-1",
                },
                {"node_id": "0002", "product_id": "smart_pump", "secret": "s-2"},
            ],
        }
    )
    async with running_platform(named) as p, sdk_client(p, "derived") as sdk:
        listed = await call(
            sdk.list_devices, ListDevicesRequest(instance_id=INSTANCE_ID, is_cascade_query=False)
        )
        by_id = {device.device_id: device for device in listed.devices}
        # a directly connected device is a GATEWAY whose gateway_id is its own id
        for device in listed.devices:
            assert (device.node_type, device.gateway_id) == ("GATEWAY", device.device_id)
        assert by_id["boiler_0001"].product_name == "Boiler Controller X2"
        assert by_id["smart_pump_0002"].product_name == product_name_of("smart_pump")
        assert product_name_of("smart_pump") == "Smart Pump"
        by_gateway = await call(sdk.list_devices, ListDevicesRequest(gateway_id="boiler_0001"))
        assert [d.device_id for d in by_gateway.devices] == ["boiler_0001"]
        since = await call(sdk.list_devices, ListDevicesRequest(start_time="20000101T000000Z"))
        assert len(since.devices) == 2

        shown = await call(sdk.show_device, ShowDeviceRequest(INSTANCE_ID, "boiler_0001"))
        body = shown.to_json_object()  # the JSON the platform sent, as the SDK read it
        for name in ShowDeviceResponse.openapi_types:
            assert name in body, name
        assert shown.modules == [] and shown.extension_info == {}
        assert (shown.node_type, shown.gateway_id) == ("GATEWAY", "boiler_0001")

        async with httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
            document = (await raw.get("/openapi.json")).json()
        operations = {
            op["operationId"]: op
            for path in document["paths"].values()
            for op in path.values()
            if op["operationId"] != "KeystoneCreateUserTokenByPassword"
        }
        assert set(operations) == set(SDK_OPERATIONS)
        for operation_id, method in SDK_OPERATIONS.items():
            assert callable(getattr(sdk, method)), operation_id
            names = {param["name"] for param in operations[operation_id]["parameters"]}
            assert "Instance-Id" in names, operation_id
        device_query = {param["name"] for param in operations["ListDevices"]["parameters"]}
        sdk_query = set(ListDevicesRequest.openapi_types) - {"instance_id"}
        assert sdk_query <= device_query


async def test_sdk_sees_the_edition_refusal_code() -> None:
    from tests.support.platform import SEED_FILE
    from tui.platform.config import load_seed

    basic = dataclasses.replace(load_seed(SEED_FILE), edition="basic")
    async with running_platform(basic) as p, sdk_client(p, "standard") as sdk:
        refused = await sdk_error(sdk.list_device_tunnels, ListDeviceTunnelsRequest())
        assert (refused.status_code, refused.error_code) == (403, "IOTDA.019707")
