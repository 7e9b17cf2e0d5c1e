"""Captures of real programs (recorded by record_fixtures.py) against the screen they
must produce. Most expected screens are tmux's `capture-pane` of the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terminal.backends import BACKENDS, backend_class
from tui.terminal.backend import Attrs
from tui.terminal.pyte_backend import PyteBackend

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"
TMUX_REFERENCED = ["ls_color", "cjk", "progress", "vim_open", "vim_quit", "less", "top", "curses"]

KIND = "pyte"


@pytest.fixture(autouse=True, params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    global KIND
    KIND = request.param
    return KIND


def new_backend(*args: object, **kwargs: object) -> PyteBackend:
    return backend_class(KIND)(*args, **kwargs)


def play(name: str, cols: int = 80, rows: int = 24) -> PyteBackend:
    backend = new_backend(cols, rows)
    backend.feed((FIXTURES / f"{name}.raw").read_bytes())
    return backend


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


@pytest.mark.parametrize("name", TMUX_REFERENCED)
def test_screen_matches_tmux(name: str) -> None:
    expected = (FIXTURES / f"{name}.tmux.txt").read_text(encoding="utf-8")
    assert lines(play(name).screen_text()) == lines(expected)


def test_feeding_byte_by_byte_gives_the_same_screen() -> None:
    # UTF-8 characters and escape sequences split across frames must survive.
    for name in ("cjk", "vim_open", "emoji"):
        data = (FIXTURES / f"{name}.raw").read_bytes()
        whole, split = new_backend(), new_backend()
        whole.feed(data)
        for i in range(len(data)):
            split.feed(data[i : i + 1])
        assert split.screen_text() == whole.screen_text()


def test_emoji_with_joiners_keep_the_rest_of_the_line() -> None:
    # tmux drops the last member of a 4-person ZWJ family; bare pyte drops the rest of
    # the chunk. The expected text is the file as written.
    expected = (FIXTURES / "emoji.expected.txt").read_text(encoding="utf-8")
    assert lines(play("emoji").screen_text())[:5] == lines(expected)


def test_vim_leaves_the_shell_screen_restored() -> None:
    opened = play("vim_open")
    assert opened.modes.alt_screen
    assert "line 001: the quick brown fox" in opened.screen_text()
    quit_ = play("vim_quit")
    assert not quit_.modes.alt_screen
    assert lines(quit_.screen_text()) == ["before vim", "after vim"]


def test_progress_bar_with_carriage_returns_keeps_only_the_last_state() -> None:
    assert lines(play("progress").screen_text()) == ["done: 100%"]


def test_cjk_wraps_wide_characters_as_a_whole() -> None:
    rows = lines(play("cjk").screen_text())
    assert rows[0] == "中文字符测试：你好，世界！"
    assert rows[3].endswith("mixed文")
    assert rows[4].startswith("字text")


def test_ls_colours_are_rich_names() -> None:
    backend = play("ls_color")
    styles = {text.strip(): attrs for text, attrs in backend.row_runs(0) if text.strip()}
    docs = styles["docs"]
    assert docs.fg == "blue" and docs.bold
    assert styles["link"].fg == "cyan"
    assert styles["run.sh"].fg == "green"
    assert styles["README.md  cjk.txt"] == Attrs()


def test_top_frame_hides_the_cursor_and_uses_the_alternate_screen() -> None:
    backend = play("top")
    assert backend.screen_text().startswith("top - ")
    assert "PID USER" in backend.screen_text()
    assert not backend.cursor_visible


def test_ncurses_boxes_are_drawn_with_lines() -> None:
    rows = lines(play("curses").screen_text())
    assert rows[0] == "┌" + "─" * 78 + "┐" and rows[-1] == "└" + "─" * 78 + "┘"
    assert rows[1].startswith("│ device gw-0042 ====") and rows[1].endswith("│")
    assert rows[8:12] == [f"  log line {n}" for n in range(4, 8)]  # scrolled region
