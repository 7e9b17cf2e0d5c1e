"""The REST client against the platform: each operation and error (docs/protocol.md §2, §3)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.platform import running_platform
from tui.iotda import signing
from tui.iotda.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from tui.iotda.errors import IoTDAError
from tui.iotda.models import TENANT_TUNNEL_QUOTA, TunnelStatus
from tui.platform.config import Credential, Seed, SeedDevice
from tui.platform.store import TunnelRecord

COMPACT = re.compile(r"^\d{8}T\d{6}Z$")
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def _error(call) -> IoTDAError:
    with pytest.raises(IoTDAError) as info:
        await call
    return info.value


def _seed(n: int, edition: str = "standard") -> Seed:
    devices = tuple(
        SeedDevice(f"dev_{i:04d}", f"{i:04d}", "dev", f"secret-{i}", f"Device {i}")
        for i in range(n)
    )
    return Seed("proj", "cn-north-4", edition, (Credential("AKX", "SKX"),), (), devices)


@pytest.mark.parametrize("algorithm", [signing.STANDARD, signing.DERIVED])
async def test_every_operation_with_aksk(algorithm):
    async with running_platform() as p:
        auth = AkSkAuth(p.ak, p.sk, region=p.region, algorithm=algorithm)
        async with p.client(auth=auth) as client:
            devices = [d async for d in client.list_devices()]
            assert {d.device_id for d in devices} == set(p.device_ids)
            assert all(d.status == "INACTIVE" for d in devices)
            detail = await client.show_device("boiler_0001")
            assert detail.device.device_name == "Boiler room 1"
            assert detail.device.tag_dict() == {"site": "berlin"}
            assert COMPACT.match(detail.create_time)
            assert detail.active_time is None
            assert "secret" not in str(detail.auth_info)

            p.set_online("boiler_0001")
            detail = await client.show_device("boiler_0001")
            assert detail.device.status == "ONLINE"
            assert MILLIS.match(detail.connection_status_update_time)
            assert MILLIS.match(detail.active_time)

            created = await client.create_tunnel("boiler_0001")
            assert created.expires_in == 86_400
            assert created.tunnel_uri == (
                f"{p.endpoints.ws}/v5/iot/tunnels/{created.tunnel_id}/source-connect"
            )
            tunnels = await client.list_tunnels()
            assert [t.tunnel_id for t in tunnels] == [created.tunnel_id]
            assert await client.list_tunnels("pump_0001") == []
            shown = await client.show_tunnel(created.tunnel_id)
            assert shown.status == TunnelStatus.OPEN
            assert COMPACT.match(shown.create_time) and COMPACT.match(shown.closed_time)
            assert not shown.source_connect_state.connected

            error = await _error(client.delete_tunnel(created.tunnel_id))
            assert (error.status, error.error_code) == (400, "IOTDA.019703")
            await client.close_tunnel(created.tunnel_id)
            assert (await client.show_tunnel(created.tunnel_id)).status == TunnelStatus.CLOSED
            await client.delete_tunnel(created.tunnel_id)
            error = await _error(client.show_tunnel(created.tunnel_id))
            assert (error.status, error.error_code) == (404, "IOTDA.019701")
            error = await _error(client.close_tunnel(created.tunnel_id))
            assert error.status == 404


async def test_iam_token_login_and_bad_password():
    async with running_platform() as p:
        user = p.user
        iam = IamPasswordAuth(
            p.endpoints.rest,
            username=user.name,
            password=user.password,
            domain=user.domain,
            project_id=p.project_id,
        )
        async with p.client(auth=iam) as client:
            assert len([d async for d in client.list_devices()]) == len(p.device_ids)
        bad = IamPasswordAuth(
            p.endpoints.rest,
            username=user.name,
            password="wrong",
            domain=user.domain,
            project_id=p.project_id,
        )
        error = await _error(bad.token())
        assert error.status == 401
        async with p.client(auth=TokenAuth("not-a-token")) as client:
            error = await _error(client.show_device("boiler_0001"))
            assert (error.status, error.error_code) == (401, "APIGW.0301")


async def test_iam_token_endpoint_answers_201_with_subject_token():
    async with running_platform() as p, httpx.AsyncClient() as http:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": p.user.name,
                            "password": p.user.password,
                            "domain": {"name": p.user.domain},
                        }
                    },
                },
                "scope": {"project": {"id": p.project_id}},
            }
        }
        answer = await http.post(f"{p.endpoints.rest}/v3/auth/tokens", json=body)
        assert answer.status_code == 201
        token = answer.headers["X-Subject-Token"]
        assert answer.headers["X-Request-Id"]
        assert token not in answer.text
        # only a hash is kept
        rows = p.platform.store._db.execute("SELECT token_hash FROM iam_tokens").fetchall()
        assert token not in str(rows)


async def test_bad_signatures_are_401_apigw_0301():
    async with running_platform() as p:
        wrong_sk = AkSkAuth(p.ak, "not-the-sk", region=p.region)
        unknown_ak = AkSkAuth("AKUNKNOWN", p.sk, region=p.region)
        skewed = AkSkAuth(
            p.ak,
            p.sk,
            region=p.region,
            clock=lambda: datetime.now(UTC) - timedelta(minutes=20),
        )
        for auth in (wrong_sk, unknown_ak, skewed, None):
            async with p.client(auth=auth, retries=0) as client:
                error = await _error(client.show_device("boiler_0001"))
                assert (error.status, error.error_code) == (401, "APIGW.0301"), auth
                assert error.request_id


async def test_signed_headers_are_honoured():
    """A header the client did not sign may change; a signed one may not."""
    async with running_platform() as p, httpx.AsyncClient() as http:
        host = p.endpoints.rest.removeprefix("http://")
        path = f"/v5/iot/{p.project_id}/devices"
        headers = {"Content-Type": "application/json", "X-Project-Id": p.project_id}
        added = signing.sign_headers(
            "GET", host, path, [], headers, b"", ak=p.ak, sk=p.sk, algorithm=signing.STANDARD
        )
        signed = {**headers, **added}
        url = f"{p.endpoints.rest}{path}"
        assert (await http.get(url, headers={**signed, "X-Unsigned": "any"})).status_code == 200
        tampered = {**signed, "X-Project-Id": "other"}
        answer = await http.get(url, headers=tampered)
        assert answer.status_code == 401
        assert answer.json()["error_code"] == "APIGW.0301"


async def test_device_paging_with_limit_marker_offset_and_filters():
    async with running_platform(_seed(23)) as p, p.client() as client:
        pages = [page async for page in client.list_device_pages(limit=10)]
        assert [len(page.devices) for page in pages] == [10, 10, 3]
        ids = [d.device_id for page in pages for d in page.devices]
        assert ids == [f"dev_{i:04d}" for i in reversed(range(23))]  # newest first
        assert all(page.page.count == 23 for page in pages)
        first = pages[0]
        assert re.match(r"^[0-9a-f]{24}$", first.page.marker)
        async for page in client.list_device_pages(limit=5, offset=3):
            assert page.devices[0].device_id == "dev_0019"
            break
        found = [d async for d in client.list_devices(node_id="0007")]
        assert [d.device_id for d in found] == ["dev_0007"]
        assert [d async for d in client.list_devices(product_id="nope")] == []
        now = datetime.now(UTC)
        window = {"start_time": (now - timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")}
        assert len([d async for d in client.list_devices(**window)]) == 23


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "IOTDA.000017"),
        ("limit=51", "IOTDA.000017"),
        ("limit=ten", "IOTDA.000017"),
        ("marker=xyz", "IOTDA.000018"),
        ("marker=" + "g" * 24, "IOTDA.000018"),
        ("offset=501", "IOTDA.000006"),
        ("offset=-1", "IOTDA.000006"),
        ("start_time=yesterday", "IOTDA.000006"),
    ],
)
async def test_bad_device_queries_are_400(query, code):
    async with running_platform() as p, p.client(retries=0) as client:
        # the client has no raw-query call: go through its transport with its auth
        answer = await client._http.get(
            f"{p.endpoints.rest}/v5/iot/{p.project_id}/devices?{query}", auth=client._auth
        )
        assert answer.status_code == 400
        assert answer.json()["error_code"] == code
        assert answer.headers["X-Request-Id"]


async def test_create_tunnel_rules():
    async with running_platform() as p, p.client(retries=0) as client:
        error = await _error(client.create_tunnel("no_such_device"))
        assert (error.status, error.error_code) == (404, "IOTDA.014000")
        error = await _error(client.create_tunnel("boiler_0001"))
        assert (error.status, error.error_code) == (400, "IOTDA.014016")
        error = await _error(client.create_tunnel("bad id!"))
        assert (error.status, error.error_code) == (400, "IOTDA.000006")
        p.set_online("boiler_0001")
        created = await client.create_tunnel("boiler_0001")
        error = await _error(client.create_tunnel("boiler_0001"))
        assert (error.status, error.error_code) == (400, "IOTDA.019702")
        await client.close_tunnel(created.tunnel_id)
        error = await _error(client.create_tunnel("boiler_0001"))  # closed is still a tunnel
        assert error.error_code == "IOTDA.019702"
        p.set_online("boiler_0001", False)
        await client.delete_tunnel(created.tunnel_id)
        error = await _error(client.create_tunnel("boiler_0001"))
        assert error.error_code == "IOTDA.014016"


async def test_bad_bodies_and_unknown_paths_get_iotda_errors(caplog):
    caplog.set_level("DEBUG", logger="tui.platform.rest")
    async with running_platform() as p, p.client(retries=0) as client:
        base = f"{p.endpoints.rest}/v5/iot/{p.project_id}"
        cases = [
            ("POST", f"{base}/tunnels", b"{not json"),
            ("POST", f"{base}/tunnels", b"[1, 2]"),
            ("POST", f"{base}/tunnels", b'{"device_id": 7}'),
            ("POST", f"{base}/tunnels", b"\xff\xfe"),
            ("GET", f"{base}/nothing-here", b""),
            ("PATCH", f"{base}/tunnels", b""),
            ("GET", f"{p.endpoints.rest}/v5/iot/other-project/devices", b""),
        ]
        for method, url, body in cases:
            answer = await client._http.request(method, url, content=body, auth=client._auth)
            assert 400 <= answer.status_code < 500, (method, url, body)
            assert answer.json()["error_code"], answer.text
            assert answer.headers["X-Request-Id"]
            # and the platform's log says what it refused, and why, under the same id
            logged = [r.getMessage() for r in caplog.records if r.name == "tui.platform.rest"]
            line = f"answered {answer.status_code} {answer.json()['error_code']}"
            assert any(line in m and answer.headers["X-Request-Id"] in m for m in logged), logged[
                -3:
            ]


async def test_basic_edition_refuses_tunnels():
    async with running_platform(_seed(2, edition="basic")) as p, p.client(retries=0) as client:
        p.set_online("dev_0000")
        error = await _error(client.create_tunnel("dev_0000"))
        assert (error.status, error.error_code) == (403, "IOTDA.019707")
        error = await _error(client.list_tunnels())
        assert error.status == 403
        assert len([d async for d in client.list_devices()]) == 2  # devices still work


async def test_tenant_quota_of_1000_tunnels():
    async with running_platform(_seed(2)) as p, p.client(retries=0) as client:
        store = p.platform.store
        now = time.time()
        for i in range(TENANT_TUNNEL_QUOTA):  # fill the tenant directly: 1000 REST calls is slow
            store.add_tunnel(
                TunnelRecord(
                    f"t-{i}",
                    f"other_{i}",
                    "CLOSED",
                    now,
                    now,
                    now + 60,
                    "DISCONNECTED",
                    now,
                    "DISCONNECTED",
                    now,
                    "x",
                    "y",
                )
            )
        p.set_online("dev_0000")
        error = await _error(client.create_tunnel("dev_0000"))
        assert (error.status, error.error_code) == (403, "IOTDA.019706")
        assert len(await client.list_tunnels()) == 100  # at most 100 listed
        await client.delete_tunnel("t-0")
        await client.create_tunnel("dev_0000")


async def test_openapi_document_is_served():
    async with running_platform() as p, httpx.AsyncClient() as http:
        answer = await http.get(f"{p.endpoints.rest}/openapi.json")
        assert answer.status_code == 200
        doc = answer.json()
        assert doc["openapi"].startswith("3.")
        assert "/v5/iot/{project_id}/tunnels/{tunnel_id}" in doc["paths"]
