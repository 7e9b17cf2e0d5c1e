"""tui/iotda's one-place helpers: wire paths, private local state, quiet wire loggers,
and DeviceDetail keeping a device secret out of logs and output."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from tui.iotda.localstate import state_dir, touch_private
from tui.iotda.models import Device, DeviceDetail
from tui.iotda.paths import rest_base, tunnel_id_from_uri, tunnel_ws_path
from tui.iotda.redact import mask, quiet_logger


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rest_and_tunnel_paths() -> None:
    assert rest_base("proj") == "/v5/iot/proj"
    assert tunnel_ws_path("t-1", "source-connect") == "/v5/iot/tunnels/t-1/source-connect"
    assert tunnel_ws_path("{tunnel_id}", "device-connect").endswith("{tunnel_id}/device-connect")
    with pytest.raises(ValueError):
        tunnel_ws_path("t-1", "other-side")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("wss://h:1/v5/iot/tunnels/t-9/device-connect", "t-9"),
        ("ws://127.0.0.1/v5/iot/tunnels/abc/source-connect?x=1", "abc"),
        ("nonsense", "nonsense"),
    ],
)
def test_tunnel_id_from_uri(uri: str, expected: str) -> None:
    assert tunnel_id_from_uri(uri) == expected


def test_touch_private_makes_a_new_dir_0700_and_the_file_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = touch_private(tmp_path / "new" / "state.sqlite3")
    finally:
        os.umask(old)
    assert _mode(path.parent) == 0o700 and _mode(path) == 0o600


def test_touch_private_keeps_content_and_an_existing_dirs_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "log.txt"
    path.write_text("kept\n")
    path.chmod(0o644)
    touch_private(path)
    assert path.read_text() == "kept\n" and _mode(path) == 0o600
    assert _mode(tmp_path) == 0o755  # a user-chosen directory is not ours to chmod


def test_state_dir_follows_xdg_and_ignores_a_relative_value(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "iotunnel"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")
    assert state_dir() == Path.home() / ".local" / "state" / "iotunnel"


def test_quiet_logger_stays_at_info_under_a_debug_root() -> None:
    logger = quiet_logger("tests.wire.quiet")
    assert not logger.isEnabledFor(logging.DEBUG) and logger.isEnabledFor(logging.INFO)
    louder = logging.getLogger("tests.wire.warning_only")
    louder.setLevel(logging.WARNING)
    assert quiet_logger("tests.wire.warning_only").level == logging.WARNING  # never lowered


def test_device_detail_masks_the_secret_unless_asked() -> None:
    secret = "device-secret-0123456789"
    detail = DeviceDetail.from_json(
        {**Device("d_1", "n", "p", "ONLINE").to_json(), "auth_info": {"secret": secret}}
    )
    assert secret not in repr(detail)
    assert detail.to_json()["auth_info"]["secret"] == mask(secret)
    assert detail.to_json(show_secret=True)["auth_info"]["secret"] == secret
    assert detail.auth_info["secret"] == secret  # the record itself is untouched
