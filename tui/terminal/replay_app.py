"""A small Textual app that plays a recording in a `TerminalPane` (`iotunnel replay`)."""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from tui.terminal.pane import TerminalPane
from tui.terminal.recording import DEFAULT_COLS, DEFAULT_ROWS, OutputEvent, Recording

MAX_GAP_SECONDS = 2.0  # idle stretches in a recording are cut short, like asciinema -i


class ReplayPane(TerminalPane):
    """A pane that takes no keys: a replay has no remote, so they drive the player."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return False

    def on_key(self, event: events.Key) -> None:
        pass


class ReplayApp(App[None]):
    """Plays the recording's output events at `speed` (0 = all at once)."""

    TITLE = "iotunnel replay"
    CSS = "TerminalPane { width: auto; height: auto; }"
    # Nothing typed goes anywhere in a replay, so plain keys can drive the player.
    BINDINGS = [Binding("q", "quit", "Quit", id="replay.quit", priority=True)]

    def __init__(
        self,
        recording: Recording,
        *,
        cols: int | None,
        rows: int | None,
        speed: float = 1.0,
        backend_name: str | None = None,
    ) -> None:
        super().__init__()
        self.recording = recording
        self.speed = speed
        self.cols = cols or recording.cols or DEFAULT_COLS
        self.rows = rows or recording.rows or DEFAULT_ROWS
        self.follow_resizes = cols is None and rows is None
        self.backend_name = backend_name

    def compose(self) -> ComposeResult:
        pane = ReplayPane(cols=self.cols, rows=self.rows, backend_name=self.backend_name)
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
            if isinstance(event, OutputEvent):
                pane.feed(event.data)
            elif self.follow_resizes:
                # Output before the resize was drawn at the old size: finish it first.
                await pane.wait_drained()
                pane.styles.width, pane.styles.height = event.cols, event.rows
                pane.resize_emulator(event.cols, event.rows)
                self.cols, self.rows = event.cols, event.rows
        self.notify("end of recording: q quits", timeout=5)

    def on_terminal_pane_leave_requested(self) -> None:
        self.exit()
