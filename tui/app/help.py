"""The `?` help screen: every key, from the same binding table the footer uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.device_table import DeviceTable
from tui.app.tunnel_tab import DeviceTerminal, TunnelTab


def key_table(
    sections: Iterable[tuple[str, list[Binding]]],
    keymap: dict[str, str],
    display: Callable[[Binding], str],
) -> Group:
    """One titled table per section. Titles are lines of their own (they wrap at 80
    columns); a title in the key column would widen it and squeeze the descriptions."""
    rows: list[tuple[str, list[tuple[str, str, str]]]] = []
    for title, bindings in sections:
        entries = []
        for binding in bindings:
            keys = keymap.get(binding.id or "", binding.key)
            shown = binding.key_display or ", ".join(
                display(Binding(key.strip(), binding.action)) for key in keys.split(",")
            )
            # a tooltip, where set, is the longer wording (the footer has room for one word)
            what = binding.tooltip or binding.description or binding.action
            entries.append((shown, what, binding.id or ""))
        rows.append((title, entries))
    key_width = max((len(e[0]) for _, entries in rows for e in entries), default=4)
    parts: list[Text | Table] = []
    for title, entries in rows:
        parts.append(Text(title, style="underline"))
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
        table.add_column("key", style="bold", no_wrap=True, width=key_width)
        table.add_column("action", ratio=1)
        table.add_column("id", style="dim", no_wrap=True)
        for entry in entries:
            table.add_row(*entry)
        parts.append(table)
    return Group(*parts)


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


def dashboard_help_sections(app_bindings: list[Binding]) -> list[tuple[str, list[Binding]]]:
    """The help screen's sections, from the same binding tables the footer reads."""
    by_id = {b.id: b for b in app_bindings}
    in_terminal = ("tab.next", "tab.previous", "terminal.zoom", "app.force_quit")
    return [
        ("Dashboard", [b for b in app_bindings if b.id != "terminal.zoom"]),
        ("Device list", list(DeviceTable.BINDINGS)),
        ("Tunnel tab, outside the terminal", list(TunnelTab.BINDINGS)),
        (
            "In the terminal (all other keys, ctrl+p too, go to the device; "
            "after ctrl+], i goes back in)",
            list(DeviceTerminal.BINDINGS) + [by_id[i] for i in in_terminal],
        ),
    ]
