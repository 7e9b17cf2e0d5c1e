"""The dashboard as field engineers use it: through OpenSSH, on a slow link, typing ahead.

OpenSSH `sshd` on 127.0.0.1 runs the demo (local platform + fleet + dashboard) as its
forced command; OpenSSH `ssh -tt` runs in a tmux pane and reaches sshd through a proxy
that adds 100 ms each way and coalesces bytes into bursts. Every step types bytes in one
write and reads the tmux screen (polled with a deadline, never a fixed sleep).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.journeys.latency_proxy import LatencyProxy
from tests.journeys.tmux import TmuxPane
from tests.support.openssh import running_sshd

REPO = Path(__file__).resolve().parents[2]
LATENCY = 0.1
STEP_TIMEOUT = 45.0


def ssh_client_argv(port: int, key: Path, user: str) -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-tt",
        "-p",
        str(port),
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        f"{user}@127.0.0.1",
    ]


@pytest.fixture
def dashboard_over_ssh(tmp_path: Path, request: pytest.FixtureRequest):
    size = request.param
    home = tmp_path / "remote"
    (home / "tmp").mkdir(parents=True)
    remote_env = {
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "TMPDIR": str(home / "tmp"),
    }
    demo_log = home / "demo.log"  # the demo's debug log: shown below a failed journey
    command = f"{sys.executable} -m tui.cli --log-file {demo_log} demo"
    try:
        with (
            running_sshd(tmp_path, force_command=command, set_env=remote_env) as sshd,
            LatencyProxy(sshd.port, latency=LATENCY) as proxy,
            TmuxPane.start(
                ssh_client_argv(proxy.port, sshd.client_key, sshd.user), size=size
            ) as pane,
        ):
            yield pane, home / "tmp", proxy
    finally:
        if demo_log.exists():  # pytest prints a teardown's output only when the test failed
            print("--- the demo's log, last lines ---")
            print("\n".join(demo_log.read_text(errors="replace").splitlines()[-80:]))


def summary_count(screen: str, shown: int) -> bool:
    return f"{shown} of 12 devices" in screen


@pytest.mark.parametrize("dashboard_over_ssh", [(80, 24), (120, 40)], indirect=True)
def test_open_log_in_run_leave_renew_close_and_quit_typed_ahead(dashboard_over_ssh) -> None:
    pane, remote_tmp, proxy = dashboard_over_ssh
    pane.wait_for("of 12 devices", STEP_TIMEOUT)

    # the filter typed in one burst filters (no key reaches the list as a command)
    pane.type("/heat pump a17\r")
    pane.wait_until(lambda s: summary_count(s, 1), "the filter to leave one device", STEP_TIMEOUT)

    # enter, the login and a command, all typed ahead in one write
    pane.type("\rdemo\tdemo\recho jour-$((6*7))\r")
    pane.wait_for("jour-42", STEP_TIMEOUT)

    # leave (ctrl+]) and filter in the same burst: the shell gets none of it
    pane.type("\x1d/boiler\r")
    pane.wait_until(lambda s: summary_count(s, 2), "the boiler filter", STEP_TIMEOUT)
    # clear the filter, find the session's device again and go back into the shell (i)
    pane.type("/\x7f\x7f\x7f\x7f\x7f\x7f\r")
    pane.wait_until(lambda s: summary_count(s, 12), "the filter cleared", STEP_TIMEOUT)
    pane.type("/a17\r")
    pane.wait_until(lambda s: summary_count(s, 1), "the a17 filter", STEP_TIMEOUT)
    pane.type("iecho back-$((2+3))\r")
    pane.wait_for("back-5", STEP_TIMEOUT)
    assert "/boiler" not in pane.capture()

    # renew from inside the shell: ctrl+] then r asks first (the shell would end)
    pane.type("\x1dr")
    pane.wait_for("Renew", STEP_TIMEOUT)
    pane.type("y")
    pane.wait_for("Log in to", STEP_TIMEOUT)
    pane.type("demo\recho renewed-$((1+1))\r")  # the username is remembered
    pane.wait_for("renewed-2", STEP_TIMEOUT)

    # close asks (naming the device), then quit leaves nothing behind
    pane.type("\x1dc")
    pane.wait_for("Close the tunnel to Heat pump A17", STEP_TIMEOUT)
    pane.type("y")
    pane.wait_for("closed", STEP_TIMEOUT)

    # a command on many devices: filter, * marks what is shown, x asks, results live
    pane.type("/berlin\r*xuptime\tdemo\tdemo\r")
    screen = pane.wait_for("done", STEP_TIMEOUT)
    assert "5 ok" in screen and screen.count(" up ") >= 3, screen
    pane.type("\x1b")  # back to the list
    pane.wait_for("5 marked", STEP_TIMEOUT)
    pane.type("q")
    pane.wait_until(lambda s: pane.dead(), "ssh to end after q", STEP_TIMEOUT)
    assert not list(remote_tmp.glob("iotunnel-demo-*"))
    assert proxy.bursts > 0
