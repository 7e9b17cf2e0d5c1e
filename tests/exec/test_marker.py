"""The marker scanner on the exact streams shells produce, split at every byte."""

from __future__ import annotations

import pytest

from tui.session.exec_marker import (
    MARKER_PREFIX,
    MarkerScanner,
    command_line,
    quote_argv,
)

NONCE = "0123456789abcdef"
START = f"{MARKER_PREFIX}{NONCE}_S"
END = f"{MARKER_PREFIX}{NONCE}_E"


def shell_stream(output: str, status: int, *, crlf: bool = False) -> str:
    """Banner, prompt, the echoed line (twice, as a tty then readline echo it), markers."""
    line = command_line(["true"], NONCE)
    nl = "\r\n" if crlf else "\n"
    return (
        "Last login: today\r\n$ "
        + line.replace("\r", "\r\n")
        + line
        + f"\r\n{START}{nl}{output}{END}{status}_{nl}$ "
    )


def scan(stream: str, chunk: int) -> tuple[str, MarkerScanner]:
    scanner = MarkerScanner(NONCE)
    out = "".join(scanner.feed(stream[i : i + chunk]) for i in range(0, len(stream), chunk))
    return out, scanner


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 100_000])
@pytest.mark.parametrize(
    "output",
    ["", "plain\n", "no newline", f"{MARKER_PREFIX}{MARKER_PREFIX}x", f"{END[:-1]}", f"{END}x_"],
)
def test_output_and_status_at_any_split(chunk: int, output: str) -> None:
    out, scanner = scan(shell_stream(output, 42), chunk)
    assert out == output
    assert scanner.finished is not None and scanner.finished.exit_code == 42


def test_echo_of_the_typed_line_never_holds_a_whole_marker() -> None:
    line = command_line(["echo", "hi"], NONCE)
    assert START not in line and END not in line
    assert NONCE in line


def test_crlf_when_stty_is_missing_still_finds_the_output() -> None:
    out, scanner = scan(shell_stream("x\r\n", 0, crlf=True), 5)
    assert out == "x\r\n" and scanner.finished is not None


def test_before_the_end_output_is_pending_not_lost() -> None:
    scanner = MarkerScanner(NONCE)
    assert scanner.feed(f"{START}\nabc{END[:3]}") == "abc"
    assert scanner.finished is None
    assert scanner.pending() == END[:3]


def test_argv_quoting() -> None:
    assert quote_argv(["echo", "$HOME", "a b", "it's"]) == "echo '$HOME' 'a b' 'it'\"'\"'s'"
    with pytest.raises(ValueError):
        command_line([], NONCE)
