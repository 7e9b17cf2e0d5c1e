"""`iotunnel replay --screen`: the conformance hook, and a live tmux cross-check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main
from tui.terminal.recording import load_recording

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"


def expected(name: str) -> str:
    return (FIXTURES / f"{name}.tmux.txt").read_text(encoding="utf-8").rstrip("\n")


def test_replay_screen_prints_the_final_screen_of_a_raw_capture(capsys) -> None:
    assert main(["replay", str(FIXTURES / "vim_quit.raw"), "--screen"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n") == expected("vim_quit")
    assert out.split("\n")[:2] == ["before vim", "after vim"]


def test_replay_screen_plays_an_asciicast(tmp_path: Path, capsys) -> None:
    cast = tmp_path / "session.cast"
    raw = (FIXTURES / "less.raw").read_bytes().decode()
    lines = [json.dumps({"version": 2, "width": 80, "height": 24, "timestamp": 0})]
    lines += [json.dumps([i * 0.1, "o", raw[i * 200 : (i + 1) * 200]]) for i in range(14)]
    lines.insert(3, json.dumps([0.25, "i", "q"]))  # input events are not output
    lines.insert(4, "not json")  # a bad line is skipped, not fatal
    cast.write_text("\n".join(lines) + "\n")
    recording = load_recording(cast)
    assert recording.kind == "asciicast" and (recording.cols, recording.rows) == (80, 24)
    assert main(["replay", str(cast), "--screen"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected("less")


def test_replay_size_and_errors(capsys, tmp_path: Path) -> None:
    assert (
        main(["replay", str(FIXTURES / "cjk.raw"), "--screen", "--cols", "20", "--rows", "4"]) == 0
    )
    rows = capsys.readouterr().out.removesuffix("\n").split("\n")
    assert len(rows) == 4 and all(len(row) <= 20 for row in rows)
    assert main(["replay", str(tmp_path / "missing.cast"), "--screen"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["replay", str(FIXTURES / "cjk.raw"), "--screen", "--cols", "0"]) == 2


def test_replay_screen_as_a_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tui", "replay", str(FIXTURES / "progress.raw"), "--screen"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.split("\n")[0] == "done: 100%"


@pytest.mark.skipif(
    shutil.which("tmux") is None and os.environ.get("CI") != "true", reason="tmux not installed"
)
@pytest.mark.parametrize("name", ["ls_color", "cjk", "vim_quit"])
def test_live_tmux_agrees(name: str, capsys, tmp_path: Path) -> None:
    sock = str(tmp_path / "tmux.sock")  # a private server, its socket removed with tmp_path
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    raw = FIXTURES / f"{name}.raw"
    cmd = f"stty -echo -opost -onlcr; cat {raw}; tmux -S {sock} wait-for -S done; sleep 60"
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", cmd], check=True)
    try:
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=60)
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p"], check=True, capture_output=True, text=True
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    theirs = [line.rstrip() for line in screen.rstrip("\n").split("\n")]
    assert main(["replay", str(raw), "--screen"]) == 0
    ours = capsys.readouterr().out.rstrip("\n").split("\n")
    assert [r for r in ours if r] == [r for r in theirs if r]


def _cast_with_resize(tmp_path: Path) -> Path:
    cast = tmp_path / "resized.cast"
    lines = [
        json.dumps({"version": 2, "width": 20, "height": 4}),
        json.dumps([0.0, "o", "narrow\r\n"]),
        json.dumps([0.1, "r", "40x6"]),
        json.dumps([0.2, "o", "\x1b[6;1H" + "w" * 40]),
        json.dumps([0.3, "r", "bogus"]),  # skipped, not fatal
    ]
    cast.write_text("\n".join(lines) + "\n")
    return cast


@pytest.mark.parametrize("backend", ["pyte", "ghostty"])
def test_replay_screen_follows_resize_events(tmp_path: Path, capsys, backend: str) -> None:
    if backend == "ghostty":
        pytest.importorskip("pyghostty")
    cast = _cast_with_resize(tmp_path)
    assert main(["replay", str(cast), "--screen", "--backend", backend]) == 0
    rows = capsys.readouterr().out.removesuffix("\n").split("\n")
    assert len(rows) == 6 and rows[0] == "narrow" and rows[5] == "w" * 40
    # --cols/--rows fix the size: the resize events are then ignored.
    assert main(["replay", str(cast), "--screen", "--cols", "20", "--rows", "4"]) == 0
    assert len(capsys.readouterr().out.removesuffix("\n").split("\n")) == 4


async def test_replay_app_follows_resizes_and_q_quits(tmp_path: Path) -> None:
    from tui.terminal.pane import TerminalPane
    from tui.terminal.replay_app import ReplayApp

    recording = load_recording(_cast_with_resize(tmp_path))
    app = ReplayApp(recording, cols=None, rows=None, speed=0)
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(TerminalPane)
        await app.workers.wait_for_complete()
        await pane.wait_drained(30)
        await pilot.pause()
        assert (pane.backend.columns, pane.backend.lines) == (40, 6)
        assert pane.screen_text().split("\n")[5] == "w" * 40
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


def test_replay_screen_uses_ghostty_by_default() -> None:
    pytest.importorskip("pyghostty")
    from tui.terminal.backends import chosen_backend

    assert chosen_backend() == "ghostty" or os.environ.get("IOTUNNEL_TERMINAL_BACKEND")
