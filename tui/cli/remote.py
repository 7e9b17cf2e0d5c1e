"""`iotunnel devices …` and `iotunnel tunnels …`: the scriptable REST commands.

Connection settings come from flags, then the environment (IOTUNNEL_ENDPOINT,
IOTUNNEL_PROJECT_ID, IOTUNNEL_AK, IOTUNNEL_SK, IOTUNNEL_TOKEN), then the config profile.
Secrets never go on the command line (`ps` shows it to every user): `--sk-file` and
`--token-file` name 0600 files, or the environment holds them.
Exit codes: 0 ok, 1 platform error (error_msg and HTTP status on stderr), 2 usage/config.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from tui.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.cli.options import refuse_secret_flag
from tui.iotda.errors import ErrorCode, IoTDAError
from tui.iotda.models import DEVICE_PAGE_LIMIT_MAX, Device, DeviceDetail, Tunnel
from tui.iotda.redact import mask
from tui.iotda.secretfile import SecretFileError, read_secret_file


class RemoteUsageError(Exception):
    """Bad options or configuration: one line on stderr, exit 2."""


@dataclass(frozen=True)
class Connection:
    endpoint: str
    project_id: str
    auth: Any
    instance_id: str | None = None
    verify: bool | str = True

    def client(self) -> Any:
        """A REST client for this connection (an async context manager)."""
        from tui.iotda.client import IoTDAClient

        return IoTDAClient(
            self.endpoint,
            self.project_id,
            self.auth,
            instance_id=self.instance_id,
            verify=self.verify,
        )


# --- options -----------------------------------------------------------------------------


def connection_parent() -> argparse.ArgumentParser:
    """Options every REST command takes (a parent parser: they go after the command)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (flags, else environment, else profile)")
    group.add_argument("--endpoint", help="REST endpoint, e.g. https://iotda.… (IOTUNNEL_ENDPOINT)")
    group.add_argument("--project-id", help="project id (IOTUNNEL_PROJECT_ID)")
    group.add_argument("--instance-id", help="IoTDA instance id (IOTUNNEL_INSTANCE_ID)")
    group.add_argument("--region", help="region, for derived AK/SK signing (IOTUNNEL_REGION)")
    group.add_argument("--ak", help="access key (IOTUNNEL_AK)")
    group.add_argument("--sk-file", help="file holding the secret key, mode 0600 (IOTUNNEL_SK)")
    group.add_argument("--token-file", help="file holding an IAM token, mode 0600 (IOTUNNEL_TOKEN)")
    refuse_secret_flag(parent, "--sk", "--sk-file or IOTUNNEL_SK")
    refuse_secret_flag(parent, "--token", "--token-file or IOTUNNEL_TOKEN")
    group.add_argument("--ca-file", help="CA bundle for a TLS endpoint (IOTUNNEL_CA_FILE)")
    parent.add_argument("--json", action="store_true", help="machine-readable JSON output")
    # as users type it: `iotunnel devices list --profile lab` (SUPPRESS keeps a top-level one)
    parent.add_argument(
        "--profile", default=argparse.SUPPRESS, help="config profile to use (default: the config's)"
    )
    return parent


def add_devices_commands(sub: argparse._SubParsersAction, run: Callable[..., int]) -> None:
    parent = connection_parent()
    p = sub.add_parser("devices", help="list or show devices")
    p.set_defaults(run=run)
    cmds = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    lst = cmds.add_parser("list", parents=[parent], help="list devices, newest first")
    lst.add_argument("--product-id", help="only devices of this product")
    lst.add_argument("--limit", type=_positive_int, help="at most N devices (default: all)")
    show = cmds.add_parser("show", parents=[parent], help="show one device")
    show.add_argument("device_id", metavar="DEVICE_ID")
    show.add_argument("--show-secret", action="store_true", help="do not mask auth_info.secret")


def add_tunnels_commands(sub: argparse._SubParsersAction, run: Callable[..., int]) -> None:
    parent = connection_parent()
    p = sub.add_parser("tunnels", help="create, list, show, close or delete tunnels")
    p.set_defaults(run=run)
    cmds = p.add_subparsers(dest="tunnels_command", metavar="ACTION", required=True)
    create = cmds.add_parser("create", parents=[parent], help="create a tunnel to a device")
    create.add_argument("device_id", metavar="DEVICE_ID")
    create.add_argument("--show-token", action="store_true", help="print the token unmasked")
    lst = cmds.add_parser("list", parents=[parent], help="list tunnels")
    lst.add_argument("--device-id", help="only tunnels of this device")
    lst.add_argument("--show-token", action="store_true", help="print stored tokens unmasked")
    for name, text in (("show", "show"), ("close", "close"), ("delete", "delete (closed only)")):
        cmd = cmds.add_parser(name, parents=[parent], help=f"{text} one tunnel")
        cmd.add_argument("tunnel_id", metavar="TUNNEL_ID")
        if name == "show":
            cmd.add_argument("--show-token", action="store_true", help="print the token unmasked")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# --- connection ----------------------------------------------------------------------------


