"""A small Textual app that plays a recording in a `TerminalPane` (`iotunnel replay`)."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Footer

from tui.terminal.pane import TerminalPane
from tui.terminal.recording import DEFAULT_COLS, DEFAULT_ROWS, Recording

MAX_GAP_SECONDS = 2.0  # idle stretches in a recording are cut short, like asciinema -i


class ReplayApp(App[None]):
    """Plays the recording's output events at `speed` (0 = all at once)."""

    TITLE = "iotunnel replay"
    CSS = "TerminalPane { width: auto; height: auto; }"

    def __init__(
        self, recording: Recording, *, cols: int | None, rows: int | None, speed: float = 1.0
    ) -> None:
        super().__init__()
        self.recording = recording
        self.speed = speed
        self.cols = cols or recording.cols or DEFAULT_COLS
        self.rows = rows or recording.rows or DEFAULT_ROWS

    def compose(self) -> ComposeResult:
        pane = TerminalPane(cols=self.cols, rows=self.rows)
        pane.styles.width = self.cols
        pane.styles.height = self.rows
        yield pane
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TerminalPane).focus()
        self.run_worker(self._play(), exclusive=True, group="replay")

    async def _play(self) -> None:
        pane = self.query_one(TerminalPane)
        previous = 0.0
        for event in self.recording.events:
            if self.speed > 0:
                gap = min(max(0.0, event.at - previous), MAX_GAP_SECONDS) / self.speed
                if gap:
                    await asyncio.sleep(gap)  # playback timing is the feature here
            previous = event.at
            pane.feed(event.data)
        self.notify("end of recording: ctrl+q quits", timeout=5)

    def on_terminal_pane_leave_requested(self) -> None:
        self.exit()
