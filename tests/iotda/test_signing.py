"""docs/protocol.md §3 test vectors, checked against huaweicloudsdkcore 3.1.219."""

from datetime import UTC, datetime

import pytest

from tui.iotda import signing
from tui.iotda.mqtt import mqtt_password

AK, SK = "AKEXAMPLE123", "SKEXAMPLE456"
BODY = b'{"device_id":"dev_1"}'
REGIONAL = "iotda.cn-north-4.myhuaweicloud.com"
INSTANCE = "abc123.st1.iotda-app.cn-north-4.myhuaweicloud.com"
SIGNED_AT = datetime(2024, 1, 1, tzinfo=UTC)


def _headers(host: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Sdk-Date": "20240101T000000Z",
        "X-Project-Id": "proj123",
        "Host": host,
    }


def _sign(method, host, path, query, body, algorithm, region=None):
    return signing.sign_headers(
        method,
        host,
        path,
        query,
        _headers(host),
        body,
        ak=AK,
        sk=SK,
        algorithm=algorithm,
        region=region,
    )["Authorization"]


def test_standard_post_vector() -> None:
    auth = _sign("POST", REGIONAL, "/v5/iot/proj123/tunnels", [], BODY, signing.STANDARD)
    assert auth == (
        "SDK-HMAC-SHA256 Access=AKEXAMPLE123, "
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=104cbc0eb5656bf70c2146e909b3d7de2b4604c1f3b093cb0aab0adb59b2ac02"
    )


def test_standard_get_with_query_vector() -> None:
    query = [("limit", "10"), ("marker", "ffffffffffffffffffffffff")]
    auth = _sign("GET", REGIONAL, "/v5/iot/proj123/devices", query, b"", signing.STANDARD)
    assert auth.endswith(
        "Signature=301a1337b9babd8ec44ceab3320f8deda633a0dfb756b1da2b1be091c7e5a437"
    )


def test_derived_vector() -> None:
    info = signing.derived_info("20240101T000000Z", "cn-north-4")
    assert signing.derived_key(AK, SK, info) == (
        "973f0ee85cbf8b9bc0b46a5951f11dc40d24ff93961665957f2e538098372068"
    )
    auth = _sign(
        "POST", INSTANCE, "/v5/iot/proj123/tunnels", [], BODY, signing.DERIVED, "cn-north-4"
    )
    assert "Credential=AKEXAMPLE123/20240101/cn-north-4/iotdm" in auth
    assert auth.endswith(
        "Signature=9193008df35e275bd4b39de4859d7722444cb47b8b4d24e9621c76edd4cb25e2"
    )


def test_mqtt_password_vector() -> None:
    assert mqtt_password("12345678", "2025041401") == (
        "c75150e6cb841417396819e4d2ee4358a416344a03a083e3a8567074ddec820a"
    )


@pytest.mark.parametrize(
    ("host", "derived"),
    [
        (REGIONAL, False),
        ("iam.cn-north-4.myhuaweicloud.com", False),
        (INSTANCE, True),
        ("127.0.0.1", True),
    ],
)
def test_algorithm_chosen_by_host_like_the_sdk(host: str, derived: bool) -> None:
    assert signing.uses_derived_signing(host) is derived


@pytest.mark.parametrize("algorithm", [signing.STANDARD, signing.DERIVED])
def test_verify_accepts_own_signature_and_rejects_tampering(algorithm: str) -> None:
    headers = _headers(INSTANCE)
    added = signing.sign_headers(
        "POST",
        INSTANCE,
        "/v5/iot/proj123/tunnels",
        [],
        headers,
        BODY,
        ak=AK,
        sk=SK,
        algorithm=algorithm,
        region="cn-north-4",
    )
    signed = {**headers, **added}
    parsed = signing.parse_authorization(signed["Authorization"])
    assert parsed is not None and parsed.ak == AK

    def check(body: bytes = BODY, sk: str = SK, now: datetime = SIGNED_AT) -> bool:
        return signing.verify_signature(
            method="POST",
            path="/v5/iot/proj123/tunnels",
            query=[],
            headers=signed,
            body=body,
            parsed=parsed,
            sk=sk,
            now=now,
        )

    assert check()
    assert not check(body=b'{"device_id":"dev_2"}')
    assert not check(sk="wrong")
    assert not check(now=datetime(2024, 1, 1, 0, 16, tzinfo=UTC))  # past the 15-minute skew


def test_header_names_with_underscore_are_not_signed() -> None:
    names = signing.signed_header_names({"Host": "h", "tunnel_access_token": "t", "X-A": "1"})
    assert names == ["host", "x-a"]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic abc",
        "SDK-HMAC-SHA256 Access=, Signature=x",
        "V11-HMAC-SHA256 Credential=AK/x, SignedHeaders=a, Signature=b",
    ],
)
def test_parse_authorization_rejects_garbage(header: str) -> None:
    assert signing.parse_authorization(header) is None
