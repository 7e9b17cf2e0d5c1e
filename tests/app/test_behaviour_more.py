"""More of the dashboard against the real platform: replace, countdown, themes, keys, quit."""

from __future__ import annotations

import time

from tests.app.support import dashboard_env, dialog_ready, wait_for, wait_for_dialog
from tests.app.test_behaviour import SIZE, login, open_and_login, phase, select_device, tab
from tui.app.config import AppConfig
from tui.app.countdown import TokenLevel
from tui.app.dialogs import ConfirmScreen, LoginScreen
from tui.app.themes import user_theme_dir


class MovableClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def _decline_replacing(app, pilot) -> None:
    """Open a tunnel to a device whose tunnel another client made, and answer No."""
    await select_device(app, pilot, "boiler_0001")
    await pilot.press("enter")
    await wait_for_dialog(app, ConfirmScreen)
    await pilot.press("n")
    await wait_for(app, lambda: phase(app) == "ended")


async def test_a_foreign_tunnel_is_replaced_only_after_confirmation() -> None:
    async with dashboard_env() as env:
        foreign = await env.client.create_tunnel("boiler_0001")  # not in this client's store
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await _decline_replacing(app, pilot)
            assert [t.tunnel_id for t in await env.client.list_tunnels()] == [foreign.tunnel_id]
            app.device_table.focus()
            await pilot.press("enter")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await login(app, pilot)
            await wait_for(app, lambda: phase(app) == "connected")
            tunnels = await env.client.list_tunnels()
            assert len(tunnels) == 1 and tunnels[0].tunnel_id != foreign.tunnel_id
            assert tab(app).stored.tunnel_id == tunnels[0].tunnel_id


async def test_renew_asks_before_replacing_a_foreign_tunnel() -> None:
    async with dashboard_env() as env:
        foreign = await env.client.create_tunnel("boiler_0001")  # not in this client's store
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await _decline_replacing(app, pilot)
            the_tab = tab(app)
            assert the_tab is not None and the_tab.stored is None
            app.activate_tab(the_tab)  # the status line has the focus: r is the tab's
            await pilot.press("r")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("n")
            await wait_for(
                app, lambda: phase(app) == "ended" and not dialog_ready(app, ConfirmScreen)
            )
            tunnels = await env.client.list_tunnels()
            assert [t.tunnel_id for t in tunnels] == [foreign.tunnel_id]
            assert tunnels[0].is_open
            assert "another client" in the_tab.detail


