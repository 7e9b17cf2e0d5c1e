"""The `iotunnel` command: the only place that wires the parts together (docs/design.md).

One module per command group: `platform`, `agent` (agent and fleet), `remote` (devices
and tunnels), `replay`, `dashboard` (the dashboard and demo). Each has `add_<name>`
functions that declare a command's options; parts are imported inside the run functions
so that `iotunnel --help` stays fast and one part's dependencies never load for another.
Exit codes: 0 ok, 1 operation failed (platform error), 2 bad usage or configuration,
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tui.cli import agent, audit, dashboard, exec, platform, profiles, remote, replay
from tui.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

# --- entry point -------------------------------------------------------------------------

_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    dashboard.add_demo,
    platform.add_platform,
    agent.add_agent,
    agent.add_fleet,
    remote.add_devices,
    remote.add_tunnels,
    replay.add_replay,
    profiles.add_profiles,
    exec.add_exec,
    audit.add_audit,
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
    parser.set_defaults(run=dashboard._run_dashboard)
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
    from tui.cli.logs import configure_logging

    configure_logging(args.verbose, getattr(args, "log_file", None))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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
    except BrokenPipeError:  # `iotunnel … | head`: the reader left, nothing to report
        _silence_stdout()
        return EXIT_FAILED
    except Exception as exc:  # the last resort: a bug must not print a traceback at the user
        from tui.cli.logs import record_crash

        where = record_crash(exc)
        print(
            f"iotunnel: internal error ({type(exc).__name__}); details in {where}", file=sys.stderr
        )
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
