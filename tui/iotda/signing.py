"""Huawei Cloud API signing (docs/protocol.md §3): SDK-HMAC-SHA256 and V11-HMAC-SHA256.

The same functions sign on the client and verify on the local platform, so the two
cannot drift apart; the test vectors of docs/protocol.md §3 pin both to the official SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from tui.iotda.timefmt import COMPACT

STANDARD = "SDK-HMAC-SHA256"
DERIVED = "V11-HMAC-SHA256"
DERIVED_SERVICE = "iotdm"
DATE_HEADER = "X-Sdk-Date"
MAX_CLOCK_SKEW = 15 * 60

# The official SDK's default derived predicate: regional endpoints sign with the standard
# algorithm, every other host (instance endpoints) with the derived one.
_REGIONAL_HOST = re.compile(
    r"^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)"
)


def uses_derived_signing(host: str) -> bool:
    return _REGIONAL_HOST.match(host) is None


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Every header name lower-cased and sorted, leaving out names with `_`."""
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    header_block = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_block,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        )
    )


def derived_key(ak: str, sk: str, info: str) -> str:
    """HKDF-SHA256(salt=AK, ikm=SK, info), 32 bytes, as lowercase hex (one expand block)."""
    prk = hmac.new(ak.encode(), sk.encode(), hashlib.sha256).digest()
    return hmac.new(prk, info.encode() + b"\x01", hashlib.sha256).hexdigest()


def derived_info(sdk_date: str, region: str, service: str = DERIVED_SERVICE) -> str:
    return f"{sdk_date[:8]}/{region}/{service}"


def _string_to_sign(algorithm: str, sdk_date: str, request: str, info: str | None) -> str:
    digest = hashlib.sha256(request.encode()).hexdigest()
    if info is None:
        return f"{algorithm}\n{sdk_date}\n{digest}"
    return f"{algorithm}\n{sdk_date}\n{info}\n{digest}"


def signature(
    *,
    algorithm: str,
    ak: str,
    sk: str,
    sdk_date: str,
    request: str,
    region: str | None = None,
) -> str:
    if algorithm == STANDARD:
        key = sk
        info = None
    elif algorithm == DERIVED:
        if not region:
            raise ValueError("derived signing needs a region")
        info = derived_info(sdk_date, region)
        key = derived_key(ak, sk, info)
    else:
        raise ValueError(f"unknown signing algorithm {algorithm!r}")
    to_sign = _string_to_sign(algorithm, sdk_date, request, info)
    return hmac.new(key.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def sign_headers(
    method: str,
    host: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    *,
    ak: str,
    sk: str,
    algorithm: str,
    region: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to add to a request: X-Sdk-Date, Host and Authorization."""
    out = dict(headers)
    if not any(name.lower() == DATE_HEADER.lower() for name in out):
        out[DATE_HEADER] = (now or datetime.now(UTC)).astimezone(UTC).strftime(COMPACT)
    if not any(name.lower() == "host" for name in out):
        out["Host"] = host
    sdk_date = next(v for k, v in out.items() if k.lower() == DATE_HEADER.lower())
    names = signed_header_names(out)
    request = canonical_request(method, path, query, out, names, body)
    sig = signature(
        algorithm=algorithm, ak=ak, sk=sk, sdk_date=sdk_date, request=request, region=region
    )
    if algorithm == DERIVED:
        assert region is not None
        credential = f"Credential={ak}/{derived_info(sdk_date, region)}"
    else:
        credential = f"Access={ak}"
    signed = ";".join(names)
    out["Authorization"] = f"{algorithm} {credential}, SignedHeaders={signed}, Signature={sig}"
    return {k: v for k, v in out.items() if k not in headers or headers[k] != v}


@dataclass(frozen=True)
class ParsedAuthorization:
    algorithm: str
    ak: str
    signed_headers: list[str]
    signature: str
    scope: str | None = None  # derived: "YYYYMMDD/region/service"


def parse_authorization(header: str) -> ParsedAuthorization | None:
    """Read an Authorization header of either algorithm; None when it is neither."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm not in (STANDARD, DERIVED):
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    signed = fields.get("SignedHeaders", "")
    sig = fields.get("Signature", "")
    if not signed or not sig:
        return None
    if algorithm == STANDARD:
        ak = fields.get("Access", "")
        scope = None
    else:
        ak, _, scope = fields.get("Credential", "").partition("/")
        if scope.count("/") != 2:
            return None
    if not ak:
        return None
    return ParsedAuthorization(algorithm, ak, signed.split(";"), sig, scope)


def verify_signature(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    parsed: ParsedAuthorization,
    sk: str,
    now: datetime | None = None,
) -> bool:
    """Check a request signed with `parsed`; False on a bad signature or a skewed date."""
    lowered = {name.lower(): value for name, value in headers.items()}
    sdk_date = lowered.get(DATE_HEADER.lower(), "")
    try:
        signed_at = datetime.strptime(sdk_date, COMPACT).replace(tzinfo=UTC)
    except ValueError:
        return False
    moment = now or datetime.now(UTC)
    if abs((moment - signed_at).total_seconds()) > MAX_CLOCK_SKEW:
        return False
    if any(name not in lowered for name in parsed.signed_headers):
        return False
    region = None
    if parsed.algorithm == DERIVED:
        assert parsed.scope is not None
        day, region, service = parsed.scope.split("/")
        if day != sdk_date[:8] or service != DERIVED_SERVICE:
            return False
    request = canonical_request(method, path, query, lowered, parsed.signed_headers, body)
    try:
        expected = signature(
            algorithm=parsed.algorithm,
            ak=parsed.ak,
            sk=sk,
            sdk_date=sdk_date,
            request=request,
            region=region,
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, parsed.signature)
