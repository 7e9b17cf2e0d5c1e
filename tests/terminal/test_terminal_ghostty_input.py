"""Keys, mouse, paste and focus through libghostty-vt's encoders: the same bytes as the
xterm tables of the pyte fallback, plus what only the library tracks (kitty keyboard
protocol, application keypad)."""

from __future__ import annotations

import pytest

from tests.terminal import test_terminal_keys as xterm_table
from tests.terminal.backends import needs_ghostty
from tui.terminal.keys import encode_key, encode_mouse

pytestmark = needs_ghostty


def _params(test: object) -> list[tuple]:
    return [tuple(p) for p in test.pytestmark[0].args[1]]  # type: ignore[attr-defined]


@pytest.fixture
def ghostty():
    from tui.terminal.ghostty_backend import GhosttyBackend

    backend = GhosttyBackend(80, 24)
    yield backend
    backend.close()


@pytest.mark.parametrize(("key", "character", "expected"), _params(xterm_table.test_key_table))
def test_key_encoder_sends_what_xterm_sends(ghostty, key, character, expected) -> None:
    assert ghostty.encode_key(key, character) == expected


@pytest.mark.parametrize(
    ("key", "expected"), _params(xterm_table.test_modified_plain_keys_are_never_lost)
)
def test_modified_plain_keys_are_never_lost(ghostty, key, expected) -> None:
    assert ghostty.encode_key(key, " " if "space" in key else None) == expected


@pytest.mark.parametrize(("key", "expected"), xterm_table.XTERM_EXTRAS)
def test_control_digits_and_high_function_keys(ghostty, key, expected) -> None:
    assert ghostty.encode_key(key, None) == expected


def test_application_cursor_follows_the_terminal(ghostty) -> None:
    ghostty.feed(b"\x1b[?1h")
    assert ghostty.encode_key("up", None) == b"\x1bOA"
    assert ghostty.modes.app_cursor
    ghostty.feed(b"\x1b[?1l")
    assert ghostty.encode_key("up", None) == b"\x1b[A"


def test_application_keypad_is_tracked(ghostty) -> None:
    assert not ghostty.modes.app_keypad
    ghostty.feed(b"\x1b[?66h")
    assert ghostty.modes.app_keypad


def test_kitty_keyboard_protocol_pushed_by_the_remote(ghostty) -> None:
    assert ghostty.encode_key("ctrl+a", None) == b"\x01"
    ghostty.feed(b"\x1b[>1u")  # push: disambiguate escape codes
    assert ghostty.encode_key("ctrl+a", None) == b"\x1b[97;5u"
    assert ghostty.encode_key("escape", None) == b"\x1b[27u"
    ghostty.feed(b"\x1b[<u")  # pop
    assert ghostty.encode_key("ctrl+a", None) == b"\x01"


def test_mouse_matches_the_xterm_encoder(ghostty) -> None:
    assert ghostty.encode_mouse(0, 4, 2) is None  # not tracking
    for setup in (b"\x1b[?1000h\x1b[?1006h", b"\x1b[?1003h\x1b[?1006h", b"\x1b[?1006l"):
        ghostty.feed(setup)
        modes = ghostty.modes
        for button, kwargs in [
            (0, {}),
            (0, {"pressed": False}),
            (2, {"shift": True}),
            (64, {}),
            (3, {"motion": True}),
        ]:
            ours = ghostty.encode_mouse(button, 4, 2, **kwargs)
            assert ours == encode_mouse(button, 4, 2, modes=modes, **kwargs), (setup, button)


def test_paste_safety_and_encoding(ghostty) -> None:
    assert ghostty.paste_is_safe("ls -l")
    assert not ghostty.paste_is_safe("ls\nrm -rf /")
    assert ghostty.encode_paste("ls\nls -l\r\n") == b"ls\rls -l\r"
    ghostty.feed(b"\x1b[?2004h")
    sneaky = ghostty.encode_paste("a\x1b[201~rm -rf /\n")
    assert sneaky.startswith(b"\x1b[200~") and sneaky.count(b"\x1b[201~") == 1


def test_focus_reports_only_when_asked(ghostty) -> None:
    assert ghostty.encode_focus(True) is None
    ghostty.feed(b"\x1b[?1004h")
    assert (ghostty.encode_focus(True), ghostty.encode_focus(False)) == (b"\x1b[I", b"\x1b[O")


def test_the_pyte_table_agrees_on_the_extras() -> None:
    for key, expected in xterm_table.XTERM_EXTRAS:
        assert encode_key(key, None) == expected
