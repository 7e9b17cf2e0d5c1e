"""REST authentication of the local platform: its own IAM tokens and AK/SK signatures."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from tui.iotda import signing
from tui.iotda.auth import AUTH_TOKEN_HEADER
from tui.iotda.errors import ErrorCode, IoTDAError
from tui.iotda.redact import mask
from tui.platform.config import Seed
from tui.platform.store import Store

log = logging.getLogger(__name__)


def _denied(msg: str) -> IoTDAError:
    return IoTDAError(
        401, ErrorCode.APIGW_BAD_SIGNATURE, f"Incorrect IAM authentication information: {msg}"
    )


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RestAuth:
    """Checks every REST request; issues IAM tokens (only their hashes are stored)."""

    def __init__(
        self, seed: Seed, store: Store, *, token_ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._seed = seed
        self._store = store
        self._token_ttl = token_ttl
        self._clock = clock
        self._sk_of = {cred.ak: cred.sk for cred in seed.credentials}

    def issue_token(self, body: Any) -> tuple[str, dict[str, Any]]:
        """Password method, project scope: returns (token, response body)."""
        try:
            identity = body["auth"]["identity"]
            user = identity["password"]["user"]
            name, password = user["name"], user["password"]
            domain = user.get("domain", {}).get("name")
            methods = identity.get("methods", ["password"])
        except (KeyError, TypeError, AttributeError):
            raise IoTDAError(
                400, ErrorCode.INVALID_INPUT, "body must be auth.identity.password.user"
            ) from None
        if not all(isinstance(v, str) for v in (name, password)) or methods != ["password"]:
            raise IoTDAError(400, ErrorCode.INVALID_INPUT, "only the password method is supported")
        if not (_is_text(name) and _is_text(password)):  # e.g. a lone surrogate "\ud800"
            raise IoTDAError(400, ErrorCode.INVALID_INPUT, "user name and password must be text")
        known = any(
            u.name == name
            and secrets.compare_digest(u.password.encode(), password.encode())
            and (domain is None or u.domain == domain)
            for u in self._seed.users
        )
        if not known:
            log.info("IAM login refused for %r", name)
            raise _denied("user name or password")
        now = self._clock()
        token = "MII" + secrets.token_urlsafe(48)
        expires_at = now + self._token_ttl
        self._store.add_iam_token(token, name, expires_at, now)
        log.info("IAM token %s issued to %r", mask(token), name)
        answer = {
            "token": {
                "expires_at": _iso(expires_at),
                "issued_at": _iso(now),
                "methods": ["password"],
                "user": {"name": name, "domain": {"name": domain or ""}},
                "project": {"id": self._seed.project_id, "name": self._seed.region},
            }
        }
        return token, answer

    def check(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Raise 401 APIGW.0301 unless the request carries a valid token or AK/SK signature."""
        lowered = {name.lower(): value for name, value in headers.items()}
        token = lowered.get(AUTH_TOKEN_HEADER.lower())
        if token is not None:
            if not self._store.iam_token_valid(token, self._clock()):
                raise _denied("the token is invalid or expired")
            return
        header = lowered.get("authorization")
        if header is None:
            raise _denied(f"no {AUTH_TOKEN_HEADER} or Authorization header")
        parsed = signing.parse_authorization(header)
        if parsed is None or not parsed.signature.isascii():
            raise _denied("unreadable Authorization header")
        signed = {name.lower() for name in parsed.signed_headers}
        # an unsigned Host or Content-Type could be changed in transit, an unsigned date replayed
        required = {signing.DATE_HEADER.lower()} | {
            name for name in ("host", "content-type") if name in lowered
        }
        if not required <= signed:
            missing = ", ".join(sorted(required - signed))
            raise _denied(f"SignedHeaders must include {missing}")
        sk = self._sk_of.get(parsed.ak)
        if sk is None:
            raise _denied("unknown access key")
        ok = signing.verify_signature(
            method=method,
            path=path,
            query=query,
            headers=lowered,
            body=body,
            parsed=parsed,
            sk=sk,
            now=datetime.fromtimestamp(self._clock(), UTC),
        )
        if not ok:
            raise _denied("signature mismatch or X-Sdk-Date off by more than 15 minutes")
