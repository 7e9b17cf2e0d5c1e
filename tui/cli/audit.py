"""`iotunnel audit [--since 2h] [--device ID] [--json]`: who opened which tunnel, ran
what, when (the JSONL log under the state directory; see tui/session/audit.py)."""

from __future__ import annotations

import argparse
import json
import sys

from tui.cli.common import EXIT_OK, EXIT_USAGE


def add_audit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="read the audit log (tunnels, logins, execs, broadcasts)",
        description="Read $XDG_STATE_HOME/iotunnel/audit.jsonl, oldest first.",
    )
    p.set_defaults(run=run_audit)
    p.add_argument("--since", help="only records newer than this: 2h, 30m, 1d, or an ISO time")
    p.add_argument("--device", metavar="ID", help="only records of this device")
    p.add_argument("--json", action="store_true", help="one JSON object a line")


def run_audit(args: argparse.Namespace) -> int:
    from tui.session.audit import AuditLog, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"iotunnel: --since: {exc}", file=sys.stderr)
        return EXIT_USAGE
    records = AuditLog().read(since=since, device_id=args.device)
    out = sys.stdout
    if args.json:
        for record in records:
            out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        return EXIT_OK
    if not records:
        out.write("no audit records\n")
        return EXIT_OK
    for r in records:
        where = " ".join(
            part for part in (r.device_id, r.tunnel_id and f"tunnel {r.tunnel_id}") if part
        )
        what = r.action
        if r.command:
            what += f" `{r.command}`"
        outcome = r.outcome or ""
        if r.exit_status is not None:
            outcome += f" (exit {r.exit_status})"
        who = " ".join(part for part in (r.local_user, r.identity and f"as {r.identity}") if part)
        extra = f" · {r.detail}" if r.detail else ""
        extra += f" · recording {r.recording}" if r.recording else ""
        out.write(f"{r.time[:19]}Z  {who}  {what}  {where}  {outcome}{extra}".rstrip() + "\n")
    return EXIT_OK
