"""The filter field above the device list."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterInput(Input):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", id="filter.clear")]

    class Cleared(Message):
        """The user cleared the filter with escape: the app moves the focus back."""

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())
