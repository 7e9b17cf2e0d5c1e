"""Modal dialogs: login (username then masked password) and yes/no confirmation."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


@dataclass(frozen=True)
class Credentials:
    """Handed straight to the session; the password is never kept anywhere else."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


class LoginScreen(ModalScreen[Credentials | None]):
    """Username (pre-filled with the last one used on this device) and password."""

    # Tab must be a priority binding: the app hands each key to the widget focused when
    # the key is read, so in a burst ("demo\tdemo\r" in one read, as a paste or tmux
    # delivers it) a non-priority tab moved the focus only after the second word had
    # already been queued for the username field. Priority bindings run in read order.
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="login.cancel"),
        Binding("tab", "next_field", "Next field", show=False, priority=True, id="login.next"),
        Binding(
            "shift+tab", "next_field", "Previous field", show=False, priority=True, id="login.prev"
        ),
    ]

    def __init__(
        self,
        device_name: str,
        username: str = "",
        error: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__()
        self.device_name = device_name
        self.initial_username = username
        self.error = error
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog", classes="dialog"):
            yield Label(f"Log in to {self.device_name}", classes="dialog-title")
            if self.error:
                yield Static(self.error, id="login-error", classes="dialog-error")
            yield Label("Username")
            yield Input(self.initial_username, placeholder="username", id="login-username")
            yield Label("Password")
            yield Input(placeholder="password", password=True, id="login-password")
            if self.hint:
                yield Static(self.hint, id="login-hint", classes="dialog-hint")
            yield Static("tab: next field · enter: log in · esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        target = "#login-password" if self.initial_username else "#login-username"
        self.query_one(target, Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        username = self.query_one("#login-username", Input).value.strip()
        password_input = self.query_one("#login-password", Input)
        if not username:
            self.query_one("#login-username", Input).focus()
            return
        if event.input.id == "login-username" and not password_input.value:
            password_input.focus()
            return
        password = password_input.value
        password_input.value = ""  # the widget must not keep it either
        self.dismiss(Credentials(username, password))

    def action_next_field(self) -> None:
        # two fields: tab and shift+tab both go to the other one. Screen.set_focus acts
        # now; Widget.focus() would queue the change behind the keys already read.
        username = self.query_one("#login-username", Input)
        target = "#login-password" if self.focused is username else "#login-username"
        self.set_focus(self.query_one(target, Input))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question with Yes / No; `y` and `n` answer from the keyboard."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes_label} (y)", variant="error", id="confirm-yes")
                yield Button("No (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
