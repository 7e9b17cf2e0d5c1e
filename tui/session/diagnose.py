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
from tui.iotda.errors import ErrorCode, IoTDAError
from tui.session.diagnose_net import (
    FAIL,
    NOT_APPLICABLE,
    OK,
    SKIPPED,
    Step,
    check_dns,
    check_tcp,
    check_tls,
    ssl_context,
    target_of,
)

__all__ = ["Diagnosis", "Profile", "Step", "diagnose"]

PLATFORM_HEADER = "X-Iotunnel-Platform"
STEP_TITLES = {
    "config": "Profile",
    "dns": "DNS",
    "tcp": "TCP",
    "tls": "TLS",
    "auth": "Authentication",
    "project": "Project id",
    "instance": "Instance-Id",
    "devices": "List devices",
    "edition": "Edition",
    "tunnels": "Read tunnels",
    "platform": "Platform",
}
SKEW_WARNING = 5 * 60


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
        return all(step.status in (OK, NOT_APPLICABLE) for step in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "endpoint": self.endpoint,
            "ok": self.ok,
            "steps": [step.to_json() for step in self.steps],
        }


def _step(name: str, status: str, detail: str, fix: str | None = None) -> Step:
    return Step(name, STEP_TITLES[name], status, detail, fix)


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

    def add(step: Step) -> bool:
        steps.append(step)
        remaining.remove(step.name)
        return step.status != FAIL

    def skip_rest() -> Diagnosis:
        for name in list(remaining):
            add(_step(name, SKIPPED, "not checked: an earlier step failed"))
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
                add(_iam_failure(profile.auth, exc))
                return skip_rest()
        count, devices_error = await _first_device_page(client)
        for step in _device_steps(profile, count, devices_error, seen, now()):
            if not add(step):
                return skip_rest()
        for step in await _tunnel_steps(client):
            if not add(step):
                return skip_rest()
    add(_platform_step(seen, profile.extensions))
    return result


def _config_step(profile: Profile) -> Step:
    if profile.config_problem:
        return _step(
            "config",
            FAIL,
            profile.config_problem,
            "fix the profile in the config file (the message names file and key)",
        )
    if not profile.endpoint.startswith(("https://", "http://")):
        return _step(
            "config",
            FAIL,
            f"endpoint {profile.endpoint!r} is not an http(s) URL",
            "write the endpoint as https://HOST (from the IoTDA console's access details)",
        )
    return _step("config", OK, f"{_auth_kind(profile)}, project {profile.project_id}")


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


def _iam_failure(auth: IamPasswordAuth, exc: IoTDAError) -> Step:
    if exc.status == 0:
        return _step(
            "auth",
            FAIL,
            exc.error_msg,
            "check iam_endpoint (or the profile's region, which names "
            "https://iam.REGION.myhuaweicloud.com) and that this machine can reach it",
        )
    if exc.status in (400, 401, 403):
        return _step(
            "auth",
            FAIL,
            f"IAM refused the login of {auth.username}: {exc.error_msg} (HTTP {exc.status})",
            f"check the password in the profile's password_env/password_file, the user name "
            f"{auth.username!r} and domain {auth.domain!r} (the account name, not the IAM "
            f"user); IAM locks a user out for a while after repeated wrong passwords",
        )
    return _step("auth", FAIL, f"IAM answered {exc}", "retry later: IAM itself had a problem")


async def _first_device_page(client: IoTDAClient) -> tuple[int | None, IoTDAError | None]:
    pages = client.list_device_pages(limit=1)
    try:
        page = await anext(pages)
    except IoTDAError as exc:
        return None, exc
    finally:
        await pages.aclose()
    return page.page.count, None


def _skew(seen: _Seen, now: datetime) -> float | None:
    return None if seen.date is None else (now - seen.date).total_seconds()


def _skew_text(skew: float | None) -> str:
    if skew is None:
        return "server sent no Date: clock skew unknown"
    if abs(skew) <= 2:  # Date has whole seconds, and servers cache it for a second
        return "this machine's clock agrees with the server's (within 2 s)"
    direction = "ahead of" if skew > 0 else "behind"
    return f"this machine's clock is {abs(skew):.0f} s {direction} the server's"


