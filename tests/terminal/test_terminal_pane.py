"""TerminalPane behaviour under Textual's pilot: bytes out, messages up, no freezes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from tui.terminal import TerminalPane
from tui.terminal.backends import ghostty_available
from tui.terminal.paste import PasteConfirm

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"
WAIT = 30.0  # generous: the machine is shared and slow
BACKENDS = [
    "pyte",
    pytest.param(
        "ghostty",
        marks=pytest.mark.skipif(not ghostty_available(), reason="pyghostty not installed"),
    ),
]


class PaneApp(App[None]):
    def __init__(self, **pane_kwargs: object) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.sizes: list[tuple[int, int]] = []
        self.messages: list[object] = []
        self.resized = asyncio.Event()
        self.pane_kwargs = pane_kwargs

    def compose(self) -> ComposeResult:
        yield TerminalPane(on_input=self.sent.append, on_resize=self._resized, **self.pane_kwargs)

    def on_mount(self) -> None:
        self.query_one(TerminalPane).focus()

    def _resized(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))
        self.resized.set()

    def on_terminal_pane_leave_requested(self, message: TerminalPane.LeaveRequested) -> None:
        self.messages.append(message)

    def on_terminal_pane_title_changed(self, message: TerminalPane.TitleChanged) -> None:
        self.messages.append(message)

    def on_terminal_pane_bell(self, message: TerminalPane.Bell) -> None:
        self.messages.append(message)


async def fed(pane: TerminalPane, data: bytes) -> None:
    pane.feed(data)
    await pane.wait_drained(WAIT)


async def test_keys_reach_on_input_as_xterm_bytes() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", "s", "enter", "ctrl+a", "ctrl+c", "tab", "up", "f2", "alt+b")
        assert app.sent == [
            b"l",
            b"s",
            b"\r",
            b"\x01",
            b"\x03",
            b"\t",
            b"\x1b[A",
            b"\x1bOQ",
            b"\x1bb",
        ]


async def test_arrows_follow_application_cursor_mode() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"\x1b[?1h")
        await pilot.press("up", "left")
        await fed(pane, b"\x1b[?1l")
        await pilot.press("up")
        assert app.sent == [b"\x1bOA", b"\x1bOD", b"\x1b[A"]


# Inside the brackets pyte's hand-written encoder sends CR, Ghostty's keeps the LF
# (both are what real terminals do: xterm CR, Ghostty and kitty LF).
BRACKETED_VIM_PASTE = {
    "pyte": b"\x1b[200~vim paste\r\x1b[201~",
    "ghostty": b"\x1b[200~vim paste\n\x1b[201~",
}


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_paste_is_bracketed_only_when_the_remote_asked(backend_name: str) -> None:
    from textual import events

    app = PaneApp(backend_name=backend_name)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.post_message(events.Paste("echo 1\necho 2"))
        await pilot.pause()
        assert isinstance(app.screen, PasteConfirm)  # lines into a shell: asked first
        await pilot.press("y")
        await fed(pane, b"\x1b[?2004h")
        pane.post_message(events.Paste("vim paste\n"))
        await pilot.pause()
        assert app.sent == [b"echo 1\recho 2", BRACKETED_VIM_PASTE[backend_name]]


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_unsafe_paste_refused_sends_nothing_and_one_line_is_not_asked(
    backend_name: str,
) -> None:
    from textual import events

    app = PaneApp(backend_name=backend_name)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.post_message(events.Paste("rm -rf build\nmake\n"))
        await pilot.pause()
        assert isinstance(app.screen, PasteConfirm)
        await pilot.press("n")
        await pilot.pause()
        assert app.sent == [] and app.focused is pane
        pane.post_message(events.Paste("one line"))
        await pilot.pause()
        assert app.sent == [b"one line"]


async def test_leave_key_posts_leave_requested_and_is_remappable() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+right_square_bracket")
        await pilot.pause()
        assert [type(m) for m in app.messages] == [TerminalPane.LeaveRequested]
        assert app.sent == []
        app.set_keymap({"terminal.leave": "f10"})
        await pilot.press("f10", "ctrl+right_square_bracket")
        await pilot.pause()
        assert len(app.messages) == 2
        assert app.sent == [b"\x1d"]  # no longer the leave key: it goes to the remote


async def test_title_and_bell_become_messages() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"\x1b]2;root@device: ~\x07\x07")
        await pilot.pause()
        titles = [m.title for m in app.messages if isinstance(m, TerminalPane.TitleChanged)]
        assert titles == ["root@device: ~"]
        assert any(isinstance(m, TerminalPane.Bell) for m in app.messages)
        assert pane.terminal_title == "root@device: ~"


async def test_replies_to_the_remote_use_on_input() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)):
        pane = app.query_one(TerminalPane)
        await fed(pane, b"\x1b[2;5H\x1b[6n")
        assert app.sent == [b"\x1b[2;5R"]


async def test_emulator_follows_the_widget_size_and_reports_it_debounced() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        await asyncio.wait_for(app.resized.wait(), WAIT)
        assert app.sizes == [(80, 24)]
        app.resized.clear()
        for width in (70, 60, 50):
            await pilot.resize_terminal(width, 20)
        await asyncio.wait_for(app.resized.wait(), WAIT)
        assert app.sizes[-1] == (50, 20)
        assert len(app.sizes) <= 3  # debounced: not one report per step
        assert (pane.backend.columns, pane.backend.lines) == (50, 20)


async def test_keys_go_out_while_a_flood_is_being_processed() -> None:
    app = PaneApp()
    backlog_at_send: list[int] = []
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        pane._input_callback = lambda data: backlog_at_send.append(pane.pending_bytes)
        pane.feed(b"\x1b[31mflood\x1b[0m \x1b[1;32mflood\x1b[0m\r\n" * 40_000)  # 1.2 MB
        await pilot.press("x")
        assert len(backlog_at_send) == 1
        assert backlog_at_send[0] > 0  # the key went out before the flood was processed
        await pane.wait_drained(120)
        assert pane.pending_bytes == 0


async def test_screen_text_and_reset() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)):
        pane = app.query_one(TerminalPane)
        await fed(pane, (FIXTURES / "vim_quit.raw").read_bytes())
        assert pane.screen_text().split("\n")[:2] == ["before vim", "after vim"]
        pane.reset()
        assert pane.screen_text().strip() == ""


async def test_shift_pageup_scrolls_the_history_and_typing_returns() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(100)))
        await pilot.pause()
        assert "line 99" in pane.render_line(8).text
        await pilot.press("shift+pageup")
        await pilot.pause()
        assert pane.scroll_back == 9
        assert "line 82" in pane.render_line(0).text
        # The user can tell the view is not live: row 0 says how far back it is.
        assert pane.render_line(0).text.endswith(" [9/91] ")
        assert pane.render_line(0).cell_length == 40
        await pilot.press("shift+pagedown")
        assert pane.scroll_back == 0
        assert "[" not in pane.render_line(0).text
        await pilot.press("shift+pageup", "a")
        assert pane.scroll_back == 0 and app.sent == [b"a"]
        # In a full-screen app the keys are the app's (vim pages with them).
        await fed(pane, b"\x1b[?1049h")
        await pilot.press("shift+pageup", "shift+pagedown")
        assert pane.scroll_back == 0
        assert app.sent[1:] == [b"\x1b[5;2~", b"\x1b[6;2~"]


async def test_mouse_is_forwarded_only_when_tracking_is_on() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        await pilot.click(TerminalPane, offset=(3, 2))
        assert app.sent == []
        await fed(pane, b"\x1b[?1000h\x1b[?1006h")
        await pilot.click(TerminalPane, offset=(3, 2))
        assert app.sent[:2] == [b"\x1b[<0;4;3M", b"\x1b[<0;4;3m"]


async def test_malformed_output_does_not_break_the_pane() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(
            pane, b"\x1b[999999999999999999999;5H\x1b[38;5m\x1b]\xff\xfe\x07\x9b\x1b[?1049h\x00ok"
        )
        await pilot.pause()
        await fed(pane, b"\x1b[?1049l\x1b[2J\x1b[Hstill alive")
        assert pane.screen_text().startswith("still alive")


async def test_wheel_scrolls_history_or_sends_arrows_in_full_screen_apps() -> None:
    from textual import events

    app = PaneApp()
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(50)))

        def wheel(up: bool) -> None:
            cls = events.MouseScrollUp if up else events.MouseScrollDown
            pane.post_message(cls(pane, 2, 2, 0, 0, 0, False, False, False))

        wheel(True)
        await pilot.pause()
        assert pane.scroll_back == 3
        wheel(False)
        await pilot.pause()
        assert pane.scroll_back == 0
        await fed(pane, b"\x1b[?1049h")
        wheel(False)
        await pilot.pause()
        assert app.sent == [b"\x1b[B" * 3]


async def test_scrolled_back_view_stays_put_while_output_arrives() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(100)))
        await pilot.press("shift+pageup")
        top = [pane.render_line(y).text for y in (1, 2)]  # row 0 holds the indicator
        await fed(pane, b"".join(b"more %d\r\n" % i for i in range(5)))
        assert [pane.render_line(y).text for y in (1, 2)] == top
        assert pane.scroll_back == 14


async def test_backlog_reports_high_then_low_and_drops_nothing() -> None:
    app = PaneApp(high_water=4096, low_water=1024)
    states: list[bool] = []
    async with app.run_test(size=(40, 10)):
        pane = app.query_one(TerminalPane)
        pane._queue._on_backlog = states.append
        assert not pane.backlog_high
        pane.feed(b"x" * 2048)
        assert states == [] and not pane.backlog_high
        for i in range(200):  # 200 lines of 40 bytes: far over the high-water mark
            pane.feed(b"line %03d ".ljust(38, b".") % i + b"\r\n")
        assert states == [True] and pane.backlog_high  # told at once, once
        pane.feed(b"still accepted")  # a late frame while high is queued, never dropped
        await pane.wait_drained(WAIT)
        assert states == [True, False] and not pane.backlog_high
        assert pane.pending_bytes == 0
        rows = pane.screen_text().split("\n")
        assert rows[-2].startswith("line 199") and rows[-1] == "still accepted"


async def test_backlog_callback_errors_are_contained() -> None:
    def broken(high: bool) -> None:
        raise RuntimeError("embedder bug")

    app = PaneApp(high_water=100, low_water=10, on_backlog=broken)
    async with app.run_test(size=(40, 10)):
        pane = app.query_one(TerminalPane)
        await fed(pane, b"y" * 1000)
        assert pane.screen_text().startswith("y" * 40) and not pane.backlog_high


async def test_taller_pane_pulls_lines_back_from_history() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 10)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"".join(b"line %d\r\n" % i for i in range(30)) + b"$ ")
        assert pane.screen_text().split("\n")[0] == "line 21"
        await pilot.resize_terminal(40, 15)
        await pilot.pause()
        rows = pane.screen_text().split("\n")
        assert (len(rows), rows[0], rows[-1]) == (15, "line 16", "$")
        assert pane.backend.cursor == (2, 14)
        await pilot.press("shift+pageup")
        await pilot.resize_terminal(40, 20)  # scrolled back: the view keeps its lines
        await pilot.pause()
        assert pane.scroll_back == 9 and pane.render_line(0).text.startswith("line 2 ")


async def test_focus_changes_are_reported_only_when_the_remote_asked() -> None:
    from textual.widgets import Button

    class TwoWidgets(PaneApp):
        def compose(self) -> ComposeResult:
            yield from super().compose()
            yield Button("elsewhere")

    app = TwoWidgets()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        app.query_one(Button).focus()
        pane.focus()
        await pilot.pause()
        assert app.sent == []
        await fed(pane, b"\x1b[?1004h")
        app.query_one(Button).focus()
        await pilot.pause()
        pane.focus()
        await pilot.pause()
        assert app.sent == [b"\x1b[O", b"\x1b[I"]


@pytest.mark.parametrize("backend_name", BACKENDS[1:])
async def test_a_failing_native_backend_is_reported_in_the_pane_not_a_crash(
    backend_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tui.terminal.ghostty_backend import GhosttyBackend
    from tui.terminal.ghostty_native import NativeError
    from tui.terminal.pyte_backend import PyteBackend

    class Failing(GhosttyBackend):
        def feed(self, data: bytes) -> None:
            if b"boom" in data:
                raise NativeError("libghostty-vt: vt_write failed (-1)")
            super().feed(data)

    app = PaneApp(backend=Failing(80, 24))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        await fed(pane, b"before\r\n")
        await fed(pane, b"boom\r\n")
        await fed(pane, b"after\r\n")
        await pilot.pause()
        assert isinstance(pane.backend, PyteBackend)
        text = pane.screen_text()
        assert "the emulator failed (NativeError)" in text and "after" in text
        await pilot.press("x")
        assert app.sent[-1] == b"x"  # still a working terminal
    assert "backend failed" in caplog.text
