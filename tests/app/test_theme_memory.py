"""The palette offers the iotunnel themes, and a switch there is remembered (issue 8 §5)."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette

from tests.app.support import dashboard_env, wait_for
from tui.app.config import AppConfig


def first_hit(app) -> str:
    found = app.screen.query(CommandList)
    if not found or not found.first().option_count:
        return ""
    return str(found.first().get_option_at_index(0).prompt)


async def test_a_theme_switched_in_the_palette_is_used_next_time() -> None:
    async with dashboard_env(agents=()) as env:
        app = env.app()
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(app, lambda: app.devices_done.is_set())
            assert app.theme == "iotunnel-dark"
            await pilot.press("ctrl+p")
            await wait_for(app, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"Switch theme: iotunnel-light")
            await wait_for(app, lambda: "iotunnel-light" in first_hit(app))
            await pilot.press("enter")
            await wait_for(app, lambda: app.theme == "iotunnel-light")
        again = env.app()
        async with again.run_test(size=(100, 30)):
            assert again.theme == "iotunnel-light"
        # a theme named in the config file wins over the one remembered
        named = env.app(config=AppConfig(theme="iotunnel-high-contrast", refresh_interval=60.0))
        async with named.run_test(size=(100, 30)):
            assert named.theme == "iotunnel-high-contrast"