async def test_countdown_warns_once_then_goes_critical() -> None:
    clock = MovableClock()
    async with dashboard_env() as env:
        app = env.app(clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            left = the_tab.stored.expires_at - clock()
            clock.offset = left - 9 * 60
            app.tick()
            app.tick()
            await pilot.pause()
            warnings = [n for n in app._notifications if n.title == "Token expiring"]
            assert len(warnings) == 1 and "9 min" in warnings[0].message
            assert the_tab.level() == TokenLevel.WARNING
            assert the_tab.query_one("#tab-status").has_class("-token-warning")
            clock.offset = left - 30
            app.tick()
            await pilot.pause()
            assert the_tab.level() == TokenLevel.CRITICAL
            critical = [n for n in app._notifications if n.severity == "error"]
            assert len(critical) == 1 and "30 s" in critical[0].message
            await pilot.pause()


async def test_a_broken_user_theme_is_one_notification_and_themes_switch() -> None:
    directory = user_theme_dir()
    directory.mkdir(parents=True)
    (directory / "broken.toml").write_text('name = "broken"\nprimary = 7\n')
    async with dashboard_env(agents=()) as env:
        app = env.app(config=AppConfig(theme="iotunnel-light", refresh_interval=60.0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(app, lambda: app.devices_done.is_set())
            problems = [n for n in app._notifications if n.title == "Theme not loaded"]
            assert len(problems) == 1 and "broken.toml" in problems[0].message
            assert app.theme == "iotunnel-light"
            await pilot.press("ctrl+p")
            await pilot.press(*"switch theme: iotunnel-high")
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(app, lambda: app.theme == "iotunnel-high-contrast")
            spec = app.theme_set.themes["iotunnel-high-contrast"]
            assert app.ansi_theme_dark is spec.terminal


async def test_remapped_keys_and_quit_confirmation() -> None:
    async with dashboard_env() as env:
        config = AppConfig(keymap={"tunnel.open": "o", "app.quit": "x"}, refresh_interval=60.0)
        app = env.app(config=config)
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            await pilot.press("enter")  # no longer bound to open
            await pilot.pause()
            assert not app.tabs()
            await pilot.press("o")
            await wait_for_dialog(app, LoginScreen)
            await pilot.press("escape")
            app.device_table.focus()
            await pilot.press("x")  # quit, remapped: a session is open, so it asks
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("n")
            assert app.is_running
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.query_one("#help-keys") is not None
            await pilot.press("escape")
            await pilot.press("x")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await wait_for(app, lambda: not app.is_running)


async def test_two_sessions_in_tabs_switch_zoom_and_close_all() -> None:
    async with dashboard_env(agents=("boiler_0001", "pump_0001")) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            first = await open_and_login(app, pilot, "boiler_0001")
            await pilot.press("ctrl+right_square_bracket")
            app.device_table.focus()
            await pilot.press("escape")
            second = await open_and_login(app, pilot, "pump_0001")
            assert app.tunnel_tabs.active == second.id
            await pilot.press("ctrl+pagedown")
            assert app.tunnel_tabs.active == first.id
            await pilot.press("ctrl+pageup")
            assert app.tunnel_tabs.active == second.id
            await pilot.press("ctrl+right_square_bracket", "z")
            assert app.screen.has_class("-zoomed") and not app.device_table.display
            await pilot.press("z")
            assert not app.screen.has_class("-zoomed") and app.device_table.display
            app.ops.close_all()
            await wait_for_dialog(app, ConfirmScreen)  # two live shells: asked first
            await pilot.press("y")
            await wait_for(app, lambda: not app.tabs())
            tunnels = await env.client.list_tunnels()
            assert sorted(t.status for t in tunnels) == ["CLOSED", "CLOSED"]


async def test_device_going_away_waits_then_logs_in_again_when_it_returns() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await env.agents["boiler_0001"].set_online(False)
            await wait_for(app, lambda: the_tab.phase == "gone")
            assert the_tab.detail == "device disconnected, waiting"
            assert the_tab.is_live  # still waiting for a new connect_tunnel
            await env.agents["boiler_0001"].set_online(True)  # the platform calls it back
            await login(app, pilot)
            await wait_for(app, lambda: the_tab.phase == "connected")


async def test_a_flood_of_output_arrives_whole_and_keys_still_work() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await pilot.press(*"seq 1 100000; echo flood-$((40+2))", "enter")
            await wait_for(app, lambda: "flood-42" in the_tab.pane.screen_text(), timeout=90)
            lines = the_tab.pane.screen_text().splitlines()
            assert "100000" in lines  # the last number, on its own line: nothing lost
            await pilot.press(*"echo still-$((2+3))", "enter")
            await wait_for(app, lambda: "still-5" in the_tab.pane.screen_text())


async def test_resizing_the_terminal_resizes_the_remote_pty() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            cols = the_tab.pane.size.width
            await pilot.press(*"stty size | tr ' ' x", "enter")
            await wait_for(app, lambda: f"x{cols}" in the_tab.pane.screen_text())
            await pilot.resize_terminal(100, 40)
            await wait_for(app, lambda: the_tab.pane.size.width == 100)
            await pilot.press("ctrl+l")
            await pilot.press(*"stty size | tr ' ' x", "enter")
            await wait_for(app, lambda: "x100" in the_tab.pane.screen_text())


async def test_ten_thousand_devices_are_paged_in_and_filtered() -> None:
    from tests.app.support import big_fleet_seed
    from tests.support.platform import running_platform
    from tui.app.factory import make_app

    async with running_platform(big_fleet_seed(10_000)) as platform, platform.client() as client:
        app = make_app(client=client, config=AppConfig(refresh_interval=3600.0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(app, lambda: app.device_table.total > 0)
            assert app.listing.first_paint_at is not None
            await wait_for(app, lambda: app.devices_done.is_set(), timeout=120)
            assert app.device_table.total == 10_000
            await pilot.press("slash", *"valve berl !00")
            await wait_for(app, lambda: app.device_table.query == "valve berl !00")
            shown = app.device_table.visible_devices()
            assert shown and all(d.product_id == "valve" for d in shown)
            assert all("00" not in d.device_id for d in shown)
            assert all(d.tag_dict()["site"] == "berlin" for d in shown)
            await pilot.press("escape", "end")
            assert app.device_table.cursor_row == 9_999
