"""The `?` help screen: every key, from the same binding table the footer uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_table(
    sections: Iterable[tuple[str, list[Binding]]],
    keymap: dict[str, str],
    display: Callable[[Binding], str],
) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("action")
    table.add_column("id", style="dim", no_wrap=True)
    for title, bindings in sections:
        table.add_row(f"[u]{title}[/u]", "", "")
        for binding in bindings:
            keys = keymap.get(binding.id or "", binding.key)
            shown = binding.key_display or ", ".join(
                display(Binding(key.strip(), binding.action)) for key in keys.split(",")
            )
            table.add_row(shown, binding.description or binding.action, binding.id or "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close")]

    def __init__(self, sections: list[tuple[str, list[Binding]]], keymap: dict[str, str]) -> None:
        super().__init__()
        self.sections = sections
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static("iotunnel keys", classes="dialog-title")
            table = key_table(self.sections, self.keymap, self.app.get_key_display)
            yield Static(table, id="help-keys")
            yield Static(
                "esc closes · keys are remapped by id in config.toml [keymap]",
                classes="dialog-hint",
            )

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
