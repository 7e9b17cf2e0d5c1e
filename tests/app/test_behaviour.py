"""The dashboard against the real local platform and real pty agents, driven by the pilot."""

from __future__ import annotations

from textual.widgets import Input

from tests.app.support import (
    LOGIN_PASSWORD,
    LOGIN_USER,
    dashboard_env,
    dialog_ready,
    wait_for,
    wait_for_dialog,
)
from tui.app.app import IoTunnelApp
from tui.app.dialogs import ConfirmScreen, LoginScreen
from tui.app.tunnel_tab import TunnelTab

SIZE = (120, 40)


def tab(app: IoTunnelApp, device_id: str = "boiler_0001") -> TunnelTab | None:
    return next((t for t in app.tabs() if t.device.device_id == device_id), None)


def phase(app: IoTunnelApp, device_id: str = "boiler_0001") -> str | None:
    found = tab(app, device_id)
    return found.phase if found else None


async def select_device(app: IoTunnelApp, pilot, device_id: str) -> None:
    await wait_for(app, lambda: app.devices_done.is_set())
    await pilot.press("slash", *device_id, "enter")
    await pilot.pause()
    assert app.device_table.selected_device.device_id == device_id


async def login(app: IoTunnelApp, pilot, password: str = LOGIN_PASSWORD) -> None:
    screen = await wait_for_dialog(app, LoginScreen)
    username = screen.query_one("#login-username", Input)
    if not username.value:
        username.focus()
        await pilot.press(*LOGIN_USER, "tab")
    screen.query_one("#login-password", Input).focus()
    await pilot.press(*password, "enter")


async def open_and_login(app: IoTunnelApp, pilot, device_id: str = "boiler_0001") -> TunnelTab:
    await select_device(app, pilot, device_id)
    await pilot.press("enter")
    await login(app, pilot)
    await wait_for(app, lambda: phase(app, device_id) == "connected")
    found = tab(app, device_id)
    assert found is not None
    return found


async def run_command(app: IoTunnelApp, pilot, the_tab: TunnelTab, command: str, expect: str):
    assert the_tab.pane.has_focus
    await pilot.press(*command, "enter")
    await wait_for(app, lambda: expect in the_tab.pane.screen_text())


async def test_open_login_run_command_and_close() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await run_command(app, pilot, the_tab, "echo hello-$((6*7))", "hello-42")
            # leave the terminal, then close the tunnel (the live shell: asked first)
            await pilot.press("ctrl+right_square_bracket")
            assert not the_tab.pane.has_focus
            await pilot.press("c")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await wait_for(app, lambda: tab(app) is None)
            tunnels = await env.client.list_tunnels("boiler_0001")
            assert [t.status for t in tunnels] == ["CLOSED"]


async def test_reopen_reuses_the_stored_tunnel_then_delete() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            first = await open_and_login(app, pilot)
            tunnel_id = first.stored.tunnel_id
            await pilot.press("ctrl+right_square_bracket", "c")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await wait_for(app, lambda: tab(app) is None)
            app.device_table.focus()
            await pilot.press("enter")
            await login(app, pilot)
            await wait_for(app, lambda: phase(app) == "connected")
            assert tab(app).stored.tunnel_id == tunnel_id  # reused, not recreated
            await pilot.press("ctrl+right_square_bracket", "D")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await wait_for(app, lambda: tab(app) is None)
            assert await env.client.list_tunnels("boiler_0001") == []


async def test_wrong_password_shows_the_message_and_asks_again() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            await pilot.press("enter")
            await login(app, pilot, password="wrong")
            await wait_for(
                app,
                lambda: dialog_ready(app, LoginScreen) and app.screen.error is not None,
            )
            error = app.screen.error
            assert error.lower().count("login failed") == 1  # not "Login failed: login failed"
            # shown once, in the modal: no notification piles up behind it
            assert not list(app._notifications)
            await login(app, pilot)
            await wait_for(app, lambda: phase(app) == "connected")


async def test_offline_device_refused_with_the_platform_message() -> None:
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0002")  # no agent: not online
            await pilot.press("enter")
            await wait_for(app, lambda: phase(app, "boiler_0002") == "ended")
            detail = tab(app, "boiler_0002").detail
            assert "not opened" in detail and "HTTP 4" in detail
            assert any("HTTP 4" in n.message for n in app._notifications)


async def test_device_that_never_connects_is_reported_after_the_timeout() -> None:
    from tui.app.config import AppConfig

    async with dashboard_env() as env:
        env.platform.set_online("boiler_0002")  # ONLINE for REST, but no agent behind it
        app = env.app(config=AppConfig(connect_timeout=1.0, refresh_interval=60.0))
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0002")
            await pilot.press("enter")
            await wait_for(app, lambda: phase(app, "boiler_0002") == "late")
            assert "did not connect within 1 s" in tab(app, "boiler_0002").detail


async def test_dropped_websocket_reconnects_and_resumes_the_shell() -> None:
    # with our agent and platform the session resumes the same shell after a drop
    # (contract 3/4: the `resume` extension); no second login is asked for
    async with dashboard_env() as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            the_tab = await open_and_login(app, pilot)
            await run_command(app, pilot, the_tab, "export MARK=kept-$((2*21))", "$")
            source = env.platform.platform.tunnels.peer(the_tab.stored.tunnel_id, "device")
            assert source is not None
            seen: list[str] = []
            original = the_tab.set_phase

            def spy(new_phase: str, detail: str) -> None:
                seen.append(detail)
                original(new_phase, detail)

            the_tab.set_phase = spy  # type: ignore[method-assign]
            await source.close(1011)  # the platform drops the app's socket abnormally
            await wait_for(app, lambda: any(d.startswith("reconnecting (") for d in seen))
            await wait_for(app, lambda: phase(app) == "connected" and the_tab.pane.has_focus)
            assert not isinstance(app.screen, LoginScreen)
            await run_command(app, pilot, the_tab, "echo $MARK", "kept-42")


async def test_token_expiry_then_renew_asks_for_the_password_again() -> None:
    async with dashboard_env(token_ttl=10) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            await pilot.press("enter")
            await wait_for_dialog(app, LoginScreen)
            old_id = tab(app).stored.tunnel_id
            await pilot.press("escape")  # no login: just let the token run out
            await wait_for(app, lambda: phase(app) == "expired", timeout=40)
            assert "token expired" in tab(app).detail
            tab(app).query_one("#tab-status").focus()
            await pilot.press("r")
            await wait_for_dialog(app, LoginScreen, timeout=40)
            assert tab(app).stored.tunnel_id != old_id
            await pilot.press("escape")


async def test_own_expired_tunnel_is_recreated_without_asking() -> None:
    async with dashboard_env(token_ttl=10) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await select_device(app, pilot, "boiler_0001")
            await pilot.press("enter")
            await wait_for_dialog(app, LoginScreen)
            old_id = tab(app).stored.tunnel_id
            await pilot.press("escape")
            await wait_for(app, lambda: phase(app) == "expired", timeout=40)
            app.device_table.focus()
            await pilot.press("enter")
            await wait_for_dialog(app, (LoginScreen, ConfirmScreen))
            assert isinstance(app.screen, LoginScreen)
            assert tab(app).stored.tunnel_id != old_id
            await pilot.press("escape")