def _setting(args: argparse.Namespace, name: str, env: str) -> str | None:
    value = getattr(args, name, None) or os.environ.get(env)
    return value or None


def _secret(args: argparse.Namespace, file_option: str, env: str) -> str | None:
    """A secret from the 0600 file a flag names, else from the environment."""
    path = getattr(args, file_option, None)
    if path:
        try:
            return read_secret_file(path)
        except SecretFileError as exc:
            raise RemoteUsageError(str(exc)) from None
    return os.environ.get(env) or None


def resolve_connection(args: argparse.Namespace) -> Connection:
    """Flags, then IOTUNNEL_* variables, then the config profile (tui/app/config.py)."""
    from tui.iotda.auth import AkSkAuth, TokenAuth

    endpoint = _setting(args, "endpoint", "IOTUNNEL_ENDPOINT")
    project_id = _setting(args, "project_id", "IOTUNNEL_PROJECT_ID")
    instance_id = _setting(args, "instance_id", "IOTUNNEL_INSTANCE_ID")
    region = _setting(args, "region", "IOTUNNEL_REGION")
    token = _secret(args, "token_file", "IOTUNNEL_TOKEN")
    ak, sk = _setting(args, "ak", "IOTUNNEL_AK"), _secret(args, "sk_file", "IOTUNNEL_SK")
    ca_file = _setting(args, "ca_file", "IOTUNNEL_CA_FILE")
    if bool(ak) != bool(sk):
        raise RemoteUsageError("AK/SK auth needs both --ak/IOTUNNEL_AK and --sk-file/IOTUNNEL_SK")
    auth: Any = TokenAuth(token) if token else AkSkAuth(ak, sk, region=region) if ak else None
    if endpoint is None or project_id is None or auth is None:
        profile, profile_auth = _profile(args, need_auth=auth is None)
        if profile is None:
            missing = [
                what
                for what, value in (("--endpoint", endpoint), ("--project-id", project_id))
                if value is None
            ]
            if auth is None:
                missing.append("--token-file or --ak/--sk-file")
            raise RemoteUsageError(f"no profile configured and missing {', '.join(missing)}")
        endpoint = endpoint or profile.endpoint
        project_id = project_id or profile.project_id
        instance_id = instance_id or profile.instance_id
        auth = auth or profile_auth
        ca_file = ca_file or profile.ca_file
    verify = os.path.expanduser(ca_file) if ca_file else True
    return Connection(endpoint.rstrip("/"), project_id, auth, instance_id, verify)


def _profile(args: argparse.Namespace, *, need_auth: bool) -> tuple[Any, Any]:
    from tui.app.config import ConfigError, build_auth, load_config

    try:
        config = load_config()
        if not config.profiles:
            return None, None
        profile = config.profile(getattr(args, "profile", None))
        auth = build_auth(profile, config.path or "config") if need_auth else None
    except ConfigError as exc:
        raise RemoteUsageError(str(exc)) from None
    return profile, auth


# --- running -------------------------------------------------------------------------------


