"""The question before an unsafe paste: lines pasted into a shell that did not ask for
bracketed paste run one by one as they arrive (Ghostty asks too)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

PREVIEW_LINES = 5


class PasteConfirm(ModalScreen[bool]):
    """`y`/`enter` pastes, `n`/`escape` drops the paste."""

    DEFAULT_CSS = """
    PasteConfirm { align: center middle; }
    PasteConfirm > Vertical {
        width: 70; height: auto; max-height: 16;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    PasteConfirm .paste-confirm--preview { color: $text-muted; }
    """

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Paste", id="terminal.paste_yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="terminal.paste_no"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        lines = self.text.splitlines() or [""]
        preview = lines[:PREVIEW_LINES]
        if len(lines) > PREVIEW_LINES:
            preview.append(f"… {len(lines) - PREVIEW_LINES} more lines")
        with Vertical():
            yield Label(f"Paste {len(lines)} lines? Each line runs as it arrives.")
            yield Label("\n".join(preview), classes="paste-confirm--preview", markup=False)
            yield Label("y / enter: paste    n / escape: cancel")

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok)
