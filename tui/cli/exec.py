"""`iotunnel exec`: a command on one device, or on many (issue 11 §1, §2).

    iotunnel exec DEVICE_ID [connection options] [--login-user U] [--timeout S] [--json] -- CMD…
    iotunnel exec (--all | --filter TEXT | --devices-file FILE) [--concurrency N] … -- CMD…

The words after `--` reach the device as an argv, each quoted for its shell. Exit codes:
one device: the command's own status (0–255), 124 when it timed out, 255 when it could
not run (offline, login failed, platform error); many devices: 0 only if every selected
device is ok, else 1; 2 bad usage; 130 interrupted (every tunnel opened is given back).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import ssl
import sys
from collections.abc import Sequence
from typing import Any

from tui.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, LOGIN_PASSWORD_ENV
from tui.cli.exec_view import FleetView
from tui.cli.options import positive_int, refuse_secret_flag
from tui.cli.remote import Connection, RemoteUsageError, connection_parent, resolve_connection

LOGIN_USER_ENV = "IOTUNNEL_LOGIN_USER"
EXIT_TIMEOUT = 124  # as timeout(1)
EXIT_NOT_RUN = 255  # as ssh(1) for its own errors


class _ExecParser(argparse.ArgumentParser):
    """Everything after the first `--` is the command, untouched by option parsing
    (argparse alone cannot mix an optional DEVICE_ID, options and a trailing argv)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        command: list[str] | None = None
        if "--" in words:
            at = words.index("--")
            words, command = words[:at], words[at + 1 :]
        parsed, extra = super().parse_known_args(words, namespace)
        parsed.command = command
        return parsed, extra


def add_exec(sub: argparse._SubParsersAction) -> None:
    saved = sub._parser_class
    sub._parser_class = _ExecParser
    try:
        p = sub.add_parser(
            "exec",
            parents=[connection_parent()],
            help="run a command on a device (or many) over tunnels",
            usage="iotunnel exec (DEVICE_ID | --all | --filter TEXT | --devices-file FILE) "
            "[options] -- COMMAND [ARG...]",
            description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    finally:
        sub._parser_class = saved
    p.set_defaults(run=run_exec)
    p.add_argument("device_id", metavar="DEVICE_ID", nargs="?", help="the device (one-device form)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every device of the project")
    which.add_argument("--filter", metavar="TEXT", help="devices the dashboard's `/` filter shows")
    which.add_argument("--devices-file", metavar="FILE", help="device ids, one a line (# comments)")
    p.add_argument(
        "--concurrency", type=positive_int, default=10, help="devices at once (default 10, max 100)"
    )
    p.add_argument("--login-user", help=f"device login (${LOGIN_USER_ENV})")
    p.add_argument(
        "--login-password-file",
        help=f"file (mode 0600) holding the device password (${LOGIN_PASSWORD_ENV}; "
        "else asked for on a terminal)",
    )
    refuse_secret_flag(p, "--login-password", f"--login-password-file or ${LOGIN_PASSWORD_ENV}")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per device, all included (60)"
    )


# --- options -----------------------------------------------------------------------------


def _login(args: argparse.Namespace) -> Any:
    from tui.iotda.secretfile import SecretFileError, read_secret_file
    from tui.session.exec import ExecLogin

    user = args.login_user or os.environ.get(LOGIN_USER_ENV)
    if not user:
        raise RemoteUsageError(f"no device login: give --login-user or ${LOGIN_USER_ENV}")
    if args.login_password_file:
        try:
            password = read_secret_file(args.login_password_file)
        except SecretFileError as exc:
            raise RemoteUsageError(str(exc)) from None
    else:
        password = os.environ.get(LOGIN_PASSWORD_ENV) or ""
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"password for {user} on the device: ")
    if not password:
        raise RemoteUsageError(
            f"no device password: give --login-password-file or ${LOGIN_PASSWORD_ENV}"
        )
    return ExecLogin(user, password)


def _check(args: argparse.Namespace) -> None:
    fleet = args.all or args.filter is not None or args.devices_file is not None
    if not args.command:
        raise RemoteUsageError("no command: put it after `--`, e.g. iotunnel exec DEV -- uptime")
    if fleet and args.device_id:
        raise RemoteUsageError("give DEVICE_ID or --all/--filter/--devices-file, not both")
    if not fleet and not args.device_id:
        raise RemoteUsageError("give DEVICE_ID, or --all/--filter/--devices-file")
    if not 1 <= args.concurrency <= 100:
        raise RemoteUsageError("--concurrency must be 1 to 100 (IoTDA's concurrent logins)")
    if not args.timeout > 0:
        raise RemoteUsageError("--timeout must be above 0 seconds")


