"""Search in the scrollback view (/, n, N, escape) and OSC 8 hyperlinks in the pane."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from tests.terminal.backends import BACKENDS, needs_ghostty
from tui.terminal import TerminalPane
from tui.terminal.search import CURRENT_MATCH_CLASS, MATCH_CLASS, find_matches

WAIT = 30.0


class SearchApp(App[None]):
    def __init__(self, backend_name: str) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.links: list[str | None] = []
        self.backend_name = backend_name

    def compose(self) -> ComposeResult:
        yield TerminalPane(on_input=self.sent.append, backend_name=self.backend_name)

    def on_mount(self) -> None:
        self.query_one(TerminalPane).focus()

    def on_terminal_pane_link_hovered(self, message: TerminalPane.LinkHovered) -> None:
        self.links.append(message.url)


async def fed(pane: TerminalPane, data: bytes) -> None:
    pane.feed(data)
    await pane.wait_drained(WAIT)


def test_find_matches_is_smart_case_and_numbers_lines_absolutely() -> None:
    lines = ["error: disk", "ok", "Error twice error", ""]
    assert [(m.line, m.start) for m in find_matches(lines, "error", 100)] == [
        (100, 0),
        (102, 0),
        (102, 12),
    ]
    assert [(m.line, m.start) for m in find_matches(lines, "Error")] == [(2, 0)]
    assert find_matches(lines, "") == []


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_search_in_scrollback_jumps_highlights_and_steps(backend_name: str) -> None:
    app = SearchApp(backend_name)
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        output = b"".join(
            (b"needle %d here\r\n" % i) if i in (10, 50, 80) else (b"line %d\r\n" % i)
            for i in range(100)
        )
        await fed(pane, output)
        await pilot.press("shift+pageup", "slash", "n", "e", "e", "d", "l", "e", "enter")
        await pilot.pause()
        state = pane.search_state
        assert state is not None and len(state.matches) == 3
        # The nearest match above the view is selected and brought into view.
        assert state.index == 2
        rows = [pane.render_line(y).text for y in range(10)]
        assert any("needle 80 here" in row for row in rows)
        assert (
            rows[0].rstrip().endswith("/needle 3/3]".replace("]", "")) or "/needle 3/3" in rows[0]
        )
        await pilot.press("n")  # back in time
        await pilot.pause()
        assert pane.search_state.index == 1
        assert any("needle 50 here" in pane.render_line(y).text for y in range(10))
        await pilot.press("n", "n")  # wraps around to the newest
        assert pane.search_state.index == 2
        await pilot.press("N")
        assert pane.search_state.index == 0
        assert app.sent == []  # nothing of this went to the remote
        await pilot.press("escape")
        await pilot.pause()
        assert pane.scroll_back == 0 and pane.search_state is None
        assert "[" not in pane.render_line(0).text
        await pilot.press("x")  # back to live: keys go to the remote again
        assert app.sent == [b"x"]


def _background_of(pane: TerminalPane, y: int, text: str) -> object:
    """The background the pane paints under `text` on row y."""
    painted = pane.render_lines(Region(0, 0, pane.size.width, pane.size.height))[y]
    return next(s.style.bgcolor for s in painted if text in s.text and s.style is not None)


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_matches_are_painted_in_their_colours(backend_name: str) -> None:
    """Main drew the highlight under the pane's own colours: matches looked like text."""
    app = SearchApp(backend_name)
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(30)) + b"needle a needle b")
        await pilot.press("shift+pageup", "slash", *"needle", "enter")
        await pilot.pause()
        assert pane.search_state is not None and pane.search_state.index == 1
        current = pane.get_component_rich_style(CURRENT_MATCH_CLASS).bgcolor
        other = pane.get_component_rich_style(MATCH_CLASS).bgcolor
        assert current is not None and other is not None and current != other
        y = next(y for y in range(10) if "needle a" in pane.render_line(y).text)
        assert _background_of(pane, y, "needle") == other  # the first, not selected
        row = pane.render_line(y)
        selected = [s for s in row if s.text == "needle"][-1]
        assert selected.style.bgcolor == current


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_search_prompt_is_drawn_and_escape_cancels_it(backend_name: str) -> None:
    app = SearchApp(backend_name)
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(30)))
        await pilot.press("shift+pageup", "slash", "a", "b", "backspace")
        await pilot.pause()
        assert pane.render_line(9).text.startswith("/a")
        await pilot.press("escape")  # closes the prompt, stays in the view
        await pilot.pause()
        assert pane.scroll_back > 0 and not pane.render_line(9).text.startswith("/")
        await pilot.press("slash", "z", "z", "z", "enter")  # no match: said so, no move
        await pilot.pause()
        assert pane.search_state is not None and pane.search_state.matches == []
        assert app.sent == []


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_typing_in_the_view_still_returns_to_live(backend_name: str) -> None:
    app = SearchApp(backend_name)
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(30)))
        await pilot.press("shift+pageup", "n")  # no search yet: n is typed
        assert pane.scroll_back == 0 and app.sent == [b"n"]


@needs_ghostty
async def test_osc8_link_is_underlined_shown_and_copied() -> None:
    app = SearchApp("ghostty")
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        url = "https://example.com/docs?q=1"
        await fed(pane, f"see \x1b]8;;{url}\x1b\\the docs\x1b]8;;\x1b\\ now".encode())
        await pilot.pause()
        runs = pane.backend.row_runs(0)
        assert [(text, attrs.underscore) for text, attrs in runs[:3]] == [
            ("see ", False),
            ("the docs", True),
            (runs[2][0], False),
        ]
        await pilot.hover(TerminalPane, offset=(6, 0))
        await pilot.pause()
        assert pane.hovered_link == url and app.links[-1] == url
        assert url in pane.render_line(9).text  # the status line shows the target
        await pilot.click(TerminalPane, offset=(6, 0))
        await pilot.pause()
        assert app.clipboard == url and app.sent == []
        await pilot.hover(TerminalPane, offset=(30, 5))
        await pilot.pause()
        assert pane.hovered_link is None and app.links[-1] is None
