"""The focused terminal as a real terminal: its keys go to the device (ctrl+p included),
the footer shows only the keys that still work there, and a flood of output is paced
(the pane's backlog stays bounded) while ctrl+c still gets through."""

from __future__ import annotations

from textual.command import CommandPalette

from tests.app.support import dashboard_env, wait_for
from tests.app.test_behaviour import SIZE, open_and_login, run_command


def footer_actions(app) -> set[str]:
    """Actions the footer offers now (what the user sees at the bottom)."""
    return {
        active.binding.action
        for active in app.screen.active_bindings.values()
        if active.binding.show and active.enabled
    }


async def test_ctrl_p_goes_to_the_shell_in_the_terminal_and_opens_the_palette_outside() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await run_command(app, pilot, the_tab, "echo first-$((2*3))", "first-6")
            # ctrl+p is bash's previous-history: the last command comes back, edited to run
            await pilot.press("ctrl+p", "ctrl+a", *"X=1 ", "enter")
            await wait_for(app, lambda: the_tab.pane.screen_text().count("first-6") >= 2)
            assert not CommandPalette.is_open(app)
            # out of the terminal, ctrl+p is the command palette again
            await pilot.press("ctrl+right_square_bracket")
            assert not the_tab.pane.has_focus
            await pilot.press("ctrl+p")
            await wait_for(app, lambda: CommandPalette.is_open(app))
            await pilot.press("escape")
            await wait_for(app, lambda: not CommandPalette.is_open(app))


async def test_footer_in_the_terminal_shows_only_what_works_there() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await pilot.pause()
            shown = footer_actions(app)
            assert {"leave", "switch_tab(1)", "switch_tab(-1)", "zoom_pane"} <= shown
            assert "scroll_history(-1)" in shown
            for gone in ("filter", "refresh", "close_tunnel", "delete_tunnel", "quit", "help"):
                assert gone not in shown
            assert "login" not in shown and "renew" not in shown
            # a letter bound outside (c closes) is typed on the device instead
            await run_command(app, pilot, the_tab, "echo c-$((1+1))", "c-2")
            assert app.tabs() == [the_tab]
            # f11 zooms from inside the terminal; the device table gives way
            await pilot.press("f11")
            assert app.screen.has_class("-zoomed")
            await pilot.press("f11")
            assert not app.screen.has_class("-zoomed")
            # ctrl+] lands on the device list, on this session's device: its keys and
            # the way back into the session (i) show
            await pilot.press("ctrl+right_square_bracket")
            await pilot.pause()
            assert app.device_table.has_focus
            assert app.device_table.selected_device.device_id == the_tab.device.device_id
            shown = footer_actions(app)
            assert {"close_tunnel", "delete_tunnel", "quit", "back_to_session", "zoom"} <= shown
            assert "zoom_pane" not in shown and "leave" not in shown


async def test_output_flood_keeps_the_backlog_bounded_and_ctrl_c_interrupts() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            pane = the_tab.pane
            seen = {"max": 0, "paused": False, "bytes": 0}
            feed = pane.feed

            def measured_feed(data: bytes | str) -> None:
                # instrumentation only: the pane still does all the work
                feed(data)
                seen["bytes"] += len(data)
                seen["max"] = max(seen["max"], pane.pending_bytes)
                seen["paused"] = seen["paused"] or pane.backlog_high

            pane.feed = measured_feed  # type: ignore[method-assign]
            # Marks far under the default 1 MiB: here the emulator outruns the one-process
            # pipeline (platform, agent and app share a loop), so pacing must start early
            # for the test to see it.
            pane._queue.high_water, pane._queue.low_water = 1024, 256
            await pilot.press(*"yes | head -c 30000000", "enter")
            await wait_for(app, lambda: seen["paused"], timeout=60)
            await pilot.press("ctrl+c")
            await run_command(app, pilot, the_tab, "echo after-$((40+2))", "after-42")
            # the flood was cut short, and never piled up in the app: one frame over
            # the high-water mark at most
            assert seen["bytes"] < 30_000_000
            assert seen["max"] <= 1024 + 64 * 1024
            assert not pane.backlog_high
