"""Nothing that ends a live shell happens without a question naming the device (issue 8:
`r` with 23:58 left and `c` ended the shell at once)."""

from __future__ import annotations

from tests.app.support import dashboard_env, wait_for, wait_for_dialog
from tests.app.test_behaviour import SIZE, open_and_login, phase, tab
from tui.app.config import AppConfig
from tui.app.dialogs import ConfirmScreen


def question(app) -> str:
    return str(app.screen.question)


async def test_close_and_renew_of_a_connected_shell_ask_first() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            tunnel_id = the_tab.stored.tunnel_id
            await pilot.press("ctrl+right_square_bracket", "c")
            await wait_for_dialog(app, ConfirmScreen)
            assert "Close" in question(app) and "Boiler" in question(app)
            await pilot.press("n")
            await pilot.press("r")
            await wait_for_dialog(app, ConfirmScreen)
            assert "Renew" in question(app) and "Boiler" in question(app)
            await pilot.press("n")
            await pilot.pause()
            assert tab(app) is the_tab and phase(app) == "connected"
            assert the_tab.stored.tunnel_id == tunnel_id  # not renewed
            await pilot.press("r")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await wait_for(app, lambda: the_tab.stored.tunnel_id != tunnel_id)


async def test_close_all_names_the_devices_and_the_config_can_turn_questions_off() -> None:
    async with dashboard_env(agents=("boiler_0001", "pump_0001")) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await open_and_login(app, pilot, "boiler_0001")
            await pilot.press("ctrl+right_square_bracket")
            await open_and_login(app, pilot, "pump_0001")
            app.ops.close_all()
            await wait_for_dialog(app, ConfirmScreen)
            assert "2 shells" in question(app)
            await pilot.press("n")
            await pilot.pause()
            assert len(app.tabs()) == 2
        app = env.app(config=AppConfig(confirm=False, refresh_interval=60.0))
        async with app.run_test(size=SIZE) as pilot:
            await open_and_login(app, pilot, "boiler_0001")
            await pilot.press("ctrl+right_square_bracket", "c")
            await wait_for(app, lambda: tab(app) is None)
            assert not isinstance(app.screen, ConfirmScreen)
