"""The three ways to authenticate to IoTDA's REST API (docs/protocol.md §3), as httpx auth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from tui.iotda import signing
from tui.iotda.errors import ErrorBody, ErrorCode, IoTDAError
from tui.iotda.redact import mask

log = logging.getLogger(__name__)

# httpcore logs every response's headers at DEBUG, and IAM's X-Subject-Token is the token
# itself: its loggers never go below INFO, whatever level a debug log file asks for.
logging.getLogger("httpcore").setLevel(logging.INFO)

AUTH_TOKEN_HEADER = "X-Auth-Token"
SUBJECT_TOKEN_HEADER = "X-Subject-Token"
IAM_TOKEN_LIFETIME = timedelta(hours=24)
IAM_RENEW_MARGIN = timedelta(hours=1)
_UNSIGNED = frozenset(
    {"authorization", "content-length", "accept", "accept-encoding", "connection", "user-agent"}
)


class TokenAuth(httpx.Auth):
    """A given IAM token, sent as X-Auth-Token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"TokenAuth({mask(self._token)})"

    def auth_flow(self, request: httpx.Request):  # type: ignore[override]
        request.headers[AUTH_TOKEN_HEADER] = self._token
        yield request


class AkSkAuth(httpx.Auth):
    """AK/SK signing; the algorithm follows the host as the official SDK's default does."""

    requires_request_body = True

    def __init__(
        self,
        ak: str,
        sk: str,
        *,
        region: str | None = None,
        algorithm: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if algorithm not in (None, signing.STANDARD, signing.DERIVED):
            raise ValueError(f"unknown signing algorithm {algorithm!r}")
        self.ak = ak
        self._sk = sk
        self.region = region
        self.algorithm = algorithm
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"AkSkAuth(ak={self.ak!r}, sk={mask(self._sk)}, algorithm={self.algorithm})"

    def algorithm_for(self, host: str) -> str:
        if self.algorithm:
            return self.algorithm
        return signing.DERIVED if signing.uses_derived_signing(host) else signing.STANDARD

    def auth_flow(self, request: httpx.Request):  # type: ignore[override]
        host = request.url.netloc.decode("ascii")
        algorithm = self.algorithm_for(request.url.host)
        if algorithm == signing.DERIVED and not self.region:
            raise IoTDAError(0, ErrorCode.CLIENT_CONFIG, "derived AK/SK signing needs a region")
        # transport headers stay unsigned: proxies may rewrite them
        headers = {
            name: value for name, value in request.headers.items() if name.lower() not in _UNSIGNED
        }
        headers["Host"] = host
        added = signing.sign_headers(
            request.method,
            host,
            request.url.path,
            httpx.QueryParams(request.url.query).multi_items(),
            headers,
            request.content,
            ak=self.ak,
            sk=self._sk,
            algorithm=algorithm,
            region=self.region,
            now=self._clock(),
        )
        for name, value in added.items():
            request.headers[name] = value
        yield request


class IamPasswordAuth(httpx.Auth):
    """An IAM user: fetches a project-scoped token and renews it before its 24 h end."""

    def __init__(
        self,
        iam_endpoint: str,
        *,
        username: str,
        password: str,
        domain: str,
        project_id: str,
        clock: Callable[[], datetime] | None = None,
        verify: bool | str = True,
    ) -> None:
        self.iam_endpoint = iam_endpoint.rstrip("/")
        self.username = username
        self._password = password
        self.domain = domain
        self.project_id = project_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._verify = verify
        self._token: str | None = None
        self._renew_at: datetime | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"IamPasswordAuth(user={self.username!r}, domain={self.domain!r}, password=***)"

    def _request_body(self) -> dict:
        return {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "password": self._password,
                            "domain": {"name": self.domain},
                        }
                    },
                },
                "scope": {"project": {"id": self.project_id}},
            }
        }

    async def token(self, *, force: bool = False) -> str:
        async with self._lock:
            now = self._clock()
            if not force and self._token and self._renew_at and now < self._renew_at:
                return self._token
            url = f"{self.iam_endpoint}/v3/auth/tokens"
            try:
                async with httpx.AsyncClient(verify=self._verify, timeout=10.0) as http:
                    response = await http.post(url, json=self._request_body())
            except httpx.HTTPError as exc:
                host = urlsplit(url).netloc
                raise IoTDAError(
                    0, ErrorCode.CLIENT_NETWORK, f"cannot reach IAM at {host}: {exc}"
                ) from None
            token = response.headers.get(SUBJECT_TOKEN_HEADER)
            if response.status_code != 201 or not token:
                raise error_from_response(response)
            lifetime = _token_lifetime(response) or IAM_TOKEN_LIFETIME
            self._token = token
            # measured on our own clock: a jump host's clock may be hours off IAM's
            self._renew_at = now + lifetime - min(IAM_RENEW_MARGIN, lifetime / 2)
            log.info("IAM token for %s renewed, valid for %s", self.username, lifetime)
            return token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers[AUTH_TOKEN_HEADER] = await self.token()
        response = yield request
        if response.status_code == 401:
            # the token may have been revoked early: one fresh try
            await response.aread()
            request.headers[AUTH_TOKEN_HEADER] = await self.token(force=True)
            yield request


def _token_lifetime(response: httpx.Response) -> timedelta | None:
    """`expires_at - issued_at` of an IAM token answer; None when they are unreadable."""
    try:
        token = response.json()["token"]
        issued, expires = (
            datetime.fromisoformat(token[key].replace("Z", "+00:00"))
            for key in ("issued_at", "expires_at")
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    lifetime = expires - issued
    return lifetime if lifetime > timedelta(0) else None


def error_from_response(response: httpx.Response) -> IoTDAError:
    request_id = response.headers.get("X-Request-Id")
    body = None
    try:
        body = ErrorBody.from_json(response.json())
    except ValueError:
        pass
    if body is not None:
        return IoTDAError(
            response.status_code, body.error_code, body.error_msg, body.request_id or request_id
        )
    reason = response.reason_phrase or "unexpected response"
    return IoTDAError(response.status_code, f"HTTP.{response.status_code}", reason, request_id)
