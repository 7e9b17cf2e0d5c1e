"""The key table: Textual key names to the bytes an xterm sends."""

from __future__ import annotations

import pytest

from tui.terminal.backend import TerminalModes
from tui.terminal.keys import encode_key, encode_mouse, encode_paste

NORMAL = TerminalModes()
APP_CURSOR = TerminalModes(app_cursor=True)


@pytest.mark.parametrize(
    ("key", "character", "expected"),
    [
        ("a", "a", b"a"),
        ("A", "A", b"A"),
        ("shift+a", "A", b"A"),
        ("exclamation_mark", "!", b"!"),
        ("space", " ", b" "),
        ("ü", "ü", "ü".encode()),
        ("enter", None, b"\r"),
        ("tab", None, b"\t"),
        ("shift+tab", None, b"\x1b[Z"),
        ("escape", None, b"\x1b"),
        ("backspace", None, b"\x7f"),
        ("ctrl+a", None, b"\x01"),
        ("ctrl+c", None, b"\x03"),
        ("ctrl+z", None, b"\x1a"),
        ("ctrl+@", None, b"\x00"),
        ("ctrl+backslash", None, b"\x1c"),
        ("up", None, b"\x1b[A"),
        ("down", None, b"\x1b[B"),
        ("right", None, b"\x1b[C"),
        ("left", None, b"\x1b[D"),
        ("home", None, b"\x1b[H"),
        ("end", None, b"\x1b[F"),
        ("insert", None, b"\x1b[2~"),
        ("delete", None, b"\x1b[3~"),
        ("pageup", None, b"\x1b[5~"),
        ("pagedown", None, b"\x1b[6~"),
        ("f1", None, b"\x1bOP"),
        ("f4", None, b"\x1bOS"),
        ("f5", None, b"\x1b[15~"),
        ("f10", None, b"\x1b[21~"),
        ("f12", None, b"\x1b[24~"),
        ("shift+up", None, b"\x1b[1;2A"),
        ("alt+left", None, b"\x1b[1;3D"),
        ("ctrl+right", None, b"\x1b[1;5C"),
        ("ctrl+shift+home", None, b"\x1b[1;6H"),
        ("ctrl+delete", None, b"\x1b[3;5~"),
        ("shift+f5", None, b"\x1b[15;2~"),
        ("ctrl+f1", None, b"\x1b[1;5P"),
        ("alt+x", "x", b"\x1bx"),
        ("alt+shift+x", "X", b"\x1bX"),
        ("alt+ctrl+b", None, b"\x1b\x02"),
        ("alt+enter", None, b"\x1b\r"),
    ],
)
def test_key_table(key: str, character: str | None, expected: bytes) -> None:
    assert encode_key(key, character, NORMAL) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [("up", b"\x1bOA"), ("down", b"\x1bOB"), ("home", b"\x1bOH"), ("end", b"\x1bOF")],
)
def test_application_cursor_mode(key: str, expected: bytes) -> None:
    assert encode_key(key, None, APP_CURSOR) == expected
    # Modified cursor keys keep the CSI form in both modes, like xterm.
    assert encode_key(f"shift+{key}", None, APP_CURSOR).startswith(b"\x1b[1;2")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # Under the kitty keyboard protocol Textual reports forms xterm has no code for:
        # they send the plain key's bytes, as xterm does, instead of nothing.
        ("shift+space", b" "),
        ("shift+enter", b"\r"),
        ("ctrl+enter", b"\r"),
        ("shift+backspace", b"\x7f"),
        ("ctrl+backspace", b"\x08"),
        ("shift+escape", b"\x1b"),
        ("ctrl+tab", b"\t"),
        ("ctrl+shift+tab", b"\x1b[Z"),
        ("ctrl+shift+a", b"\x01"),
        ("ctrl+slash", b"\x1f"),
        ("alt+backspace", b"\x1b\x7f"),
        ("alt+shift+space", b"\x1b "),
    ],
)
def test_modified_plain_keys_are_never_lost(key: str, expected: bytes) -> None:
    assert encode_key(key, None, NORMAL) == expected
    assert encode_key(key, None, APP_CURSOR) == expected


@pytest.mark.parametrize("key", ["ctrl+shift+f13", "f25", "unknown_key", "ctrl+ü"])
def test_unknown_keys_send_nothing(key: str) -> None:
    assert encode_key(key, None, NORMAL) is None


# What xterm sends (issue 9: these sent nothing). Both backends must agree on them.
XTERM_EXTRAS = [
    ("ctrl+2", b"\x00"),
    ("ctrl+3", b"\x1b"),
    ("ctrl+4", b"\x1c"),
    ("ctrl+5", b"\x1d"),
    ("ctrl+6", b"\x1e"),
    ("ctrl+7", b"\x1f"),
    ("ctrl+8", b"\x7f"),
    ("ctrl+question_mark", b"\x7f"),
    ("f13", b"\x1b[1;2P"),
    ("f16", b"\x1b[1;2S"),
    ("f17", b"\x1b[15;2~"),
    ("f20", b"\x1b[19;2~"),
    ("f21", b"\x1b[20;2~"),
    ("f24", b"\x1b[24;2~"),
]


@pytest.mark.parametrize(("key", "expected"), XTERM_EXTRAS)
def test_control_digits_and_f13_to_f24_as_xterm_sends_them(key: str, expected: bytes) -> None:
    assert encode_key(key, None, NORMAL) == expected


def test_paste_plain_and_bracketed() -> None:
    assert encode_paste("ls\nls -l\r\n", NORMAL) == b"ls\rls -l\r"
    bracketed = encode_paste("echo hi\n", TerminalModes(bracketed_paste=True))
    assert bracketed == b"\x1b[200~echo hi\r\x1b[201~"


def test_paste_cannot_break_out_of_the_bracket() -> None:
    sneaky = encode_paste("a\x1b[201~rm -rf /\n", TerminalModes(bracketed_paste=True))
    assert sneaky.count(b"\x1b[201~") == 1 and sneaky.endswith(b"\x1b[201~")


def test_mouse_only_when_tracking_is_on() -> None:
    assert encode_mouse(0, 4, 2, modes=NORMAL) is None
    sgr = TerminalModes(mouse_tracking=1000, mouse_sgr=True)
    assert encode_mouse(0, 4, 2, modes=sgr) == b"\x1b[<0;5;3M"
    assert encode_mouse(0, 4, 2, pressed=False, modes=sgr) == b"\x1b[<0;5;3m"
    assert encode_mouse(64, 0, 0, modes=sgr) == b"\x1b[<64;1;1M"
    assert encode_mouse(3, 1, 1, motion=True, modes=sgr) is None  # 1000 has no motion
    anymotion = TerminalModes(mouse_tracking=1003, mouse_sgr=True)
    assert encode_mouse(3, 1, 1, motion=True, modes=anymotion) == b"\x1b[<35;2;2M"
    legacy = TerminalModes(mouse_tracking=1000)
    assert encode_mouse(0, 4, 2, modes=legacy) == b"\x1b[M" + bytes([32, 37, 35])
    assert encode_mouse(0, 4, 2, pressed=False, modes=legacy) == b"\x1b[M" + bytes([35, 37, 35])
