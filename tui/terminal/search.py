"""Search in the pane's scrollback view, like tmux's copy mode (TEAM contract 7).

In the scrollback view (shift+pageup enters it) `/` opens a prompt on the bottom row,
enter searches the history and the screen, `n` goes to the next match back in time,
`N` to the previous one, `escape` leaves. Matches are highlighted; the one selected
is shown in a second colour and its position in the indicator on row 0.

Lines are numbered absolutely (lines ever pushed into history + row), so matches stay
on their text while output keeps arriving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip

from tui.terminal.backend import TerminalBackend
from tui.terminal.render import overlay

MATCH_CLASS = "terminal-pane--match"
CURRENT_MATCH_CLASS = "terminal-pane--match-current"
PROMPT_CLASS = "terminal-pane--prompt"
MAX_MATCHES = 10_000  # a one-letter needle in 10,000 lines: enough to page through


@dataclass(frozen=True, slots=True)
class Match:
    line: int  # absolute line number (see module docstring)
    start: int  # character offsets in the line's text
    end: int


@dataclass(slots=True)
class SearchState:
    needle: str
    matches: list[Match] = field(default_factory=list)
    index: int = -1  # the selected match, -1 when there is none

    def by_line(self) -> dict[int, list[tuple[int, int, bool]]]:
        lines: dict[int, list[tuple[int, int, bool]]] = {}
        for i, match in enumerate(self.matches):
            lines.setdefault(match.line, []).append((match.start, match.end, i == self.index))
        return lines


def find_matches(lines: list[str], needle: str, first_line: int = 0) -> list[Match]:
    """Every occurrence of `needle`, top to bottom. Smart case: case-insensitive unless
    the needle has a capital letter."""
    if not needle:
        return []
    fold = needle == needle.lower()
    wanted = needle.lower() if fold else needle
    matches: list[Match] = []
    for number, line in enumerate(lines):
        text = line.lower() if fold else line
        start = text.find(wanted)
        while start != -1 and len(matches) < MAX_MATCHES:
            matches.append(Match(first_line + number, start, start + len(wanted)))
            start = text.find(wanted, start + max(1, len(wanted)))
    return matches


class ScrollbackSearch:
    """Mixin for the pane; it provides `_backend`, `_scroll_back`, `refresh`, `notify`."""

    _backend: TerminalBackend
    _scroll_back: int
    refresh: Callable[..., object]
    notify: Callable[..., object]
    get_component_rich_style: Callable[..., Style]
    _scroll_lines: Callable[[int], None]

    _search: SearchState | None = None
    _prompt: str | None = None  # the needle being typed, None when no prompt is open
    _match_lines: dict[int, list[tuple[int, int, bool]]] | None = None

    @property
    def search_state(self) -> SearchState | None:
        return self._search

    def action_search(self) -> None:
        """Open the search prompt (also from the command palette)."""
        self._prompt = ""
        self.refresh()

    def _search_key(self, event: events.Key) -> bool:
        """Keys of the scrollback view and its prompt; True if the key was one."""
        if self._prompt is not None:
            self._prompt_key(event)
            return True
        if not self._scroll_back and self._search is None:
            return False
        key, character = event.key, event.character
        if character == "/" or key == "slash":
            self.action_search()
        elif key == "n" and self._search is not None:
            self._step(1)
        elif key in ("N", "shift+n") and self._search is not None:
            self._step(-1)
        elif key == "escape":
            self._leave_view()
        elif key in ("up", "down", "pageup", "pagedown"):
            page = max(1, self._backend.lines - 1)
            delta = {"up": -1, "down": 1, "pageup": -page, "pagedown": page}[key]
            self._scroll_lines(delta)
        else:
            return False
        return True

    def _prompt_key(self, event: events.Key) -> None:
        prompt = self._prompt or ""
        if event.key == "escape":
            self._prompt = None
        elif event.key == "enter":
            self._prompt = None
            if prompt:
                self._run_search(prompt)
        elif event.key == "backspace":
            self._prompt = prompt[:-1]
        elif event.character and event.character.isprintable():
            self._prompt = prompt + event.character
        self.refresh()

    def _lines_base(self) -> int:
        """Absolute number of the oldest line the backend still holds."""
        return self._backend.history_total - self._backend.history_len

    def _run_search(self, needle: str) -> None:
        backend = self._backend
        lines = backend.text_lines()
        state = SearchState(needle, find_matches(lines, needle, self._lines_base()))
        self._search = state
        self._match_lines = None
        if not state.matches:
            self.notify(f"not found: {needle}", timeout=3)
            self.refresh()
            return
        # Start from the bottom of the view and go back in time, as Ghostty does.
        bottom = backend.history_total - self._scroll_back + backend.lines - 1
        above = [i for i, m in enumerate(state.matches) if m.line <= bottom]
        state.index = above[-1] if above else len(state.matches) - 1
        self._show_match()

    def _step(self, direction: int) -> None:
        """n (direction 1) goes back in time, N forward."""
        state = self._search
        if state is None or not state.matches:
            return
        state.index = (state.index - direction) % len(state.matches)
        self._match_lines = None
        self._show_match()

    def _show_match(self) -> None:
        state = self._search
        if state is None or state.index < 0:
            return
        backend = self._backend
        line = state.matches[state.index].line
        top = backend.history_total - self._scroll_back  # absolute line of view row 0
        if not top <= line < top + backend.lines:
            # Centre it; the indicator row is not where the eye should land.
            wanted_top = line - backend.lines // 2
            self._scroll_back = max(0, min(backend.history_len, backend.history_total - wanted_top))
        self.refresh()

    def _leave_view(self) -> None:
        self._search = None
        self._prompt = None
        self._match_lines = None
        self._scroll_back = 0
        self.refresh()

    # --- drawing --------------------------------------------------------------------

    def _search_label(self) -> str:
        state = self._search
        if state is None:
            return ""
        if not state.matches:
            return f" /{state.needle} 0/0"
        return f" /{state.needle} {state.index + 1}/{len(state.matches)}"

    def _with_matches(self, strip: Strip, y: int, row_text: str) -> Strip:
        state = self._search
        if state is None or not state.matches:
            return strip
        if self._match_lines is None:
            self._match_lines = state.by_line()
        line = self._backend.history_total - self._scroll_back + y
        spans = self._match_lines.get(line)
        if not spans:
            return strip
        normal = self.get_component_rich_style(MATCH_CLASS)
        current = self.get_component_rich_style(CURRENT_MATCH_CLASS)
        for start, end, selected in spans:
            cell_start, cell_end = cell_len(row_text[:start]), cell_len(row_text[:end])
            if cell_end <= cell_start or cell_start >= strip.cell_length:
                continue
            before, middle, after = strip.divide([cell_start, cell_end, strip.cell_length])
            middle = overlay(middle, current if selected else normal)
            strip = Strip.join([before, middle, after])
        return strip

    def _with_prompt(self, strip: Strip, y: int, width: int) -> Strip:
        if self._prompt is None or y != self._backend.lines - 1:
            return strip
        text = f"/{self._prompt}"[-max(1, width - 1) :] + "▏"
        style = self.get_component_rich_style(PROMPT_CLASS)
        return Strip([Segment(text.ljust(width), style)], width)
