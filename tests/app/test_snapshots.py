"""Snapshots at 80×24 and 120×40 with a fixed clock, recorded platform JSON and recorded
session bytes (see tests/app/fakes.py and tests/app/fixtures/record.py)."""

from __future__ import annotations

import pytest
from textual.command import CommandList
from textual.widgets import Input

from tests.app.fakes import FixedClock, FixtureClient, ReplayFactory, finish, settle
from tui.app.app import IoTunnelApp
from tui.app.config import AppConfig
from tui.app.factory import make_app
from tui.app.themes import load_themes

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


def build(
    *, theme: str = "iotunnel-dark", device_comes: bool = True, clock: FixedClock | None = None
) -> IoTunnelApp:
    return make_app(
        client=FixtureClient(),
        session_factory=ReplayFactory(device_comes=device_comes),
        clock=clock or FixedClock(),
        config=AppConfig(theme=theme, refresh_interval=3600.0),
    )


async def open_first(pilot) -> None:
    await settle(pilot)
    await pilot.press("enter")
    await pilot.app.wait_until(lambda: bool(pilot.app.tabs()) and pilot.app.tabs()[0].session)
    await finish(pilot)


async def log_in(pilot) -> None:
    await open_first(pilot)
    await pilot.app.wait_until(
        lambda: (
            pilot.app.screen.id != "_default" and bool(pilot.app.screen.query("#login-password"))
        )
    )
    await pilot.press(*"demo", "tab", *"secret", "enter")
    tab = pilot.app.tabs()[0]
    await pilot.app.wait_until(lambda: tab.phase == "connected")
    await tab.pane.wait_drained()
    tab.pane.flush()
    await finish(pilot)


@SIZES
class TestMainScreen:
    def test_device_list(self, snap_compare, size) -> None:
        assert snap_compare(build(), terminal_size=size, run_before=settle)

    def test_filter(self, snap_compare, size) -> None:
        async def run_before(pilot) -> None:
            await settle(pilot)
            await pilot.press("slash", *"berl !boiler")
            pilot.app.query_one("#filter", Input).cursor_blink = False
            await finish(pilot)

        assert snap_compare(build(), terminal_size=size, run_before=run_before)

    def test_help(self, snap_compare, size) -> None:
        async def run_before(pilot) -> None:
            await settle(pilot)
            await pilot.press("question_mark")
            await finish(pilot)

        assert snap_compare(build(), terminal_size=size, run_before=run_before)

    def test_palette(self, snap_compare, size) -> None:
        async def run_before(pilot) -> None:
            await settle(pilot)
            await pilot.press("ctrl+p")
            await pilot.pause()
            for node in pilot.app.screen.query(Input):
                node.cursor_blink = False
            await pilot.press(*"open tunnel")
            commands = pilot.app.screen.query_one(CommandList)
            await pilot.app.wait_until(lambda: commands.option_count >= 3, 10)
            await finish(pilot)

        assert snap_compare(build(), terminal_size=size, run_before=run_before)


@SIZES
class TestTunnelTab:
    def test_waiting(self, snap_compare, size) -> None:
        assert snap_compare(build(device_comes=False), terminal_size=size, run_before=open_first)

    def test_login_modal(self, snap_compare, size) -> None:
        async def run_before(pilot) -> None:
            await open_first(pilot)
            await pilot.app.wait_until(lambda: bool(pilot.app.screen.query("#login-password")))
            await pilot.press(*"demo", "tab", *"secret")
            for node in pilot.app.screen.query(Input):
                node.cursor_blink = False
            await finish(pilot)

        assert snap_compare(build(), terminal_size=size, run_before=run_before)

    def test_connected_session(self, snap_compare, size) -> None:
        assert snap_compare(build(), terminal_size=size, run_before=log_in)

    def test_reconnecting(self, snap_compare, size) -> None:
        async def run_before(pilot) -> None:
            await log_in(pilot)
            pilot.app.session_factory.sessions[-1].drop()
            await finish(pilot)

        assert snap_compare(build(), terminal_size=size, run_before=run_before)

    def test_countdown_warning(self, snap_compare, size) -> None:
        clock = FixedClock()

        async def run_before(pilot) -> None:
            await log_in(pilot)
            clock.now = pilot.app.tabs()[0].stored.expires_at - 9 * 60 - 30
            pilot.app.tick()
            await finish(pilot)

        assert snap_compare(build(clock=clock), terminal_size=size, run_before=run_before)

    def test_countdown_expired(self, snap_compare, size) -> None:
        clock = FixedClock()

        async def run_before(pilot) -> None:
            await log_in(pilot)
            clock.now = pilot.app.tabs()[0].stored.expires_at + 1
            pilot.app.session_factory.sessions[-1].expire()
            pilot.app.tick()
            pilot.app.clear_notifications()
            await finish(pilot)

        assert snap_compare(build(clock=clock), terminal_size=size, run_before=run_before)


SHIPPED_THEMES = sorted(load_themes().themes)


@SIZES
@pytest.mark.parametrize("theme", SHIPPED_THEMES)
def test_theme(snap_compare, theme: str, size) -> None:
    """Each shipped theme: a connected session (status colours, palette, countdown)."""
    assert snap_compare(build(theme=theme), terminal_size=size, run_before=log_in)
