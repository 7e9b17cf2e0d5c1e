"""The `iotunnel` command: the only place that wires the parts together (DESIGN.md).

Each sub-command has an `_add_<name>` function that declares its options and a
`_run_<name>` function that runs it. Parts are imported inside the run functions so
that `iotunnel --help` stays fast and one part's dependencies never load for another.
Exit codes: 0 ok, 1 operation failed (platform error), 2 bad usage or configuration,
130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("iotunnel")


class UsageError(Exception):
    """A bad option or configuration: printed as one line, exit 2."""


# --- platform ----------------------------------------------------------------------------


def _add_platform(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platform", help="run the local IoTDA-compatible platform")
    p.set_defaults(run=_run_platform)


def _run_platform(args: argparse.Namespace) -> int:
    raise UsageError("platform: not built yet")


# --- agent -------------------------------------------------------------------------------


def _add_agent(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="run the device agent for one device")
    p.set_defaults(run=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    raise UsageError("agent: not built yet")


# --- fleet -------------------------------------------------------------------------------


def _add_fleet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help="run simulated devices against a platform")
    p.set_defaults(run=_run_fleet)


def _run_fleet(args: argparse.Namespace) -> int:
    raise UsageError("fleet: not built yet")


# --- replay ------------------------------------------------------------------------------


def _add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="play an asciicast v2 or raw capture in the pane")
    p.set_defaults(run=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    raise UsageError("replay: not built yet")


# --- devices / tunnels (scriptable CLI) --------------------------------------------------


def _add_devices(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list or show devices")
    p.set_defaults(run=_run_devices)


def _run_devices(args: argparse.Namespace) -> int:
    raise UsageError("devices: not built yet")


def _add_tunnels(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tunnels", help="create, list, show, close or delete tunnels")
    p.set_defaults(run=_run_tunnels)


def _run_tunnels(args: argparse.Namespace) -> int:
    raise UsageError("tunnels: not built yet")


# --- demo and the dashboard --------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="local platform + simulated fleet + dashboard, one command")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    raise UsageError("demo: not built yet")


def _run_dashboard(args: argparse.Namespace) -> int:
    raise UsageError("dashboard: not built yet")


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
    parser.set_defaults(run=_run_dashboard)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
    handler: logging.Handler
    if getattr(args, "log_file", None):
        handler = logging.FileHandler(args.log_file)
        level = logging.DEBUG
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


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


if __name__ == "__main__":
    raise SystemExit(main())
