"""`iotunnel platform`: the local IoTDA-compatible platform on its own."""

from __future__ import annotations

import argparse
import logging
import sys

from tui.cli import options as opt
from tui.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from tui.iotda.models import DEFAULT_TOKEN_TTL

log = logging.getLogger("iotunnel")


def add_platform(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--tls-self-signed",
        metavar="DIR",
        help="make (or reuse) a CA and a server certificate in DIR and serve https, mqtts "
        "and wss with them; the ready line names the CA file to give to devices",
    )
    p.add_argument(
        "--advertise-host",
        metavar="HOST",
        help="host name put in URIs and tunnel notices (default: --host, or this machine's "
        "name when listening on all interfaces)",
    )
    p.add_argument(
        "--keepalive",
        type=opt.positive_int,
        default=20,
        metavar="SECONDS",
        help="WebSocket ping period of tunnel links; a link silent as long again is dropped "
        "(default 20)",
    )
    p.add_argument(
        "--relay",
        choices=("iotunnel", "documented"),
        default="iotunnel",
        help="tunnel relay behaviour: iotunnel (default; our additions) or documented "
        "(only what Huawei documents)",
    )
    p.set_defaults(run=_run_platform)


def _run_platform(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import sqlite3

    from tui.iotda.service import stop_on_signal
    from tui.platform.config import PlatformConfig, SeedError, default_state_path, load_seed
    from tui.platform.server import Platform

    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("platform: --tls-cert and --tls-key go together")
    if args.tls_self_signed and args.tls_cert:
        raise UsageError("platform: --tls-self-signed or --tls-cert/--tls-key, not both")
    try:
        seed = load_seed(args.seed, private=True)
    except SeedError as exc:
        raise UsageError(str(exc)) from None
    names = (
        "host",
        "rest_port",
        "mqtt_port",
        "ws_port",
        "token_ttl",
        "tls_cert",
        "tls_key",
        "tls_self_signed",
        "advertise_host",
        "keepalive",
    )
    state_path = args.state or str(default_state_path())
    config = PlatformConfig(seed, state_path, **{name: getattr(args, name) for name in names})
    config.relay_mode = args.relay

    async def serve() -> int:
        async with stop_on_signal() as stop:  # before "ready": a prompt SIGTERM stops cleanly
            interrupted = False

            def on_interrupt() -> None:  # ctrl+c: a clean stop that still says "interrupted"
                nonlocal interrupted
                interrupted = True
                stop.set()

            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_interrupt)
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
        return EXIT_INTERRUPTED if interrupted else EXIT_OK

    return asyncio.run(serve())
