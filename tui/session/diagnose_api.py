"""The API half of `iotunnel profiles check`: authentication, project, Instance-Id,
devices, edition and tunnels, read from real answers of the endpoint.

Hints come from `error_msg` and the HTTP status; no decision depends on an error code
that only the local platform sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.iotda import signing
from tui.iotda.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.errors import ErrorCode, IoTDAError
from tui.session.diagnose_net import FAIL, NOT_APPLICABLE, OK, Step, step

if TYPE_CHECKING:
    from tui.session.diagnose import Profile

SKEW_WARNING = 5 * 60


def iam_failure(auth: IamPasswordAuth, exc: IoTDAError) -> Step:
    if exc.status == 0:
        return step(
            "auth",
            FAIL,
            exc.error_msg,
            "check iam_endpoint (or the profile's region, which names "
            "https://iam.REGION.myhuaweicloud.com) and that this machine can reach it",
        )
    if exc.status in (400, 401, 403):
        return step(
            "auth",
            FAIL,
            f"IAM refused the login of {auth.username}: {exc.error_msg} (HTTP {exc.status})",
            f"check the password in the profile's password_env/password_file, the user name "
            f"{auth.username!r} and domain {auth.domain!r} (the account name, not the IAM "
            f"user); IAM locks a user out for a while after repeated wrong passwords",
        )
    return step("auth", FAIL, f"IAM answered {exc}", "retry later: IAM itself had a problem")


async def first_device_page(client: IoTDAClient) -> tuple[int | None, IoTDAError | None]:
    pages = client.list_device_pages(limit=1)
    try:
        page = await anext(pages)
    except IoTDAError as exc:
        return None, exc
    finally:
        await pages.aclose()
    return page.page.count, None


def skew_text(skew: float | None) -> str:
    if skew is None:
        return "server sent no Date: clock skew unknown"
    if abs(skew) <= 2:  # Date has whole seconds, and servers cache it for a second
        return "this machine's clock agrees with the server's (within 2 s)"
    direction = "ahead of" if skew > 0 else "behind"
    return f"this machine's clock is {abs(skew):.0f} s {direction} the server's"


def device_steps(
    profile: Profile,
    count: int | None,
    error: IoTDAError | None,
    skew: float | None,
) -> list[Step]:
    """auth, project, instance and devices, all read from one `GET …/devices?limit=1`."""
    signed = isinstance(profile.auth, AkSkAuth)
    refused = error is not None and error.status in (0, 401)
    if error is not None and (refused or error.error_code == ErrorCode.CLIENT_CONFIG):
        return [auth_failure(profile, error, skew)]
    auth_note = skew_text(skew)
    if signed and skew is not None and abs(skew) > SKEW_WARNING:
        auth_note += f" (signatures fail past {signing.MAX_CLOCK_SKEW // 60} min: fix NTP)"
    steps = [step("auth", OK, f"accepted; {auth_note}")]
    message = (error.error_msg if error else "").lower()
    if error is not None and "project" in message:
        steps.append(
            step(
                "project",
                FAIL,
                f"project {profile.project_id} refused: {error.error_msg} (HTTP {error.status})",
                "copy the project id of this region from the console: My Credentials → API "
                "Credentials → Projects (the row of the endpoint's region); an IAM token or "
                "AK/SK of another account or region does not reach it",
            )
        )
        return steps
    steps.append(step("project", OK, f"{profile.project_id} accepted"))
    if error is not None and "instance" in message:
        steps.append(
            step(
                "instance",
                FAIL,
                f"Instance-Id {profile.instance_id} refused: {error.error_msg}",
                "copy the instance id from the IoTDA console (Instances), or remove "
                "instance_id from the profile if the endpoint is the instance's own host",
            )
        )
        return steps
    if profile.instance_id:
        steps.append(step("instance", OK, f"Instance-Id {profile.instance_id} accepted"))
    else:
        steps.append(
            step("instance", NOT_APPLICABLE, "none sent (needed only where the console says)")
        )
    if error is None:
        steps.append(step("devices", OK, f"allowed; {count} device(s) in the project"))
    elif error.status == 403:
        steps.append(
            step(
                "devices",
                FAIL,
                f"not allowed to list devices: {error.error_msg} (HTTP 403)",
                "grant the IAM user (or the AK's user) IoTDA read access to this project, "
                "e.g. the IoTDA ReadOnlyAccess policy (iotda:devices:list)",
            )
        )
    else:
        steps.append(
            step(
                "devices",
                FAIL,
                f"listing devices failed: {error}",
                "retry later if the status is 5xx; a 404 means the endpoint is not an IoTDA "
                "API (check its host)",
            )
        )
    return steps


def auth_failure(profile: Profile, error: IoTDAError, skew: float | None) -> Step:
    if error.error_code == ErrorCode.CLIENT_CONFIG:
        return step(
            "auth",
            FAIL,
            error.error_msg,
            "set the profile's region (e.g. cn-north-4): a host that is not a regional "
            "endpoint is signed with V11-HMAC-SHA256, which needs it",
        )
    if error.status == 0:
        return step(
            "auth",
            FAIL,
            f"the API request failed: {error.error_msg}",
            "the network steps passed, so a proxy (HTTPS_PROXY) or the TLS settings of the "
            "client differ: run with -vv --log-file to see the request",
        )
    detail = f"refused: {error.error_msg} (HTTP {error.status}); {skew_text(skew)}"
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
    return step("auth", FAIL, detail, fix)


async def tunnel_steps(client: IoTDAClient) -> list[Step]:
    try:
        tunnels = await client.list_tunnels()
    except IoTDAError as exc:
        message = exc.error_msg.lower()
        if exc.status == 403 and ("edition" in message or "basic" in message):
            return [
                step(
                    "edition",
                    FAIL,
                    f"tunnels refused: {exc.error_msg} (HTTP 403)",
                    "the Basic edition has no device tunnels: use a Standard or Enterprise "
                    "instance (IoTDA console → Instances) and its endpoint",
                )
            ]
        edition = step("edition", NOT_APPLICABLE, "not refused for the edition")
        if exc.status == 403:
            return [
                edition,
                step(
                    "tunnels",
                    FAIL,
                    f"not allowed to read tunnels: {exc.error_msg} (HTTP 403)",
                    "grant the IAM user tunnel permissions on IoTDA (e.g. IoTDA FullAccess, "
                    "or iotda:tunnels:*); a Basic edition instance refuses tunnels too",
                ),
            ]
        return [edition, step("tunnels", FAIL, f"listing tunnels failed: {exc}", "retry later")]
    return [
        step("edition", OK, "tunnels are available"),
        step("tunnels", OK, f"allowed; {len(tunnels)} tunnel(s) in the project"),
    ]
