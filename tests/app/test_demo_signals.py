"""A demo whose terminal closes (SIGHUP: an SSH drop, a killed tmux) or that is told to
stop (SIGTERM) removes its temporary state: database and tunnel tokens (issue 8)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.journeys.tmux import TmuxPane

REPO = Path(__file__).resolve().parents[2]


def wait_dead(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z":
            return
        time.sleep(0.05)  # polling for the exit, bounded by the deadline
    raise AssertionError(f"process {pid} still running")


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_demo_removes_its_state_on_hangup_and_terminate(tmp_path: Path, signum: int) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "TMPDIR": str(temp),
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TEXTUAL_THEME": "",
    }
    with TmuxPane.start([sys.executable, "-m", "tui.cli", "demo"], size=(100, 30), env=env) as pane:
        pane.wait_for("12 of 12 devices")
        state = list(temp.glob("iotunnel-demo-*"))
        assert len(state) == 1 and (state[0] / "platform.db").exists()
        os.kill(pane.pid, signum)
        wait_dead(pane.pid)
    assert not list(temp.glob("iotunnel-demo-*"))
