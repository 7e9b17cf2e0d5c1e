"""Sorting, the periodic refresh keeping statuses live, and the password never kept:
against the real local platform and a real pty agent."""

from __future__ import annotations

import logging

from textual.widgets import Input

from tests.app.support import dashboard_env, dialog_ready, wait_for
from tests.app.test_behaviour import SIZE, login, select_device
from tui.app.config import AppConfig
from tui.app.dialogs import LoginScreen
from tui.iotda.models import DeviceStatus


def statuses(app) -> dict[str, str]:
    return {d.device_id: d.status for d in app.device_table.visible_devices()}


async def test_sort_key_and_periodic_refresh_keep_the_table_live() -> None:
    async with dashboard_env() as env:
        app = env.app(config=AppConfig(refresh_interval=0.5))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(app, lambda: app.devices_done.is_set())
            names = [d.display_name for d in app.device_table.visible_devices()]
            assert names == sorted(names)
            await pilot.press("s")  # name, descending
            await pilot.pause()
            shown = [d.display_name for d in app.device_table.visible_devices()]
            assert shown == sorted(names, reverse=True)
            # a device goes offline on the platform: the refresh shows it, no key pressed
            assert statuses(app)["boiler_0001"] == DeviceStatus.ONLINE
            env.platform.set_online("boiler_0001", False)
            await wait_for(app, lambda: statuses(app)["boiler_0001"] != DeviceStatus.ONLINE)
            env.platform.set_online("boiler_0001", True)
            await wait_for(app, lambda: statuses(app)["boiler_0001"] == DeviceStatus.ONLINE)


async def test_the_password_is_never_logged_nor_stored(caplog) -> None:
    secret = "Wr0ng-S3cret-xyz"  # distinct from every other string in the run
    caplog.set_level(logging.DEBUG)
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            await pilot.press("enter")
            await login(app, pilot, password=secret)
            await wait_for(
                app,
                lambda: dialog_ready(app, LoginScreen) and app.screen.error is not None,
            )
            assert app.screen.query_one("#login-password", Input).value == ""
            await pilot.press("escape")
    assert secret not in caplog.text
    for path in (app.token_store.path, app.usernames.path):
        if path.exists():
            assert secret not in path.read_text()
            assert path.stat().st_mode & 0o077 == 0


async def test_periodic_refresh_of_a_big_fleet_is_paced_by_its_size() -> None:
    from tests.app.support import big_fleet_seed
    from tests.support.platform import running_platform
    from tui.app.factory import make_app

    now = [1_000_000.0]
    async with running_platform(big_fleet_seed(1_000)) as platform, platform.client() as client:
        listings: list[int] = []
        real_pages = client.list_device_pages

        def counted_pages(**filters):
            listings.append(1)
            return real_pages(**filters)

        client.list_device_pages = counted_pages  # count real requests, answer them for real
        app = make_app(
            client=client, clock=lambda: now[0], config=AppConfig(refresh_interval=3600.0)
        )
        async with app.run_test(size=SIZE):
            await wait_for(app, lambda: app.devices_done.is_set(), timeout=60)
            assert len(listings) == 1  # 1,000 devices: 20 pages, twice the pacing threshold
            now[0] += 3600 * 1.5  # past one interval, not yet two
            app.listing.periodic_refresh()
            await app.workers.wait_for_complete()
            assert len(listings) == 1  # tunnels were refreshed, the fleet was not re-listed
            now[0] += 3600
            app.listing.periodic_refresh()
            await app.workers.wait_for_complete()
            assert len(listings) == 2
            app.action_refresh()  # f5 re-lists at once, whatever the pacing
            await app.workers.wait_for_complete()
            assert len(listings) == 3


async def test_recorded_sessions_replay_their_output_and_never_hold_input(tmp_path) -> None:
    import os
    import stat
    from pathlib import Path

    from tests.app.test_behaviour import open_and_login, run_command
    from tui.app.dialogs import ConfirmScreen
    from tui.terminal.recording import final_screen, load_recording

    async with dashboard_env() as env:
        app = env.app(config=AppConfig(refresh_interval=60.0, record_sessions=True))
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await run_command(app, pilot, the_tab, "echo rec-$((6*7))", "rec-42")
            await pilot.press("ctrl+right_square_bracket", "c")
            await wait_for(app, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(app, lambda: the_tab.session is None or the_tab.session.ended)
    folder = Path(os.environ["XDG_STATE_HOME"]) / "iotunnel" / "recordings"
    casts = sorted(folder.glob("boiler_0001-*.cast"))
    assert len(casts) == 1
    assert stat.S_IMODE(casts[0].stat().st_mode) == 0o600
    text = casts[0].read_text()
    assert '"i"' not in text  # output only: no input event, so no password, ever
    assert "rec-42" in final_screen(load_recording(casts[0]), None, None)
