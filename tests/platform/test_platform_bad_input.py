"""Every bad request a user can type is a 4xx with an IoTDA error body and X-Request-Id.

The sweep a curl user would try: bad JSON, wrong media types, huge and chunked bodies,
odd query values, unknown paths, wrong methods, missing or forged credentials, and
WebSocket upgrades to paths that are not tunnels.
"""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.support.platform import running_platform
from tests.support.tunnel_ws import open_link

JSON = {"Content-Type": "application/json"}
HUGE = b'{"device_id": "' + b"a" * 200_000 + b'"}'


async def _chunks():
    for _ in range(50):
        yield b"a" * 4096


def _check_error(answer: httpx.Response, status: int | None = None) -> dict:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    if status is not None:
        assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] and body["error_msg"]
    assert body["request_id"] == answer.headers["X-Request-Id"]
    return body


async def test_authenticated_bad_input_is_4xx_with_error_body():
    async with running_platform() as p, p.client(retries=0) as client:
        base = f"{p.endpoints.rest}/v5/iot/{p.project_id}"
        cases = [
            ("POST", "/tunnels", {}, b'{"device_id": "boiler_0001"}', "IOTDA.000008"),
            ("POST", "/tunnels", {"Content-Type": "text/plain"}, b"{}", "IOTDA.000008"),
            ("POST", "/tunnels", JSON, b"{bad", "IOTDA.000008"),
            ("POST", "/tunnels", JSON, b"[" * 30_000 + b"]" * 30_000, "IOTDA.000008"),
            ("POST", "/tunnels", JSON, HUGE, "IOTDA.000008"),
            ("POST", "/tunnels", JSON, b'{"device_id": NaN}', "IOTDA.000006"),
            ("POST", "/tunnels", JSON, b'{"device_id": "' + b"d" * 129 + b'"}', "IOTDA.000006"),
            ("GET", "/devices?limit=" + "9" * 40, {}, b"", "IOTDA.000017"),
            ("GET", "/devices?marker=%00", {}, b"", "IOTDA.000018"),
            ("GET", "/devices?offset=1e3", {}, b"", "IOTDA.000006"),
            ("GET", "/devices?end_time=20261301T000000Z", {}, b"", "IOTDA.000006"),
            ("GET", "/devices/" + "d" * 5000, {}, b"", "IOTDA.000006"),
            ("GET", "/tunnels?device_id=a%20b", {}, b"", "IOTDA.000006"),
            ("GET", "/tunnels/nope", {}, b"", "IOTDA.019701"),
            ("PUT", "/tunnels/" + "t" * 3000, {}, b"", "IOTDA.019701"),
            ("DELETE", "/devices", {}, b"", "IOTDA.000006"),
            ("OPTIONS", "/tunnels", {}, b"", "IOTDA.000006"),
            ("GET", "/no/such/api", {}, b"", "IOTDA.000006"),
        ]
        for method, path, headers, body, code in cases:
            answer = await client._http.request(
                method, base + path, headers=headers, content=body, auth=client._auth
            )
            error = _check_error(answer)
            assert error["error_code"] == code, (method, path, body[:40])
            assert len(error["error_msg"]) < 200  # never an echo of a huge input
        other_project = await client._http.get(
            f"{p.endpoints.rest}/v5/iot/other-project/devices", auth=client._auth
        )
        assert _check_error(other_project, 403)["error_code"] == "IOTDA.000021"
        chunked = await client._http.post(
            f"{base}/tunnels", headers=JSON, content=_chunks(), auth=None
        )
        _check_error(chunked)
        # a charset parameter is still JSON
        answer = await client._http.post(
            f"{base}/tunnels",
            headers={"Content-Type": "application/json; charset=UTF-8"},
            content=b'{"device_id": "boiler_0001"}',
            auth=client._auth,
        )
        assert _check_error(answer, 400)["error_code"] == "IOTDA.014016"  # offline: rule


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Auth-Token": ""},
        {"X-Auth-Token": "MII-forged"},
        {"Authorization": "garbage"},
        {"Authorization": "SDK-HMAC-SHA256 Access=AK"},
        {
            "Authorization": "SDK-HMAC-SHA256 Access=AKTESTEXAMPLE0001, SignedHeaders=host, "
            "Signature=00",
            "X-Sdk-Date": "20261126T060000Z",
        },
        {
            "Authorization": "V11-HMAC-SHA256 Credential=AKTESTEXAMPLE0001/x/y/z, "
            "SignedHeaders=host, Signature=00",
            "X-Sdk-Date": "not a date",
        },
    ],
)
async def test_missing_or_forged_credentials_are_401(headers):
    async with running_platform() as p, httpx.AsyncClient() as http:
        url = f"{p.endpoints.rest}/v5/iot/{p.project_id}/devices"
        body = _check_error(await http.get(url, headers=headers), 401)
        assert body["error_code"] == "APIGW.0301"
        # a body cannot make an unauthenticated request anything but a 401
        answer = await http.post(url.replace("devices", "tunnels"), headers=headers, content=HUGE)
        assert _check_error(answer)["error_code"] in ("APIGW.0301", "IOTDA.000008")


async def test_iam_endpoint_bad_input_is_4xx():
    async with running_platform() as p, httpx.AsyncClient() as http:
        url = f"{p.endpoints.rest}/v3/auth/tokens"
        for headers, body in [
            ({}, b"{}"),
            ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"),
            (JSON, b"{bad"),
            (JSON, b'{"auth": []}'),
            (JSON, b'{"auth": {"identity": {"methods": "password"}}}'),
            (JSON, HUGE),
        ]:
            _check_error(await http.post(url, headers=headers, content=body))
        _check_error(await http.get(url), 405)


async def test_websocket_upgrade_to_an_unknown_path_is_404_with_error_body():
    async with running_platform() as p:
        for base in (p.endpoints.ws, p.endpoints.rest.replace("http", "ws", 1)):
            for path in ("/", "/v5/iot/tunnels/t/other-side", f"/v5/iot/{p.project_id}/devices"):
                with pytest.raises(InvalidStatus) as info:
                    await open_link(base + path, "token")
                response = info.value.response
                assert response.status_code == 404
                body = json.loads(response.body)
                assert body["error_code"] == "IOTDA.000006"
                assert body["request_id"] == response.headers["X-Request-Id"]
