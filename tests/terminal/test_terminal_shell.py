"""The pane on a real shell (bash on a local pty): what a field engineer does all day."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable

import pytest
from textual import events
from textual.pilot import Pilot

from tests.terminal.shell_harness import BURST_BYTES, ShellApp
from tui.terminal import TerminalPane

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
WAIT = 60.0  # generous: a shared 2-core machine starts vim slowly
PROMPT = "$ "


def shell_app(**kwargs: object) -> ShellApp:
    app = ShellApp(
        ["env", "PS1=$ ", "HISTFILE=/dev/null", "bash", "--norc", "--noprofile", "-i"],
        **kwargs,
    )
    return app


async def until(app: ShellApp, ready: Callable[[TerminalPane], bool]) -> TerminalPane:
    """Wait until the screen satisfies `ready`, re-checking whenever output arrives."""
    pane = app.query_one(TerminalPane)

    async def watch() -> None:
        while True:
            app.received.clear()
            await pane.wait_drained(WAIT)
            if ready(pane):
                return
            await app.received.wait()

    await asyncio.wait_for(watch(), WAIT)
    return pane


def shows(text: str) -> Callable[[TerminalPane], bool]:
    return lambda pane: text in pane.screen_text()


async def run(pilot: Pilot, app: ShellApp, command: str, expect: str) -> TerminalPane:
    await pilot.press(*command, "enter")
    return await until(app, shows(expect))


async def test_typing_runs_commands_and_colours_arrive() -> None:
    app = shell_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(app, shows(PROMPT.strip()))
        pane = await run(pilot, app, "printf '\\e[1;31mred\\e[0m %s\\n' ok", "red ok")
        row = next(y for y in range(24) if pane.backend.row_text(y).startswith("red ok"))
        text, attrs = pane.backend.row_runs(row)[0]
        assert (text, attrs.fg, attrs.bold) == ("red", "red", True)


async def test_vim_opens_and_quitting_restores_the_shell_screen() -> None:
    if shutil.which("vim") is None:
        pytest.skip("vim not installed")
    app = shell_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(app, shows(PROMPT.strip()))
        await run(pilot, app, "echo before-vim", "\nbefore-vim")
        await pilot.press(*"vim -u NONE -N -c 'set nomore' /etc/hostname", "enter")
        pane = await until(app, lambda p: p.backend.modes.alt_screen and "~" in p.screen_text())
        await pilot.press("escape", *":q", "enter")
        pane = await until(app, lambda p: not p.backend.modes.alt_screen)
        await run(pilot, app, "echo after-vim", "\nafter-vim")
        rows = [row for row in pane.screen_text().split("\n") if row]
        assert "before-vim" in rows and rows[-2:] == ["after-vim", PROMPT.strip()]


async def test_resizing_the_pane_resizes_the_pty() -> None:
    app = shell_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(app, shows(PROMPT.strip()))
        await run(pilot, app, "stty size", "24 80")
        app.resized.clear()
        await pilot.resize_terminal(60, 15)

        async def reported() -> None:
            while not app.sizes or app.sizes[-1] != (60, 15):
                app.resized.clear()
                await app.resized.wait()

        await asyncio.wait_for(reported(), WAIT)  # debounced, so it comes a little later
        await run(pilot, app, "stty size", "15 60")


async def test_bracketed_paste_reaches_the_shell_unexecuted() -> None:
    app = shell_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(app, shows(PROMPT.strip()))
        await run(pilot, app, "bind 'set enable-bracketed-paste on'", PROMPT.strip())
        pane = app.query_one(TerminalPane)
        await until(app, lambda p: p.backend.modes.bracketed_paste)
        pane.post_message(events.Paste("echo pasted-1\necho pasted-2"))
        await until(app, shows("echo pasted-2"))
        assert "\npasted-1" not in pane.screen_text()  # not run before enter
        await pilot.press("enter")
        await until(
            app, lambda p: "\npasted-1" in p.screen_text() and "\npasted-2" in p.screen_text()
        )


async def test_a_flood_is_bounded_and_ctrl_c_stops_it() -> None:
    app = shell_app(high_water=64 << 10, low_water=16 << 10)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(app, shows(PROMPT.strip()))
        await pilot.press(*"yes flood-line-of-text", "enter")

        async def paused_repeatedly() -> None:
            # While the flood runs the backlog never fully drains: watch the pauses.
            while app.paused_reads < 3:
                app.received.clear()
                await app.received.wait()

        await asyncio.wait_for(paused_repeatedly(), WAIT)
        await pilot.press("ctrl+c")
        await until(app, lambda p: p.backend.row_text(p.backend.cursor[1]) == PROMPT.strip())
        # Never more than the high-water mark plus one burst read from the pty.
        assert app.peak_backlog <= (64 << 10) + BURST_BYTES
