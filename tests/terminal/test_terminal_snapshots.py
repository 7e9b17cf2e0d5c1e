"""Snapshots of the pane at 80x24 in two themes (plain `def`: snap_compare runs its own
event loop). Update with `pytest tests/terminal --snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from tests.terminal.backends import BACKENDS
from tui.terminal import TerminalPane

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"

PALETTE = (
    b"\r\n"
    + b"".join(b"\x1b[3%dm fg%d \x1b[0m" % (i, i) for i in range(8))
    + b"\r\n"
    + b"".join(b"\x1b[9%dm br%d \x1b[0m" % (i, i) for i in range(8))
    + b"\r\n"
    + b"".join(b"\x1b[4%dm bg%d \x1b[0m" % (i, i) for i in range(8))
    + b"\r\n\x1b[1mbold\x1b[0m \x1b[2mdim\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munderline\x1b[0m"
    + b" \x1b[7mreverse\x1b[0m \x1b[9mstrike\x1b[0m \x1b[38;5;208m256-colour\x1b[0m"
    + b" \x1b[38;2;80;160;240mtruecolour\x1b[0m\r\n"
    + "wide: 中文字符 emoji: 👩\u200d💻 ok\r\n$ ".encode()
)


class SnapshotApp(App[None]):
    TITLE = "terminal snapshot"

    def __init__(self, theme: str, data: bytes, backend_name: str | None = None) -> None:
        super().__init__()
        self._theme_name = theme
        self._data = data
        self._backend_name = backend_name
        self.animation_level = "none"

    def compose(self) -> ComposeResult:
        yield TerminalPane(backend_name=self._backend_name)

    def on_mount(self) -> None:
        self.theme = self._theme_name
        pane = self.query_one(TerminalPane)
        pane.focus()
        pane.feed(self._data)


async def drained(pilot: Pilot) -> None:
    await pilot.app.query_one(TerminalPane).wait_drained(60)
    await pilot.pause()


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_colours_and_attributes(snap_compare, theme: str) -> None:
    data = (FIXTURES / "ls_color.raw").read_bytes() + PALETTE
    app = SnapshotApp(theme, data)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drained)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_vim_full_screen(snap_compare, theme: str) -> None:
    app = SnapshotApp(theme, (FIXTURES / "vim_open.raw").read_bytes())
    assert snap_compare(app, terminal_size=(80, 24), run_before=drained)


# Where the backends differ on purpose (issue 9's fidelity defects of pyte, confirmed by
# tmux and xterm.js): vim's split windows keep their background after erase and scroll
# with Ghostty; DCS/APC/PM/SOS probes and colon SGR are not printed as text.
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_vim_split_colours_by_backend(snap_compare, backend_name: str) -> None:
    data = (FIXTURES / "vim_split.raw").read_bytes()
    app = SnapshotApp("textual-dark", data, backend_name)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drained)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_probes_and_colon_sgr_by_backend(snap_compare, backend_name: str) -> None:
    data = b"".join(
        (FIXTURES / f"{name}.raw").read_bytes()
        for name in ("nel_hpa_vpa", "dcs_apc_probes", "colon_sgr")
    )
    app = SnapshotApp("textual-dark", data, backend_name)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drained)
