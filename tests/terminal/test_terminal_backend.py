"""The pyte backend's fixes, one behaviour at a time."""

from __future__ import annotations

import pyte
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.terminal.backends import BACKENDS, backend_class
from tui.terminal.backend import BellRang, TitleChange
from tui.terminal.pyte_backend import PyteBackend

KIND = "pyte"


@pytest.fixture(autouse=True, params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    global KIND
    KIND = request.param
    return KIND


def new_backend(*args: object, **kwargs: object) -> PyteBackend:
    return backend_class(KIND)(*args, **kwargs)


def backend(cols: int = 20, rows: int = 5, **kwargs: int) -> PyteBackend:
    return new_backend(cols, rows, **kwargs)


def rows_of(b: PyteBackend) -> list[str]:
    return b.screen_text().split("\n")


@pytest.mark.parametrize("mode", [47, 1047, 1049])
def test_alternate_screen_restores_the_main_screen(mode: int) -> None:
    b = backend()
    b.feed(b"shell prompt $ ")
    b.feed(f"\x1b[?{mode}h\x1b[2J\x1b[Hfull screen app".encode())
    assert b.modes.alt_screen
    assert rows_of(b)[0] == "full screen app"
    b.feed(f"\x1b[?{mode}l".encode())
    assert not b.modes.alt_screen
    assert rows_of(b)[0] == "shell prompt $"


def test_1049_restores_the_cursor() -> None:
    b = backend()
    b.feed(b"abc\x1b[?1049h\x1b[4;10Hxyz\x1b[?1049l!")
    assert rows_of(b)[0] == "abc!"


def test_alternate_screen_output_does_not_enter_scrollback() -> None:
    b = backend(rows=3)
    b.feed(b"\x1b[?1049h" + b"line\r\n" * 10 + b"\x1b[?1049l")
    assert b.history_len == 0


def test_zero_width_joiner_does_not_truncate_the_chunk() -> None:
    text = "a👩\u200d💻b ❤\ufe0f c"
    bare = pyte.Screen(20, 2)
    pyte.Stream(bare).feed(text)
    assert "c" not in bare.display[0]  # the bug being fixed
    b = backend()
    b.feed(text.encode())
    assert rows_of(b)[0] == text


def test_control_characters_inside_text_are_skipped() -> None:
    b = backend()
    b.feed("x\u200by\x7fz".encode())
    assert rows_of(b)[0].replace("\u200b", "") == "xyz"


def test_dim_and_normal_intensity() -> None:
    b = backend()
    b.feed(b"\x1b[1;2mA\x1b[22mB")
    (a_text, a), (b_text, b_attrs), *_ = b.row_runs(0)
    assert (a_text, a.bold, a.dim) == ("A", True, True)
    assert b_text.startswith("B") and not b_attrs.bold and not b_attrs.dim


@pytest.mark.parametrize(
    ("sgr", "fg", "bg"),
    [
        ("33;43", "yellow", "yellow"),
        ("91;104", "bright_red", "bright_blue"),
        ("38;5;3;48;5;9", "yellow", "bright_red"),
        ("38;5;202", "color(202)", "default"),
        ("38;2;255;128;0;48;2;0;0;16", "#ff8000", "#000010"),
    ],
)
def test_colours_are_named_as_rich_names_them(sgr: str, fg: str, bg: str) -> None:
    b = backend()
    b.feed(f"\x1b[{sgr}mX".encode())
    attrs = b.row_runs(0)[0][1]
    assert (attrs.fg, attrs.bg) == (fg, bg)


def test_wide_character_at_the_last_column_wraps_whole() -> None:
    b = backend(cols=5)
    b.feed("abcd中".encode())
    assert rows_of(b)[:2] == ["abcd", "中"]
    assert sum(len(t) for t, _ in b.row_runs(0)) == 5


def test_wide_character_rows_are_exactly_the_screen_width() -> None:
    from rich.cells import cell_len

    b = backend(cols=7)
    b.feed("中文字xx".encode())
    assert sum(cell_len(t) for t, _ in b.row_runs(0)) == 7
    b.feed(b"\rX")  # overwrite half of a wide character
    assert sum(cell_len(t) for t, _ in b.row_runs(0)) == 7


def test_scrollback_is_bounded_and_keeps_order() -> None:
    b = backend(rows=3, scrollback=5)
    b.feed(b"".join(b"line %d\r\n" % i for i in range(20)))
    if KIND == "pyte":
        assert b.history_len == 5
        assert b.history_text() == [f"line {i}" for i in range(13, 18)]
    else:  # Ghostty prunes whole pages: within a page of the limit, never unbounded
        held = b.history_text()
        assert 5 <= len(held) <= 18 and held[-1] == "line 17"
        assert held == [f"line {i}" for i in range(18 - len(held), 18)]
    assert b.history_total == 18
    b.feed(b"\x1b[3J")
    assert b.history_len == 0


def test_scrolling_region_does_not_feed_scrollback() -> None:
    b = backend(rows=5)
    b.feed(b"\x1b[2;4r\x1b[4;1H" + b"x\n" * 5)
    assert b.history_len == 0


# What each backend claims to be: pyte a VT102, Ghostty a VT220 with ANSI colour.
PRIMARY_DA = {"pyte": b"\x1b[?6c", "ghostty": b"\x1b[?62;22c"}
SECONDARY_DA = {"pyte": b"\x1b[>1;10;0c", "ghostty": b"\x1b[>1;0;0c"}


def test_replies_go_to_the_remote() -> None:
    replies: list[bytes] = []
    b = new_backend(20, 5, on_reply=replies.append)
    b.feed(b"\x1b[3;7H\x1b[6n\x1b[5n\x1b[c")
    assert replies == [b"\x1b[3;7R", b"\x1b[0n", PRIMARY_DA[KIND]]


def test_title_and_bell_become_events() -> None:
    b = backend()
    b.feed(b"\x1b]0;build log\x07ding\x07")
    assert b.take_events() == [TitleChange("build log"), BellRang()]
    assert b.title == "build log"
    assert b.take_events() == []


def test_cursor_moves_mark_both_rows_dirty() -> None:
    b = backend()
    b.feed(b"\x1b[2;1H")
    b.take_dirty()
    b.feed(b"\x1b[4;1H")
    assert {1, 3} <= b.take_dirty()


def test_shrinking_keeps_the_cursor_line_and_feeds_history() -> None:
    b = backend(rows=5)
    b.feed(b"1\r\n2\r\n3\r\n4\r\n5")
    b.resize(20, 3)
    assert rows_of(b) == ["3", "4", "5"]
    assert b.history_text() == ["1", "2"]
    b.resize(20, 5)
    # Taller again: the lines come back from history, as in xterm and tmux.
    assert rows_of(b) == ["1", "2", "3", "4", "5"]
    assert b.history_len == 0 and b.cursor == (1, 4)


def test_growing_pulls_back_only_what_history_holds() -> None:
    b = backend(rows=3)
    b.feed(b"a\r\nb\r\nc\r\nd")  # "a" scrolled off
    b.resize(20, 6)
    assert rows_of(b) == ["a", "b", "c", "d", "", ""]
    assert b.cursor == (1, 3)
    b.feed(b"\r\nnext")
    assert rows_of(b)[4] == "next"


def test_growing_in_the_alternate_screen_keeps_history() -> None:
    b = backend(rows=3)
    b.feed(b"1\r\n2\r\n3\r\n4\x1b[?1049h\x1b[Hfull")
    b.resize(20, 5)
    if KIND == "pyte":
        assert rows_of(b)[0] == "full" and b.history_len == 1
        b.feed(b"\x1b[?1049l")
        assert rows_of(b)[:3] == ["2", "3", "4"]
    else:  # Ghostty resizes the main screen too, pulling the line back, as tmux does
        assert rows_of(b)[0] == "full"
        b.feed(b"\x1b[?1049l")
        assert rows_of(b)[:4] == ["1", "2", "3", "4"] and b.history_len == 0


def test_shrinking_drops_blank_rows_below_the_cursor_first() -> None:
    b = backend(rows=5)
    b.feed(b"$ ")
    b.resize(10, 2)
    assert rows_of(b) == ["$", ""]
    assert b.history_len == 0


def test_modes_seen_by_the_pane() -> None:
    b = backend()
    b.feed(b"\x1b[?1h\x1b[?2004h\x1b[?1002h\x1b[?1006h")
    m = b.modes
    assert (m.app_cursor, m.bracketed_paste, m.mouse_tracking, m.mouse_sgr) == (
        True,
        True,
        1002,
        True,
    )
    b.feed(b"\x1b[?1l\x1b[?2004l\x1b[?1002l")
    assert b.modes.mouse_tracking == 0 and not b.modes.app_cursor


def test_reset_clears_screen_and_history() -> None:
    b = backend(rows=2)
    b.feed(b"a\r\nb\r\nc\x1b]2;t\x07")
    b.reset()
    assert b.screen_text() == "\n" and b.history_len == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_malformed_input_never_raises(data: bytes) -> None:
    b = backend(cols=7, rows=3, scrollback=4)
    b.feed(data)
    b.feed(b"\x1b[?1049h" + data + b"\x1b[?1049l")
    b.resize(3, 2)
    b.feed(data)
    assert len(b.screen_text().split("\n")) == 2
    for y in range(2):
        b.row_runs(y)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "\x1b[",
                "1",
                ";",
                "38",
                "5",
                "2",
                "m",
                "中",
                "\u200d",
                "\ufe0f",
                "\r",
                "\n",
                "x",
                "\x1b[?1049h",
                "\x1b[?1049l",
                "\x1b[K",
            ]
        ),
        max_size=60,
    )
)
def test_escape_soup_never_raises(parts: list[str]) -> None:
    b = backend(cols=5, rows=3)
    b.feed("".join(parts).encode())
    for y in range(3):
        assert b.row_runs(y)


