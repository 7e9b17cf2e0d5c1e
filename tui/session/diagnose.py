"""`iotunnel profiles check`: a profile diagnosed step by step, as plain code (no Textual).

DNS, TCP, TLS, then authentication (an IAM token request, or a signed request with the
algorithm the host selects and the clock skew measured against the server's `Date`),
project id, Instance-Id, the edition, and the permissions to list devices and to read
tunnels. A failed step says what to fix; the steps after it are skipped. The hints read
`error_msg`; no decision depends on a code that only the local platform sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tui.iotda import signing
from tui.iotda.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.errors import IoTDAError
from tui.session.diagnose_api import (
    device_steps,
    first_device_page,
    iam_failure,
    tunnel_steps,
)
from tui.session.diagnose_net import (
    FAIL,
    NOT_APPLICABLE,
    OK,
    SKIPPED,
    STEP_TITLES,
    Step,
    check_dns,
    check_tcp,
    check_tls,
    ssl_context,
    step,
    target_of,
)

__all__ = ["Diagnosis", "Profile", "Step", "diagnose"]

PLATFORM_HEADER = "X-Iotunnel-Platform"


@dataclass(frozen=True)
class Profile:
    """What is diagnosed: a profile's settings, its auth object (or why there is none)."""

    name: str
    endpoint: str
    project_id: str
    auth: httpx.Auth | None
    region: str | None = None
    instance_id: str | None = None
    verify: bool | str = True
    config_problem: str | None = None  # e.g. "LAB_SK is not set": the auth could not be built
    extensions: bool | None = None  # the profile's `extensions`: None = auto


@dataclass
class Diagnosis:
    profile: str
    endpoint: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status in (OK, NOT_APPLICABLE) for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "endpoint": self.endpoint,
            "ok": self.ok,
            "steps": [s.to_json() for s in self.steps],
        }


class _Seen:
    """The headers of the last API answer: the server's Date and the platform header."""

    def __init__(self) -> None:
        self.date: datetime | None = None
        self.iotunnel: bool | None = None

    async def hook(self, response: httpx.Response) -> None:
        self.iotunnel = PLATFORM_HEADER in response.headers
        try:
            self.date = parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError, IndexError):
            self.date = None


async def diagnose(
    profile: Profile,
    *,
    clock: Callable[[], datetime] | None = None,
    timeout: float = 5.0,
) -> Diagnosis:
    """Run every step in order; after the first failure the rest are `skipped`."""
    now = clock or (lambda: datetime.now(UTC))
    result = Diagnosis(profile.name, profile.endpoint)
    steps = result.steps
    remaining = list(STEP_TITLES)

    def add(found: Step) -> bool:
        steps.append(found)
        remaining.remove(found.name)
        return found.status != FAIL

    def skip_rest() -> Diagnosis:
        for name in list(remaining):
            add(step(name, SKIPPED, "not checked: an earlier step failed"))
        return result

    if not add(_config_step(profile)):
        return skip_rest()
    target = target_of(profile.endpoint)
    dns, addresses = await check_dns(target, timeout)
    if not add(dns) or not add(await check_tcp(target, addresses, timeout)):
        return skip_rest()
    if not add(await check_tls(profile.endpoint, target, profile.verify, timeout)):
        return skip_rest()
    seen = _Seen()
    # the TLS step loaded this context already; plain http needs none
    verify = ssl_context(profile.verify) if target.https and profile.verify else profile.verify
    async with httpx.AsyncClient(
        verify=verify, timeout=timeout, event_hooks={"response": [seen.hook]}
    ) as http:
        client = IoTDAClient(
            profile.endpoint,
            profile.project_id,
            profile.auth,
            instance_id=profile.instance_id,
            http=http,
            retries=0,
        )
        if isinstance(profile.auth, IamPasswordAuth):
            try:
                await profile.auth.token(force=True)
            except IoTDAError as exc:
                add(iam_failure(profile.auth, exc))
                return skip_rest()
        count, devices_error = await first_device_page(client)
        for found in device_steps(profile, count, devices_error, _skew(seen, now())):
            if not add(found):
                return skip_rest()
        for found in await tunnel_steps(client):
            if not add(found):
                return skip_rest()
    add(_platform_step(seen, profile.extensions))
    return result


def _config_step(profile: Profile) -> Step:
    if profile.config_problem:
        return step(
            "config",
            FAIL,
            profile.config_problem,
            "fix the profile in the config file (the message names file and key)",
        )
    url = httpx.URL(profile.endpoint)
    if url.scheme not in ("https", "http") or not url.host or url.path not in ("", "/"):
        return step(
            "config",
            FAIL,
            f"endpoint {profile.endpoint!r} is not of the form https://HOST[:PORT]",
            "write the endpoint as https://HOST, without a path (the host from the IoTDA "
            "console's Access details)",
        )
    auth = profile.auth
    if (
        isinstance(auth, AkSkAuth)
        and auth.algorithm_for(url.host) == signing.DERIVED
        and not profile.region
    ):
        return step(
            "config",
            FAIL,
            f"{url.host} is not a regional endpoint, so AK/SK requests are signed with "
            f"{signing.DERIVED}, which needs the region",
            'set region in the profile (e.g. region = "cn-north-4", the region in the host)',
        )
    return step("config", OK, f"{_auth_kind(profile)}, project {profile.project_id}")


def _auth_kind(profile: Profile) -> str:
    auth = profile.auth
    if isinstance(auth, AkSkAuth):
        host = httpx.URL(profile.endpoint).host
        algorithm = auth.algorithm_for(host)
        why = (
            "a regional endpoint"
            if algorithm == signing.STANDARD
            else "not a regional endpoint, so derived signing for region "
            f"{profile.region or '(none set)'}"
        )
        return f"AK/SK {auth.ak} signed with {algorithm} ({why})"
    if isinstance(auth, IamPasswordAuth):
        return f"IAM user {auth.username} of account {auth.domain} via {auth.iam_endpoint}"
    if isinstance(auth, TokenAuth):
        return "a given IAM token"
    return "no credentials"


def _skew(seen: _Seen, now: datetime) -> float | None:
    return None if seen.date is None else (now - seen.date).total_seconds()


def _platform_step(seen: _Seen, extensions: bool | None) -> Step:
    local = bool(seen.iotunnel)
    kind = (
        f"a local iotunnel platform (it sends {PLATFORM_HEADER})"
        if local
        else "Huawei IoTDA or another platform that follows only Huawei's documentation"
    )
    if extensions is None:
        use = "on (extensions = auto)" if local else "off (extensions = auto; true turns them on)"
    else:
        use = "on (extensions = true)" if extensions else "off (extensions = false)"
    return step("platform", OK, f"{kind}; our extensions (resize, resume) {use}")
