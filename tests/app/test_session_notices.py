"""What the pane and the notices say around renew and expiry (issue 8: the new prompt
was glued to the old one after a renew; "press r to renew" while `r` went to the device;
after expiry typed input vanished without a word)."""

from __future__ import annotations

from tests.app.support import burst, dashboard_env, typed, wait_for, wait_for_dialog
from tests.app.test_behaviour import SIZE, login, open_and_login, phase
from tests.app.test_behaviour_more import MovableClock
from tui.app.dialogs import ConfirmScreen


async def test_renew_draws_a_rule_with_the_time_before_the_new_shell() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            assert "new shell" not in the_tab.pane.screen_text()
            old = the_tab.stored.tunnel_id
            await pilot.press("ctrl+right_square_bracket", "r")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await login(app, pilot)
            await wait_for(app, lambda: phase(app) == "connected")
            assert the_tab.stored.tunnel_id != old
            text = the_tab.pane.screen_text()
            assert "──── new shell · " in text


async def test_token_notices_name_the_keys_that_work_and_expiry_is_said_in_the_pane() -> None:
    clock = MovableClock()
    async with dashboard_env() as env:
        app = env.app(clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            assert the_tab.pane.has_focus
            left = the_tab.stored.expires_at - clock()
            clock.offset = left - 30
            app.tick()
            await pilot.pause()
            critical = [n for n in app._notifications if n.severity == "error"]
            assert critical and "ctrl+] then r" in critical[-1].message
            assert "press r" not in critical[-1].message
            clock.offset = left + 1
            app.tick()
            await wait_for(app, lambda: "token expired" in the_tab.pane.screen_text())
            # typed into the expired session: refused, visibly, where it was typed
            burst(app, *typed("ls\r"))
            await wait_for(app, lambda: "input not sent" in the_tab.pane.screen_text())