def test_default_scrollback_is_10000_lines_without_history_screen() -> None:
    b = new_backend()
    if KIND == "pyte":
        assert b.screen.history.maxlen == 10_000
        assert not isinstance(b.screen, pyte.HistoryScreen)  # 4x slower per character
    b.feed(b"x\r\n" * 10_050)
    if KIND == "pyte":
        assert b.history_len == 10_000
    else:  # pruned by whole pages, sized by bytes: about 10,000
        assert 9_000 <= b.history_len <= 11_000


@pytest.mark.parametrize(
    ("data", "screen"),
    [
        (b"x\x1b[4b|", "xxxxx|"),  # REP: ncurses draws lines and blank runs with it
        (b"1\r\n2\r\n3\x1b[1S", "2\n3"),  # SU
        (b"1\r\n2\x1b[1T", "\n1\n2"),  # SD
        (b"ab\x1b[s\x1b[3;1Hlow\x1b[uR", "abR\n\nlow"),  # SCOSC / SCORC
        (b"x\x1b[2Ia\x1b[2Zb", "x       b       a"),  # CHT / CBT
    ],
)
def test_xterm_sequences_pyte_lacks(data: bytes, screen: str) -> None:
    b = backend(rows=4)
    b.feed(data)
    assert b.screen_text().rstrip("\n") == screen


