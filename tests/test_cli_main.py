"""The `iotunnel` entry point: a bug is one line for the user, the traceback goes to the log."""

import os
import stat
from pathlib import Path

import pytest

from tui import cli
from tui.cli import replay


def test_an_unexpected_error_is_one_line_and_logged_privately(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("boom in a run function")

    monkeypatch.setattr(replay, "_run_replay", broken)
    code = cli.main(["replay", "whatever.cast"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED
    assert err.count("\n") == 1 and "internal error (RuntimeError)" in err
    assert "Traceback" not in err
    log = Path(os.environ["XDG_STATE_HOME"]) / "iotunnel" / "iotunnel.log"
    assert "boom in a run function" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_verbose_flag_works_after_the_sub_command_too() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["replay", "f", "-vv"]).verbose == 2
    assert parser.parse_args(["-v", "replay", "f"]).verbose == 1
    assert parser.parse_args(["replay", "f"]).verbose == 0
