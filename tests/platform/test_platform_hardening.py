"""Issue 12's smaller findings on the REST side (4 and 7), each as it was found.

Every answer here was a 500, a 2xx or a 307 before; now a 4xx/503 with an IoTDA body.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.platform import running_platform
from tui.iotda import signing
from tui.iotda.timefmt import COMPACT
from tui.platform.ratelimit import RateLimit

JSON = {"Content-Type": "application/json"}
PROMPT = 5.0


def _token_body(name: str, password: str, domain: str = "acme") -> dict:
    user = {"name": name, "password": password, "domain": {"name": domain}}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def _error(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code, answer.text
    assert "Traceback" not in answer.text


async def test_a_non_ascii_signature_is_401_not_500():
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        headers = _signed(p, ["host", "x-sdk-date"], {})  # right in all but the signature
        signature = headers["Authorization"].rpartition("Signature=")[2]
        headers["Authorization"] = headers["Authorization"].replace(signature, "é" * 64)
        headers["Authorization"] = headers["Authorization"].encode("latin-1")
        answer = await raw.get(f"/v5/iot/{p.project_id}/devices", headers=headers)
        _error(answer, 401, "APIGW.0301")


async def test_a_lone_surrogate_password_is_400_not_500():
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        body = '{"auth":{"identity":{"methods":["password"],"password":{"user":'
        body += '{"name":"engineer","password":"\\ud800","domain":{"name":"acme"}}}}}}'
        answer = await raw.post("/v3/auth/tokens", content=body, headers=JSON)
        _error(answer, 400, "IOTDA.000006")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=٣", "IOTDA.000017"),  # an Arabic-Indic three: int() takes it
        ("limit=5_0", "IOTDA.000017"),
        ("limit=+5", "IOTDA.000017"),
        ("limit=%205", "IOTDA.000017"),
        ("offset=1_0", "IOTDA.000006"),
        ("marker=ffffffffffffffffffffffff%0A", "IOTDA.000018"),
        ("is_cascade_query=maybe", "IOTDA.000006"),
        ("start_time=20261201T000000Z&end_time=20261101T000000Z", "IOTDA.000010"),
    ],
)
async def test_paging_and_filters_are_parsed_strictly(query, code):
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        token = await _iam_token(p)
        answer = await raw.get(
            f"/v5/iot/{p.project_id}/devices?{query}", headers={"X-Auth-Token": token}
        )
        _error(answer, 400, code)


async def test_every_time_the_published_pattern_allows_is_accepted():
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        token = await _iam_token(p)
        for moment in ("00010101T000000Z", "20260231T235959Z", "99991231T235959Z"):
            answer = await raw.get(
                f"/v5/iot/{p.project_id}/devices",
                params={"start_time": moment, "is_cascade_query": "false"},
                headers={"X-Auth-Token": token},
            )
            assert answer.status_code == 200, (moment, answer.text)


async def test_a_trailing_slash_is_404_not_a_redirect():
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        answer = await raw.get(f"/v5/iot/{p.project_id}/devices/", headers={"Host": "evil.example"})
        assert "location" not in answer.headers
        _error(answer, 404, "IOTDA.000006")


async def test_405_says_which_methods_the_path_takes():
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        answer = await raw.post(f"/v5/iot/{p.project_id}/tunnels/some-id")
        _error(answer, 405, "IOTDA.000006")
        assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET", "PUT", "DELETE"}


def _signed(p, names: list[str], headers: dict[str, str]) -> dict[str, str]:
    """Headers signed over `names` only (a client that leaves some out)."""
    date = datetime.now(UTC).strftime(COMPACT)
    out = {**headers, signing.DATE_HEADER: date, "Host": urlsplit(p.endpoints.rest).netloc}
    path = f"/v5/iot/{p.project_id}/devices"
    request = signing.canonical_request("GET", path, [], out, names, b"")
    sig = signing.signature(
        algorithm=signing.STANDARD, ak=p.ak, sk=p.sk, sdk_date=date, request=request
    )
    auth = f"SDK-HMAC-SHA256 Access={p.ak}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return {**out, "Authorization": auth}


@pytest.mark.parametrize(
    ("names", "extra", "status"),
    [
        (["x-sdk-date"], {}, 401),  # Host unsigned
        (["host", "x-sdk-date"], JSON, 401),  # Content-Type sent but unsigned
        (["host"], {}, 401),  # the date unsigned: a replay could move it
        (["host", "x-sdk-date"], {}, 200),
        (["content-type", "host", "x-sdk-date"], JSON, 200),
    ],
)
async def test_host_content_type_and_date_must_be_signed(names, extra, status):
    async with running_platform() as p, httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        headers = _signed(p, names, extra)
        answer = await raw.get(f"/v5/iot/{p.project_id}/devices", headers=headers)
        assert answer.status_code == status, answer.text


async def _iam_token(p) -> str:
    async with httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
        answer = await raw.post(
            "/v3/auth/tokens", json=_token_body(p.user.name, p.user.password, p.user.domain)
        )
        assert answer.status_code == 201, answer.text
        return answer.headers["X-Subject-Token"]


async def test_password_guessing_is_rate_limited_per_source():
    guesses = RateLimit(rate=0.01, burst=5)
    async with (
        running_platform(auth_failure_rate=guesses) as p,
        httpx.AsyncClient(base_url=p.endpoints.rest) as raw,
    ):
        answers = [
            await raw.post("/v3/auth/tokens", json=_token_body(p.user.name, f"guess-{n}"))
            for n in range(8)
        ]
        assert [a.status_code for a in answers] == [401] * 5 + [403] * 3
        _error(answers[-1], 403, "IOTDA.021101")
        # while limited, even the right password gets nowhere: guessing learns nothing
        right = _token_body(p.user.name, p.user.password, p.user.domain)
        _error(await raw.post("/v3/auth/tokens", json=right), 403, "IOTDA.021101")


async def test_a_flooding_source_is_rate_limited():
    async with (
        running_platform(rest_rate=RateLimit(rate=0.01, burst=3)) as p,
        httpx.AsyncClient(base_url=p.endpoints.rest) as raw,
    ):
        answers = [await raw.get(f"/v5/iot/{p.project_id}/devices") for _ in range(5)]
        assert [a.status_code for a in answers] == [401] * 3 + [403] * 2
        _error(answers[-1], 403, "IOTDA.021101")


async def test_expired_iam_tokens_are_pruned():
    async with running_platform() as p:
        store = p.platform.store
        for n in range(3):
            store.add_iam_token(f"old-{n}", "engineer", expires_at=1.0, now=0.0)
        assert store.count_iam_tokens() == 3
        token = await _iam_token(p)
        assert store.count_iam_tokens() == 1
        async with httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
            answer = await raw.get(
                f"/v5/iot/{p.project_id}/devices", headers={"X-Auth-Token": token}
            )
        assert answer.status_code == 200


async def test_a_storage_failure_is_503_with_an_iotda_body(tmp_path):
    async with running_platform(state_path=tmp_path / "state.sqlite3") as p:
        token = await _iam_token(p)
        p.set_online("boiler_0001")
        p.platform.store._db.execute("PRAGMA query_only = ON")  # as a full disk would
        async with httpx.AsyncClient(base_url=p.endpoints.rest) as raw:
            answer = await raw.post(
                f"/v5/iot/{p.project_id}/tunnels",
                json={"device_id": "boiler_0001"},
                headers={"X-Auth-Token": token},
            )
        _error(answer, 503, "IOTDA.000002")
        with pytest.raises(sqlite3.OperationalError):  # the fault is real
            p.platform.store.prune_iam_tokens(0.0)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (a hang guard bounds it)."""
    data = b""
    async with asyncio.timeout(PROMPT):
        while chunk := await reader.read(4096):
            data += chunk
    return data


async def test_request_headers_trickling_in_are_cut_off():
    async with running_platform(request_timeout=1.0) as p:
        parts = urlsplit(p.endpoints.rest)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        await _closed_by_server(reader)
        writer.close()


async def test_a_body_trickling_in_is_408():
    async with running_platform(request_timeout=1.0) as p:
        parts = urlsplit(p.endpoints.rest)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PROMPT)
        assert head.startswith(b"HTTP/1.1 408"), head
        writer.close()
