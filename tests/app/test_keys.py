"""Keys as a real terminal delivers them: in bursts, several keys per read.

The driver reads "demo\\tdemo\\r" in one go when a user pastes or types fast (or tmux
send-keys), and posts one Key event per key to the app before any of them is handled.
`burst` does exactly that, unlike `pilot.press`, which waits between keys.
"""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Static

from tui.app.dialogs import Credentials, LoginScreen


def burst(app: App, *keys: str) -> None:
    """Post `keys` (characters or key names) at once, as the driver does for one read."""
    characters = {"tab": "\t", "enter": "\r"}
    for key in keys:
        character = key if len(key) == 1 else characters.get(key)
        app.post_message(events.Key(key, character))


class LoginHost(App[None]):
    def __init__(self, username: str = "") -> None:
        super().__init__()
        self.username = username
        self.answers: list[Credentials | None] = []

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        screen = LoginScreen("Boiler room 1", self.username, hint="demo login: demo / demo")
        self.push_screen(screen, self.answers.append)


async def test_login_fields_in_one_burst() -> None:
    app = LoginHost()
    async with app.run_test() as pilot:
        await pilot.pause()
        burst(app, *"demo", "tab", *"secret", "enter")
        await pilot.pause()
        await pilot.pause()
        assert app.answers == [Credentials("demo", "secret")]


async def test_login_shift_tab_goes_back() -> None:
    app = LoginHost()
    async with app.run_test() as pilot:
        await pilot.pause()
        burst(app, *"demo", "tab", *"secret", "shift+tab")
        await pilot.pause()
        await pilot.pause()
        assert app.focused is app.screen.query_one("#login-username")
        assert app.answers == []


async def test_login_prefilled_username_focuses_password() -> None:
    app = LoginHost(username="root")
    async with app.run_test() as pilot:
        await pilot.pause()
        burst(app, *"secret", "enter")
        await pilot.pause()
        await pilot.pause()
        assert app.answers == [Credentials("root", "secret")]


def test_every_binding_has_an_id_for_the_keymap() -> None:
    from tui.app.app import FilterInput, IoTunnelApp
    from tui.app.device_table import DeviceTable
    from tui.app.dialogs import ConfirmScreen
    from tui.app.help import HelpScreen
    from tui.app.tunnel_tab import DeviceTerminal, TunnelTab

    owners = (IoTunnelApp, FilterInput, DeviceTable, TunnelTab, DeviceTerminal)
    owners += (LoginScreen, ConfirmScreen, HelpScreen)
    for owner in owners:
        for binding in owner.BINDINGS:
            assert binding.id, f"{owner.__name__}: {binding.key} -> {binding.action}"
    palette = [b for b in IoTunnelApp.BINDINGS if b.action == "command_palette"]
    assert [b.id for b in palette] == ["app.palette"]
