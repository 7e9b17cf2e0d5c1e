"""`iotunnel agent` (one device) and `iotunnel fleet` (simulated devices)."""

from __future__ import annotations

import argparse

from tui.cli import options as opt
from tui.cli.common import LOGIN_PASSWORD_ENV, UsageError


def add_agent(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--resume-grace",
        type=float,
        help="seconds a shell is kept for the app to resume after a drop (120; 0: off)",
    )
    p.add_argument("--device-name", help="name shown in the pty prompt (default: device id)")
    p.add_argument("--keepalive", type=int, help="MQTT keepalive, 30–1200 s (default: 120)")
    p.set_defaults(run=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    from tui.agent.config import ConfigError, load_toml
    from tui.agent.runner import agent_main

    names = ("device_id", "secret_file", "mqtt", "backend", "ssh_host", "ssh_port", "login_user")
    names += ("login_password_file", "ca", "insecure", "idle_timeout", "device_name", "keepalive")
    names += ("resume_grace",)
    try:
        options = load_toml(args.config) if args.config else {}
        options.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
        return agent_main(options)
    except ConfigError as exc:
        raise UsageError(f"agent: {exc}") from None


def add_fleet(sub: argparse._SubParsersAction) -> None:
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
        seed = load_seed(args.seed, private=True)  # device secrets: 0600 like every secret file
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
            on_ready=lambda line: print(line, flush=True),
        )
    except ConfigError as exc:
        raise UsageError(f"fleet: {exc}") from None
