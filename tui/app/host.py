"""What the dashboard's parts may ask of the app that owns them (and nothing more).

`DeviceListing`, `TunnelOperations` and the palette's `DeviceCommands` talk to the app
through this narrow interface, so none of them imports the app class (no import circle)
and each can be read without it in mind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent
from textual.worker import Worker

from tui.app.config import AppConfig
from tui.app.device_table import DeviceTable
from tui.app.keygate import KeyGate
from tui.app.session_api import SessionFactory
from tui.app.tunnel_tab import TunnelTab
from tui.app.tunnels import DashboardApi, TokenStoreLike
from tui.app.usernames import UsernameStore


class DashboardHost(Protocol):
    """The app as its parts see it: the injected outside things, the widgets they work
    on, and the few Textual calls they need (notices, dialogs, workers)."""

    client: DashboardApi
    token_store: TokenStoreLike
    clock: Callable[[], float]
    config: AppConfig
    session_factory: SessionFactory
    usernames: UsernameStore
    login_hint: str | None
    key_gate: KeyGate

    @property
    def device_table(self) -> DeviceTable: ...
    @property
    def tunnel_tabs(self) -> TabbedContent: ...
    @property
    def focused(self) -> Widget | None: ...
    @property
    def screen(self) -> Screen[Any]: ...
    @property
    def screen_stack(self) -> list[Screen[Any]]: ...
    @property
    def theme_variables(self) -> dict[str, str]: ...

    def tabs(self) -> list[TunnelTab]: ...
    def activate_tab(self, tab: TunnelTab) -> None: ...
    def ui_ready(self) -> bool: ...
    def update_summary(self) -> None: ...
    def state_changed(self) -> None: ...
    def report_error(self, exc: BaseException, doing: str) -> str: ...
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...
    def clear_notifications(self) -> None: ...
    def push_screen(
        self, screen: Any, callback: Any = None, wait_for_dismiss: bool = False
    ) -> Any: ...
    def push_screen_wait(self, screen: Any) -> Awaitable[Any]: ...
    def run_worker(
        self,
        work: Coroutine[Any, Any, Any],
        name: str | None = "",
        group: str = "default",
        description: str = "",
        exit_on_error: bool = True,
        start: bool = True,
        exclusive: bool = False,
        thread: bool = False,
    ) -> Worker[Any]: ...
    def call_after_refresh(self, callback: Callable[..., Any], *args: Any) -> bool: ...
    def refresh_bindings(self) -> None: ...
    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None: ...
