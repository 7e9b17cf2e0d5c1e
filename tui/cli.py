"""The `iotunnel` command: the only place that wires the parts together (DESIGN.md).

Each sub-command has an `_add_<name>` function that declares its options and a
`_run_<name>` function that runs it. Parts are imported inside the run functions so
that `iotunnel --help` stays fast and one part's dependencies never load for another.
Exit codes: 0 ok, 1 operation failed (platform error), 2 bad usage or configuration,
130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence

from tui import cli_options as opt
from tui.iotda.models import DEFAULT_TOKEN_TTL

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOGIN_PASSWORD_ENV = "IOTUNNEL_LOGIN_PASSWORD"

log = logging.getLogger("iotunnel")


class UsageError(Exception):
    """A bad option or configuration: printed as one line, exit 2."""


# --- platform ----------------------------------------------------------------------------


def _add_platform(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platform", help="run the local IoTDA-compatible platform")
    p.add_argument("--seed", required=True, metavar="FILE", help="seed TOML (project, devices)")
    p.add_argument("--state", metavar="PATH", help="SQLite state file (or :memory:)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--rest-port", type=opt.port, default=0, help="REST/IAM port (0 = any)")
    p.add_argument("--mqtt-port", type=opt.port, default=0, help="MQTT port (0 = any)")
    p.add_argument("--ws-port", type=opt.port, default=0, help="tunnel WebSocket port (0 = any)")
    ttl_help = "tunnel token lifetime, seconds"
    p.add_argument("--token-ttl", type=opt.positive_int, default=DEFAULT_TOKEN_TTL, help=ttl_help)
    p.add_argument("--tls-cert", metavar="FILE", help="certificate: https, mqtts and wss")
    p.add_argument("--tls-key", metavar="FILE", help="private key for --tls-cert")
    p.set_defaults(run=_run_platform)


def _run_platform(args: argparse.Namespace) -> int:
    import asyncio
    import sqlite3

    from tui.platform.config import PlatformConfig, SeedError, default_state_path, load_seed
    from tui.platform.server import Platform
    from tui.runtime import stop_on_signal

    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("platform: --tls-cert and --tls-key go together")
    try:
        seed = load_seed(args.seed)
    except SeedError as exc:
        raise UsageError(str(exc)) from None
    names = ("host", "rest_port", "mqtt_port", "ws_port", "token_ttl", "tls_cert", "tls_key")
    state_path = args.state or str(default_state_path())
    config = PlatformConfig(seed, state_path, **{name: getattr(args, name) for name in names})

    async def serve() -> int:
        async with stop_on_signal() as stop:  # before "ready": a prompt SIGTERM stops cleanly
            platform = Platform(config)
            try:
                endpoints = await platform.start()
            except (OSError, ValueError, sqlite3.Error) as exc:
                log.debug("platform start failed", exc_info=True)
                print(f"iotunnel: platform: cannot start: {exc}", file=sys.stderr)
                return EXIT_FAILED
            print(endpoints.ready_line(), flush=True)
            try:
                await stop.wait()
            finally:
                await platform.stop()
        return EXIT_OK

    return asyncio.run(serve())


# --- agent -------------------------------------------------------------------------------


def _add_agent(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agent",
        help="run the device agent for one device",
        description="Answer IoTDA tunnels for one device. Secrets come from files readable "
        "only by their owner, or from $IOTUNNEL_DEVICE_SECRET / $IOTUNNEL_LOGIN_PASSWORD.",
    )
    # every default is None: unset options fall back to --config, then to built-in defaults
    p.add_argument("--config", help="TOML file with these settings (top level or [agent])")
    p.add_argument("--device-id", help="IoTDA device id")
    p.add_argument("--secret-file", help="file holding the device secret (mode 0600)")
    p.add_argument("--mqtt", help="MQTT endpoint, mqtt://host:port or mqtts://host:port")
    p.add_argument("--backend", choices=("ssh", "pty"), help="shell backend (default: ssh)")
    p.add_argument("--ssh-host", help="SSH server of the ssh backend (default: 127.0.0.1)")
    p.add_argument("--ssh-port", type=int, help="its port (default: 22)")
    p.add_argument("--login-user", help="username the pty backend accepts")
    p.add_argument("--login-password-file", help="password the pty backend accepts (0600 file)")
    opt.add_tls_options(p)
    p.add_argument("--idle-timeout", type=float, help="seconds of no input before 408 (1800)")
    p.add_argument("--device-name", help="name shown in the pty prompt (default: device id)")
    p.add_argument("--keepalive", type=int, help="MQTT keepalive, 30–1200 s (default: 120)")
    p.set_defaults(run=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    from tui.agent.config import ConfigError, load_toml
    from tui.agent.runner import agent_main

    names = ("device_id", "secret_file", "mqtt", "backend", "ssh_host", "ssh_port", "login_user")
    names += ("login_password_file", "ca", "insecure", "idle_timeout", "device_name", "keepalive")
    try:
        options = load_toml(args.config) if args.config else {}
        options.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
        return agent_main(options)
    except ConfigError as exc:
        raise UsageError(f"agent: {exc}") from None


# --- fleet -------------------------------------------------------------------------------


def _add_fleet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fleet",
        help="run simulated devices against a platform",
        description="Run a seed file's devices as simulated agents (pty backend). "
        "SIGUSR1 takes a random device offline, SIGUSR2 brings every device back. "
        "The shells' password comes from --password-file (0600) or "
        f"${LOGIN_PASSWORD_ENV}, else it is the demo login's (demo).",
    )
    p.add_argument("--seed", required=True, help="the platform's seed TOML (device secrets)")
    p.add_argument("--mqtt", required=True, help="MQTT endpoint, mqtt[s]://host:port")
    p.add_argument("--count", type=opt.positive_int, help="run only the first N devices")
    p.add_argument("--username", help="login the shells accept (default: demo)")
    p.add_argument("--password-file", help="password the shells accept (0600 file)")
    opt.refuse_secret_flag(p, "--password", f"--password-file or ${LOGIN_PASSWORD_ENV}")
    flap_help = "toggle DEVICE offline/online every SECONDS (repeatable)"
    p.add_argument("--flap", action="append", type=opt.flap, default=[], help=flap_help)
    opt.add_tls_options(p)
    p.set_defaults(run=_run_fleet)


def _run_fleet(args: argparse.Namespace) -> int:
    import os

    from tui.agent.config import ConfigError
    from tui.agent.fleet import DEMO_PASSWORD, DEMO_USER, FleetDevice
    from tui.agent.runner import fleet_main
    from tui.iotda.secretfile import SecretFileError, read_secret_file
    from tui.platform.config import SeedError, load_seed

    try:
        seed = load_seed(args.seed)
        password = (
            read_secret_file(args.password_file)
            if args.password_file
            else os.environ.get(LOGIN_PASSWORD_ENV) or DEMO_PASSWORD
        )
    except (SeedError, SecretFileError) as exc:
        raise UsageError(f"fleet: {exc}") from None
    devices = [FleetDevice(d.device_id, d.secret, d.device_name) for d in seed.devices]
    devices = devices[: args.count] if args.count is not None else devices
    try:
        return fleet_main(
            devices,
            args.mqtt,
            username=args.username or DEMO_USER,
            password=password,
            flaps=args.flap,
            ca_file=args.ca,
            insecure=bool(args.insecure),
        )
    except ConfigError as exc:
        raise UsageError(f"fleet: {exc}") from None


# --- replay ------------------------------------------------------------------------------


def _add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="play an asciicast v2 or raw capture in the pane")
    p.add_argument("file", help="asciicast v2 recording (.cast) or raw byte capture")
    p.add_argument("--cols", type=int, help="terminal width (default: recording's, else 80)")
    p.add_argument("--rows", type=int, help="terminal height (default: recording's, else 24)")
    p.add_argument("--speed", type=float, default=1.0, help="speed factor; 0 plays all at once")
    p.add_argument("--screen", action="store_true", help="print the final screen as text, no UI")
    p.set_defaults(run=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from tui.terminal.recording import RecordingError, final_screen, load_recording

    for option in ("cols", "rows"):
        value = getattr(args, option)
        if value is not None and not 1 <= value <= 1000:
            raise UsageError(f"replay: --{option} must be between 1 and 1000")
    if args.speed < 0:
        raise UsageError("replay: --speed must be 0 or more")
    try:
        recording = load_recording(args.file)
    except RecordingError as exc:
        raise UsageError(f"replay: {exc}") from None
    if args.screen:
        sys.stdout.write(final_screen(recording, args.cols, args.rows) + "\n")
        return EXIT_OK
    from tui.terminal.replay_app import ReplayApp

    ReplayApp(recording, cols=args.cols, rows=args.rows, speed=args.speed).run()
    return EXIT_OK


# --- devices / tunnels (scriptable CLI) --------------------------------------------------


def _add_devices(sub: argparse._SubParsersAction) -> None:
    from tui.cli_remote import add_devices_commands

    add_devices_commands(sub, _run_devices)


def _run_devices(args: argparse.Namespace) -> int:
    from tui.cli_remote import devices_action, run_remote

    return run_remote(args, devices_action)


def _add_tunnels(sub: argparse._SubParsersAction) -> None:
    from tui.cli_remote import add_tunnels_commands

    add_tunnels_commands(sub, _run_tunnels)


def _run_tunnels(args: argparse.Namespace) -> int:
    from tui.cli_remote import run_remote, tunnels_action

    return run_remote(args, tunnels_action)


# --- demo and the dashboard --------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="local platform + simulated fleet + dashboard, one command")
    p.add_argument(
        "--record", action="store_true", default=argparse.SUPPRESS, help="record sessions"
    )
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from tui.app.pacing import prefer_fast_frames

    prefer_fast_frames()  # before anything imports textual
    from tui.app.config import ConfigError
    from tui.demo import main_demo

    _log_to_state_file(args)
    try:
        return main_demo(record=args.record)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _log_to_state_file(args: argparse.Namespace) -> None:
    """While the dashboard owns the terminal, log lines go to a 0600 file, not stderr."""
    if not getattr(args, "log_file", None):
        from tui.runtime import log_to_state_file

        log_to_state_file()


def _run_dashboard(args: argparse.Namespace) -> int:
    import asyncio

    from tui.app.pacing import prefer_fast_frames

    prefer_fast_frames()  # before anything imports textual
    from tui.app.config import ConfigError, build_auth, load_config
    from tui.app.factory import make_app
    from tui.iotda.client import IoTDAClient

    try:
        config = load_config()
        if args.record:
            config = dataclasses.replace(config, record_sessions=True)
        profile = config.profile(args.profile)
        auth = build_auth(profile, config.path or "config")
    except ConfigError as exc:
        hint = " (or try `iotunnel demo`)" if "no profile" in exc.problem else ""
        raise UsageError(f"{exc}{hint}") from None
    _log_to_state_file(args)

    async def run() -> int:
        client = IoTDAClient(
            profile.endpoint, profile.project_id, auth, instance_id=profile.instance_id
        )
        async with client:
            app = make_app(client=client, config=config, profile_name=profile.name)
            await app.run_async()
            return int(app.return_code or 0)

    return asyncio.run(run())


# --- entry point -------------------------------------------------------------------------

_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_demo,
    _add_platform,
    _add_agent,
    _add_fleet,
    _add_devices,
    _add_tunnels,
    _add_replay,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iotunnel",
        description="Keyboard-first dashboard for Huawei Cloud IoTDA device tunnels.",
    )
    parser.add_argument("--profile", help="config profile to use (default: the config's default)")
    parser.add_argument("--log-file", help="write a debug log to this file")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument(
        "--record",
        action="store_true",
        help="record every session's output (never its input) for `iotunnel replay`",
    )
    parser.set_defaults(run=_run_dashboard)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    # `iotunnel agent -v` works as well as `iotunnel -v agent`; SUPPRESS keeps the
    # top-level value when the sub-command does not repeat the option
    for command in sub.choices.values():
        command.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output"
        )
        command.add_argument(
            "--log-file", default=argparse.SUPPRESS, help="write a debug log to this file"
        )
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    from tui.runtime import configure_logging

    configure_logging(args.verbose, getattr(args, "log_file", None))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    try:
        return int(args.run(args) or EXIT_OK)
    except UsageError as exc:
        print(f"iotunnel: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last resort: a bug must not print a traceback at the user
        from tui.runtime import record_crash

        where = record_crash(exc)
        print(
            f"iotunnel: internal error ({type(exc).__name__}); details in {where}", file=sys.stderr
        )
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