def _devices_file(path: str) -> list[str]:
    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115 - read at once
    except OSError as exc:
        raise RemoteUsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RemoteUsageError(f"{path} is not UTF-8 text") from None
    ids = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    ids = [device_id for device_id in ids if device_id]
    if not ids:
        raise RemoteUsageError(f"{path} names no device")
    return ids


def _ssl_context(conn: Connection) -> ssl.SSLContext | None:
    if isinstance(conn.verify, str):  # a CA bundle: for the tunnel's wss:// as for REST
        return ssl.create_default_context(cafile=conn.verify)
    return None


def _audit(args: argparse.Namespace, conn: Connection) -> Any:
    from tui.session.audit import AuditContext, AuditLog, platform_identity

    context = AuditContext(
        identity=platform_identity(conn.auth),
        endpoint=conn.endpoint,
        profile=getattr(args, "profile", None),
    )
    return AuditLog(context=context)


# --- running -------------------------------------------------------------------------------


def run_exec(args: argparse.Namespace) -> int:
    try:
        _check(args)
        conn = resolve_connection(args)
        login = _login(args)
        targets_file = _devices_file(args.devices_file) if args.devices_file else None
    except RemoteUsageError as exc:
        print(f"iotunnel: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(_main(args, conn, login, targets_file))
    except BrokenPipeError:  # the fleet view's reader went away
        _silence_stdout()
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            "iotunnel: interrupted; every tunnel this exec opened was given back", file=sys.stderr
        )
        return EXIT_INTERRUPTED


async def _main(
    args: argparse.Namespace, conn: Connection, login: Any, targets_file: list[str] | None
) -> int:

    async with conn.client() as client:
        if args.device_id:
            return await _one(args, client, conn, login)
        return await _fleet(args, client, conn, login, targets_file)


async def _one(args: argparse.Namespace, client: Any, conn: Connection, login: Any) -> int:
    from tui.session.exec import FAILED, OK, TIMEOUT, exec_command

    out = sys.stdout.buffer

    def stream(data: bytes) -> None:
        try:
            out.write(data)
            out.flush()
        except BrokenPipeError:  # `… | head` has read enough: the exec still ends cleanly
            _silence_stdout()

    result = await exec_command(
        client,
        args.device_id,
        args.command,
        login,
        timeout=args.timeout,
        on_output=None if args.json else stream,
        audit=_audit(args, conn),
        ssl_context=_ssl_context(conn),
    )
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    elif result.status not in (OK, FAILED):
        print(f"iotunnel: {result.device_id}: {result.status}: {result.error}", file=sys.stderr)
    if result.status in (OK, FAILED) and result.exit_code is not None:
        return result.exit_code
    return EXIT_TIMEOUT if result.status == TIMEOUT else EXIT_NOT_RUN


async def _fleet(
    args: argparse.Namespace,
    client: Any,
    conn: Connection,
    login: Any,
    targets_file: list[str] | None,
) -> int:
    from tui.session.fleet_exec import FleetExec, FleetTarget, list_targets

    if targets_file is not None:
        targets = [FleetTarget(device_id) for device_id in targets_file]
    elif args.filter is not None:
        targets = await _filtered(client, args.filter)
    else:
        targets = await list_targets(client)
    if not targets:
        print("iotunnel: no device matches", file=sys.stderr)
        return EXIT_FAILED
    view = FleetView(len(targets), json_lines=args.json, out=sys.stdout, live=sys.stdout.isatty())
    fleet = FleetExec(
        client,
        args.command,
        login,
        concurrency=args.concurrency,
        timeout=args.timeout,
        on_progress=view.progress,
        audit=_audit(args, conn),
        ssl_context=_ssl_context(conn),
    )
    try:
        results = await fleet.run(targets)
    except asyncio.CancelledError:
        view.interrupted(fleet.summary(), len(fleet.tunnels_opened))
        raise
    view.finish(fleet.summary())
    return EXIT_OK if results and all(result.ok for result in results) else EXIT_FAILED


def _silence_stdout() -> None:
    """The reader of stdout is gone: send the rest to /dev/null (no error at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


async def _filtered(client: Any, query: str) -> list[Any]:
    # the dashboard's own rows and matcher: the same query selects the same devices
    from tui.app.device_table import DeviceRow
    from tui.app.filtering import filter_rows
    from tui.session.fleet_exec import FleetTarget

    rows = [DeviceRow.of(device) async for device in client.list_devices(limit=50)]
    return [
        FleetTarget(row.device.device_id, str(row.device.status))
        for row in filter_rows(rows, query)
    ]
