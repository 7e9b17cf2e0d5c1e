"""Differential fuzz: an escape stream fed in one piece or in random slices must give the
same screen (the pane feeds whatever the transport delivers), and no input may crash
either backend. Streams come from a grammar of real sequences and from mutated captures
of real programs.

The pyte fallback is held to "never crashes" only: a handler error (e.g. `CSI 0;0 A`,
legal ECMA-48 that pyte's cursor_up rejects) resets pyte's parser and drops the rest of
that chunk, so where a chunk ends changes the screen. Ghostty's parser has no such
failure, which is one reason it is the default."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.terminal.backends import backend_class, needs_ghostty
from tui.terminal.backend import TerminalBackend
from tui.terminal.backends import ghostty_available

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"
CAPTURES = sorted(FIXTURES.glob("*.raw"))
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AVAILABLE = ["pyte", *(["ghostty"] if ghostty_available() else [])]

_params = st.lists(st.integers(0, 300).map(str), max_size=4).map(";".join)
_csi = st.builds(
    lambda private, params, final: f"\x1b[{private}{params}{final}",
    st.sampled_from(["", "?", ">", "<", "="]),
    _params,
    st.sampled_from(list("ABCDEFGHJKLMPSTXZ@`abcdfghlmnqrsu")),
)
_sgr = st.builds(
    lambda parts: "\x1b[" + ";".join(parts) + "m",
    st.lists(
        st.sampled_from(
            [
                "0",
                "1",
                "2",
                "3",
                "4",
                "4:3",
                "5",
                "7",
                "8",
                "9",
                "22",
                "27",
                "31",
                "42",
                "38;5;208",
                "48;2;10;20;30",
                "38:2::1:2:3",
                "58:5:1",
                "91",
                "104",
                "39",
                "49",
            ]
        ),
        max_size=4,
    ),
)
_strings = st.sampled_from(
    [
        "\x1b]0;title\x07",
        "\x1b]2;other\x1b\\",
        "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\",
        '\x1bP$q"p\x1b\\',
        "\x1bP+q544e\x1b\\",
        "\x1b_Gi=1,a=q;AAAA\x1b\\",
        "\x1b^privacy\x1b\\",
        "\x1bX sos \x1b\\",
        "\x1b7",
        "\x1b8",
        "\x1bM",
        "\x1bD",
        "\x1bE",
        "\x1bc",
        "\x1b(0lqk\x1b(B",
        "\x1b=",
        "\x1b>",
        "\x1b#8",
        "\x1b[K",
        "\x1b[0K",
        "y" * 20,  # with the 20-column screen: a pending wrap
    ]
)
_text = st.sampled_from(
    [
        "hello",
        " ",
        "中文",
        "👩\u200d💻",
        "❤\ufe0f",
        "é",
        "e\u0301",
        "\t",
        "\r",
        "\n",
        "\b",
        "\x07",
        "x" * 30,
    ]
)
_token = st.one_of(_csi, _sgr, _strings, _text)
_streams = st.lists(_token, max_size=40).map(lambda parts: "".join(parts).encode())


@st.composite
def _mutated_capture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CAPTURES)).read_bytes()[:6000])
    for _ in range(draw(st.integers(1, 12))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


def _slices(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _state(backend: TerminalBackend) -> tuple:
    rows = tuple(tuple(backend.row_runs(y)) for y in range(backend.lines))
    return rows, backend.cursor, backend.modes, backend.title, backend.history_len


def _whole_and_sliced(name: str, data: bytes, cuts: list[int]) -> tuple[tuple, tuple]:
    make = backend_class(name)
    whole, sliced = make(20, 6), make(20, 6)
    whole.feed(data)
    for piece in _slices(data, cuts):
        sliced.feed(piece)
    return _state(whole), _state(sliced)


@needs_ghostty
@FUZZ
@given(data=_streams, cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_sliced_equals_whole_on_sequence_streams(data: bytes, cuts: list[int]) -> None:
    whole, sliced = _whole_and_sliced("ghostty", data, cuts)
    assert sliced == whole
    _whole_and_sliced("pyte", data, cuts)  # never raises


@needs_ghostty
@FUZZ
@given(data=_mutated_capture(), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_mutated_captures_agree_sliced_and_never_crash(data: bytes, cuts: list[int]) -> None:
    whole, sliced = _whole_and_sliced("ghostty", data, cuts)
    assert sliced == whole
    _whole_and_sliced("pyte", data, cuts)  # never raises


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_never_crash_either_backend(data: bytes) -> None:
    for name in AVAILABLE:
        backend = backend_class(name)(7, 3, scrollback=5)
        backend.feed(data)
        backend.resize(4, 2)
        backend.feed(data)
        backend.take_dirty()
        assert len(backend.screen_text().split("\n")) == 2
        assert backend.history_len >= 0
