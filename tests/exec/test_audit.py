"""The audit log: file mode, rotation, reading with filters, nothing secret in it."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from tui.iotda.auth import AkSkAuth, TokenAuth
from tui.session.audit import (
    EXEC_END,
    SESSION_LOGIN,
    TUNNEL_CREATE,
    AuditContext,
    AuditLog,
    AuditRecord,
    parse_since,
    platform_identity,
)


def test_records_append_as_private_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.jsonl"
    log = AuditLog(path, context=AuditContext(identity="AK ABCD…", endpoint="https://x"))
    log.tunnel_event(TUNNEL_CREATE, "dev_1", "t-1")
    log.session_event(SESSION_LOGIN, "dev_1", "t-1", login_user="root", recording="/r.cast")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["action"] for line in lines] == [TUNNEL_CREATE, SESSION_LOGIN]
    assert lines[1]["recording"] == "/r.cast" and lines[1]["detail"] == "login user root"
    assert lines[0]["identity"] == "AK ABCD…" and lines[0]["endpoint"] == "https://x"
    assert lines[0]["time"].endswith("Z") and "@" in lines[0]["local_user"]


def test_default_path_is_under_the_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    AuditLog().record(EXEC_END, device_id="d")
    assert (tmp_path / "iotunnel" / "audit.jsonl").exists()


def test_rotation_by_size_keeps_the_newest_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=400, keep=3)
    for n in range(30):
        log.record(EXEC_END, device_id=f"dev_{n:02d}", exit_status=n)
    rotated = sorted(p.name for p in tmp_path.glob("audit.jsonl.*"))
    assert rotated == ["audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    assert all(p.stat().st_size <= 400 for p in tmp_path.glob("audit.jsonl*"))
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.glob("audit.jsonl*"))
    devices = [r.device_id for r in log.read()]
    assert devices == sorted(devices)  # oldest first across the files
    assert devices[-1] == "dev_29" and len(devices) < 30  # the oldest files were dropped


def test_read_filters_by_time_and_device_and_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    old = AuditRecord(EXEC_END, time="2026-01-01T00:00:00.000000Z", device_id="a")
    new = AuditRecord(EXEC_END, time="2026-06-01T00:00:00.000000Z", device_id="b")
    path.write_text(
        json.dumps(old.to_json()) + "\nnot json\n{}\n" + json.dumps(new.to_json()) + "\n"
    )
    log = AuditLog(path)
    assert log.read() == [old, new]
    assert log.read(since=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)) == [new]
    assert log.read(device_id="a") == [old]


def test_parse_since() -> None:
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    assert parse_since("2h", now) == now - dt.timedelta(hours=2)
    assert parse_since("30m", now) == now - dt.timedelta(minutes=30)
    assert parse_since("1d", now) == now - dt.timedelta(days=1)
    assert parse_since("2026-11-30T10:00:00", now) == dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    assert parse_since("2026-11-30T10:00:00+02:00", now).hour == 10
    with pytest.raises(ValueError):
        parse_since("soon", now)


def test_platform_identity_never_holds_a_secret() -> None:
    aksk = platform_identity(AkSkAuth("AKSECRETISH123", "SK-very-secret"))
    assert aksk == "AK AKSE…"
    assert platform_identity(TokenAuth("tok-secret")) == "IAM token"
    assert platform_identity(None) is None


def test_a_record_has_no_place_for_secrets() -> None:
    names = set(AuditRecord.__dataclass_fields__)
    assert not names & {"password", "token", "output", "input", "keys", "secret"}
    with pytest.raises(TypeError):
        AuditLog(Path("/nonexistent/x")).record(EXEC_END, password="x")
