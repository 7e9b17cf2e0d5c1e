"""`iotunnel` (the dashboard against a profile) and `iotunnel demo`."""

from __future__ import annotations

import argparse
import dataclasses

from tui.cli.common import UsageError, require_terminal


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="local platform + simulated fleet + dashboard, one command")
    p.add_argument(
        "--record", action="store_true", default=argparse.SUPPRESS, help="record sessions"
    )
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    require_terminal("iotunnel demo")
    from tui.app.pacing import prefer_fast_frames

    prefer_fast_frames()  # before anything imports textual
    from tui.app.config import ConfigError
    from tui.cli.demo import main_demo

    _log_to_state_file(args)
    try:
        return main_demo(record=args.record)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _log_to_state_file(args: argparse.Namespace) -> None:
    """While the dashboard owns the terminal, log lines go to a 0600 file, not stderr."""
    if not getattr(args, "log_file", None):
        from tui.cli.logs import log_to_state_file

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
    require_terminal("iotunnel (the dashboard)")  # after the config: its errors come first
    _log_to_state_file(args)

    async def run() -> int:
        client = IoTDAClient(
            profile.endpoint,
            profile.project_id,
            auth,
            instance_id=profile.instance_id,
            verify=profile.verify,
        )
        async with client:
            # make_app gives the sessions this client and the profile's extensions key
            app = make_app(client=client, config=config, profile_name=profile.name)
            await app.run_async()
            return int(app.return_code or 0)

    return asyncio.run(run())