def run_remote(
    args: argparse.Namespace,
    action: Callable[[Any, argparse.Namespace, Connection], Awaitable[Any]],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Resolve the connection, run `action` with a client, map errors to exit codes."""

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        conn = resolve_connection(args)
    except RemoteUsageError as exc:
        print(f"iotunnel: {exc}", file=err)
        return EXIT_USAGE

    async def go() -> Any:
        async with conn.client() as client:
            return await action(client, args, conn)

    try:
        result = asyncio.run(go())
    except IoTDAError as exc:
        if (
            exc.status == 0 and exc.error_code == ErrorCode.CLIENT_CONFIG
        ):  # raised before any request
            print(f"iotunnel: {exc.error_msg}", file=err)
            return EXIT_USAGE
        status = f"HTTP {exc.status}" if exc.status else "no response"
        print(f"iotunnel: {exc.error_msg} ({status}, {exc.error_code})", file=err)
        return EXIT_FAILED
    except RemoteUsageError as exc:
        print(f"iotunnel: {exc}", file=err)
        return EXIT_USAGE
    _print(result, args, out)
    return EXIT_OK


def _print(result: Any, args: argparse.Namespace, out: TextIO) -> None:
    if result is None:
        return
    body, text = result
    if getattr(args, "json", False):
        json.dump(body, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif text:
        out.write(text if text.endswith("\n") else text + "\n")


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


# --- devices -------------------------------------------------------------------------------


async def devices_action(client: Any, args: argparse.Namespace, conn: Connection) -> Any:
    if args.devices_command == "list":
        limit = args.limit
        page = min(limit or DEVICE_PAGE_LIMIT_MAX, DEVICE_PAGE_LIMIT_MAX)
        devices: list[Device] = []
        async for device in client.list_devices(limit=page, product_id=args.product_id):
            devices.append(device)
            if limit is not None and len(devices) >= limit:
                break
        rows = [(d.device_id, str(d.status), d.display_name, d.product_id) for d in devices]
        text = table(rows, ("DEVICE_ID", "STATUS", "NAME", "PRODUCT_ID"))
        return [d.to_json() for d in devices], text
    detail: DeviceDetail = await client.show_device(args.device_id)
    body = detail.to_json(show_secret=args.show_secret)
    return body, "\n".join(human_lines(body))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def human_lines(body: dict[str, Any], prefix: str = "") -> list[str]:
    """`key: value` lines for people: nested objects as dotted keys, tags as k=v, no reprs."""
    lines: list[str] = []
    for key, value in body.items():
        name = f"{prefix}{key}"
        if value in (None, [], {}, ""):
            continue
        if key == "tags" and isinstance(value, list):
            pairs = (f"{t.get('tag_key')}={t.get('tag_value') or ''}" for t in value)
            lines.append(f"{name}: {', '.join(pairs)}")
        elif isinstance(value, dict):
            lines.extend(human_lines(value, f"{name}."))
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            lines.append(f"{name}: {', '.join(_scalar(v) for v in value)}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                item = item if isinstance(item, dict) else {"value": item}
                lines.extend(human_lines(item, f"{name}[{index}]."))
        else:
            lines.append(f"{name}: {_scalar(value)}")
    return lines


# --- tunnels -------------------------------------------------------------------------------


def _tunnel_rows(tunnels: Sequence[Tunnel], tokens: dict[str, str]) -> str:
    rows = [
        (
            t.tunnel_id,
            t.device_id,
            str(t.status),
            str(t.source_connect_state.status),
            str(t.device_connect_state.status),
            t.create_time or "",
            tokens.get(t.tunnel_id, "-"),
        )
        for t in tunnels
    ]
    header = ("TUNNEL_ID", "DEVICE_ID", "STATUS", "SOURCE", "DEVICE", "CREATED", "TOKEN")
    return table(rows, header)


def _tunnel_json(tunnel: Tunnel, tokens: dict[str, str]) -> dict[str, Any]:
    body = tunnel.to_json()
    if tunnel.is_open:  # TunnelInfo's closed_time is the last update: no close time yet
        body.pop("closed_time", None)
    if tunnel.tunnel_id in tokens:
        body["tunnel_access_token"] = tokens[tunnel.tunnel_id]
    return body


def _stored_tokens(conn: Connection, tunnels: Sequence[Tunnel], show: bool) -> dict[str, str]:
    """Tokens of the tunnels this client created (the platform never shows one again)."""
    from tui.session.tokens import TokenStore

    store = TokenStore()
    tokens: dict[str, str] = {}
    for tunnel in tunnels:
        stored = store.get(conn.endpoint, conn.project_id, tunnel.tunnel_id)
        if stored is not None:
            tokens[tunnel.tunnel_id] = stored.token if show else mask(stored.token)
    return tokens


async def tunnels_action(client: Any, args: argparse.Namespace, conn: Connection) -> Any:
    from tui.session.tokens import StoredTunnel, TokenStore

    command = args.tunnels_command
    if command == "create":
        started = time.time()
        created = await client.create_tunnel(args.device_id)
        stored = StoredTunnel.from_created(
            conn.endpoint, conn.project_id, args.device_id, created, now=started
        )
        try:
            TokenStore().put(stored)
        except OSError as exc:  # the tunnel exists: say so rather than fail
            print(f"iotunnel: warning: token not stored: {exc.strerror}", file=sys.stderr)
        token = created.tunnel_access_token if args.show_token else mask(stored.token)
        created_body = {
            "tunnel_id": created.tunnel_id,
            "device_id": args.device_id,
            "tunnel_access_token": token,
            "expires_in": created.expires_in,
            "expires_at": int(stored.expires_at),
            "tunnel_uri": created.tunnel_uri,
        }
        return created_body, "\n".join(f"{k}: {v}" for k, v in created_body.items())
    if command in ("list", "show"):
        if command == "list":
            tunnels = await client.list_tunnels(args.device_id)
        else:
            tunnels = [await client.show_tunnel(args.tunnel_id)]
        tokens = _stored_tokens(conn, tunnels, args.show_token)
        body: Any = [_tunnel_json(t, tokens) for t in tunnels]
        return (body if command == "list" else body[0]), _tunnel_rows(tunnels, tokens)
    if command == "close":
        await client.close_tunnel(args.tunnel_id)
        return {"tunnel_id": args.tunnel_id, "closed": True}, f"closed {args.tunnel_id}"
    await client.delete_tunnel(args.tunnel_id)
    TokenStore().remove(conn.endpoint, conn.project_id, args.tunnel_id)
    return {"tunnel_id": args.tunnel_id, "deleted": True}, f"deleted {args.tunnel_id}"


# --- wiring --------------------------------------------------------------------------------


def add_devices(sub: argparse._SubParsersAction) -> None:
    add_devices_commands(sub, lambda args: run_remote(args, devices_action))


def add_tunnels(sub: argparse._SubParsersAction) -> None:
    add_tunnels_commands(sub, lambda args: run_remote(args, tunnels_action))
