"""IoTDAClient behaviour the happy path does not show: retries, transport failures, error
fields, IAM token renewal, TokenAuth and the Instance-Id header.

The platform tests (tests/platform/test_platform_rest.py) cover every operation; here the
client's own rules are pinned, against the real platform where it can show them and a
scripted HTTP server (tests/support/http_stub.py) where only a broken cloud would.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.http_stub import DROP, Answer, http_stub
from tests.support.platform import running_platform
from tui.iotda.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.errors import ErrorCode, IoTDAError

FAST = {"backoff": (0.001, 0.002)}  # backoff pauses stay tiny: the count of tries matters
TUNNEL = {
    "tunnel_id": "t-1",
    "device_id": "dev_1",
    "create_time": "20261126T045300Z",
    "closed_time": "20261126T045300Z",
    "status": "OPEN",
}
CREATED = {
    "tunnel_id": "t-1",
    "tunnel_access_token": "tok",
    "expires_in": 60,
    "tunnel_uri": "ws://127.0.0.1:1/v5/iot/tunnels/t-1/source-connect",
}
BUSY = Answer(503, {"error_code": "IOTDA.000001", "error_msg": "busy"}, {"X-Request-Id": "r-503"})


async def _error(call) -> IoTDAError:
    with pytest.raises(IoTDAError) as info:
        await call
    return info.value


def _free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        (lambda c: c.show_tunnel("t-1"), Answer(200, TUNNEL)),
        (lambda c: c.list_tunnels(), Answer(200, {"tunnels": [TUNNEL]})),
        (lambda c: c.close_tunnel("t-1"), Answer(204)),
        (lambda c: c.delete_tunnel("t-1"), Answer(204)),
    ],
)
async def test_idempotent_calls_retry_on_5xx_then_succeed(call, answer):
    async with http_stub([BUSY, BUSY, answer]) as stub:
        async with IoTDAClient(stub.url, "proj", None, retries=3, **FAST) as client:
            await call(client)
        assert len(stub.requests) == 3


async def test_idempotent_retries_are_capped_and_the_last_error_is_raised():
    async with http_stub([BUSY]) as stub:
        async with IoTDAClient(stub.url, "proj", None, retries=2, **FAST) as client:
            error = await _error(client.show_device("dev_1"))
        assert len(stub.requests) == 3  # the first try and two retries
        assert (error.status, error.error_code, error.error_msg) == (503, "IOTDA.000001", "busy")
        assert error.request_id == "r-503"


async def test_create_tunnel_never_retries_a_5xx_or_a_dropped_request():
    for first in (BUSY, DROP):
        async with http_stub([first, Answer(201, CREATED)]) as stub:
            async with IoTDAClient(stub.url, "proj", None, retries=3, **FAST) as client:
                error = await _error(client.create_tunnel("dev_1"))
            assert len(stub.requests) == 1, first  # a retry could make a second tunnel
            assert error.status == (503 if first is BUSY else 0)


async def test_a_dropped_idempotent_request_is_retried():
    async with http_stub([DROP, Answer(200, {"tunnels": []})]) as stub:
        async with IoTDAClient(stub.url, "proj", None, retries=3, **FAST) as client:
            assert await client.list_tunnels() == []
        assert len(stub.requests) == 2


async def test_unreachable_platform_is_a_network_error_after_the_retries():
    url = f"http://127.0.0.1:{_free_port()}"
    async with IoTDAClient(url, "proj", None, retries=2, **FAST) as client:
        for call in (client.list_tunnels(), client.create_tunnel("dev_1")):
            error = await _error(call)
            assert (error.status, error.error_code) == (0, ErrorCode.CLIENT_NETWORK)
            assert "127.0.0.1" in error.error_msg


async def test_non_json_answers_become_iotda_errors():
    proxy_page = Answer(502, b"<html>Bad Gateway</html>")
    async with (
        http_stub([proxy_page, Answer(200, b"not json")]) as stub,
        IoTDAClient(stub.url, "proj", None, retries=0) as client,
    ):
        error = await _error(client.show_tunnel("t-1"))
        assert (error.status, error.error_code) == (502, "HTTP.502")
        assert error.request_id is None
        error = await _error(client.show_tunnel("t-1"))
        assert (error.status, error.error_code) == (200, "CLIENT.BAD_RESPONSE")


async def test_answers_off_the_api_shapes_become_iotda_errors():
    answers = [
        Answer(200, {"devices": [{"device_id": 5}], "page": {"count": 1}}),
        Answer(201, {"tunnel_id": "t"}),
        Answer(200, {"tunnels": [{"tunnel_id": "t"}]}),
    ]
    async with (
        http_stub(answers) as stub,
        IoTDAClient(stub.url, "proj", None, retries=0) as client,
    ):
        for call in (
            _first_device(client),
            client.create_tunnel("dev_1"),
            client.list_tunnels(),
        ):
            error = await _error(call)
            assert error.error_code == ErrorCode.CLIENT_BAD_RESPONSE
            assert "unexpected answer" in error.error_msg


async def _first_device(client: IoTDAClient):
    async for device in client.list_devices():
        return device


async def test_instance_id_and_project_headers_are_sent_on_every_call():
    answers = [Answer(200, {"tunnels": []}), Answer(201, CREATED), Answer(204)]
    async with http_stub(answers) as stub:
        async with IoTDAClient(stub.url, "proj", None, instance_id="inst-42") as client:
            await client.list_tunnels("dev_1")
            await client.create_tunnel("dev_1")
            await client.close_tunnel("t-1")
        assert [r.path for r in stub.requests] == [
            "/v5/iot/proj/tunnels?device_id=dev_1",
            "/v5/iot/proj/tunnels",
            "/v5/iot/proj/tunnels/t-1",
        ]
        for request in stub.requests:
            assert request.headers["instance-id"] == "inst-42"
            assert request.headers["x-project-id"] == "proj"
            assert request.headers["content-type"] == "application/json"
        assert stub.requests[1].body == b'{"device_id":"dev_1"}'
    async with http_stub([Answer(204)]) as stub:
        async with IoTDAClient(stub.url, "proj", None) as client:
            await client.close_tunnel("t-1")
        assert "instance-id" not in stub.requests[0].headers


async def test_instance_id_is_signed_and_accepted_by_the_platform():
    async with running_platform() as p, p.client(instance_id="inst-42") as client:
        assert len([d async for d in client.list_devices()]) == len(p.device_ids)


async def test_error_fields_come_from_the_platform_answer():
    async with running_platform() as p, p.client(retries=0) as client:
        answer = await client._http.get(
            f"{p.endpoints.rest}/v5/iot/{p.project_id}/devices/nobody", auth=client._auth
        )
        error = await _error(client.show_device("nobody"))
        assert error.status == 404
        assert error.error_code == answer.json()["error_code"]
        assert "nobody" in error.error_msg
        assert error.request_id and error.request_id != answer.headers["X-Request-Id"]
        assert "HTTP 404" in str(error) and error.error_msg in str(error)


async def test_device_filters_reach_the_platform():
    async with running_platform() as p, p.client() as client:
        named = [d.device_id async for d in client.list_devices(device_name="Pump A")]
        assert named == ["pump_0001"]
        assert [d async for d in client.list_devices(gateway_id="gw")] == []
        later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
        assert len([d async for d in client.list_devices(end_time=later)]) == len(p.device_ids)
        assert [d async for d in client.list_devices(start_time=later)] == []
        one_page = [page async for page in client.list_device_pages(limit=2)]
        assert [len(page.devices) for page in one_page] == [2, 2, 1]
        with pytest.raises(TypeError):
            [d async for d in client.list_devices(colour="red")]


def _issued_tokens(p) -> int:
    return p.platform.store._db.execute("SELECT COUNT(*) FROM iam_tokens").fetchone()[0]


def _iam(p, clock) -> IamPasswordAuth:
    return IamPasswordAuth(
        p.endpoints.rest,
        username=p.user.name,
        password=p.user.password,
        domain=p.user.domain,
        project_id=p.project_id,
        clock=clock,
    )


async def test_iam_token_is_reused_then_renewed_before_its_24h_end():
    now = [datetime.now(UTC)]
    async with running_platform() as p:
        iam = _iam(p, lambda: now[0])
        async with p.client(auth=iam) as client:
            await client.show_device("boiler_0001")
            first = await iam.token()
            now[0] += timedelta(hours=22)  # well inside the token's life: reused
            await client.show_device("boiler_0001")
            assert await iam.token() == first
            assert _issued_tokens(p) == 1
            now[0] += timedelta(hours=1, minutes=30)  # within the last hour: renewed
            await client.show_device("boiler_0001")
            assert await iam.token() != first
            assert _issued_tokens(p) == 2


async def test_iam_token_revoked_early_is_fetched_again_once():
    async with running_platform() as p:
        iam = _iam(p, None)
        async with p.client(auth=iam) as client:
            await client.show_device("boiler_0001")
            p.platform.store._db.execute("DELETE FROM iam_tokens")
            await client.show_device("boiler_0001")
            assert _issued_tokens(p) == 1


async def test_token_auth_with_a_platform_token_and_with_an_expired_one():
    async with running_platform() as p:
        token = await _iam(p, None).token()
        auth = TokenAuth(token)
        assert token not in repr(auth)
        async with p.client(auth=auth, retries=0) as client:
            assert (await client.show_device("boiler_0001")).device.device_id == "boiler_0001"
            p.platform.store._db.execute("UPDATE iam_tokens SET expires_at = 0")
            error = await _error(client.show_device("boiler_0001"))
            assert (error.status, error.error_code) == (401, "APIGW.0301")


def _iam_answer(token: str, issued: datetime) -> Answer:
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    expires = issued + timedelta(hours=24)
    body = {"token": {"issued_at": issued.strftime(stamp), "expires_at": expires.strftime(stamp)}}
    return Answer(201, body, {"X-Subject-Token": token})


async def test_iam_renewal_follows_the_client_clock_when_iam_clock_is_off():
    iam_clock = datetime(2020, 1, 1, tzinfo=UTC)  # years off ours: only the lifetime counts
    answers = [_iam_answer("tok-1", iam_clock), _iam_answer("tok-2", iam_clock)]
    async with http_stub(answers) as stub:
        now = [datetime.now(UTC)]
        iam = IamPasswordAuth(
            stub.url, username="u", password="pw", domain="d", project_id="p", clock=lambda: now[0]
        )
        assert await iam.token() == "tok-1"
        now[0] += timedelta(hours=22)
        assert await iam.token() == "tok-1"
        now[0] += timedelta(hours=1, minutes=30)
        assert await iam.token() == "tok-2"
        assert [r.path for r in stub.requests] == ["/v3/auth/tokens"] * 2
        sent = json.loads(stub.requests[0].body)["auth"]
        assert sent["identity"]["password"]["user"] == {
            "name": "u",
            "password": "pw",
            "domain": {"name": "d"},
        }
        assert sent["scope"] == {"project": {"id": "p"}}
        assert "pw" not in repr(iam)


async def test_client_debug_log_carries_no_token(caplog):
    """httpcore logs response headers at DEBUG; IAM's X-Subject-Token is one of them."""
    caplog.set_level(logging.DEBUG)
    async with running_platform() as p:
        iam = _iam(p, None)
        async with p.client(auth=iam) as client:
            await client.show_device("boiler_0001")
            token = await iam.token()
    assert token not in caplog.text
    assert p.user.password not in caplog.text


@pytest.mark.parametrize(
    ("minutes", "accepted"), [(-10, True), (10, True), (-20, False), (20, False)]
)
async def test_signature_clock_skew_limit_is_15_minutes(minutes, accepted):
    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(minutes=minutes)

    async with running_platform() as p:
        skewed = AkSkAuth(p.ak, p.sk, region=p.region, clock=clock)
        async with p.client(auth=skewed, retries=0) as client:
            if accepted:
                await client.show_device("boiler_0001")
            else:
                error = await _error(client.show_device("boiler_0001"))
                assert (error.status, error.error_code) == (401, "APIGW.0301")
