"""Drawing: strips fit the grid, the cursor, cached rows, selection, replay app."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Offset, Region
from textual.selection import Selection

from tui.terminal import TerminalPane
from tui.terminal.backend import Attrs
from tui.terminal.recording import load_recording
from tui.terminal.render import fit_text, runs_to_segments, style_for
from tui.terminal.replay_app import ReplayApp

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"


def test_clusters_are_drawn_on_the_emulator_grid() -> None:
    # The remote's shell counts every code point; Rich counts grapheme clusters.
    assert cell_len(fit_text("a👩\u200d💻b")) == 6
    assert cell_len(fit_text("❤\ufe0f x")) == 3
    assert cell_len(fit_text("👍🏽")) == 4
    assert fit_text("中文 e\u0301") == "中文 e\u0301"


def test_style_for_maps_attributes() -> None:
    style = style_for(Attrs(fg="bright_red", bg="color(17)", bold=True, dim=True, reverse=True))
    assert style == Style(
        color="bright_red", bgcolor="color(17)", bold=True, dim=True, reverse=True
    )
    assert style_for(Attrs()) == Style()


def test_cursor_cell_is_reversed_even_inside_wide_text() -> None:
    runs = [("ab中文", Attrs())]
    segments = runs_to_segments(runs, style_for, cursor_x=4)
    assert [s.text for s in segments] == ["ab中", "文"]
    assert segments[1].style is not None and segments[1].style.reverse


def test_cursor_on_reverse_video_is_shown_inverted() -> None:
    # In less's status line or vim's visual selection the cursor must still show.
    runs = [("ab", Attrs(reverse=True))]
    segments = runs_to_segments(runs, style_for, cursor_x=1)
    assert [s.text for s in segments] == ["a", "b"]
    assert segments[0].style.reverse and segments[1].style.reverse is False


class PaneApp(App[None]):
    AUTO_FOCUS = None

    def compose(self) -> ComposeResult:
        yield TerminalPane()


async def test_cursor_is_drawn_only_when_visible_and_focused() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.feed(b"$ ")
        await pane.wait_drained(30)

        def cursor_drawn() -> bool:
            return any(s.style and s.style.reverse for s in pane.render_line(0))

        assert not cursor_drawn()  # not focused
        pane.focus()
        await pilot.pause()
        assert cursor_drawn()
        pane.feed(b"\x1b[?25l")
        await pane.wait_drained(30)
        assert not cursor_drawn()


async def test_untouched_rows_keep_their_cached_strips() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.feed(b"\x1b[5;1Hfooter\x1b[1;1H")
        await pane.wait_drained(30)
        await pilot.pause()
        before = pane.render_line(4)
        pane.feed(b"top line")
        await pane.wait_drained(30)
        assert pane._strips.get(4) is not None
        assert pane.render_line(4).text == before.text


async def test_selected_text_is_the_screen_text() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 6)):
        pane = app.query_one(TerminalPane)
        pane.feed(b"first line\r\nsecond line")
        await pane.wait_drained(30)
        assert pane.allow_select
        text, ending = pane.get_selection(Selection(Offset(6, 0), Offset(6, 1)))
        assert (text, ending) == ("line\nsecond", "\n")
        pane.feed(b"\x1b[?1000h")
        await pane.wait_drained(30)
        assert not pane.allow_select  # the remote owns the mouse now


async def test_the_mouse_finds_characters_while_painted_rows_skip_offsets() -> None:
    """Textual's compositor asks `render_line` which character is under the mouse (the
    offset meta on each segment); painting goes through `render_lines` and skips that
    meta (a Style copy per run)."""
    app = PaneApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.feed("abc\u4e2d\u6587 \x1b[31mxyz\x1b[0m".encode())
        await pane.wait_drained(30)
        await pilot.pause()
        region = pane.content_region
        for cell, character in ((1, 1), (3, 3), (5, 4), (8, 6), (10, 8)):
            widget, offset = app.screen.get_widget_and_offset_at(region.x + cell, region.y)
            assert widget is pane and offset == Offset(character, 0), cell
        painted = pane.render_lines(Region(0, 0, region.width, region.height))
        assert painted[0].text.startswith("abc\u4e2d\u6587 xyz")
        assert all(s.style is None or "offset" not in s.style.meta for s in painted[0])


async def test_a_selection_is_painted_over_the_pane_colours() -> None:
    """Main drew the selection style under each segment's own background: invisible."""
    app = PaneApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.feed(b"first line\r\nsecond line")
        await pane.wait_drained(30)
        pane.screen.selections = {pane: Selection(Offset(0, 0), Offset(5, 0))}
        await pilot.pause()
        wanted = pane.screen.get_component_rich_style("screen--selection").bgcolor
        painted = pane.render_lines(Region(0, 0, 40, 6))[0]
        chosen = next(s for s in painted if s.text.startswith("first"))
        assert chosen.text == "first" and wanted is not None
        assert chosen.style.bgcolor == wanted
        assert all(s.style.bgcolor != wanted for s in painted if s.text.startswith(" line"))


