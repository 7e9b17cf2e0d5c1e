"""`iotunnel profiles list` and `iotunnel profiles check [NAME] [--json]`.

`check` diagnoses a profile step by step (tui/session/diagnose.py) and exits 0 only when
every step passed, 1 when one failed, 2 when the profile cannot be found or read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError

_MARKS = {"ok": "[ ok ]", "fail": "[FAIL]", "skipped": "[skip]", "n/a": "[ -- ]"}


def add_profiles(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profiles", help="list the configured profiles or check one")
    cmds = p.add_subparsers(dest="profiles_command", metavar="ACTION", required=True)
    lst = cmds.add_parser("list", help="the profiles of the config file")
    lst.add_argument("--json", action="store_true", help="machine-readable JSON output")
    lst.set_defaults(run=_run_list)
    check = cmds.add_parser(
        "check", help="diagnose a profile: DNS, TCP, TLS, auth, project, permissions"
    )
    check.add_argument("name", nargs="?", metavar="NAME", help="profile (default: --profile)")
    check.add_argument("--json", action="store_true", help="machine-readable JSON output")
    check.add_argument(
        "--timeout", type=float, default=5.0, help="seconds allowed per network step"
    )
    check.add_argument("--profile", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    check.set_defaults(run=_run_check)


def _load() -> Any:
    from tui.app.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _run_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config = _load()
    rows = []
    for name, profile in config.profiles.items():
        default = name == config.default_profile or (
            config.default_profile is None and len(config.profiles) == 1
        )
        rows.append(
            {
                "name": name,
                "default": default,
                "endpoint": profile.endpoint,
                "project_id": profile.project_id,
                "region": profile.region,
                "instance_id": profile.instance_id,
                "auth": profile.auth.type,
                "extensions": "auto" if profile.extensions is None else profile.extensions,
            }
        )
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif not rows:
        out.write(f"no profiles in {config.path}\n")
    else:
        from tui.cli.remote import table

        cells = []
        for r in rows:
            mark = "* " if r["default"] else "  "
            cells.append((mark + r["name"], r["endpoint"], r["project_id"], r["auth"]))
        out.write(table(cells, ("  PROFILE", "ENDPOINT", "PROJECT_ID", "AUTH")) + "\n")
    return EXIT_OK


def profile_target(name: str | None, *, clock: Callable[[], datetime] | None = None) -> Any:
    """The diagnose.Profile of a configured profile; UsageError when there is none.

    A profile whose credentials cannot be read is still diagnosed: its first step fails.
    """
    from tui.app.config import ConfigError, build_auth
    from tui.session.diagnose import Profile

    config = _load()
    try:
        profile = config.profile(name)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    auth, problem = None, None
    try:
        auth = build_auth(profile, config.path or "config", clock=clock)
    except ConfigError as exc:
        problem = str(exc)
    return Profile(
        name=profile.name,
        endpoint=profile.endpoint.rstrip("/"),
        project_id=profile.project_id,
        auth=auth,
        region=profile.region,
        instance_id=profile.instance_id,
        verify=profile.verify,
        config_problem=problem,
        extensions=profile.extensions,
    )


def render(diagnosis: Any) -> str:
    """The human report: one line a step, the fix indented below a failed one."""
    lines = [f"profile {diagnosis.profile}: {diagnosis.endpoint}"]
    width = max(len(step.title) for step in diagnosis.steps)
    for step in diagnosis.steps:
        lines.append(f"{_MARKS.get(step.status, step.status)} {step.title:<{width}}  {step.detail}")
        if step.fix:
            lines.append(f"       {'':<{width}}  fix: {step.fix}")
    failed = [s.title for s in diagnosis.steps if s.status == "fail"]
    lines.append("all checks passed" if diagnosis.ok else f"failed: {', '.join(failed)}")
    return "\n".join(lines)


def _run_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import asyncio

    from tui.session.diagnose import diagnose

    out = out or sys.stdout
    target = profile_target(args.name or getattr(args, "profile", None))
    diagnosis = asyncio.run(diagnose(target, timeout=args.timeout))
    if args.json:
        json.dump(diagnosis.to_json(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(render(diagnosis) + "\n")
    return EXIT_OK if diagnosis.ok else EXIT_FAILED
