"""Keys typed ahead in one burst (a slow SSH link) land where they were meant (issue 8).

Each test hands the app a whole burst in one read (`burst`), against the real local
platform and a real pty agent, and checks where every key went.
"""

from __future__ import annotations

from textual.widgets import Input

from tests.app.support import burst, dashboard_env, typed, wait_for, wait_for_dialog
from tests.app.test_behaviour import SIZE, open_and_login, phase, select_device, tab
from tui.app.dialogs import LoginScreen


def filter_value(app) -> str:
    return app.query_one("#filter", Input).value


async def test_filter_typed_in_one_burst_filters_and_closes_nothing() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            app.device_table.focus()
            await pilot.pause()
            assert app.device_table.selected_device.device_id == "boiler_0001"
            burst(app, *typed("/cold"))
            await wait_for(app, lambda: filter_value(app) == "cold")
            assert app.query_one("#filter", Input).has_focus
            assert the_tab.is_live and tab(app) is the_tab  # `c` closed nothing
            assert not any("closed" in n.message for n in app._notifications)


async def test_enter_and_login_and_command_typed_ahead_in_one_burst() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            burst(app, "enter", *typed("demo\tdemo\r"), *typed("echo typed-$((6*7))\r"))
            await wait_for(app, lambda: phase(app) == "connected")
            the_tab = tab(app)
            await wait_for(app, lambda: "typed-42" in the_tab.pane.screen_text())
            assert (
                not app.usernames.get("boiler_0001") or app.usernames.get("boiler_0001") == "demo"
            )


async def test_two_enters_in_one_burst_open_one_tab() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            burst(app, "enter", "enter")
            screen = await wait_for_dialog(app, LoginScreen)
            assert len(app.tabs()) == 1
            # the second enter was a key for the dialog (submit with no username: stays)
            assert screen.query_one("#login-username", Input).has_focus


async def test_leave_the_terminal_and_filter_in_one_burst() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            burst(app, "ctrl+right_square_bracket", *typed("/boil"))
            await wait_for(app, lambda: filter_value(app) == "boil")
            # back into the shell: nothing of "/boil" reached it
            burst(app, "escape", "i", *typed("echo back-$((1+1))\r"))
            await wait_for(app, lambda: "back-2" in the_tab.pane.screen_text())
            assert "/boil" not in the_tab.pane.screen_text()


async def test_escape_ends_the_wait_for_a_device_that_does_not_answer() -> None:
    from tui.app.config import AppConfig

    async with dashboard_env() as env:
        env.platform.set_online("boiler_0002")  # ONLINE for REST, but no agent behind it
        app = env.app(config=AppConfig(connect_timeout=600.0, refresh_interval=60.0))
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0002")
            burst(app, "enter", *typed("abc"))
            await wait_for(app, lambda: phase(app, "boiler_0002") == "waiting")
            assert app.key_gate.holding and app.key_gate.pending == 3
            burst(app, "escape")
            await wait_for(app, lambda: app.device_table.has_focus and not app.key_gate.holding)
            assert any("3 keys typed ahead not sent" in n.message for n in app._notifications)