async def test_replay_app_plays_a_capture_and_quits() -> None:
    app = ReplayApp(load_recording(FIXTURES / "vim_quit.raw"), cols=None, rows=None, speed=0)
    async with app.run_test(size=(80, 26)) as pilot:
        pane = app.query_one(TerminalPane)
        await pilot.pause()
        await pane.wait_drained(30)
        assert pane.screen_text().split("\n")[:2] == ["before vim", "after vim"]
        assert (pane.backend.columns, pane.backend.lines) == (80, 24)
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_ctrl_c_copies_a_selection_and_interrupts_without_one() -> None:
    sent: list[bytes] = []

    class CopyApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TerminalPane(on_input=sent.append)

    app = CopyApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.focus()
        pane.feed(b"copy me\r\n$ ")
        await pane.wait_drained(30)
        pane.screen.selections = {pane: Selection(Offset(0, 0), Offset(4, 0))}
        await pilot.press("ctrl+c")
        assert app.clipboard == "copy"
        assert sent == []
        pane.screen.clear_selection()
        await pilot.press("ctrl+c")
        assert sent == [b"\x03"]


async def test_feed_from_another_thread() -> None:
    import asyncio

    app = PaneApp()
    async with app.run_test(size=(40, 6)):
        pane = app.query_one(TerminalPane)
        # The hop to the loop is queued before to_thread's own completion callback,
        # so the bytes are queued (or processed) by the time it returns.
        await asyncio.to_thread(pane.feed, b"from a thread")
        await pane.wait_drained(30)
        assert pane.screen_text().startswith("from a thread")


async def test_only_dirty_rows_are_refreshed_at_most_once_a_frame() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.focus()
        await pilot.pause()
        refreshed: list[tuple] = []
        real_refresh = pane.refresh

        def spy(*regions, **kwargs):
            refreshed.append(regions)
            return real_refresh(*regions, **kwargs)

        pane.refresh = spy  # type: ignore[method-assign]
        pane._last_paint = 0.0  # the last frame is long past: paint at once
        pane.feed(b"\x1b[4;1Hx")  # cursor from row 0 to row 3
        await pane.wait_drained(30)
        assert refreshed and {(r.y, r.height) for r in refreshed[-1]} == {(0, 1), (3, 1)}
        refreshed.clear()
        # Within a frame of the last paint: nothing is painted now, one paint is queued.
        from time import perf_counter

        pane._last_paint = perf_counter() + 3600
        pane.feed(b"y")
        pane.feed(b"\x1b[5;1Hz")
        await pane.wait_drained(30)
        assert refreshed == [] and pane._paint_timer is not None
        pane._paint_timer.stop()
        pane._paint()
        assert {r.y for r in refreshed[-1]} == {3, 4}


async def test_a_flood_frame_that_is_slow_to_draw_makes_the_next_one_wait_longer() -> None:
    from time import perf_counter

    from tui.terminal.pane import FLOOD_BYTES, FLOOD_FRAME_SECONDS, FLOOD_PAINT_SHARE

    app = PaneApp()
    async with app.run_test(size=(40, 6)) as pilot:
        pane = app.query_one(TerminalPane)
        await pilot.pause()
        assert pane._paint_seconds > 0  # measured by drawing the pane's rows

        def next_frame_after_a_flood(paint_seconds: float) -> float:
            if pane._paint_timer is not None:
                pane._paint_timer.stop()
                pane._paint_timer = None
            pane._paint_seconds = paint_seconds
            pane._last_paint = perf_counter()
            pane._fed_bytes = FLOOD_BYTES  # a flood since the last frame
            pane._dirty.add(0)
            pane._schedule_paint()
            assert pane._paint_timer is not None  # not painted at once
            return pane._paint_due - pane._last_paint

        # a cheap frame: the flood's frame rate; a slow one: its share of the time at most
        assert abs(next_frame_after_a_flood(0.001) - FLOOD_FRAME_SECONDS) < 1e-6
        assert abs(next_frame_after_a_flood(0.03) - 0.03 / FLOOD_PAINT_SHARE) < 1e-6
        pane._paint_timer.stop()


async def test_replay_plays_at_the_recorded_pace_with_long_gaps_cut() -> None:
    from tui.terminal.recording import OutputEvent, Recording

    events = [OutputEvent(0.0, b"one\r\n"), OutputEvent(0.5, b"two\r\n")]
    events.append(OutputEvent(5000.0, b"three"))  # an idle hour is cut to MAX_GAP_SECONDS
    app = ReplayApp(Recording(events, cols=20, rows=4), cols=None, rows=None, speed=50)
    async with app.run_test(size=(30, 8)):
        await app.workers.wait_for_complete()
        pane = app.query_one(TerminalPane)
        await pane.wait_drained(30)
        assert pane.screen_text().split("\n")[:3] == ["one", "two", "three"]
        assert (pane.backend.columns, pane.backend.lines) == (20, 4)
