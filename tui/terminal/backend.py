"""The emulator backend interface: bytes in, a screen of styled cells out.

The pane talks only to this interface, so a faster emulator can replace the pyte one
without touching the widget (docs/design.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class Attrs(NamedTuple):
    """The style of one cell. Colours are Rich colour names, `color(n)` or `#rrggbb`."""

    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    dim: bool = False
    conceal: bool = False  # SGR 8: the text is kept (copy, search) but not shown


DEFAULT_ATTRS = Attrs()

# A run of cells that share one style: (text, attrs). Wide characters count two cells.
Run = tuple[str, Attrs]

MOUSE_OFF = 0
MOUSE_X10 = 9
MOUSE_NORMAL = 1000
MOUSE_BUTTON = 1002
MOUSE_ANY = 1003


@dataclass(frozen=True, slots=True)
class TerminalModes:
    """The modes the remote set that change what the pane sends back."""

    app_cursor: bool = False
    app_keypad: bool = False
    bracketed_paste: bool = False
    mouse_tracking: int = MOUSE_OFF  # 0, 9, 1000, 1002 or 1003
    mouse_sgr: bool = False
    alt_screen: bool = False
    focus_events: bool = False  # 1004: the remote wants CSI I / CSI O on focus changes


@dataclass(frozen=True, slots=True)
class TitleChange:
    title: str


@dataclass(frozen=True, slots=True)
class BellRang:
    pass


TerminalEvent = TitleChange | BellRang


class TerminalBackend(Protocol):
    """What the pane needs from an emulator."""

    columns: int
    lines: int
    on_reply: Callable[[bytes], None] | None

    def feed(self, data: bytes) -> None:
        """Consume bytes from the remote; never raises on malformed input."""

    def resize(self, columns: int, lines: int) -> None: ...

    def reset(self) -> None: ...

    def take_dirty(self) -> set[int]:
        """Screen rows changed since the last call (cursor rows included)."""

    def take_events(self) -> list[TerminalEvent]:
        """Title changes and bells since the last call."""

    def row_runs(self, y: int) -> list[Run]:
        """Styled runs of visible screen row `y`, exactly `columns` cells wide."""

    @property
    def history_len(self) -> int:
        """Lines currently held in scrollback."""

    @property
    def history_total(self) -> int:
        """Lines ever pushed into scrollback (monotonic; tells how far the view moved)."""

    def history_runs(self, index: int) -> list[Run]:
        """Styled runs of scrollback line `index` (0 = oldest)."""

    @property
    def cursor(self) -> tuple[int, int]:
        """(x, y) of the cursor, clamped to the screen."""

    @property
    def cursor_visible(self) -> bool: ...

    @property
    def modes(self) -> TerminalModes: ...

    @property
    def title(self) -> str: ...

    def screen_text(self) -> str:
        """Plain text of the visible screen, one line per row, trailing spaces stripped."""

    # What the pane sends back, in the form the remote's modes ask for.

    def encode_key(self, key: str, character: str | None) -> bytes | None:
        """Bytes for a key press (Textual's key name), None if it sends nothing."""

    def encode_mouse(self, button: int, x: int, y: int, **kwargs: bool) -> bytes | None:
        """Bytes for a mouse event (see `keys.encode_mouse`), None when not tracked."""

    def encode_paste(self, text: str) -> bytes: ...

    def paste_is_safe(self, text: str) -> bool:
        """False for a paste that would run commands unseen (a newline in it)."""

    def encode_focus(self, gained: bool) -> bytes | None:
        """The focus report, or None when the remote did not ask for them (1004)."""