def test_prefixed_sequences_are_not_drawn_or_styled() -> None:
    # vim's modifyOtherKeys and the kitty keyboard push/pop/query of neovim and fish:
    # bare pyte underlines "D" and prints "u" and "5;1u".
    data = b"A\x1b[>4;2mB\x1b[>1u\x1b[?uC\x1b[<u\x1b[=5;1uD\x1b[>4;m"
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
        b = backend()
        for chunk in chunks:
            b.feed(chunk)
        assert b.screen_text().split("\n")[0] == "ABCD"
        assert all(not attrs.underscore and not attrs.dim for _, attrs in b.row_runs(0))


def test_secondary_device_attributes_are_answered_in_order() -> None:
    replies: list[bytes] = []
    b = new_backend(20, 5, on_reply=replies.append)
    b.feed(b"\x1b[6n\x1b[>c\x1b[>0c\x1b[c")
    secondary = SECONDARY_DA[KIND]
    assert replies == [b"\x1b[1;1R", secondary, secondary, PRIMARY_DA[KIND]]


def test_line_drawing_charsets_work_in_utf8() -> None:
    b = backend()
    b.feed("\x1b(0lqk\x1b(B lqk\r\n\x1b)0\x0eqx\x0fqx 中".encode())
    assert rows_of(b)[:2] == ["┌─┐ lqk", "─│qx 中"]


def test_history_counts_do_not_jump_through_the_alternate_screen() -> None:
    b = backend(rows=3)
    b.feed(b"".join(b"line %d\r\n" % i for i in range(10)))
    held, total = b.history_len, b.history_total
    b.feed(b"\x1b[?1049hfull screen\x1b[2J")
    assert (b.history_len, b.history_total) == (held, total)
    b.feed(b"\x1b[?1049l")
    assert (b.history_len, b.history_total) == (held, total)
    b.feed(b"one more\r\n")
    assert b.history_total == total + 1