def _device_steps(
    profile: Profile,
    count: int | None,
    error: IoTDAError | None,
    seen: _Seen,
    now: datetime,
) -> list[Step]:
    """auth, project, instance and devices, all read from one `GET …/devices?limit=1`."""
    skew = _skew(seen, now)
    signed = isinstance(profile.auth, AkSkAuth)
    if (error is not None and error.status in (0, 401)) or (
        error is not None and error.error_code == ErrorCode.CLIENT_CONFIG
    ):
        return [_auth_failure(profile, error, skew)]
    auth_note = _skew_text(skew)
    if signed and skew is not None and abs(skew) > SKEW_WARNING:
        auth_note += f" (signatures fail past {signing.MAX_CLOCK_SKEW // 60} min: fix NTP)"
    steps = [_step("auth", OK, f"accepted; {auth_note}")]
    message = (error.error_msg if error else "").lower()
    if error is not None and "project" in message:
        steps.append(
            _step(
                "project",
                FAIL,
                f"project {profile.project_id} refused: {error.error_msg} (HTTP {error.status})",
                "copy the project id of this region from the console: My Credentials → API "
                "Credentials → Projects (the row of the endpoint's region); an IAM token or "
                "AK/SK of another account or region does not reach it",
            )
        )
        return steps
    steps.append(_step("project", OK, f"{profile.project_id} accepted"))
    if error is not None and "instance" in message:
        steps.append(
            _step(
                "instance",
                FAIL,
                f"Instance-Id {profile.instance_id} refused: {error.error_msg}",
                "copy the instance id from the IoTDA console (Instances), or remove "
                "instance_id from the profile if the endpoint is the instance's own host",
            )
        )
        return steps
    if profile.instance_id:
        steps.append(_step("instance", OK, f"Instance-Id {profile.instance_id} accepted"))
    else:
        steps.append(
            _step("instance", NOT_APPLICABLE, "none sent (needed only where the console says)")
        )
    if error is None:
        steps.append(_step("devices", OK, f"allowed; {count} device(s) in the project"))
    elif error.status == 403:
        steps.append(
            _step(
                "devices",
                FAIL,
                f"not allowed to list devices: {error.error_msg} (HTTP 403)",
                "grant the IAM user (or the AK's user) IoTDA read access to this project, "
                "e.g. the IoTDA ReadOnlyAccess policy (iotda:devices:list)",
            )
        )
    else:
        steps.append(
            _step(
                "devices",
                FAIL,
                f"listing devices failed: {error}",
                "retry later if the status is 5xx; a 404 means the endpoint is not an IoTDA "
                "API (check its host)",
            )
        )
    return steps


def _auth_failure(profile: Profile, error: IoTDAError, skew: float | None) -> Step:
    if error.error_code == ErrorCode.CLIENT_CONFIG:
        return _step(
            "auth",
            FAIL,
            error.error_msg,
            "set the profile's region (e.g. cn-north-4): a host that is not a regional "
            "endpoint is signed with V11-HMAC-SHA256, which needs it",
        )
    if error.status == 0:
        return _step(
            "auth",
            FAIL,
            f"the API request failed: {error.error_msg}",
            "the network steps passed, so a proxy (HTTPS_PROXY) or the TLS settings of the "
            "client differ: run with -vv --log-file to see the request",
        )
    detail = f"refused: {error.error_msg} (HTTP {error.status}); {_skew_text(skew)}"
    auth = profile.auth
    if isinstance(auth, AkSkAuth):
        if skew is not None and abs(skew) > signing.MAX_CLOCK_SKEW:
            fix = (
                "set this machine's clock: signatures more than 15 minutes off the "
                "server's time are refused (`timedatectl set-ntp true`, or `date -u` to see)"
            )
        else:
            fix = (
                f"check the AK ({auth.ak}) and the SK in the profile's sk_env/sk_file: they "
                "must be one pair (console: My Credentials → Access Keys); for an instance "
                "endpoint the profile's region must be the instance's"
            )
    elif isinstance(auth, TokenAuth):
        fix = "get a new IAM token: tokens last 24 h and are scoped to one project"
    else:
        fix = "check the credentials of the profile"
    return _step("auth", FAIL, detail, fix)


async def _tunnel_steps(client: IoTDAClient) -> list[Step]:
    try:
        tunnels = await client.list_tunnels()
    except IoTDAError as exc:
        message = exc.error_msg.lower()
        if exc.status == 403 and ("edition" in message or "basic" in message):
            return [
                _step(
                    "edition",
                    FAIL,
                    f"tunnels refused: {exc.error_msg} (HTTP 403)",
                    "the Basic edition has no device tunnels: use a Standard or Enterprise "
                    "instance (IoTDA console → Instances) and its endpoint",
                )
            ]
        edition = _step("edition", NOT_APPLICABLE, "not refused for the edition")
        if exc.status == 403:
            return [
                edition,
                _step(
                    "tunnels",
                    FAIL,
                    f"not allowed to read tunnels: {exc.error_msg} (HTTP 403)",
                    "grant the IAM user tunnel permissions on IoTDA (e.g. IoTDA FullAccess, "
                    "or iotda:tunnels:*); a Basic edition instance refuses tunnels too",
                ),
            ]
        return [edition, _step("tunnels", FAIL, f"listing tunnels failed: {exc}", "retry later")]
    return [
        _step("edition", OK, "tunnels are available"),
        _step("tunnels", OK, f"allowed; {len(tunnels)} tunnel(s) in the project"),
    ]


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
    return _step("platform", OK, f"{kind}; our extensions (resize, resume) {use}")
