"""The audit log: who opened which tunnel, ran what, when (issue 11 §4).

One JSON object per line in `$XDG_STATE_HOME/iotunnel/audit.jsonl` (0600, in a 0700
directory), appended under a lock so the CLI and a dashboard can write at once, and
rotated by size to `audit.jsonl.1` … `.N`. A record holds who (local user@host and the
platform identity: the IAM user or the first characters of the AK), where (endpoint,
profile, device, tunnel), what (action, the command line of an exec) and how it went
(outcome, exit status, recording path). Never a password, token, keystroke or output:
the record type has no field for them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tui.iotda.localstate import ensure_private_dir, locked_private, state_dir

log = logging.getLogger(__name__)

AUDIT_FILE = "audit.jsonl"
MAX_BYTES = 5 * 1024 * 1024
KEEP_ROTATED = 5
AK_SHOWN = 4  # characters of an access key that identify it without giving it away

# what may happen to a tunnel or session; the app and the CLI use these names
TUNNEL_CREATE = "tunnel.create"
TUNNEL_CLOSE = "tunnel.close"
TUNNEL_DELETE = "tunnel.delete"
TUNNEL_RENEW = "tunnel.renew"
SESSION_LOGIN = "session.login"
SESSION_END = "session.end"
EXEC_START = "exec.start"
EXEC_END = "exec.end"
BROADCAST_ON = "broadcast.on"
BROADCAST_OFF = "broadcast.off"


def ak_identity(ak: str) -> str:
    """An access key as the audit shows it: its first characters only."""
    return f"AK {ak[:AK_SHOWN]}…" if ak else "AK ?"


def local_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditRecord:
    action: str
    time: str = field(default_factory=_utc_now)  # UTC, ISO 8601
    local_user: str = ""
    identity: str | None = None  # "IAM alice" / "AK ABCD…"; never a secret
    endpoint: str | None = None
    profile: str | None = None
    device_id: str | None = None
    tunnel_id: str | None = None
    outcome: str | None = None  # ok, failed, login_failed, timeout, error, …
    exit_status: int | None = None
    command: str | None = None  # an exec's command line (never its output)
    recording: str | None = None
    detail: str | None = None  # e.g. the platform's error_msg

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, body: Any) -> AuditRecord | None:
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            return None
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in body.items() if key in known}
        try:
            return cls(**values)
        except TypeError:
            return None

    @property
    def moment(self) -> dt.datetime | None:
        return parse_time(self.time)


@dataclass(frozen=True)
class AuditContext:
    """Who is acting where: filled once by the CLI or the app, stamped on each record."""

    identity: str | None = None
    endpoint: str | None = None
    profile: str | None = None
    local_user: str = field(default_factory=local_identity)


class AuditLog:
    def __init__(
        self,
        path: Path | None = None,
        *,
        context: AuditContext | None = None,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP_ROTATED,
    ) -> None:
        self.path = path if path is not None else state_dir() / AUDIT_FILE
        self.context = context or AuditContext()
        self._max_bytes = max_bytes
        self._keep = keep

    def with_context(self, context: AuditContext) -> AuditLog:
        return AuditLog(self.path, context=context, max_bytes=self._max_bytes, keep=self._keep)

    # --- writing -------------------------------------------------------------------------

    def record(self, action: str, **values: Any) -> AuditRecord | None:
        """Append one record; an audit that cannot be written is logged, never raised
        (the operation it describes has already happened)."""
        ctx = self.context
        record = AuditRecord(
            action=action,
            local_user=ctx.local_user,
            identity=values.pop("identity", ctx.identity),
            endpoint=values.pop("endpoint", ctx.endpoint),
            profile=values.pop("profile", ctx.profile),
            **values,
        )
        line = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            self._append(line.encode("utf-8"))
        except OSError as exc:
            log.warning("cannot write the audit log %s: %s", self.path, exc.strerror)
            return None
        return record

    def tunnel_event(
        self, action: str, device_id: str, tunnel_id: str | None, outcome: str = "ok", **extra: Any
    ) -> None:
        """Tunnel create/close/delete/renew (the dashboard's entry point)."""
        self.record(action, device_id=device_id, tunnel_id=tunnel_id, outcome=outcome, **extra)

    def session_event(
        self,
        action: str,
        device_id: str,
        tunnel_id: str | None,
        outcome: str = "ok",
        *,
        login_user: str | None = None,
        recording: str | None = None,
    ) -> None:
        """Session login/end; `login_user` is the device account (never its password)."""
        detail = f"login user {login_user}" if login_user else None
        self.record(
            action,
            device_id=device_id,
            tunnel_id=tunnel_id,
            outcome=outcome,
            recording=recording,
            detail=detail,
        )

    def broadcast_event(self, on: bool, device_ids: list[str]) -> None:
        self.record(
            BROADCAST_ON if on else BROADCAST_OFF,
            outcome="ok",
            detail=f"{len(device_ids)} sessions: {', '.join(device_ids)}",
        )

    def _append(self, data: bytes) -> None:
        ensure_private_dir(self.path.parent)
        with locked_private(self.path):
            self._rotate_if_full(len(data))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, data)
            finally:
                os.close(fd)

    def _rotate_if_full(self, adding: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + adding <= self._max_bytes or size == 0:
            return
        for index in range(self._keep - 1, 0, -1):
            older = self._rotated(index)
            if older.exists():
                os.replace(older, self._rotated(index + 1))
        os.replace(self.path, self._rotated(1))

    def _rotated(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    # --- reading -------------------------------------------------------------------------

    def read(
        self, *, since: dt.datetime | None = None, device_id: str | None = None
    ) -> list[AuditRecord]:
        """Records oldest first, from the rotated files and the current one."""
        keep: Callable[[AuditRecord], bool] = lambda r: (  # noqa: E731
            (device_id is None or r.device_id == device_id)
            and (since is None or ((m := r.moment) is not None and m >= since))
        )
        return [record for record in self._all() if keep(record)]

    def _all(self) -> Iterator[AuditRecord]:
        paths = [self._rotated(i) for i in range(self._keep, 0, -1)] + [self.path]
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = AuditRecord.from_json(json.loads(line))
                except json.JSONDecodeError:
                    record = None
                if record is None:
                    log.warning("%s line %d: not an audit record; skipped", path, number)
                    continue
                yield record


_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """`2h`, `30m`, `1d`, `45s`, `1w` ago, or an ISO 8601 time (UTC when it has no zone)."""
    moment = now or dt.datetime.now(dt.UTC)
    value = text.strip()
    match = _RELATIVE.fullmatch(value)
    if match:
        return moment - dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"not a duration (2h, 30m, 1d) or an ISO time: {text!r}")
    return parsed


def parse_time(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def platform_identity(auth: Any) -> str | None:
    """Who the platform sees, without a secret: `IAM <user>`, `AK <first chars>…`, or
    `IAM token` (a token names no user here)."""
    if auth is None:
        return None
    username = getattr(auth, "username", None)
    if isinstance(username, str) and username:
        return f"IAM {username}"
    ak = getattr(auth, "ak", None)
    if isinstance(ak, str):
        return ak_identity(ak)
    return "IAM token"
